//! The GraphQL port's listener: plain TCP through the shared serving loop
//! (header-read timeout, HTTP/1.1 and 2, upgrades, graceful drain,
//! connection cap), each request carrying its peer address; and the sizing
//! of both listeners' connection caps from the open-file limit.

use crate::config::{Config, ConfigError};
use agent_gateway::listener::Limits;
use axum::{extract::ConnectInfo, http::Extensions, Router};
use std::{future::Future, net::SocketAddr};
use tokio::net::TcpListener;

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for in-flight requests (bounded by the drain timeout).
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    serve_limited(listener, router, Limits::default(), shutdown).await;
}

/// [`serve`] with the listener's connection cap.
pub async fn serve_limited(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    agent_gateway::listener::serve_with_limits(
        listener,
        router,
        limits,
        shutdown,
        |stream, remote| async move {
            let mut extensions = Extensions::new();
            extensions.insert(ConnectInfo(remote));
            Some((stream, extensions))
        },
    )
    .await;
}

/// Raises the soft open-file limit to the hard one (each connection is a
/// descriptor) and returns the limit in force.
pub fn raise_open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return FALLBACK_OPEN_FILES;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // Refused when the hard limit is "unlimited" past the kernel's
            // nr_open: the soft limit then stays as it is.
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return 1 << 20;
    }
    limit.rlim_cur
}

const FALLBACK_OPEN_FILES: u64 = 1024;

/// Connection caps of the two listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionCaps {
    pub api: Limits,
    pub agent: Limits,
}

/// Descriptors kept out of both caps: the database pool, Redis, the SQLite
/// files, the listeners, stdio, the runtime's own, outgoing SMTP and a
/// margin of an eighth.
pub fn reserved_descriptors(config: &Config, open_files: u64) -> u64 {
    64 + u64::from(config.database_max_connections) + 16 + open_files / 8
}

/// Splits what the open-file limit leaves after [`reserved_descriptors`]
/// between the two listeners, so that both full together still leave the
/// database, Redis and files their descriptors, and a flood on one port
/// never takes the other's. A cap set in the configuration is kept, and
/// the other port gets the rest; caps that do not fit are refused.
pub fn connection_caps(config: &Config, open_files: u64) -> Result<ConnectionCaps, ConfigError> {
    let reserved = reserved_descriptors(config, open_files);
    let available = usize::try_from(open_files.saturating_sub(reserved)).unwrap_or(usize::MAX);
    let refuse = |variable: &'static str, what: String| ConfigError {
        variable,
        reason: format!(
            "{what}, but the open-file limit ({open_files}) leaves {available} connections after {reserved} \
             descriptors for the database, Redis and files (raise `ulimit -n` or lower the caps)"
        ),
    };
    const MIN_PER_PORT: usize = 16;
    let (api, agent) = match (config.max_connections, config.agent_max_connections) {
        (None, None) => {
            if available < 2 * MIN_PER_PORT {
                return Err(refuse(
                    "MAX_CONNECTIONS",
                    "each port needs some connections".into(),
                ));
            }
            (available / 2, available - available / 2)
        }
        (Some(api), None) => {
            if api + MIN_PER_PORT > available {
                return Err(refuse(
                    "MAX_CONNECTIONS",
                    format!("{api} leave the agent gateway too few"),
                ));
            }
            (api, available - api)
        }
        (None, Some(agent)) => {
            if agent + MIN_PER_PORT > available {
                return Err(refuse(
                    "AGENT_MAX_CONNECTIONS",
                    format!("{agent} leave the main port too few"),
                ));
            }
            (available - agent, agent)
        }
        (Some(api), Some(agent)) => {
            if api + agent > available {
                return Err(refuse(
                    "MAX_CONNECTIONS",
                    format!("MAX_CONNECTIONS + AGENT_MAX_CONNECTIONS = {}", api + agent),
                ));
            }
            (api, agent)
        }
    };
    Ok(ConnectionCaps {
        api: Limits { max_connections: api },
        agent: Limits {
            max_connections: agent,
        },
    })
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

pub type RemoteAddr = ConnectInfo<SocketAddr>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(&vars).unwrap()
    }

    #[test]
    fn caps_leave_the_reserve_free_whatever_is_configured() {
        let open_files = 1024;
        let defaults = config(&[]);
        let reserved = reserved_descriptors(&defaults, open_files) as usize;
        let caps = connection_caps(&defaults, open_files).unwrap();
        assert_eq!(
            caps.api.max_connections + caps.agent.max_connections,
            1024 - reserved
        );
        assert!(caps.api.max_connections.abs_diff(caps.agent.max_connections) <= 1);

        let api_set = connection_caps(&config(&[("MAX_CONNECTIONS", "500")]), open_files).unwrap();
        assert_eq!(api_set.api.max_connections, 500);
        assert_eq!(api_set.agent.max_connections, 1024 - reserved - 500);

        let both = connection_caps(
            &config(&[("MAX_CONNECTIONS", "100"), ("AGENT_MAX_CONNECTIONS", "200")]),
            open_files,
        )
        .unwrap();
        assert_eq!((both.api.max_connections, both.agent.max_connections), (100, 200));
    }

    #[test]
    fn caps_past_the_open_file_limit_name_their_variable() {
        for (pairs, variable) in [
            (&[("MAX_CONNECTIONS", "1000")][..], "MAX_CONNECTIONS"),
            (&[("AGENT_MAX_CONNECTIONS", "1000")][..], "AGENT_MAX_CONNECTIONS"),
            (
                &[("MAX_CONNECTIONS", "400"), ("AGENT_MAX_CONNECTIONS", "400")][..],
                "MAX_CONNECTIONS",
            ),
        ] {
            let err = connection_caps(&config(pairs), 1024).unwrap_err();
            assert_eq!(err.variable, variable, "{pairs:?}");
        }
        assert_eq!(
            connection_caps(&config(&[]), 64).unwrap_err().variable,
            "MAX_CONNECTIONS"
        );
    }
}
