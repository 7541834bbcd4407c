//! Wiring: configuration → infrastructure → domain services → schema.

use crate::{
    config::Config,
    domain::{
        activity::ActivityLog,
        agent_config::{intervals::CollectionSettings, versions::AgentVersions},
        auth::{password::PasswordHasher, sessions::Sessions, AuthService, AuthSettings},
        crypto::SecretBox,
        fleet::{organise::Organise, risks::RiskOverrides, Fleet},
        ingest::Ingest,
        notify::outbox::Outbox,
        pki::{
            ca::CertificateAuthority, certificates::Certificates, enrolment::Enrolment,
            install_tokens::InstallTokens,
        },
        status::StatusService,
        tenancy::{FirstAdmin, TenancyService},
        users::UserService,
        DomainError,
    },
    graphql::{self, AppSchema},
    infra::{
        mailer::{FileMailer, Mailer, SmtpMailer},
        secrets, Infra, InfraError,
    },
    jobs,
};
use std::sync::Arc;

/// Domain services, shared by GraphQL resolvers and HTTP handlers.
#[derive(Clone)]
pub struct Services {
    pub infra: Infra,
    pub status: StatusService,
    pub activity: ActivityLog,
    pub outbox: Outbox,
    pub auth: AuthService,
    pub users: UserService,
    pub tenancy: TenancyService,
    pub install_tokens: InstallTokens,
    pub enrolment: Enrolment,
    pub certificates: Certificates,
    pub agent_versions: AgentVersions,
    pub collection_settings: CollectionSettings,
    pub ingest: Ingest,
    pub fleet: Fleet,
    pub risk_overrides: RiskOverrides,
    pub organise: Organise,
}

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
    /// administrator exists, starts background jobs and builds the schema.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        secrets::ensure_data_dir(&config.data_dir)?;
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

        let hasher = PasswordHasher::new();
        let activity = ActivityLog::new(infra.db.clone());
        let outbox = Outbox::new(infra.db.clone());
        let sessions = Sessions::new(infra.db.conn.clone(), infra.sessions_cache.clone());
        let sealer = SecretBox::new(&secrets::totp_key(&config.data_dir)?);
        let auth = AuthService::new(
            infra.db.clone(),
            infra.cache.clone(),
            sessions.clone(),
            sealer,
            hasher.clone(),
            activity.clone(),
            outbox.clone(),
            AuthSettings {
                jwt_secret,
                rate_limit_attempts: config.auth_rate_limit_attempts,
                rate_limit_window: config.auth_rate_limit_window,
                dashboard_url: config.dashboard_url.clone(),
            },
        );
        match auth.seal_stored_totp_secrets().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(users = n, "sealed TOTP secrets stored in clear"),
            Err(e) => {
                tracing::error!(error = %e, "sealing stored TOTP secrets failed; retried at next start")
            }
        }
        let users = UserService::new(
            infra.db.clone(),
            sessions,
            hasher.clone(),
            activity.clone(),
            outbox.clone(),
            config.dashboard_url.clone(),
        );
        let tenancy = TenancyService::new(infra.db.clone(), users.clone(), hasher, activity.clone());
        let install_tokens =
            InstallTokens::new(infra.db.clone(), activity.clone(), config.dashboard_url.clone());
        let ca = Arc::new(CertificateAuthority::load_or_create(&config.data_dir)?);
        let agent_versions = AgentVersions::new(infra.db.clone(), infra.cache.clone());
        let enrolment = Enrolment::new(
            infra.db.clone(),
            infra.cache.clone(),
            infra.bus.clone(),
            ca,
            install_tokens.clone(),
            agent_versions.clone(),
            activity.clone(),
        );
        let services = Services {
            agent_versions,
            collection_settings: CollectionSettings::new(infra.db.clone()),
            ingest: Ingest::new(infra.db.clone(), infra.bus.clone(), infra.cache.clone()),
            fleet: Fleet::new(infra.db.clone()),
            risk_overrides: RiskOverrides::new(infra.db.clone()),
            organise: Organise::new(infra.db.clone()),
            certificates: Certificates::new(infra.db.clone(), infra.cache.clone()),
            enrolment,
            install_tokens,
            status: StatusService::new(infra.clone(), timescaledb),
            infra,
            activity,
            outbox,
            auth,
            users,
            tenancy,
        };

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

        jobs::spawn(&services, mailer);
        Ok(Self {
            schema: graphql::build_schema(services.clone()),
            services,
            config: Arc::new(config),
        })
    }
}
