//! External monitors (UptimeRobot) for `/status/external`.
//!
//! Each monitor's 15 days are 30 half-days in UTC (00:00–11:59 and
//! 12:00–23:59), oldest first, the last one the half we are in. A half's
//! value is `(43200 − seconds of outage in it) / 43200 × 100`, rounded to
//! two decimals, where outages come from the monitor's log events:
//!
//! - `1` (down) opens an outage, `2` (up) closes it.
//! - `98` (monitoring started) and `99` (paused) close it too: a paused
//!   monitor says nothing about the service, which is not counted down.
//! - An outage still open at `now` runs until `now`. The current half is
//!   still divided by the full 43200 s, as the spec says: its value is
//!   the share of the whole half not (yet) lost.
//! - An outage that began before the window is clipped to the window.
//! - An `up` with no `down` before it in the logs closes an outage whose
//!   start is older than the logs we were given: it counts as down from
//!   the window's start. That is exact when the logs cover the 15 days,
//!   which they do unless a monitor logged more than `logs_limit` events.
//!
//! Status: UptimeRobot's 2 is `online`, 8 (seems down) `degraded`, 9
//! (down) `offline`, 0 `paused`; 1 (not checked yet) and anything else
//! `unknown`.
//!
//! The report is cached for a minute. When UptimeRobot fails, the last
//! good report (kept a day) is served with an `error`; without one, an
//! empty list with an `error`, cached only briefly so recovery shows soon.

use crate::infra::{cache::Cache, clock::Clock};
use async_trait::async_trait;
use chrono::{DateTime, Duration as Span, DurationRound, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};

pub const HALF_DAY_SECS: i64 = 43_200;
pub const HALVES: usize = 30;

/// A report is fresh this long.
pub const TTL: Duration = Duration::from_secs(60);
/// How long a failed fetch is answered without asking again.
pub const FAILURE_TTL: Duration = Duration::from_secs(10);
/// How long the last good report stands in for a failing upstream.
pub const LAST_GOOD_TTL: Duration = Duration::from_secs(24 * 3600);

/// Shared-cache keys of the external monitors; nothing else writes them.
pub mod keys {
    /// The current report, JSON.
    pub const REPORT: &str = "status:external";
    /// The last report UptimeRobot answered, JSON.
    pub const LAST_GOOD: &str = "status:external:last-good";
}

/// One of a monitor's log events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogEvent {
    /// 1 down, 2 up, 98 started, 99 paused.
    pub kind: i64,
    pub at: DateTime<Utc>,
}

pub const DOWN: i64 = 1;
pub const UP: i64 = 2;
pub const STARTED: i64 = 98;
pub const PAUSED: i64 = 99;

/// A monitor as the source gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceMonitor {
    pub id: String,
    pub name: String,
    pub url: String,
    /// UptimeRobot's status code.
    pub status: i64,
    /// Over the last 15 days, percent.
    pub uptime_ratio: Option<f64>,
    /// Milliseconds.
    pub response_time: Option<f64>,
    /// In any order.
    pub logs: Vec<LogEvent>,
}

/// Where monitors come from (UptimeRobot's getMonitors).
#[async_trait]
pub trait MonitorSource: Send + Sync {
    /// The error is for logs and the `error` field; it never carries the
    /// API key.
    async fn monitors(&self) -> Result<Vec<SourceMonitor>, String>;
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    pub id: String,
    pub name: String,
    pub status: String,
    pub uptime_ratio: Option<f64>,
    pub response_time: Option<i64>,
    pub url: String,
    pub uptime_15d: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalReport {
    pub monitors: Vec<Monitor>,
    pub timestamp: DateTime<Utc>,
    /// Set when UptimeRobot could not be read: `monitors` is then the
    /// last good answer, or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn status_name(code: i64) -> &'static str {
    match code {
        2 => "online",
        8 => "degraded",
        9 => "offline",
        0 => "paused",
        _ => "unknown",
    }
}

/// The start of the half-day `at` falls in (UTC).
pub fn half_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Span::hours(12))
        .unwrap_or_else(|_| Utc.timestamp_opt(0, 0).single().unwrap_or(at))
}

/// Outages as `[start, end)` from the events, oldest first, clipped to
/// `[from, now]`.
fn outages(
    logs: &[LogEvent],
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut events: Vec<LogEvent> = logs.iter().copied().filter(|e| e.at <= now).collect();
    // The logs come in any order, so the input order cannot settle a tie: a
    // down and an up logged the same second are a blip that is over, never
    // an outage still running (or one since the window opened).
    events.sort_by_key(|e| (e.at, e.kind != DOWN));
    let mut spans = Vec::new();
    let mut open: Option<DateTime<Utc>> = None;
    let mut seen_any = false;
    for e in events {
        match e.kind {
            DOWN => {
                open.get_or_insert(e.at);
            }
            UP | STARTED | PAUSED => {
                let start = match open.take() {
                    Some(s) => Some(s),
                    // An up first of all: the down is older than the logs.
                    None if e.kind == UP && !seen_any => Some(from),
                    None => None,
                };
                if let Some(s) = start {
                    spans.push((s, e.at));
                }
            }
            _ => continue,
        }
        seen_any = true;
    }
    if let Some(s) = open {
        spans.push((s, now));
    }
    spans
        .into_iter()
        .map(|(s, e)| (s.max(from), e.min(now)))
        .filter(|(s, e)| s < e)
        .collect()
}

/// The 30 half-day values ending with the half `now` is in.
pub fn uptime_15d(logs: &[LogEvent], now: DateTime<Utc>) -> Vec<f64> {
    let half = Span::seconds(HALF_DAY_SECS);
    let first = half_start(now) - half * (HALVES as i32 - 1);
    let spans = outages(logs, first, now);
    (0..HALVES)
        .map(|i| {
            let start = first + half * i as i32;
            let end = start + half;
            let down: i64 = spans
                .iter()
                .map(|&(s, e)| (e.min(end) - s.max(start)).num_seconds().max(0))
                .sum();
            let pct = (HALF_DAY_SECS - down.min(HALF_DAY_SECS)) as f64 / HALF_DAY_SECS as f64 * 100.0;
            (pct * 100.0).round() / 100.0
        })
        .collect()
}

/// What a monitor's URL may show on a public page: scheme, host, port and
/// path. Credentials, a query or a fragment can hold secrets (a heartbeat
/// monitor's push token, basic auth), and an unparsable URL shows nothing.
pub fn public_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        _ => String::new(),
    }
}

/// The report for `monitors` at `now`.
pub fn report(monitors: Vec<SourceMonitor>, now: DateTime<Utc>) -> ExternalReport {
    ExternalReport {
        monitors: monitors
            .into_iter()
            .map(|m| Monitor {
                uptime_15d: uptime_15d(&m.logs, now),
                status: status_name(m.status).to_owned(),
                uptime_ratio: m.uptime_ratio,
                response_time: m.response_time.map(|ms| ms.round() as i64),
                id: m.id,
                name: m.name,
                url: public_url(&m.url),
            })
            .collect(),
        timestamp: now,
        error: None,
    }
}

#[derive(Clone)]
pub struct ExternalMonitors {
    source: Option<Arc<dyn MonitorSource>>,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    /// One fetch at a time per instance: a burst of requests on an
    /// expired report asks UptimeRobot once.
    refresh: Arc<tokio::sync::Mutex<()>>,
}

impl ExternalMonitors {
    pub fn new(source: Option<Arc<dyn MonitorSource>>, cache: Arc<dyn Cache>, clock: Arc<dyn Clock>) -> Self {
        Self {
            source,
            cache,
            clock,
            refresh: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    async fn cached(&self, key: &str) -> Option<ExternalReport> {
        let raw = self.cache.get(key).await.ok().flatten()?;
        serde_json::from_str(&raw).ok()
    }

    async fn keep(&self, key: &str, report: &ExternalReport, ttl: Duration) {
        let Ok(raw) = serde_json::to_string(report) else {
            return;
        };
        if let Err(e) = self.cache.set(key, &raw, ttl).await {
            tracing::warn!(error = %e, "external monitors not cached");
        }
    }

    /// The monitors; never fails (an outage is told in `error`).
    pub async fn report(&self) -> ExternalReport {
        let Some(source) = &self.source else {
            return ExternalReport {
                monitors: Vec::new(),
                timestamp: self.clock.now(),
                error: None,
            };
        };
        if let Some(r) = self.cached(keys::REPORT).await {
            return r;
        }
        let _turn = self.refresh.lock().await;
        if let Some(r) = self.cached(keys::REPORT).await {
            return r;
        }
        match source.monitors().await {
            Ok(monitors) => {
                let r = report(monitors, self.clock.now());
                self.keep(keys::REPORT, &r, TTL).await;
                self.keep(keys::LAST_GOOD, &r, LAST_GOOD_TTL).await;
                r
            }
            Err(why) => {
                tracing::warn!(error = %why, "UptimeRobot unavailable");
                let error = Some("external monitors are unavailable for the moment".to_owned());
                let r = match self.cached(keys::LAST_GOOD).await {
                    Some(last) => ExternalReport { error, ..last },
                    None => ExternalReport {
                        monitors: Vec::new(),
                        timestamp: self.clock.now(),
                        error,
                    },
                };
                self.keep(keys::REPORT, &r, FAILURE_TTL).await;
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn public_urls_keep_no_secret() {
        assert_eq!(
            super::public_url("https://user:pw@api.example.test:8443/health?token=abc#x"),
            "https://api.example.test:8443/health"
        );
        assert_eq!(super::public_url("https://example.test"), "https://example.test/");
        assert_eq!(super::public_url("not a url"), "");
        assert_eq!(super::public_url("mailto:ops@example.test"), "");
    }

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ev(kind: i64, at: &str) -> LogEvent {
        LogEvent { kind, at: t(at) }
    }

    /// The values that are not 100, as (index, value).
    fn dips(values: &[f64]) -> Vec<(usize, f64)> {
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 100.0)
            .map(|(i, v)| (i, *v))
            .collect()
    }

    // 2026-06-15T15:00Z: the current half is the PM of the 15th (index
    // 29); the window opens 2026-06-01T00:00Z (index 0).
    const NOW: &str = "2026-06-15T15:00:00Z";

    #[test]
    fn the_window_is_thirty_halves_ending_with_the_current_one() {
        assert_eq!(half_start(t(NOW)), t("2026-06-15T12:00:00Z"));
        assert_eq!(half_start(t("2026-06-15T11:59:59Z")), t("2026-06-15T00:00:00Z"));
        let v = uptime_15d(&[], t(NOW));
        assert_eq!(v.len(), 30);
        assert!(v.iter().all(|x| *x == 100.0));
    }

    #[test]
    fn an_outage_across_noon_is_split_between_the_halves() {
        // Down 11:00 → 13:00 on the 10th: 3600 s in the AM (index 18) and
        // 3600 s in the PM (index 19).
        let logs = [ev(UP, "2026-06-10T13:00:00Z"), ev(DOWN, "2026-06-10T11:00:00Z")];
        let v = uptime_15d(&logs, t(NOW));
        assert_eq!(dips(&v), [(18, 91.67), (19, 91.67)]);
    }

    #[test]
    fn an_outage_across_midnight_spans_two_days() {
        // 23:30 on the 3rd → 00:45 on the 4th: 1800 s (index 5), 2700 s (6).
        let logs = [ev(DOWN, "2026-06-03T23:30:00Z"), ev(UP, "2026-06-04T00:45:00Z")];
        let v = uptime_15d(&logs, t(NOW));
        assert_eq!(dips(&v), [(5, 95.83), (6, 93.75)]);
    }

    #[test]
    fn a_running_outage_lasts_until_now_over_the_whole_half() {
        // Down since 14:00 today, now 15:00: 3600 s of 43200 in index 29.
        let v = uptime_15d(&[ev(DOWN, "2026-06-15T14:00:00Z")], t(NOW));
        assert_eq!(dips(&v), [(29, 91.67)]);
        // Down since 06:00 today: the whole AM and 3 h of the PM.
        let v = uptime_15d(&[ev(DOWN, "2026-06-15T06:00:00Z")], t(NOW));
        assert_eq!(dips(&v), [(28, 50.0), (29, 75.0)]);
    }

    #[test]
    fn outages_before_the_window_are_clipped() {
        // Down from May 20 to June 1 06:00: only 6 h of index 0 count.
        let logs = [ev(DOWN, "2026-05-20T00:00:00Z"), ev(UP, "2026-06-01T06:00:00Z")];
        let v = uptime_15d(&logs, t(NOW));
        assert_eq!(dips(&v), [(0, 50.0)]);
        // Entirely before the window: nothing.
        let logs = [ev(DOWN, "2026-05-20T00:00:00Z"), ev(UP, "2026-05-21T00:00:00Z")];
        assert!(dips(&uptime_15d(&logs, t(NOW))).is_empty());
    }

    #[test]
    fn an_up_without_its_down_counts_from_the_window_start() {
        let logs = [
            ev(UP, "2026-06-01T03:00:00Z"),
            ev(DOWN, "2026-06-02T00:00:00Z"),
            ev(UP, "2026-06-02T01:00:00Z"),
        ];
        let v = uptime_15d(&logs, t(NOW));
        assert_eq!(dips(&v), [(0, 75.0), (2, 91.67)]);
    }

    #[test]
    fn a_pause_ends_an_outage_and_a_start_does_not_open_one() {
        // Down at 01:00, paused at 02:00, started again at 05:00, up at
        // 06:00: only the hour before the pause counts.
        let logs = [
            ev(DOWN, "2026-06-05T01:00:00Z"),
            ev(PAUSED, "2026-06-05T02:00:00Z"),
            ev(STARTED, "2026-06-05T05:00:00Z"),
            ev(UP, "2026-06-05T06:00:00Z"),
        ];
        let v = uptime_15d(&logs, t(NOW));
        assert_eq!(dips(&v), [(8, 91.67)]);
    }

    #[test]
    fn repeated_downs_keep_the_first_start_and_order_does_not_matter() {
        let mut logs = vec![
            ev(DOWN, "2026-06-07T12:00:00Z"),
            ev(DOWN, "2026-06-07T13:00:00Z"),
            ev(UP, "2026-06-07T18:00:00Z"),
            ev(UP, "2026-06-07T19:00:00Z"),
        ];
        let v = uptime_15d(&logs, t(NOW));
        assert_eq!(dips(&v), [(13, 50.0)]);
        logs.reverse();
        assert_eq!(uptime_15d(&logs, t(NOW)), v);
    }

    #[test]
    fn a_down_and_an_up_in_the_same_second_read_the_same_in_either_order() {
        let mut logs = vec![ev(DOWN, "2026-06-07T12:00:00Z"), ev(UP, "2026-06-07T12:00:00Z")];
        let v = uptime_15d(&logs, t(NOW));
        assert!(dips(&v).is_empty(), "{v:?}");
        logs.reverse();
        assert_eq!(uptime_15d(&logs, t(NOW)), v);
        // After a real outage too: the blip neither extends nor reopens it.
        let mut logs = vec![
            ev(DOWN, "2026-06-07T06:00:00Z"),
            ev(UP, "2026-06-07T09:00:00Z"),
            ev(DOWN, "2026-06-07T10:00:00Z"),
            ev(UP, "2026-06-07T10:00:00Z"),
        ];
        let v = uptime_15d(&logs, t(NOW));
        assert_eq!(dips(&v), [(12, 75.0)]);
        logs.swap(2, 3);
        assert_eq!(uptime_15d(&logs, t(NOW)), v);
        logs.reverse();
        assert_eq!(uptime_15d(&logs, t(NOW)), v);
    }

    #[test]
    fn a_whole_half_down_is_zero_and_future_events_are_ignored() {
        let logs = [
            ev(DOWN, "2026-06-08T00:00:00Z"),
            ev(UP, "2026-06-08T12:00:00Z"),
            ev(DOWN, "2026-06-16T00:00:00Z"),
        ];
        let v = uptime_15d(&logs, t(NOW));
        assert_eq!(dips(&v), [(14, 0.0)]);
    }

    #[test]
    fn statuses_map_to_the_spec_and_the_rest_is_named() {
        assert_eq!(status_name(2), "online");
        assert_eq!(status_name(8), "degraded");
        assert_eq!(status_name(9), "offline");
        assert_eq!(status_name(0), "paused");
        assert_eq!(status_name(1), "unknown");
        assert_eq!(status_name(42), "unknown");
    }

    #[test]
    fn a_report_rounds_the_response_time() {
        let r = report(
            vec![SourceMonitor {
                id: "7".into(),
                name: "API".into(),
                url: "https://x.test".into(),
                status: 2,
                uptime_ratio: Some(99.95),
                response_time: Some(150.6),
                logs: vec![],
            }],
            t(NOW),
        );
        assert_eq!(r.monitors[0].response_time, Some(151));
        assert_eq!(r.monitors[0].status, "online");
        assert_eq!(r.monitors[0].uptime_15d.len(), 30);
    }
}
