//! The node's metrics (`consensus_` prefix; the quorum health under `mcnode_quorum_`),
//! with every label value from an enum or the configuration.

use std::{sync::atomic::AtomicU64, time::Duration};

use mcnode_node_core::{
    CoreStats, CoreStatus, Disposition, FetchStats, MemberState, QuorumHealthReport,
};
use mcnode_scp::SlotPhase;
use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::{Registry, Unit},
};

/// A `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// Why.
    pub reason: String,
}

/// An `outcome` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// What became of it.
    pub outcome: String,
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

/// A quorum member's state as a label value: one of the fixed set of
/// [`MemberState::ALL`].
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct StateValue(pub MemberState);

impl EncodeLabelValue for StateValue {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.0.as_str())
    }
}

/// A `node` label: a member of the quorum set (its responder id, from `network.toml`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabel {
    /// The member's responder id.
    pub node: String,
}

/// Labels of `mcnode_quorum_member_state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MemberStateLabels {
    /// The member's responder id.
    pub node: String,
    /// `agree`, `delayed`, `disagree` or `missing`.
    pub state: StateValue,
}

/// The quorum health gauges (`mcnode_quorum_` prefix).
#[derive(Clone, Debug, Default)]
pub struct QuorumMetrics {
    /// `mcnode_quorum_member_state{node,state}`: 1 for the member's state in the last
    /// slot decided, 0 for the other states.
    pub member_state: Family<MemberStateLabels, Gauge>,
    /// `mcnode_quorum_member_up{node}`: 1 when it sent SCP messages for the current slot.
    pub member_up: Family<NodeLabel, Gauge>,
    /// `mcnode_quorum_member_last_message_age_seconds{node}` (-1: none yet).
    pub member_age: Family<NodeLabel, Gauge<f64, AtomicU64>>,
    /// `mcnode_quorum_member_last_slot{node}`: the slot of its last message (-1: none).
    pub member_last_slot: Family<NodeLabel, Gauge>,
    /// `mcnode_quorum_v_blocking_distance`: more member failures that block this node
    /// (+Inf when none can).
    pub v_blocking_distance: Gauge<f64, AtomicU64>,
    /// `mcnode_quorum_members_up`: members up for the current slot.
    pub members_up: Gauge,
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

/// A `source` label (where caught-up blocks came from).
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

/// Why a consensus message was dropped (`consensus_msgs_dropped_total{reason}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// For a slot beyond the window held.
    TooFarAhead,
    /// It builds on another block than ours at that height.
    OtherParent,
    /// SCP refused it (malformed or an invalid value).
    ScpRefused,
    /// Its author has not attested to this node.
    NotAttested,
    /// The envelope did not verify or decode.
    RefusedEnvelope,
    /// The node's envelope queue was full (the sender's re-send gets through later).
    InboxFull,
}

impl DropReason {
    /// Every reason.
    pub const ALL: [DropReason; 6] = [
        Self::TooFarAhead,
        Self::OtherParent,
        Self::ScpRefused,
        Self::NotAttested,
        Self::RefusedEnvelope,
        Self::InboxFull,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooFarAhead => "too_far_ahead",
            Self::OtherParent => "other_parent",
            Self::ScpRefused => "scp_refused",
            Self::NotAttested => "not_attested",
            Self::RefusedEnvelope => "refused_envelope",
            Self::InboxFull => "inbox_full",
        }
    }

    fn of(d: Disposition) -> Option<Self> {
        match d {
            Disposition::TooFarAhead => Some(Self::TooFarAhead),
            Disposition::OtherParent => Some(Self::OtherParent),
            Disposition::Refused => Some(Self::ScpRefused),
            Disposition::Taken | Disposition::Waiting | Disposition::Held | Disposition::Late => {
                None
            }
        }
    }
}

/// Kinds of `consensus_errors_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The relay queue to the broadcaster was full; the transaction was not relayed (peers
    /// fetch it when this node nominates it).
    RelayQueueFull,
    /// The enclave refused every transaction of an externalized value.
    NoValidTransactions,
    /// Missing transactions could not be fetched from any peer in time.
    TxFetchGaveUp,
    /// A relayed transaction batch to a peer was dropped (queue full or refused).
    RelayDropped,
    /// A fetched chain was refused at catch-up: no quorum slice vouched for it.
    CatchupNotVouched,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 5] = [
        Self::RelayQueueFull,
        Self::NoValidTransactions,
        Self::TxFetchGaveUp,
        Self::RelayDropped,
        Self::CatchupNotVouched,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RelayQueueFull => "relay_queue_full",
            Self::NoValidTransactions => "no_valid_transactions",
            Self::TxFetchGaveUp => "tx_fetch_gave_up",
            Self::RelayDropped => "relay_dropped",
            Self::CatchupNotVouched => "catchup_not_vouched",
        }
    }
}

/// The SCP phases, as the `phase` label spells them (`idle`: the slot has not started).
pub const PHASES: [&str; 5] = ["idle", "nominate", "prepare", "confirm", "externalize"];

/// The label of a slot phase.
pub fn phase_name(p: SlotPhase) -> &'static str {
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
    /// `consensus_msgs_total{outcome}`: peer envelopes by what became of them.
    pub msgs: Family<Outcome, Counter>,
    /// `consensus_msgs_dropped_total{reason}`.
    pub msgs_dropped: Family<Reason, Counter>,
    /// `consensus_errors_total{reason}`.
    pub errors: Family<Reason, Counter>,
    /// `consensus_ledger_height`.
    pub ledger_height: Gauge,
    /// `consensus_tx_cache_size`: transactions held (all of them pending).
    pub tx_cache_size: Gauge,
    /// `consensus_pending_values`: transactions awaiting a block.
    pub pending_values: Gauge,
    /// `consensus_txs_validating`: relayed or fetched transactions being validated.
    pub txs_validating: Gauge,
    /// `consensus_txs_fetching`: transactions named by peers and being fetched.
    pub txs_fetching: Gauge,
    /// `consensus_held_msgs`: envelopes held for later slots.
    pub held_msgs: Gauge,
    /// `consensus_tx_fetch_requests_total`.
    pub fetch_requests: Counter,
    /// `consensus_tx_fetch_failures_total`: fetch calls that failed or timed out.
    pub fetch_failures: Counter,
    /// `consensus_slot_revalidations_total`: slots re-evaluated after transactions arrived.
    pub revalidations: Counter,
    /// `consensus_stalls_total`: stall reports (a slot with work that did not move).
    pub stalls: Counter,
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
    /// `consensus_peer_queued_messages{peer}`: envelopes waiting in its broadcast queue.
    pub peer_queued: Family<PeerLabel, Gauge>,
    /// `consensus_peer_queued_tx_batches{peer}`: relayed transaction batches waiting.
    pub peer_queued_txs: Family<PeerLabel, Gauge>,
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
    /// The quorum health.
    pub quorum: QuorumMetrics,
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
            msgs: Family::default(),
            msgs_dropped: Family::default(),
            errors: Family::default(),
            ledger_height: Gauge::default(),
            tx_cache_size: Gauge::default(),
            pending_values: Gauge::default(),
            txs_validating: Gauge::default(),
            txs_fetching: Gauge::default(),
            held_msgs: Gauge::default(),
            fetch_requests: Counter::default(),
            fetch_failures: Counter::default(),
            revalidations: Counter::default(),
            stalls: Counter::default(),
            txs_committed: Counter::default(),
            scp_slot: Gauge::default(),
            scp_phase: Family::default(),
            scp_ballot_counter: Gauge::default(),
            scp_nomination_round: Gauge::default(),
            peer_up: Family::default(),
            peer_last_message_age: Family::default(),
            peer_queued: Family::default(),
            peer_queued_txs: Family::default(),
            blocks_behind: Gauge::default(),
            maintenance: Gauge::default(),
            grpc_requests: Family::default(),
            enclave_handshakes: Family::default(),
            catchup_blocks: Family::default(),
            build_info: Family::default(),
            quorum: QuorumMetrics::default(),
        }
    }
}

/// What the core counted when its counters were last copied into the metrics.
#[derive(Debug, Default)]
pub struct CopiedCounters {
    core: CoreStats,
    fetch: FetchStats,
}

fn delta(counter: &Counter, new: u64, old: u64) {
    if new > old {
        counter.inc_by(new - old);
    }
}

impl Metrics {
    /// Registers every metric under the `consensus_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        self.preset();
        let r = registry.sub_registry_with_prefix("consensus");
        macro_rules! reg {
            ($name:literal, $help:literal, $m:expr) => {
                r.register($name, $help, $m.clone())
            };
            ($name:literal, $help:literal, $unit:expr, $m:expr) => {
                r.register_with_unit($name, $help, $unit, $m.clone())
            };
        }
        reg!(
            "txs_accepted",
            "Transactions accepted from clients",
            self.txs_accepted
        );
        reg!(
            "txs_rejected",
            "Transactions refused, by result code",
            self.txs_rejected
        );
        reg!(
            "tx_completion",
            "Time from a client's submission to the block holding it",
            Unit::Seconds,
            self.tx_completion
        );
        reg!(
            "blocks_written",
            "Blocks appended to the ledger",
            self.blocks_written
        );
        reg!(
            "block_txs",
            "Transactions per block formed by this node",
            self.block_txs
        );
        reg!(
            "block_form",
            "Time to form, sign and append a block after externalize",
            Unit::Seconds,
            self.block_form
        );
        reg!(
            "msgs",
            "Peer consensus messages by what became of them",
            self.msgs
        );
        reg!(
            "msgs_dropped",
            "Consensus messages dropped, by reason",
            self.msgs_dropped
        );
        reg!("errors", "Consensus service errors, by kind", self.errors);
        reg!("ledger_height", "Blocks in the ledger", self.ledger_height);
        reg!(
            "tx_cache_size",
            "Transactions held (validated, not in a block yet)",
            self.tx_cache_size
        );
        reg!(
            "pending_values",
            "Transactions awaiting nomination into a block",
            self.pending_values
        );
        reg!(
            "txs_validating",
            "Relayed or fetched transactions being validated",
            self.txs_validating
        );
        reg!(
            "txs_fetching",
            "Transactions named in peers' messages that are being fetched",
            self.txs_fetching
        );
        reg!(
            "held_msgs",
            "Envelopes held for later slots",
            self.held_msgs
        );
        reg!(
            "tx_fetch_requests",
            "GetTxs requests made to peers",
            self.fetch_requests
        );
        reg!(
            "tx_fetch_failures",
            "GetTxs requests that failed or timed out",
            self.fetch_failures
        );
        reg!(
            "slot_revalidations",
            "Slots re-evaluated after missing transactions arrived",
            self.revalidations
        );
        reg!(
            "stalls",
            "Reports of a slot with work that did not move",
            self.stalls
        );
        reg!(
            "txs_committed",
            "Transactions in blocks this node formed",
            self.txs_committed
        );
        reg!(
            "scp_slot",
            "The SCP slot being agreed (the next block index)",
            self.scp_slot
        );
        reg!(
            "scp_slot_phase",
            "1 for the current slot's SCP phase, 0 for the others",
            self.scp_phase
        );
        reg!(
            "scp_ballot",
            "The current slot's ballot counter",
            self.scp_ballot_counter
        );
        reg!(
            "scp_nomination_round",
            "The current slot's nomination round",
            self.scp_nomination_round
        );
        reg!(
            "peer_up",
            "1 when the last call to the peer succeeded",
            self.peer_up
        );
        reg!(
            "peer_last_message_age",
            "Time since the peer's last valid consensus message (-1: none yet)",
            Unit::Seconds,
            self.peer_last_message_age
        );
        reg!(
            "peer_queued_messages",
            "Envelopes waiting in the peer's broadcast queue",
            self.peer_queued
        );
        reg!(
            "peer_queued_tx_batches",
            "Relayed transaction batches waiting in the peer's queue",
            self.peer_queued_txs
        );
        reg!(
            "blocks_behind",
            "The highest block height a peer reported minus ours",
            self.blocks_behind
        );
        reg!(
            "maintenance_mode",
            "1 while the node refuses client transactions",
            self.maintenance
        );
        reg!(
            "grpc_requests",
            "gRPC requests served, by method and status code",
            self.grpc_requests
        );
        reg!(
            "enclave_handshakes",
            "Attested channel handshakes, by kind and result",
            self.enclave_handshakes
        );
        reg!(
            "catchup_blocks",
            "Blocks appended by catch-up, by source",
            self.catchup_blocks
        );
        reg!(
            "build",
            "The running build (value always 1)",
            self.build_info
        );
        let q = registry.sub_registry_with_prefix("mcnode_quorum");
        let m = &self.quorum;
        q.register(
            "member_state",
            "1 for the quorum member's state in the last slot this node decided (agree, delayed, disagree, missing), 0 for the others",
            m.member_state.clone(),
        );
        q.register(
            "member_up",
            "1 when the quorum member sent SCP messages for the slot being agreed",
            m.member_up.clone(),
        );
        q.register_with_unit(
            "member_last_message_age",
            "Time since the quorum member's last SCP message (-1: none yet)",
            Unit::Seconds,
            m.member_age.clone(),
        );
        q.register(
            "member_last_slot",
            "The slot of the quorum member's last SCP message (-1: none yet)",
            m.member_last_slot.clone(),
        );
        q.register(
            "v_blocking_distance",
            "How many more quorum members must fail to block this node, members not up counted as failed (+Inf: none can)",
            m.v_blocking_distance.clone(),
        );
        q.register(
            "members_up",
            "Quorum members that sent SCP messages for the slot being agreed",
            m.members_up.clone(),
        );
    }

    /// Publishes the quorum health: every member's state, up, age and slot, and the
    /// v-blocking distance.
    pub fn quorum_health(&self, report: &QuorumHealthReport) {
        let q = &self.quorum;
        for m in &report.members {
            for state in MemberState::ALL {
                q.member_state
                    .get_or_create(&MemberStateLabels {
                        node: m.node.clone(),
                        state: StateValue(state),
                    })
                    .set(i64::from(m.state == Some(state)));
            }
            let node = NodeLabel {
                node: m.node.clone(),
            };
            q.member_up.get_or_create(&node).set(i64::from(m.up));
            q.member_age
                .get_or_create(&node)
                .set(m.last_message_age_ms.map_or(-1.0, |ms| ms as f64 / 1000.0));
            q.member_last_slot
                .get_or_create(&node)
                .set(m.last_slot.map_or(-1, |s| s as i64));
        }
        q.v_blocking_distance.set(
            report
                .v_blocking_distance
                .map_or(f64::INFINITY, |d| d as f64),
        );
        q.members_up
            .set(report.members.iter().filter(|m| m.up).count() as i64);
    }

    /// Creates the series of every known label value at 0, so dashboards and `rate()`
    /// see them before the first event.
    fn preset(&self) {
        for kind in ErrorKind::ALL {
            let _ = self.error_counter(kind);
        }
        for reason in DropReason::ALL {
            let _ = self.dropped_counter(reason);
        }
        for d in Disposition::ALL {
            let _ = self.msgs.get_or_create(&Outcome {
                outcome: d.as_str().to_string(),
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

    fn error_counter(&self, kind: ErrorKind) -> Counter {
        self.errors
            .get_or_create(&Reason {
                reason: kind.as_str().to_string(),
            })
            .clone()
    }

    fn dropped_counter(&self, reason: DropReason) -> Counter {
        self.msgs_dropped
            .get_or_create(&Reason {
                reason: reason.as_str().to_string(),
            })
            .clone()
    }

    /// Publishes the current slot's SCP state.
    pub fn scp(&self, slot: u64, m: Option<&mcnode_scp::SlotMetrics>) {
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

    /// Copies the core's state and counters (after every batch of inputs, so gauges are
    /// right at once after a block).
    pub fn core(&self, status: &CoreStatus, stats: &CoreStats, copied: &mut CopiedCounters) {
        self.scp(status.slot, status.scp.as_ref());
        self.tx_cache_size.set(status.pending as i64);
        self.pending_values.set(status.pending as i64);
        self.txs_validating.set(status.validating as i64);
        self.txs_fetching.set(status.fetching as i64);
        self.held_msgs.set(status.held as i64);
        self.blocks_behind
            .set(status.highest_peer_height.saturating_sub(status.slot) as i64);
        for d in Disposition::ALL {
            let new = stats.envelopes.get(d.as_str()).copied().unwrap_or(0);
            let old = copied.core.envelopes.get(d.as_str()).copied().unwrap_or(0);
            if new > old {
                self.msgs
                    .get_or_create(&Outcome {
                        outcome: d.as_str().to_string(),
                    })
                    .inc_by(new - old);
                if let Some(reason) = DropReason::of(d) {
                    self.dropped_counter(reason).inc_by(new - old);
                }
            }
        }
        delta(
            &self.revalidations,
            stats.revalidations,
            copied.core.revalidations,
        );
        delta(&self.stalls, stats.stalls, copied.core.stalls);
        delta(
            &self.error_counter(ErrorKind::NoValidTransactions),
            stats.form_failures,
            copied.core.form_failures,
        );
        let f = status.fetch;
        delta(&self.fetch_requests, f.requests, copied.fetch.requests);
        delta(&self.fetch_failures, f.failures, copied.fetch.failures);
        delta(
            &self.error_counter(ErrorKind::TxFetchGaveUp),
            f.gave_up,
            copied.fetch.gave_up,
        );
        copied.core = stats.clone();
        copied.fetch = f;
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

    /// Counts a consensus message dropped before it reached the node core.
    pub fn msg_dropped(&self, reason: DropReason) {
        self.dropped_counter(reason).inc();
    }

    /// Counts an error.
    pub fn error(&self, kind: ErrorKind) {
        self.error_counter(kind).inc();
    }

    /// Counts `n` errors.
    pub fn errors(&self, kind: ErrorKind, n: u64) {
        if n > 0 {
            self.error_counter(kind).inc_by(n);
        }
    }

    /// Counts a refused transaction.
    pub fn tx_rejected(&self, code: u32) {
        self.txs_rejected.get_or_create(&Code { code }).inc();
    }

    /// Records a block formed here.
    pub fn block_formed(&self, txs: usize, took: Duration) {
        self.blocks_written.inc();
        self.txs_committed.inc_by(txs as u64);
        self.block_txs.observe(txs as f64);
        self.block_form.observe(took.as_secs_f64());
    }

    /// Records a block appended by catch-up.
    pub fn block_caught_up(&self, from_archive: bool) {
        self.blocks_written.inc();
        self.catchup_blocks
            .get_or_create(&SourceLabel {
                source: if from_archive { "archive" } else { "peer" }.to_string(),
            })
            .inc();
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
