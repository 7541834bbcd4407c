//! The server's settings: each one an environment variable, declared once
//! in [`Settings`] with clap, so `optralis serve --help` lists every
//! variable with its default and meaning, and validated into a typed
//! [`Config`] before anything starts.
//!
//! Every variable is optional: with none set the server runs on SQLite and
//! the in-process cache in `./data`. A variable set to blanks counts as
//! unset. A variable that is set but invalid is an error naming that
//! variable; `main` prints it on one line and exits 2. Values reach clap as
//! plain strings so that clap never refuses one with its own multi-line
//! message: the checks below are the only ones, and they name variables.

use crate::domain::analysis::narrative::ClaudeSettings;
use crate::domain::auth::password::PasswordCost;
use crate::infra::anthropic::ApiKey;
use clap::{Args, FromArgMatches};
use entities::enums::Language;
use std::{collections::HashMap, ffi::OsString, net::IpAddr, path::PathBuf, time::Duration};
use url::Url;

/// Minimum length of a configured `JWT_SECRET`.
pub const MIN_JWT_SECRET_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &'static str, reason: impl Into<String>) -> Self {
        Self {
            variable,
            reason: reason.into(),
        }
    }
}

/// Every setting of `optralis serve` and `optralis migrate`. Each is an
/// environment variable and, for one-off runs, a flag of the same name in
/// kebab case (`PORT` → `--port`); a flag wins over the variable.
///
/// The README's configuration table documents the same variables; a test
/// keeps the two lists equal.
#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Where the SQLite database, the generated JWT secret, the agent CA and
    /// the TOTP sealing key live
    #[arg(
        long,
        env = "OPTRALIS_DATA_DIR",
        default_value = "./data",
        help_heading = "Server"
    )]
    pub optralis_data_dir: String,
    /// HTTP port (GraphQL, health)
    #[arg(long, env = "PORT", default_value = "3000", help_heading = "Server")]
    pub port: String,
    /// Address to listen on
    #[arg(
        long,
        env = "BIND_ADDRESS",
        default_value = "0.0.0.0",
        help_heading = "Server"
    )]
    pub bind_address: String,
    /// `development` drops the `Secure` flag from session cookies
    #[arg(
        long,
        env = "OPTRALIS_ENV",
        default_value = "production",
        help_heading = "Server"
    )]
    pub optralis_env: String,
    /// Per-request time limit on both ports, reading the body included
    /// (HTTP 408 past it)
    #[arg(
        long,
        env = "REQUEST_TIMEOUT_SECONDS",
        default_value = "30",
        help_heading = "Server"
    )]
    pub request_timeout_seconds: String,
    /// Open connections on the main port, WebSockets included [default:
    /// half of what the open-file limit leaves]
    #[arg(long, env = "MAX_CONNECTIONS", help_heading = "Server")]
    pub max_connections: Option<String>,
    /// Comma-separated origins (`https://app.example.com`) allowed with
    /// credentials (cookies) [default: any origin, without credentials]
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", help_heading = "Server")]
    pub cors_allowed_origins: Option<String>,
    /// Take the client IP from `X-Forwarded-For`, only behind your own
    /// proxy: the right-most address that is not one of TRUSTED_PROXIES,
    /// and only when the direct peer is one of them
    #[arg(
        long,
        env = "TRUST_PROXY_HEADERS",
        default_value = "false",
        help_heading = "Server"
    )]
    pub trust_proxy_headers: String,
    /// Comma-separated addresses or CIDR ranges of your reverse proxies
    #[arg(long, env = "TRUSTED_PROXIES", default_value = DEFAULT_TRUSTED_PROXIES, help_heading = "Server")]
    pub trusted_proxies: String,
    /// Base of links in emails (password reset) [default:
    /// http://localhost:$PORT]
    #[arg(long, env = "DASHBOARD_URL", help_heading = "Server")]
    pub dashboard_url: Option<String>,
    /// `json` for structured logs; RUST_LOG refines the filter
    #[arg(long, env = "LOG_FORMAT", default_value = "text", help_heading = "Server")]
    pub log_format: String,

    /// `postgres://user:pass@host:5432/db` for PostgreSQL (TimescaleDB used
    /// when installed), or `sqlite:///path/file.db` [default: SQLite file in
    /// the data dir]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, help_heading = "Storage")]
    pub database_url: Option<String>,
    /// Pool size (SQLite uses at most 8)
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value = "25",
        help_heading = "Storage"
    )]
    pub database_max_connections: String,
    /// `redis://host:6379`: cache, rate limits and the event bus shared by
    /// all instances [default: in-process]
    #[arg(long, env = "REDIS_URL", hide_env_values = true, help_heading = "Storage")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel
    #[arg(
        long,
        env = "REDIS_KEY_PREFIX",
        default_value = "optralis:",
        help_heading = "Storage"
    )]
    pub redis_key_prefix: String,

    /// Token signing secret, at least 32 characters [default: generated
    /// once into the data dir]
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, help_heading = "Security")]
    pub jwt_secret: Option<String>,
    /// Attempts per IP on login, refresh, MFA and password reset
    #[arg(
        long,
        env = "AUTH_RATE_LIMIT_ATTEMPTS",
        default_value = "5",
        help_heading = "Security"
    )]
    pub auth_rate_limit_attempts: String,
    /// Window of AUTH_RATE_LIMIT_ATTEMPTS
    #[arg(
        long,
        env = "AUTH_RATE_LIMIT_WINDOW_SECONDS",
        default_value = "900",
        help_heading = "Security"
    )]
    pub auth_rate_limit_window_seconds: String,
    /// First super_admin, created on an empty database
    #[arg(
        long,
        env = "DEFAULT_ADMIN_EMAIL",
        default_value = "admin@optralis.local",
        help_heading = "Security"
    )]
    pub default_admin_email: String,
    /// Its password: 12+ characters with upper, lower, digit and special;
    /// changed at first login [default: random, printed once]
    #[arg(
        long,
        env = "DEFAULT_ADMIN_PASSWORD",
        hide_env_values = true,
        help_heading = "Security"
    )]
    pub default_admin_password: Option<String>,

    /// SMTP relay for emails [default: emails written to
    /// data/outbox/*.eml]
    #[arg(long, env = "SMTP_HOST", help_heading = "Email")]
    pub smtp_host: Option<String>,
    /// SMTP port
    #[arg(long, env = "SMTP_PORT", default_value = "587", help_heading = "Email")]
    pub smtp_port: String,
    /// `starttls`, `tls` or `none` [default: starttls, tls on port 465]
    #[arg(long, env = "SMTP_TLS", help_heading = "Email")]
    pub smtp_tls: Option<String>,
    /// SMTP user name
    #[arg(long, env = "SMTP_USER", help_heading = "Email")]
    pub smtp_user: Option<String>,
    /// SMTP password
    #[arg(long, env = "SMTP_PASS", hide_env_values = true, help_heading = "Email")]
    pub smtp_pass: Option<String>,
    /// Sender of emails
    #[arg(
        long,
        env = "SMTP_FROM",
        default_value = "Optralis <noreply@optralis.local>",
        help_heading = "Email"
    )]
    pub smtp_from: String,

    /// Lets webhooks reach loopback, private and plain-http targets: for
    /// tests and lab setups only
    #[arg(
        long,
        env = "ALLOW_PRIVATE_WEBHOOKS",
        default_value = "false",
        help_heading = "Notifications"
    )]
    pub allow_private_webhooks: String,

    /// endoflife.date's Windows release list, read when a super_admin
    /// refreshes the known Windows builds
    #[arg(
        long,
        env = "WINDOWS_BUILDS_URL",
        default_value = "https://endoflife.date/api/windows.json",
        help_heading = "Super admin"
    )]
    pub windows_builds_url: String,
    /// Unix socket of the Docker engine behind the super_admin's Docker
    /// panel
    #[arg(
        long,
        env = "DOCKER_SOCKET",
        default_value = "/var/run/docker.sock",
        help_heading = "Super admin"
    )]
    pub docker_socket: String,

    /// Agent gateway port (TLS, client certificates)
    #[arg(
        long,
        env = "AGENT_PORT",
        default_value = "8443",
        help_heading = "Agent gateway"
    )]
    pub agent_port: String,
    /// Names and IPs in the gateway's server certificate
    #[arg(
        long,
        env = "AGENT_TLS_NAMES",
        default_value = "localhost,127.0.0.1",
        help_heading = "Agent gateway"
    )]
    pub agent_tls_names: String,
    /// Requests per machine and minute on /agent/* (429 past it)
    #[arg(
        long,
        env = "AGENT_RATE_LIMIT_PER_MINUTE",
        default_value = "3000",
        help_heading = "Agent gateway"
    )]
    pub agent_rate_limit_per_minute: String,
    /// Open connections on the agent gateway [default: the other half of
    /// what the open-file limit leaves]
    #[arg(long, env = "AGENT_MAX_CONNECTIONS", help_heading = "Agent gateway")]
    pub agent_max_connections: Option<String>,
    /// Gateway connections without a client certificate per client address
    /// (IPv6: per /64), and eight times as many TLS handshakes in progress
    #[arg(
        long,
        env = "AGENT_ANONYMOUS_CONNECTIONS_PER_IP",
        default_value = "32",
        help_heading = "Agent gateway"
    )]
    pub agent_anonymous_connections_per_ip: String,

    /// Anthropic key: Claude writes the analyses' narrative [default: our
    /// built-in templates write it]
    #[arg(
        long,
        env = "ANTHROPIC_API_KEY",
        hide_env_values = true,
        help_heading = "Analyses"
    )]
    pub anthropic_api_key: Option<String>,
    /// Base URL of the Anthropic Messages API
    #[arg(
        long,
        env = "ANTHROPIC_BASE_URL",
        default_value = crate::infra::anthropic::DEFAULT_BASE_URL,
        help_heading = "Analyses"
    )]
    pub anthropic_base_url: String,
    /// Claude model writing the narrative
    #[arg(
        long,
        env = "AI_MODEL",
        default_value = "claude-sonnet-4-20250514",
        help_heading = "Analyses"
    )]
    pub ai_model: String,
    /// Longest narrative Claude may write, in tokens
    #[arg(
        long,
        env = "AI_MAX_TOKENS",
        default_value = "4096",
        help_heading = "Analyses"
    )]
    pub ai_max_tokens: String,
    /// Language of analyses when the tenant has none (`fr` or `en`)
    #[arg(
        long,
        env = "AI_DEFAULT_LANGUAGE",
        default_value = "fr",
        help_heading = "Analyses"
    )]
    pub ai_default_language: String,
    /// Calls to Claude per minute; past it the built-in templates write
    /// the narrative
    #[arg(
        long,
        env = "AI_RATE_LIMIT_PER_MINUTE",
        default_value = "60",
        help_heading = "Analyses"
    )]
    pub ai_rate_limit_per_minute: String,
    /// How long a Claude narrative is reused for identical findings (0:
    /// never)
    #[arg(
        long,
        env = "AI_CACHE_TTL_MINUTES",
        default_value = "30",
        help_heading = "Analyses"
    )]
    pub ai_cache_ttl_minutes: String,

    /// UptimeRobot read-only API key: `/status/external` lists its
    /// monitors (an empty list without it)
    #[arg(
        long,
        env = "UPTIMEROBOT_API_KEY",
        hide_env_values = true,
        help_heading = "Public face"
    )]
    pub uptimerobot_api_key: Option<String>,
    /// Base URL of the UptimeRobot API
    #[arg(
        long,
        env = "UPTIMEROBOT_BASE_URL",
        default_value = "https://api.uptimerobot.com/v2",
        help_heading = "Public face"
    )]
    pub uptimerobot_base_url: String,
    /// Cloudflare Turnstile secret: the contact form then requires a valid
    /// token (no check without it)
    #[arg(
        long,
        env = "TURNSTILE_SECRET_KEY",
        hide_env_values = true,
        help_heading = "Public face"
    )]
    pub turnstile_secret_key: Option<String>,
    /// Turnstile's siteverify endpoint
    #[arg(
        long,
        env = "TURNSTILE_VERIFY_URL",
        default_value = "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        help_heading = "Public face"
    )]
    pub turnstile_verify_url: String,
    /// Where contact-form messages are e-mailed (stored in any case)
    #[arg(long, env = "CONTACT_EMAIL", help_heading = "Public face")]
    pub contact_email: Option<String>,
    /// Serve the GraphiQL explorer at `GET /graphql` for browsers
    #[arg(long, env = "GRAPHIQL", default_value = "true", help_heading = "Public face")]
    pub graphiql: String,
    /// Bearer token for `GET /metrics`; unset, only loopback may scrape
    #[arg(
        long,
        env = "METRICS_TOKEN",
        hide_env_values = true,
        help_heading = "Public face"
    )]
    pub metrics_token: Option<String>,
}

impl Settings {
    /// Reads the settings from an environment-like map, and from nothing
    /// else: clap reads the process environment only, so each declared
    /// variable found in `vars` is handed to the same parser as its flag.
    pub fn from_vars(vars: &HashMap<String, String>) -> Self {
        let command = Self::augment_args(clap::Command::new("optralis"));
        let mut argv: Vec<OsString> = vec!["optralis".into()];
        for arg in command.get_arguments() {
            let (Some(variable), Some(flag)) = (arg.get_env(), arg.get_long()) else {
                continue;
            };
            let value = variable.to_str().and_then(|v| vars.get(v)).map(|v| v.trim());
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                argv.push(format!("--{flag}={value}").into());
            }
        }
        let matches = command
            .mut_args(|arg| arg.env(None))
            .try_get_matches_from(argv)
            .expect("every setting is a plain string");
        Self::from_arg_matches(&matches).expect("every setting is a plain string")
    }

    /// Every variable, in declaration order.
    pub fn variables() -> Vec<String> {
        Self::augment_args(clap::Command::new("optralis"))
            .get_arguments()
            .filter_map(|arg| arg.get_env()?.to_str().map(str::to_owned))
            .collect()
    }
}

/// Makes a blank variable count as unset (its default then applies), as a
/// compose file's `REDIS_URL=` means. clap would take the empty string as
/// the value.
pub fn ignore_blank_variables(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| {
        let blank = arg
            .get_env()
            .and_then(std::env::var_os)
            .is_some_and(|v| v.to_str().is_some_and(|v| v.trim().is_empty()));
        if blank {
            arg.env(None)
        } else {
            arg
        }
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// The embedded default: a file in the data dir.
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        url: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No list configured: any origin, without credentials (Bearer only).
    Any,
    /// Exact origins, credentials (cookies) allowed.
    List(Vec<String>),
}
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind_addr: IpAddr,
    pub port: u16,
    pub database: DatabaseTarget,
    /// Upper bound of pooled database connections.
    pub database_max_connections: u32,
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel, so several deployments (or
    /// test runs) can share one Redis.
    pub redis_prefix: String,
    /// `None`: generated once and kept in the data dir.
    pub jwt_secret: Option<String>,
    pub cors_origins: CorsOrigins,
    pub request_timeout: Duration,
    pub log_json: bool,
    /// `production` (default) or `development`: cookies are `Secure`
    /// outside development.
    pub development: bool,
    /// Dashboard base URL, for links in emails.
    pub dashboard_url: String,
    /// Take the client IP from `X-Forwarded-For` (behind a reverse proxy).
    pub trust_proxy_headers: bool,
    /// Proxies whose `X-Forwarded-For` entries are believed, when
    /// `trust_proxy_headers` is on.
    pub trusted_proxies: Vec<Cidr>,
    pub default_admin_email: String,
    /// `None`: a random password is generated and printed once.
    pub default_admin_password: Option<String>,
    pub auth_rate_limit_attempts: u64,
    pub auth_rate_limit_window: Duration,
    /// Always production's; only in-process test servers lower it, since
    /// no variable sets it.
    pub password_cost: PasswordCost,
    /// `None`: emails are written as files under `<data_dir>/outbox`.
    pub smtp: Option<SmtpConfig>,
    /// Port of the agent gateway (mutual TLS).
    pub agent_port: u16,
    /// Names in the gateway's server certificate.
    pub agent_tls_names: Vec<String>,
    /// Requests per machine and minute on `/agent/*`.
    pub agent_rate_limit_per_minute: u64,
    /// Open connections on the main port; `None`: sized from the
    /// open-file limit at start.
    pub max_connections: Option<usize>,
    /// Open connections on the agent gateway; `None`: sized likewise.
    pub agent_max_connections: Option<usize>,
    /// Gateway connections without a client certificate per client address.
    pub agent_anonymous_connections_per_ip: usize,
    /// Webhooks may target loopback, private networks and plain http
    /// (tests and labs); off, such URLs are refused.
    pub allow_private_webhooks: bool,
    /// Where the known Windows builds are refreshed from.
    pub windows_builds_url: String,
    /// The Docker engine's unix socket (the super_admin's Docker panel).
    pub docker_socket: String,
    /// Claude as the analyses' narrator; `None` without `ANTHROPIC_API_KEY`
    /// (our templates write every narrative).
    pub claude: Option<ClaudeSettings>,
    /// Language of analyses for a tenant without one.
    pub ai_default_language: Language,
    /// `/status/external`'s source; `None` without `UPTIMEROBOT_API_KEY`.
    pub uptimerobot: Option<UptimeRobotSettings>,
    /// Contact-form bot check; `None` without `TURNSTILE_SECRET_KEY`.
    pub turnstile: Option<TurnstileSettings>,
    /// Recipient of contact-form notifications.
    pub contact_email: Option<String>,
    pub graphiql: bool,
    /// `None`: `/metrics` answers loopback clients only.
    pub metrics_token: Option<String>,
}

#[derive(Clone, Debug)]
pub struct UptimeRobotSettings {
    pub api_key: String,
    pub base_url: String,
}

#[derive(Clone, Debug)]
pub struct TurnstileSettings {
    pub secret_key: String,
    pub verify_url: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    None,
    StartTls,
    Tls,
}

#[derive(Clone, Debug)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

impl Config {
    /// Reads from any variable map (tests and benches pass their own).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_settings(&Settings::from_vars(vars))
    }

    /// Validates the settings; the first invalid one is named.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(s.optralis_data_dir.trim());

        let port = port_number(&s.port, "PORT")?;

        let bind_addr = s.bind_address.trim().parse().map_err(|_| {
            ConfigError::new(
                "BIND_ADDRESS",
                format!("{:?} is not an IP address", s.bind_address),
            )
        })?;

        let database = match set(&s.database_url) {
            None => DatabaseTarget::Sqlite {
                path: data_dir.join("optralis.db"),
            },
            Some(raw) => parse_database_url(raw)?,
        };

        let database_max_connections = s
            .database_max_connections
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    "DATABASE_MAX_CONNECTIONS",
                    "must be an integer between 1 and 1000",
                )
            })?;

        let redis_url = set(&s.redis_url).map(validate_redis_url).transpose()?;
        let redis_prefix = s.redis_key_prefix.trim().to_owned();

        let jwt_secret = match set(&s.jwt_secret) {
            None => None,
            Some(secret) if secret.chars().count() < MIN_JWT_SECRET_LEN => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    format!(
                        "must be at least {MIN_JWT_SECRET_LEN} characters (got {})",
                        secret.chars().count()
                    ),
                ))
            }
            Some(secret) => Some(secret.to_owned()),
        };

        let cors_origins = match set(&s.cors_allowed_origins) {
            None | Some("*") => CorsOrigins::Any,
            Some(raw) => CorsOrigins::List(parse_origins(raw)?),
        };

        let request_timeout = s
            .request_timeout_seconds
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=3600).contains(n))
            .map(Duration::from_secs)
            .ok_or_else(|| {
                ConfigError::new("REQUEST_TIMEOUT_SECONDS", "must be an integer between 1 and 3600")
            })?;

        let log_json = match s.log_format.trim() {
            "text" => false,
            "json" => true,
            other => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("{other:?} is neither \"text\" nor \"json\""),
                ))
            }
        };

        let development = match s.optralis_env.trim() {
            "production" => false,
            "development" => true,
            other => {
                return Err(ConfigError::new(
                    "OPTRALIS_ENV",
                    format!("{other:?} is neither \"production\" nor \"development\""),
                ))
            }
        };
        let dashboard_url = match set(&s.dashboard_url) {
            None => format!("http://localhost:{port}"),
            Some(raw) => {
                let url = Url::parse(raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| ConfigError::new("DASHBOARD_URL", "must be an http(s) URL"))?;
                url.as_str().trim_end_matches('/').to_owned()
            }
        };
        let trust_proxy_headers = parse_bool(&s.trust_proxy_headers, "TRUST_PROXY_HEADERS")?;
        let trusted_proxies = s
            .trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|raw| {
                raw.parse::<Cidr>().map_err(|_| {
                    ConfigError::new(
                        "TRUSTED_PROXIES",
                        format!("{raw:?} is not an IP address or CIDR range (10.0.0.0/8, fd00::/8)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let default_admin_email = s.default_admin_email.trim().to_owned();
        if !default_admin_email.contains('@') {
            return Err(ConfigError::new("DEFAULT_ADMIN_EMAIL", "is not an email address"));
        }
        let default_admin_password = set(&s.default_admin_password).map(str::to_owned);
        if let Some(p) = &default_admin_password {
            crate::domain::auth::password::check_policy(p)
                .map_err(|reason| ConfigError::new("DEFAULT_ADMIN_PASSWORD", reason))?;
        }
        let auth_rate_limit_attempts = s
            .auth_rate_limit_attempts
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ConfigError::new("AUTH_RATE_LIMIT_ATTEMPTS", "must be a positive integer"))?;
        let auth_rate_limit_window = s
            .auth_rate_limit_window_seconds
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=86_400).contains(n))
            .map(Duration::from_secs)
            .ok_or_else(|| ConfigError::new("AUTH_RATE_LIMIT_WINDOW_SECONDS", "must be 1-86400"))?;
        let smtp = match set(&s.smtp_host) {
            None => None,
            Some(host) => {
                let port = s
                    .smtp_port
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| ConfigError::new("SMTP_PORT", "must be a port number"))?;
                let security = match set(&s.smtp_tls) {
                    None if port == 465 => SmtpSecurity::Tls,
                    None | Some("starttls") => SmtpSecurity::StartTls,
                    Some("tls") => SmtpSecurity::Tls,
                    Some("none") => SmtpSecurity::None,
                    Some(other) => {
                        return Err(ConfigError::new(
                            "SMTP_TLS",
                            format!("{other:?} is not one of starttls, tls, none"),
                        ))
                    }
                };
                let from = s.smtp_from.trim().to_owned();
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(ConfigError::new("SMTP_FROM", "is not an email address"));
                }
                Some(SmtpConfig {
                    host: host.to_owned(),
                    port,
                    security,
                    username: set(&s.smtp_user).map(str::to_owned),
                    password: set(&s.smtp_pass).map(str::to_owned),
                    from,
                })
            }
        };

        let agent_port = port_number(&s.agent_port, "AGENT_PORT")?;
        let agent_tls_names: Vec<String> = s
            .agent_tls_names
            .split(',')
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        if agent_tls_names.is_empty() {
            return Err(ConfigError::new(
                "AGENT_TLS_NAMES",
                "needs at least one host name or IP",
            ));
        }

        let agent_rate_limit_per_minute = s
            .agent_rate_limit_per_minute
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ConfigError::new("AGENT_RATE_LIMIT_PER_MINUTE", "must be a positive integer"))?;

        let connection_count = |name: &'static str, raw: &str| {
            raw.parse::<usize>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| ConfigError::new(name, "must be an integer between 1 and 1000000"))
        };
        let max_connections = set(&s.max_connections)
            .map(|raw| connection_count("MAX_CONNECTIONS", raw))
            .transpose()?;
        let agent_max_connections = set(&s.agent_max_connections)
            .map(|raw| connection_count("AGENT_MAX_CONNECTIONS", raw))
            .transpose()?;
        let agent_anonymous_connections_per_ip = connection_count(
            "AGENT_ANONYMOUS_CONNECTIONS_PER_IP",
            s.agent_anonymous_connections_per_ip.trim(),
        )?;

        let allow_private_webhooks = parse_bool(&s.allow_private_webhooks, "ALLOW_PRIVATE_WEBHOOKS")?;
        let windows_builds_url = Url::parse(s.windows_builds_url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| ConfigError::new("WINDOWS_BUILDS_URL", "must be an http(s) URL"))?
            .to_string();
        let docker_socket = s.docker_socket.trim();
        let docker_socket = docker_socket
            .strip_prefix("unix://")
            .unwrap_or(docker_socket)
            .to_owned();
        if !docker_socket.starts_with('/') {
            return Err(ConfigError::new(
                "DOCKER_SOCKET",
                "must be an absolute path to a unix socket",
            ));
        }

        let claude = claude_settings(s)?;
        let ai_default_language = match s.ai_default_language.trim() {
            "fr" => Language::Fr,
            "en" => Language::En,
            other => {
                return Err(ConfigError::new(
                    "AI_DEFAULT_LANGUAGE",
                    format!("{other:?} is neither \"fr\" nor \"en\""),
                ))
            }
        };

        let http_url = |raw: &str, variable: &'static str| {
            Url::parse(raw.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|u| u.as_str().trim_end_matches('/').to_owned())
                .ok_or_else(|| ConfigError::new(variable, "must be an http(s) URL"))
        };
        let uptimerobot = match set(&s.uptimerobot_api_key) {
            None => None,
            Some(key) => Some(UptimeRobotSettings {
                api_key: key.to_owned(),
                base_url: http_url(&s.uptimerobot_base_url, "UPTIMEROBOT_BASE_URL")?,
            }),
        };
        let turnstile = match set(&s.turnstile_secret_key) {
            None => None,
            Some(secret) => Some(TurnstileSettings {
                secret_key: secret.to_owned(),
                verify_url: http_url(&s.turnstile_verify_url, "TURNSTILE_VERIFY_URL")?,
            }),
        };
        let contact_email = match set(&s.contact_email) {
            None => None,
            Some(address) if address.parse::<lettre::Address>().is_ok() => Some(address.to_owned()),
            Some(_) => return Err(ConfigError::new("CONTACT_EMAIL", "is not an e-mail address")),
        };
        let graphiql = parse_bool(&s.graphiql, "GRAPHIQL")?;
        let metrics_token = set(&s.metrics_token).map(str::to_owned);

        Ok(Self {
            uptimerobot,
            turnstile,
            contact_email,
            graphiql,
            metrics_token,
            claude,
            ai_default_language,
            password_cost: PasswordCost::PRODUCTION,
            allow_private_webhooks,
            windows_builds_url,
            docker_socket,
            max_connections,
            agent_max_connections,
            agent_anonymous_connections_per_ip,
            agent_rate_limit_per_minute,
            agent_port,
            agent_tls_names,
            development,
            dashboard_url,
            trust_proxy_headers,
            trusted_proxies,
            default_admin_email,
            default_admin_password,
            auth_rate_limit_attempts,
            auth_rate_limit_window,
            smtp,
            data_dir,
            bind_addr,
            port,
            database,
            database_max_connections,
            redis_url,
            redis_prefix,
            jwt_secret,
            cors_origins,
            request_timeout,
            log_json,
        })
    }
}

/// The AI_* settings are checked even without a key, so a typo shows at
/// the first start rather than the day a key is added.
fn claude_settings(s: &Settings) -> Result<Option<ClaudeSettings>, ConfigError> {
    let base_url = Url::parse(s.anthropic_base_url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| ConfigError::new("ANTHROPIC_BASE_URL", "must be an http(s) URL"))?
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    let model = s.ai_model.trim().to_owned();
    if model.is_empty() {
        return Err(ConfigError::new("AI_MODEL", "must name a model"));
    }
    let max_tokens = s
        .ai_max_tokens
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=64_000).contains(n))
        .ok_or_else(|| ConfigError::new("AI_MAX_TOKENS", "must be an integer between 1 and 64000"))?;
    let rate_limit_per_minute = s
        .ai_rate_limit_per_minute
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| ConfigError::new("AI_RATE_LIMIT_PER_MINUTE", "must be a positive integer"))?;
    let cache_ttl = s
        .ai_cache_ttl_minutes
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n <= 7 * 24 * 60)
        .map(|m| Duration::from_secs(m * 60))
        .ok_or_else(|| ConfigError::new("AI_CACHE_TTL_MINUTES", "must be an integer between 0 and 10080"))?;
    let Some(api_key) = set(&s.anthropic_api_key).map(ApiKey::new) else {
        return Ok(None);
    };
    if !api_key.is_well_formed() {
        // Never echo the value: it is a secret, even when mistyped.
        return Err(ConfigError::new(
            "ANTHROPIC_API_KEY",
            "must be printable ASCII without spaces",
        ));
    }
    Ok(Some(ClaudeSettings {
        api_key,
        base_url,
        model,
        max_tokens,
        rate_limit_per_minute,
        cache_ttl,
    }))
}

/// A value that is set and not blank.
fn set(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn port_number(raw: &str, variable: &'static str) -> Result<u16, ConfigError> {
    raw.trim()
        .parse::<u16>()
        .map_err(|_| ConfigError::new(variable, format!("{raw:?} is not a port number (0-65535)")))
}

/// A proxy on the same host; any other must be named.
const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.0/8,::1";

/// An IP range (`10.0.0.0/8`, `fd00::/8`) or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            match prefix {
                0 => 0,
                p => bits >> (width - p),
            }
        }
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128) == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (raw, None),
        };
        let network = addr.trim().parse::<IpAddr>().map_err(|_| ())?.to_canonical();
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= width).ok_or(())?,
        };
        Ok(Self { network, prefix })
    }
}

fn parse_bool(raw: &str, variable: &'static str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "false" | "0" | "no" => Ok(false),
        "true" | "1" | "yes" => Ok(true),
        _ => Err(ConfigError::new(variable, "must be true or false")),
    }
}

fn parse_database_url(raw: &str) -> Result<DatabaseTarget, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::new("DATABASE_URL", format!("not a URL ({e})")))?;
    match url.scheme() {
        "postgres" | "postgresql" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(ConfigError::new("DATABASE_URL", "a PostgreSQL URL needs a host"));
            }
            Ok(DatabaseTarget::Postgres { url: raw.to_owned() })
        }
        "sqlite" => {
            let path = raw
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
                .split('?')
                .next()
                .unwrap_or_default();
            if path.is_empty() {
                return Err(ConfigError::new("DATABASE_URL", "a SQLite URL needs a file path"));
            }
            Ok(DatabaseTarget::Sqlite {
                path: PathBuf::from(path),
            })
        }
        other => Err(ConfigError::new(
            "DATABASE_URL",
            format!("unsupported scheme {other:?} (use postgres:// or sqlite://)"),
        )),
    }
}

fn validate_redis_url(raw: &str) -> Result<String, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::new("REDIS_URL", format!("not a URL ({e})")))?;
    match url.scheme() {
        "redis" | "rediss" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(raw.to_owned()),
        "redis" | "rediss" => Err(ConfigError::new("REDIS_URL", "a Redis URL needs a host")),
        other => Err(ConfigError::new(
            "REDIS_URL",
            format!("unsupported scheme {other:?} (use redis:// or rediss://)"),
        )),
    }
}

fn parse_origins(raw: &str) -> Result<Vec<String>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|origin| {
            let url = Url::parse(origin).map_err(|_| {
                ConfigError::new("CORS_ALLOWED_ORIGINS", format!("{origin:?} is not an origin URL"))
            })?;
            let valid = matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.path() == "/"
                && url.query().is_none();
            if !valid {
                return Err(ConfigError::new(
                    "CORS_ALLOWED_ORIGINS",
                    format!("{origin:?} must be scheme://host[:port] with no path"),
                ));
            }
            Ok(origin.trim_end_matches('/').to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let cfg = Config::from_vars(&HashMap::new()).unwrap();
        assert_eq!(cfg.port, 3000);
        assert_eq!(cfg.data_dir, PathBuf::from("./data"));
        assert_eq!(
            cfg.database,
            DatabaseTarget::Sqlite {
                path: PathBuf::from("./data/optralis.db")
            }
        );
        assert!(cfg.redis_url.is_none());
        assert!(cfg.jwt_secret.is_none());
        assert_eq!(cfg.cors_origins, CorsOrigins::Any);
        assert!(!cfg.allow_private_webhooks);
        assert_eq!(cfg.windows_builds_url, "https://endoflife.date/api/windows.json");
        assert_eq!(cfg.docker_socket, "/var/run/docker.sock");
        let cfg = Config::from_vars(&vars(&[
            ("ALLOW_PRIVATE_WEBHOOKS", "true"),
            ("DOCKER_SOCKET", "unix:///run/user/1000/docker.sock"),
        ]))
        .unwrap();
        assert!(cfg.allow_private_webhooks);
        assert_eq!(cfg.docker_socket, "/run/user/1000/docker.sock");
    }

    #[test]
    fn claude_is_the_narrator_only_with_a_key() {
        let cfg = Config::from_vars(&HashMap::new()).unwrap();
        assert!(cfg.claude.is_none());
        assert_eq!(cfg.ai_default_language, Language::Fr);
        let cfg = Config::from_vars(&vars(&[
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/"),
            ("AI_DEFAULT_LANGUAGE", "en"),
        ]))
        .unwrap();
        let claude = cfg.claude.as_ref().expect("a key configures Claude");
        assert_eq!(claude.base_url, "http://127.0.0.1:9");
        assert_eq!(claude.model, "claude-sonnet-4-20250514");
        assert_eq!(claude.max_tokens, 4096);
        assert_eq!(claude.rate_limit_per_minute, 60);
        assert_eq!(claude.cache_ttl, Duration::from_secs(30 * 60));
        assert_eq!(cfg.ai_default_language, Language::En);
        assert!(
            !format!("{cfg:?}").contains("sk-ant-secret"),
            "the key never prints"
        );
    }

    #[test]
    fn data_dir_moves_the_sqlite_file() {
        let cfg = Config::from_vars(&vars(&[("OPTRALIS_DATA_DIR", "/srv/opt")])).unwrap();
        assert_eq!(
            cfg.database,
            DatabaseTarget::Sqlite {
                path: PathBuf::from("/srv/opt/optralis.db")
            }
        );
    }

    #[test]
    fn short_jwt_secret_is_refused_by_name() {
        let err = Config::from_vars(&vars(&[("JWT_SECRET", "short")])).unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
        assert!(err
            .to_string()
            .starts_with("invalid JWT_SECRET: must be at least 32"));
        let ok = Config::from_vars(&vars(&[("JWT_SECRET", &"x".repeat(32))])).unwrap();
        assert_eq!(ok.jwt_secret.as_deref(), Some("x".repeat(32).as_str()));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("PORT", "http"),
            ("PORT", "70000"),
            ("DATABASE_URL", "mysql://db/x"),
            ("DATABASE_URL", "not a url"),
            ("REDIS_URL", "http://cache"),
            ("CORS_ALLOWED_ORIGINS", "https://ok.example, ftp://bad"),
            ("CORS_ALLOWED_ORIGINS", "https://ok.example/path"),
            ("LOG_FORMAT", "xml"),
            ("BIND_ADDRESS", "everywhere"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("REQUEST_TIMEOUT_SECONDS", "-1"),
            ("DEFAULT_ADMIN_PASSWORD", "weakpassword"),
            ("OPTRALIS_ENV", "staging"),
            ("TRUST_PROXY_HEADERS", "perhaps"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TRUSTED_PROXIES", "10.0.0.1, proxy.internal"),
            ("DASHBOARD_URL", "ftp://x"),
            ("AGENT_PORT", "tls"),
            ("MAX_CONNECTIONS", "0"),
            ("AGENT_MAX_CONNECTIONS", "many"),
            ("AGENT_ANONYMOUS_CONNECTIONS_PER_IP", "-1"),
            ("ALLOW_PRIVATE_WEBHOOKS", "sometimes"),
            ("WINDOWS_BUILDS_URL", "file:///etc/windows.json"),
            ("DOCKER_SOCKET", "docker.sock"),
            ("ANTHROPIC_BASE_URL", "api.anthropic.com"),
            ("AI_MAX_TOKENS", "0"),
            ("AI_DEFAULT_LANGUAGE", "de"),
            ("AI_RATE_LIMIT_PER_MINUTE", "0"),
            ("AI_CACHE_TTL_MINUTES", "-5"),
            ("ANTHROPIC_API_KEY", "sk-ant key with spaces"),
        ] {
            let err = Config::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert_eq!(err.variable, name, "{name}={value}");
        }
    }

    #[test]
    fn trusted_proxies_match_their_ranges() {
        let cfg = Config::from_vars(&HashMap::new()).unwrap();
        let trusted = |cfg: &Config, ip: &str| {
            let ip: IpAddr = ip.parse().unwrap();
            cfg.trusted_proxies.iter().any(|net| net.contains(&ip))
        };
        assert!(trusted(&cfg, "127.0.0.1") && trusted(&cfg, "::1") && trusted(&cfg, "::ffff:127.0.0.9"));
        assert!(!trusted(&cfg, "10.0.0.1") && !trusted(&cfg, "192.168.1.1"));
        let cfg = Config::from_vars(&vars(&[(
            "TRUSTED_PROXIES",
            "172.16.0.0/12, fd00::/8, 203.0.113.7",
        )]))
        .unwrap();
        assert!(trusted(&cfg, "172.31.255.254") && !trusted(&cfg, "172.32.0.1"));
        assert!(trusted(&cfg, "fd12::1") && !trusted(&cfg, "fe80::1"));
        assert!(trusted(&cfg, "203.0.113.7") && !trusted(&cfg, "203.0.113.8"));
        assert!(!trusted(&cfg, "127.0.0.1"));
        let all = Config::from_vars(&vars(&[("TRUSTED_PROXIES", "0.0.0.0/0")])).unwrap();
        assert!(trusted(&all, "8.8.8.8") && !trusted(&all, "2001:db8::1"));
    }

    #[test]
    fn blank_values_count_as_unset() {
        let cfg = Config::from_vars(&vars(&[("PORT", "  "), ("REDIS_URL", ""), ("LOG_FORMAT", "")])).unwrap();
        assert_eq!(cfg.port, 3000);
        assert!(cfg.redis_url.is_none());
        assert!(!cfg.log_json);
        let cfg = Config::from_vars(&vars(&[("PORT", " 8080 ")])).unwrap();
        assert_eq!(cfg.port, 8080);
    }

    /// The variables in the README's configuration table, `A` / `B` rows
    /// split.
    fn readme_variables() -> Vec<String> {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("## Configuration")
            .nth(1)
            .expect("README has a Configuration section")
            .split("\n## ")
            .next()
            .unwrap();
        table
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| l.split('|').nth(1).unwrap().split('/'))
            .map(|v| v.trim().trim_matches('`').to_owned())
            .collect()
    }

    #[test]
    fn the_readme_table_documents_every_variable_and_no_other() {
        let mut declared = Settings::variables();
        let mut documented = readme_variables();
        declared.sort();
        documented.sort();
        assert_eq!(declared, documented, "README's configuration table vs Settings");
    }

    #[test]
    fn every_variable_has_a_flag_of_its_name_and_a_meaning() {
        let command = Settings::augment_args(clap::Command::new("optralis"));
        for arg in command.get_arguments() {
            let variable = arg.get_env().and_then(|v| v.to_str()).expect("declared with env");
            let flag = variable.to_ascii_lowercase().replace('_', "-");
            assert_eq!(arg.get_long(), Some(flag.as_str()), "{variable}");
            assert!(arg.get_help().is_some(), "{variable} has no meaning");
        }
    }

    #[test]
    fn secrets_never_show_their_values_in_help() {
        let command = Settings::augment_args(clap::Command::new("optralis"));
        for secret in [
            "JWT_SECRET",
            "SMTP_PASS",
            "DEFAULT_ADMIN_PASSWORD",
            "DATABASE_URL",
            "REDIS_URL",
            "ANTHROPIC_API_KEY",
        ] {
            let arg = command
                .get_arguments()
                .find(|a| a.get_env().and_then(|v| v.to_str()) == Some(secret))
                .unwrap_or_else(|| panic!("{secret} declared"));
            assert!(arg.is_hide_env_values_set(), "{secret}");
        }
    }

    #[test]
    fn postgres_and_origins_parse() {
        let cfg = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/optralis"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:5173/",
            ),
        ]))
        .unwrap();
        assert!(matches!(cfg.database, DatabaseTarget::Postgres { .. }));
        assert_eq!(cfg.redis_url.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(
            cfg.cors_origins,
            CorsOrigins::List(vec![
                "https://app.example.com".into(),
                "http://localhost:5173".into()
            ])
        );
    }
}
