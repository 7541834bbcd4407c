//! Live events (machine status, samples, alerts) fanned out to
//! subscribers. In-process by default; with Redis, events cross instances.

use super::redis::RedisConnection;
use async_trait::async_trait;
use fred::{clients::SubscriberClient, prelude::*};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Subscribers that fall this far behind lose the oldest events (tokio
/// broadcast semantics) instead of making the server buffer without bound.
const LOCAL_CAPACITY: usize = 4096;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened, e.g. `machine.status`, `machine.metrics`.
    pub kind: String,
    /// Tenant the event belongs to; `None` for platform-wide events.
    pub client_id: Option<Uuid>,
    pub payload: serde_json::Value,
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Delivers to every subscriber on every instance. Never fails: when the
    /// shared transport is down, local subscribers still get the event.
    async fn publish(&self, event: Event);
    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>>;
}

pub struct LocalBus {
    tx: broadcast::Sender<Arc<Event>>,
}

impl LocalBus {
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(LOCAL_CAPACITY).0,
        }
    }

    fn deliver(&self, event: Arc<Event>) {
        // No receiver is not an error: nobody is watching right now.
        let _ = self.tx.send(event);
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, event: Event) {
        self.deliver(Arc::new(event));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}

/// Publishes through Redis pub/sub; one subscriber connection per instance
/// feeds the local fan-out. The subscriber resubscribes after reconnects.
pub struct RedisBus {
    conn: RedisConnection,
    channel: String,
    local: Arc<LocalBus>,
    _subscriber: SubscriberClient,
}

impl RedisBus {
    pub(crate) async fn start(conn: RedisConnection) -> Result<Self, fred::error::Error> {
        let channel = conn.key("events");
        let local = Arc::new(LocalBus::new());
        let subscriber = conn.subscriber()?;
        let sink = local.clone();
        subscriber.on_message(move |message| {
            let sink = sink.clone();
            async move {
                match message.value.as_bytes().map(serde_json::from_slice::<Event>) {
                    Some(Ok(event)) => sink.deliver(Arc::new(event)),
                    _ => tracing::warn!(channel = %message.channel, "dropped an undecodable bus message"),
                }
                Ok(())
            }
        });
        subscriber.manage_subscriptions();
        subscriber.connect();
        // Subscribe registers the channel even while disconnected; it is
        // replayed by manage_subscriptions once the connection is up.
        if let Err(e) = subscriber.subscribe(channel.clone()).await {
            tracing::warn!(error = %e, "redis bus subscription pending until redis is reachable");
        }
        Ok(Self {
            conn,
            channel,
            local,
            _subscriber: subscriber,
        })
    }
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, event: Event) {
        let encoded = match serde_json::to_string(&event) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, kind = %event.kind, "event not serialisable");
                return;
            }
        };
        if let Err(e) = self.conn.client.publish::<(), _, _>(&self.channel, encoded).await {
            tracing::warn!(error = %e, "redis publish failed; delivering to this instance only");
            self.local.deliver(Arc::new(event));
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.subscribe()
    }
}
