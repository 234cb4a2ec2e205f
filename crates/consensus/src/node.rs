//! The node task: the one owner of the [`NodeCore`], and the thin shell that performs its
//! actions.
//!
//! It waits on three things, in this order of priority: peers' envelopes (their own
//! queue, so consensus never waits behind transactions), everything else on the inbox
//! (client transactions, relayed ones, validation and fetch results, blocks formed or
//! caught up, peer heights, admin queries), and the core's next timer. After each step it
//! performs the actions the core pushed: persisting this node's latest SCP messages before
//! anything is sent, signing and broadcasting envelopes, handing validation, fetches,
//! block forming, catch-up and probes to tasks of their own (whose results come back on
//! the inbox), relaying, and logging notices. It then publishes the core's state for the
//! handlers and the metrics. The task makes no decision of its own.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use mcnode_blockchain::{ArchiveBlock, BlockMetadata, BlockMetadataContents};
use mcnode_enclave::{
    EnclaveError, FormBlockError, FormBlockInputs, HostLedgerState, LocallyEncryptedTx, TxContext,
};
use mcnode_ledger::StateQuery;
use mcnode_node_core::{
    Action, AppendedBlock, Checked, ClientVerdict, CoreTx, FetchId, FetchRequest, NodeCore, Notice,
    Tip, TxHash, TxOrigin, TxSet,
};
use mcnode_peers::{FetchedTxs, MsgKey, SignedConsensusMsg};
use mcnode_scp::{Msg, NodeId, Topic};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::{
    catchup,
    history::History,
    intake,
    metrics::{CopiedCounters, ErrorKind},
    state::{Published, Shared},
};

/// Inbox capacity (everything but envelopes).
pub const INBOX: usize = 4_096;
/// Envelope queue capacity.
pub const ENVELOPE_QUEUE: usize = 4_096;
/// Envelopes taken from their queue per step before the inbox gets a turn.
const ENVELOPES_PER_STEP: usize = 64;
/// Longest sleep between two ticks of the core.
const TICK: Duration = Duration::from_millis(250);
/// Shortest time between two computations of the quorum health, ms.
const QUORUM_HEALTH_EVERY_MS: u64 = 100;
/// Most submission times remembered (for the completion-time histogram).
const MAX_TRACKED_SUBMISSIONS: usize = 100_000;

/// A peer's envelope, opened (signature checked) by the peer service.
#[derive(Debug)]
pub struct Received {
    /// The envelope as received.
    pub envelope: SignedConsensusMsg,
    /// Its SCP message.
    pub msg: Msg<TxSet>,
}

/// What a block-forming task reports.
#[derive(Debug)]
pub enum Formed {
    /// Appended.
    Appended {
        /// The block, as the core sees it.
        block: AppendedBlock,
        /// Transactions it holds.
        txs: usize,
        /// Externalize to appended.
        took: Duration,
    },
    /// Not formed (the enclave refused every transaction).
    Failed(String),
}

/// The answer to a peer's `GetTxs`: the held transactions and the hashes not held.
pub type Lookup = (Vec<(TxHash, TxContext)>, Vec<TxHash>);

/// Everything the node task receives but envelopes.
#[derive(Debug)]
pub enum Input {
    /// A client's transaction, validated by the client service while block `checked_for`
    /// was next.
    ClientTx {
        /// The transaction.
        tx: CoreTx<TxContext>,
        /// The block it was checked for.
        checked_for: u64,
        /// When the client's request arrived.
        submitted: Instant,
        /// Where the verdict goes.
        reply: oneshot::Sender<ClientVerdict>,
    },
    /// Transactions a peer relayed (decrypted, not validated).
    PeerTxs(Vec<TxContext>),
    /// A peer asks for transactions by hash.
    GetTxs {
        /// The hashes.
        hashes: Vec<TxHash>,
        /// Where the answer goes.
        reply: oneshot::Sender<Lookup>,
    },
    /// Validation results.
    Validated(Vec<Checked<TxContext>>),
    /// A fetch's answer.
    Fetched {
        /// The core's request id.
        id: FetchId,
        /// The answer, or why there is none.
        result: Result<FetchedTxs, String>,
    },
    /// A block-forming task finished.
    Formed {
        /// The slot.
        index: u64,
        /// What happened.
        outcome: Formed,
    },
    /// A catch-up task appended a block.
    CaughtUp {
        /// The block.
        block: AppendedBlock,
        /// From an archive (true) or a peer.
        from_archive: bool,
    },
    /// A catch-up task finished.
    CatchUpDone(Result<(), String>),
    /// Heights peers reported.
    PeerHeights(Vec<(NodeId, u64)>),
    /// The admin API asks for the current slot's SCP state as JSON.
    DumpScp(oneshot::Sender<String>),
    /// The admin API asks for the recent history (`mcnode_api::admin::History`) as JSON.
    DumpHistory(oneshot::Sender<String>),
    /// A task met an error the node cannot continue after.
    Fatal(NodeError),
}

/// Why the node task stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The ledger could not be read or written: the node must stop.
    #[error("ledger: {0}")]
    Ledger(#[from] mcnode_ledger::LedgerError),
    /// The enclave failed in a way that cannot be skipped.
    #[error("enclave: {0}")]
    Enclave(#[from] EnclaveError),
    /// The core refused an appended block (the shell's view of the ledger is wrong).
    #[error(transparent)]
    Core(#[from] mcnode_node_core::CoreError),
    /// A blocking task panicked.
    #[error("internal: a task failed: {0}")]
    Join(String),
    /// The SCP state file could not be written.
    #[error("cannot write the SCP state file {path}: {source}")]
    ScpState {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, NodeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NodeError::Join(e.to_string()))
}

fn unix_now() -> u64 {
    unix_now_ms() / 1000
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The persisted SCP state: this node's latest messages for its current slot, restored
/// after a restart so it never contradicts what it said before.
///
/// Format 1: `b"mcnode-scp-state"`, format byte `1`, the id of the block the slot builds on
/// (32 bytes), then the messages as `mcnode_peers::envelope::encode_scp_msg` frames, each
/// preceded by its length as u32 big-endian. Written to a temporary file and renamed
/// (a process crash leaves the old or the new file; it is not fsynced, so a power loss
/// may lose the last messages, as a crash of the host loses the node's network state).
pub mod scp_state {
    use std::path::Path;

    use mcnode_node_core::{BlockId, TxSet};
    use mcnode_scp::Msg;

    const MAGIC: &[u8] = b"mcnode-scp-state";
    /// The format version.
    pub const FORMAT: u8 = 1;

    /// Encodes the state.
    pub fn encode(prev_block_id: &BlockId, msgs: &[Msg<TxSet>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        out.extend_from_slice(prev_block_id);
        for m in msgs {
            let Ok(frame) = mcnode_peers::envelope::encode_scp_msg(m) else {
                continue;
            };
            out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            out.extend_from_slice(&frame);
        }
        out
    }

    /// Why a state file was not used.
    #[derive(Debug, thiserror::Error)]
    pub enum StateError {
        /// It is not an SCP state file of a known format.
        #[error("not an SCP state file of format {FORMAT}")]
        Format,
        /// A message in it does not decode.
        #[error("a message does not decode: {0}")]
        Decode(String),
    }

    /// Decodes a state file: the parent block id and the messages.
    pub fn decode(bytes: &[u8]) -> Result<(BlockId, Vec<Msg<TxSet>>), StateError> {
        let rest = bytes.strip_prefix(MAGIC).ok_or(StateError::Format)?;
        let (&format, rest) = rest.split_first().ok_or(StateError::Format)?;
        if format != FORMAT || rest.len() < 32 {
            return Err(StateError::Format);
        }
        let (id, mut rest) = rest.split_at(32);
        let mut prev = [0u8; 32];
        prev.copy_from_slice(id);
        let mut msgs = Vec::new();
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(StateError::Format);
            }
            let (len, tail) = rest.split_at(4);
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if tail.len() < len {
                return Err(StateError::Format);
            }
            let (frame, tail) = tail.split_at(len);
            let (version, body) = frame.split_first().ok_or(StateError::Format)?;
            if *version != mcnode_peers::envelope::ENVELOPE_VERSION {
                return Err(StateError::Format);
            }
            let msg: Msg<TxSet> =
                postcard::from_bytes(body).map_err(|e| StateError::Decode(e.to_string()))?;
            msgs.push(msg);
            rest = tail;
        }
        Ok((prev, msgs))
    }

    /// Reads the state at `path` (none when the file is missing or unusable: the node
    /// then starts the slot afresh, and says why).
    pub fn load(path: &Path) -> Option<(BlockId, Vec<Msg<TxSet>>)> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the SCP state file; starting the slot afresh");
                return None;
            }
        };
        match decode(&bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring the SCP state file");
                None
            }
        }
    }

    /// Writes the state to `path` (temporary file, then rename).
    pub fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}

/// The node task.
pub struct NodeTask {
    shared: Arc<Shared>,
    core: NodeCore<TxContext>,
    inbox: mpsc::Receiver<Input>,
    envelopes: mpsc::Receiver<Received>,
    to_self: mpsc::Sender<Input>,
    publish: watch::Sender<Arc<Published>>,
    start: Instant,
    relay: mpsc::Sender<LocallyEncryptedTx>,
    validators: Arc<Semaphore>,
    submitted: HashMap<TxHash, Instant>,
    latest_msg: Option<SignedConsensusMsg>,
    last_block_unix: Option<u64>,
    copied: CopiedCounters,
    scp_state_path: PathBuf,
    form_task: Option<tokio::task::JoinHandle<()>>,
    noted_round: (u64, u32),
    history: History,
    /// The quorum health last computed, and when (ms of the task's clock).
    quorum_health: Option<(u64, Arc<mcnode_node_core::QuorumHealthReport>)>,
}

/// The queues' receiving ends and the publisher, made with [`channels`].
pub struct Receivers {
    /// The inbox.
    pub inbox: mpsc::Receiver<Input>,
    /// The envelope queue.
    pub envelopes: mpsc::Receiver<Received>,
    /// Where the node task publishes.
    pub publish: watch::Sender<Arc<Published>>,
}

/// Makes the node task's queues: the handle the handlers use and the receiving ends.
pub fn channels(initial: Published) -> (crate::state::NodeHandle, Receivers) {
    let (inbox_tx, inbox) = mpsc::channel(INBOX);
    let (env_tx, envelopes) = mpsc::channel(ENVELOPE_QUEUE);
    let (publish, published) = watch::channel(Arc::new(initial));
    (
        crate::state::NodeHandle {
            inbox: inbox_tx,
            envelopes: env_tx,
            published,
        },
        Receivers {
            inbox,
            envelopes,
            publish,
        },
    )
}

fn appended_block(a: &ArchiveBlock, included: Vec<TxHash>, dropped: Vec<TxHash>) -> AppendedBlock {
    AppendedBlock {
        index: a.block.index,
        id: a.block.id.0,
        parent_id: a.block.parent_id.0,
        key_images: a.contents.key_images.iter().map(|k| k.0 .0).collect(),
        output_keys: a.contents.outputs.iter().map(|o| o.target_key.0).collect(),
        included,
        dropped,
    }
}

impl NodeTask {
    /// The task over `core`, receiving on `rx`, relaying through `relay`.
    pub fn new(
        shared: Arc<Shared>,
        core: NodeCore<TxContext>,
        rx: Receivers,
        start: Instant,
        relay: mpsc::Sender<LocallyEncryptedTx>,
        scp_state_path: PathBuf,
    ) -> Self {
        let validators = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            to_self: shared.node.inbox.clone(),
            shared,
            core,
            inbox: rx.inbox,
            envelopes: rx.envelopes,
            publish: rx.publish,
            start,
            relay,
            validators: Arc::new(Semaphore::new(validators)),
            submitted: HashMap::new(),
            latest_msg: None,
            last_block_unix: None,
            copied: CopiedCounters::default(),
            scp_state_path,
            form_task: None,
            noted_round: (0, 0),
            history: History::new(),
            quorum_health: None,
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Runs until shutdown or a fatal error.
    pub async fn run(mut self) -> Result<(), NodeError> {
        let mut shutdown = self.shared.shutdown.clone();
        let result = loop {
            let wake = self
                .core
                .next_wakeup()
                .map_or(TICK, |t| {
                    Duration::from_millis(t.saturating_sub(self.now()))
                })
                .min(TICK);
            let step = tokio::select! {
                biased;
                _ = shutdown.changed() => break Ok(()),
                env = self.envelopes.recv() => match env {
                    Some(env) => {
                        self.on_envelope(env);
                        for _ in 1..ENVELOPES_PER_STEP {
                            match self.envelopes.try_recv() {
                                Ok(env) => self.on_envelope(env),
                                Err(_) => break,
                            }
                        }
                        Ok(())
                    }
                    None => break Ok(()),
                },
                input = self.inbox.recv() => match input {
                    Some(input) => self.on_input(input),
                    None => break Ok(()),
                },
                () = tokio::time::sleep(wake) => {
                    let now = self.now();
                    self.core.tick(now);
                    Ok(())
                }
            };
            if let Err(e) = step {
                break Err(e);
            }
            if let Err(e) = self.perform() {
                break Err(e);
            }
            self.publish();
        };
        // Let a block being appended finish (LMDB commits atomically either way).
        if let Some(task) = self.form_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        tracing::info!(slot = self.core.slot(), "node task stopped");
        result
    }

    fn on_envelope(&mut self, env: Received) {
        let now = self.now();
        self.history.heard(unix_now_ms(), env.msg.sender.as_str());
        let d = self.core.on_envelope(
            mcnode_node_core::Envelope {
                msg: env.msg,
                prev_block_id: env.envelope.prev_block_id,
            },
            now,
        );
        tracing::trace!(from = %env.envelope.from, disposition = d.as_str(), "envelope");
    }

    fn on_input(&mut self, input: Input) -> Result<(), NodeError> {
        let now = self.now();
        match input {
            Input::ClientTx {
                tx,
                checked_for,
                submitted,
                reply,
            } => {
                let hash = tx.hash();
                let verdict = self.core.on_client_tx(tx, checked_for, now);
                if verdict == ClientVerdict::Accepted {
                    self.shared.metrics.txs_accepted.inc();
                    if self.submitted.len() >= MAX_TRACKED_SUBMISSIONS {
                        let cutoff = Instant::now() - Duration::from_secs(600);
                        self.submitted.retain(|_, t| *t > cutoff);
                    }
                    if self.submitted.len() < MAX_TRACKED_SUBMISSIONS {
                        self.submitted.entry(hash).or_insert(submitted);
                    }
                }
                let _ = reply.send(verdict);
            }
            Input::PeerTxs(ctxs) => {
                let txs = ctxs.into_iter().map(intake::core_tx).collect();
                self.core.on_peer_txs(txs, now);
            }
            Input::GetTxs { hashes, reply } => {
                let _ = reply.send(self.core.lookup(&hashes));
            }
            Input::Validated(results) => {
                for r in &results {
                    if let Err(refusal) = &r.outcome {
                        tracing::debug!(
                            tx = %hex::encode(r.tx.hash()),
                            checked_for = r.checked_for,
                            code = refusal.code,
                            permanent = refusal.permanent,
                            reason = %refusal.message,
                            "a relayed or fetched transaction was refused"
                        );
                    }
                }
                self.core.on_validated(results, now)
            }
            Input::Fetched { id, result } => match result {
                Ok(f) => {
                    let txs = f.contexts.into_iter().map(intake::core_tx).collect();
                    self.core
                        .on_fetch_answer(id, txs, &f.missing, &f.deferred, now);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "GetTxs failed");
                    self.core.on_fetch_failed(id, now);
                }
            },
            Input::Formed { index, outcome } => {
                self.form_task = None;
                match outcome {
                    Formed::Appended { block, txs, took } => {
                        self.shared.metrics.block_formed(txs, took);
                        self.committed(&block);
                        self.core.on_block_appended(block, now)?;
                    }
                    Formed::Failed(why) => {
                        tracing::error!(slot = index, reason = %why, "cannot form the externalized block; waiting for catch-up");
                        self.core.on_form_failed(index, now);
                    }
                }
            }
            Input::CaughtUp {
                block,
                from_archive,
            } => {
                self.shared.metrics.block_caught_up(from_archive);
                self.committed(&block);
                self.core.on_block_appended(block, now)?;
            }
            Input::CatchUpDone(result) => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "catch-up failed; will retry");
                }
                self.core.on_catch_up_done(now);
            }
            Input::PeerHeights(heights) => self.core.on_peer_heights(&heights, now),
            Input::DumpScp(reply) => {
                let snapshot = self.core.scp().snapshot(self.core.slot());
                let json = serde_json::to_string(&snapshot).unwrap_or_else(|e| {
                    serde_json::json!({ "error": format!("cannot encode the slot: {e}") })
                        .to_string()
                });
                let _ = reply.send(json);
            }
            Input::DumpHistory(reply) => {
                let doc = self.history.snapshot(unix_now_ms());
                let json = serde_json::to_string(&doc).unwrap_or_else(|e| {
                    serde_json::json!({ "error": format!("cannot encode the history: {e}") })
                        .to_string()
                });
                let _ = reply.send(json);
            }
            Input::Fatal(e) => return Err(e),
        }
        Ok(())
    }

    fn committed(&mut self, block: &AppendedBlock) {
        let now_ms = unix_now_ms();
        self.last_block_unix = Some(unix_now().max(1));
        self.history.block(now_ms, block.included.len() as u64);
        self.shared
            .metrics
            .ledger_height
            .set((block.index + 1) as i64);
        for h in &block.included {
            if let Some(t) = self.submitted.remove(h) {
                let latency = t.elapsed().as_secs_f64();
                self.shared.metrics.tx_completion.observe(latency);
                self.history.committed(now_ms, latency);
            }
        }
    }

    fn publish(&mut self) {
        let status = self.core.status();
        self.shared
            .metrics
            .core(&status, self.core.stats(), &mut self.copied);
        let now = self.now();
        self.history.pending(unix_now_ms(), status.pending as u64);
        let quorum_health = match &self.quorum_health {
            // Busy steps follow each other closely: recomputed at most every 100 ms.
            Some((at, report))
                if now.saturating_sub(*at) < QUORUM_HEALTH_EVERY_MS
                    && report.slot == status.slot =>
            {
                report.clone()
            }
            _ => {
                let report = Arc::new(self.core.quorum_health(now));
                self.shared.metrics.quorum_health(&report);
                self.quorum_health = Some((now, report.clone()));
                report
            }
        };
        let heard = self
            .core
            .heard()
            .map(|(n, slot, at)| {
                let ago = Duration::from_millis(now.saturating_sub(at));
                (
                    n.to_string(),
                    (
                        slot,
                        Instant::now().checked_sub(ago).unwrap_or_else(Instant::now),
                    ),
                )
            })
            .collect();
        let peer_heights = self
            .core
            .peer_heights()
            .iter()
            .map(|(n, h)| (n.to_string(), *h))
            .collect();
        let _ = self.publish.send(Arc::new(Published {
            status,
            heard,
            peer_heights,
            latest_msg: self.latest_msg.clone(),
            last_block_unix: self.last_block_unix,
            quorum_health: Some(quorum_health),
        }));
    }

    /// A debug line each time the current slot's nomination moves to a new round (the
    /// previous round gave no candidate): what this node held and voted for.
    fn note_round(&mut self) {
        let slot = self.core.slot();
        let Some(m) = self.core.scp().metrics(slot) else {
            return;
        };
        if m.nomination_round > 1 && self.noted_round != (slot, m.nomination_round) {
            self.noted_round = (slot, m.nomination_round);
            tracing::debug!(
                slot,
                round = m.nomination_round,
                voted = m.voted,
                accepted = m.accepted,
                nominations_not_valid = m.nominations_not_valid,
                pending = self.core.status().pending,
                fetching = self.core.status().fetching,
                validating = self.core.status().validating,
                "nomination round timed out without a candidate"
            );
        }
    }

    fn perform(&mut self) -> Result<(), NodeError> {
        self.note_round();
        let actions = self.core.take_actions();
        // This node's state is on disk before anything it says leaves.
        for a in &actions {
            if let Action::Persist { slot, msgs } = a {
                let prev = self.core.tip().id;
                if *slot == self.core.slot() {
                    scp_state::store(&self.scp_state_path, &scp_state::encode(&prev, msgs))
                        .map_err(|source| NodeError::ScpState {
                            path: self.scp_state_path.clone(),
                            source,
                        })?;
                }
            }
        }
        for a in actions {
            match a {
                Action::Persist { .. } => {}
                Action::Broadcast { msg, prev_block_id } => self.broadcast(&msg, prev_block_id),
                Action::Fetch(req) => self.fetch(req),
                Action::Validate { txs, origin } => self.validate(txs, origin),
                Action::Relay(bodies) => {
                    for ctx in bodies {
                        if self.relay.try_send(ctx.encrypted_tx).is_err() {
                            self.shared.metrics.error(ErrorKind::RelayQueueFull);
                        }
                    }
                }
                Action::FormBlock {
                    index,
                    parent,
                    value,
                    txs,
                } => self.form(index, parent, value, txs),
                Action::CatchUp { tip } => self.catch_up(tip),
                Action::ProbeHeights => self.probe(),
                Action::Notice(n) => log_notice(&n),
            }
        }
        Ok(())
    }

    fn broadcast(&mut self, msg: &Msg<TxSet>, prev_block_id: [u8; 32]) {
        let env = match SignedConsensusMsg::sign(
            msg,
            prev_block_id,
            self.shared.responder_id.clone(),
            &self.shared.signer,
        ) {
            Ok(env) => env,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode our own SCP message");
                return;
            }
        };
        if msg.slot == self.core.slot() {
            self.latest_msg = Some(env.clone());
        }
        let key = MsgKey {
            author: self.shared.responder_id.clone(),
            slot: msg.slot,
            ballot: matches!(msg.topic, Topic::Ballot(_)),
        };
        self.shared.broadcaster.send_msg(Arc::new(env), &key, None);
    }

    fn fetch(&self, req: FetchRequest) {
        let shared = self.shared.clone();
        let tx = self.to_self.clone();
        tokio::spawn(async move {
            let peer = shared
                .peers
                .iter()
                .find(|p| p.peer().responder_id.as_str() == req.peer.as_str())
                .cloned();
            let result = match peer {
                Some(p) => p.get_txs(&req.hashes).await.map_err(|e| e.to_string()),
                None => Err(format!("{} is not a configured peer", req.peer)),
            };
            let _ = tx.send(Input::Fetched { id: req.id, result }).await;
        });
    }

    fn validate(&self, txs: Vec<CoreTx<TxContext>>, _origin: TxOrigin) {
        let shared = self.shared.clone();
        let tx = self.to_self.clone();
        let permits = self.validators.clone();
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            // One ledger read and one batch verification for the whole request: the
            // proofs of all of them are checked together (`validate_batch`).
            let results = blocking(move || {
                let ctxs: Vec<&TxContext> = txs.iter().map(|t| &t.body).collect();
                let verdicts = intake::check_batch(&*shared.ledger, &*shared.enclave, &ctxs)?;
                let out = txs
                    .into_iter()
                    .zip(verdicts)
                    .map(|(tx, (checked_for, verdict))| Checked {
                        tx,
                        checked_for,
                        outcome: verdict.map_err(Into::into),
                    })
                    .collect::<Vec<_>>();
                Ok::<_, mcnode_ledger::LedgerError>(out)
            })
            .await;
            let input = match results {
                Ok(Ok(r)) => Input::Validated(r),
                Ok(Err(e)) => Input::Fatal(e.into()),
                Err(e) => Input::Fatal(e),
            };
            let _ = tx.send(input).await;
        });
    }

    fn form(&mut self, index: u64, parent: Tip, value: TxSet, txs: Vec<TxContext>) {
        let shared = self.shared.clone();
        let tx = self.to_self.clone();
        let metrics = self.core.scp().metrics(index);
        let agreed = SlotSummary {
            ballot: metrics.as_ref().map_or(0, |m| m.ballot_counter),
            rounds: metrics.as_ref().map_or(0, |m| m.nomination_round),
            slot_ms: self.now().saturating_sub(self.core.slot_started()),
        };
        let handle = tokio::spawn(async move {
            let input = match form_and_append(&shared, parent, &value, txs, agreed).await {
                Ok(outcome) => Input::Formed { index, outcome },
                Err(e) => Input::Fatal(e),
            };
            let _ = tx.send(input).await;
        });
        self.form_task = Some(handle);
    }

    fn catch_up(&self, tip: Tip) {
        let shared = self.shared.clone();
        let tx = self.to_self.clone();
        tokio::spawn(async move {
            let result = catch_up(&shared, tip, &tx).await;
            let input = match result {
                Ok(r) => Input::CatchUpDone(r),
                Err(e) => Input::Fatal(e),
            };
            let _ = tx.send(input).await;
        });
    }

    fn probe(&self) {
        let shared = self.shared.clone();
        let tx = self.to_self.clone();
        tokio::spawn(async move {
            let heights = catchup::probe_peer_heights(&shared).await;
            if !heights.is_empty() {
                let _ = tx.send(Input::PeerHeights(heights)).await;
            }
        });
    }
}

fn log_notice(n: &Notice) {
    match n {
        Notice::Stalled(r) => {
            let heard: Vec<String> = r
                .heard
                .iter()
                .map(|h| match (h.slot, h.age_ms) {
                    (Some(s), Some(a)) => {
                        format!("{} (slot {s}, {:.1} s ago)", h.node, a as f64 / 1000.0)
                    }
                    _ => format!("{} (never)", h.node),
                })
                .collect();
            tracing::warn!(
                slot = r.slot,
                stalled_s = r.stalled_ms as f64 / 1000.0,
                phase = %r.phase,
                round = r.round,
                ballot = r.ballot,
                pending = r.pending,
                fetching = r.fetching,
                held = r.held,
                busy = r.busy.unwrap_or("no"),
                heard = %heard.join(", "),
                "the slot has not moved"
            );
        }
        Notice::FormWaiting { slot, missing } => {
            tracing::info!(
                slot,
                missing,
                "externalized transactions are missing here; fetching them before forming the block"
            );
        }
    }
}

/// Forms the block of the slot after `parent` from `txs` in the enclave, signs its
/// metadata and appends it. A failed append is fatal.
/// Appends `a` (block, contents, signature, metadata) to the ledger in one write, off the
/// async threads.
async fn append(shared: &Arc<Shared>, a: ArchiveBlock) -> Result<(), NodeError> {
    let ledger = shared.ledger.clone();
    blocking(move || {
        ledger.append_block(
            &a.block,
            &a.contents,
            a.signature.as_ref(),
            a.metadata.as_ref(),
        )
    })
    .await??;
    Ok(())
}

/// How a slot was agreed, for the "block appended" log line: a slow block shows whether
/// nomination took several rounds or the ballot protocol several ballots.
#[derive(Clone, Copy, Debug)]
struct SlotSummary {
    /// The ballot counter at externalize.
    ballot: u32,
    /// Nomination rounds.
    rounds: u32,
    /// From the previous block to externalize, ms.
    slot_ms: u64,
}

async fn form_and_append(
    shared: &Arc<Shared>,
    parent: Tip,
    value: &TxSet,
    contexts: Vec<TxContext>,
    agreed: SlotSummary,
) -> Result<Formed, NodeError> {
    let started = Instant::now();
    let ledger = shared.ledger.clone();
    let mut query = StateQuery::default();
    for c in &contexts {
        query.proof_indices.extend(&c.highest_indices);
        query.key_images.extend(&c.key_images);
        query.output_keys.extend(&c.output_public_keys);
    }
    let answer = {
        let ledger = ledger.clone();
        blocking(move || {
            let last = ledger.last_block()?;
            query
                .proof_indices
                .push(last.cumulative_txo_count.saturating_sub(1));
            query.proof_indices.sort_unstable();
            query.proof_indices.dedup();
            ledger.state_for(&query)
        })
        .await??
    };
    if answer.last_block.id.0 != parent.id || answer.last_block.index != parent.index {
        return Ok(Formed::Failed(format!(
            "the ledger's last block is {} ({}), not the slot's parent {}",
            answer.last_block.index,
            answer.last_block.id,
            hex::encode(parent.id)
        )));
    }
    let inputs = FormBlockInputs {
        parent: answer.last_block,
        ledger: HostLedgerState {
            root_element: Some(answer.root),
            root_proofs: answer.proofs,
        },
        txs: contexts.iter().map(|c| c.encrypted_tx.clone()).collect(),
        spent_key_images: answer.spent_key_images,
        existing_output_keys: answer.existing_output_keys,
        signed_at: unix_now(),
    };
    let enclave = shared.enclave.clone();
    let formed = match blocking(move || enclave.form_block(inputs)).await? {
        Ok(f) => f,
        Err(EnclaveError::FormBlock(FormBlockError::NoValidTransactions)) => {
            return Ok(Formed::Failed(format!(
                "the enclave found none of the {} externalized transactions valid",
                value.len()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let metadata = BlockMetadata::sign(
        BlockMetadataContents {
            block_id: formed.block.id,
            quorum_set: shared.quorum_record.clone(),
            attestation_evidence: shared.enclave.evidence().to_bytes(),
            responder_id: shared.responder_id.to_string(),
        },
        &shared.signer,
    );
    let archive = ArchiveBlock {
        block: formed.block.clone(),
        contents: formed.contents.clone(),
        signature: Some(formed.signature.clone()),
        metadata: Some(metadata),
    };
    append(shared, archive.clone()).await?;
    let dropped: Vec<TxHash> = formed.dropped.iter().filter_map(|(h, _)| *h).collect();
    tracing::info!(
        index = formed.block.index,
        txs = formed.included.len(),
        dropped = dropped.len(),
        slot_ms = agreed.slot_ms,
        ballot = agreed.ballot,
        rounds = agreed.rounds,
        id = %formed.block.id,
        "block appended"
    );
    let txs = formed.included.len();
    Ok(Formed::Appended {
        block: appended_block(&archive, formed.included, dropped),
        txs,
        took: started.elapsed(),
    })
}

/// Fetches, verifies and appends the blocks after `tip`, reporting each to the node task.
/// `Ok(Err)` when no block could be fetched; `Err` when an append failed (fatal).
async fn catch_up(
    shared: &Arc<Shared>,
    tip: Tip,
    to_node: &mpsc::Sender<Input>,
) -> Result<Result<(), String>, NodeError> {
    let from = {
        let ledger = shared.ledger.clone();
        blocking(move || ledger.last_block()).await??
    };
    if from.index != tip.index || from.id.0 != tip.id {
        return Ok(Err(format!(
            "the ledger's last block is {} but the node core is at {}",
            from.index, tip.index
        )));
    }
    let (blocks, source) = match catchup::fetch_blocks(shared, &from).await {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    let from_archive = matches!(source, catchup::Source::Archive(_));
    let mut prev = from;
    let mut appended = 0;
    for a in blocks {
        if a.block.index != prev.index + 1 || a.block.parent_id != prev.id {
            continue;
        }
        append(shared, a.clone()).await?;
        appended += 1;
        prev = a.block.clone();
        let block = appended_block(&a, Vec::new(), Vec::new());
        if to_node
            .send(Input::CaughtUp {
                block,
                from_archive,
            })
            .await
            .is_err()
        {
            break;
        }
    }
    if appended > 0 {
        tracing::info!(appended, height = prev.index + 1, %source, "caught up");
    }
    Ok(Ok(()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::scp_state;
    use mcnode_node_core::TxSet;
    use mcnode_scp::{Msg, NodeId, Nominate, QuorumSet, Topic};

    #[test]
    fn scp_state_format_1_golden() {
        let a = NodeId::new("a:1").unwrap();
        let msg = Msg {
            sender: a.clone(),
            slot: 7,
            quorum_set: QuorumSet::flat(1, vec![a]).unwrap(),
            topic: Topic::Nominate(Nominate {
                voted: vec![TxSet::new(vec![[1; 32]])],
                accepted: vec![],
            }),
        };
        let bytes = scp_state::encode(&[9; 32], std::slice::from_ref(&msg));
        // magic, format 1, parent id, then one frame of 49 bytes: envelope version 1,
        // sender "a:1", slot 7, quorum set (threshold 1, members ["a:1"], no inner sets),
        // Nominate, voted [[1; 32]], accepted [].
        let golden = format!(
            "{}01{}{}{}{}00",
            hex::encode(b"mcnode-scp-state"),
            "09".repeat(32),
            "00000031",
            "0103613a310701010361 3a3100000101".replace(' ', ""),
            "01".repeat(32),
        );
        assert_eq!(hex::encode(&bytes), golden);
        let (prev, msgs) = scp_state::decode(&bytes).unwrap();
        assert_eq!(prev, [9; 32]);
        assert_eq!(msgs, vec![msg]);
        assert!(scp_state::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(scp_state::decode(b"nope").is_err());
    }
}
