//! Reading the fleet: machine lists with filters and keyset pagination,
//! one machine by id or host name, the batch lookups dataloaders use, and
//! the fleet overview. Every read is scoped to one tenant.

mod filter;
pub mod health;
pub mod history;
pub mod offline;
pub mod organise;
pub mod retention;
pub mod risks;
pub mod rollups;
pub mod sites;
mod state;

pub use state::{in_maintenance, is_online, State};

use crate::{
    domain::{agents::OFFLINE_AFTER, DomainError},
    infra::{clock::Clock, db::Database},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use entities::{groups, labels, machine_collector_data, machine_labels, machines};
use sea_orm::{
    sea_query::{Expr, Func},
    ColumnTrait, Condition, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

use filter::{filtered, lower};
pub use filter::{MachineFilter, Reach, Status};

pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 100;

/// Position after which a page starts: host names in case-insensitive
/// order, ties broken by id.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cursor {
    h: String,
    id: Uuid,
}

impl Cursor {
    pub fn of(m: &machines::Model) -> Self {
        Self {
            h: m.hostname.to_lowercase(),
            id: m.id,
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Result<Self, DomainError> {
        URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| DomainError::invalid("after", "is not a cursor from this list"))
    }
}

pub struct Page {
    pub items: Vec<machines::Model>,
    pub has_next: bool,
}

/// Latest metrics from the machine's snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct LatestMetrics {
    pub cpu_percent: f64,
    pub ram_percent: f64,
    pub uptime_seconds: i64,
    pub cpu_temp: Option<f64>,
    pub collected_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineLabel {
    pub label_id: Uuid,
    pub key: String,
    pub value: String,
    pub color: String,
}

/// One line of the machines export.
pub struct ExportRow {
    pub machine: machines::Model,
    pub latest: Option<LatestMetrics>,
    pub labels: Vec<MachineLabel>,
    pub group: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Overview {
    pub total: i64,
    pub online: i64,
    pub offline: i64,
    pub in_maintenance: i64,
    pub non_compliant: i64,
    /// Mean health score; 100 for an empty fleet.
    pub average_health: f64,
}

/// Rows of a batch lookup grouped by machine, in their order.
pub fn by_machine<T>(rows: Vec<T>, machine_of: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for r in rows {
        out.entry(machine_of(&r)).or_default().push(r);
    }
    out
}

/// `SUM(CASE WHEN cond THEN 1 ELSE 0 END)`.
pub(crate) fn count_where(cond: impl sea_orm::sea_query::IntoCondition) -> sea_orm::sea_query::SimpleExpr {
    Func::sum(Expr::case(cond, 1).finally(0)).into()
}

#[derive(Clone)]
pub struct Fleet {
    db: Database,
    /// "Now" for the online/offline threshold.
    clock: Arc<dyn Clock>,
}

impl Fleet {
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// The machine's state now, by the injected clock.
    pub fn state_of(&self, m: &machines::Model) -> State {
        State::of(m, self.clock.now())
    }

    /// Heard from within the offline threshold, by the injected clock.
    pub fn is_online(&self, m: &machines::Model) -> bool {
        is_online(m, self.clock.now())
    }

    /// Chart data of one of the tenant's machines (see [`history::history`]).
    pub async fn history(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        series: history::Series,
        range: history::Range,
    ) -> Result<history::History, DomainError> {
        history::history(&self.db, client_id, machine_id, series, range).await
    }

    /// One page of the machines in reach, in host-name order.
    pub async fn list(
        &self,
        reach: Reach,
        filter: &MachineFilter,
        first: Option<i32>,
        after: Option<&str>,
    ) -> Result<Page, DomainError> {
        let first = match first {
            None => DEFAULT_PAGE,
            Some(n) if (1..=MAX_PAGE as i32).contains(&n) => n as u64,
            Some(_) => return Err(DomainError::invalid("first", format!("must be 1-{MAX_PAGE}"))),
        };
        let mut cond = filtered(reach, filter, self.clock.now());
        if let Some(after) = after {
            let c = Cursor::decode(after)?;
            cond = cond.add(
                Condition::any()
                    .add(lower(machines::Column::Hostname).gt(c.h.clone()))
                    .add(
                        Condition::all()
                            .add(lower(machines::Column::Hostname).eq(c.h))
                            .add(machines::Column::Id.gt(c.id)),
                    ),
            );
        }
        let mut items = machines::Entity::find()
            .filter(cond)
            .order_by_asc(lower(machines::Column::Hostname))
            .order_by_asc(machines::Column::Id)
            .limit(first + 1)
            .all(&self.db.conn)
            .await?;
        let has_next = items.len() as u64 > first;
        items.truncate(first as usize);
        Ok(Page { items, has_next })
    }

    pub async fn count(&self, reach: Reach, filter: &MachineFilter) -> Result<u64, DomainError> {
        Ok(machines::Entity::find()
            .filter(filtered(reach, filter, self.clock.now()))
            .count(&self.db.conn)
            .await?)
    }

    pub async fn get(&self, client_id: Uuid, id: Uuid) -> Result<machines::Model, DomainError> {
        machines::Entity::find_by_id(id)
            .filter(machines::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("machine"))
    }

    pub async fn by_hostname(&self, client_id: Uuid, hostname: &str) -> Result<machines::Model, DomainError> {
        machines::Entity::find()
            .filter(machines::Column::ClientId.eq(client_id))
            .filter(lower(machines::Column::Hostname).eq(hostname.trim().to_lowercase()))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("machine"))
    }

    /// Latest metrics of each machine that has reported some.
    pub async fn latest_metrics(
        &self,
        machine_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, LatestMetrics>, DomainError> {
        let rows = machine_collector_data::Entity::find()
            .filter(machine_collector_data::Column::MachineId.is_in(machine_ids.iter().copied()))
            .filter(machine_collector_data::Column::Collector.eq("metrics"))
            .all(&self.db.conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let d = &r.data;
                Some((
                    r.machine_id,
                    LatestMetrics {
                        cpu_percent: d["cpu_percent"].as_f64()?,
                        ram_percent: d["ram_percent"].as_f64()?,
                        uptime_seconds: d["uptime_seconds"].as_i64().unwrap_or_default(),
                        cpu_temp: d["cpu_temp"].as_f64(),
                        collected_at: r.collected_at,
                    },
                ))
            })
            .collect())
    }

    /// Latest snapshot of one collector for each machine.
    pub async fn snapshots(
        &self,
        machine_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<machine_collector_data::Model>>, DomainError> {
        let rows = machine_collector_data::Entity::find()
            .filter(machine_collector_data::Column::MachineId.is_in(machine_ids.iter().copied()))
            .order_by_asc(machine_collector_data::Column::Collector)
            .all(&self.db.conn)
            .await?;
        Ok(by_machine(rows, |r| r.machine_id))
    }

    /// Labels of each machine, by key.
    pub async fn labels_of(
        &self,
        machine_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<MachineLabel>>, DomainError> {
        let rows = machine_labels::Entity::find()
            .filter(machine_labels::Column::MachineId.is_in(machine_ids.iter().copied()))
            .find_also_related(labels::Entity)
            .all(&self.db.conn)
            .await?;
        let mut out: HashMap<Uuid, Vec<MachineLabel>> = HashMap::new();
        for (link, label) in rows {
            if let Some(label) = label {
                out.entry(link.machine_id).or_default().push(MachineLabel {
                    label_id: label.id,
                    key: label.key,
                    value: link.value,
                    color: label.color,
                });
            }
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Ok(out)
    }

    pub async fn groups(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, groups::Model>, DomainError> {
        Ok(groups::Entity::find()
            .filter(groups::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|g| (g.id, g))
            .collect())
    }

    /// Every machine of the tenant with what the CSV export shows, in four
    /// statements whatever the fleet size.
    pub async fn export(&self, client_id: Uuid) -> Result<Vec<ExportRow>, DomainError> {
        let machines = machines::Entity::find()
            .filter(machines::Column::ClientId.eq(client_id))
            .order_by_asc(lower(machines::Column::Hostname))
            .all(&self.db.conn)
            .await?;
        let ids: Vec<Uuid> = machines.iter().map(|m| m.id).collect();
        let group_ids: Vec<Uuid> = machines.iter().filter_map(|m| m.group_id).collect();
        let (metrics, labels, groups) = futures::try_join!(
            self.latest_metrics(&ids),
            self.labels_of(&ids),
            self.groups(&group_ids)
        )?;
        let (mut metrics, mut labels) = (metrics, labels);
        Ok(machines
            .into_iter()
            .map(|m| ExportRow {
                latest: metrics.remove(&m.id),
                labels: labels.remove(&m.id).unwrap_or_default(),
                group: m.group_id.and_then(|g| groups.get(&g)).map(|g| g.name.clone()),
                machine: m,
            })
            .collect())
    }

    /// Fleet counts and mean health in one statement.
    pub async fn overview(&self, reach: impl Into<Reach>) -> Result<Overview, DomainError> {
        #[derive(FromQueryResult)]
        struct Row {
            total: i64,
            online: Option<i64>,
            maintenance: Option<i64>,
            non_compliant: Option<i64>,
            health: Option<f64>,
        }
        let since = self.clock.now() - OFFLINE_AFTER;
        let row = machines::Entity::find()
            .select_only()
            .column_as(Expr::col(machines::Column::Id).count(), "total")
            .column_as(count_where(machines::Column::LastSeen.gte(since)), "online")
            .column_as(
                count_where(
                    Condition::all()
                        .add(machines::Column::MaintenanceMode.eq(true))
                        .add(
                            Condition::any()
                                .add(machines::Column::MaintenanceUntil.is_null())
                                .add(machines::Column::MaintenanceUntil.gt(self.clock.now())),
                        ),
                ),
                "maintenance",
            )
            .column_as(
                count_where(machines::Column::IsOsCompliant.eq(false)),
                "non_compliant",
            )
            .column_as(
                Expr::cust("CAST(AVG(health_score) AS DOUBLE PRECISION)"),
                "health",
            )
            .filter(reach.into().condition())
            .into_model::<Row>()
            .one(&self.db.conn)
            .await?
            .ok_or_else(|| DomainError::invariant("overview returned no row"))?;
        let online = row.online.unwrap_or(0);
        Ok(Overview {
            total: row.total,
            online,
            offline: row.total - online,
            in_maintenance: row.maintenance.unwrap_or(0),
            non_compliant: row.non_compliant.unwrap_or(0),
            average_health: row.health.unwrap_or(100.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            h: "srv-01".into(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("not-a-cursor").is_err());
    }
}
