//! Wiring: configuration → infrastructure → domain services → schema.

use crate::{
    config::Config,
    domain::status::StatusService,
    graphql::{self, AppSchema},
    infra::{secrets, Infra, InfraError},
};
use std::sync::Arc;

/// Domain services, shared by GraphQL resolvers and HTTP handlers.
#[derive(Clone)]
pub struct Services {
    pub infra: Infra,
    pub status: StatusService,
}

/// What every request handler gets.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub services: Services,
    pub schema: AppSchema,
    /// Signing key for access/refresh tokens.
    pub jwt_secret: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Infra(#[from] InfraError),
    #[error("database migration failed: {0}")]
    Migration(sea_orm::DbErr),
}

impl AppState {
    /// Prepares the data dir, connects, migrates and builds the schema.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        secrets::ensure_data_dir(&config.data_dir)?;
        let jwt_secret = secrets::jwt_secret(&config.data_dir, config.jwt_secret.as_deref())?;
        let infra = Infra::connect(&config).await?;
        infra.db.migrate().await.map_err(StartError::Migration)?;
        let timescaledb = infra.db.timescaledb().await.map_err(InfraError::from)?;
        tracing::info!(
            database = infra.db.backend.as_str(),
            timescaledb,
            cache = infra.cache_backend.as_str(),
            "storage ready"
        );
        let services = Services {
            status: StatusService::new(infra.clone(), timescaledb),
            infra,
        };
        Ok(Self {
            schema: graphql::build_schema(services.clone()),
            services,
            config: Arc::new(config),
            jwt_secret: jwt_secret.into(),
        })
    }
}
