//! The statistical engine: loads one machine's history (`history`) and
//! computes the sections an analysis type asks for, each a pure function
//! of the history (one module per section), then the issues,
//! recommendations and scripts drawn from them.

mod advice;
mod anomalies;
mod drift;
mod health;
mod logs;
mod scripts;
mod spikes;
mod text;
mod trends;

/// Every issue code the engine emits, and every script template id.
pub use advice::CODES as ISSUE_CODES;
pub use drift::{drift as drift_of, CRITICAL_Z, METRICS as DRIFT_METRICS, WARNING_Z};
pub use scripts::TEMPLATES as SCRIPT_TEMPLATES;

use super::{
    findings::{Findings, ScriptShell},
    history::{self, History, Needs, Point},
    AnalysisKind, Section,
};
use crate::{
    domain::{collectors::Collector, ingest::payloads::Payload, DomainError},
    infra::{clock::Clock, db::Database},
};
use chrono::Duration;
use entities::enums::Language;
use std::sync::Arc;
use uuid::Uuid;

/// The metrics of the metrics collector the engine reads.
const METRICS: [&str; 4] = ["cpu_percent", "ram_percent", "disk_latency_ms", "io_wait_percent"];
/// Samples before the scored day that make a baseline.
const MIN_BASELINE: usize = 30;

#[derive(Clone)]
pub struct Engine {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl Engine {
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// The findings of `kind` for one machine of `client_id`
    /// (`NotFound("machine")` when it is not the tenant's).
    pub async fn findings(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        kind: AnalysisKind,
        lang: Language,
    ) -> Result<Findings, DomainError> {
        let sections = kind.sections();
        let h = self.history(client_id, machine_id, sections).await?;
        Ok(compute(&h, sections, lang))
    }

    /// What `sections` read of one machine of `client_id`.
    pub async fn history(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        sections: &[Section],
    ) -> Result<History, DomainError> {
        history::load(
            &self.db,
            client_id,
            machine_id,
            self.clock.now(),
            Needs::of(sections),
        )
        .await
    }
}

/// Anomalies of one metric over the last day: raw samples, scored against
/// a weekly profile of the hourly averages when they span the two weeks it
/// needs (CPU and RAM), against the raw samples' own profile otherwise.
fn anomalies_of(
    h: &History,
    metric: &str,
    from: chrono::DateTime<chrono::Utc>,
) -> Vec<super::findings::Anomaly> {
    let hourly = h.hourly_series(metric);
    let long = match (hourly.first(), hourly.last()) {
        (Some(a), Some(b)) => b.at - a.at >= Duration::days(14),
        _ => false,
    };
    let raw: Vec<Point> = h.raw_series(metric);
    // A machine seen for less than a day and a bit: the second half of
    // its samples is scored against the first.
    let from = if raw.iter().take_while(|p| p.at < from).count() < MIN_BASELINE {
        raw.get(raw.len() / 2).map_or(from, |p| p.at)
    } else {
        from
    };
    anomalies::detect_with(metric, &raw, long.then_some(&hourly[..]), from)
}

fn failed_services(h: &History) -> Vec<String> {
    match h
        .snapshot(Collector::Services)
        .and_then(|s| Payload::from_snapshot(Collector::Services, &s.data).ok())
    {
        Some(Payload::Services(s)) => s
            .services
            .iter()
            .filter(|x| x.is_failed())
            .map(|x| x.name.clone())
            .collect(),
        _ => Vec::new(),
    }
}

fn reboot_required(h: &History) -> bool {
    matches!(
        h.snapshot(Collector::Patches)
            .and_then(|s| Payload::from_snapshot(Collector::Patches, &s.data).ok()),
        Some(Payload::Patches(p)) if p.reboot_required
    )
}

/// Every requested section of `h`, then the issues across them.
pub fn compute(h: &History, sections: &[Section], lang: Language) -> Findings {
    let wants = |s: Section| sections.contains(&s);
    let now = h.now;
    let day_ago = now - Duration::hours(24);
    let disk_metric = |mount: &str| format!("disk_percent:{mount}");
    let mut f = Findings {
        machine_id: h.machine.id,
        hostname: h.machine.hostname.clone(),
        computed_at: now,
        samples: (h.raw.len()
            + h.hourly.len()
            + h.disks.values().map(Vec::len).sum::<usize>()
            + h.events.len()) as u64
            + h.event_groups.iter().map(|g| g.count).sum::<u64>(),
        ..Findings::default()
    };
    let mut ctx = advice::Context {
        volumes: h.volumes.clone(),
        failed_services: failed_services(h),
        reboot_required: reboot_required(h),
        active_alerts: h.alerts.len(),
        critical_alerts: h.alerts.iter().filter(|a| a.severity == "critical").count(),
        inputs: None,
    };
    if wants(Section::Health) {
        let (finding, inputs) = health::health(h);
        f.health = Some(finding);
        ctx.inputs = Some(inputs);
    }
    if wants(Section::Anomalies) {
        let mut all: Vec<_> = METRICS.iter().flat_map(|m| anomalies_of(h, m, day_ago)).collect();
        all.sort_by(|a, b| b.score.abs().total_cmp(&a.score.abs()));
        f.anomalies = Some(all);
    }
    if wants(Section::Trends) {
        let mut out = Vec::new();
        for m in METRICS {
            out.extend(trends::trend(m, &h.raw_series(m), now, 7));
            out.extend(trends::trend(m, &h.hourly_series(m), now, 30));
        }
        for (mount, series) in &h.disks {
            out.extend(trends::trend(&disk_metric(mount), series, now, 7));
            out.extend(trends::trend(&disk_metric(mount), series, now, 30));
        }
        f.trends = Some(out);
    }
    if wants(Section::Degradation) {
        let mut out: Vec<_> = ["cpu_percent", "ram_percent"]
            .iter()
            .filter_map(|m| trends::degradation(m, &h.hourly_series(m), now))
            .collect();
        out.extend(
            h.disks
                .iter()
                .filter_map(|(mount, s)| trends::degradation(&disk_metric(mount), s, now)),
        );
        out.sort_by_key(|d| std::cmp::Reverse(d.severity));
        f.degradations = Some(out);
    }
    if wants(Section::Intermittency) {
        f.intermittency = Some(
            [
                ("disk_latency_ms", spikes::LATENCY_SPIKE_MS),
                ("io_wait_percent", spikes::IO_WAIT_SPIKE_PERCENT),
            ]
            .iter()
            .filter_map(|(m, t)| spikes::intermittency(m, &h.raw_series(m), *t))
            .collect(),
        );
    }
    if wants(Section::Correlations) {
        let span = h.raw.first().map_or(Duration::zero(), |s| now - s.at);
        let mut out: Vec<_> = METRICS
            .iter()
            .flat_map(|m| {
                let found = spikes::spikes(&h.raw_series(m), spikes::spike_threshold(m));
                spikes::correlate(m, &found, &h.events, span, lang)
            })
            .collect();
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out.truncate(10);
        f.correlations = Some(out);
    }
    if wants(Section::Capacity) {
        f.capacity = Some(trends::capacity(
            &h.volumes,
            &h.disks,
            &h.hourly_series("ram_percent"),
            now,
            lang,
        ));
    }
    if wants(Section::Drift) {
        f.drift = Some(
            drift::METRICS
                .iter()
                .filter_map(|m| drift::drift(m, &h.raw_series(m), now))
                .collect(),
        );
    }
    if wants(Section::Logs) {
        f.logs = Some(logs::patterns(&h.event_groups));
    }
    // Recommendations and scripts read the issues, so the sections they
    // stand on must be in place first.
    if wants(Section::Recommendations) {
        f.recommendations = Some(Vec::new());
    }
    if wants(Section::Scripts) {
        f.scripts = Some(Vec::new());
    }
    let found = advice::issues(&f, &ctx, lang);
    let shell = if h.machine.is_windows() {
        ScriptShell::PowerShell
    } else {
        ScriptShell::Bash
    };
    if wants(Section::Recommendations) {
        f.recommendations = Some(advice::recommendations(&found, shell, lang));
    }
    if wants(Section::Scripts) {
        f.scripts = Some(advice::scripts(&found, shell, lang));
    }
    f.issues = found.into_iter().map(|x| x.issue).collect();
    f
}

#[cfg(test)]
pub(crate) mod tests;
