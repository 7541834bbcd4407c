//! A tenant's preferences: its language (the `clients` column that
//! notifications read), time zone, daily summary e-mail and the defaults
//! new alert rules start from. The `client_settings` row is created with
//! the defaults on first read.

use crate::{
    domain::{
        activity::{ActivityLog, Category, Entry, Level, RequestMeta},
        alerting::conditions::{DEFAULT_COOLDOWN_MINUTES, MAX_COOLDOWN_MINUTES, MIN_COOLDOWN_MINUTES},
        auth::Principal,
        users::validate_email,
        DomainError,
    },
    infra::db::Database,
};
use chrono::Utc;
use entities::{client_settings, clients, enums::Language, notification_channels};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

/// Addresses the daily summary goes to, at most.
pub const MAX_RECIPIENTS: usize = 20;
pub const DEFAULT_TIMEZONE: &str = "Europe/Paris";
pub const DEFAULT_SUMMARY_HOUR: i32 = 8;

/// The preferences as read.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub language: Language,
    pub timezone: String,
    pub daily_summary_enabled: bool,
    pub daily_summary_hour: i32,
    pub daily_summary_recipients: Vec<String>,
    pub default_channel_ids: Vec<Uuid>,
    pub default_cooldown_minutes: i32,
}

/// What `update` changes; absent fields stay.
#[derive(Clone, Debug, Default)]
pub struct SettingsChange {
    pub language: Option<Language>,
    pub timezone: Option<String>,
    pub daily_summary_enabled: Option<bool>,
    pub daily_summary_hour: Option<i32>,
    pub daily_summary_recipients: Option<Vec<String>>,
    pub default_channel_ids: Option<Vec<Uuid>>,
    pub default_cooldown_minutes: Option<i32>,
}

/// An IANA zone name, as the tz database spells it.
pub fn check_timezone(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    name.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| DomainError::invalid("timezone", "is not an IANA time zone (Europe/Paris, UTC, ...)"))
}

pub fn check_hour(hour: i32) -> Result<i32, DomainError> {
    if (0..=23).contains(&hour) {
        Ok(hour)
    } else {
        Err(DomainError::invalid("dailySummaryHour", "must be 0-23"))
    }
}

/// Normalised, deduplicated addresses, at most [`MAX_RECIPIENTS`].
pub fn check_recipients(list: &[String]) -> Result<Vec<String>, DomainError> {
    if list.len() > MAX_RECIPIENTS {
        return Err(DomainError::invalid(
            "dailySummaryRecipients",
            format!("at most {MAX_RECIPIENTS} addresses"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for raw in list {
        let email = validate_email(raw).map_err(|_| {
            DomainError::invalid(
                "dailySummaryRecipients",
                format!("{:?} is not a valid email address", raw.trim()),
            )
        })?;
        if !out.contains(&email) {
            out.push(email);
        }
    }
    Ok(out)
}

pub fn check_cooldown(minutes: i32) -> Result<i32, DomainError> {
    if (MIN_COOLDOWN_MINUTES..=MAX_COOLDOWN_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(DomainError::invalid(
            "defaultCooldownMinutes",
            format!("must be between {MIN_COOLDOWN_MINUTES} and {MAX_COOLDOWN_MINUTES}"),
        ))
    }
}

fn defaults(client_id: Uuid) -> client_settings::ActiveModel {
    client_settings::ActiveModel {
        client_id: Set(client_id),
        timezone: Set(DEFAULT_TIMEZONE.into()),
        daily_summary_enabled: Set(false),
        daily_summary_hour: Set(DEFAULT_SUMMARY_HOUR),
        daily_summary_recipients: Set(json!([])),
        default_channel_ids: Set(json!([])),
        default_cooldown_minutes: Set(DEFAULT_COOLDOWN_MINUTES),
        updated_at: Set(Utc::now()),
    }
}

fn assemble(client: &clients::Model, row: client_settings::Model) -> Settings {
    Settings {
        language: client.language,
        timezone: row.timezone,
        daily_summary_enabled: row.daily_summary_enabled,
        daily_summary_hour: row.daily_summary_hour,
        daily_summary_recipients: serde_json::from_value(row.daily_summary_recipients).unwrap_or_default(),
        default_channel_ids: serde_json::from_value(row.default_channel_ids).unwrap_or_default(),
        default_cooldown_minutes: row.default_cooldown_minutes,
    }
}

#[derive(Clone)]
pub struct TenantSettings {
    db: Database,
    activity: ActivityLog,
}

impl TenantSettings {
    pub fn new(db: Database, activity: ActivityLog) -> Self {
        Self { db, activity }
    }

    /// The row, created with the defaults when the tenant has none yet
    /// (two first readers at once both end with the one row).
    async fn row(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        client_id: Uuid,
    ) -> Result<client_settings::Model, DomainError> {
        if let Some(row) = client_settings::Entity::find_by_id(client_id).one(db).await? {
            return Ok(row);
        }
        client_settings::Entity::insert(defaults(client_id))
            .on_conflict(
                OnConflict::column(client_settings::Column::ClientId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        client_settings::Entity::find_by_id(client_id)
            .one(db)
            .await?
            .ok_or_else(|| DomainError::invariant("client settings vanished after insert"))
    }

    async fn client(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        client_id: Uuid,
    ) -> Result<clients::Model, DomainError> {
        clients::Entity::find_by_id(client_id)
            .one(db)
            .await?
            .ok_or(DomainError::NotFound("client"))
    }

    pub async fn get(&self, client_id: Uuid) -> Result<Settings, DomainError> {
        let client = self.client(&self.db.conn, client_id).await?;
        let row = self.row(&self.db.conn, client_id).await?;
        Ok(assemble(&client, row))
    }

    /// Checks every given field first: an invalid one changes nothing.
    pub async fn update(
        &self,
        actor: &Principal,
        change: SettingsChange,
        meta: &RequestMeta,
    ) -> Result<Settings, DomainError> {
        let client_id = actor.client_id;
        let timezone = change.timezone.as_deref().map(check_timezone).transpose()?;
        let hour = change.daily_summary_hour.map(check_hour).transpose()?;
        let recipients = change
            .daily_summary_recipients
            .as_deref()
            .map(check_recipients)
            .transpose()?;
        let cooldown = change.default_cooldown_minutes.map(check_cooldown).transpose()?;
        if let Some(ids) = &change.default_channel_ids {
            let mut distinct = ids.clone();
            distinct.sort();
            distinct.dedup();
            let owned = notification_channels::Entity::find()
                .filter(notification_channels::Column::ClientId.eq(client_id))
                .filter(notification_channels::Column::Id.is_in(distinct.iter().copied()))
                .count(&self.db.conn)
                .await?;
            if owned as usize != distinct.len() {
                return Err(DomainError::NotFound("notification channel"));
            }
        }
        let txn = self.db.conn.begin().await?;
        self.row(&txn, client_id).await?;
        let mut update = client_settings::Entity::update_many()
            .col_expr(client_settings::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(client_settings::Column::ClientId.eq(client_id));
        if let Some(tz) = &timezone {
            update = update.col_expr(client_settings::Column::Timezone, Expr::value(tz.clone()));
        }
        if let Some(on) = change.daily_summary_enabled {
            update = update.col_expr(client_settings::Column::DailySummaryEnabled, Expr::value(on));
        }
        if let Some(h) = hour {
            update = update.col_expr(client_settings::Column::DailySummaryHour, Expr::value(h));
        }
        if let Some(r) = &recipients {
            update = update.col_expr(
                client_settings::Column::DailySummaryRecipients,
                Expr::value(json!(r)),
            );
        }
        if let Some(ids) = &change.default_channel_ids {
            update = update.col_expr(
                client_settings::Column::DefaultChannelIds,
                Expr::value(json!(ids)),
            );
        }
        if let Some(c) = cooldown {
            update = update.col_expr(client_settings::Column::DefaultCooldownMinutes, Expr::value(c));
        }
        update.exec(&txn).await?;
        if let Some(language) = change.language {
            clients::Entity::update_many()
                .col_expr(clients::Column::Language, Expr::value(language))
                .filter(clients::Column::Id.eq(client_id))
                .exec(&txn)
                .await?;
        }
        let client = self.client(&txn, client_id).await?;
        let row = self.row(&txn, client_id).await?;
        txn.commit().await?;
        let settings = assemble(&client, row);
        let entry = Entry::new(Level::Info, Category::System, "Paramètres du client modifiés")
            .client(client_id)
            .metadata(json!({
                "language": change.language.map(|l| entities::enums::Stored::stored(&l)),
                "timezone": timezone,
                "daily_summary_enabled": change.daily_summary_enabled,
                "daily_summary_hour": hour,
                "daily_summary_recipients": recipients,
                "default_channel_ids": change.default_channel_ids,
                "default_cooldown_minutes": cooldown,
            }))
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(check_timezone(" Europe/Paris ").unwrap(), "Europe/Paris");
        assert_eq!(check_timezone("UTC").unwrap(), "UTC");
        assert!(check_timezone("Mars/Olympus").is_err());
        assert!(check_timezone("+02:00").is_err());
    }

    #[test]
    fn recipients_are_checked_deduplicated_and_bounded() {
        let two = vec!["Ops@Example.com".to_owned(), "ops@example.com".to_owned()];
        assert_eq!(check_recipients(&two).unwrap(), vec!["ops@example.com"]);
        assert!(check_recipients(&["not-an-address".to_owned()]).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("u{i}@example.com")).collect();
        assert!(check_recipients(&many).is_err());
        assert_eq!(check_recipients(&many[..20]).unwrap().len(), 20);
    }

    #[test]
    fn hours_and_cooldowns_have_bounds() {
        assert!(check_hour(0).is_ok() && check_hour(23).is_ok());
        assert!(check_hour(24).is_err() && check_hour(-1).is_err());
        assert!(check_cooldown(4).is_err());
        assert_eq!(check_cooldown(5).unwrap(), 5);
    }
}
