//! The fred client shared by the Redis cache and bus, configured so a slow
//! or absent Redis can never stall a request: every command has a timeout,
//! the command queue is bounded, and the client reconnects by itself.

use fred::{
    clients::SubscriberClient,
    prelude::*,
    types::{config::Config as RedisConfig, Builder},
};
use std::time::Duration;

const COMMAND_TIMEOUT: Duration = Duration::from_millis(1500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Commands waiting for a (re)connection beyond this are refused with a
/// backpressure error instead of piling up in memory.
const MAX_QUEUED_COMMANDS: usize = 10_000;

#[derive(Clone)]
pub(crate) struct RedisConnection {
    pub client: Client,
    pub prefix: String,
    builder: std::sync::Arc<Builder>,
}

impl RedisConnection {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, Error> {
        let mut config = RedisConfig::from_url(url)?;
        // Keep retrying the first connection too: Redis starting after us is
        // a normal deployment order, not a fatal error.
        config.fail_fast = false;
        let mut builder = Builder::from_config(config);
        builder
            .with_connection_config(|c| {
                c.connection_timeout = CONNECT_TIMEOUT;
                c.internal_command_timeout = CONNECT_TIMEOUT;
                c.max_command_attempts = 2;
                c.max_command_buffer_len = MAX_QUEUED_COMMANDS;
            })
            .with_performance_config(|p| {
                p.default_command_timeout = COMMAND_TIMEOUT;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
        let client = builder.build()?;
        log_connection_events(&client, "redis");
        client.connect();
        match tokio::time::timeout(CONNECT_TIMEOUT, client.wait_for_connect()).await {
            Ok(Ok(())) => tracing::info!("connected to redis"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "redis unavailable at start; serving from local state until it returns")
            }
            Err(_) => tracing::warn!("redis unavailable at start; serving from local state until it returns"),
        }
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            builder: std::sync::Arc::new(builder),
        })
    }

    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn subscriber(&self) -> Result<SubscriberClient, Error> {
        let sub = self.builder.build_subscriber_client()?;
        log_connection_events(&sub, "redis subscriber");
        Ok(sub)
    }
}

fn log_connection_events<C: EventInterface>(client: &C, name: &'static str) {
    client.on_reconnect(move |server| async move {
        tracing::info!(%server, "{name} reconnected");
        Ok(())
    });
    client.on_error(move |(error, server)| async move {
        super::metrics::redis_connection_error(name);
        tracing::warn!(%error, server = ?server, "{name} connection error");
        Ok(())
    });
}
