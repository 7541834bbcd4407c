//! The `/status` report: each service's state and 15-day uptime, the
//! fleet's figures across tenants, cached as one JSON document for
//! [`REPORT_TTL`] (shared by every instance when the cache is Redis).
//!
//! Each refresh is also a check: it drives the incident transitions, so an
//! outage opens an incident within a refresh of the page. With the database
//! away the report still answers, from the last figures this instance read.
//!
//! `overall_status`: `offline` when the database is offline (nothing a
//! customer does works without it), `degraded` when any other service is
//! degraded or offline or the database is slow, `online` otherwise.

use super::{
    incidents::Incidents,
    keys,
    uptime::{self, AiEngine, Check, Checks, Service, State, Uptime},
    StatusService,
};
use crate::{
    domain::fleet::{Fleet, Reach},
    infra::{anthropic::Reachability, cache::Cache, clock::Clock},
};
use chrono::{DateTime, DurationRound, Utc};
use serde::Serialize;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// A check and when it was taken.
pub type TimedCheck = (DateTime<Utc>, Check);

pub const REPORT_TTL: Duration = Duration::from_secs(60);
/// Checks a failing database kept in memory, for `service_uptime` once it
/// is back (about three weeks of 30-minute ticks for three services).
const MAX_UNRECORDED: usize = 3_000;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceReport {
    pub status: &'static str,
    pub response_time_ms: i32,
    pub uptime_15d: Vec<f64>,
    /// For the AI service: `claude` or `builtin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Services {
    pub api: ServiceReport,
    pub database: ServiceReport,
    pub ai: ServiceReport,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct FleetFigures {
    pub total_machines: i64,
    pub online_machines: i64,
    pub offline_machines: i64,
    pub average_health_score: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub overall_status: &'static str,
    pub services: Services,
    pub metrics: FleetFigures,
    pub timestamp: DateTime<Utc>,
}

/// See the module comment.
pub fn overall(checks: &Checks) -> State {
    if checks.database.state == State::Offline {
        State::Offline
    } else if checks.all().iter().any(|c| c.state != State::Online) {
        State::Degraded
    } else {
        State::Online
    }
}

/// What this instance last read, for when the database cannot answer.
#[derive(Default)]
struct LastGood {
    series: Option<HashMap<Service, Vec<f64>>>,
    fleet: Option<FleetFigures>,
}

#[derive(Clone)]
pub struct StatusBoard {
    status: StatusService,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    fleet: Fleet,
    /// Claude's host, when a key is configured.
    ai: Option<Reachability>,
    pub uptime: Uptime,
    pub incidents: Incidents,
    last: Arc<Mutex<LastGood>>,
    /// One refresh at a time per instance: a burst of readers at expiry
    /// waits for it instead of checking everything once each.
    refreshing: Arc<tokio::sync::Mutex<()>>,
    /// The last report this instance built, and when.
    built: Arc<Mutex<Option<(Instant, String)>>>,
    unrecorded: Arc<Mutex<Vec<TimedCheck>>>,
}

impl StatusBoard {
    pub fn new(
        status: StatusService,
        cache: Arc<dyn Cache>,
        clock: Arc<dyn Clock>,
        fleet: Fleet,
        claude_base_url: Option<&str>,
        uptime: Uptime,
        incidents: Incidents,
    ) -> Self {
        Self {
            status,
            cache,
            clock,
            fleet,
            ai: claude_base_url.map(|url| Reachability::new(url, uptime::AI_TIMEOUT)),
            uptime,
            incidents,
            last: Arc::default(),
            refreshing: Arc::default(),
            built: Arc::default(),
            unrecorded: Arc::default(),
        }
    }

    /// Every service, checked concurrently.
    pub async fn check(&self) -> Checks {
        // Microseconds: what the database keeps, so a time shown from memory
        // during an outage is the one stored afterwards.
        let now = self.clock.now();
        let at = now
            .duration_trunc(chrono::Duration::microseconds(1))
            .unwrap_or(now);
        let ai = async {
            match &self.ai {
                None => None,
                Some(probe) => Some(probe.probe().await.map_err(|e| {
                    tracing::warn!(error = %e, "the AI service did not answer its check");
                })),
            }
        };
        let (database, ai) = tokio::join!(self.status.database_health(), ai);
        let (ai, ai_engine) = uptime::ai_check(ai);
        Checks {
            at,
            api: uptime::api_check(),
            database: uptime::database_check(&database),
            ai,
            ai_engine,
        }
    }

    /// The report as JSON: cached, or built now.
    pub async fn report_json(&self) -> String {
        if let Some(json) = self.cached().await {
            return json;
        }
        let _refresh = self.refreshing.lock().await;
        if let Some(json) = self.cached().await {
            return json;
        }
        let report = self.build().await;
        let json = serde_json::to_string(&report).expect("the report serializes");
        if let Err(e) = self.cache.set(keys::REPORT, &json, REPORT_TTL).await {
            tracing::warn!(error = %e, "status report not cached");
        }
        *self.built.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), json.clone()));
        json
    }

    /// The shared entry; when the cache itself cannot answer (Redis away),
    /// the last report this instance built within the TTL, so a burst of
    /// readers is not served one rebuild each.
    async fn cached(&self) -> Option<String> {
        match self.cache.get(keys::REPORT).await {
            Ok(hit) => hit,
            Err(e) => {
                tracing::warn!(error = %e, "status cache unavailable");
                let built = self.built.lock().unwrap_or_else(|e| e.into_inner());
                built
                    .as_ref()
                    .filter(|(at, _)| at.elapsed() < REPORT_TTL)
                    .map(|(_, json)| json.clone())
            }
        }
    }

    /// Checks now, applies the transitions, and reads the figures (or
    /// takes the last ones when the database is away).
    pub async fn build(&self) -> Report {
        let checks = self.check().await;
        self.incidents.observe(&checks).await;
        let (series, fleet) = if checks.database_reachable() {
            tokio::join!(self.series(checks.at), self.fleet())
        } else {
            let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            (last.series.clone(), last.fleet)
        };
        let series = series.unwrap_or_default();
        let service = |c: Check, engine: Option<AiEngine>| ServiceReport {
            status: c.state.as_str(),
            response_time_ms: c.response_time_ms,
            uptime_15d: series
                .get(&c.service)
                .cloned()
                .unwrap_or_else(uptime::full_series),
            engine: engine.map(AiEngine::as_str),
        };
        Report {
            overall_status: overall(&checks).as_str(),
            services: Services {
                api: service(checks.api, None),
                database: service(checks.database, None),
                ai: service(checks.ai, Some(checks.ai_engine)),
            },
            metrics: fleet.unwrap_or_default(),
            timestamp: checks.at,
        }
    }

    async fn series(&self, now: DateTime<Utc>) -> Option<HashMap<Service, Vec<f64>>> {
        match self.uptime.series(now).await {
            Ok(series) => {
                self.last.lock().unwrap_or_else(|e| e.into_inner()).series = Some(series.clone());
                Some(series)
            }
            Err(e) => {
                e.log("uptime series");
                self.last.lock().unwrap_or_else(|e| e.into_inner()).series.clone()
            }
        }
    }

    async fn fleet(&self) -> Option<FleetFigures> {
        match self.fleet.overview(Reach::AllTenants).await {
            Ok(o) => {
                let figures = FleetFigures {
                    total_machines: o.total,
                    online_machines: o.online,
                    offline_machines: o.offline,
                    average_health_score: (o.average_health * 10.0).round() / 10.0,
                };
                self.last.lock().unwrap_or_else(|e| e.into_inner()).fleet = Some(figures);
                Some(figures)
            }
            Err(e) => {
                e.log("status fleet figures");
                self.last.lock().unwrap_or_else(|e| e.into_inner()).fleet
            }
        }
    }

    /// Keeps checks that could not be written, the oldest dropped first
    /// past [`MAX_UNRECORDED`].
    pub fn keep_unrecorded(&self, checks: impl IntoIterator<Item = TimedCheck>) {
        let mut kept = self.unrecorded.lock().unwrap_or_else(|e| e.into_inner());
        kept.extend(checks);
        let excess = kept.len().saturating_sub(MAX_UNRECORDED);
        kept.drain(..excess);
    }

    /// The checks kept by [`Self::keep_unrecorded`], handed over to be written.
    pub fn take_unrecorded(&self) -> Vec<TimedCheck> {
        std::mem::take(&mut *self.unrecorded.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(service: Service, state: State) -> Check {
        Check {
            service,
            state,
            response_time_ms: 0,
        }
    }

    fn checks(database: State, ai: State) -> Checks {
        Checks {
            at: Utc::now(),
            api: check(Service::Api, State::Online),
            database: check(Service::Database, database),
            ai: check(Service::Ai, ai),
            ai_engine: AiEngine::Claude,
        }
    }

    #[test]
    fn the_overall_status_follows_the_database_first() {
        assert_eq!(overall(&checks(State::Online, State::Online)), State::Online);
        assert_eq!(overall(&checks(State::Online, State::Offline)), State::Degraded);
        assert_eq!(overall(&checks(State::Degraded, State::Online)), State::Degraded);
        assert_eq!(overall(&checks(State::Offline, State::Online)), State::Offline);
    }
}
