//! Environment → typed [`Config`], validated before anything starts.
//!
//! Every variable is optional: with none set the server runs on SQLite and
//! the in-process cache in `./data`. A variable that is set but invalid is an
//! error naming that variable; `main` prints it on one line and exits 2.

use std::{collections::HashMap, net::IpAddr, path::PathBuf, time::Duration};
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
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Reads from any variable map (tests pass their own).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let data_dir = PathBuf::from(get("OPTRALIS_DATA_DIR").unwrap_or_else(|| "./data".into()));

        let port = match get("PORT") {
            None => 3000,
            Some(raw) => raw
                .parse::<u16>()
                .map_err(|_| ConfigError::new("PORT", format!("{raw:?} is not a port number (0-65535)")))?,
        };

        let bind_addr = match get("BIND_ADDRESS") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(raw) => raw
                .parse()
                .map_err(|_| ConfigError::new("BIND_ADDRESS", format!("{raw:?} is not an IP address")))?,
        };

        let database = match get("DATABASE_URL") {
            None => DatabaseTarget::Sqlite {
                path: data_dir.join("optralis.db"),
            },
            Some(raw) => parse_database_url(&raw)?,
        };

        let database_max_connections = match get("DATABASE_MAX_CONNECTIONS") {
            None => 25,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    ConfigError::new(
                        "DATABASE_MAX_CONNECTIONS",
                        "must be an integer between 1 and 1000",
                    )
                })?,
        };

        let redis_url = get("REDIS_URL").map(|raw| validate_redis_url(&raw)).transpose()?;
        let redis_prefix = get("REDIS_KEY_PREFIX").unwrap_or_else(|| "optralis:".into());

        let jwt_secret = match get("JWT_SECRET") {
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
            Some(secret) => Some(secret),
        };

        let cors_origins = match get("CORS_ALLOWED_ORIGINS") {
            None => CorsOrigins::Any,
            Some(raw) if raw == "*" => CorsOrigins::Any,
            Some(raw) => CorsOrigins::List(parse_origins(&raw)?),
        };

        let request_timeout = match get("REQUEST_TIMEOUT_SECONDS") {
            None => Duration::from_secs(30),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=3600).contains(n))
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    ConfigError::new("REQUEST_TIMEOUT_SECONDS", "must be an integer between 1 and 3600")
                })?,
        };

        let log_json = match get("LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("{other:?} is neither \"text\" nor \"json\""),
                ))
            }
        };

        let development = match get("OPTRALIS_ENV").as_deref() {
            None | Some("production") => false,
            Some("development") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "OPTRALIS_ENV",
                    format!("{other:?} is neither \"production\" nor \"development\""),
                ))
            }
        };
        let dashboard_url = match get("DASHBOARD_URL") {
            None => format!("http://localhost:{port}"),
            Some(raw) => {
                let url = Url::parse(&raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| ConfigError::new("DASHBOARD_URL", "must be an http(s) URL"))?;
                url.as_str().trim_end_matches('/').to_owned()
            }
        };
        let trust_proxy_headers = parse_bool(get("TRUST_PROXY_HEADERS"), "TRUST_PROXY_HEADERS")?;
        let trusted_proxies = get("TRUSTED_PROXIES")
            .unwrap_or_else(|| DEFAULT_TRUSTED_PROXIES.into())
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
        let default_admin_email = get("DEFAULT_ADMIN_EMAIL").unwrap_or_else(|| "admin@optralis.local".into());
        if !default_admin_email.contains('@') {
            return Err(ConfigError::new("DEFAULT_ADMIN_EMAIL", "is not an email address"));
        }
        let default_admin_password = get("DEFAULT_ADMIN_PASSWORD");
        if let Some(p) = &default_admin_password {
            crate::domain::auth::password::check_policy(p)
                .map_err(|reason| ConfigError::new("DEFAULT_ADMIN_PASSWORD", reason))?;
        }
        let auth_rate_limit_attempts =
            match get("AUTH_RATE_LIMIT_ATTEMPTS") {
                None => 5,
                Some(raw) => raw.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ConfigError::new("AUTH_RATE_LIMIT_ATTEMPTS", "must be a positive integer")
                })?,
            };
        let auth_rate_limit_window = match get("AUTH_RATE_LIMIT_WINDOW_SECONDS") {
            None => Duration::from_secs(15 * 60),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=86_400).contains(n))
                .map(Duration::from_secs)
                .ok_or_else(|| ConfigError::new("AUTH_RATE_LIMIT_WINDOW_SECONDS", "must be 1-86400"))?,
        };
        let smtp = match get("SMTP_HOST") {
            None => None,
            Some(host) => {
                let port = match get("SMTP_PORT") {
                    None => 587,
                    Some(raw) => raw
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| ConfigError::new("SMTP_PORT", "must be a port number"))?,
                };
                let security = match get("SMTP_TLS").as_deref() {
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
                let from = get("SMTP_FROM").unwrap_or_else(|| "Optralis <noreply@optralis.local>".into());
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(ConfigError::new("SMTP_FROM", "is not an email address"));
                }
                Some(SmtpConfig {
                    host,
                    port,
                    security,
                    username: get("SMTP_USER"),
                    password: get("SMTP_PASS"),
                    from,
                })
            }
        };

        let agent_port = match get("AGENT_PORT") {
            None => 8443,
            Some(raw) => raw.parse::<u16>().map_err(|_| {
                ConfigError::new("AGENT_PORT", format!("{raw:?} is not a port number (0-65535)"))
            })?,
        };
        let agent_tls_names: Vec<String> = get("AGENT_TLS_NAMES")
            .unwrap_or_else(|| "localhost,127.0.0.1".into())
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

        let agent_rate_limit_per_minute = match get("AGENT_RATE_LIMIT_PER_MINUTE") {
            None => 3000,
            Some(raw) => raw.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ConfigError::new("AGENT_RATE_LIMIT_PER_MINUTE", "must be a positive integer")
            })?,
        };

        let connection_count = |name: &'static str| {
            get(name)
                .map(|raw| {
                    raw.parse::<usize>()
                        .ok()
                        .filter(|n| (1..=1_000_000).contains(n))
                        .ok_or_else(|| ConfigError::new(name, "must be an integer between 1 and 1000000"))
                })
                .transpose()
        };
        let max_connections = connection_count("MAX_CONNECTIONS")?;
        let agent_max_connections = connection_count("AGENT_MAX_CONNECTIONS")?;
        let agent_anonymous_connections_per_ip =
            connection_count("AGENT_ANONYMOUS_CONNECTIONS_PER_IP")?.unwrap_or(32);

        Ok(Self {
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

fn parse_bool(raw: Option<String>, variable: &'static str) -> Result<bool, ConfigError> {
    match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(_) => Err(ConfigError::new(variable, "must be true or false")),
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
