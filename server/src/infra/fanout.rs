//! Routes bus events to the live subscriptions that asked for them, so an
//! event wakes only its own watchers (one tenant's status watchers, or the
//! watchers of one machine) instead of every subscription on the server.
//! One dispatcher task per process reads the bus; each topic has its own
//! small broadcast channel, created by its first subscriber and dropped
//! with its last, and a watcher that falls behind skips to the newest
//! events rather than making the server buffer for it.

use super::bus::{Event, EventBus};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
};
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

/// Buffer of a one-machine topic: samples arrive every few seconds at
/// most, so a watcher this far behind is stale and skips ahead.
const MACHINE_TOPIC_CAPACITY: usize = 16;
/// Buffer of a tenant-wide topic, sized for a burst of status changes.
const TENANT_TOPIC_CAPACITY: usize = 256;

/// What a subscription watches: one kind of event of one tenant, for the
/// whole fleet or one machine.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Topic {
    pub kind: String,
    pub client_id: Uuid,
    pub machine_id: Option<Uuid>,
}

impl Topic {
    pub fn tenant(kind: &str, client_id: Uuid) -> Self {
        Self {
            kind: kind.to_owned(),
            client_id,
            machine_id: None,
        }
    }

    pub fn machine(kind: &str, client_id: Uuid, machine_id: Uuid) -> Self {
        Self {
            kind: kind.to_owned(),
            client_id,
            machine_id: Some(machine_id),
        }
    }
}

type Senders = HashMap<Topic, broadcast::Sender<Arc<Event>>>;

#[derive(Default)]
struct Registry {
    topics: Mutex<Senders>,
    subscriptions: AtomicUsize,
    sockets: AtomicUsize,
}

impl Registry {
    fn topics(&self) -> MutexGuard<'_, Senders> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn dispatch(&self, event: Arc<Event>) {
        let Some(client_id) = event.client_id else {
            return;
        };
        let mut topic = Topic::tenant(&event.kind, client_id);
        let machine_id = event
            .payload
            .get("machine_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<Uuid>().ok());
        let topics = self.topics();
        if let Some(tx) = topics.get(&topic) {
            let _ = tx.send(event.clone());
        }
        if let Some(machine_id) = machine_id {
            topic.machine_id = Some(machine_id);
            if let Some(tx) = topics.get(&topic) {
                let _ = tx.send(event);
            }
        }
    }
}

/// The process's live fan-out: topics, subscriptions and open sockets.
#[derive(Clone)]
pub struct Fanout {
    registry: Arc<Registry>,
}

impl Fanout {
    /// Starts the dispatcher on the current runtime; it ends with the bus.
    pub fn start(bus: &dyn EventBus) -> Self {
        let registry = Arc::new(Registry::default());
        let mut rx = bus.subscribe();
        let weak = Arc::downgrade(&registry);
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(event) => match weak.upgrade() {
                        Some(registry) => registry.dispatch(event),
                        None => break,
                    },
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "live fan-out fell behind the event bus")
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        Self { registry }
    }

    /// Events of `topic` from now on.
    pub fn subscribe(&self, topic: Topic) -> Subscription {
        let rx = {
            let mut topics = self.registry.topics();
            let capacity = if topic.machine_id.is_some() {
                MACHINE_TOPIC_CAPACITY
            } else {
                TENANT_TOPIC_CAPACITY
            };
            topics
                .entry(topic.clone())
                .or_insert_with(|| broadcast::channel(capacity).0)
                .subscribe()
        };
        self.registry.subscriptions.fetch_add(1, Ordering::Relaxed);
        Subscription {
            rx: Some(rx),
            topic,
            registry: self.registry.clone(),
        }
    }

    /// Counts an open WebSocket while the guard lives.
    pub fn socket(&self) -> SocketGuard {
        self.registry.sockets.fetch_add(1, Ordering::Relaxed);
        SocketGuard(self.registry.clone())
    }

    pub fn stats(&self) -> FanoutStats {
        FanoutStats {
            sockets: self.registry.sockets.load(Ordering::Relaxed),
            subscriptions: self.registry.subscriptions.load(Ordering::Relaxed),
            topics: self.registry.topics().len(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct FanoutStats {
    pub sockets: usize,
    pub subscriptions: usize,
    pub topics: usize,
}

/// One subscription's receiver; dropping it releases its topic when it
/// was the last watcher.
pub struct Subscription {
    rx: Option<broadcast::Receiver<Arc<Event>>>,
    topic: Topic,
    registry: Arc<Registry>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<Arc<Event>, RecvError> {
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => Err(RecvError::Closed),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.registry.subscriptions.fetch_sub(1, Ordering::Relaxed);
        // Under the lock, so a subscriber joining the topic right now
        // either finds the sender alive or creates a fresh one.
        let mut topics = self.registry.topics();
        drop(self.rx.take());
        if topics.get(&self.topic).is_some_and(|tx| tx.receiver_count() == 0) {
            topics.remove(&self.topic);
        }
    }
}

pub struct SocketGuard(Arc<Registry>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.sockets.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::bus::LocalBus;
    use serde_json::json;

    fn event(kind: &str, client_id: Uuid, machine_id: Uuid) -> Event {
        Event {
            kind: kind.into(),
            client_id: Some(client_id),
            payload: json!({ "machine_id": machine_id }),
        }
    }

    #[tokio::test]
    async fn events_reach_only_their_topics_and_topics_end_with_their_watchers() {
        let bus = LocalBus::new();
        let fanout = Fanout::start(&bus);
        let (tenant, other_tenant) = (Uuid::new_v4(), Uuid::new_v4());
        let (m1, m2) = (Uuid::new_v4(), Uuid::new_v4());
        let mut fleet = fanout.subscribe(Topic::tenant("machine.collect", tenant));
        let mut one = fanout.subscribe(Topic::machine("machine.collect", tenant, m1));
        let mut foreign = fanout.subscribe(Topic::tenant("machine.collect", other_tenant));
        assert_eq!(fanout.stats().topics, 3);

        bus.publish(event("machine.collect", tenant, m2)).await;
        bus.publish(event("machine.status", tenant, m1)).await;
        bus.publish(event("machine.collect", tenant, m1)).await;
        let first = fleet.recv().await.unwrap();
        assert_eq!(first.payload["machine_id"], json!(m2));
        let second = fleet.recv().await.unwrap();
        assert_eq!(second.payload["machine_id"], json!(m1));
        let only = one.recv().await.unwrap();
        assert_eq!(
            (only.kind.as_str(), &only.payload["machine_id"]),
            ("machine.collect", &json!(m1))
        );
        let nothing = tokio::time::timeout(std::time::Duration::from_millis(50), foreign.recv()).await;
        assert!(nothing.is_err(), "another tenant's watcher hears nothing");

        let again = fanout.subscribe(Topic::machine("machine.collect", tenant, m1));
        drop(one);
        assert_eq!(
            fanout.stats().topics,
            3,
            "the topic lives while a watcher remains"
        );
        drop(again);
        drop(fleet);
        drop(foreign);
        let stats = fanout.stats();
        assert_eq!((stats.topics, stats.subscriptions), (0, 0));
    }
}
