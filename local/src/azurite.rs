//! Azurite, the local Azure Blob: started on a free loopback port (in memory), waited
//! for, killed on drop — as `moto.rs` does for moto. `infra/setup.sh` installs it.

use crate::moto::{free_port, tool, wait_for};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use vigil_shared::azure::AzureCredentials;

/// Azurite's well-known development account and key.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// `azurite-blob` from `VIGIL_AZURITE`, the repo's tools, or PATH.
fn binary() -> PathBuf {
    tool("VIGIL_AZURITE", ".tools/azurite/node_modules/.bin/azurite-blob", "azurite-blob")
}

/// An Azurite Blob service; killed when dropped.
pub struct Azurite {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

impl Azurite {
    pub fn start() -> Result<Azurite, String> {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("vigil-azurite-{port}.log"));
        let stdout = std::fs::File::create(&log).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
        let child = Command::new(binary())
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl", "--silent"])
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start Azurite ({e}); run `bash infra/setup.sh`"))?;
        let azurite = Azurite { child, port, endpoint: format!("http://127.0.0.1:{port}/{ACCOUNT}") };
        wait_for(SocketAddr::from(([127, 0, 0, 1], port)), "Azurite")?;
        Ok(azurite)
    }

    /// Credentials for `container` in this Azurite (what the Secrets Manager secret holds).
    pub fn credentials(&self, container: &str) -> AzureCredentials {
        credentials(&self.endpoint, container)
    }
}

/// The development account at `endpoint`.
pub fn credentials(endpoint: &str, container: &str) -> AzureCredentials {
    AzureCredentials {
        account: ACCOUNT.to_owned(),
        key: KEY.to_owned(),
        endpoint: Some(endpoint.to_owned()),
        container: container.to_owned(),
        immutability_days: None,
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
