//! Periodic and queued background work. [`AppState::build`] hands back
//! the [`Workers`] without starting them: `serve` starts them, tests start
//! them or drive one tick of a job on demand (`offline::tick`, …).
//!
//! [`AppState::build`]: crate::app::AppState::build

pub mod alerts;
pub mod cleanup;
pub mod exclusive;
pub mod offline;
pub mod outbox;
pub mod reminders;
pub mod rollups;
pub mod routines;
pub mod triggers;
pub mod uptime;

use crate::{infra::mailer::Mailer, services::Services};
use std::{future::Future, sync::Arc, time::Duration};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The background workers of one instance, not yet started.
pub struct Workers {
    services: Services,
    mailer: Arc<dyn Mailer>,
}

impl Workers {
    pub fn new(services: Services, mailer: Arc<dyn Mailer>) -> Self {
        Self { services, mailer }
    }

    /// Starts every job; each stops at its next wait once `stop` is
    /// cancelled.
    pub fn start(self, stop: CancellationToken) -> Running {
        let mut tasks = JoinSet::new();
        let Self { services, mailer } = self;
        tasks.spawn(alerts::run(services.clone(), stop.clone()));
        tasks.spawn(cleanup::run(services.clone(), stop.clone()));
        tasks.spawn(rollups::run(services.clone(), stop.clone()));
        tasks.spawn(offline::run(services.clone(), stop.clone()));
        tasks.spawn(reminders::run(services.clone(), stop.clone()));
        tasks.spawn(routines::run(services.clone(), stop.clone()));
        tasks.spawn(triggers::run(services.clone(), stop.clone()));
        tasks.spawn(uptime::run(services.clone(), stop.clone()));
        tasks.spawn(outbox::run(services, mailer, stop.clone()));
        Running { tasks, stop }
    }
}

/// Started workers.
pub struct Running {
    tasks: JoinSet<()>,
    stop: CancellationToken,
}

/// How the workers ended at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Returned on their own once cancelled.
    pub finished: usize,
    /// Still busy past the grace period, aborted.
    pub aborted: usize,
}

impl Running {
    /// Workers still running.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Cancels the workers and waits up to `grace` for them to return; the
    /// rest are aborted. A job's work is idempotent or leased (the outbox
    /// claims with a lease), so an abort loses nothing but time.
    pub async fn stop(mut self, grace: Duration) -> Stopped {
        self.stop.cancel();
        let mut finished = 0;
        let deadline = tokio::time::Instant::now() + grace;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(_)) => finished += 1,
                Ok(None) => break,
                Err(_) => break,
            }
        }
        let aborted = self.tasks.len();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        Stopped { finished, aborted }
    }
}

/// Runs `tick` every `every` (the first at once) until `stop` is
/// cancelled. A tick in progress is finished, not interrupted: the job
/// ends between ticks.
async fn every<F, Fut>(every: Duration, stop: CancellationToken, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        tick().await;
    }
}
