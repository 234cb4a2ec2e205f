//! `consensus-service`'s command line: every flag of the operator's guide, each also read
//! from an `MC_`-prefixed environment variable.

use std::path::PathBuf;

use mcnode_enclave::sealing::DEFAULT_HOST_SECRET_PATH;
use mcnode_transaction::constants::DEFAULT_MINIMUM_FEE;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The consensus validator: validates client transactions, runs SCP with its peers, forms,
/// signs and appends blocks.
#[derive(Clone, Debug, clap::Parser, serde::Serialize)]
#[command(name = "consensus-service", version, about)]
pub struct ServiceArgs {
    /// Responder id (host:port) used in attestation with peers and to name this node in
    /// consensus messages; what peers put in their quorum sets.
    #[arg(long, env = "MC_PEER_RESPONDER_ID")]
    pub peer_responder_id: String,
    /// Responder id (host:port) used in attestation with clients.
    #[arg(long, env = "MC_CLIENT_RESPONDER_ID")]
    pub client_responder_id: String,
    /// Where peers reach this node: `mcp://0.0.0.0:8443/?tls-chain=CRT&tls-key=KEY` or
    /// `insecure-mcp://0.0.0.0:8443/`.
    #[arg(long, env = "MC_PEER_LISTEN_URI")]
    pub peer_listen_uri: String,
    /// Where clients (wallets) reach this node: `mc://0.0.0.0:3223/?tls-chain=…&tls-key=…`
    /// or `insecure-mc://0.0.0.0:3223/`.
    #[arg(
        long,
        env = "MC_CLIENT_LISTEN_URI",
        default_value = "insecure-mc://0.0.0.0:3223/"
    )]
    pub client_listen_uri: String,
    /// Path to network.toml (or network.json, the same in JSON): quorum set, broadcast and
    /// known peers, archive URLs.
    #[arg(long, env = "MC_NETWORK")]
    pub network: PathBuf,
    /// Intel Attestation Service API key (needed with IAS_MODE=PROD only).
    #[arg(long, env = "MC_IAS_API_KEY", hide_env_values = true)]
    #[serde(serialize_with = "redacted")]
    pub ias_api_key: Option<String>,
    /// Intel Attestation Service SPID (needed with IAS_MODE=PROD only).
    #[arg(long, env = "MC_IAS_SPID")]
    pub ias_spid: Option<String>,
    /// Base64 of the PKCS#8 DER Ed25519 key that signs every consensus message (`mcnode
    /// keygen msg-signer`).
    #[arg(long, env = "MC_MSG_SIGNER_KEY", hide_env_values = true)]
    #[serde(serialize_with = "redacted")]
    pub msg_signer_key: String,
    /// The LMDB ledger directory (created from the origin block when empty).
    #[arg(long, env = "MC_LEDGER_PATH")]
    pub ledger_path: PathBuf,
    /// Where the enclave's block-signing key is kept, sealed to this host and build.
    #[arg(long, env = "MC_SEALED_BLOCK_SIGNING_KEY")]
    pub sealed_block_signing_key: PathBuf,
    /// An origin ledger (a directory holding data.mdb, or the data.mdb file) copied into an
    /// empty --ledger-path.
    #[arg(long, env = "MC_ORIGIN_BLOCK_PATH")]
    pub origin_block_path: Option<PathBuf>,
    /// Admin gRPC listen URI, e.g. `insecure-mca://127.0.0.1:9091/`.
    #[arg(long, env = "MC_ADMIN_LISTEN_URI")]
    pub admin_listen_uri: Option<String>,
    /// Start in maintenance mode: client transactions are refused (gRPC UNAVAILABLE)
    /// until it is switched off through the admin API; consensus runs as usual. For
    /// starting an upgraded node before the network takes transactions again.
    #[arg(long, env = "MC_MAINTENANCE")]
    pub maintenance: bool,
    /// The host-bound secret the sealing key derives from (created if missing).
    #[arg(long, env = "MC_HOST_SECRET_PATH", default_value = DEFAULT_HOST_SECRET_PATH)]
    pub host_secret_path: PathBuf,
    /// The block version this node writes (1..=3; all nodes must agree). Never lower
    /// than the ledger's last block: versions only rise, at a network upgrade (a flag day,
    /// see docs/running-the-node.md). 1: one token; 2: tokens, fee map, fee outputs,
    /// memos; 3: minting.
    #[arg(long, env = "MC_BLOCK_VERSION", default_value = "1")]
    #[serde(serialize_with = "version_number")]
    pub block_version: mcnode_transaction::BlockVersion,
    /// Minimum transaction fee the enclave enforces (all nodes must agree).
    #[arg(long, env = "MC_MINIMUM_FEE", default_value_t = DEFAULT_MINIMUM_FEE)]
    pub minimum_fee: u64,
    /// Most transactions in one block.
    #[arg(long, env = "MC_MAX_BLOCK_TXS", default_value_t = mcnode_node_core::DEFAULT_MAX_BLOCK_TXS)]
    pub max_block_txs: usize,
    /// Most transactions cached (accepted, not yet in a block); over it clients get gRPC
    /// UNAVAILABLE.
    #[arg(long, env = "MC_MAX_CACHED_TXS", default_value_t = mcnode_node_core::StoreLimits::default().max_txs)]
    pub max_cached_txs: usize,
    /// Most transactions awaiting nomination; over it clients get gRPC UNAVAILABLE.
    #[arg(long, env = "MC_MAX_PENDING_VALUES", default_value_t = mcnode_node_core::StoreLimits::default().max_pending)]
    pub max_pending_values: usize,
    /// Admission: a client's new transaction is refused (gRPC UNAVAILABLE) while the node
    /// holds more than the network committed in this many seconds lately (measured over
    /// the last 10 s), so that what it accepts is committed soon instead of queueing.
    #[arg(long, env = "MC_ADMISSION_DRAIN_SECONDS", default_value_t = 5)]
    pub admission_drain_seconds: u64,
    /// Admission never refuses while the node holds fewer transactions than this.
    #[arg(long, env = "MC_ADMISSION_FLOOR", default_value_t = mcnode_node_core::AdmitConfig::default().floor)]
    pub admission_floor: usize,
    /// A slot with work to do (transactions pending or peers talking about it) that has not
    /// moved for this many seconds is logged as a warning (slot, phase, round, pending count
    /// and which quorum members were heard), and again as long as it stays so.
    #[arg(long, env = "MC_STALL_WARN_SECONDS", default_value_t = 10)]
    pub stall_warn_seconds: u64,
    /// Log format (the container uses json).
    #[arg(long, env = "MC_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// SGX mode: SW (software enclave) or HW.
    #[arg(long, env = "SGX_MODE", default_value = "SW")]
    pub sgx_mode: String,
    /// Attestation service mode: DEV or PROD.
    #[arg(long, env = "IAS_MODE", default_value = "DEV")]
    pub ias_mode: String,
}

fn version_number<S: serde::Serializer>(
    v: &mcnode_transaction::BlockVersion,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_u32(v.get())
}

/// Secrets in the admin API's copy of the configuration.
fn redacted<T, S: serde::Serializer>(_: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("<redacted>")
}
