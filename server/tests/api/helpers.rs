//! Spawns the real server in-process on a free port against a fresh
//! database: SQLite in a temp dir by default; with
//! `OPTRALIS_TEST_DATABASE_URL` a new PostgreSQL database per test (dropped
//! after), and with `OPTRALIS_TEST_REDIS_URL` Redis under a key prefix of
//! its own.

use futures::{SinkExt, StreamExt};
use optralis::{
    app::AppState,
    config::Config,
    domain::auth::password::PasswordCost,
    http,
    jobs::{Running, Stopped},
    serve,
};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use std::{collections::HashMap, net::SocketAddr, time::Duration};
use tempfile::TempDir;
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};
use uuid::Uuid;

/// The platform super_admin every test instance starts with.
pub const ADMIN_EMAIL: &str = "root@optralis.test";
pub const ADMIN_PASSWORD: &str = "Initial-Passw0rd!";

pub fn test_database_url() -> Option<String> {
    std::env::var("OPTRALIS_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

pub fn test_redis_url() -> Option<String> {
    std::env::var("OPTRALIS_TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A PostgreSQL database created for one test and dropped with it.
pub struct PgTestDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgTestDatabase {
    pub async fn create(admin_url: &str) -> Self {
        let name = format!("optralis_test_{}", Uuid::new_v4().simple());
        let admin = Database::connect(admin_url)
            .await
            .expect("connect to OPTRALIS_TEST_DATABASE_URL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let mut url = url::Url::parse(admin_url).expect("OPTRALIS_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for PgTestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async cleanup on a
        // thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Configuration for one isolated test instance. Keep the returned guards
/// alive as long as the instance runs.
pub struct TestEnv {
    pub vars: HashMap<String, String>,
    _data_dir: TempDir,
    pub pg: Option<PgTestDatabase>,
}

impl TestEnv {
    pub async fn new() -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut vars = HashMap::new();
        vars.insert("OPTRALIS_DATA_DIR".into(), data_dir.path().display().to_string());
        vars.insert("DEFAULT_ADMIN_EMAIL".into(), ADMIN_EMAIL.into());
        vars.insert("DEFAULT_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into());
        // Sign-in limits are off in tests, except where a test of the
        // limits sets them (`TestEnv::with_login_limits`).
        vars.insert("AUTH_RATE_LIMIT_ATTEMPTS".into(), "1000000".into());
        let pg = match test_database_url() {
            Some(admin) => Some(PgTestDatabase::create(&admin).await),
            None => None,
        };
        if let Some(pg) = &pg {
            vars.insert("DATABASE_URL".into(), pg.url.clone());
        }
        if let Some(redis) = test_redis_url() {
            vars.insert("REDIS_URL".into(), redis);
            vars.insert(
                "REDIS_KEY_PREFIX".into(),
                format!("optralis-test:{}:", Uuid::new_v4().simple()),
            );
        }
        Self {
            vars,
            _data_dir: data_dir,
            pg,
        }
    }

    /// The production sign-in limit: 5 attempts per address and window.
    pub fn with_login_limits(self) -> Self {
        self.set("AUTH_RATE_LIMIT_ATTEMPTS", "5")
    }

    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// The configuration, hashing passwords at argon2's floor: the suite
    /// signs in hundreds of times and the production cost buys nothing
    /// here (the hashing tests use it).
    pub fn config(&self) -> Config {
        let mut config = Config::from_vars(&self.vars).expect("test configuration is valid");
        config.password_cost = PasswordCost::TEST_ONLY;
        config
    }

    pub fn expected_database_backend(&self) -> &'static str {
        if self.pg.is_some() {
            "POSTGRES"
        } else {
            "SQLITE"
        }
    }

    pub fn expected_cache_backend(&self) -> &'static str {
        if self.vars.contains_key("REDIS_URL") {
            "REDIS"
        } else {
            "IN_PROCESS"
        }
    }
}

/// Says that a test could not run here, and why. The line goes to stderr
/// and, when `OPTRALIS_TEST_SKIP_LOG` names a file, into it: `.ci/run`
/// counts those lines in its totals, so a skipped test never passes as run.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    let line = format!("SKIP {test}: {reason}");
    eprintln!("{line}");
    if let Ok(path) = std::env::var("OPTRALIS_TEST_SKIP_LOG") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("skip log is writable");
        writeln!(file, "{line}").expect("skip log is writable");
    }
}

/// The first super_admin must change its password at first login; tests
/// start past that step (a fixture: the rule itself is tested through
/// GraphQL in `identity.rs`), unless they ask for a fresh instance with
/// `FIRST_LOGIN_PENDING`.
async fn settle_first_admin(state: &AppState, env: &TestEnv) {
    use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
    if env.vars.contains_key(FIRST_LOGIN_PENDING) {
        return;
    }
    let email = env
        .vars
        .get("DEFAULT_ADMIN_EMAIL")
        .map_or(ADMIN_EMAIL, String::as_str);
    entities::users::Entity::update_many()
        .col_expr(entities::users::Column::MustChangePassword, Expr::value(false))
        .filter(entities::users::Column::Email.eq(email))
        .exec(&state.services.infra.db.conn)
        .await
        .unwrap();
}

/// Set in a [`TestEnv`] to keep the first admin's forced password change.
pub const FIRST_LOGIN_PENDING: &str = "TEST_FIRST_LOGIN_PENDING";

/// Set in a [`TestEnv`] to start no background job: the test drives each
/// tick itself (`optralis::jobs::offline::tick`, …).
pub const WITHOUT_WORKERS: &str = "TEST_WITHOUT_WORKERS";

pub struct TestServer {
    pub addr: SocketAddr,
    /// The agent gateway (mutual TLS).
    pub gateway_addr: SocketAddr,
    pub state: AppState,
    pub env: TestEnv,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    workers: Option<Running>,
}

impl TestServer {
    pub async fn spawn() -> Self {
        Self::spawn_env(TestEnv::new().await).await
    }

    pub async fn spawn_env(env: TestEnv) -> Self {
        let (state, workers) = AppState::build(env.config()).await.expect("server starts");
        settle_first_admin(&state, &env).await;
        let workers = (!env.vars.contains_key(WITHOUT_WORKERS))
            .then(|| workers.start(tokio_util::sync::CancellationToken::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let router = http::router(state.clone());
        let gateway_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_addr = gateway_listener.local_addr().unwrap();
        let tls = optralis::gateway::tls_config(&state).expect("gateway TLS");
        let gateway_router = optralis::gateway::router(state.clone());
        let task = tokio::spawn(async move {
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            let api = serve::serve(listener, router, stopped(stop_rx.clone()));
            let agents = agent_gateway::tls::serve(gateway_listener, tls, gateway_router, stopped(stop_rx));
            let signal = async move {
                let _ = rx.await;
                let _ = stop_tx.send(true);
            };
            tokio::join!(api, agents, signal);
        });
        Self {
            addr,
            gateway_addr,
            state,
            env,
            http: reqwest::Client::builder().no_gzip().build().unwrap(),
            shutdown: Some(tx),
            task: Some(task),
            workers,
        }
    }

    /// Background jobs still running (none when started [`WITHOUT_WORKERS`]).
    pub fn running_workers(&self) -> usize {
        self.workers.as_ref().map_or(0, Running::len)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn gateway_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{}", self.gateway_addr.port(), path)
    }

    /// An HTTPS client trusting our CA, optionally presenting a client
    /// certificate (PEM certificate + key).
    pub fn agent_client(&self, identity: Option<(&str, &str)>) -> reqwest::Client {
        https_client(self.state.services.agents.ca().cert_pem().as_bytes(), identity)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/graphql/ws", self.addr)
    }

    /// POSTs one GraphQL operation; asserts the transport answered 200.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let resp = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "GraphQL transport status");
        resp.json().await.unwrap()
    }

    /// POSTs one operation with `Authorization: Bearer <token>`.
    pub async fn graphql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let resp = self
            .http
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "GraphQL transport status");
        resp.json().await.unwrap()
    }

    /// Logs in and returns the access token; panics on failure.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = self
            .graphql(
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken mfaRequired } }",
                json!({ "e": email, "p": password }),
            )
            .await;
        body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login {email} failed: {body}"))
            .to_owned()
    }

    /// Access token of the platform super_admin.
    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Stops accepting, drains, then stops the background jobs, as on
    /// SIGTERM; says how the jobs ended.
    /// Whether this server's database runs TimescaleDB.
    pub fn timescaledb(&self) -> bool {
        self.state.services.status.timescaledb()
    }

    /// Runs TimescaleDB's background job `proc_name` (`policy_retention`,
    /// `policy_compression`, …) of `hypertable` now, as its schedule would;
    /// panics when there is no such job. TimescaleDB only.
    pub async fn run_timescale_job(&self, proc_name: &str, hypertable: &str) {
        let conn = &self.state.services.infra.db.conn;
        let row = conn
            .query_one(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = $1 AND hypertable_name = $2",
                [proc_name.into(), hypertable.into()],
            ))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {proc_name} job on {hypertable}"));
        let job: i32 = row.try_get("", "job_id").unwrap();
        conn.execute_unprepared(&format!("CALL run_job({job})"))
            .await
            .unwrap();
    }

    pub async fn stop(mut self) -> Option<Stopped> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        match self.workers.take() {
            Some(workers) => Some(workers.stop(Duration::from_secs(10)).await),
            None => None,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs the agent simulator in-process on a runtime of its own, as its own
/// process would (the server under test keeps this one); returns whether
/// it reported no failure, and its report.
pub async fn agent_sim(args: &[&str]) -> (bool, String) {
    use clap::Parser;
    use std::sync::{Arc, Mutex};
    let args = agent_sim::Args::try_parse_from(std::iter::once("agent-sim").chain(args.iter().copied()))
        .expect("agent-sim arguments");
    let report = Arc::new(Mutex::new(String::new()));
    let out: agent_sim::Output = {
        let report = report.clone();
        Arc::new(move |line: &str| {
            let mut report = report.lock().unwrap();
            report.push_str(line);
            report.push('\n');
        })
    };
    let result = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(agent_sim::run(args, out))
    })
    .await
    .unwrap();
    let report = report.lock().unwrap().clone();
    let ok = result.as_ref().is_ok_and(|r| r.failed == 0);
    (ok, format!("{report}{:?}", result.err()))
}

/// Runs the agent simulator against `server` with an install token of
/// `admin`'s tenant, the gateway and CA filled in; `args` adds the rest
/// (`--machines`, scenario flags, …).
pub async fn agent_sim_for(server: &TestServer, admin: &str, args: &[&str]) -> (bool, String) {
    let token = install_token(server, admin, json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, server.state.services.agents.ca().cert_pem()).unwrap();
    let gateway = format!("https://127.0.0.1:{}", server.gateway_addr.port());
    let mut all = vec![
        "--gateway",
        &gateway,
        "--token",
        &token,
        "--ca",
        ca.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    agent_sim(&all).await
}

/// The first error's `extensions.code`.
/// An HTTPS client trusting `ca_pem` only, optionally presenting a client
/// certificate (PEM certificate + key).
pub fn https_client(ca_pem: &[u8], identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem).unwrap());
    if let Some((cert, key)) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

/// A graphql-transport-ws client speaking the protocol frame by frame.
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    pub async fn connect(url: &str) -> Self {
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket upgrade");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        Self { socket }
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// Next text frame as JSON, or the close frame as `{"close": code}`.
    pub async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(15), self.socket.next())
                .await
                .expect("websocket frame within 15 s");
            match frame {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(Message::Close(frame))) => {
                    return json!({ "close": frame.map(|f| u16::from(f.code)).unwrap_or(1005) })
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return json!({ "error": e.to_string() }),
                None => return json!({ "close": 1006 }),
            }
        }
    }

    /// `connection_init` with a Bearer token, expecting the ack.
    pub async fn init_with(&mut self, token: &str) {
        self.send(
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
        )
        .await;
        let ack = self.recv().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }

    /// Starts subscription `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(
            json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
        )
        .await;
    }

    /// The next frame, or None if nothing arrives within `wait`.
    pub async fn try_recv(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(wait, self.socket.next()).await.ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    }
}

/// A minimal SMTP server on 127.0.0.1 that accepts every message and hands
/// its raw DATA to the test.
pub struct SmtpSink {
    pub port: u16,
    pub messages: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, messages) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut in_data = false;
                    let mut data = String::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                in_data = false;
                                let _ = tx.send(std::mem::take(&mut data));
                                let _ = write.write_all(b"250 queued\r\n").await;
                            } else {
                                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                                data.push('\n');
                            }
                            continue;
                        }
                        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 ok\r\n",
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        Self { port, messages }
    }

    /// Next message, waiting up to 20 s (the outbox worker is asynchronous).
    pub async fn next(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(20), self.messages.recv())
            .await
            .expect("an email arrives within 20 s")
            .expect("sink open")
    }
}

/// Decodes a quoted-printable body well enough to find tokens and
/// passwords in it.
pub fn decode_qp(raw: &str) -> String {
    let joined = raw.replace("=\n", "").replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The body of the newest queued email to `recipient` (read from the
/// outbox table, as a mail client would read the inbox).
pub async fn latest_email_to(server: &TestServer, recipient: &str) -> String {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    entities::email_outbox::Entity::find()
        .filter(entities::email_outbox::Column::Recipient.eq(recipient))
        .order_by_desc(entities::email_outbox::Column::CreatedAt)
        .one(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no email to {recipient}"))
        .body_text
}

/// The temporary password in a welcome / new-password email, in either
/// language's wording.
fn find_temporary_password(body: &str) -> Option<String> {
    body.lines()
        .find_map(|l| {
            l.split("Mot de passe temporaire : ")
                .nth(1)
                .or_else(|| l.split("Temporary password: ").nth(1))
        })
        .map(|p| p.trim().to_owned())
}

/// The temporary password of the newest e-mail to `recipient` carrying
/// one: a job (a licence reminder, say) may have mailed them since.
pub async fn newest_temporary_password(server: &TestServer, recipient: &str) -> String {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    entities::email_outbox::Entity::find()
        .filter(entities::email_outbox::Column::Recipient.eq(recipient))
        .order_by_desc(entities::email_outbox::Column::CreatedAt)
        .all(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .iter()
        .find_map(|m| find_temporary_password(&m.body_text))
        .unwrap_or_else(|| panic!("no email to {recipient} carries a temporary password"))
}

/// Creates a tenant with its admin through GraphQL; returns (client id,
/// admin email, admin access token) after the forced password change.
pub async fn tenant_with_admin(server: &TestServer, root: &str, name: &str) -> (String, String, String) {
    tenant_on(server, root, name, "pro").await
}

/// [`tenant_with_admin`] on the licence type `licence`.
pub async fn tenant_on(
    server: &TestServer,
    root: &str,
    name: &str,
    licence: &str,
) -> (String, String, String) {
    let email = format!("admin@{}.test", name.to_lowercase());
    let body = server
        .graphql_as(
            root,
            "mutation($i: CreateClientInput!) { createClient(input: $i) { client { id } admin { id mustChangePassword } } }",
            json!({ "i": { "name": name, "licenseType": licence, "adminEmail": email } }),
        )
        .await;
    let client_id = body["data"]["createClient"]["client"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createClient: {body}"))
        .to_owned();
    let temp = newest_temporary_password(server, &email).await;
    let token = server.login(&email, &temp).await;
    let changed = server
        .graphql_as(
            &token,
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": temp, "n": TENANT_PASSWORD }),
        )
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    let token = server.login(&email, TENANT_PASSWORD).await;
    (client_id, email, token)
}

pub const TENANT_PASSWORD: &str = "Tenant-Passw0rd!";

/// Where an agent talks to: the in-process server or an `optralis serve`
/// process.
pub trait Gateway {
    /// `path` on the agent gateway.
    fn gateway_url(&self, path: &str) -> String;
    /// An HTTPS client trusting the instance's CA, optionally presenting
    /// a client certificate (PEM certificate + key).
    fn agent_client(&self, identity: Option<(&str, &str)>) -> reqwest::Client;
}

impl Gateway for TestServer {
    fn gateway_url(&self, path: &str) -> String {
        TestServer::gateway_url(self, path)
    }

    fn agent_client(&self, identity: Option<(&str, &str)>) -> reqwest::Client {
        TestServer::agent_client(self, identity)
    }
}

/// A heartbeat body as a Linux agent sends it.
pub fn heartbeat_body(hostname: &str) -> Value {
    json!({ "hostname": hostname, "hardware_id": "HW-1", "os": "linux", "os_version": "Debian 12", "ip": "10.0.0.7", "agent_version": "2.1.0" })
}

/// A bootstrap body of a Linux agent.
pub fn enrolment_body(install_token: &str, hostname: &str, hardware_id: &str) -> Value {
    json!({
        "token": install_token, "hostname": hostname, "hardware_id": hardware_id,
        "os": "linux", "os_version": "Debian 12", "arch": "amd64"
    })
}

/// One enrolled agent: its machine, the certificate it was issued and an
/// HTTPS client presenting it. The one helper every test drives the
/// agent routes with.
pub struct TestAgent {
    pub machine_id: Uuid,
    pub hostname: String,
    pub certificate: String,
    pub private_key: String,
    /// Presents `certificate`.
    pub client: reqwest::Client,
    /// The whole bootstrap answer.
    pub enrolled: Value,
    gateway: String,
}

impl TestAgent {
    /// Posts `body` to the bootstrap route, as is: for tests of refusals.
    pub async fn bootstrap(server: &impl Gateway, body: &Value) -> reqwest::Response {
        server
            .agent_client(None)
            .post(server.gateway_url("/api/public/bootstrap"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Enrols a machine with `install_token` (asserting 200).
    pub async fn enrol(
        server: &impl Gateway,
        install_token: &str,
        hostname: &str,
        hardware_id: &str,
    ) -> Self {
        let resp = Self::bootstrap(server, &enrolment_body(install_token, hostname, hardware_id)).await;
        let status = resp.status();
        let enrolled: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "bootstrap {hostname}: {enrolled}");
        Self::from_enrolment(server, hostname, enrolled)
    }

    /// The agent a bootstrap answer made.
    pub fn from_enrolment(server: &impl Gateway, hostname: &str, enrolled: Value) -> Self {
        let field = |name: &str| {
            enrolled[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {enrolled}"))
                .to_owned()
        };
        let (certificate, private_key) = (field("certificate"), field("private_key"));
        let machine_id = field("machine_id").parse().expect("machine_id is a UUID");
        Self {
            machine_id,
            hostname: hostname.to_owned(),
            client: server.agent_client(Some((&certificate, &private_key))),
            certificate,
            private_key,
            enrolled,
            gateway: server.gateway_url(""),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    /// Posts a heartbeat; the raw answer.
    pub async fn post_heartbeat(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/agent/heartbeat"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts a heartbeat and returns its answer (asserting 200).
    pub async fn heartbeat(&self, body: &Value) -> Value {
        let resp = self.post_heartbeat(body).await;
        let status = resp.status();
        let answer = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "heartbeat of {}: {answer}", self.hostname);
        answer
    }

    /// Posts one collector sample; the raw answer.
    pub async fn post_collect(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/agent/collect"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts one collector sample: status and body.
    pub async fn collect(&self, body: Value) -> (u16, Value) {
        let resp = self.post_collect(&body).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Asks for a new certificate: the raw answer. The agent keeps the
    /// certificate it has; [`renewed`](Self::renewed) makes the new one.
    pub async fn renew(&self) -> reqwest::Response {
        self.client
            .post(self.url("/agent/certificate/renew"))
            .send()
            .await
            .unwrap()
    }

    /// The same agent talking to another instance.
    pub fn at(&self, server: &impl Gateway) -> Self {
        Self::from_enrolment(server, &self.hostname, self.enrolled.clone())
    }

    /// The same machine holding the certificate of a renewal answer.
    pub fn renewed(&self, server: &impl Gateway, answer: &Value) -> Self {
        let mut enrolled = self.enrolled.clone();
        enrolled["certificate"] = answer["certificate"].clone();
        enrolled["private_key"] = answer["private_key"].clone();
        Self::from_enrolment(server, &self.hostname, enrolled)
    }
}

/// A tenant admin token and `n` enrolled machines (`root`: a super_admin
/// token).
pub async fn fleet(server: &TestServer, root: &str, tenant: &str, n: usize) -> (String, Vec<TestAgent>) {
    fleet_on(server, root, tenant, "pro", n).await
}

/// [`fleet`] on the licence type `licence`.
pub async fn fleet_on(
    server: &TestServer,
    root: &str,
    tenant: &str,
    licence: &str,
    n: usize,
) -> (String, Vec<TestAgent>) {
    let (_, _, admin) = tenant_on(server, root, tenant, licence).await;
    let token = install_token(server, &admin, json!({})).await;
    let mut agents = Vec::new();
    for i in 0..n {
        let hostname = format!("{}-{i}", tenant.to_lowercase());
        agents.push(TestAgent::enrol(server, &token, &hostname, &format!("HW-{tenant}-{i}")).await);
    }
    (admin, agents)
}

/// An install token's secret, created by `admin` with `input`.
pub async fn install_token(server: &TestServer, admin: &str, input: Value) -> String {
    let created = server
        .graphql_as(
            admin,
            "mutation($i: CreateInstallTokenInput) { createInstallToken(input: $i) { token { secret } } }",
            json!({ "i": input }),
        )
        .await;
    created["data"]["createInstallToken"]["token"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("createInstallToken: {created}"))
        .to_owned()
}

/// Runs the outbox worker `rounds` times by hand (servers started with
/// `WITHOUT_WORKERS`), making every retry due at once between rounds so a
/// test does not wait out the backoff. E-mails land as files in a temp dir.
pub async fn drive_outbox(server: &TestServer, rounds: usize) -> usize {
    use sea_orm::{sea_query::Expr, EntityTrait};
    let dir = tempfile::tempdir().unwrap();
    let mailer = optralis::infra::mailer::FileMailer::new(dir.path().to_owned());
    let services = &server.state.services;
    let mut attempted = 0;
    for _ in 0..rounds {
        attempted += optralis::jobs::outbox::tick(services, &mailer).await.unwrap();
        entities::email_outbox::Entity::update_many()
            .col_expr(
                entities::email_outbox::Column::NextAttemptAt,
                Expr::value(chrono::Utc::now()),
            )
            .exec(&services.infra.db.conn)
            .await
            .unwrap();
    }
    attempted
}

/// A signed-in OBSERVER of `admin`'s tenant.
pub async fn observer_of(server: &TestServer, admin: &str, email: &str) -> String {
    let created = server
        .graphql_as(
            admin,
            "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
            json!({ "i": { "email": email, "role": "OBSERVER" } }),
        )
        .await;
    assert!(created["data"]["createUser"]["id"].is_string(), "{created}");
    let temp = newest_temporary_password(server, email).await;
    let token = server.login(email, &temp).await;
    let changed = server
        .graphql_as(
            &token,
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": temp, "n": "Observer-Passw0rd!" }),
        )
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    // The caller's own session outlives the change.
    token
}
