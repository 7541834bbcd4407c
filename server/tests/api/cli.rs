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

/// A NAB-style series: a daily-ish cycle with noise, one spike at `spike`.
fn series_with_spike(rows: usize, spike: usize) -> String {
    let mut csv = String::from("timestamp,value\n");
    let mut state = 7u64;
    for i in 0..rows {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = (state >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
        let cycle = 10.0 * (i as f64 / 288.0 * std::f64::consts::TAU).sin();
        let value = if i == spike {
            140.0
        } else {
            50.0 + cycle + 2.0 * noise
        };
        let (day, minutes) = (1 + i / 288, (i % 288) * 5);
        csv.push_str(&format!(
            "2014-04-{day:02} {:02}:{:02}:00,{value:.3}\n",
            minutes / 60,
            minutes % 60
        ));
    }
    csv
}

#[test]
fn detect_replays_a_series_and_scores_each_row_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, spike) = (1500, 1200);
    let input = series_with_spike(rows, spike);
    let path = dir.path().join("series.csv");
    std::fs::write(&path, &input).unwrap();
    let out = optralis(dir.path())
        .args(["detect", "--input"])
        .arg(&path)
        .args(["--metric", "cpu"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score"));
    let mut scores = Vec::new();
    for (given, line) in input.lines().skip(1).zip(lines.by_ref()) {
        let (prefix, score) = line.rsplit_once(',').unwrap();
        assert_eq!(prefix, given, "timestamp and value are echoed as given");
        let score: f64 = score.parse().unwrap();
        assert!((0.0..=1.0).contains(&score), "{line}");
        scores.push(score);
    }
    assert_eq!(scores.len(), rows);
    assert_eq!(lines.next(), None, "one line per row");
    let around = scores[spike - 100..spike]
        .iter()
        .chain(&scores[spike + 20..spike + 100])
        .fold(0.0f64, |a, b| a.max(*b));
    assert!(
        scores[spike] > around,
        "spike {} vs around {around}",
        scores[spike]
    );
}

#[test]
fn detect_refuses_bad_input_with_a_message_and_a_failure_code() {
    let dir = tempfile::tempdir().unwrap();
    let bad_header = dir.path().join("header.csv");
    std::fs::write(&bad_header, "time,cpu\n2014-04-01 00:00:00,1\n").unwrap();
    let bad_row = dir.path().join("row.csv");
    std::fs::write(
        &bad_row,
        "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,lots\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.csv");
    for (path, expected) in [
        (&missing, "missing.csv"),
        (&bad_header, "timestamp,value"),
        (&bad_row, "line 3"),
    ] {
        let out = optralis(dir.path())
            .args(["detect", "--input"])
            .arg(path)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{}", path.display());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
