//! One dataloader per relation reached from a list of machines: a page of
//! machines costs one statement per relation, whatever its size. Loaders
//! keep no cache between requests (async-graphql's default `NoCache`);
//! they only batch. Keys are machine ids the resolver already scoped to
//! the caller's tenant.

use crate::domain::{
    fleet::{risks::RiskOverrides, Fleet, LatestMetrics, MachineLabel},
    DomainError,
};
use async_graphql::dataloader::{DataLoader, Loader};
use entities::{groups, machine_collector_data, risk_overrides};
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

pub struct LatestMetricsLoader(pub Fleet);
pub struct LabelsLoader(pub Fleet);
pub struct GroupLoader(pub Fleet);
pub struct SnapshotLoader(pub Fleet);
pub struct RiskOverridesLoader(pub RiskOverrides);

fn shared(e: DomainError) -> Arc<DomainError> {
    Arc::new(e)
}

impl Loader<Uuid> for LatestMetricsLoader {
    type Value = LatestMetrics;
    type Error = Arc<DomainError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        self.0.latest_metrics(keys).await.map_err(shared)
    }
}

impl Loader<Uuid> for LabelsLoader {
    type Value = Vec<MachineLabel>;
    type Error = Arc<DomainError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        self.0.labels_of(keys).await.map_err(shared)
    }
}

impl Loader<Uuid> for GroupLoader {
    type Value = groups::Model;
    type Error = Arc<DomainError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        self.0.groups(keys).await.map_err(shared)
    }
}

impl Loader<Uuid> for SnapshotLoader {
    type Value = Vec<machine_collector_data::Model>;
    type Error = Arc<DomainError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        self.0.snapshots(keys).await.map_err(shared)
    }
}

impl Loader<Uuid> for RiskOverridesLoader {
    type Value = Vec<risk_overrides::Model>;
    type Error = Arc<DomainError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        self.0.of_machines(keys).await.map_err(shared)
    }
}

/// Registers every loader on the schema.
pub fn register<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
    fleet: &Fleet,
    overrides: &RiskOverrides,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    builder
        .data(DataLoader::new(
            RiskOverridesLoader(overrides.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(LatestMetricsLoader(fleet.clone()), tokio::spawn))
        .data(DataLoader::new(LabelsLoader(fleet.clone()), tokio::spawn))
        .data(DataLoader::new(GroupLoader(fleet.clone()), tokio::spawn))
        .data(DataLoader::new(SnapshotLoader(fleet.clone()), tokio::spawn))
}
