//! Wiring: configuration → infrastructure → domain services (`services`)
//! → schema, and the background workers for `serve` to start.

use crate::{
    config::Config,
    domain::{crypto::SecretBox, pki::ca::CertificateAuthority, tenancy::FirstAdmin, DomainError},
    graphql::{self, AppSchema},
    infra::{
        mailer::{FileMailer, Mailer, SmtpMailer},
        secrets, Infra, InfraError,
    },
    jobs::Workers,
    services::{Keys, Services},
};
use std::sync::Arc;

/// What every request handler gets.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub services: Services,
    pub schema: AppSchema,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Infra(#[from] InfraError),
    #[error("database migration failed: {0}")]
    Migration(sea_orm::DbErr),
    #[error("first administrator: {0}")]
    FirstAdmin(DomainError),
    #[error("SMTP configuration: {0}")]
    Smtp(String),
    #[error("{0}")]
    Pki(#[from] crate::domain::pki::ca::CaError),
}

/// Connects and applies migrations (`optralis migrate`).
pub async fn migrate(config: &Config) -> Result<Infra, StartError> {
    secrets::ensure_data_dir(&config.data_dir)?;
    let infra = Infra::connect(config).await?;
    infra.db.migrate().await.map_err(StartError::Migration)?;
    Ok(infra)
}

impl AppState {
    /// Prepares the data dir, connects, migrates, makes sure an
    /// administrator exists and builds the schema. The background workers
    /// come back unstarted: `serve` starts them, tests choose.
    pub async fn build(config: Config) -> Result<(Self, Workers), StartError> {
        secrets::ensure_data_dir(&config.data_dir)?;
        // Recording starts with the first server of the process.
        crate::infra::metrics::install();
        let jwt_secret: Arc<str> =
            secrets::jwt_secret(&config.data_dir, config.jwt_secret.as_deref())?.into();
        let infra = migrate(&config).await?;
        let timescaledb = infra.db.timescaledb().await.map_err(InfraError::from)?;
        tracing::info!(
            database = infra.db.backend.as_str(),
            timescaledb,
            cache = infra.cache_backend.as_str(),
            "storage ready"
        );
        let mailer: Arc<dyn Mailer> = match &config.smtp {
            Some(smtp) => Arc::new(SmtpMailer::new(smtp).map_err(StartError::Smtp)?),
            None => Arc::new(FileMailer::new(config.data_dir.join("outbox"))),
        };
        let keys = Keys {
            jwt_secret,
            totp_sealer: SecretBox::new(&secrets::totp_key(&config.data_dir)?),
            ca: Arc::new(CertificateAuthority::load_or_create(&config.data_dir)?),
        };
        let services = Services::new(&config, infra, timescaledb, keys);

        match services.auth.seal_stored_totp_secrets().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(users = n, "sealed TOTP secrets stored in clear"),
            Err(e) => {
                tracing::error!(error = %e, "sealing stored TOTP secrets failed; retried at next start")
            }
        }
        match services
            .tenancy
            .ensure_first_admin(
                &config.default_admin_email,
                config.default_admin_password.as_deref(),
            )
            .await
            .map_err(StartError::FirstAdmin)?
        {
            FirstAdmin::AlreadyPresent => {}
            FirstAdmin::Created {
                email,
                generated_password: Some(password),
            } => {
                // Shown once, on purpose on stdout and not in the log stream.
                println!(
                    "\n  First start: super_admin {email} created.\n  Temporary password (shown once, must be changed at first login): {password}\n"
                );
            }
            FirstAdmin::Created { email, .. } => tracing::info!(%email, "first super_admin created"),
        }

        let workers = Workers::new(services.clone(), mailer);
        let state = Self {
            schema: graphql::build_schema(services.clone()),
            services,
            config: Arc::new(config),
        };
        Ok((state, workers))
    }
}
