//! Prometheus metrics: the recorder, its registry of names, the exposition.
//!
//! Every series is declared once below ([`SERIES`]: name, kind, unit, help,
//! label names, buckets); the rest of the code base records through the
//! typed functions of this module, never with a name of its own. The
//! recorder is process-global (the `metrics` facade allows one), installed
//! on first use and shared: a process may run several servers (the test
//! suite does), so counters are per process and gauges describe the server
//! that is being scraped, set under one lock right before rendering.
//!
//! Label values are bounded: routes are router templates, codes and job
//! names come from closed sets, and client-chosen GraphQL operation names
//! pass [`BoundedLabels`].

use metrics::{Label, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::{
    collections::HashSet,
    future::Future,
    sync::{LazyLock, Mutex, OnceLock, PoisonError, RwLock},
    time::{Duration, Instant},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One series: everything Prometheus is told about it.
#[derive(Debug)]
pub struct Series {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Unit,
    pub help: &'static str,
    pub labels: &'static [&'static str],
    /// Upper bounds of a histogram's buckets.
    pub buckets: &'static [f64],
}

/// Request latencies: 1 ms to 30 s (the request timeout's order).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// A group-commit flush is one transaction: sub-millisecond on SQLite, a
/// few ms on PostgreSQL, seconds only when the database struggles.
const FLUSH_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Writes per batch: 1 on a quiet server, up to the writers' caps (512
/// heartbeats, 1,024 samples).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 512.0, 1024.0];
/// Jobs range from a millisecond (an empty outbox) to minutes (a purge or
/// a 31-day rollup refresh).
const JOB_BUCKETS: &[f64] = &[0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];

const fn series(
    name: &'static str,
    kind: Kind,
    unit: Unit,
    help: &'static str,
    labels: &'static [&'static str],
) -> Series {
    Series {
        name,
        kind,
        unit,
        help,
        labels,
        buckets: &[],
    }
}

const fn histogram(
    name: &'static str,
    unit: Unit,
    help: &'static str,
    labels: &'static [&'static str],
    buckets: &'static [f64],
) -> Series {
    Series {
        name,
        kind: Kind::Histogram,
        unit,
        help,
        labels,
        buckets,
    }
}

use Kind::{Counter, Gauge};

pub const HTTP_REQUESTS: Series = series(
    "optralis_http_requests_total",
    Counter,
    Unit::Count,
    "Requests answered on the main port, by route template, method and status",
    &["route", "method", "status"],
);
pub const HTTP_DURATION: Series = histogram(
    "optralis_http_request_duration_seconds",
    Unit::Seconds,
    "Time from a request's head to its response head on the main port",
    &["route", "method"],
    LATENCY_BUCKETS,
);
pub const GRAPHQL_OPERATIONS: Series = series(
    "optralis_graphql_operations_total",
    Counter,
    Unit::Count,
    "GraphQL operations run (HTTP and WebSocket), by operation name and type",
    &["operation", "type"],
);
pub const GRAPHQL_DURATION: Series = histogram(
    "optralis_graphql_operation_duration_seconds",
    Unit::Seconds,
    "Time to answer a GraphQL operation over HTTP, by operation name and type",
    &["operation", "type"],
    LATENCY_BUCKETS,
);
pub const GRAPHQL_ERRORS: Series = series(
    "optralis_graphql_errors_total",
    Counter,
    Unit::Count,
    "Errors in GraphQL responses, by operation name and extensions.code",
    &["operation", "code"],
);
pub const AGENT_REQUESTS: Series = series(
    "optralis_agent_requests_total",
    Counter,
    Unit::Count,
    "Requests answered by the agent gateway, by route template and status",
    &["route", "status"],
);
pub const AGENT_DURATION: Series = histogram(
    "optralis_agent_request_duration_seconds",
    Unit::Seconds,
    "Time from an agent request's head to its response head",
    &["route"],
    LATENCY_BUCKETS,
);
pub const GROUP_COMMIT_BATCH: Series = histogram(
    "optralis_group_commit_batch_size",
    Unit::Count,
    "Writes committed together in one group-commit transaction, by writer",
    &["writer"],
    BATCH_BUCKETS,
);
pub const GROUP_COMMIT_FLUSH: Series = histogram(
    "optralis_group_commit_flush_duration_seconds",
    Unit::Seconds,
    "Time to commit one group-commit batch, by writer",
    &["writer"],
    FLUSH_BUCKETS,
);
pub const GROUP_COMMIT_FAILURES: Series = series(
    "optralis_group_commit_flush_failures_total",
    Counter,
    Unit::Count,
    "Group-commit batches whose transaction failed, by writer",
    &["writer"],
);
pub const OUTBOX_PENDING: Series = series(
    "optralis_outbox_pending_messages",
    Gauge,
    Unit::Count,
    "Outbox messages (e-mails, webhooks) waiting for delivery or being delivered",
    &[],
);
pub const OUTBOX_DELIVERIES: Series = series(
    "optralis_outbox_deliveries_total",
    Counter,
    Unit::Count,
    "Outbox delivery attempts, by transport and outcome (sent, retry, failed: given up)",
    &["transport", "outcome"],
);
pub const WEBSOCKETS: Series = series(
    "optralis_websocket_connections",
    Gauge,
    Unit::Count,
    "GraphQL WebSocket connections open on this instance",
    &[],
);
pub const SUBSCRIPTIONS: Series = series(
    "optralis_live_subscriptions",
    Gauge,
    Unit::Count,
    "Live GraphQL subscriptions on this instance",
    &[],
);
pub const DB_POOL_CONNECTIONS: Series = series(
    "optralis_db_pool_connections",
    Gauge,
    Unit::Count,
    "Database pool connections, by state (in_use, idle)",
    &["state"],
);
pub const DB_POOL_MAX: Series = series(
    "optralis_db_pool_max_connections",
    Gauge,
    Unit::Count,
    "Largest size of the database pool",
    &[],
);
pub const DB_POOL_ACQUIRE_FAILURES: Series = series(
    "optralis_db_pool_acquire_failures_total",
    Counter,
    Unit::Count,
    "Waits for a pooled database connection that ended without one, by reason (timeout, closed)",
    &["reason"],
);
pub const CACHE_ERRORS: Series = series(
    "optralis_cache_errors_total",
    Counter,
    Unit::Count,
    "Shared cache (Redis) commands that failed, by operation",
    &["operation"],
);
pub const BUS_ERRORS: Series = series(
    "optralis_bus_errors_total",
    Counter,
    Unit::Count,
    "Event bus failures, by kind (publish: Redis refused, decode: a message from another version)",
    &["kind"],
);
pub const BUS_LAGGED: Series = series(
    "optralis_bus_lagged_events_total",
    Counter,
    Unit::Count,
    "Events a bus consumer fell too far behind to see, by consumer",
    &["consumer"],
);
pub const REDIS_CONNECTION_ERRORS: Series = series(
    "optralis_redis_connection_errors_total",
    Counter,
    Unit::Count,
    "Errors on Redis connections, by client (redis, redis subscriber)",
    &["client"],
);
pub const JOB_RUNS: Series = series(
    "optralis_job_runs_total",
    Counter,
    Unit::Count,
    "Background job ticks run (a tick another instance held counts as run), by job",
    &["job"],
);
pub const JOB_FAILURES: Series = series(
    "optralis_job_failures_total",
    Counter,
    Unit::Count,
    "Background job ticks that ended in an error, by job",
    &["job"],
);
pub const JOB_DURATION: Series = histogram(
    "optralis_job_duration_seconds",
    Unit::Seconds,
    "Time a background job tick took, by job",
    &["job"],
    JOB_BUCKETS,
);
pub const RESIDENT_MEMORY: Series = series(
    "optralis_process_resident_memory_bytes",
    Gauge,
    Unit::Bytes,
    "Resident memory of the process",
    &[],
);
pub const START_TIME: Series = series(
    "optralis_process_start_time_seconds",
    Gauge,
    Unit::Seconds,
    "When the server started, in seconds since the Unix epoch",
    &[],
);
pub const BUILD_INFO: Series = series(
    "optralis_build_info",
    Gauge,
    Unit::Count,
    "Always 1; the version is a label",
    &["version"],
);

/// Every series, for the descriptions and the histograms' buckets.
pub const SERIES: &[&Series] = &[
    &HTTP_REQUESTS,
    &HTTP_DURATION,
    &GRAPHQL_OPERATIONS,
    &GRAPHQL_DURATION,
    &GRAPHQL_ERRORS,
    &AGENT_REQUESTS,
    &AGENT_DURATION,
    &GROUP_COMMIT_BATCH,
    &GROUP_COMMIT_FLUSH,
    &GROUP_COMMIT_FAILURES,
    &OUTBOX_PENDING,
    &OUTBOX_DELIVERIES,
    &WEBSOCKETS,
    &SUBSCRIPTIONS,
    &DB_POOL_CONNECTIONS,
    &DB_POOL_MAX,
    &DB_POOL_ACQUIRE_FAILURES,
    &CACHE_ERRORS,
    &BUS_ERRORS,
    &BUS_LAGGED,
    &REDIS_CONNECTION_ERRORS,
    &JOB_RUNS,
    &JOB_FAILURES,
    &JOB_DURATION,
    &RESIDENT_MEMORY,
    &START_TIME,
    &BUILD_INFO,
];

/// Histograms buffer samples until drained; a scrape drains them, and this
/// bounds the buffer when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first call; `None` if another recorder holds
/// the facade (the series then go nowhere and `/metrics` says so).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for s in SERIES.iter().filter(|s| s.kind == Kind::Histogram) {
                builder = builder
                    .set_buckets_for_metric(Matcher::Full(s.name.to_owned()), s.buckets)
                    .expect("every histogram declares buckets");
            }
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    return None;
                }
            };
            for s in SERIES {
                let (name, unit, help) = (s.name, s.unit, s.help);
                match s.kind {
                    Kind::Counter => metrics::describe_counter!(name, unit, help),
                    Kind::Gauge => metrics::describe_gauge!(name, unit, help),
                    Kind::Histogram => metrics::describe_histogram!(name, unit, help),
                }
            }
            let upkeep = handle.clone();
            // A thread, not a task: the recorder outlives any one runtime
            // (each test has its own).
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "metrics upkeep thread not started; scrapes drain histograms");
            }
            Some(handle)
        })
        .as_ref()
}

fn labels<const N: usize>(series: &'static Series, values: [SharedString; N]) -> Vec<Label> {
    debug_assert_eq!(series.labels.len(), N, "labels of {}", series.name);
    series
        .labels
        .iter()
        .zip(values)
        .map(|(key, value)| Label::new(*key, value))
        .collect()
}

fn count<const N: usize>(series: &'static Series, values: [SharedString; N], n: u64) {
    debug_assert_eq!(series.kind, Kind::Counter);
    metrics::counter!(series.name, labels(series, values)).increment(n);
}

fn observe<const N: usize>(series: &'static Series, values: [SharedString; N], value: f64) {
    debug_assert_eq!(series.kind, Kind::Histogram);
    metrics::histogram!(series.name, labels(series, values)).record(value);
}

fn set<const N: usize>(series: &'static Series, values: [SharedString; N], value: f64) {
    debug_assert_eq!(series.kind, Kind::Gauge);
    metrics::gauge!(series.name, labels(series, values)).set(value);
}

fn s(value: &'static str) -> SharedString {
    SharedString::const_str(value)
}

/// The route label of a request the router matched to no route.
pub const UNMATCHED: &str = "unmatched";

fn route_label(route: Option<&str>) -> SharedString {
    route.map_or_else(|| s(UNMATCHED), |r| SharedString::from(r.to_owned()))
}

fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn status_label(status: http::StatusCode) -> SharedString {
    SharedString::from(status.as_u16().to_string())
}

/// A request answered on the main port; `route` is the matched template.
pub fn http_request(route: Option<&str>, method: &http::Method, status: http::StatusCode, elapsed: Duration) {
    let (route, method) = (route_label(route), s(method_label(method)));
    count(
        &HTTP_REQUESTS,
        [route.clone(), method.clone(), status_label(status)],
        1,
    );
    observe(&HTTP_DURATION, [route, method], elapsed.as_secs_f64());
}

/// A request answered by the agent gateway.
pub fn agent_request(route: Option<&str>, status: http::StatusCode, elapsed: Duration) {
    let route = route_label(route);
    count(&AGENT_REQUESTS, [route.clone(), status_label(status)], 1);
    observe(&AGENT_DURATION, [route], elapsed.as_secs_f64());
}

/// Caps the distinct values a client-chosen label can take: a value is
/// kept if it is short, made of `[A-Za-z0-9_]`, and among the first `max`
/// distinct ones seen; later newcomers share [`Self::OTHER`], malformed
/// ones [`Self::INVALID`].
pub struct BoundedLabels {
    max: usize,
    seen: RwLock<HashSet<String>>,
}

impl BoundedLabels {
    pub const MAX_LEN: usize = 64;
    pub const OTHER: &'static str = "other";
    pub const INVALID: &'static str = "invalid";

    pub fn new(max: usize) -> Self {
        Self {
            max,
            seen: RwLock::new(HashSet::new()),
        }
    }

    pub fn label(&self, raw: &str) -> SharedString {
        let well_formed = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            return s(Self::INVALID);
        }
        if self
            .seen
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(raw)
        {
            return SharedString::from(raw.to_owned());
        }
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if seen.contains(raw) || seen.len() < self.max {
            seen.insert(raw.to_owned());
            SharedString::from(raw.to_owned())
        } else {
            s(Self::OTHER)
        }
    }
}

/// Distinct GraphQL operation names reported; the rest are `other`.
const MAX_OPERATION_NAMES: usize = 200;
static OPERATION_NAMES: LazyLock<BoundedLabels> = LazyLock::new(|| BoundedLabels::new(MAX_OPERATION_NAMES));
/// Error codes come from a closed set; the bound guards against a code
/// string built elsewhere.
static ERROR_CODES: LazyLock<BoundedLabels> = LazyLock::new(|| BoundedLabels::new(64));

/// The label of an operation without a name.
pub const ANONYMOUS: &str = "anonymous";

fn operation_label(name: Option<&str>) -> SharedString {
    name.map_or_else(|| s(ANONYMOUS), |n| OPERATION_NAMES.label(n))
}

/// A GraphQL operation: `kind` is query, mutation, subscription or unknown
/// (the document did not parse or name a runnable operation).
pub fn graphql_operation(name: Option<&str>, kind: &'static str) {
    count(&GRAPHQL_OPERATIONS, [operation_label(name), s(kind)], 1);
}

/// Time to answer a GraphQL operation over HTTP.
pub fn graphql_duration(name: Option<&str>, kind: &'static str, elapsed: Duration) {
    observe(
        &GRAPHQL_DURATION,
        [operation_label(name), s(kind)],
        elapsed.as_secs_f64(),
    );
}

/// One error of a GraphQL response, by its `extensions.code`.
pub fn graphql_error(name: Option<&str>, code: &str) {
    count(
        &GRAPHQL_ERRORS,
        [operation_label(name), ERROR_CODES.label(code)],
        1,
    );
}

/// One group-commit transaction of `size` writes.
pub fn group_commit_flush(writer: &'static str, size: usize, elapsed: Duration, ok: bool) {
    observe(&GROUP_COMMIT_BATCH, [s(writer)], size as f64);
    observe(&GROUP_COMMIT_FLUSH, [s(writer)], elapsed.as_secs_f64());
    if !ok {
        count(&GROUP_COMMIT_FAILURES, [s(writer)], 1);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Failed; tried again later.
    Retry,
    /// Failed for good.
    Failed,
}

/// One outbox delivery attempt (`transport`: the row's, email or webhook).
pub fn outbox_delivery(transport: &str, outcome: Delivery) {
    let transport = if transport == "webhook" {
        "webhook"
    } else {
        "email"
    };
    let outcome = match outcome {
        Delivery::Sent => "sent",
        Delivery::Retry => "retry",
        Delivery::Failed => "failed",
    };
    count(&OUTBOX_DELIVERIES, [s(transport), s(outcome)], 1);
}

/// A wait for a pooled connection that gave up (`timeout`) or found the
/// pool closed (`closed`); other errors are not waits and are ignored.
pub fn db_error(e: &sea_orm::DbErr) {
    if let Some(reason) = acquire_failure(e) {
        count(&DB_POOL_ACQUIRE_FAILURES, [s(reason)], 1);
    }
}

fn acquire_failure(e: &sea_orm::DbErr) -> Option<&'static str> {
    use sea_orm::{sqlx, ConnAcquireErr, DbErr, RuntimeErr};
    match e {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => Some("timeout"),
        DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed) => Some("closed"),
        DbErr::Conn(RuntimeErr::SqlxError(sqlx::Error::PoolTimedOut)) => Some("timeout"),
        DbErr::Conn(RuntimeErr::SqlxError(sqlx::Error::PoolClosed)) => Some("closed"),
        _ => None,
    }
}

/// A shared-cache command that failed (`operation`: get, set, …).
pub fn cache_error(operation: &'static str) {
    count(&CACHE_ERRORS, [s(operation)], 1);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusFailure {
    Publish,
    Decode,
}

pub fn bus_error(kind: BusFailure) {
    let kind = match kind {
        BusFailure::Publish => "publish",
        BusFailure::Decode => "decode",
    };
    count(&BUS_ERRORS, [s(kind)], 1);
}

/// Events `consumer` missed because it fell behind the bus.
pub fn bus_lagged(consumer: &'static str, missed: u64) {
    count(&BUS_LAGGED, [s(consumer)], missed);
}

pub fn redis_connection_error(client: &'static str) {
    count(&REDIS_CONNECTION_ERRORS, [s(client)], 1);
}

/// The periodic jobs, by the name their series carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Cleanup,
    Rollups,
    Offline,
    Reminders,
    Routines,
    Outbox,
    Uptime,
}

impl Job {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cleanup => "cleanup",
            Self::Rollups => "rollups",
            Self::Offline => "offline",
            Self::Reminders => "reminders",
            Self::Routines => "routines",
            Self::Outbox => "outbox",
            Self::Uptime => "uptime",
        }
    }
}

/// Runs one tick of `job`, counting it, its failure and its duration.
pub async fn job<T, E>(job: Job, tick: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let started = Instant::now();
    let result = tick.await;
    let name = s(job.as_str());
    count(&JOB_RUNS, [name.clone()], 1);
    if result.is_err() {
        count(&JOB_FAILURES, [name.clone()], 1);
    }
    observe(&JOB_DURATION, [name], started.elapsed().as_secs_f64());
    result
}

/// Pool figures at scrape time.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolFigures {
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// What the scraped server reports as gauges, read at scrape time.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    pub websocket_connections: usize,
    pub live_subscriptions: usize,
    pub resident_memory_bytes: Option<u64>,
    pub started_at_unix_seconds: f64,
    pub pool: PoolFigures,
    /// `None` when the count failed (the database is away): the gauge
    /// keeps its last value rather than claiming an empty outbox.
    pub outbox_pending: Option<u64>,
}

/// Servers sharing the process set the gauges in turn: each scrape sets
/// and renders under this lock, so it shows its own server's values.
static SCRAPE: Mutex<()> = Mutex::new(());

/// The exposition text, with `gauges` set first; `None` without a
/// recorder.
pub fn render(gauges: &Gauges) -> Option<String> {
    let handle = install()?;
    let _scrape = SCRAPE.lock().unwrap_or_else(PoisonError::into_inner);
    set(&WEBSOCKETS, [], gauges.websocket_connections as f64);
    set(&SUBSCRIPTIONS, [], gauges.live_subscriptions as f64);
    if let Some(bytes) = gauges.resident_memory_bytes {
        set(&RESIDENT_MEMORY, [], bytes as f64);
    }
    set(&START_TIME, [], gauges.started_at_unix_seconds);
    set(&DB_POOL_CONNECTIONS, [s("in_use")], f64::from(gauges.pool.in_use));
    set(&DB_POOL_CONNECTIONS, [s("idle")], f64::from(gauges.pool.idle));
    set(&DB_POOL_MAX, [], f64::from(gauges.pool.max));
    if let Some(pending) = gauges.outbox_pending {
        set(&OUTBOX_PENDING, [], pending as f64);
    }
    set(&BUILD_INFO, [s(crate::domain::status::VERSION)], 1.0);
    Some(handle.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded_in_form_and_number() {
        let names = BoundedLabels::new(2);
        assert_eq!(names.label("StatusProbe").as_ref(), "StatusProbe");
        assert_eq!(names.label("Second_2").as_ref(), "Second_2");
        // Past the cap newcomers share one label; known names keep theirs.
        assert_eq!(names.label("Third").as_ref(), BoundedLabels::OTHER);
        assert_eq!(names.label("StatusProbe").as_ref(), "StatusProbe");
        // Malformed names never take a slot.
        let long = "a".repeat(BoundedLabels::MAX_LEN + 1);
        for bad in ["", "has space", "dash-ed", "é", "quote\"", long.as_str()] {
            assert_eq!(names.label(bad).as_ref(), BoundedLabels::INVALID, "{bad:?}");
        }
        let fresh = BoundedLabels::new(1);
        assert_eq!(fresh.label("bad name").as_ref(), BoundedLabels::INVALID);
        assert_eq!(
            fresh.label(&"b".repeat(BoundedLabels::MAX_LEN)).len(),
            BoundedLabels::MAX_LEN
        );
        assert_eq!(fresh.label("late").as_ref(), BoundedLabels::OTHER);
    }

    #[test]
    fn series_follow_the_naming_conventions() {
        let mut names = HashSet::new();
        for s in SERIES {
            assert!(names.insert(s.name), "{} declared twice", s.name);
            assert!(s.name.starts_with("optralis_"), "{}", s.name);
            assert!(
                s.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                s.name
            );
            assert_eq!(s.kind == Kind::Counter, s.name.ends_with("_total"), "{}", s.name);
            assert_eq!(s.kind == Kind::Histogram, !s.buckets.is_empty(), "{}", s.name);
            assert!(
                s.buckets.windows(2).all(|w| w[0] < w[1]),
                "{} buckets ascend",
                s.name
            );
            let suffix = match s.unit {
                Unit::Seconds => Some("_seconds"),
                Unit::Bytes => Some("_bytes"),
                _ => None,
            };
            if let Some(suffix) = suffix {
                assert!(
                    s.name.ends_with(suffix) || s.name.ends_with(&format!("{suffix}_total")),
                    "{} carries its unit",
                    s.name
                );
            }
            assert!(!s.help.is_empty(), "{}", s.name);
            assert!(!s.labels.contains(&"le"), "{}: `le` is the bucket label", s.name);
        }
    }

    #[test]
    fn only_waits_for_a_connection_count_as_acquire_failures() {
        use sea_orm::{ConnAcquireErr, DbErr};
        assert_eq!(
            acquire_failure(&DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
            Some("timeout")
        );
        assert_eq!(
            acquire_failure(&DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)),
            Some("closed")
        );
        assert_eq!(acquire_failure(&DbErr::Custom("constraint".into())), None);
        assert_eq!(acquire_failure(&DbErr::RecordNotFound("x".into())), None);
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&http::Method::GET), "GET");
        assert_eq!(
            method_label(&http::Method::from_bytes(b"PROPFIND").unwrap()),
            "OTHER"
        );
    }
}
