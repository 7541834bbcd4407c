//! UptimeRobot getMonitors client (API v2).
//!
//! The API key travels in the form body, never in a URL, so no error or
//! log line built from a request can show it.

use super::webhook::root_cause;
use crate::{
    config::UptimeRobotSettings,
    domain::status::external::{LogEvent, MonitorSource, SourceMonitor},
};
use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A status page waits on this call (once a minute at most).
const TIMEOUT: Duration = Duration::from_secs(8);

pub struct UptimeRobot {
    http: reqwest::Client,
    settings: UptimeRobotSettings,
}

impl UptimeRobot {
    pub fn new(settings: UptimeRobotSettings) -> Self {
        let http = super::api_client(CONNECT_TIMEOUT, TIMEOUT);
        Self { http, settings }
    }
}

/// The API writes some numbers as strings ("99.950") and some as numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Number(f64),
    Text(String),
}

impl Num {
    /// The first value of a dash-separated list ("99.9-100.000"), the
    /// form custom ratios take when several periods are asked.
    fn value(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Text(s) => s.split('-').next()?.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    stat: String,
    #[serde(default)]
    monitors: Vec<ApiMonitor>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct ApiMonitor {
    id: Num,
    friendly_name: String,
    #[serde(default)]
    url: String,
    /// 5 is a heartbeat monitor, whose URL is its secret push address.
    #[serde(rename = "type", default)]
    kind: i64,
    status: i64,
    custom_uptime_ratio: Option<Num>,
    average_response_time: Option<Num>,
    #[serde(default)]
    response_times: Vec<ApiResponseTime>,
    #[serde(default)]
    logs: Vec<ApiLog>,
}

#[derive(Deserialize)]
struct ApiResponseTime {
    value: Num,
}

#[derive(Deserialize)]
struct ApiLog {
    #[serde(rename = "type")]
    kind: i64,
    /// Unix seconds.
    datetime: i64,
}

fn id_text(id: &Num) -> String {
    match id {
        Num::Number(n) => format!("{}", *n as i64),
        Num::Text(s) => s.clone(),
    }
}

const HEARTBEAT: i64 = 5;

impl From<ApiMonitor> for SourceMonitor {
    fn from(m: ApiMonitor) -> Self {
        Self {
            id: id_text(&m.id),
            name: m.friendly_name,
            url: if m.kind == HEARTBEAT { String::new() } else { m.url },
            status: m.status,
            uptime_ratio: m.custom_uptime_ratio.as_ref().and_then(Num::value),
            // The latest check when asked for, the average otherwise.
            response_time: m
                .response_times
                .first()
                .and_then(|r| r.value.value())
                .or_else(|| m.average_response_time.as_ref().and_then(Num::value)),
            logs: m
                .logs
                .iter()
                .filter_map(|l| {
                    Some(LogEvent {
                        kind: l.kind,
                        at: Utc.timestamp_opt(l.datetime, 0).single()?,
                    })
                })
                .collect(),
        }
    }
}

#[async_trait]
impl MonitorSource for UptimeRobot {
    async fn monitors(&self) -> Result<Vec<SourceMonitor>, String> {
        let url = format!("{}/getMonitors", self.settings.base_url);
        let response = self
            .http
            .post(&url)
            .header(reqwest::header::CACHE_CONTROL, "no-cache")
            .form(&[
                ("api_key", self.settings.api_key.as_str()),
                ("format", "json"),
                ("logs", "1"),
                ("logs_limit", "1000"),
                ("custom_uptime_ratios", "15"),
                ("response_times", "1"),
                ("response_times_limit", "1"),
            ])
            .send()
            .await
            .map_err(|e| {
                let what = if e.is_timeout() { "timed out" } else { "failed" };
                format!("UptimeRobot getMonitors {what}: {}", root_cause(&e))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "UptimeRobot getMonitors answered HTTP {}",
                status.as_u16()
            ));
        }
        let answer: Answer = response.json().await.map_err(|e| {
            format!(
                "UptimeRobot getMonitors answered no monitor list: {}",
                root_cause(&e)
            )
        })?;
        if answer.stat != "ok" {
            let (kind, message) = answer.error.map(|e| (e.kind, e.message)).unwrap_or_default();
            return Err(format!("UptimeRobot refused getMonitors: {kind} {message}"));
        }
        Ok(answer.monitors.into_iter().map(SourceMonitor::from).collect())
    }
}
