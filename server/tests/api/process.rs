//! `optralis serve` in a process of its own, for tests that need several
//! instances or the server's own resource figures (memory, tasks) apart
//! from the test's.

use crate::helpers::{https_client, Gateway, TestEnv, ADMIN_EMAIL, ADMIN_PASSWORD};
pub use crate::listening::{serve_on_free_ports, Listening};

/// The password a process instance's first super_admin starts with.
const FIRST_ADMIN_PASSWORD: &str = "First-Start-Passw0rd!";
use serde_json::{json, Value};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub port: u16,
    pub agent_port: u16,
    data_dir: PathBuf,
}

impl ServerProcess {
    /// Starts the built binary with `env` on fresh ports and waits for
    /// /health.
    pub async fn start(env: &TestEnv, data_dir: &Path) -> Self {
        Self::start_with(env, data_dir, |_| {}).await
    }

    /// As [`start`](Self::start), with `adjust` applied to the command
    /// before it is spawned (resource limits, say).
    pub async fn start_with(
        env: &TestEnv,
        data_dir: &Path,
        adjust: impl FnOnce(&mut tokio::process::Command),
    ) -> Self {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_optralis"));
        cmd.arg("serve")
            .envs(&env.vars)
            .env("OPTRALIS_DATA_DIR", data_dir)
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("JWT_SECRET", "process-test-secret-0123456789abcdef")
            .env("DEFAULT_ADMIN_PASSWORD", FIRST_ADMIN_PASSWORD)
            .env("RUST_LOG", "warn");
        adjust(&mut cmd);
        let Listening {
            child, api, agent, ..
        } = serve_on_free_ports(cmd).await;
        let (port, agent_port) = (api.port(), agent.port());
        let http = reqwest::Client::new();
        for _ in 0..150 {
            if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/health")).send().await {
                if r.status().is_success() {
                    let server = Self {
                        child,
                        port,
                        agent_port,
                        data_dir: data_dir.to_owned(),
                    };
                    server.first_login().await;
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("instance on port {port} did not become healthy");
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/graphql/ws", self.port)
    }

    pub fn agent_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.agent_port)
    }

    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/graphql", self.port))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// The first login of the first super_admin changes its password, as
    /// a user would; an instance joining a database where that is done
    /// already finds nothing to do.
    async fn first_login(&self) {
        let login = self
            .graphql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { mustChangePassword } } }",
                json!({ "e": ADMIN_EMAIL, "p": FIRST_ADMIN_PASSWORD }),
            )
            .await;
        let Some(token) = login["data"]["login"]["accessToken"].as_str() else {
            return;
        };
        assert_eq!(
            login["data"]["login"]["user"]["mustChangePassword"], true,
            "{login}"
        );
        let changed = self
            .graphql(
                Some(token),
                "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
                json!({ "c": FIRST_ADMIN_PASSWORD, "n": ADMIN_PASSWORD }),
            )
            .await;
        assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    }

    /// The first super_admin's access token.
    pub async fn admin_token(&self) -> String {
        let login = self
            .graphql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD }),
            )
            .await;
        login["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{login}"))
            .to_owned()
    }

    /// An HTTPS client trusting this instance's CA, with an optional
    /// agent identity (certificate, key).
    pub fn agent_client(&self, identity: Option<(&str, &str)>) -> reqwest::Client {
        https_client(&std::fs::read(self.data_dir.join("ca.crt")).unwrap(), identity)
    }

    /// A fresh install token of the super_admin's own tenant.
    pub async fn install_token(&self, admin: &str, max_usage: i32) -> String {
        let created = self
            .graphql(
                Some(admin),
                "mutation($n: Int) { createInstallToken(input: { maxUsage: $n }) { token { secret } } }",
                json!({ "n": max_usage }),
            )
            .await;
        created["data"]["createInstallToken"]["token"]["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_owned()
    }
}

impl Gateway for ServerProcess {
    fn gateway_url(&self, path: &str) -> String {
        self.agent_url(path)
    }

    fn agent_client(&self, identity: Option<(&str, &str)>) -> reqwest::Client {
        ServerProcess::agent_client(self, identity)
    }
}
