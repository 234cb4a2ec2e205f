//! `localnet.json`: where `mcnode localnet` put each node and the sample wallets' key
//! files. Written by the localnet command, read by every tool given `--dir`.
//!
//! Format version [`MANIFEST_VERSION`]; unknown fields are ignored, so later writers may
//! add fields without a version bump; a file of another version is refused.
//!
//! ```json
//! {
//!   "version": 1,
//!   "nodes": [
//!     { "name": "node0",
//!       "peer_responder_id": "127.0.0.1:3201", "client_responder_id": "127.0.0.1:3200",
//!       "client_uri": "mc://127.0.0.1:3200/?ca-bundle=/abs/DIR/tls/ca.pem&tls-hostname=localhost",
//!       "peer_uri": "mcp://127.0.0.1:3201/?...", "admin_uri": "insecure-mca://127.0.0.1:3202/",
//!       "dir": "/abs/DIR/node0", "ledger_path": "/abs/DIR/node0/ledger",
//!       "archive": "file:///abs/DIR/node0/archive",
//!       "admin_http": "127.0.0.1:3203", "metrics_http": "127.0.0.1:3204",
//!       "distribution_metrics": "127.0.0.1:3205" }
//!   ],
//!   "wallets": ["/abs/DIR/wallets/account_keys_0.json"]
//! }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest's file name inside a localnet directory.
pub const MANIFEST_FILE: &str = "localnet.json";
/// The format version this build reads and writes.
pub const MANIFEST_VERSION: u32 = 1;

/// Why a manifest could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not a manifest.
    #[error("{path}: not a localnet manifest: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        reason: String,
    },
    /// The file has another format version.
    #[error("{path}: localnet format version {found}, this build reads version {supported} (recreate the localnet with this build)")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u64,
        /// The version this build reads.
        supported: u32,
    },
    /// A node index beyond the manifest's nodes.
    #[error("no node {index}: the localnet has {count} nodes")]
    NoSuchNode {
        /// Asked for.
        index: usize,
        /// Nodes in the manifest.
        count: usize,
    },
    /// A wallet index beyond the manifest's wallets.
    #[error("no wallet {index}: the localnet has {count} wallet key files")]
    NoSuchWallet {
        /// Asked for.
        index: usize,
        /// Wallets in the manifest.
        count: usize,
    },
}

/// One node of a localnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestNode {
    /// Its name (`node0`, …).
    pub name: String,
    /// Its `--peer-responder-id`.
    pub peer_responder_id: String,
    /// Its `--client-responder-id`.
    pub client_responder_id: String,
    /// The URI wallets connect to (`mc://…` or `insecure-mc://…`).
    pub client_uri: String,
    /// The URI peers connect to (`mcp://…`).
    pub peer_uri: String,
    /// Its admin URI (`mca://…` or `insecure-mca://…`).
    pub admin_uri: String,
    /// Its working directory.
    pub dir: PathBuf,
    /// Its ledger directory.
    pub ledger_path: PathBuf,
    /// The archive its `ledger-distribution` writes to (`file:///…`), if any.
    pub archive: String,
    /// Where its `mc-admin-http-gateway` serves the panel and `/metrics` (`host:port`;
    /// absent in manifests written before the gateway existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_http: Option<String>,
    /// Where the gateway serves `/metrics` alone (the operator guide's port 9090).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_http: Option<String>,
    /// Where its `ledger-distribution` serves `/metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_metrics: Option<String>,
}

/// `localnet.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The nodes, in order (`--node I` picks one).
    pub nodes: Vec<ManifestNode>,
    /// The sample accounts' key files (`--account I` picks one); relative paths are
    /// relative to the localnet directory.
    pub wallets: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u64,
}

impl Manifest {
    /// The manifest's path in a localnet directory.
    pub fn path(dir: impl AsRef<Path>) -> PathBuf {
        dir.as_ref().join(MANIFEST_FILE)
    }

    /// Parses a manifest's text (`path` only names it in errors). Checks the version
    /// before anything else.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let parse_err = |e: serde_json::Error| ManifestError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let v: VersionOnly = serde_json::from_str(text).map_err(parse_err)?;
        if v.version != u64::from(MANIFEST_VERSION) {
            return Err(ManifestError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: v.version,
                supported: MANIFEST_VERSION,
            });
        }
        let manifest: Self = serde_json::from_str(text).map_err(parse_err)?;
        if manifest.nodes.is_empty() {
            return Err(ManifestError::Parse {
                path: path.to_path_buf(),
                reason: "it lists no nodes".into(),
            });
        }
        Ok(manifest)
    }

    /// Reads `DIR/localnet.json`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path).map_err(|error| ManifestError::Io {
            path: path.clone(),
            error,
        })?;
        Self::parse(&text, &path)
    }

    /// Writes `DIR/localnet.json` (pretty JSON; through a temporary file and a rename, so
    /// readers never see half a file).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(), ManifestError> {
        let path = Self::path(&dir);
        let tmp = dir.as_ref().join(format!("{MANIFEST_FILE}.tmp"));
        let io = |error| ManifestError::Io {
            path: path.clone(),
            error,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(&tmp, format!("{text}\n")).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// Node `index`.
    pub fn node(&self, index: usize) -> Result<&ManifestNode, ManifestError> {
        self.nodes.get(index).ok_or(ManifestError::NoSuchNode {
            index,
            count: self.nodes.len(),
        })
    }

    /// The key file of wallet `index`, resolved against the localnet directory `dir`.
    pub fn wallet_path(
        &self,
        dir: impl AsRef<Path>,
        index: usize,
    ) -> Result<PathBuf, ManifestError> {
        let p = self.wallets.get(index).ok_or(ManifestError::NoSuchWallet {
            index,
            count: self.wallets.len(),
        })?;
        Ok(dir.as_ref().join(p))
    }
}

impl ManifestNode {
    /// Client, peer and admin ports, from the responder ids and the admin URI.
    pub fn ports(&self) -> Result<[u16; 3], ManifestError> {
        let bad = |what: &str, reason: String| ManifestError::Parse {
            path: PathBuf::from(MANIFEST_FILE),
            reason: format!("{}: {what}: {reason}", self.name),
        };
        let port = |what: &str, id: &str| -> Result<u16, ManifestError> {
            let id: mcnode_peers::ResponderId =
                id.parse().map_err(|e| bad(what, format!("{e}")))?;
            id.as_str()
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse().ok())
                .ok_or_else(|| bad(what, "no port".into()))
        };
        let admin = mcnode_peers::NodeUri::parse(&self.admin_uri, mcnode_peers::Service::Admin)
            .map_err(|e| bad("admin_uri", e.to_string()))?
            .port;
        Ok([
            port("client_responder_id", &self.client_responder_id)?,
            port("peer_responder_id", &self.peer_responder_id)?,
            admin,
        ])
    }

    /// A file in the node's directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The admin panel's URL, if the node has a gateway.
    pub fn panel_url(&self) -> Option<String> {
        self.admin_http.as_ref().map(|a| format!("http://{a}/"))
    }

    /// Every Prometheus endpoint of the node: the gateway's two, then
    /// `ledger-distribution`'s.
    pub fn metrics_urls(&self) -> Vec<String> {
        [
            &self.admin_http,
            &self.metrics_http,
            &self.distribution_metrics,
        ]
        .into_iter()
        .flatten()
        .map(|a| format!("http://{a}/metrics"))
        .collect()
    }
}
