//! Reminders before something a tenant depends on runs out: a user's
//! password, the tenant's licence, its machines' agent certificates. Each
//! reminder is recorded in `reminders_sent` in the transaction that queues
//! its e-mails, so a restart or a second instance never sends it twice.

use super::Alerting;
use crate::domain::{
    auth::password,
    fleet,
    notify::{
        email::{self, ExpiringCertificate, Template},
        outbox::{Outgoing, Transport},
    },
    DomainError,
};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use entities::{
    clients,
    enums::{Language, Role},
    license_types, machines, reminders_sent, users,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Days before a password expires at which its owner is reminded.
pub const PASSWORD_THRESHOLDS: [i64; 3] = [30, 10, 3];
/// Days before a licence expires at which the tenant's admins are reminded.
pub const LICENCE_THRESHOLDS: [i64; 4] = [30, 14, 7, 3];
/// Certificates expiring within this many days are listed in the digest.
pub const CERTIFICATE_HORIZON_DAYS: i64 = 30;
/// Licence reminders go out from this hour (UTC) of the day on: a
/// morning read, not a notice in the middle of the night.
pub const LICENCE_HOUR: u32 = 9;

/// How many reminders one pass queued (each may be several e-mails).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub passwords: usize,
    pub licences: usize,
    pub certificate_digests: usize,
}

impl Sent {
    pub fn total(&self) -> usize {
        self.passwords + self.licences + self.certificate_digests
    }
}

/// Whole days from `now` to `expiry`, counted in calendar days (UTC): a
/// reminder sent in the morning or the evening of one day says the same.
pub fn days_left(expiry: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (expiry.date_naive() - now.date_naive()).num_days()
}

/// The reminder due with `days_left` to go: the tightest threshold already
/// reached, so someone first seen with 2 days left gets the 3-day reminder
/// and not the 30- and 10-day ones as well. `None` before the first
/// threshold and once the date has passed.
pub fn threshold(days_left: i64, thresholds: &[i64]) -> Option<i64> {
    if days_left < 0 {
        return None;
    }
    thresholds.iter().copied().filter(|t| days_left <= *t).min()
}

/// A date alone, as each language writes it.
fn format_day(at: DateTime<Utc>, language: Language) -> String {
    match language {
        Language::Fr => at.format("%d/%m/%Y").to_string(),
        Language::En => at.format("%m/%d/%Y").to_string(),
    }
}

fn licence_label(client: &clients::Model) -> String {
    let stored = client.license_type.clone();
    let mut chars = stored.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => stored,
    }
}

impl Alerting {
    /// One pass of every reminder at the clock's current time. Run by the
    /// reminders job on one instance; safe to run again at once.
    pub async fn send_reminders(&self) -> Result<Sent, DomainError> {
        let now = self.clock.now();
        let sent = Sent {
            passwords: self.password_reminders(now).await?,
            licences: self.licence_reminders(now).await?,
            certificate_digests: self.certificate_digests(now).await?,
        };
        if sent.total() > 0 {
            self.outbox.wake();
        }
        Ok(sent)
    }

    /// Records `key` and queues `mails` in one transaction; nothing when
    /// the key was already recorded (sent before, or by another instance
    /// right now). Returns whether it queued.
    async fn once(
        &self,
        key: String,
        client_id: Option<Uuid>,
        mails: Vec<Outgoing>,
    ) -> Result<bool, DomainError> {
        if mails.is_empty() {
            // Not recorded: an admin added later still gets it.
            return Ok(false);
        }
        let txn = self.db.begin_write().await?;
        if !self.record_once(&txn, key, client_id).await? {
            return Ok(false);
        }
        for mail in mails {
            self.outbox.enqueue_in(&txn, mail).await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Queues the license-extended e-mail to the tenant's admins in the
    /// caller's transaction, so the extension and its notice commit
    /// together. Returns how many were queued.
    pub async fn queue_licence_extended(
        &self,
        txn: &impl ConnectionTrait,
        client: &clients::Model,
        type_name: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, DomainError> {
        let template = Template::LicenseExtended {
            tenant: client.name.clone(),
            licence_type: type_name.to_owned(),
            new_expiry: format_day(until, client.language),
        };
        let admins = self.admins(txn, client.id).await?;
        for admin in &admins {
            let mail = self.mail("licence_extended", client, &admin.email, &template, now)?;
            self.outbox.enqueue_in(txn, mail).await?;
        }
        Ok(admins.len())
    }

    /// Starts the outbox worker on what was just committed.
    pub fn wake_outbox(&self) {
        self.outbox.wake();
    }

    fn mail(
        &self,
        kind: &'static str,
        client: &clients::Model,
        recipient: &str,
        template: &Template,
        now: DateTime<Utc>,
    ) -> Result<Outgoing, DomainError> {
        let rendered = email::render(
            template,
            client.language,
            &email::Common::new(&self.dashboard_url, now.year()),
        )?;
        Ok(Outgoing {
            kind,
            client_id: Some(client.id),
            language: client.language,
            notification_id: None,
            transport: Transport::Email {
                recipient: recipient.to_owned(),
                subject: rendered.subject,
                body_text: rendered.text,
                body_html: Some(rendered.html),
            },
        })
    }

    /// The tenant's administrators, who receive its licence and
    /// certificate reminders.
    async fn admins(
        &self,
        conn: &impl ConnectionTrait,
        client_id: Uuid,
    ) -> Result<Vec<users::Model>, DomainError> {
        Ok(users::Entity::find()
            .filter(users::Column::ClientId.eq(client_id))
            .filter(users::Column::Role.is_in([Role::Admin, Role::SuperAdmin]))
            .order_by_asc(users::Column::Email)
            .all(conn)
            .await?)
    }

    async fn password_reminders(&self, now: DateTime<Utc>) -> Result<usize, DomainError> {
        let expiry =
            Duration::from_std(password::EXPIRY).map_err(|e| DomainError::internal("password expiry", e))?;
        let widest = PASSWORD_THRESHOLDS.iter().copied().max().unwrap_or(0);
        // A day of slack either side: the exact test is in days, below.
        let users = users::Entity::find()
            .filter(users::Column::PasswordChangedAt.gt(now - expiry - Duration::days(1)))
            .filter(users::Column::PasswordChangedAt.lte(now - expiry + Duration::days(widest + 1)))
            // A temporary password is replaced at the next sign-in anyway.
            .filter(users::Column::MustChangePassword.eq(false))
            .all(&self.db.conn)
            .await?;
        let tenant_ids: Vec<Uuid> = users.iter().map(|u| u.client_id).collect();
        let tenants: HashMap<Uuid, clients::Model> = clients::Entity::find()
            .filter(clients::Column::Id.is_in(tenant_ids))
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let mut sent = 0;
        for user in users {
            if password::expired(user.password_changed_at, now) {
                continue;
            }
            let expires_at = user.password_changed_at + expiry;
            let left = days_left(expires_at, now);
            let Some(due) = threshold(left, &PASSWORD_THRESHOLDS) else {
                continue;
            };
            let Some(client) = tenants.get(&user.client_id) else {
                continue;
            };
            let template = Template::PasswordExpiration {
                name: user.first_name.clone(),
                days_left: left,
                expires_on: format_day(expires_at, client.language),
            };
            let mail = self.mail("password_expiration", client, &user.email, &template, now)?;
            // The expiry date in the key: a new password starts over.
            let key = format!("password:{}:{}:{due}", user.id, expires_at.date_naive());
            if self.once(key, Some(client.id), vec![mail]).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    async fn licence_reminders(&self, now: DateTime<Utc>) -> Result<usize, DomainError> {
        if now.hour() < LICENCE_HOUR {
            return Ok(0);
        }
        let widest = LICENCE_THRESHOLDS.iter().copied().max().unwrap_or(0);
        let tenants = clients::Entity::find()
            .find_also_related(license_types::Entity)
            .filter(clients::Column::LicenseExpiresAt.gt(now))
            .filter(clients::Column::LicenseExpiresAt.lte(now + Duration::days(widest + 1)))
            .all(&self.db.conn)
            .await?;
        let mut sent = 0;
        for (client, kind) in tenants {
            let Some(expires_at) = client.license_expires_at else {
                continue;
            };
            let left = days_left(expires_at, now);
            let Some(due) = threshold(left, &LICENCE_THRESHOLDS) else {
                continue;
            };
            let template = Template::LicenseExpiration {
                tenant: client.name.clone(),
                licence_type: kind.map_or_else(|| licence_label(&client), |k| k.name),
                days_left: left,
                expires_on: format_day(expires_at, client.language),
            };
            let mails = self
                .admins(&self.db.conn, client.id)
                .await?
                .iter()
                .map(|admin| self.mail("licence_expiration", &client, &admin.email, &template, now))
                .collect::<Result<Vec<_>, _>>()?;
            // The expiry date in the key: an extended licence starts over.
            let key = format!("licence:{}:{}:{due}", client.id, expires_at.date_naive());
            if self.once(key, Some(client.id), mails).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    async fn certificate_digests(&self, now: DateTime<Utc>) -> Result<usize, DomainError> {
        let due = machines::Entity::find()
            .filter(machines::Column::CertExpiresAt.lte(now + Duration::days(CERTIFICATE_HORIZON_DAYS)))
            .filter(machines::Column::CertRevokedAt.is_null())
            .order_by_asc(machines::Column::CertExpiresAt)
            .all(&self.db.conn)
            .await?;
        let mut per_tenant: BTreeMap<Uuid, Vec<machines::Model>> = BTreeMap::new();
        // A machine in maintenance is muted: no reminder either.
        for machine in due.into_iter().filter(|m| !fleet::in_maintenance(m, now)) {
            per_tenant.entry(machine.client_id).or_default().push(machine);
        }
        let mut sent = 0;
        for (client_id, machines) in per_tenant {
            let key = format!("certificates:{client_id}:{}", now.date_naive());
            let already = reminders_sent::Entity::find_by_id(key.clone())
                .one(&self.db.conn)
                .await?
                .is_some();
            if already {
                continue;
            }
            let client = self.tenant(&self.db.conn, client_id).await?;
            let certificates = machines
                .iter()
                .filter_map(|m| {
                    m.cert_expires_at.map(|at| ExpiringCertificate {
                        hostname: m.hostname.clone(),
                        expires_at: format_day(at, client.language),
                        expired: at <= now,
                    })
                })
                .collect();
            let template = Template::CertificateExpiration {
                tenant: client.name.clone(),
                certificates,
            };
            let mails = self
                .admins(&self.db.conn, client_id)
                .await?
                .iter()
                .map(|admin| self.mail("certificate_expiration", &client, &admin.email, &template, now))
                .collect::<Result<Vec<_>, _>>()?;
            if self.once(key, Some(client_id), mails).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests;
