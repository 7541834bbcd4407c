//! Structured logs: text for people, JSON (`LOG_FORMAT=json`) for
//! collectors. `RUST_LOG` refines the filter.

use tracing_subscriber::{fmt, EnvFilter};

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm_migration=warn,fred=warn,tower_http=info";

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = fmt().with_env_filter(filter).with_target(true);
    // try_init: tests and embedders may have installed a subscriber already.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
