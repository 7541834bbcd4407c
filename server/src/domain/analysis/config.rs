//! AI configuration (Enterprise): a custom context the narrator adds to
//! its prompts, and a criticality per machine, set by hand or detected
//! from hostnames with the spec's patterns. What the narrator reads of it
//! is [`AiConfiguration::narration_context`].

use super::narrative::NarrationContext;
use crate::{
    domain::{
        activity::{ActivityLog, Category, Entry, Level, RequestMeta},
        auth::Principal,
        licensing::{Feature, Licence, Licensing},
        DomainError,
    },
    infra::{clock::Clock, db::Database},
};
use entities::{ai_config, ai_machine_criticality, machines};
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

pub const MAX_CONTEXT: usize = 2000;
/// Machines one update may classify.
pub const MAX_MACHINES: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Criticality {
    Critical,
    Important,
    Standard,
}

impl Criticality {
    pub fn code(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Important => "important",
            Self::Standard => "standard",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [Self::Critical, Self::Important, Self::Standard]
            .into_iter()
            .find(|c| c.code() == code)
    }
}

/// The spec's patterns, in the order they are tried: the first class with
/// a pattern in the hostname wins (`SQL-DEV` is critical).
const PATTERNS: [(Criticality, &[(&str, &str)]); 3] = [
    (
        Criticality::Critical,
        &[
            ("PROD", "Production"),
            ("PRD", "Production"),
            ("SQL", "Base de données"),
            ("DB", "Base de données"),
            ("BDD", "Base de données"),
            ("WMS", "Métier critique"),
            ("ERP", "Métier critique"),
            ("SAP", "Métier critique"),
            ("COMPTA", "Finance"),
            ("PAIE", "Finance"),
        ],
    ),
    (
        Criticality::Important,
        &[
            ("WEB", "Services exposés"),
            ("WWW", "Services exposés"),
            ("API", "Services exposés"),
            ("MAIL", "Communication"),
            ("SMTP", "Communication"),
        ],
    ),
    (
        Criticality::Standard,
        &[
            ("DEV", "Non-prod"),
            ("TEST", "Non-prod"),
            ("UAT", "Non-prod"),
            ("BACKUP", "Secondaire"),
            ("BKP", "Secondaire"),
        ],
    ),
];

/// The criticality a hostname suggests, with the spec's reason
/// (case-insensitive substring match), or None.
pub fn detect(hostname: &str) -> Option<(Criticality, String)> {
    let upper = hostname.to_uppercase();
    PATTERNS.iter().find_map(|(class, patterns)| {
        patterns
            .iter()
            .find(|(p, _)| upper.contains(p))
            .map(|(p, reason)| (*class, format!("{reason} ({p})")))
    })
}

/// One machine's classification, as `aiConfig` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineCriticality {
    pub machine_id: Uuid,
    pub hostname: String,
    pub criticality: Criticality,
    /// auto or manual.
    pub source: String,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AiConfigView {
    pub custom_context: String,
    pub machines: Vec<MachineCriticality>,
}

#[derive(Clone, Debug, Default)]
pub struct AiConfigInput {
    /// None leaves it as it is.
    pub custom_context: Option<String>,
    /// Manual classifications to set.
    pub machines: Vec<(Uuid, Criticality)>,
}

#[derive(Clone)]
pub struct AiConfiguration {
    db: Database,
    licensing: Licensing,
    activity: ActivityLog,
    clock: Arc<dyn Clock>,
}

impl AiConfiguration {
    pub fn new(db: Database, licensing: Licensing, activity: ActivityLog, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            licensing,
            activity,
            clock,
        }
    }

    async fn gate(&self, actor: &Principal) -> Result<(), DomainError> {
        self.licensing
            .require(actor, Feature::AiConfiguration)
            .await
            .map(drop)
    }

    pub async fn get(&self, actor: &Principal) -> Result<AiConfigView, DomainError> {
        self.gate(actor).await?;
        self.view(actor.client_id).await
    }

    async fn view(&self, client_id: Uuid) -> Result<AiConfigView, DomainError> {
        let (config, rows) = futures::try_join!(
            ai_config::Entity::find_by_id(client_id).one(&self.db.conn),
            ai_machine_criticality::Entity::find()
                .filter(ai_machine_criticality::Column::ClientId.eq(client_id))
                .all(&self.db.conn),
        )?;
        let hostnames: HashMap<Uuid, String> = if rows.is_empty() {
            HashMap::new()
        } else {
            machines::Entity::find()
                .filter(machines::Column::ClientId.eq(client_id))
                .filter(machines::Column::Id.is_in(rows.iter().map(|r| r.machine_id)))
                .all(&self.db.conn)
                .await?
                .into_iter()
                .map(|m| (m.id, m.hostname))
                .collect()
        };
        let mut machines: Vec<MachineCriticality> = rows
            .into_iter()
            .filter_map(|c| {
                Some(MachineCriticality {
                    hostname: hostnames.get(&c.machine_id)?.clone(),
                    machine_id: c.machine_id,
                    criticality: Criticality::parse(&c.criticality)?,
                    source: c.source,
                    reason: c.reason,
                })
            })
            .collect();
        machines.sort_by(|a, b| a.hostname.cmp(&b.hostname).then(a.machine_id.cmp(&b.machine_id)));
        Ok(AiConfigView {
            custom_context: config.map(|c| c.custom_context).unwrap_or_default(),
            machines,
        })
    }

    pub async fn update(
        &self,
        actor: &Principal,
        input: AiConfigInput,
        meta: &RequestMeta,
    ) -> Result<AiConfigView, DomainError> {
        self.gate(actor).await?;
        let context = match input.custom_context.as_deref().map(str::trim) {
            Some(c) if c.chars().count() > MAX_CONTEXT => {
                return Err(DomainError::invalid(
                    "customContext",
                    format!("must be at most {MAX_CONTEXT} characters"),
                ))
            }
            Some(c) if c.chars().any(|ch| ch.is_control() && ch != '\n' && ch != '\t') => {
                return Err(DomainError::invalid("customContext", "must be printable text"))
            }
            other => other.map(str::to_owned),
        };
        if input.machines.len() > MAX_MACHINES {
            return Err(DomainError::invalid(
                "machines",
                format!("at most {MAX_MACHINES} machines at once"),
            ));
        }
        let mut wanted: HashMap<Uuid, Criticality> = HashMap::new();
        for (id, c) in &input.machines {
            wanted.insert(*id, *c);
        }
        let ids: Vec<Uuid> = wanted.keys().copied().collect();
        if !ids.is_empty() {
            let owned = machines::Entity::find()
                .filter(machines::Column::ClientId.eq(actor.client_id))
                .filter(machines::Column::Id.is_in(ids.clone()))
                .count(&self.db.conn)
                .await?;
            if owned as usize != ids.len() {
                return Err(DomainError::invalid("machines", "must all be your machines"));
            }
        }
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        if let Some(context) = &context {
            ai_config::Entity::insert(ai_config::ActiveModel {
                client_id: Set(actor.client_id),
                custom_context: Set(context.clone()),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(ai_config::Column::ClientId)
                    .update_columns([ai_config::Column::CustomContext, ai_config::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        for (machine_id, criticality) in &wanted {
            upsert(
                &txn,
                actor.client_id,
                *machine_id,
                *criticality,
                "manual",
                None,
                now,
            )
            .await?;
        }
        txn.commit().await?;
        let entry = Entry::new(Level::Info, Category::System, "Configuration IA modifiée")
            .client(actor.client_id)
            .by(actor.user_id)
            .metadata(json!({
                "custom_context_changed": context.is_some(),
                "machines": wanted.iter().map(|(m, c)| json!({"machine_id": m, "criticality": c.code()})).collect::<Vec<_>>(),
            }));
        self.activity.record(entry, meta).await;
        self.view(actor.client_id).await
    }

    /// Classifies every machine of the tenant from its hostname; a manual
    /// classification is kept, an automatic one no pattern supports any
    /// more is dropped. Returns the configuration after.
    pub async fn analyze(&self, actor: &Principal, meta: &RequestMeta) -> Result<AiConfigView, DomainError> {
        self.gate(actor).await?;
        let (fleet, existing) = futures::try_join!(
            machines::Entity::find()
                .filter(machines::Column::ClientId.eq(actor.client_id))
                .order_by_asc(machines::Column::Hostname)
                .all(&self.db.conn),
            ai_machine_criticality::Entity::find()
                .filter(ai_machine_criticality::Column::ClientId.eq(actor.client_id))
                .all(&self.db.conn),
        )?;
        let manual: std::collections::HashSet<Uuid> = existing
            .iter()
            .filter(|c| c.source == "manual")
            .map(|c| c.machine_id)
            .collect();
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        let mut detected = 0;
        let mut stale = Vec::new();
        for m in fleet.iter().filter(|m| !manual.contains(&m.id)) {
            match detect(&m.hostname) {
                Some((criticality, reason)) => {
                    upsert(
                        &txn,
                        actor.client_id,
                        m.id,
                        criticality,
                        "auto",
                        Some(reason),
                        now,
                    )
                    .await?;
                    detected += 1;
                }
                None => stale.push(m.id),
            }
        }
        if !stale.is_empty() {
            ai_machine_criticality::Entity::delete_many()
                .filter(ai_machine_criticality::Column::ClientId.eq(actor.client_id))
                .filter(ai_machine_criticality::Column::Source.eq("auto"))
                .filter(ai_machine_criticality::Column::MachineId.is_in(stale))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        let entry = Entry::new(Level::Info, Category::System, "Configuration IA modifiée")
            .client(actor.client_id)
            .by(actor.user_id)
            .metadata(json!({ "auto_detection": true, "detected": detected, "manual_kept": manual.len() }));
        self.activity.record(entry, meta).await;
        self.view(actor.client_id).await
    }

    /// What the narrator adds to a prompt about this machine: empty unless
    /// the tenant's plan (`licence`, which the caller has already read)
    /// includes AI configuration.
    pub async fn narration_context(
        &self,
        licence: &Licence,
        client_id: Uuid,
        machine_id: Uuid,
    ) -> Result<NarrationContext, DomainError> {
        if licence.require(Feature::AiConfiguration).is_err() {
            return Ok(NarrationContext::default());
        }
        let (config, criticality) = futures::try_join!(
            ai_config::Entity::find_by_id(client_id).one(&self.db.conn),
            ai_machine_criticality::Entity::find_by_id(machine_id)
                .filter(ai_machine_criticality::Column::ClientId.eq(client_id))
                .one(&self.db.conn),
        )?;
        Ok(NarrationContext {
            criticality: criticality.map(|c| c.criticality),
            custom_context: config.map(|c| c.custom_context).filter(|c| !c.trim().is_empty()),
        })
    }
}

async fn upsert(
    conn: &impl sea_orm::ConnectionTrait,
    client_id: Uuid,
    machine_id: Uuid,
    criticality: Criticality,
    source: &str,
    reason: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    ai_machine_criticality::Entity::insert(ai_machine_criticality::ActiveModel {
        machine_id: Set(machine_id),
        client_id: Set(client_id),
        criticality: Set(criticality.code().to_owned()),
        source: Set(source.to_owned()),
        reason: Set(reason),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(ai_machine_criticality::Column::MachineId)
            .update_columns([
                ai_machine_criticality::Column::Criticality,
                ai_machine_criticality::Column::Source,
                ai_machine_criticality::Column::Reason,
                ai_machine_criticality::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_classified_by_the_first_matching_class() {
        let class = |h: &str| detect(h).map(|(c, _)| c);
        assert_eq!(class("SRV-PROD-01"), Some(Criticality::Critical));
        assert_eq!(
            class("srv-prd-web"),
            Some(Criticality::Critical),
            "case-insensitive; critical before important"
        );
        assert_eq!(
            class("sql-dev"),
            Some(Criticality::Critical),
            "critical before standard"
        );
        assert_eq!(class("compta-01"), Some(Criticality::Critical));
        assert_eq!(class("paie"), Some(Criticality::Critical));
        assert_eq!(class("www-front"), Some(Criticality::Important));
        assert_eq!(class("smtp-relay"), Some(Criticality::Important));
        assert_eq!(class("uat-app"), Some(Criticality::Standard));
        assert_eq!(class("nas-bkp"), Some(Criticality::Standard));
        assert_eq!(class("laptop-julie"), None);
        assert_eq!(detect("erp01").unwrap().1, "Métier critique (ERP)");
        assert_eq!(detect("backup-02").unwrap().1, "Secondaire (BACKUP)");
    }
}
