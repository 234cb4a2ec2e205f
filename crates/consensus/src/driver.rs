//! The SCP driver: one task that owns the SCP node and is the only writer of the ledger.
//!
//! Slot `n` forms block `n` (the ledger height). The driver nominates the pending
//! transaction hashes, feeds peers' envelopes for the current slot (and the previous one,
//! to help laggards) to SCP, holds envelopes for later slots until the ledger reaches them,
//! fetches unknown transactions from the sender first, and on externalize forms the block
//! in the enclave, signs its metadata and appends it. When peers are ahead for longer than
//! [`BEHIND_GRACE`], it catches up from them (or from the archives).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use mcnode_blockchain::{ArchiveBlock, Block, BlockContents, BlockMetadata, BlockMetadataContents};
use mcnode_enclave::{EnclaveError, FormBlockError, FormBlockInputs, HostLedgerState};
use mcnode_ledger::StateQuery;
use mcnode_peers::SignedConsensusMsg;
use mcnode_scp::{Msg, SlotIndex};
use tokio::sync::mpsc;

use crate::{
    catchup,
    state::{Mode, Shared},
    TxHash, TxSet,
};

/// Held envelopes per future slot.
pub const MAX_HELD_PER_SLOT: usize = 256;
/// How far ahead of the ledger envelopes are held.
pub const MAX_SLOTS_AHEAD: u64 = 8;
/// How long peers may be ahead before the node catches up.
pub const BEHIND_GRACE: Duration = Duration::from_millis(1500);
/// How often peers' heights are probed when nothing else says we are behind.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(3);

/// An opened envelope.
#[derive(Debug)]
pub struct Incoming {
    /// The envelope as received (signature checked).
    pub envelope: SignedConsensusMsg,
    /// Its SCP message.
    pub msg: Msg<TxSet>,
}

/// What reaches the driver.
#[derive(Debug)]
pub enum Event {
    /// A peer's envelope, opened.
    Envelope(Box<Incoming>),
    /// An envelope whose unknown transactions were fetched (or could not be).
    Ready(Box<Incoming>),
    /// Blocks fetched and verified by a catch-up task, and where from (or why none were).
    CaughtUp(Result<(Vec<ArchiveBlock>, catchup::Source), String>),
    /// The highest height a peer reported.
    PeerHeight(u64),
    /// The admin API asks for the current slot's SCP state as JSON.
    DumpScp(tokio::sync::oneshot::Sender<String>),
}

/// Why the driver stopped.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The ledger could not be read or written: the node must stop.
    #[error("ledger: {0}")]
    Ledger(#[from] mcnode_ledger::LedgerError),
    /// The enclave failed in a way that cannot be skipped.
    #[error("enclave: {0}")]
    Enclave(#[from] EnclaveError),
    /// A blocking task panicked.
    #[error("internal: {0}")]
    Join(String),
}

type ScpNode = mcnode_scp::Node<TxSet, crate::value::TxSetPolicy<crate::state::SharedCache>>;

/// The driver's state.
pub struct Driver {
    shared: Arc<Shared>,
    scp: ScpNode,
    rx: mpsc::Receiver<Event>,
    start: Instant,
    slot: SlotIndex,
    last_block: Block,
    held: BTreeMap<SlotIndex, Vec<Incoming>>,
    proposed: Option<TxSet>,
    behind_since: Option<Instant>,
    peer_height: u64,
    catching_up: bool,
    last_probe: Instant,
    /// The slot, phase, ballot counter and nomination round last logged.
    last_view: Option<(SlotIndex, Option<ScpProgress>)>,
}

/// Phase, ballot counter and nomination round of a slot.
type ScpProgress = (mcnode_scp::SlotPhase, u32, u32);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DriverError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DriverError::Join(e.to_string()))
}

impl Driver {
    /// A driver over `shared`, receiving on `rx`.
    pub fn new(
        shared: Arc<Shared>,
        scp: ScpNode,
        rx: mpsc::Receiver<Event>,
    ) -> Result<Self, DriverError> {
        let last_block = shared.ledger.last_block()?;
        Ok(Self {
            slot: last_block.index + 1,
            last_block,
            shared,
            scp,
            rx,
            start: Instant::now(),
            held: BTreeMap::new(),
            proposed: None,
            behind_since: None,
            peer_height: 0,
            catching_up: false,
            last_probe: Instant::now() - PROBE_INTERVAL,
            last_view: None,
        })
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Runs until shutdown or a fatal error.
    pub async fn run(mut self) -> Result<(), DriverError> {
        let mut shutdown = self.shared.shutdown.clone();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let pending = self.shared.pending_notify.clone();
        loop {
            let deadline = self
                .scp
                .next_timeout()
                .map(|t| self.start + Duration::from_millis(t))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                ev = self.rx.recv() => match ev {
                    None => break,
                    Some(ev) => self.on_event(ev).await?,
                },
                () = pending.notified() => self.propose(),
                () = tokio::time::sleep_until(deadline.into()) => {
                    let out = self.scp.process_timeouts(self.now());
                    self.emit(out);
                }
                _ = tick.tick() => self.maintain(),
            }
            self.advance().await?;
            self.publish_scp_view();
        }
        tracing::info!(height = self.slot, "SCP driver stopped");
        Ok(())
    }

    async fn on_event(&mut self, ev: Event) -> Result<(), DriverError> {
        match ev {
            Event::Envelope(inc) => self.on_envelope(*inc, true),
            Event::Ready(inc) => {
                // The fetch may have brought transactions that statements recorded
                // earlier name: re-evaluate the slot before handling the message.
                let out = self.scp.revalidate(self.slot, self.now());
                self.emit(out);
                self.on_envelope(*inc, false);
            }
            Event::PeerHeight(h) => {
                self.peer_height = self.peer_height.max(h);
            }
            Event::DumpScp(reply) => {
                let snapshot = self.scp.snapshot(self.slot);
                let json = serde_json::to_string(&snapshot).unwrap_or_else(|e| {
                    serde_json::json!({ "error": format!("cannot encode the slot: {e}") })
                        .to_string()
                });
                let _ = reply.send(json);
            }
            Event::CaughtUp(result) => {
                self.catching_up = false;
                match result {
                    Ok((blocks, source)) => self.append_caught_up(blocks, &source).await?,
                    Err(e) => tracing::warn!(error = %e, "catch-up failed; will retry"),
                }
                if self.peer_height <= self.slot {
                    self.shared.set_mode_if(Mode::CatchingUp, Mode::Running);
                }
            }
        }
        Ok(())
    }

    fn publish_scp_view(&mut self) {
        let metrics = self.scp.metrics(self.slot);
        let seen = (
            self.slot,
            metrics
                .as_ref()
                .map(|m| (m.phase, m.ballot_counter, m.nomination_round)),
        );
        if self.last_view != Some(seen) {
            self.last_view = Some(seen);
            if let Some(m) = &metrics {
                tracing::debug!(
                    slot = self.slot,
                    phase = ?m.phase,
                    ballot = m.ballot_counter,
                    round = m.nomination_round,
                    "SCP slot state"
                );
            }
        }
        self.shared.set_scp_view(crate::state::ScpView {
            slot: self.slot,
            metrics,
        });
    }

    fn prev_id_of(&self, slot: SlotIndex) -> Option<[u8; 32]> {
        if slot == self.slot {
            return Some(self.last_block.id.0);
        }
        if slot == 0 || slot > self.slot {
            return None;
        }
        self.shared.ledger.block(slot - 1).ok().map(|b| b.id.0)
    }

    fn on_envelope(&mut self, inc: Incoming, fetch: bool) {
        let slot = inc.msg.slot;
        if slot + 1 < self.slot {
            self.shared.metrics.msgs_dropped("old_slot");
            return;
        }
        if slot > self.slot {
            if slot > self.slot + MAX_SLOTS_AHEAD {
                self.shared.metrics.msgs_dropped("too_far_ahead");
                return;
            }
            self.behind_since.get_or_insert_with(Instant::now);
            let held = self.held.entry(slot).or_default();
            if held.len() < MAX_HELD_PER_SLOT {
                held.push(inc);
            } else {
                self.shared.metrics.msgs_dropped("held_full");
            }
            return;
        }
        if self.prev_id_of(slot) != Some(inc.envelope.prev_block_id) {
            self.shared.metrics.msgs_dropped("other_parent");
            return;
        }
        // Only the current slot's transactions are worth fetching: a message about the
        // previous slot names transactions that are in the ledger now (and out of the
        // cache), so fetching them would only refuse them again.
        if fetch && slot == self.slot {
            let unknown: BTreeSet<TxHash> = {
                let cache = self.shared.cache_read();
                inc.msg
                    .values()
                    .into_iter()
                    .flat_map(|v| v.hashes().iter().copied())
                    .filter(|h| !cache.contains(h))
                    .collect()
            };
            if !unknown.is_empty() {
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    crate::fetch::fetch_txs(&shared, &inc.envelope.from, unknown).await;
                    let _ = shared.driver.send(Event::Ready(Box::new(inc))).await;
                });
                return;
            }
        }
        match self.scp.handle_message(&inc.msg, self.now()) {
            Ok(out) => self.emit(out),
            Err(e) => {
                tracing::debug!(from = %inc.envelope.from, error = %e, "SCP refused a message");
                self.shared.metrics.msgs_dropped("scp_refused");
            }
        }
    }

    fn emit(&mut self, out: Vec<Msg<TxSet>>) {
        for msg in out {
            let Some(prev) = self.prev_id_of(msg.slot) else {
                continue;
            };
            let env = match SignedConsensusMsg::sign(
                &msg,
                prev,
                self.shared.responder_id.clone(),
                &self.shared.signer,
            ) {
                Ok(env) => Arc::new(env),
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode our own SCP message");
                    continue;
                }
            };
            if msg.slot == self.slot {
                *self
                    .shared
                    .latest_msg
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some((*env).clone());
            }
            self.shared.broadcaster.send_msg(env, None);
        }
    }

    /// Nominates the pending transactions, once per slot: what arrives later waits for
    /// the next slot. (Proposing again whenever the pending set grows would add a value to
    /// the slot's nomination votes each time, and the messages would grow without bound.)
    fn propose(&mut self) {
        // Maintenance refuses new client transactions but still nominates those accepted
        // before it, so they drain.
        if self.proposed.is_some()
            || self.shared.sync_mode() != Mode::Running
            || self.scp.externalized(self.slot).is_some()
        {
            return;
        }
        let hashes: Vec<TxHash> = {
            let cache = self.shared.cache_read();
            cache
                .pending()
                .copied()
                .take(self.shared.max_block_txs)
                .collect()
        };
        if hashes.is_empty() {
            return;
        }
        let set = TxSet::new(hashes);
        self.proposed = Some(set.clone());
        match self.scp.propose_values(self.slot, vec![set], self.now()) {
            Ok(out) => self.emit(out),
            Err(e) => tracing::debug!(slot = self.slot, error = %e, "nothing to nominate"),
        }
    }

    fn maintain(&mut self) {
        if !self.held.keys().any(|&s| s > self.slot) && self.peer_height <= self.slot {
            self.behind_since = None;
        } else if self.peer_height > self.slot {
            self.behind_since.get_or_insert_with(Instant::now);
        }
        let behind = self
            .behind_since
            .is_some_and(|t| t.elapsed() >= BEHIND_GRACE);
        if behind && !self.catching_up {
            self.catching_up = true;
            self.shared.set_mode_if(Mode::Running, Mode::CatchingUp);
            let shared = self.shared.clone();
            let from = self.last_block.clone();
            tokio::spawn(async move {
                let result = catchup::fetch_blocks(&shared, &from).await;
                let _ = shared.driver.send(Event::CaughtUp(result)).await;
            });
        } else if !self.catching_up && self.last_probe.elapsed() >= PROBE_INTERVAL {
            self.last_probe = Instant::now();
            let shared = self.shared.clone();
            tokio::spawn(async move {
                if let Some(h) = catchup::probe_peer_height(&shared).await {
                    let _ = shared.driver.send(Event::PeerHeight(h)).await;
                }
            });
        }
        // A proposal may have been refused while catching up, or a value may have
        // been dropped: try again with what is pending.
        if self.proposed.is_none() {
            self.propose();
        }
    }

    /// Forms and appends every externalized slot in turn.
    async fn advance(&mut self) -> Result<(), DriverError> {
        while let Some(value) = self.scp.externalized(self.slot).cloned() {
            match self.form_and_append(&value).await? {
                true => {}
                false => break,
            }
        }
        Ok(())
    }

    async fn form_and_append(&mut self, value: &TxSet) -> Result<bool, DriverError> {
        let started = Instant::now();
        let contexts: Vec<_> = {
            let cache = self.shared.cache_read();
            value
                .hashes()
                .iter()
                .filter_map(|h| cache.get(h).cloned())
                .collect()
        };
        if contexts.len() != value.len() {
            tracing::warn!(
                slot = self.slot,
                missing = value.len() - contexts.len(),
                "externalized transactions missing from the cache"
            );
        }
        let mut query = StateQuery::default();
        for c in &contexts {
            query.proof_indices.extend(&c.highest_indices);
            query.key_images.extend(&c.key_images);
            query.output_keys.extend(&c.output_public_keys);
        }
        query
            .proof_indices
            .push(self.last_block.cumulative_txo_count.saturating_sub(1));
        query.proof_indices.sort_unstable();
        query.proof_indices.dedup();
        let ledger = self.shared.ledger.clone();
        let answer = blocking(move || ledger.state_for(&query)).await??;
        if answer.last_block != self.last_block {
            tracing::error!("ledger changed under the driver");
            return Ok(false);
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
        let enclave = self.shared.enclave.clone();
        let formed = match blocking(move || enclave.form_block(inputs)).await? {
            Ok(f) => f,
            Err(EnclaveError::FormBlock(FormBlockError::NoValidTransactions)) => {
                tracing::error!(
                    slot = self.slot,
                    "every externalized transaction is invalid now; waiting for catch-up"
                );
                self.shared
                    .cache_write()
                    .remove_included(value.hashes().iter());
                self.shared.metrics.consensus_error("no_valid_transactions");
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let metadata = BlockMetadata::sign(
            BlockMetadataContents {
                block_id: formed.block.id,
                quorum_set: self.shared.quorum_record.clone(),
                attestation_evidence: self.shared.enclave.evidence().to_bytes(),
                responder_id: self.shared.responder_id.to_string(),
            },
            &self.shared.signer,
        );
        let ledger = self.shared.ledger.clone();
        let (block, contents, signature) = (
            formed.block.clone(),
            formed.contents.clone(),
            formed.signature.clone(),
        );
        blocking(move || ledger.append_block(&block, &contents, Some(&signature), Some(&metadata)))
            .await??;
        let dropped: Vec<TxHash> = formed.dropped.iter().filter_map(|(h, _)| *h).collect();
        self.shared
            .metrics
            .block_appended(formed.included.len(), started.elapsed());
        tracing::info!(
            index = formed.block.index,
            txs = formed.included.len(),
            dropped = dropped.len(),
            id = %formed.block.id,
            "block appended"
        );
        self.shared.committed(&formed.included, formed.block.index);
        self.after_append(
            &formed.block,
            &formed.contents,
            formed.included.iter().chain(&dropped),
        );
        Ok(true)
    }

    fn after_append<'a>(
        &mut self,
        block: &Block,
        contents: &BlockContents,
        done: impl Iterator<Item = &'a TxHash>,
    ) {
        {
            let mut cache = self.shared.cache_write();
            cache.remove_included(done);
            cache.remove_conflicting(&contents.key_images, &contents.outputs);
            cache.evict_expired(block.index + 1);
        }
        self.last_block = block.clone();
        self.slot = block.index + 1;
        self.proposed = None;
        self.scp.purge_slots_below(self.slot - 1);
        self.held = self.held.split_off(&self.slot);
        if let Some(ready) = self.held.remove(&self.slot) {
            for inc in ready {
                self.on_envelope(inc, true);
            }
        }
        if !self.held.keys().any(|&s| s > self.slot) {
            self.behind_since = None;
        }
        self.propose();
    }

    async fn append_caught_up(
        &mut self,
        blocks: Vec<ArchiveBlock>,
        source: &catchup::Source,
    ) -> Result<(), DriverError> {
        let mut appended = 0;
        for a in blocks {
            if a.block.index != self.slot || a.block.parent_id != self.last_block.id {
                continue;
            }
            let ledger = self.shared.ledger.clone();
            let a2 = a.clone();
            blocking(move || {
                ledger.append_block(
                    &a2.block,
                    &a2.contents,
                    a2.signature.as_ref(),
                    a2.metadata.as_ref(),
                )
            })
            .await??;
            appended += 1;
            self.shared
                .committed_block(a.block.index, matches!(source, catchup::Source::Archive(_)));
            self.after_append(&a.block, &a.contents, std::iter::empty());
        }
        if appended > 0 {
            tracing::info!(appended, height = self.slot, %source, "caught up");
        }
        Ok(())
    }
}
