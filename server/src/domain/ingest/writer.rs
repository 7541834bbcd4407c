//! Collector samples through the group-commit writer: every request in a
//! batch lands in one transaction, each table written with multi-row
//! inserts. Time-series rows are keyed by their sample identity and
//! inserted with ON CONFLICT DO NOTHING, so a retried sample is a no-op;
//! snapshots keep the newest sample even when an older one arrives late.

use super::payloads::{Payload, RISKY_PORTS};
use crate::{
    domain::collectors::Collector,
    infra::{
        db::Database,
        group_commit::{FlushFn, GroupCommit},
    },
};
use chrono::{DateTime, Utc};
use entities::{disk_info, event_logs, machine_collector_data, machine_inventory, metrics, smart_data};
use sea_orm::{
    sea_query::{Alias, Expr, OnConflict},
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait, TransactionTrait,
};
use serde_json::json;
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

/// Requests per transaction at most.
const MAX_BATCH: usize = 1024;
/// Rows per INSERT statement (stays under both backends' bind limits).
const ROWS_PER_STATEMENT: usize = 1000;

/// One accepted collect request.
#[derive(Clone, Debug)]
pub struct Sample {
    pub client_id: Uuid,
    pub machine_id: Uuid,
    pub collected_at: DateTime<Utc>,
    pub payload: Payload,
}

pub fn start(db: Database) -> GroupCommit<Sample> {
    let flush: FlushFn<Sample> = Arc::new(|db, batch| Box::pin(async move { flush(&db, &batch).await }));
    GroupCommit::start("collect", db, MAX_BATCH, flush)
}

/// The rows a batch writes, table by table.
#[derive(Default)]
pub struct Rows {
    pub metrics: Vec<metrics::ActiveModel>,
    pub disks: Vec<disk_info::ActiveModel>,
    pub smart: Vec<smart_data::ActiveModel>,
    pub events: Vec<event_logs::ActiveModel>,
    snapshots: HashMap<(Uuid, Collector), machine_collector_data::ActiveModel>,
    inventory: HashMap<Collector, HashMap<Uuid, machine_inventory::ActiveModel>>,
}

fn metric_row(s: &Sample, collector: &str) -> metrics::ActiveModel {
    metrics::ActiveModel {
        machine_id: Set(s.machine_id),
        collector: Set(collector.to_owned()),
        recorded_at: Set(s.collected_at),
        client_id: Set(s.client_id),
        cpu_percent: Set(None),
        ram_percent: Set(None),
        ram_used_bytes: Set(None),
        ram_total_bytes: Set(None),
        uptime_seconds: Set(None),
        cpu_temp: Set(None),
        bytes_recv: Set(None),
        bytes_sent: Set(None),
        packet_loss: Set(None),
        latency_ms: Set(None),
        disk_latency_ms: Set(None),
        io_wait_percent: Set(None),
    }
}

fn inventory_row(s: &Sample) -> machine_inventory::ActiveModel {
    machine_inventory::ActiveModel {
        machine_id: Set(s.machine_id),
        client_id: Set(s.client_id),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
}

/// The inventory columns each collector owns.
fn inventory_columns(c: Collector) -> Vec<machine_inventory::Column> {
    use machine_inventory::Column as I;
    let mut cols = match c {
        Collector::Services => vec![
            I::ServicesTotal,
            I::ServicesRunning,
            I::ServicesFailed,
            I::AllServices,
            I::FailedServices,
        ],
        Collector::Security => vec![
            I::AntivirusName,
            I::AntivirusVersion,
            I::AntivirusEnabled,
            I::AntivirusUpdated,
            I::FirewallEnabled,
            I::BitlockerEnabled,
            I::SecureBootEnabled,
            I::PortsOpen,
            I::PortsRiskyOpen,
            I::AllPorts,
            I::RiskyPortsDetails,
        ],
        Collector::Software => vec![
            I::SoftwareCount,
            I::SoftwareDetails,
            I::UsersTotal,
            I::UsersAdmin,
            I::UsersDetails,
        ],
        Collector::Patches => vec![
            I::PendingUpdates,
            I::SecurityUpdates,
            I::RebootRequired,
            I::PatchesAutoUpdate,
            I::PatchesLastCheck,
        ],
        Collector::Network => vec![I::NetworkInterfaces],
        _ => vec![],
    };
    cols.push(I::UpdatedAt);
    cols
}

fn count(n: usize) -> sea_orm::ActiveValue<Option<i32>> {
    Set(Some(i32::try_from(n).unwrap_or(i32::MAX)))
}

impl Rows {
    /// Turns samples into rows; within a batch the newest sample of a
    /// machine's collector wins its snapshot and inventory.
    pub fn build(batch: &[Arc<Sample>]) -> Self {
        let mut ordered: Vec<&Sample> = batch.iter().map(AsRef::as_ref).collect();
        ordered.sort_by_key(|s| s.collected_at);
        let mut rows = Rows::default();
        for s in ordered {
            rows.add(s);
        }
        rows
    }

    fn add(&mut self, s: &Sample) {
        let collector = s.payload.collector();
        let snapshot = machine_collector_data::ActiveModel {
            machine_id: Set(s.machine_id),
            collector: Set(collector.name().to_owned()),
            client_id: Set(s.client_id),
            data: Set(s.payload.to_json()),
            collected_at: Set(s.collected_at),
            updated_at: Set(Utc::now()),
        };
        // Samples arrive sorted by time: the last one wins.
        self.snapshots.insert((s.machine_id, collector), snapshot);
        let mut inv = inventory_row(s);
        let mut has_inventory = true;
        match &s.payload {
            Payload::Metrics(m) => {
                has_inventory = false;
                let mut r = metric_row(s, "metrics");
                r.cpu_percent = Set(Some(m.cpu_percent));
                r.ram_percent = Set(Some(m.ram_percent));
                r.uptime_seconds = Set(Some(m.uptime_seconds));
                r.cpu_temp = Set(m.cpu_temp);
                r.ram_used_bytes = Set(m.ram_used_bytes);
                r.ram_total_bytes = Set(m.ram_total_bytes);
                r.disk_latency_ms = Set(m.disk_latency_ms);
                r.io_wait_percent = Set(m.io_wait_percent);
                self.metrics.push(r);
            }
            Payload::Network(n) => {
                let mut r = metric_row(s, "network");
                r.bytes_recv = Set(n.bytes_recv);
                r.bytes_sent = Set(n.bytes_sent);
                r.packet_loss = Set(n.packet_loss);
                r.latency_ms = Set(n.latency_ms);
                self.metrics.push(r);
                inv.network_interfaces = Set(Some(json!(n.interfaces)));
            }
            Payload::Storage(st) => {
                has_inventory = false;
                for d in &st.disks {
                    self.disks.push(disk_info::ActiveModel {
                        machine_id: Set(s.machine_id),
                        mount_point: Set(d.mount_point.trim().to_owned()),
                        recorded_at: Set(s.collected_at),
                        client_id: Set(s.client_id),
                        device: Set(d.device.clone()),
                        fs_type: Set(d.fs_type.clone()),
                        total_gb: Set(d.total_gb),
                        used_gb: Set(d.used_gb),
                        used_percent: Set(d.used_percent.unwrap_or_default()),
                        model: Set(d.model.clone()),
                        interface: Set(d.interface.clone()),
                    });
                }
            }
            Payload::StorageHealth(h) => {
                has_inventory = false;
                for d in &h.disks {
                    self.smart.push(smart_data::ActiveModel {
                        machine_id: Set(s.machine_id),
                        device: Set(d.device.trim().to_owned()),
                        recorded_at: Set(s.collected_at),
                        client_id: Set(s.client_id),
                        model: Set(d.model.clone()),
                        serial: Set(d.serial.clone()),
                        firmware: Set(d.firmware.clone()),
                        smart_status: Set(d.smart_status.clone()),
                        is_virtual: Set(d.is_virtual),
                        overall_health_test: Set(d.overall_health_test.clone()),
                        temperature: Set(d.temperature),
                        power_on_hours: Set(d.power_on_hours),
                        power_cycle_count: Set(d.power_cycle_count),
                        reallocated_sectors: Set(d.reallocated_sectors),
                        current_pending_sectors: Set(d.current_pending_sectors),
                        offline_uncorrectable: Set(d.offline_uncorrectable),
                        predicted_failure: Set(d.predicted_failure),
                    });
                }
            }
            Payload::Services(sv) => {
                let failed: Vec<_> = sv.services.iter().filter(|x| x.is_failed()).collect();
                let running = sv
                    .services
                    .iter()
                    .filter(|x| x.status.eq_ignore_ascii_case("running"))
                    .count();
                inv.services_total = count(sv.services.len());
                inv.services_running = count(running);
                inv.services_failed = count(failed.len());
                inv.all_services = Set(Some(json!(sv.services)));
                inv.failed_services = Set(Some(json!(failed)));
            }
            Payload::Security(sec) => {
                let av = sec.antivirus.as_ref();
                inv.antivirus_name = Set(av.map(|a| a.name.clone()));
                inv.antivirus_version = Set(av.and_then(|a| a.version.clone()));
                inv.antivirus_enabled = Set(av.map(|a| a.enabled));
                inv.antivirus_updated = Set(av.map(|a| a.up_to_date));
                inv.firewall_enabled = Set(sec.firewall_enabled);
                inv.bitlocker_enabled = Set(sec.bitlocker_enabled);
                inv.secure_boot_enabled = Set(sec.secure_boot_enabled);
                let risky: Vec<_> = sec
                    .open_ports
                    .iter()
                    .filter(|p| RISKY_PORTS.contains(&p.port))
                    .collect();
                inv.ports_open = count(sec.open_ports.len());
                inv.ports_risky_open = count(risky.len());
                inv.all_ports = Set(Some(json!(sec.open_ports)));
                inv.risky_ports_details = Set(Some(json!(risky)));
                for e in &sec.event_logs {
                    self.events.push(event_logs::ActiveModel {
                        machine_id: Set(s.machine_id),
                        recorded_at: Set(e.recorded_at),
                        log_name: Set(e.log_name.clone()),
                        source: Set(e.source.clone()),
                        event_id: Set(e.event_id),
                        client_id: Set(s.client_id),
                        level: Set(e.level.to_ascii_lowercase()),
                        message: Set(e.message.clone()),
                    });
                }
            }
            Payload::Software(sw) => {
                inv.software_count = count(sw.software.len());
                inv.software_details = Set(Some(json!(sw.software)));
                inv.users_total = count(sw.users.len());
                inv.users_admin = count(sw.users.iter().filter(|u| u.is_admin).count());
                inv.users_details = Set(Some(json!(sw.users)));
            }
            Payload::Patches(p) => {
                inv.pending_updates = count(p.pending_updates.len());
                inv.security_updates = count(p.pending_updates.iter().filter(|u| u.is_security()).count());
                inv.reboot_required = Set(Some(p.reboot_required));
                inv.patches_auto_update = Set(p.auto_update_enabled);
                inv.patches_last_check = Set(p.last_check.or(Some(s.collected_at)));
            }
        }
        if has_inventory {
            self.inventory
                .entry(collector)
                .or_default()
                .insert(s.machine_id, inv);
        }
    }

    /// Writes every row in one transaction.
    pub async fn write(self, db: &Database) -> Result<(), DbErr> {
        let txn = db.conn.begin().await?;
        insert_ignoring_duplicates::<metrics::Entity, _>(&txn, self.metrics).await?;
        insert_ignoring_duplicates::<disk_info::Entity, _>(&txn, self.disks).await?;
        insert_ignoring_duplicates::<smart_data::Entity, _>(&txn, self.smart).await?;
        insert_ignoring_duplicates::<event_logs::Entity, _>(&txn, self.events).await?;
        for chunk in chunks(self.snapshots.into_values().collect()) {
            use machine_collector_data::Column as S;
            let newer = Expr::col((machine_collector_data::Entity, S::CollectedAt))
                .lte(Expr::col((Alias::new("excluded"), S::CollectedAt)));
            machine_collector_data::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::columns([S::MachineId, S::Collector])
                        .update_columns([S::Data, S::CollectedAt, S::UpdatedAt, S::ClientId])
                        .action_and_where(newer)
                        .to_owned(),
                )
                .do_nothing()
                .exec_without_returning(&txn)
                .await?;
        }
        for (collector, by_machine) in self.inventory {
            let rows: Vec<_> = by_machine.into_values().collect();
            for chunk in chunks(rows) {
                machine_inventory::Entity::insert_many(chunk)
                    .on_conflict(
                        OnConflict::column(machine_inventory::Column::MachineId)
                            .update_columns(inventory_columns(collector))
                            .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
            }
        }
        txn.commit().await
    }
}

fn chunks<T>(rows: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        out.push(rows.by_ref().take(ROWS_PER_STATEMENT).collect());
    }
    out
}

async fn insert_ignoring_duplicates<E, A>(txn: &impl ConnectionTrait, rows: Vec<A>) -> Result<(), DbErr>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
    E::Model: sea_orm::IntoActiveModel<A>,
{
    for chunk in chunks(rows) {
        E::insert_many(chunk)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

async fn flush(db: &Database, batch: &[Arc<Sample>]) -> Result<(), DbErr> {
    Rows::build(batch).write(db).await
}
