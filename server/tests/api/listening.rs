//! `optralis serve` on ports it picks itself. Shared by the API tests and
//! the benches (`#[path]`), so it uses nothing but tokio and std.

use std::{
    net::SocketAddr,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::io::{AsyncBufReadExt, BufReader};

/// An `optralis serve` child and the addresses it bound.
pub struct Listening {
    pub child: tokio::process::Child,
    pub api: SocketAddr,
    pub agent: SocketAddr,
    /// Every line the child printed on stdout so far (read on).
    pub stdout: Arc<Mutex<Vec<String>>>,
}

/// Spawns `cmd` (an `optralis serve`) with `PORT=0` and `AGENT_PORT=0`
/// and waits for the line where it names the addresses it bound. The
/// system picks the ports when the server binds them: no port is chosen
/// and released beforehand, so no other process can take it in between.
pub async fn serve_on_free_ports(mut cmd: tokio::process::Command) -> Listening {
    cmd.env("PORT", "0")
        .env("AGENT_PORT", "0")
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("optralis serve spawns");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let bound = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            stdout.lock().unwrap().push(line.clone());
            if let Some(rest) = line.strip_prefix("optralis listening ") {
                let addr = |key: &str| -> SocketAddr {
                    rest.split_whitespace()
                        .find_map(|kv| kv.strip_prefix(key))
                        .and_then(|a| a.parse().ok())
                        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
                };
                return Some((addr("api="), addr("agent=")));
            }
        }
        None
    })
    .await
    .expect("the server names its ports within 60 s");
    let Some((api, agent)) = bound else {
        let status = child.wait().await;
        panic!("optralis serve exited before listening: {status:?}");
    };
    // Keep reading so the child never blocks on a full pipe.
    let rest = stdout.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            rest.lock().unwrap().push(line);
        }
    });
    Listening {
        child,
        api,
        agent,
        stdout,
    }
}
