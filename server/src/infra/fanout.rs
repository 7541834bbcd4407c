//! Routes bus events to the live subscriptions that asked for them, so an
//! event wakes only its own watchers (one tenant's status watchers, or the
//! watchers of one machine) instead of every subscription on the server.
//! One dispatcher task per process reads the bus; each topic has its own
//! small broadcast channel, created by its first subscriber and dropped
//! with its last, and a watcher that falls behind skips to the newest
//! events rather than making the server buffer for it.

use super::bus::{BusEvent, EventBus};
use std::{
    collections::HashMap,
    fmt::Debug,
    hash::Hash,
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

/// What the fan-out reads of an event: the topic it belongs to, from its
/// typed fields.
pub trait Routed: BusEvent {
    type Kind: Copy + Eq + Hash + Debug + Send + Sync + 'static;
    /// The tenant-wide topic of the event; the machine it concerns, if any,
    /// also reaches that machine's topic.
    fn topic(&self) -> Topic<Self::Kind>;
}

/// What a subscription watches: one kind of event of one tenant, for the
/// whole fleet or one machine.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct Topic<K> {
    pub kind: K,
    pub client_id: Uuid,
    pub machine_id: Option<Uuid>,
}

impl<K> Topic<K> {
    pub fn tenant(kind: K, client_id: Uuid) -> Self {
        Self {
            kind,
            client_id,
            machine_id: None,
        }
    }

    pub fn machine(kind: K, client_id: Uuid, machine_id: Uuid) -> Self {
        Self {
            kind,
            client_id,
            machine_id: Some(machine_id),
        }
    }
}

type Senders<E> = HashMap<Topic<<E as Routed>::Kind>, broadcast::Sender<Arc<E>>>;

struct Registry<E: Routed> {
    topics: Mutex<Senders<E>>,
    subscriptions: AtomicUsize,
    sockets: Arc<AtomicUsize>,
}

impl<E: Routed> Registry<E> {
    fn topics(&self) -> MutexGuard<'_, Senders<E>> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn dispatch(&self, event: Arc<E>) {
        let routed = event.topic();
        let mut topic = Topic::tenant(routed.kind, routed.client_id);
        let machine_id = routed.machine_id;
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
pub struct Fanout<E: Routed> {
    registry: Arc<Registry<E>>,
}

impl<E: Routed> Clone for Fanout<E> {
    fn clone(&self) -> Self {
        Self {
            registry: self.registry.clone(),
        }
    }
}

impl<E: Routed> Fanout<E> {
    /// Starts the dispatcher on the current runtime; it ends with the bus.
    pub fn start(bus: &dyn EventBus<E>) -> Self {
        let registry = Arc::new(Registry {
            topics: Mutex::new(HashMap::new()),
            subscriptions: AtomicUsize::new(0),
            sockets: Arc::new(AtomicUsize::new(0)),
        });
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
    pub fn subscribe(&self, topic: Topic<E::Kind>) -> Subscription<E> {
        let rx = {
            let mut topics = self.registry.topics();
            let capacity = if topic.machine_id.is_some() {
                MACHINE_TOPIC_CAPACITY
            } else {
                TENANT_TOPIC_CAPACITY
            };
            topics
                .entry(topic)
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
        SocketGuard(self.registry.sockets.clone())
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
pub struct Subscription<E: Routed> {
    rx: Option<broadcast::Receiver<Arc<E>>>,
    topic: Topic<E::Kind>,
    registry: Arc<Registry<E>>,
}

impl<E: Routed> Subscription<E> {
    pub async fn recv(&mut self) -> Result<Arc<E>, RecvError> {
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => Err(RecvError::Closed),
        }
    }
}

impl<E: Routed> Drop for Subscription<E> {
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

/// Counts one open socket until dropped.
pub struct SocketGuard(Arc<AtomicUsize>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::bus::LocalBus;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
    enum Kind {
        Status,
        Collect,
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Sample {
        kind: Kind,
        client_id: Uuid,
        machine_id: Uuid,
    }

    impl Routed for Sample {
        type Kind = Kind;
        fn topic(&self) -> Topic<Kind> {
            Topic::machine(self.kind, self.client_id, self.machine_id)
        }
    }

    fn event(kind: Kind, client_id: Uuid, machine_id: Uuid) -> Sample {
        Sample {
            kind,
            client_id,
            machine_id,
        }
    }

    #[tokio::test]
    async fn events_reach_only_their_topics_and_topics_end_with_their_watchers() {
        let bus = LocalBus::new();
        let fanout = Fanout::start(&bus);
        let (tenant, other_tenant) = (Uuid::new_v4(), Uuid::new_v4());
        let (m1, m2) = (Uuid::new_v4(), Uuid::new_v4());
        let mut fleet = fanout.subscribe(Topic::tenant(Kind::Collect, tenant));
        let mut one = fanout.subscribe(Topic::machine(Kind::Collect, tenant, m1));
        let mut foreign = fanout.subscribe(Topic::tenant(Kind::Collect, other_tenant));
        assert_eq!(fanout.stats().topics, 3);

        bus.publish(event(Kind::Collect, tenant, m2)).await;
        bus.publish(event(Kind::Status, tenant, m1)).await;
        bus.publish(event(Kind::Collect, tenant, m1)).await;
        let first = fleet.recv().await.unwrap();
        assert_eq!(first.machine_id, m2);
        let second = fleet.recv().await.unwrap();
        assert_eq!(second.machine_id, m1);
        let only = one.recv().await.unwrap();
        assert_eq!((only.kind, only.machine_id), (Kind::Collect, m1));
        let nothing = tokio::time::timeout(std::time::Duration::from_millis(50), foreign.recv()).await;
        assert!(nothing.is_err(), "another tenant's watcher hears nothing");

        let again = fanout.subscribe(Topic::machine(Kind::Collect, tenant, m1));
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
        let socket = fanout.socket();
        assert_eq!(fanout.stats().sockets, 1);
        drop(socket);
        assert_eq!(fanout.stats().sockets, 0);
    }
}
