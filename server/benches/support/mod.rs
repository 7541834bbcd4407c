//! What the benchmarks share: the bench admin, and a release `optralis
//! serve` process with the /proc figures a harness reads from it.
// Each bench uses a part of this module.
#![allow(dead_code)]

#[path = "../../tests/api/listening.rs"]
mod listening;
pub mod seed;

use serde_json::{json, Value};
use std::{path::PathBuf, time::Duration};

pub const EMAIL: &str = "bench@optralis.test";
pub const PASSWORD: &str = "Bench-Passw0rd!!";
/// What a process instance's first super_admin starts with; its first
/// login changes it to [`PASSWORD`].
const FIRST_PASSWORD: &str = "First-Bench-Passw0rd!";

/// An in-process bench's admin starts past the forced first-login change.
pub async fn settle_first_admin(state: &optralis::app::AppState) {
    use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
    entities::users::Entity::update_many()
        .col_expr(entities::users::Column::MustChangePassword, Expr::value(false))
        .filter(entities::users::Column::Email.eq(EMAIL))
        .exec(&state.services.infra.db.conn)
        .await
        .unwrap();
}

/// One socket per simulated client on each side: lift the open-file limit
/// to the hard maximum (children inherit it).
pub fn raise_open_files() {
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Resident memory of a process, bytes.
pub fn rss_bytes(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        * 1024.0
}

/// Waits for `/health` on `port` (10 s at most).
pub async fn wait_healthy(http: &reqwest::Client, port: u16) {
    for _ in 0..200 {
        let up = http
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on {port} did not start");
}

/// The release server in a process of its own, on a fresh data dir (SQLite),
/// with the bench admin and no per-agent rate limit.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub port: u16,
    pub agent_port: u16,
    pub dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl ServerProcess {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The fan-out bench holds its subscribers on the main port: three
        // quarters of the connections the server's open-file limit (ours,
        // inherited) leaves, instead of the default half.
        let open_files = optralis::serve::raise_open_file_limit();
        let config = optralis::config::Config::from_vars(&Default::default()).unwrap();
        let available = open_files.saturating_sub(optralis::serve::reserved_descriptors(&config, open_files));
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_optralis"));
        cmd.arg("serve")
            .env("OPTRALIS_DATA_DIR", dir.path())
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("DEFAULT_ADMIN_EMAIL", EMAIL)
            .env("DEFAULT_ADMIN_PASSWORD", FIRST_PASSWORD)
            .env("AGENT_RATE_LIMIT_PER_MINUTE", "1000000")
            .env("MAX_CONNECTIONS", (available * 3 / 4).max(1).to_string())
            .env("RUST_LOG", "warn");
        let listening::Listening {
            child, api, agent, ..
        } = listening::serve_on_free_ports(cmd).await;
        let (port, agent_port) = (api.port(), agent.port());
        let pid = child.id().unwrap();
        let http = reqwest::Client::new();
        wait_healthy(&http, port).await;
        let server = Self {
            child,
            pid,
            port,
            agent_port,
            dir,
            http,
        };
        server.first_login().await;
        server
    }

    async fn first_login(&self) {
        let login = self
            .graphql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": EMAIL, "p": FIRST_PASSWORD }),
            )
            .await;
        let token = login["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{login}"));
        let changed = self
            .graphql(
                Some(token),
                "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
                json!({ "c": FIRST_PASSWORD, "n": PASSWORD }),
            )
            .await;
        assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(format!("http://127.0.0.1:{}/graphql", self.port))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    pub async fn admin_token(&self) -> String {
        let login = self
            .graphql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": EMAIL, "p": PASSWORD }),
            )
            .await;
        login["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{login}"))
            .to_owned()
    }

    /// An hour-long, unlimited install token of the admin's tenant.
    pub async fn install_token(&self, admin: &str) -> String {
        let created = self
            .graphql(
                Some(admin),
                "mutation { createInstallToken(input: { durationMinutes: 60 }) { token { secret } } }",
                json!({}),
            )
            .await;
        created["data"]["createInstallToken"]["token"]["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_owned()
    }

    /// An HTTPS client trusting this server's CA, with an optional agent
    /// identity (certificate + key PEM).
    pub fn agent_client(&self, identity: Option<&str>) -> reqwest::Client {
        let ca = std::fs::read(self.ca_path()).unwrap();
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap());
        if let Some(pem) = identity {
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }

    /// Enrols a machine: its id and its agent client.
    pub async fn enrol(&self, install_token: &str, hostname: &str) -> (String, reqwest::Client) {
        let enrolled: Value = self
            .agent_client(None)
            .post(format!(
                "https://127.0.0.1:{}/api/public/bootstrap",
                self.agent_port
            ))
            .json(&json!({
                "token": install_token, "hostname": hostname, "hardware_id": format!("HW-{hostname}"),
                "os": "linux", "os_version": "Debian 12", "arch": "amd64"
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let identity = format!(
            "{}{}",
            enrolled["certificate"]
                .as_str()
                .unwrap_or_else(|| panic!("{enrolled}")),
            enrolled["private_key"].as_str().unwrap()
        );
        (
            enrolled["machine_id"].as_str().unwrap().to_owned(),
            self.agent_client(Some(&identity)),
        )
    }
}

/// A PostgreSQL database of the bench's own (`BENCH_DATABASE_URL` names
/// the server's admin database), created fresh and dropped afterwards.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create(admin_url: &str) -> (Self, String) {
        let name = format!("optralis_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(admin_url).await.unwrap();
        sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        admin.close().await.ok();
        let mut url = url::Url::parse(admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        (
            Self {
                admin_url: admin_url.to_owned(),
                name,
            },
            url.to_string(),
        )
    }

    pub async fn drop_it(self) {
        let admin = sea_orm::Database::connect(&self.admin_url).await.unwrap();
        let _ = sea_orm::ConnectionTrait::execute_unprepared(
            &admin,
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        )
        .await;
        admin.close().await.ok();
    }
}
