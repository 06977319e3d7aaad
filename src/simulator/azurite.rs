//! Runs Azurite, Microsoft's storage emulator (npm `azurite`), as the storage account of the
//! queue tests, the demo and the benchmarks: it is started in memory on free loopback ports and
//! stopped when dropped. Only the development account's well-known key opens it.
//!
//! It is found at `MFA_AZURITE` (the path of `azurite.js`) or under `target/tools/azurite`, where
//! `.ci/run` and [`Azurite::install`] put it (`npm install azurite@3.37.0`: it declares
//! node >= 22 and runs on the Node 20 this project has; plain `npm install azurite` would pick an
//! older release that refuses the storage crates' service version).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use crate::storage::AccountSettings;

/// The release installed and tested.
pub(crate) const VERSION: &str = "3.37.0";

/// A running Azurite.
pub struct Azurite {
    blob: Url,
    queue: Url,
    _child: Child,
}

/// Why Azurite is not running.
#[derive(Debug, thiserror::Error)]
pub enum AzuriteError {
    #[error(
        "Azurite is not installed: run `npm install --prefix target/tools/azurite azurite@{VERSION}` \
         (Node 20 or later), or set MFA_AZURITE to its azurite.js"
    )]
    NotInstalled,
    #[error("Azurite could not be installed with npm: {0}")]
    Install(String),
    #[error("Azurite did not start: {0}")]
    Start(String),
}

impl Azurite {
    /// Where `azurite.js` is, if it is installed.
    pub(crate) fn locate() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("MFA_AZURITE").map(PathBuf::from) {
            return path.is_file().then_some(path);
        }
        let path = default_dir().join("node_modules/azurite/dist/src/azurite.js");
        path.is_file().then_some(path)
    }

    /// Installs Azurite under `target/tools/azurite` unless it is there. Only one process
    /// installs it at a time (the tests run in several), and the others wait for it.
    ///
    /// # Errors
    ///
    /// When npm fails.
    pub fn install() -> Result<PathBuf, AzuriteError> {
        if let Some(path) = Azurite::locate() {
            return Ok(path);
        }
        let dir = default_dir();
        std::fs::create_dir_all(&dir).map_err(|error| AzuriteError::Install(error.to_string()))?;
        let lock = std::fs::File::create(dir.join(".install.lock"))
            .map_err(|error| AzuriteError::Install(error.to_string()))?;
        lock.lock()
            .map_err(|error| AzuriteError::Install(error.to_string()))?;
        if let Some(path) = Azurite::locate() {
            return Ok(path);
        }
        let output = std::process::Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&dir)
            .arg(format!("azurite@{VERSION}"))
            .stdin(Stdio::null())
            .output()
            .map_err(|error| AzuriteError::Install(format!("npm did not run: {error}")))?;
        if !output.status.success() {
            return Err(AzuriteError::Install(
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("npm failed")
                    .to_owned(),
            ));
        }
        Azurite::locate().ok_or(AzuriteError::NotInstalled)
    }

    /// Starts the Azurite at `script` in memory on free ports, and waits until its blob and
    /// queue services listen.
    ///
    /// # Errors
    ///
    /// When node does not start it, or it does not say where it listens within 60 s.
    pub async fn start(script: &Path) -> Result<Azurite, AzuriteError> {
        let mut command = Command::new("node");
        super::child::end_with_parent(&mut command);
        let mut child = command
            .arg(script)
            .args([
                "--inMemoryPersistence",
                "--silent",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                "0",
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                "0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| AzuriteError::Start(format!("node did not start: {error}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| AzuriteError::Start("no output".to_owned()))?;
        let mut lines = BufReader::new(stdout).lines();
        let listening = async {
            let (mut blob, mut queue) = (None, None);
            while let Ok(Some(line)) = lines.next_line().await {
                let address = line
                    .split("listening at ")
                    .nth(1)
                    .and_then(|address| Url::parse(address.trim()).ok());
                if line.contains("Blob service") {
                    blob = address;
                } else if line.contains("Queue service") {
                    queue = address;
                }
                if let (Some(blob), Some(queue)) = (&blob, &queue) {
                    return Some((blob.clone(), queue.clone()));
                }
            }
            None
        };
        let (blob, queue) = tokio::time::timeout(Duration::from_secs(60), listening)
            .await
            .ok()
            .flatten()
            .ok_or_else(|| {
                AzuriteError::Start("it did not say where its services listen".to_owned())
            })?;
        // Keep reading its output so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Azurite {
            blob,
            queue,
            _child: child,
        })
    }

    /// Names the development account on this Azurite.
    pub fn account(&self) -> AccountSettings {
        AccountSettings::development(&self.blob, &self.queue)
    }
}

/// Returns this crate's `target/tools/azurite`.
fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/azurite")
}
