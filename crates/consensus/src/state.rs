//! What the node's tasks share: the parts the node is assembled from (read-only), the
//! transport's own small state (attested peers, de-duplication, maintenance), the handle
//! to the node task, and the snapshot the node task publishes after every step.
//!
//! Every decision lives in the node task ([`crate::node`]), which owns the
//! [`mcnode_node_core::NodeCore`]; the gRPC handlers only verify, decrypt and validate,
//! then talk to it through the bounded queues of [`NodeHandle`].

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use mcnode_blockchain::QuorumSetRecord;
use mcnode_crypto::{Ed25519Public, Ed25519Signer};
use mcnode_enclave::{ChainSettings, ConsensusEnclave};
use mcnode_ledger::Ledger;
use mcnode_node_core::{CoreStatus, SyncMode};
use mcnode_peers::{Broadcaster, Deduplicator, PeerClient, ResponderId, SignedConsensusMsg};
use mcnode_scp::QuorumSet;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};

use crate::{
    metrics::Metrics,
    node::{Input, Received},
};

/// What the node is doing, as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Taking transactions.
    Running,
    /// Behind its peers: fetching blocks (clients get `CATCHING_UP`).
    CatchingUp,
    /// Maintenance mode (clients get gRPC `UNAVAILABLE`; consensus goes on).
    Maintenance,
}

impl Mode {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::CatchingUp => "catching_up",
            Self::Maintenance => "maintenance",
        }
    }
}

/// Fixed facts about the node, for the admin API.
#[derive(Clone, Debug)]
pub struct About {
    /// `--client-responder-id`.
    pub client_responder_id: String,
    /// The command line as read, secrets redacted.
    pub config: serde_json::Value,
    /// `SW` or `HW`.
    pub sgx_mode: String,
    /// `--max-cached-txs`.
    pub max_txs: usize,
    /// `--max-pending-values`.
    pub max_pending: usize,
}

/// What the node task publishes after every step, for handlers and the admin API.
#[derive(Clone, Debug)]
pub struct Published {
    /// The core's state.
    pub status: CoreStatus,
    /// Each peer's last SCP message: its slot and when it arrived.
    pub heard: HashMap<String, (u64, Instant)>,
    /// Heights peers are known to have.
    pub peer_heights: HashMap<String, u64>,
    /// This node's latest envelope for the current slot (`GetLatestMsg`).
    pub latest_msg: Option<SignedConsensusMsg>,
    /// When this process last appended a block (Unix seconds).
    pub last_block_unix: Option<u64>,
    /// Each quorum member's state in the recent slots (none before the first step).
    pub quorum_health: Option<Arc<mcnode_node_core::QuorumHealthReport>>,
}

/// The way to the node task: bounded queues, envelopes on their own so they never wait
/// behind transactions, and the latest published snapshot.
#[derive(Clone, Debug)]
pub struct NodeHandle {
    /// Everything but envelopes.
    pub inbox: mpsc::Sender<Input>,
    /// Peers' envelopes (the node task takes these first).
    pub envelopes: mpsc::Sender<Received>,
    /// The latest snapshot.
    pub published: watch::Receiver<Arc<Published>>,
}

/// The parts the node is assembled from (see [`Shared`], which derefs to it).
pub struct SharedParts {
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    /// The enclave.
    pub enclave: Arc<dyn ConsensusEnclave>,
    /// Chain rules.
    pub chain: ChainSettings,
    /// Our peer responder id.
    pub responder_id: ResponderId,
    /// The msg-signer key.
    pub signer: Ed25519Signer,
    /// Our quorum set, as block metadata records it.
    pub quorum_record: QuorumSetRecord,
    /// Message keys of every configured peer.
    pub peer_keys: HashMap<ResponderId, Ed25519Public>,
    /// A client per configured peer (broadcast peers first).
    pub peers: Vec<Arc<PeerClient>>,
    /// Broadcast to the broadcast peers.
    pub broadcaster: Broadcaster,
    /// The node task.
    pub node: NodeHandle,
    /// Flips to true on shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// Archive URLs to catch up from.
    pub tx_source_urls: Vec<url::Url>,
    /// Metrics.
    pub metrics: Metrics,
    /// Every metric of the process (the node's and the archive reader's).
    pub registry: Registry,
    /// Our quorum set.
    pub quorum_set: QuorumSet,
    /// What the admin API reports about the configuration and build.
    pub about: About,
}

/// Everything the node's tasks share: the [`SharedParts`] (through `Deref`) and the
/// transport's own state.
pub struct Shared {
    parts: SharedParts,
    maintenance: AtomicBool,
    /// Envelopes seen recently (an envelope counts as seen once the node task has it).
    pub dedup: Mutex<Deduplicator>,
    attested_peers: Mutex<HashSet<String>>,
    /// When the node started.
    pub started: Instant,
}

/// Locks a mutex that guards plain data, whatever a panicking holder left.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::ops::Deref for Shared {
    type Target = SharedParts;

    fn deref(&self) -> &SharedParts {
        &self.parts
    }
}

/// Envelope ids remembered for de-duplication.
pub const DEDUP_WINDOW: usize = 16_384;

impl Shared {
    /// Assembles the shared state.
    pub fn new(parts: SharedParts) -> Self {
        Self {
            parts,
            maintenance: AtomicBool::new(false),
            dedup: Mutex::new(Deduplicator::new(DEDUP_WINDOW)),
            attested_peers: Mutex::new(HashSet::new()),
            started: Instant::now(),
        }
    }

    /// The node task's latest snapshot.
    pub fn published(&self) -> Arc<Published> {
        self.node.published.borrow().clone()
    }

    /// The current mode: maintenance when switched on, otherwise the sync state.
    pub fn mode(&self) -> Mode {
        if self.maintenance.load(Ordering::Acquire) {
            return Mode::Maintenance;
        }
        match self.published().status.mode {
            SyncMode::Running => Mode::Running,
            SyncMode::CatchingUp => Mode::CatchingUp,
        }
    }

    /// Switches maintenance mode (client transactions refused, consensus goes on).
    pub fn set_maintenance(&self, on: bool) {
        self.maintenance.store(on, Ordering::Release);
        self.metrics.maintenance.set(i64::from(on));
        tracing::info!(maintenance = on, "maintenance mode switched");
    }

    /// How long ago `node`'s last valid consensus message arrived.
    pub fn last_heard(&self, node: &ResponderId) -> Option<Duration> {
        self.published()
            .heard
            .get(node.as_str())
            .map(|(_, t)| t.elapsed())
    }

    /// The height `peer` last reported.
    pub fn reported_height(&self, peer: &ResponderId) -> Option<u64> {
        self.published().peer_heights.get(peer.as_str()).copied()
    }

    /// Brings the gauges computed from live state up to date (before a scrape).
    pub fn refresh_scrape_gauges(&self) {
        for (peer, health) in self.broadcaster.health() {
            let label = crate::metrics::PeerLabel {
                peer: peer.to_string(),
            };
            self.metrics
                .peer_up
                .get_or_create(&label)
                .set(i64::from(health.connected));
            self.metrics
                .peer_queued
                .get_or_create(&label)
                .set(health.queued as i64);
            self.metrics
                .peer_queued_txs
                .get_or_create(&label)
                .set(health.queued_tx_batches as i64);
        }
        for peer in self.peers.iter().map(|p| &p.peer().responder_id) {
            let age = self.last_heard(peer).map_or(-1.0, |d| d.as_secs_f64());
            self.metrics
                .peer_last_message_age
                .get_or_create(&crate::metrics::PeerLabel {
                    peer: peer.to_string(),
                })
                .set(age);
        }
    }

    /// Notes that the peer `responder_id` attested to our enclave.
    pub fn attested(&self, responder_id: &str) {
        lock(&self.attested_peers).insert(responder_id.to_string());
    }

    /// True when the peer `responder_id` attested to our enclave since we started.
    pub fn has_attested(&self, responder_id: &ResponderId) -> bool {
        lock(&self.attested_peers).contains(responder_id.as_str())
    }
}
