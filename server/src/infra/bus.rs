//! Live events (machine status, samples, alerts) fanned out to
//! subscribers. In-process by default; with Redis, events cross instances.
//! The bus carries any serde type; the domain decides what an event is
//! (`domain::live::LiveEvent`), so this transport knows nothing of it.

use super::redis::RedisConnection;
use async_trait::async_trait;
use fred::{clients::SubscriberClient, prelude::*};
use serde::{de::DeserializeOwned, Serialize};
use std::{fmt::Debug, sync::Arc};
use tokio::sync::broadcast;

/// Subscribers that fall this far behind lose the oldest events (tokio
/// broadcast semantics) instead of making the server buffer without bound.
const LOCAL_CAPACITY: usize = 4096;

/// What a bus can carry: events cross instances as JSON.
pub trait BusEvent: Serialize + DeserializeOwned + Debug + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Debug + Send + Sync + 'static> BusEvent for T {}

#[async_trait]
pub trait EventBus<E: BusEvent>: Send + Sync {
    /// Delivers to every subscriber on every instance. Never fails: when the
    /// shared transport is down, local subscribers still get the event.
    async fn publish(&self, event: E);
    fn subscribe(&self) -> broadcast::Receiver<Arc<E>>;
    /// Only the events this instance published. Work that must happen once
    /// per event (alert evaluation) listens here, so N instances sharing
    /// the bus do not do it N times.
    fn subscribe_own(&self) -> broadcast::Receiver<Arc<E>>;
}

pub struct LocalBus<E> {
    tx: broadcast::Sender<Arc<E>>,
}

impl<E: BusEvent> LocalBus<E> {
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(LOCAL_CAPACITY).0,
        }
    }

    fn deliver(&self, event: Arc<E>) {
        // No receiver is not an error: nobody is watching right now.
        let _ = self.tx.send(event);
    }
}

impl<E: BusEvent> Default for LocalBus<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl<E: BusEvent> EventBus<E> for LocalBus<E> {
    async fn publish(&self, event: E) {
        self.deliver(Arc::new(event));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<E>> {
        self.tx.subscribe()
    }

    fn subscribe_own(&self) -> broadcast::Receiver<Arc<E>> {
        self.tx.subscribe()
    }
}

/// Publishes through Redis pub/sub; one subscriber connection per instance
/// feeds the local fan-out. The subscriber resubscribes after reconnects.
pub struct RedisBus<E> {
    conn: RedisConnection,
    channel: String,
    local: Arc<LocalBus<E>>,
    /// What this instance published, whatever Redis does with it.
    own: LocalBus<E>,
    _subscriber: SubscriberClient,
}

impl<E: BusEvent> RedisBus<E> {
    pub(crate) async fn start(conn: RedisConnection) -> Result<Self, fred::error::Error> {
        let channel = conn.key("events");
        let local = Arc::new(LocalBus::new());
        let subscriber = conn.subscriber()?;
        let sink = local.clone();
        subscriber.on_message(move |message| {
            let sink = sink.clone();
            async move {
                match message.value.as_bytes().map(serde_json::from_slice::<E>) {
                    Some(Ok(event)) => sink.deliver(Arc::new(event)),
                    // An instance of another version may publish a kind this
                    // one does not know: skipped, never fatal.
                    _ => {
                        super::metrics::bus_error(super::metrics::BusFailure::Decode);
                        tracing::warn!(channel = %message.channel, "dropped an undecodable bus message")
                    }
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
            own: LocalBus::new(),
            _subscriber: subscriber,
        })
    }
}

#[async_trait]
impl<E: BusEvent> EventBus<E> for RedisBus<E> {
    async fn publish(&self, event: E) {
        let event = Arc::new(event);
        self.own.deliver(event.clone());
        let encoded = match serde_json::to_string(&*event) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, ?event, "event not serialisable");
                return;
            }
        };
        if let Err(e) = self.conn.client.publish::<(), _, _>(&self.channel, encoded).await {
            super::metrics::bus_error(super::metrics::BusFailure::Publish);
            tracing::warn!(error = %e, "redis publish failed; delivering to this instance only");
            self.local.deliver(event);
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<E>> {
        self.local.subscribe()
    }

    fn subscribe_own(&self) -> broadcast::Receiver<Arc<E>> {
        self.own.subscribe()
    }
}
