//! [`NodeCore`]: every decision of the node above SCP, as one state machine.
//!
//! Inputs are method calls carrying `now` (milliseconds of the caller's clock); each
//! pushes [`Action`]s that the caller takes with [`NodeCore::take_actions`] and performs
//! (raft-rs's `RawNode`/`Ready` shape). The core reads no clock and does no IO; the
//! tokio shell in `mcnode-consensus` and the simulator in `mcnode-testkit` drive the same
//! code.
//!
//! What it decides:
//! * **Intake.** A client's transaction arrives already validated (the shell checks it
//!   before answering the client); the core takes it into the store unless a block
//!   appended since its check spent its key image (see [`crate::store`]), relays it to
//!   peers and nominates it. Transactions relayed by peers or fetched are handed back to
//!   the shell for validation first ([`Action::Validate`]), once per hash.
//! * **SCP.** Peers' envelopes for the current slot go to SCP at once, also when they name
//!   transactions this node does not hold: SCP records such statements as maybe valid,
//!   and the core fetches the missing transactions ([`crate::fetch`]) and re-evaluates
//!   the slot ([`mcnode_scp::Node::revalidate`]) as soon as they are validated. Envelopes
//!   for later slots are held ([`crate::held`]) and fed when the ledger reaches them.
//!   Envelopes for slots already appended are late, not refused.
//! * **Nomination.** Once per slot the node nominates its pending transactions (oldest
//!   first, at most a block's worth) as soon as it has any; a node with none still takes
//!   part in the slot (SCP joins nomination on a peer's nomination).
//! * **Blocks.** When SCP externalizes the current slot the core asks the shell to form
//!   and append the block ([`Action::FormBlock`]); it holds every transaction of the
//!   value by then (validity required it) or fetches what is missing first. When peers
//!   are ahead for [`CoreConfig::behind_grace_ms`] it asks for a catch-up instead.
//! * **Observability.** [`NodeCore::status`] and [`NodeCore::stats`] after every input;
//!   a [`Notice::Stalled`] report when a slot with work has not moved for
//!   [`CoreConfig::stall_warn_ms`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use mcnode_scp::{Error as ScpError, Msg, Node, QuorumSet, SlotMetrics, SlotPhase, ValuePolicy};
use serde::Serialize;

use crate::{
    admit::Admission,
    config::{ConfigError, CoreConfig},
    fetch::{FetchRequest, FetchStats, Fetcher},
    health::{QuorumHealth, QuorumHealthReport},
    held::Held,
    store::{Inserted, NotStored, TxStore},
    types::{
        codes, AppendedBlock, BlockId, Checked, CoreTx, Disposition, Envelope, FetchId, Millis,
        NodeId, Refusal, SlotIndex, SyncMode, Tip, TxHash, TxOrigin,
    },
    value::{TxSet, TxSetPolicy},
};

/// Block ids remembered (to check the parent named by messages about recent slots).
const RECENT_IDS: usize = 16;
/// Longest wait between two relays of one pending transaction, ms.
const RELAY_RETRY_MAX_MS: u64 = 30_000;
/// How many times `behind_grace_ms` a node waits before catching up when fewer peers
/// than a v-blocking set are ahead of it.
const LONE_AHEAD_GRACE_FACTOR: u64 = 4;

/// Something the shell must do.
#[derive(Clone, Debug)]
pub enum Action<B> {
    /// Sign `msg` (this node's own SCP message) as building on `prev_block_id` and send it
    /// to every peer.
    Broadcast {
        /// The message.
        msg: Msg<TxSet>,
        /// The id of the block its slot builds on.
        prev_block_id: BlockId,
    },
    /// Ask a peer for transactions; answer with [`NodeCore::on_fetch_answer`] or
    /// [`NodeCore::on_fetch_failed`].
    Fetch(FetchRequest),
    /// Validate `txs` against the ledger and in the enclave; answer with
    /// [`NodeCore::on_validated`].
    Validate {
        /// The transactions.
        txs: Vec<CoreTx<B>>,
        /// Where they came from.
        origin: TxOrigin,
    },
    /// Relay transactions accepted from clients to the broadcast peers.
    Relay(Vec<B>),
    /// Form block `index` on `parent` from `txs` (in the value's order), sign and append
    /// it; answer with [`NodeCore::on_block_appended`] or [`NodeCore::on_form_failed`].
    FormBlock {
        /// The new block's index (the slot).
        index: u64,
        /// The block it builds on.
        parent: Tip,
        /// The externalized value.
        value: TxSet,
        /// The transactions' bodies, in the value's order.
        txs: Vec<B>,
    },
    /// Fetch, verify and append the blocks after `tip` from peers or archives; report each
    /// appended block with [`NodeCore::on_block_appended`], then call
    /// [`NodeCore::on_catch_up_done`].
    CatchUp {
        /// The ledger's last block.
        tip: Tip,
    },
    /// Ask every peer for its height; answer with [`NodeCore::on_peer_heights`].
    ProbeHeights,
    /// Persist `msgs`, this node's latest messages for `slot`, to restore after a restart.
    Persist {
        /// The slot.
        slot: SlotIndex,
        /// The messages.
        msgs: Vec<Msg<TxSet>>,
    },
    /// Something an operator should see in the log.
    Notice(Notice),
}

/// Log-worthy events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// A slot with work has not moved for a while.
    Stalled(StallReport),
    /// The externalized value names transactions this node does not hold; it fetches them
    /// before forming the block.
    FormWaiting {
        /// The slot.
        slot: SlotIndex,
        /// How many are missing.
        missing: usize,
    },
}

/// What a quorum member last said, as seen from a stalled slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeardMember {
    /// The member.
    pub node: String,
    /// The slot of its last SCP message, if any arrived since start.
    pub slot: Option<SlotIndex>,
    /// How long ago, ms.
    pub age_ms: Option<u64>,
}

/// Where a stalled slot stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StallReport {
    /// The slot.
    pub slot: SlotIndex,
    /// How long it has had work without moving, ms.
    pub stalled_ms: u64,
    /// Its SCP phase (`idle` before it started).
    pub phase: String,
    /// Nomination round.
    pub round: u32,
    /// Ballot counter.
    pub ballot: u32,
    /// Transactions pending here.
    pub pending: usize,
    /// Transactions being fetched.
    pub fetching: usize,
    /// Envelopes held for later slots.
    pub held: usize,
    /// What the node is busy with (`forming`, `catching_up`), if anything.
    pub busy: Option<&'static str>,
    /// Each quorum member's last message.
    pub heard: Vec<HeardMember>,
}

/// What the node is busy with outside SCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Busy {
    Forming(SlotIndex),
    CatchingUp,
}

impl Busy {
    fn name(self) -> &'static str {
        match self {
            Self::Forming(_) => "forming",
            Self::CatchingUp => "catching_up",
        }
    }
}

/// The answer to a client's transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientVerdict {
    /// Taken (or already held).
    Accepted,
    /// Refused.
    Refused(Refusal),
    /// It was checked against a ledger too old: validate it again and resubmit.
    Recheck,
}

/// Behaviours of the node before the node core existed, brought back one by one by the
/// simulator (feature `legacy-emulation`) to show that its named scenarios fail under
/// them. All off by default; production code never turns them on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Legacy {
    /// A value naming transactions not held is invalid, and an envelope naming some is
    /// handed to SCP once, after its fetch finished (the old driver's pipeline): if the
    /// fetch failed, SCP refuses it for good.
    pub refuse_unknown: bool,
    /// A node that has not nominated in the slot ignores others' nominations.
    pub ignore_nominations_unless_proposed: bool,
    /// Transactions are admitted without checking the blocks appended since their check.
    pub skip_recent_block_check: bool,
    /// A relay that did not reach a peer is never repeated.
    pub no_relay_repair: bool,
}

/// Counters of the core (monotonic, for metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CoreStats {
    /// Peer envelopes by what became of them.
    pub envelopes: BTreeMap<&'static str, u64>,
    /// Validations requested from the shell.
    pub validations: u64,
    /// Transactions refused on validation (relayed or fetched).
    pub refused: u64,
    /// Transactions refused because a block appended since their check conflicts.
    pub stale: u64,
    /// Transactions not taken because a limit was reached.
    pub over_capacity: u64,
    /// Re-evaluations of the current slot after transactions arrived.
    pub revalidations: u64,
    /// Blocks appended (formed here or caught up).
    pub blocks: u64,
    /// Catch-ups started.
    pub catch_ups: u64,
    /// Stall reports.
    pub stalls: u64,
    /// Blocks the shell could not form.
    pub form_failures: u64,
    /// Client transactions relayed again because they were still pending.
    pub relayed_again: u64,
}

/// The core's state, for gauges and the admin API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CoreStatus {
    /// The slot being agreed (the next block's index).
    pub slot: SlotIndex,
    /// The ledger's last block.
    pub tip_index: u64,
    /// Running or catching up.
    pub mode: SyncMode,
    /// Transactions held (all pending).
    pub pending: usize,
    /// Transactions being fetched.
    pub fetching: usize,
    /// Fetch requests open.
    pub fetches_in_flight: usize,
    /// Transactions being validated by the shell (or waiting for a validation lane).
    pub validating: usize,
    /// A client's new transaction is refused (`OVER_CAPACITY`) while `pending +
    /// validating` is at least this ([`crate::admit`]).
    pub admit_limit: usize,
    /// Envelopes held for later slots.
    pub held: usize,
    /// Invalid transaction hashes remembered.
    pub invalid_remembered: usize,
    /// Whether the node nominated in this slot.
    pub proposed: bool,
    /// What the node is busy with, if anything.
    pub busy: Option<&'static str>,
    /// The highest height a peer is known to have.
    pub highest_peer_height: u64,
    /// The current slot's SCP metrics, once it started.
    pub scp: Option<SlotMetrics>,
    /// Fetch counters.
    #[serde(skip)]
    pub fetch: FetchStats,
}

impl CoreStatus {
    /// Whether a client's new transaction is admitted now ([`crate::admit`]): the shell
    /// asks before it validates the transaction, so a refusal costs no validation; a
    /// transaction that passed this and was validated is taken even if others filled the
    /// room meanwhile (the overshoot is bounded by the client validations in flight).
    pub fn admits_client_tx(&self) -> bool {
        self.pending + self.validating < self.admit_limit
    }
}

/// Why the core stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The configuration is out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// SCP could not start.
    #[error("scp: {0}")]
    Scp(#[from] ScpError),
    /// The shell appended a block that does not follow the ledger the core knows: the
    /// node must stop (its view of the ledger is wrong).
    #[error("block {index} appended on parent {parent} but the ledger's last block is {tip_index} ({tip})")]
    NotOnTip {
        /// The block's index.
        index: u64,
        /// Its parent, hex.
        parent: String,
        /// The tip's index.
        tip_index: u64,
        /// The tip's id, hex.
        tip: String,
    },
}

type Scp<B> = Node<TxSet, TxSetPolicy<B>>;

/// The node core. `B` is the transaction body the shell keeps (opaque here).
pub struct NodeCore<B> {
    cfg: CoreConfig,
    quorum_set: QuorumSet,
    scp: Scp<B>,
    tip: Tip,
    recent_ids: VecDeque<(u64, BlockId)>,
    proposed: bool,
    busy: Option<Busy>,
    held: Held,
    fetcher: Fetcher,
    /// Transactions handed in for validation: where from, and when they were queued.
    validating: BTreeMap<TxHash, (TxOrigin, Millis)>,
    /// Transactions waiting for a validation lane, in arrival order.
    to_validate: VecDeque<CoreTx<B>>,
    /// Transactions handed to the shell in `Validate` actions and not returned yet.
    validations_in_flight: usize,
    /// `Validate` actions not answered yet.
    batches_in_flight: usize,
    /// Unknown hashes named by the current slot's messages: when one arrives the slot is
    /// re-evaluated.
    awaited: BTreeSet<TxHash>,
    peer_heights: BTreeMap<NodeId, u64>,
    behind_since: Option<Millis>,
    /// A catch-up that appended nothing: no new one before this time.
    catch_up_after: Millis,
    /// Blocks appended since the current catch-up started.
    caught_up_blocks: u64,
    last_probe: Option<Millis>,
    heard: BTreeMap<NodeId, (SlotIndex, Millis)>,
    slot_started: Millis,
    work_since: Option<Millis>,
    last_stall_report: Option<Millis>,
    emitted_for_persist: Option<(SlotIndex, u64)>,
    stats: CoreStats,
    actions: Vec<Action<B>>,
    legacy: Legacy,
    legacy_waiting: Vec<Envelope>,
    /// Client transactions to relay again while they are pending: when, and the wait after.
    relay_again: BTreeMap<TxHash, (Millis, u64)>,
    /// The recent commit rate, which bounds what clients may add.
    admission: Admission,
    /// How long relayed transactions wait here before they are validated: about how long
    /// peers take to validate what this node relays, by symmetry.
    relay_delay: Ewma,
    /// A transaction becomes old enough to nominate at this time (see `maybe_propose`).
    propose_at: Option<Millis>,
    /// [`Admission::limit`] as of the last input.
    admit_limit: usize,
    /// What each quorum member did in the recent slots.
    health: QuorumHealth,
}

impl<B> std::fmt::Debug for NodeCore<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCore")
            .field("local", self.scp.id())
            .field("tip", &self.tip.index)
            .field("busy", &self.busy)
            .finish()
    }
}

impl<B: Clone> NodeCore<B> {
    /// A core for node `local` with quorum set `quorum_set`, peers `peers` (whom it may
    /// fetch from), on a ledger whose last block is `tip`. `restored` are this node's
    /// latest messages persisted before a restart ([`Action::Persist`]); those for the
    /// slot after `tip` are restored into SCP, the others ignored.
    pub fn new(
        cfg: CoreConfig,
        local: NodeId,
        quorum_set: QuorumSet,
        peers: Vec<NodeId>,
        tip: Tip,
        restored: &[Msg<TxSet>],
        now: Millis,
    ) -> Result<Self, CoreError> {
        cfg.validate()?;
        let policy = TxSetPolicy::new(TxStore::new(cfg.limits), cfg.max_block_txs);
        let scp = Node::new(local.clone(), quorum_set.clone(), policy, cfg.scp)?;
        let peers: Vec<NodeId> = peers.into_iter().filter(|p| *p != local).collect();
        let health = QuorumHealth::new(local.clone(), quorum_set.clone(), tip.index + 1);
        let mut core = Self {
            cfg,
            quorum_set,
            scp,
            tip,
            recent_ids: VecDeque::from([(tip.index, tip.id)]),
            proposed: false,
            busy: None,
            held: Held::default(),
            fetcher: Fetcher::new(cfg.fetch, peers),
            validating: BTreeMap::new(),
            to_validate: VecDeque::new(),
            validations_in_flight: 0,
            batches_in_flight: 0,
            awaited: BTreeSet::new(),
            peer_heights: BTreeMap::new(),
            behind_since: None,
            catch_up_after: 0,
            caught_up_blocks: 0,
            last_probe: None,
            heard: BTreeMap::new(),
            slot_started: now,
            work_since: None,
            last_stall_report: None,
            emitted_for_persist: None,
            stats: CoreStats::default(),
            actions: Vec::new(),
            legacy: Legacy::default(),
            legacy_waiting: Vec::new(),
            relay_again: BTreeMap::new(),
            admission: Admission::new(cfg.admit),
            relay_delay: Ewma::default(),
            propose_at: None,
            admit_limit: cfg.admit.floor,
            health,
        };
        let slot = core.slot();
        for msg in restored.iter().filter(|m| m.slot == slot) {
            core.scp.restore(msg, now)?;
            core.want_unknown(msg, None, now);
            core.proposed = true;
        }
        core.pump(now);
        Ok(core)
    }

    /// Brings back behaviours of the node before the node core (see [`Legacy`]).
    #[cfg(feature = "legacy-emulation")]
    #[doc(hidden)]
    pub fn emulate_legacy(&mut self, legacy: Legacy) {
        self.legacy = legacy;
        self.scp.policy_mut().unknown_is_invalid = legacy.refuse_unknown;
        self.scp.policy_mut().store_mut().skip_recent_check = legacy.skip_recent_block_check;
    }

    /// The slot being agreed: the next block's index.
    pub fn slot(&self) -> SlotIndex {
        self.tip.index + 1
    }

    /// When the current slot started (the previous block was appended, or the core
    /// started), ms.
    pub fn slot_started(&self) -> Millis {
        self.slot_started
    }

    /// The ledger's last block, as the core knows it.
    pub fn tip(&self) -> Tip {
        self.tip
    }

    /// The local node's id.
    pub fn id(&self) -> &NodeId {
        self.scp.id()
    }

    /// The SCP node (read-only: snapshots, metrics).
    pub fn scp(&self) -> &Scp<B> {
        &self.scp
    }

    /// The transaction store (read-only).
    pub fn store(&self) -> &TxStore<B> {
        self.scp.policy().store()
    }

    fn store_mut(&mut self) -> &mut TxStore<B> {
        self.scp.policy_mut().store_mut()
    }

    /// Takes the actions pushed since the last call, in order.
    pub fn take_actions(&mut self) -> Vec<Action<B>> {
        std::mem::take(&mut self.actions)
    }

    /// The counters.
    pub fn stats(&self) -> &CoreStats {
        &self.stats
    }

    /// Running or catching up. Catching up while a catch-up runs, or while a v-blocking
    /// set is at least two blocks ahead: one block behind is the normal state of a node
    /// whose peers appended the slot's block a moment before it did, and clients are
    /// served then.
    pub fn mode(&self) -> SyncMode {
        if self.busy == Some(Busy::CatchingUp) || self.is_behind_by(2) {
            SyncMode::CatchingUp
        } else {
            SyncMode::Running
        }
    }

    /// The state, for gauges and the admin API.
    pub fn status(&self) -> CoreStatus {
        CoreStatus {
            slot: self.slot(),
            tip_index: self.tip.index,
            mode: self.mode(),
            pending: self.store().len(),
            fetching: self.fetcher.len(),
            fetches_in_flight: self.fetcher.in_flight(),
            validating: self.validating.len(),
            admit_limit: self.admit_limit,
            held: self.held.len(),
            invalid_remembered: self.store().invalid_len(),
            proposed: self.proposed,
            busy: self.busy.map(Busy::name),
            highest_peer_height: self.highest_peer_height(),
            scp: self.scp.metrics(self.slot()),
            fetch: self.fetcher.stats(),
        }
    }

    /// Each peer's last SCP message seen: its slot and when (ms of the caller's clock).
    pub fn heard(&self) -> impl Iterator<Item = (&NodeId, SlotIndex, Millis)> + '_ {
        self.heard.iter().map(|(n, (s, t))| (n, *s, *t))
    }

    /// Each quorum member's state in the recent slots and the v-blocking distance, at
    /// `now` (see [`crate::health`]).
    pub fn quorum_health(&self, now: Millis) -> QuorumHealthReport {
        self.health.report(now)
    }

    /// The heights (numbers of blocks) peers are known to have.
    pub fn peer_heights(&self) -> &BTreeMap<NodeId, u64> {
        &self.peer_heights
    }

    /// The held transactions among `hashes` (bodies, for a peer's `GetTxs`), and the
    /// hashes not held.
    pub fn lookup(&self, hashes: &[TxHash]) -> (Vec<(TxHash, B)>, Vec<TxHash>) {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for h in hashes {
            match self.store().get(h) {
                Some(tx) => found.push((*h, tx.body.clone())),
                None => missing.push(*h),
            }
        }
        (found, missing)
    }

    /// When [`NodeCore::tick`] next has work, if ever (the shell also calls it at least
    /// every [`CoreConfig::probe_interval_ms`]).
    pub fn next_wakeup(&self) -> Option<Millis> {
        let relay = self.relay_again.values().map(|(at, _)| *at).min();
        let propose = self.propose_at.filter(|_| !self.proposed);
        [
            self.scp.next_timeout(),
            self.fetcher.next_wakeup(),
            relay,
            propose,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ------------------------------------------------------------------ inputs

    /// Fires due timers and periodic decisions (SCP timeouts, fetch retries, catch-up,
    /// probes, stall reports). Call at [`NodeCore::next_wakeup`] and at least every few
    /// hundred milliseconds.
    pub fn tick(&mut self, now: Millis) {
        if self.scp.next_timeout().is_some_and(|t| t <= now) {
            let out = self.scp.process_timeouts(now);
            self.broadcast(out, now);
        }
        self.maybe_catch_up(now);
        self.check_stall(now);
        self.repeat_relays(now);
        self.pump(now);
    }

    /// Relays again the client transactions still pending after their wait.
    fn repeat_relays(&mut self, now: Millis) {
        if self.relay_again.is_empty() {
            return;
        }
        let policy = self.scp.policy();
        self.relay_again.retain(|h, _| policy.store().contains(h));
        let due: Vec<TxHash> = self
            .relay_again
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(h, _)| *h)
            .take(self.cfg.relay_batch)
            .collect();
        if due.is_empty() {
            return;
        }
        let mut bodies = Vec::with_capacity(due.len());
        for h in &due {
            if let Some(tx) = self.store().get(h) {
                bodies.push(tx.body.clone());
            }
            if let Some(entry) = self.relay_again.get_mut(h) {
                let wait = entry.1.saturating_mul(2).min(RELAY_RETRY_MAX_MS);
                *entry = (now.saturating_add(wait), wait);
            }
        }
        self.stats.relayed_again += bodies.len() as u64;
        self.actions.push(Action::Relay(bodies));
    }

    /// A peer's SCP envelope, signature verified by the shell.
    pub fn on_envelope(&mut self, env: Envelope, now: Millis) -> Disposition {
        let parent_matches = env
            .msg
            .slot
            .checked_sub(1)
            .and_then(|i| self.block_id(i))
            .map(|id| id == env.prev_block_id);
        self.health.on_message(&env.msg, parent_matches, now);
        let d = self.envelope(env, now);
        *self.stats.envelopes.entry(d.as_str()).or_default() += 1;
        self.pump(now);
        d
    }

    fn envelope(&mut self, env: Envelope, now: Millis) -> Disposition {
        let slot = env.msg.slot;
        let author = env.msg.sender.clone();
        if author == *self.id() {
            return Disposition::Late;
        }
        // Slot 0 is the origin block, never agreed on (SCP refuses it too): nothing below
        // may compute `slot - 1` for it, and it says nothing about the author's height.
        if slot == 0 {
            return Disposition::Refused;
        }
        self.heard.insert(author.clone(), (slot, now));
        let current = self.slot();
        if slot.saturating_add(1) < current {
            return Disposition::Late;
        }
        if slot > current {
            if slot > current.saturating_add(self.cfg.max_slots_ahead) {
                return Disposition::TooFarAhead;
            }
            // The author holds `slot` blocks (its message builds on block slot - 1).
            self.peer_height(&author, slot);
            self.want_unknown(&env.msg, Some(&author), now);
            self.held.hold(env);
            return Disposition::Held;
        }
        match self.block_id(slot - 1) {
            Some(id) if id == env.prev_block_id => {}
            Some(_) => return Disposition::OtherParent,
            // A slot before the ids remembered (just restarted): nothing to check it
            // against, and nothing to gain from it.
            None => return Disposition::Late,
        }
        if slot == current {
            self.note_work(now);
        }
        if self.legacy.ignore_nominations_unless_proposed
            && !self.proposed
            && matches!(env.msg.topic, mcnode_scp::Topic::Nominate(_))
        {
            return Disposition::Refused;
        }
        let waiting = slot == current && self.want_unknown(&env.msg, Some(&author), now);
        if waiting && self.legacy.refuse_unknown {
            self.legacy_waiting.push(env);
            return Disposition::Waiting;
        }
        self.feed(env, waiting, now)
    }

    fn feed(&mut self, env: Envelope, waiting: bool, now: Millis) -> Disposition {
        match self.scp.handle_message(&env.msg, now) {
            Ok(out) => {
                self.broadcast(out, now);
                if waiting {
                    Disposition::Waiting
                } else {
                    Disposition::Taken
                }
            }
            Err(ScpError::SlotPurged { .. }) => Disposition::Late,
            Err(ScpError::SlotTooFarAhead { .. }) => Disposition::TooFarAhead,
            Err(_) => Disposition::Refused,
        }
    }

    /// A client's transaction, validated by the shell against the ledger while block
    /// `checked_for` was next.
    pub fn on_client_tx(&mut self, tx: CoreTx<B>, checked_for: u64, now: Millis) -> ClientVerdict {
        let hash = tx.hash();
        let body = tx.body.clone();
        let slot = self.slot();
        let verdict = match self
            .store_mut()
            .insert(tx, checked_for, slot, TxOrigin::Client, now)
        {
            Ok(Inserted::New) => {
                self.actions.push(Action::Relay(vec![body]));
                if !self.legacy.no_relay_repair {
                    let wait = self.cfg.relay_retry_ms;
                    self.relay_again
                        .insert(hash, (now.saturating_add(wait), wait));
                }
                self.arrived(&[hash], now);
                ClientVerdict::Accepted
            }
            Ok(Inserted::Known) => ClientVerdict::Accepted,
            Err(NotStored::Refused(r)) => {
                self.stats.stale += 1;
                if r.permanent {
                    self.store_mut().mark_invalid(hash, slot);
                }
                ClientVerdict::Refused(r)
            }
            Err(NotStored::Full { what, limit }) => {
                self.stats.over_capacity += 1;
                ClientVerdict::Refused(Refusal {
                    code: codes::OVER_CAPACITY,
                    message: format!("{what} is full ({limit} entries): try again later"),
                    permanent: false,
                })
            }
            Err(NotStored::Recheck) => ClientVerdict::Recheck,
        };
        self.pump(now);
        verdict
    }

    /// Transactions a peer relayed (not validated yet).
    pub fn on_peer_txs(&mut self, txs: Vec<CoreTx<B>>, now: Millis) {
        self.queue_validation(txs, TxOrigin::Relay, now);
        self.pump(now);
    }

    /// The answer to fetch `id`: the transactions received (not validated yet), the
    /// hashes the peer lacks, and those it holds but left out (the answer was full).
    pub fn on_fetch_answer(
        &mut self,
        id: FetchId,
        txs: Vec<CoreTx<B>>,
        lacking: &[TxHash],
        deferred: &[TxHash],
        now: Millis,
    ) {
        let received: Vec<TxHash> = txs.iter().map(CoreTx::hash).collect();
        self.fetcher.answered(id, &received, lacking, deferred, now);
        self.queue_validation(txs, TxOrigin::Fetch, now);
        self.pump(now);
    }

    /// Fetch `id` failed (unreachable, refused, timed out).
    pub fn on_fetch_failed(&mut self, id: FetchId, now: Millis) {
        self.fetcher.failed(id, now);
        self.pump(now);
    }

    /// The results of an [`Action::Validate`].
    pub fn on_validated(&mut self, results: Vec<Checked<B>>, now: Millis) {
        self.validations_in_flight = self.validations_in_flight.saturating_sub(results.len());
        self.batches_in_flight = self.batches_in_flight.saturating_sub(1);
        let slot = self.slot();
        let mut arrived = Vec::new();
        let mut recheck = Vec::new();
        for checked in results {
            let hash = checked.tx.hash();
            let (origin, queued_at) = self
                .validating
                .remove(&hash)
                .unwrap_or((TxOrigin::Relay, now));
            if origin == TxOrigin::Relay {
                self.relay_delay.sample(now.saturating_sub(queued_at));
            }
            let origin = if self.fetcher.is_wanted(&hash) {
                TxOrigin::Fetch
            } else {
                origin
            };
            if checked.outcome.is_ok() && self.store().needs_recheck(checked.checked_for, slot) {
                recheck.push((checked.tx, origin));
                continue;
            }
            match checked.outcome {
                Ok(()) => {
                    match self.store_mut().insert(
                        checked.tx,
                        checked.checked_for,
                        slot,
                        origin,
                        now,
                    ) {
                        Ok(_) => arrived.push(hash),
                        Err(NotStored::Refused(r)) => {
                            self.stats.stale += 1;
                            if r.permanent {
                                self.store_mut().mark_invalid(hash, slot);
                                arrived.push(hash);
                            }
                        }
                        Err(NotStored::Full { .. }) => self.stats.over_capacity += 1,
                        Err(NotStored::Recheck) => {}
                    }
                }
                Err(r) => {
                    self.stats.refused += 1;
                    if r.permanent {
                        let since = checked.checked_for.max(1);
                        self.store_mut().mark_invalid(hash, since);
                        arrived.push(hash);
                    }
                }
            }
        }
        self.arrived(&arrived, now);
        // Checked against a ledger older than the blocks remembered: check again.
        for (tx, origin) in recheck {
            self.queue_validation(vec![tx], origin, now);
        }
        self.pump(now);
    }

    /// A block the shell appended (formed after [`Action::FormBlock`], or caught up).
    pub fn on_block_appended(
        &mut self,
        block: AppendedBlock,
        now: Millis,
    ) -> Result<(), CoreError> {
        if block.index <= self.tip.index {
            // Already known (a catch-up raced a block formed here): nothing to do.
            return Ok(());
        }
        if block.index != self.tip.index + 1 || block.parent_id != self.tip.id {
            return Err(CoreError::NotOnTip {
                index: block.index,
                parent: hex::encode(block.parent_id),
                tip_index: self.tip.index,
                tip: hex::encode(self.tip.id),
            });
        }
        self.store_mut().apply_block(&block);
        self.admission.on_block(block.included.len(), now);
        if self.busy == Some(Busy::CatchingUp) {
            self.caught_up_blocks += 1;
        }
        for h in block.included.iter().chain(&block.dropped) {
            self.fetcher.resolved(h);
        }
        self.stats.blocks += 1;
        self.health.on_decided(block.index, None, now);
        self.health.on_slot(block.index + 1);
        self.tip = Tip {
            index: block.index,
            id: block.id,
        };
        self.recent_ids.push_back((block.index, block.id));
        while self.recent_ids.len() > RECENT_IDS {
            self.recent_ids.pop_front();
        }
        if self.busy == Some(Busy::Forming(block.index)) {
            self.busy = None;
        }
        let slot = self.slot();
        self.proposed = false;
        self.slot_started = now;
        self.work_since = None;
        self.last_stall_report = None;
        self.emitted_for_persist = None;
        self.awaited.clear();
        self.scp.purge_slots_below(slot - 1);
        self.fetcher.forget_below(slot);
        if !self.is_behind() {
            self.behind_since = None;
        }
        for env in self.held.take(slot) {
            let d = self.envelope(env, now);
            *self.stats.envelopes.entry(d.as_str()).or_default() += 1;
        }
        if !self.store().is_empty() {
            self.note_work(now);
        }
        self.pump(now);
        Ok(())
    }

    /// The shell could not form the block of `slot` (the enclave refused every
    /// transaction, or the ledger changed under it). The core waits for a catch-up.
    pub fn on_form_failed(&mut self, slot: SlotIndex, now: Millis) {
        if self.busy == Some(Busy::Forming(slot)) {
            self.busy = None;
        }
        self.stats.form_failures += 1;
        // Peers that formed it will be ahead: catching up from them resolves it.
        self.behind_since.get_or_insert(now);
        self.pump(now);
    }

    /// A catch-up ([`Action::CatchUp`]) finished (whether or not it appended blocks).
    pub fn on_catch_up_done(&mut self, now: Millis) {
        if self.busy == Some(Busy::CatchingUp) {
            self.busy = None;
            if self.caught_up_blocks == 0 {
                // Nothing came: ask the peers for their heights before trying again.
                self.catch_up_after = now.saturating_add(self.cfg.probe_interval_ms);
                self.last_probe = None;
            }
        }
        if !self.is_behind() {
            self.behind_since = None;
        }
        self.pump(now);
    }

    /// Heights (numbers of blocks) peers reported.
    pub fn on_peer_heights(&mut self, heights: &[(NodeId, u64)], now: Millis) {
        for (peer, h) in heights {
            self.peer_height(peer, *h);
            self.health.on_answered(peer, now);
        }
        self.maybe_catch_up(now);
        self.pump(now);
    }

    // ------------------------------------------------------------------ internals

    fn block_id(&self, index: u64) -> Option<BlockId> {
        self.recent_ids
            .iter()
            .rev()
            .find(|(i, _)| *i == index)
            .map(|(_, id)| *id)
    }

    fn peer_height(&mut self, peer: &NodeId, height: u64) {
        let h = self.peer_heights.entry(peer.clone()).or_default();
        *h = (*h).max(height);
    }

    fn highest_peer_height(&self) -> u64 {
        self.peer_heights.values().copied().max().unwrap_or(0)
    }

    /// Behind when a v-blocking set of this node's quorum set holds more blocks than it:
    /// one peer's word (which may be a lie) is not enough.
    fn is_behind(&self) -> bool {
        self.is_behind_by(1)
    }

    /// A v-blocking set holds at least `blocks` more blocks than this node.
    fn is_behind_by(&self, blocks: u64) -> bool {
        let enough = self.slot().saturating_add(blocks - 1);
        self.quorum_set
            .is_v_blocking(&|n| self.peer_heights.get(n).is_some_and(|h| *h > enough))
    }

    fn note_work(&mut self, now: Millis) {
        self.work_since.get_or_insert(now);
    }

    /// Wants the hashes of `msg`'s values this node neither holds nor knows invalid;
    /// true when there are some.
    fn want_unknown(&mut self, msg: &Msg<TxSet>, source: Option<&NodeId>, now: Millis) -> bool {
        let unknown: BTreeSet<TxHash> = {
            let policy = self.scp.policy();
            msg.values()
                .into_iter()
                .flat_map(|v| policy.unknown(v).copied().collect::<Vec<_>>())
                .collect()
        };
        let any = !unknown.is_empty();
        let current = msg.slot == self.slot();
        for h in unknown {
            if current && self.awaited.len() < self.cfg.fetch.max_wanted {
                self.awaited.insert(h);
            }
            if !self.validating.contains_key(&h) {
                self.fetcher.want(h, source, msg.slot, now);
            }
        }
        any
    }

    fn queue_validation(&mut self, txs: Vec<CoreTx<B>>, origin: TxOrigin, now: Millis) {
        let fresh: Vec<CoreTx<B>> = txs
            .into_iter()
            .filter(|tx| {
                let h = tx.hash();
                !self.store().contains(&h)
                    && self.store().invalid_since(&h).is_none()
                    && !self.validating.contains_key(&h)
            })
            .collect();
        let mut seen = BTreeSet::new();
        let fresh: Vec<CoreTx<B>> = fresh
            .into_iter()
            .filter(|t| seen.insert(t.hash()))
            .collect();
        for tx in fresh {
            self.validating.insert(tx.hash(), (origin, now));
            self.to_validate.push_back(tx);
        }
        self.pump_validation();
    }

    /// Hands waiting transactions to the shell while fewer than
    /// `CoreConfig::max_validations_in_flight` are out, the ones the current slot's
    /// statements wait for first: under load thousands of relayed transactions queue for
    /// validation, and a slot's value can be voted for only once its transactions are
    /// validated, so they must not wait behind the backlog.
    fn pump_validation(&mut self) {
        while self.validations_in_flight < self.cfg.max_validations_in_flight
            && self.batches_in_flight < self.cfg.max_validation_batches
            && !self.to_validate.is_empty()
        {
            let room = self
                .cfg
                .validate_batch
                .min(self.cfg.max_validations_in_flight - self.validations_in_flight);
            let mut batch = Vec::with_capacity(room);
            if !self.awaited.is_empty() {
                let awaited = &self.awaited;
                let mut rest = VecDeque::with_capacity(self.to_validate.len());
                for tx in self.to_validate.drain(..) {
                    if batch.len() < room && awaited.contains(&tx.hash()) {
                        batch.push(tx);
                    } else {
                        rest.push_back(tx);
                    }
                }
                self.to_validate = rest;
            }
            while batch.len() < room {
                match self.to_validate.pop_front() {
                    Some(tx) => batch.push(tx),
                    None => break,
                }
            }
            let origin = batch
                .first()
                .and_then(|t| self.validating.get(&t.hash()).map(|(o, _)| *o))
                .unwrap_or(TxOrigin::Relay);
            self.validations_in_flight += batch.len();
            self.batches_in_flight += 1;
            self.stats.validations += batch.len() as u64;
            self.actions.push(Action::Validate { txs: batch, origin });
        }
    }

    /// Transactions became known (held or known invalid): re-evaluate the current slot
    /// if its messages were waiting for any of them.
    fn arrived(&mut self, hashes: &[TxHash], now: Millis) {
        if hashes.is_empty() {
            return;
        }
        let mut waited = false;
        for h in hashes {
            waited |= self.awaited.remove(h);
            self.fetcher.resolved(h);
        }
        if !self.store().is_empty() {
            self.note_work(now);
        }
        let slot = self.slot();
        if waited && self.scp.externalized(slot).is_none() {
            self.stats.revalidations += 1;
            let out = self.scp.revalidate(slot, now);
            self.broadcast(out, now);
        }
    }

    /// How long relayed transactions wait for validation, ms (for the admin API).
    pub fn relay_validation_delay_ms(&self) -> u64 {
        self.relay_delay.get()
    }

    fn broadcast(&mut self, msgs: Vec<Msg<TxSet>>, now: Millis) {
        for msg in msgs {
            let Some(prev_block_id) = msg.slot.checked_sub(1).and_then(|i| self.block_id(i)) else {
                continue;
            };
            self.health.on_own_message(msg.slot, now);
            self.actions.push(Action::Broadcast { msg, prev_block_id });
        }
    }

    fn maybe_propose(&mut self, now: Millis) {
        let slot = self.slot();
        if self.proposed
            || self.busy.is_some()
            || self.is_behind()
            || self.scp.externalized(slot).is_some()
        {
            return;
        }
        // Nominate what peers have had time to validate: a transaction this node holds
        // for less than the time relayed transactions wait here for validation has
        // probably not been validated by the peers yet, and a value naming it is one they
        // cannot vote for before the round times out (each extra round adds a leader's
        // value for them to validate). Under light load the wait is a few milliseconds.
        let settle = self.relay_delay.get().min(self.cfg.nominate_settle_cap_ms);
        let (hashes, younger) = self
            .scp
            .policy()
            .store()
            .held_since(now.saturating_sub(settle), self.cfg.max_block_txs);
        self.propose_at = younger.map(|t| t.saturating_add(settle));
        if hashes.is_empty() {
            return;
        }
        self.propose_at = None;
        self.proposed = true;
        match self.scp.propose_values(slot, vec![TxSet::new(hashes)], now) {
            Ok(out) => self.broadcast(out, now),
            // Every held transaction is valid; only a purged slot refuses (not reached).
            Err(_) => self.proposed = false,
        }
    }

    fn maybe_catch_up(&mut self, now: Millis) {
        // A v-blocking set ahead makes this node behind (clients hear CATCHING_UP) and
        // worth a catch-up after `behind_grace_ms`. Fewer peers ahead (one may lie, or be
        // the only one up) are worth a catch-up only after four times as long: what a
        // catch-up keeps is what this node's quorum vouches for, so trying is safe, and a
        // node whose other peers are down still learns the chain from the one that is up.
        let behind = self.is_behind();
        if behind || self.highest_peer_height() > self.slot() {
            let since = *self.behind_since.get_or_insert(now);
            let grace = if behind {
                self.cfg.behind_grace_ms
            } else {
                self.cfg
                    .behind_grace_ms
                    .saturating_mul(LONE_AHEAD_GRACE_FACTOR)
            };
            if self.busy.is_none()
                && now.saturating_sub(since) >= grace
                && now >= self.catch_up_after
            {
                self.busy = Some(Busy::CatchingUp);
                self.caught_up_blocks = 0;
                self.stats.catch_ups += 1;
                self.actions.push(Action::CatchUp { tip: self.tip });
            }
        } else {
            self.behind_since = None;
        }
        let probe_due = self
            .last_probe
            .is_none_or(|t| now.saturating_sub(t) >= self.cfg.probe_interval_ms);
        if self.busy.is_none() && probe_due {
            self.last_probe = Some(now);
            self.actions.push(Action::ProbeHeights);
        }
    }

    fn check_stall(&mut self, now: Millis) {
        let Some(work) = self.work_since else {
            return;
        };
        let since = work.max(self.slot_started);
        let stalled = now.saturating_sub(since);
        if stalled < self.cfg.stall_warn_ms {
            return;
        }
        if self
            .last_stall_report
            .is_some_and(|t| now.saturating_sub(t) < self.cfg.stall_warn_ms)
        {
            return;
        }
        self.last_stall_report = Some(now);
        self.stats.stalls += 1;
        let slot = self.slot();
        let m = self.scp.metrics(slot);
        let phase = m.as_ref().map_or_else(
            || "idle".to_string(),
            |m| {
                match m.phase {
                    SlotPhase::Nominate => "nominate",
                    SlotPhase::Prepare => "prepare",
                    SlotPhase::Confirm => "confirm",
                    SlotPhase::Externalize => "externalize",
                }
                .to_string()
            },
        );
        let heard = self
            .quorum_set
            .nodes()
            .into_iter()
            .filter(|n| n != self.id())
            .map(|n| {
                let last = self.heard.get(&n);
                HeardMember {
                    node: n.to_string(),
                    slot: last.map(|(s, _)| *s),
                    age_ms: last.map(|(_, t)| now.saturating_sub(*t)),
                }
            })
            .collect();
        self.actions
            .push(Action::Notice(Notice::Stalled(StallReport {
                slot,
                stalled_ms: stalled,
                phase,
                round: m.as_ref().map_or(0, |m| m.nomination_round),
                ballot: m.as_ref().map_or(0, |m| m.ballot_counter),
                pending: self.store().len(),
                fetching: self.fetcher.len(),
                held: self.held.len(),
                busy: self.busy.map(Busy::name),
                heard,
            })));
    }

    fn check_externalized(&mut self, now: Millis) {
        if self.busy.is_some() {
            return;
        }
        let slot = self.slot();
        let Some(value) = self.scp.externalized(slot).cloned() else {
            return;
        };
        let mut txs = Vec::with_capacity(value.len());
        let mut missing = Vec::new();
        for h in value.hashes() {
            match self.store().get(h) {
                Some(tx) => txs.push(tx.body.clone()),
                None => missing.push(*h),
            }
        }
        if !missing.is_empty() {
            let already = missing.iter().all(|h| self.fetcher.is_wanted(h));
            for h in &missing {
                self.fetcher.want(*h, None, slot, now);
            }
            if !already {
                self.actions.push(Action::Notice(Notice::FormWaiting {
                    slot,
                    missing: missing.len(),
                }));
            }
            return;
        }
        self.busy = Some(Busy::Forming(slot));
        self.actions.push(Action::FormBlock {
            index: slot,
            parent: self.tip,
            value,
            txs,
        });
    }

    fn maybe_persist(&mut self) {
        let slot = self.slot();
        let Some(emitted) = self.scp.metrics(slot).map(|m| m.messages_emitted) else {
            return;
        };
        if emitted == 0 || self.emitted_for_persist == Some((slot, emitted)) {
            return;
        }
        self.emitted_for_persist = Some((slot, emitted));
        self.actions.push(Action::Persist {
            slot,
            msgs: self.scp.latest_messages(slot),
        });
    }

    /// Legacy emulation: hands over the envelopes whose fetches finished, once.
    fn feed_legacy_waiting(&mut self, now: Millis) {
        if self.legacy_waiting.is_empty() {
            return;
        }
        let slot = self.slot();
        let waiting = std::mem::take(&mut self.legacy_waiting);
        for env in waiting {
            if env.msg.slot != slot {
                continue;
            }
            // The old driver handed a message to SCP once its fetch had tried every peer.
            let pending = env.msg.values().into_iter().any(|v| {
                v.hashes().iter().any(|h| {
                    (self.fetcher.is_wanted(h) && !self.fetcher.tried_everyone(h))
                        || self.validating.contains_key(h)
                })
            });
            if pending {
                self.legacy_waiting.push(env);
            } else {
                let d = self.feed(env, false, now);
                *self.stats.envelopes.entry(d.as_str()).or_default() += 1;
            }
        }
    }

    /// What every input ends with: nominate if due, form the block if externalized, send
    /// due fetches, persist changed own messages.
    fn pump(&mut self, now: Millis) {
        self.admit_limit = self.admission.limit(now);
        let slot = self.slot();
        if !self.health.is_decided(slot) {
            if let Some(value) = self.scp.externalized(slot) {
                self.health.on_decided(slot, Some(value), now);
            }
        }
        self.pump_validation();
        self.feed_legacy_waiting(now);
        self.maybe_propose(now);
        self.check_externalized(now);
        for req in self.fetcher.poll(now) {
            self.actions.push(Action::Fetch(req));
        }
        self.maybe_persist();
    }
}

/// An exponentially weighted moving average of millisecond samples (weight 1/8 each).
#[derive(Clone, Copy, Debug, Default)]
struct Ewma {
    /// The average times 8, so integer steps do not vanish.
    scaled: u64,
    any: bool,
}

impl Ewma {
    fn sample(&mut self, ms: u64) {
        let ms = ms.min(u64::MAX / 16);
        if self.any {
            self.scaled = self.scaled - self.scaled / 8 + ms;
        } else {
            self.scaled = ms * 8;
            self.any = true;
        }
    }

    fn get(&self) -> u64 {
        self.scaled / 8
    }
}

/// The validity of `value` in `slot` at `core` (for tests and the simulator).
pub fn validity_at<B: Clone>(
    core: &NodeCore<B>,
    slot: SlotIndex,
    value: &TxSet,
) -> mcnode_scp::Validity {
    core.scp.policy().validity(slot, value)
}
