//! The domain services, built once at start and shared by resolvers, HTTP
//! handlers, the agent gateway and the background jobs. Everything here is
//! infallible assembly: reading keys, connecting and migrating happen in
//! `app`, so this module depends on the domain and infra only.

use crate::domain::{docker::DockerPanel, windows_builds::WindowsBuilds};
use crate::{
    config::Config,
    domain::alerting::Alerting,
    domain::{
        activity::ActivityLog,
        agent_config::{intervals::CollectionSettings, versions::AgentVersions},
        agents::Agents,
        auth::{password::PasswordHasher, sessions::Sessions, AuthService, AuthSettings},
        crypto::SecretBox,
        fleet::{organise::Organise, risks::RiskOverrides, sites::Sites, Fleet},
        ingest::Ingest,
        licensing::Licensing,
        live::LiveFeed,
        notify::outbox::Outbox,
        pki::{ca::CertificateAuthority, certificates::Certificates, install_tokens::InstallTokens},
        status::StatusService,
        tenancy::{settings::TenantSettings, TenancyService},
        users::UserService,
    },
    infra::Infra,
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
    pub agents: Agents,
    pub certificates: Certificates,
    pub agent_versions: AgentVersions,
    pub collection_settings: CollectionSettings,
    pub ingest: Ingest,
    pub fleet: Fleet,
    pub risk_overrides: RiskOverrides,
    pub organise: Organise,
    /// Live events for subscriptions.
    pub live: LiveFeed,
    pub alerting: Alerting,
    /// What each tenant's licence allows; every gate asks it.
    pub licensing: Licensing,
    pub sites: Sites,
    pub windows_builds: WindowsBuilds,
    pub docker: DockerPanel,
    pub platform_stats: crate::domain::admin::PlatformStats,
    pub installers: crate::domain::agent_config::installers::Installers,
    pub settings: TenantSettings,
    /// Analyses: the engine behind the spec's protections.
    pub analyses: crate::domain::analysis::service::Analyses,
    /// AI routines and triggers.
    pub automation: crate::domain::analysis::automation::Automation,
    /// AI configuration (Enterprise): custom context, machine criticality.
    pub ai_config: crate::domain::analysis::config::AiConfiguration,
    /// The public contact form.
    pub contact: crate::domain::public::contact::ContactForm,
    /// The landing page's public figures.
    pub landing: crate::domain::public::landing::Landing,
    /// `/status/external`: UptimeRobot's monitors.
    pub external_monitors: crate::domain::status::external::ExternalMonitors,
    /// The public status page: service checks, uptime, incidents.
    pub status_board: crate::domain::status::report::StatusBoard,
}

/// Secrets read from the data dir (or the configuration) at start.
pub struct Keys {
    pub jwt_secret: Arc<str>,
    pub totp_sealer: SecretBox,
    pub ca: Arc<CertificateAuthority>,
}

impl Services {
    pub fn new(config: &Config, infra: Infra, timescaledb: bool, keys: Keys) -> Self {
        let hasher = PasswordHasher::with_cost(config.password_cost);
        let activity = ActivityLog::new(infra.db.clone());
        let outbox = Outbox::new(infra.db.clone());
        let sessions = Sessions::new(infra.db.conn.clone(), infra.sessions_cache.clone());
        let alerting = Alerting::new(
            infra.db.clone(),
            infra.bus.clone(),
            activity.clone(),
            outbox.clone(),
            Arc::new(crate::infra::webhook::HttpWebhooks::new(
                config.allow_private_webhooks,
            )),
            infra.clock.clone(),
            config.dashboard_url.clone(),
        );
        let auth = AuthService::new(
            infra.db.clone(),
            infra.cache.clone(),
            sessions.clone(),
            keys.totp_sealer,
            hasher.clone(),
            activity.clone(),
            outbox.clone(),
            AuthSettings {
                jwt_secret: keys.jwt_secret,
                rate_limit_attempts: config.auth_rate_limit_attempts,
                rate_limit_window: config.auth_rate_limit_window,
                dashboard_url: config.dashboard_url.clone(),
            },
            infra.clock.clone(),
        )
        .with_login_alarm(Arc::new(alerting.clone()));
        let users = UserService::new(
            infra.db.clone(),
            sessions,
            hasher.clone(),
            activity.clone(),
            outbox.clone(),
            config.dashboard_url.clone(),
        );
        let tenancy = TenancyService::new(
            infra.db.clone(),
            users.clone(),
            hasher,
            activity.clone(),
            infra.cache.clone(),
        );
        let licensing = Licensing::new(
            infra.db.clone(),
            infra.clock.clone(),
            activity.clone(),
            alerting.clone(),
        );
        let install_tokens = InstallTokens::new(
            infra.db.clone(),
            activity.clone(),
            config.dashboard_url.clone(),
            infra.clock.clone(),
        );
        let agent_versions = AgentVersions::new(infra.db.clone(), infra.cache.clone());
        let agents = Agents::new(
            infra.db.clone(),
            infra.cache.clone(),
            infra.bus.clone(),
            keys.ca,
            install_tokens.clone(),
            agent_versions.clone(),
            activity.clone(),
            infra.clock.clone(),
        );
        let sites = Sites::new(
            infra.db.clone(),
            licensing.clone(),
            activity.clone(),
            infra.clock.clone(),
        );
        let fleet = Fleet::new(infra.db.clone(), infra.clock.clone());
        let platform_stats =
            crate::domain::admin::PlatformStats::new(infra.db.clone(), fleet.clone(), infra.clock.clone());
        let installers = crate::domain::agent_config::installers::Installers::new(
            install_tokens.clone(),
            agent_versions.clone(),
            infra.cache.clone(),
        );
        let ai_config = crate::domain::analysis::config::AiConfiguration::new(
            infra.db.clone(),
            licensing.clone(),
            activity.clone(),
            infra.clock.clone(),
        );
        let analyses = crate::domain::analysis::service::Analyses::new(
            infra.db.clone(),
            infra.cache.clone(),
            infra.bus.clone(),
            infra.clock.clone(),
            licensing.clone(),
            activity.clone(),
            crate::domain::analysis::narrative::Narrator::new(config.claude.clone(), infra.cache.clone()),
            ai_config.clone(),
        );
        let automation = crate::domain::analysis::automation::Automation::new(
            infra.db.clone(),
            licensing.clone(),
            activity.clone(),
            outbox.clone(),
            infra.clock.clone(),
            analyses.clone(),
            config.dashboard_url.clone(),
        )
        .with_baselines(Arc::new(crate::domain::analysis::baselines::Baselines::new(
            infra.db.clone(),
            infra.clock.clone(),
        )));
        let contact = crate::domain::public::contact::ContactForm::new(
            infra.db.clone(),
            infra.cache.clone(),
            outbox.clone(),
            config.turnstile.clone().map(|t| {
                Arc::new(crate::infra::turnstile::Turnstile::new(t))
                    as Arc<dyn crate::domain::public::contact::BotCheck>
            }),
            config.contact_email.clone(),
            config.dashboard_url.clone(),
            infra.clock.clone(),
        );
        let landing = crate::domain::public::landing::Landing::new(
            infra.db.clone(),
            infra.cache.clone(),
            infra.clock.clone(),
        );
        let external_monitors = crate::domain::status::external::ExternalMonitors::new(
            config.uptimerobot.clone().map(|u| {
                Arc::new(crate::infra::uptimerobot::UptimeRobot::new(u))
                    as Arc<dyn crate::domain::status::external::MonitorSource>
            }),
            infra.cache.clone(),
            infra.clock.clone(),
        );
        let status_board = crate::domain::status::report::StatusBoard::new(
            StatusService::new(infra.clone(), timescaledb),
            infra.cache.clone(),
            infra.clock.clone(),
            fleet.clone(),
            config.claude.as_ref().map(|c| c.base_url.as_str()),
            crate::domain::status::uptime::Uptime::new(infra.db.clone()),
            crate::domain::status::incidents::Incidents::new(
                infra.db.clone(),
                infra.cache.clone(),
                infra.clock.clone(),
                activity.clone(),
            ),
        );
        Self {
            contact,
            landing,
            external_monitors,
            status_board,
            automation,
            ai_config,
            sites,
            licensing,
            windows_builds: WindowsBuilds::new(
                infra.db.clone(),
                activity.clone(),
                Arc::new(crate::infra::endoflife::HttpReleaseSource::new(
                    config.windows_builds_url.clone(),
                )),
            ),
            docker: DockerPanel::new(
                Arc::new(crate::infra::docker::DockerEngine::new(
                    config.docker_socket.clone(),
                )),
                activity.clone(),
            ),
            platform_stats,
            installers,
            settings: TenantSettings::new(infra.db.clone(), activity.clone()),
            analyses,
            alerting,
            agent_versions,
            collection_settings: CollectionSettings::new(infra.db.clone(), activity.clone()),
            ingest: Ingest::new(infra.db.clone(), infra.bus.clone(), infra.cache.clone()),
            fleet,
            risk_overrides: RiskOverrides::new(infra.db.clone(), activity.clone()),
            organise: Organise::new(infra.db.clone(), activity.clone()),
            live: LiveFeed::new(infra.fanout.clone()),
            certificates: Certificates::new(infra.db.clone(), infra.cache.clone()),
            agents,
            install_tokens,
            status: StatusService::new(infra.clone(), timescaledb),
            infra,
            activity,
            outbox,
            auth,
            users,
            tenancy,
        }
    }
}
