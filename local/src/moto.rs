//! moto, the local AWS: started on a free loopback port, waited for, killed on drop.

use aws_config::{BehaviorVersion, SdkConfig};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root (this crate lives in `local/`).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A local stand-in's program: the path in `variable`, else the repository's copy at
/// `installed` (what `infra/setup.sh` installs), else `fallback` on PATH.
pub fn tool(variable: &str, installed: &str, fallback: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(variable) {
        return p.into();
    }
    let local = workspace().join(installed);
    if local.exists() { local } else { fallback.into() }
}

/// The Python that has moto: `VIGIL_PYTHON`, the repo's venv, or `python3` on PATH.
fn python() -> PathBuf {
    tool("VIGIL_PYTHON", ".venv/bin/python", "python3")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something listens on `addr` (30 s at most).
pub fn wait_for(addr: SocketAddr, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what} did not listen on {addr} within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// A moto server; killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `infra/local/moto_server.py` (moto with Vigil's fixes) on a free port; its
    /// log, with each request and any traceback, goes to the temp directory. A port that
    /// another test's server took between `free_port` and moto's bind makes this moto exit,
    /// and a new port is tried: listening there is not proof enough that it is ours.
    pub fn start() -> Result<Moto, String> {
        let mut failed = String::new();
        for _ in 0..5 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("vigil-moto-{port}-{}.log", std::process::id()));
            let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            tracing::info!(port, log = %log.display(), "starting moto");
            let child = Command::new(python())
                .arg(workspace().join("infra/local/moto_server.py"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::from(stderr))
                .spawn()
                .map_err(|e| format!("cannot start moto ({e}); run `bash infra/setup.sh` first"))?;
            let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
            match bound(&mut moto.child, &log, port) {
                Ok(()) => return Ok(moto),
                Err(e) => failed = e,
            }
        }
        Err(failed)
    }
}

/// Waits for `child`'s own log to say it serves on `port` (werkzeug prints it once bound).
fn bound(child: &mut Child, log: &std::path::Path, port: u16) -> Result<(), String> {
    let line = format!("Running on http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::fs::read_to_string(log).is_ok_and(|text| text.contains(&line)) {
            return wait_for(SocketAddr::from(([127, 0, 0, 1], port)), "moto");
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("moto exited ({status}) on port {port}: see {}", log.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("moto did not start on port {port} within 30 s: see {}", log.display()))
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SDK configuration sending every client to `endpoint` with test credentials.
pub async fn config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "local"))
        .load()
        .await
}

/// Sets the faults the moto wrapper injects (`infra/local/moto_server.py`, `Faults`):
/// `{"seed": n, "rules": [{"target", "fault", "rate", "ms"}]}`; `{"rules": []}` clears them.
/// Returns them as the server now holds them, with how many of each were injected.
pub fn set_faults(endpoint: &str, config: &serde_json::Value) -> Result<serde_json::Value, String> {
    control(endpoint, "POST", &config.to_string())
}

/// The faults the moto wrapper holds, with how many of each it injected.
pub fn faults(endpoint: &str) -> Result<serde_json::Value, String> {
    control(endpoint, "GET", "")
}

/// One plain HTTP/1.1 exchange with the wrapper's control path.
fn control(endpoint: &str, method: &str, body: &str) -> Result<serde_json::Value, String> {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).map_err(|e| format!("moto at {host}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let request = format!(
        "{method} /_vigil/faults HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    let (head, json) = response.split_once("\r\n\r\n").ok_or("no HTTP response from moto")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!("moto refused the faults: {head}"));
    }
    serde_json::from_str(json).map_err(|e| format!("moto's faults: {e}"))
}
