//! Telling a routine's or trigger's channels what it found: one outbox
//! message per enabled channel listed, written in one transaction, rendered
//! as `routine_notification` or `report_notification`.

use super::{
    routines::{config_of, Tally},
    spec::RoutineType,
    triggers::Trigger,
    Automation,
};
use crate::domain::{
    alerting::channels::Destination,
    analysis::{findings::Issue, service::StoredAnalysis, AnalysisKind},
    notify::{
        digest::{self, Digest, DigestIssue, DigestKind, DigestReport, MAX_REPORTS, TOP_ISSUES},
        email,
        outbox::{Outgoing, Transport},
    },
    DomainError,
};
use chrono::Datelike;
use entities::{ai_routines, clients, enums::ChannelType, machines, notification_channels};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

fn severity_code(i: &Issue) -> String {
    serde_json::to_value(i.severity)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The worst issues across analyses, worst first.
fn top_issues(analyses: &[StoredAnalysis]) -> Vec<DigestIssue> {
    let mut all: Vec<(&str, &Issue)> = analyses
        .iter()
        .flat_map(|a| {
            a.findings
                .issues
                .iter()
                .map(move |i| (a.findings.hostname.as_str(), i))
        })
        .collect();
    all.sort_by_key(|i| std::cmp::Reverse(i.1.severity));
    all.into_iter()
        .take(TOP_ISSUES)
        .map(|(hostname, i)| DigestIssue {
            hostname: hostname.to_owned(),
            title: i.title.clone(),
            severity: severity_code(i),
        })
        .collect()
}

impl Automation {
    fn report_link(&self, analysis_id: Uuid) -> String {
        format!("{}/reports/{analysis_id}", self.dashboard_url)
    }

    fn reports(&self, analyses: &[StoredAnalysis]) -> Vec<DigestReport> {
        analyses
            .iter()
            .take(MAX_REPORTS)
            .map(|a| DigestReport {
                hostname: a.findings.hostname.clone(),
                summary: a.summary.clone(),
                link: self.report_link(a.id),
            })
            .collect()
    }

    pub(super) async fn deliver_routine(
        &self,
        routine: &ai_routines::Model,
        tally: &Tally,
    ) -> Result<usize, DomainError> {
        let config = config_of(routine);
        if config.notify_channels.is_empty() || tally.analyzed == 0 {
            return Ok(0);
        }
        // A report page exists for `reports` analyses only, whatever the
        // routine is called.
        let is_report = RoutineType::parse(&routine.routine_type)
            .and_then(|t| config.kind(t))
            .is_some_and(|k| k == AnalysisKind::Reports);
        let mut top = top_issues(&tally.analyses);
        for (hostname, metrics) in &tally.drifts {
            for m in metrics {
                if top.len() < TOP_ISSUES {
                    top.push(DigestIssue {
                        hostname: hostname.clone(),
                        title: format!("drift: {m}"),
                        severity: "medium".into(),
                    });
                }
            }
        }
        let reports = if is_report {
            self.reports(&tally.analyses)
        } else {
            Vec::new()
        };
        let link = reports
            .first()
            .map_or_else(|| self.dashboard_url.clone(), |r| r.link.clone());
        let digest = |tenant: &clients::Model| Digest {
            kind: if is_report {
                DigestKind::Report
            } else {
                DigestKind::Routine
            },
            language: tenant.language,
            tenant: tenant.name.clone(),
            name: routine.name.clone(),
            at: self.clock.now(),
            machines_analyzed: tally.analyzed,
            issues_found: tally.issues,
            top_issues: top.clone(),
            reports: reports.clone(),
            link: link.clone(),
        };
        self.send(routine.client_id, &config.notify_channels, digest)
            .await
    }

    pub(super) async fn deliver_trigger(
        &self,
        trigger: &Trigger,
        machine: &machines::Model,
        why: &str,
        analysis: &StoredAnalysis,
    ) -> Result<usize, DomainError> {
        let channels = &trigger.actions.notify_channels;
        if channels.is_empty() {
            return Ok(0);
        }
        let is_report = analysis.kind == AnalysisKind::Reports;
        let analyses = std::slice::from_ref(analysis);
        let mut top = top_issues(analyses);
        for t in &mut top {
            if t.hostname.is_empty() {
                t.hostname = machine.hostname.clone();
            }
        }
        let reports = if is_report {
            self.reports(analyses)
        } else {
            Vec::new()
        };
        let link = format!("{}/machines/{}", self.dashboard_url, machine.id);
        let link = reports.first().map_or(link, |r| r.link.clone());
        let digest = |tenant: &clients::Model| Digest {
            kind: if is_report {
                DigestKind::Report
            } else {
                DigestKind::Routine
            },
            language: tenant.language,
            tenant: tenant.name.clone(),
            name: format!("{} – {} ({why})", trigger.model.name, machine.hostname),
            at: self.clock.now(),
            machines_analyzed: 1,
            issues_found: analysis.findings.issues.len() as i32,
            top_issues: top.clone(),
            reports: reports.clone(),
            link: link.clone(),
        };
        self.send(trigger.model.client_id, channels, digest).await
    }

    /// Queues the digest to each enabled channel of `client_id` listed, in
    /// one transaction; returns how many were queued.
    async fn send(
        &self,
        client_id: Uuid,
        channel_ids: &[Uuid],
        digest: impl Fn(&clients::Model) -> Digest,
    ) -> Result<usize, DomainError> {
        let txn = self.db.begin_write().await?;
        let tenant = clients::Entity::find_by_id(client_id)
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound("tenant"))?;
        let channels = notification_channels::Entity::find()
            .filter(notification_channels::Column::ClientId.eq(client_id))
            .filter(notification_channels::Column::Enabled.eq(true))
            .filter(notification_channels::Column::Id.is_in(channel_ids.iter().copied()))
            .all(&txn)
            .await?;
        let d = digest(&tenant);
        let subject = digest::subject(&d);
        let now = self.clock.now();
        for channel in &channels {
            let transport = match (Destination::parse(&channel.config)?, channel.channel_type) {
                (Destination::Emails { emails }, ChannelType::Email) => {
                    let mail = email::render(
                        &email::Template::Digest(d.clone()),
                        d.language,
                        &email::Common::new(&self.dashboard_url, now.year()),
                    )?;
                    Transport::Email {
                        recipient: emails.join(","),
                        subject: mail.subject,
                        body_text: mail.text,
                        body_html: Some(mail.html),
                    }
                }
                (Destination::Webhook { .. }, kind) => {
                    let payload = match kind {
                        ChannelType::WebhookTeams => digest::teams(&d),
                        ChannelType::WebhookSlack => digest::slack(&d),
                        ChannelType::WebhookDiscord => digest::discord(&d),
                        ChannelType::Email => continue,
                    };
                    Transport::Webhook {
                        channel_id: channel.id,
                        subject: subject.clone(),
                        payload: payload.to_string(),
                    }
                }
                (Destination::Emails { .. }, _) => continue,
            };
            self.outbox
                .enqueue_in(
                    &txn,
                    Outgoing {
                        kind: d.kind.code(),
                        client_id: Some(client_id),
                        language: d.language,
                        notification_id: None,
                        transport,
                    },
                )
                .await?;
        }
        txn.commit().await?;
        if !channels.is_empty() {
            self.outbox.wake();
        }
        Ok(channels.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::{
            analysis::{
                findings::{Findings, Severity},
                narrative::NarratorKind,
            },
            fixtures,
        },
        infra::{
            clock::{Clock, ManualClock},
            db::Database,
        },
    };
    use entities::{email_outbox, enums::Language};
    use sea_orm::{ActiveValue::Set, QueryOrder};
    use serde_json::json;

    /// A report routine's digest goes to each enabled channel it lists, as
    /// an e-mail or a webhook payload, linking each report's page.
    #[tokio::test]
    async fn a_report_routine_queues_one_message_per_enabled_listed_channel() {
        let db = Database::in_memory().await.unwrap();
        let clock = ManualClock::starting_now();
        let (client, machine) = fixtures::tenant_with_machine(&db, clock.now()).await;
        let automation = super::super::for_tests(&db, &clock);
        let channel =
            |kind: ChannelType, config: serde_json::Value, enabled: bool| notification_channels::Model {
                id: Uuid::new_v4(),
                client_id: client.id,
                name: "c".into(),
                channel_type: kind,
                config: config.to_string(),
                enabled,
                created_at: clock.now(),
                updated_at: clock.now(),
            };
        let mail = channel(ChannelType::Email, json!({"emails": ["ops@acme.test"]}), true);
        let discord = channel(
            ChannelType::WebhookDiscord,
            json!({"webhook_url": "https://discord.test/h"}),
            true,
        );
        let off = channel(ChannelType::Email, json!({"emails": ["off@acme.test"]}), false);
        let unlisted = channel(ChannelType::Email, json!({"emails": ["other@acme.test"]}), true);
        for c in [&mail, &discord, &off, &unlisted] {
            let model: notification_channels::ActiveModel = c.clone().into();
            notification_channels::Entity::insert(model)
                .exec(&db.conn)
                .await
                .unwrap();
        }
        let routine = ai_routines::Entity::insert(ai_routines::ActiveModel {
            id: Set(Uuid::new_v4()),
            client_id: Set(client.id),
            name: Set("Rapport du matin".into()),
            routine_type: Set("daily_report".into()),
            schedule: Set("0 8 * * *".into()),
            timezone: Set(None),
            enabled: Set(true),
            config: Set(json!({"machines": "all", "notify_channels": [mail.id, discord.id, off.id]})),
            last_run_at: Set(None),
            next_run_at: Set(None),
            created_by: Set(None),
            created_at: Set(clock.now()),
            updated_at: Set(clock.now()),
        })
        .exec_with_returning(&db.conn)
        .await
        .unwrap();
        let analysis = StoredAnalysis {
            id: Uuid::from_u128(7),
            client_id: client.id,
            machine_id: machine.id,
            kind: AnalysisKind::Reports,
            findings: Findings {
                machine_id: machine.id,
                hostname: machine.hostname.clone(),
                issues: vec![Issue {
                    code: "disk_filling".into(),
                    title: "Disque C: presque plein".into(),
                    description: String::new(),
                    severity: Severity::High,
                }],
                ..Findings::default()
            },
            summary: "Santé 72/100.".into(),
            narrator: NarratorKind::Builtin,
            explanations: vec![],
            origin: crate::domain::analysis::service::Origin::Routine {
                routine_id: routine.id,
            },
            cost: 2,
            language: Language::Fr,
            created_at: clock.now(),
        };
        let tally = Tally {
            analyzed: 1,
            issues: 1,
            analyses: vec![analysis],
            ..Tally::default()
        };
        assert_eq!(automation.deliver_routine(&routine, &tally).await.unwrap(), 2);
        let queued = email_outbox::Entity::find()
            .order_by_asc(email_outbox::Column::Transport)
            .all(&db.conn)
            .await
            .unwrap();
        assert_eq!(queued.len(), 2);
        assert!(queued.iter().all(|m| m.kind == "report_notification"));
        let link = "https://dash.example/reports/00000000-0000-0000-0000-000000000007";
        let (email, webhook) = (&queued[0], &queued[1]);
        assert_eq!(
            (email.transport.as_str(), email.recipient.as_str()),
            ("email", "ops@acme.test")
        );
        assert!(email
            .subject
            .starts_with("[Optralis] Rapport IA : Rapport du matin - Acme"));
        assert!(
            email.body_text.contains(link) && email.body_text.contains("Disque C: presque plein (Élevée)")
        );
        assert!(email.body_html.as_deref().unwrap().contains(link));
        assert_eq!(
            (webhook.transport.as_str(), webhook.channel_id),
            ("webhook", Some(discord.id))
        );
        assert!(webhook.payload.as_deref().unwrap().contains(link));

        // Nothing analysed, nothing told.
        let idle = Tally::default();
        assert_eq!(automation.deliver_routine(&routine, &idle).await.unwrap(), 0);
    }
}
