//! What the node's tasks share: the ledger, the enclave, the transaction cache, the peers,
//! the node's mode and its metrics.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering},
        Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use mcnode_blockchain::QuorumSetRecord;
use mcnode_crypto::{Ed25519Public, Ed25519Signer};
use mcnode_enclave::{ChainSettings, ConsensusEnclave, LocallyEncryptedTx};
use mcnode_ledger::Ledger;
use mcnode_peers::{Broadcaster, Deduplicator, PeerClient, ResponderId, SignedConsensusMsg};
use mcnode_scp::{QuorumSet, SlotMetrics, SlotPhase};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::{Registry, Unit},
};
use tokio::sync::{mpsc, watch, Notify};

use crate::{driver::Event, TxCache, TxHash};

/// The cache as the tasks share it.
pub type SharedCache = Arc<RwLock<TxCache>>;

/// What the node is doing, as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Taking transactions.
    Running = 0,
    /// Behind its peers: fetching blocks (clients get `CATCHING_UP`).
    CatchingUp = 1,
    /// Maintenance mode (clients get gRPC `UNAVAILABLE`; consensus goes on).
    Maintenance = 2,
}

impl Mode {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::CatchingUp,
            2 => Self::Maintenance,
            _ => Self::Running,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::CatchingUp => "catching_up",
            Self::Maintenance => "maintenance",
        }
    }
}

/// A `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// Why.
    pub reason: String,
}

/// A `code` label (transaction result codes).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Code {
    /// The result code.
    pub code: u32,
}

/// A `peer` label (its responder id).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabel {
    /// The peer's responder id.
    pub peer: String,
}

/// A `phase` label (SCP slot phases).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    /// `idle`, `nominate`, `prepare`, `confirm` or `externalize`.
    pub phase: String,
}

/// Labels of a gRPC request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcLabels {
    /// The full method path, e.g. `/mcnode.v1.ConsensusClientApi/ClientTxPropose`
    /// (`other` for paths not served here).
    pub method: String,
    /// The gRPC status code name, e.g. `OK`, `UNAVAILABLE`.
    pub code: String,
}

/// Labels of an enclave handshake count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandshakeLabels {
    /// `client` or `peer`.
    pub kind: String,
    /// `ok` or `refused`.
    pub result: String,
}

/// A `source` label (where caught-up blocks came from: `peer` or `archive`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    /// `peer` or `archive`.
    pub source: String,
}

/// Labels of the build-info gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// The crate version.
    pub version: String,
    /// The enclave measurement (hex).
    pub measurement: String,
}

/// The kinds of `consensus_errors_total`.
pub const ERROR_KINDS: [&str; 2] = ["relay_queue_full", "no_valid_transactions"];

/// The reasons of `consensus_msgs_dropped_total`.
pub const DROP_REASONS: [&str; 8] = [
    "old_slot",
    "too_far_ahead",
    "held_full",
    "other_parent",
    "scp_refused",
    "not_attested",
    "refused_envelope",
    "driver_busy",
];

/// The SCP phases, as the `phase` label spells them (`idle`: the slot has not started).
pub const PHASES: [&str; 5] = ["idle", "nominate", "prepare", "confirm", "externalize"];

fn phase_name(p: SlotPhase) -> &'static str {
    match p {
        SlotPhase::Nominate => "nominate",
        SlotPhase::Prepare => "prepare",
        SlotPhase::Confirm => "confirm",
        SlotPhase::Externalize => "externalize",
    }
}

/// The node's metrics. Cloning shares the values.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// `consensus_txs_accepted_total`.
    pub txs_accepted: Counter,
    /// `consensus_txs_rejected_total{code}`.
    pub txs_rejected: Family<Code, Counter>,
    /// `consensus_tx_completion_seconds`: submission to block.
    pub tx_completion: Histogram,
    /// `consensus_blocks_written_total`.
    pub blocks_written: Counter,
    /// `consensus_block_txs`: transactions per block formed here.
    pub block_txs: Histogram,
    /// `consensus_block_form_seconds`: externalize to appended.
    pub block_form: Histogram,
    /// `consensus_msgs_dropped_total{reason}`.
    pub msgs_dropped: Family<Reason, Counter>,
    /// `consensus_errors_total{reason}`.
    pub errors: Family<Reason, Counter>,
    /// `consensus_ledger_height`.
    pub ledger_height: Gauge,
    /// `consensus_tx_cache_size`.
    pub tx_cache_size: Gauge,
    /// `consensus_pending_values`.
    pub pending_values: Gauge,
    /// `consensus_txs_committed_total`: transactions in blocks this node appended.
    pub txs_committed: Counter,
    /// `consensus_scp_slot`: the slot being agreed (the next block's index).
    pub scp_slot: Gauge,
    /// `consensus_scp_slot_phase{phase}`: 1 for the current slot's phase, 0 for the others.
    pub scp_phase: Family<PhaseLabel, Gauge>,
    /// `consensus_scp_ballot` (the ballot counter; a gauge may not be named `_counter`).
    pub scp_ballot_counter: Gauge,
    /// `consensus_scp_nomination_round`.
    pub scp_nomination_round: Gauge,
    /// `consensus_peer_up{peer}`: 1 when the last call to the peer succeeded.
    pub peer_up: Family<PeerLabel, Gauge>,
    /// `consensus_peer_last_message_age_seconds{peer}` (-1 before its first message).
    pub peer_last_message_age: Family<PeerLabel, Gauge<f64, AtomicU64>>,
    /// `consensus_peer_queued_messages{peer}`: waiting in its broadcast queue.
    pub peer_queued: Family<PeerLabel, Gauge>,
    /// `consensus_blocks_behind`: the highest peer height minus ours.
    pub blocks_behind: Gauge,
    /// `consensus_maintenance_mode`: 1 while client transactions are refused.
    pub maintenance: Gauge,
    /// `consensus_grpc_requests_total{method,code}`.
    pub grpc_requests: Family<GrpcLabels, Counter>,
    /// `consensus_enclave_handshakes_total{kind,result}`.
    pub enclave_handshakes: Family<HandshakeLabels, Counter>,
    /// `consensus_catchup_blocks_total{source}`.
    pub catchup_blocks: Family<SourceLabel, Counter>,
    /// `consensus_build_info{version,measurement}`: always 1.
    pub build_info: Family<BuildLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            txs_accepted: Counter::default(),
            txs_rejected: Family::default(),
            tx_completion: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            blocks_written: Counter::default(),
            block_txs: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            block_form: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            msgs_dropped: Family::default(),
            errors: Family::default(),
            ledger_height: Gauge::default(),
            tx_cache_size: Gauge::default(),
            pending_values: Gauge::default(),
            txs_committed: Counter::default(),
            scp_slot: Gauge::default(),
            scp_phase: Family::default(),
            scp_ballot_counter: Gauge::default(),
            scp_nomination_round: Gauge::default(),
            peer_up: Family::default(),
            peer_last_message_age: Family::default(),
            peer_queued: Family::default(),
            blocks_behind: Gauge::default(),
            maintenance: Gauge::default(),
            grpc_requests: Family::default(),
            enclave_handshakes: Family::default(),
            catchup_blocks: Family::default(),
            build_info: Family::default(),
        }
    }
}

impl Metrics {
    /// Registers every metric under the `consensus_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        self.preset();
        let r = registry.sub_registry_with_prefix("consensus");
        r.register(
            "txs_accepted",
            "Transactions accepted into the cache",
            self.txs_accepted.clone(),
        );
        r.register(
            "txs_rejected",
            "Transactions refused, by result code",
            self.txs_rejected.clone(),
        );
        r.register_with_unit(
            "tx_completion",
            "Time from a client's submission to the block holding it",
            Unit::Seconds,
            self.tx_completion.clone(),
        );
        r.register(
            "blocks_written",
            "Blocks appended to the ledger",
            self.blocks_written.clone(),
        );
        r.register(
            "block_txs",
            "Transactions per block formed by this node",
            self.block_txs.clone(),
        );
        r.register_with_unit(
            "block_form",
            "Time to form, sign and append a block after externalize",
            Unit::Seconds,
            self.block_form.clone(),
        );
        r.register(
            "msgs_dropped",
            "Consensus messages dropped, by reason",
            self.msgs_dropped.clone(),
        );
        r.register(
            "errors",
            "Consensus service errors, by kind",
            self.errors.clone(),
        );
        r.register(
            "ledger_height",
            "Blocks in the ledger",
            self.ledger_height.clone(),
        );
        r.register(
            "tx_cache_size",
            "Transactions in the cache",
            self.tx_cache_size.clone(),
        );
        r.register(
            "pending_values",
            "Transactions awaiting nomination",
            self.pending_values.clone(),
        );
        r.register(
            "txs_committed",
            "Transactions in blocks this node formed",
            self.txs_committed.clone(),
        );
        r.register(
            "scp_slot",
            "The SCP slot being agreed (the next block index)",
            self.scp_slot.clone(),
        );
        r.register(
            "scp_slot_phase",
            "1 for the current slot's SCP phase, 0 for the others",
            self.scp_phase.clone(),
        );
        r.register(
            "scp_ballot",
            "The current slot's ballot counter",
            self.scp_ballot_counter.clone(),
        );
        r.register(
            "scp_nomination_round",
            "The current slot's nomination round",
            self.scp_nomination_round.clone(),
        );
        r.register(
            "peer_up",
            "1 when the last call to the peer succeeded",
            self.peer_up.clone(),
        );
        r.register_with_unit(
            "peer_last_message_age",
            "Time since the peer's last valid consensus message (-1: none yet)",
            Unit::Seconds,
            self.peer_last_message_age.clone(),
        );
        r.register(
            "peer_queued_messages",
            "Messages waiting in the peer's broadcast queue",
            self.peer_queued.clone(),
        );
        r.register(
            "blocks_behind",
            "The highest block height a peer reported minus ours",
            self.blocks_behind.clone(),
        );
        r.register(
            "maintenance_mode",
            "1 while the node refuses client transactions",
            self.maintenance.clone(),
        );
        r.register(
            "grpc_requests",
            "gRPC requests served, by method and status code",
            self.grpc_requests.clone(),
        );
        r.register(
            "enclave_handshakes",
            "Attested channel handshakes, by kind and result",
            self.enclave_handshakes.clone(),
        );
        r.register(
            "catchup_blocks",
            "Blocks appended by catch-up, by source",
            self.catchup_blocks.clone(),
        );
        r.register(
            "build",
            "The running build (value always 1)",
            self.build_info.clone(),
        );
    }

    /// Creates the series of every known label value at 0, so dashboards and `rate()`
    /// see them before the first event.
    fn preset(&self) {
        for reason in ERROR_KINDS {
            self.consensus_error_family(reason);
        }
        for reason in DROP_REASONS {
            let _ = self.msgs_dropped.get_or_create(&Reason {
                reason: reason.to_string(),
            });
        }
        for source in ["peer", "archive"] {
            let _ = self.catchup_blocks.get_or_create(&SourceLabel {
                source: source.to_string(),
            });
        }
        for kind in ["client", "peer"] {
            for result in ["ok", "refused"] {
                let _ = self.enclave_handshakes.get_or_create(&HandshakeLabels {
                    kind: kind.to_string(),
                    result: result.to_string(),
                });
            }
        }
        self.scp(0, None);
    }

    fn consensus_error_family(&self, kind: &str) -> Counter {
        self.errors
            .get_or_create(&Reason {
                reason: kind.to_string(),
            })
            .clone()
    }

    /// Publishes the current slot's SCP state.
    pub fn scp(&self, slot: u64, m: Option<&SlotMetrics>) {
        self.scp_slot.set(slot as i64);
        let current = m.map_or("idle", |m| phase_name(m.phase));
        for phase in PHASES {
            self.scp_phase
                .get_or_create(&PhaseLabel {
                    phase: phase.to_string(),
                })
                .set(i64::from(current == phase));
        }
        self.scp_ballot_counter
            .set(m.map_or(0, |m| i64::from(m.ballot_counter)));
        self.scp_nomination_round
            .set(m.map_or(0, |m| i64::from(m.nomination_round)));
    }

    /// Counts a handshake.
    pub fn handshake(&self, peer: bool, ok: bool) {
        self.enclave_handshakes
            .get_or_create(&HandshakeLabels {
                kind: if peer { "peer" } else { "client" }.to_string(),
                result: if ok { "ok" } else { "refused" }.to_string(),
            })
            .inc();
    }

    /// Counts a gRPC request.
    pub fn grpc_request(&self, method: &str, code: tonic::Code) {
        self.grpc_requests
            .get_or_create(&GrpcLabels {
                method: method.to_string(),
                code: grpc_code_name(code).to_string(),
            })
            .inc();
    }

    /// Counts a dropped consensus message.
    pub fn msgs_dropped(&self, reason: &str) {
        self.msgs_dropped
            .get_or_create(&Reason {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts an error of `kind` (one of [`ERROR_KINDS`]).
    pub fn consensus_error(&self, kind: &str) {
        self.consensus_error_family(kind).inc();
    }

    /// Counts a refused transaction.
    pub fn tx_rejected(&self, code: u32) {
        self.txs_rejected.get_or_create(&Code { code }).inc();
    }

    /// Records a block formed here.
    pub fn block_appended(&self, txs: usize, took: Duration) {
        self.blocks_written.inc();
        self.txs_committed.inc_by(txs as u64);
        self.block_txs.observe(txs as f64);
        self.block_form.observe(took.as_secs_f64());
    }
}

/// The upper-case name of a gRPC status code, as grpc-go and grpcurl print it.
pub fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Most submission times remembered (for the completion-time histogram).
const MAX_TRACKED_SUBMISSIONS: usize = 100_000;

/// What the node is assembled from (see [`Shared`], which derefs to it).
pub struct SharedParts {
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    /// The enclave.
    pub enclave: Arc<dyn ConsensusEnclave>,
    /// Accepted transactions and pending values.
    pub cache: SharedCache,
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
    /// The driver's inbox.
    pub driver: mpsc::Sender<Event>,
    /// Transactions to relay to peers.
    pub relay: mpsc::Sender<LocallyEncryptedTx>,
    /// Flips to true on shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// Block size cap.
    pub max_block_txs: usize,
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

/// The SCP slot in progress, as the driver last saw it.
#[derive(Clone, Debug, Default)]
pub struct ScpView {
    /// The slot.
    pub slot: u64,
    /// Its metrics (none before the slot started).
    pub metrics: Option<SlotMetrics>,
}

/// Everything the node's tasks share: the [`SharedParts`] (through `Deref`) and the state
/// the tasks change.
pub struct Shared {
    parts: SharedParts,
    mode: AtomicU8,
    /// Wakes the driver when pending values change.
    pub pending_notify: Arc<Notify>,
    /// Our latest consensus envelope (for `GetLatestMsg`).
    pub latest_msg: Mutex<Option<SignedConsensusMsg>>,
    /// Envelopes seen recently.
    pub dedup: Mutex<Deduplicator>,
    submitted: Mutex<HashMap<TxHash, Instant>>,
    attested_peers: Mutex<std::collections::HashSet<String>>,
    maintenance: AtomicBool,
    heard: Mutex<HashMap<ResponderId, Instant>>,
    peer_heights: Mutex<HashMap<ResponderId, u64>>,
    highest_peer_height: AtomicU64,
    last_block_time: AtomicU64,
    scp_view: Mutex<ScpView>,
    /// When the node started.
    pub started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::ops::Deref for Shared {
    type Target = SharedParts;

    fn deref(&self) -> &SharedParts {
        &self.parts
    }
}

impl Shared {
    /// Assembles the shared state.
    pub fn new(parts: SharedParts) -> Self {
        // The height gauge tells from the start, not from the first block appended.
        if let Ok(n) = parts.ledger.num_blocks() {
            parts.metrics.ledger_height.set(n as i64);
        }
        Self {
            parts,
            mode: AtomicU8::new(Mode::Running as u8),
            pending_notify: Arc::new(Notify::new()),
            latest_msg: Mutex::new(None),
            dedup: Mutex::new(Deduplicator::new(16_384)),
            submitted: Mutex::new(HashMap::new()),
            attested_peers: Mutex::new(std::collections::HashSet::new()),
            maintenance: AtomicBool::new(false),
            heard: Mutex::new(HashMap::new()),
            peer_heights: Mutex::new(HashMap::new()),
            highest_peer_height: AtomicU64::new(0),
            last_block_time: AtomicU64::new(0),
            scp_view: Mutex::new(ScpView::default()),
            started: Instant::now(),
        }
    }

    /// The current mode: maintenance when switched on, otherwise the sync state.
    pub fn mode(&self) -> Mode {
        if self.maintenance.load(Ordering::Acquire) {
            Mode::Maintenance
        } else {
            self.sync_mode()
        }
    }

    /// Running or catching up, whatever maintenance says.
    pub fn sync_mode(&self) -> Mode {
        Mode::from_u8(self.mode.load(Ordering::Acquire))
    }

    /// Switches maintenance mode (client transactions refused, consensus goes on).
    pub fn set_maintenance(&self, on: bool) {
        self.maintenance.store(on, Ordering::Release);
        self.metrics.maintenance.set(i64::from(on));
        tracing::info!(maintenance = on, "maintenance mode switched");
    }

    /// Sets the sync state to `to` if it is `from` (`Running` or `CatchingUp`).
    pub fn set_mode_if(&self, from: Mode, to: Mode) {
        let _ =
            self.mode
                .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Reads the cache (through a poisoned lock: it holds plain data).
    pub fn cache_read(&self) -> RwLockReadGuard<'_, TxCache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the cache.
    pub fn cache_write(&self) -> RwLockWriteGuard<'_, TxCache> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a valid consensus message written by `author`.
    pub fn heard(&self, author: &ResponderId) {
        lock(&self.heard).insert(author.clone(), Instant::now());
    }

    /// How long ago `node`'s last valid consensus message arrived.
    pub fn last_heard(&self, node: &ResponderId) -> Option<Duration> {
        lock(&self.heard).get(node).map(Instant::elapsed)
    }

    /// Notes the height a peer reported.
    pub fn peer_height(&self, peer: &ResponderId, height: u64) {
        lock(&self.peer_heights).insert(peer.clone(), height);
        self.highest_peer_height.fetch_max(height, Ordering::AcqRel);
    }

    /// The height `peer` last reported.
    pub fn reported_height(&self, peer: &ResponderId) -> Option<u64> {
        lock(&self.peer_heights).get(peer).copied()
    }

    /// The highest height a peer reported.
    pub fn highest_peer_height(&self) -> u64 {
        self.highest_peer_height.load(Ordering::Acquire)
    }

    /// When this process last appended a block (Unix seconds).
    pub fn last_block_time(&self) -> Option<u64> {
        match self.last_block_time.load(Ordering::Acquire) {
            0 => None,
            t => Some(t),
        }
    }

    /// Publishes the driver's view of the current slot.
    pub fn set_scp_view(&self, view: ScpView) {
        self.metrics.scp(view.slot, view.metrics.as_ref());
        *lock(&self.scp_view) = view;
    }

    /// The driver's last view of the current slot.
    pub fn scp_view(&self) -> ScpView {
        lock(&self.scp_view).clone()
    }

    /// Brings the gauges computed from live state up to date (before a scrape).
    pub fn refresh_scrape_gauges(&self) {
        let height = self.ledger.num_blocks().unwrap_or(0);
        self.metrics
            .blocks_behind
            .set(self.highest_peer_height().saturating_sub(height) as i64);
        for (peer, health) in self.broadcaster.health() {
            let label = PeerLabel {
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
        }
        for peer in self.peers.iter().map(|p| &p.peer().responder_id) {
            let age = self.last_heard(peer).map_or(-1.0, |d| d.as_secs_f64());
            self.metrics
                .peer_last_message_age
                .get_or_create(&PeerLabel {
                    peer: peer.to_string(),
                })
                .set(age);
        }
    }

    /// Notes that the peer `responder_id` attested to our enclave.
    pub fn attested(&self, responder_id: &str) {
        self.attested_peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(responder_id.to_string());
    }

    /// True when the peer `responder_id` attested to our enclave since we started.
    pub fn has_attested(&self, responder_id: &ResponderId) -> bool {
        self.attested_peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(responder_id.as_str())
    }

    /// Notes when a client submitted `hash`.
    pub fn submitted(&self, hash: TxHash) {
        let mut s = self.submitted.lock().unwrap_or_else(|p| p.into_inner());
        if s.len() >= MAX_TRACKED_SUBMISSIONS {
            let cutoff = Instant::now() - Duration::from_secs(600);
            s.retain(|_, t| *t > cutoff);
        }
        if s.len() < MAX_TRACKED_SUBMISSIONS {
            s.entry(hash).or_insert_with(Instant::now);
        }
    }

    /// Notes that `included` landed in block `index`.
    pub fn committed(&self, included: &[TxHash], index: u64) {
        let mut s = self.submitted.lock().unwrap_or_else(|p| p.into_inner());
        for h in included {
            if let Some(t) = s.remove(h) {
                self.metrics
                    .tx_completion
                    .observe(t.elapsed().as_secs_f64());
            }
        }
        drop(s);
        self.refresh_gauges(index);
    }

    /// Notes a block appended by catch-up from a peer or an archive.
    pub fn committed_block(&self, index: u64, from_archive: bool) {
        self.metrics.blocks_written.inc();
        self.metrics
            .catchup_blocks
            .get_or_create(&SourceLabel {
                source: if from_archive { "archive" } else { "peer" }.to_string(),
            })
            .inc();
        self.refresh_gauges(index);
    }

    fn refresh_gauges(&self, index: u64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs().max(1));
        self.last_block_time.store(now, Ordering::Release);
        self.metrics.ledger_height.set((index + 1) as i64);
        let (txs, pending) = self.cache_read().sizes();
        self.metrics.tx_cache_size.set(txs as i64);
        self.metrics.pending_values.set(pending as i64);
    }
}
