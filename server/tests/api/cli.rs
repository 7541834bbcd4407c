//! The `optralis` binary as a new user runs it.

use crate::process::{serve_on_free_ports, Listening};
use serde_json::Value;
use std::{
    os::unix::fs::PermissionsExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_optralis");

/// A command with none of the caller's configuration leaking in.
fn optralis(cwd: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

#[test]
fn invalid_configuration_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("JWT_SECRET", "too-short"),
        ("DATABASE_URL", "mysql://localhost/optralis"),
        ("PORT", "eighty"),
        ("REDIS_URL", "localhost:6379"),
        ("DEFAULT_ADMIN_PASSWORD", "password"),
    ] {
        let out = optralis(dir.path())
            .arg("serve")
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(var), "names {var}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn serve_help_lists_every_variable_with_its_meaning_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Configured-Secret-Value-0123456789abcdef";
    let out = optralis(dir.path())
        .args(["serve", "--help"])
        .env("JWT_SECRET", secret)
        .env("SMTP_PASS", secret)
        .env("DEFAULT_ADMIN_PASSWORD", secret)
        .env(
            "DATABASE_URL",
            format!("postgres://optralis:{secret}@db/optralis"),
        )
        .env("PORT", "4100")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for variable in [
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SECRET",
        "PORT",
        "AGENT_PORT",
        "DEFAULT_ADMIN_PASSWORD",
    ] {
        assert!(help.contains(&format!("[env: {variable}")), "{variable}:\n{help}");
    }
    // Every declared variable (the README's table is checked against the
    // same list), with its default where there is a fixed one.
    let variables = optralis::config::Settings::variables();
    assert!(!variables.is_empty(), "no variable declared");
    for variable in variables {
        assert!(help.contains(&format!("[env: {variable}")), "{variable}:\n{help}");
    }
    assert!(
        help.contains("[default: 3000]") && help.contains("[default: 8443]"),
        "{help}"
    );
    assert!(help.contains("[env: PORT=4100]"), "{help}");
    assert!(!help.contains(secret), "a secret shown in help:\n{help}");
}

#[test]
fn a_flag_stands_in_for_its_variable_and_names_it_when_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let out = optralis(dir.path())
        .args(["serve", "--port", "eighty"])
        .env("PORT", "3000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("PORT"), "{stderr}");
}

#[test]
fn blank_variables_count_as_unset() {
    let dir = tempfile::tempdir().unwrap();
    let status = optralis(dir.path())
        .arg("migrate")
        .env("PORT", " ")
        .env("LOG_FORMAT", "")
        .env("REDIS_URL", "")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn schema_command_prints_the_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let out = optralis(dir.path()).arg("schema").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), optralis::graphql::sdl());
}

#[test]
fn migrate_creates_the_embedded_database() {
    let dir = tempfile::tempdir().unwrap();
    let status = optralis(dir.path())
        .arg("migrate")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(dir.path().join("data/optralis.db").exists());
}

#[tokio::test]
async fn serve_with_no_configuration_then_sigterm_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = optralis(dir.path());
    cmd.arg("serve").stderr(Stdio::null());
    let Listening {
        mut child,
        api,
        stdout,
        ..
    } = serve_on_free_ports(cmd.into()).await;
    let port = api.port();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok(resp) = http.get(format!("{base}/health")).send().await {
            assert_eq!(resp.status(), 200);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body: Value = http
        .post(format!("{base}/graphql"))
        .json(&serde_json::json!({ "query": "{ serverInfo { version databaseBackend cacheBackend } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["data"]["serverInfo"]["databaseBackend"], "SQLITE");
    assert_eq!(body["data"]["serverInfo"]["cacheBackend"], "IN_PROCESS");

    // The first start printed the super_admin's one-time password.
    let password = stdout
        .lock()
        .unwrap()
        .iter()
        .find_map(|l| {
            l.split("must be changed at first login): ")
                .nth(1)
                .map(|p| p.trim().to_owned())
        })
        .expect("temporary password printed on stdout");
    let login: Value = http
        .post(format!("{base}/graphql"))
        .json(&serde_json::json!({
            "query": "mutation($p: String!) { login(email: \"admin@optralis.local\", password: $p) { user { role mustChangePassword } } }",
            "variables": { "p": password }
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["data"]["login"]["user"]["role"], "SUPER_ADMIN", "{login}");
    assert_eq!(login["data"]["login"]["user"]["mustChangePassword"], true);

    let data = dir.path().join("data");
    assert!(data.join("optralis.db").exists());
    let secret_mode = std::fs::metadata(data.join("jwt_secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(secret_mode & 0o777, 0o600);

    let pid = child.id().expect("still running").to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
}
