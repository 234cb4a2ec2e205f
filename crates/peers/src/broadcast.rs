//! Broadcast to peers: per peer, one queue and worker for consensus envelopes and another
//! for relayed transactions, so that consensus traffic never waits behind transactions.
//!
//! * **Envelopes** are coalesced: the queue keeps the latest envelope per author, slot and
//!   kind (nomination or ballot) — SCP statements supersede earlier ones of the same kind,
//!   so a peer that is slow or away receives the newest state, not a backlog. At most
//!   [`MSG_QUEUE_LEN`] keys are queued (the oldest key is dropped beyond it, counted);
//!   an envelope older than [`MSG_MAX_AGE`] is dropped rather than sent late (SCP re-sends
//!   its latest messages every few seconds anyway).
//! * **Transactions** wait in a FIFO bounded by [`TX_QUEUE_BYTES`] per peer (the oldest
//!   batch is dropped beyond it, counted) and are retried while the peer is unreachable,
//!   without an age limit: a peer that comes back gets what it missed.
//!
//! A worker retries an unreachable peer with exponential backoff from [`BACKOFF_MIN`] to
//! [`BACKOFF_MAX`]; a refusal (the peer answered with an error) drops the item.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mcnode_enclave::LocallyEncryptedTx;
use tokio::sync::Notify;

use crate::{client::PeerClient, ResponderId, SignedConsensusMsg};

/// Envelope keys queued per peer.
pub const MSG_QUEUE_LEN: usize = 1024;
/// Oldest envelope still worth sending.
pub const MSG_MAX_AGE: Duration = Duration::from_secs(30);
/// Bytes of relayed transactions queued per peer.
pub const TX_QUEUE_BYTES: usize = 64 << 20;
/// First retry delay.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What identifies an envelope for coalescing: a later envelope with the same key
/// replaces a queued one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MsgKey {
    /// The envelope's author.
    pub author: ResponderId,
    /// The slot.
    pub slot: u64,
    /// Ballot statement (true) or nomination (false).
    pub ballot: bool,
}

/// What the node knows of one peer's health.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerHealth {
    /// The last call succeeded.
    pub connected: bool,
    /// Seconds since the last successful call, if any.
    pub last_ok_secs_ago: Option<u64>,
    /// Failed calls in a row.
    pub consecutive_failures: u64,
    /// Items sent.
    pub sent: u64,
    /// Envelopes dropped (queue full, too old, or refused).
    pub dropped: u64,
    /// Envelopes replaced in the queue by a newer one of the same author, slot and kind.
    pub coalesced: u64,
    /// Relayed transaction batches dropped (queue full or refused).
    pub tx_batches_dropped: u64,
    /// The last error, if the last call failed.
    pub last_error: Option<String>,
    /// Envelopes waiting in its queue.
    pub queued: usize,
    /// Transaction batches waiting in its queue.
    pub queued_tx_batches: usize,
}

#[derive(Debug, Default)]
struct HealthState {
    last_ok: Option<Instant>,
    health: PeerHealth,
}

impl HealthState {
    fn succeeded(&mut self) {
        self.last_ok = Some(Instant::now());
        self.health.connected = true;
        self.health.consecutive_failures = 0;
        self.health.last_error = None;
        self.health.sent += 1;
    }

    fn failed(&mut self, e: &crate::PeerError) {
        self.health.connected = false;
        self.health.consecutive_failures += 1;
        self.health.last_error = Some(e.to_string());
    }
}

#[derive(Debug, Default)]
struct MsgQueue {
    items: HashMap<MsgKey, (Instant, Arc<SignedConsensusMsg>)>,
    order: VecDeque<MsgKey>,
}

#[derive(Debug, Default)]
struct TxQueue {
    items: VecDeque<Arc<Vec<LocallyEncryptedTx>>>,
    bytes: usize,
}

fn batch_bytes(txs: &[LocallyEncryptedTx]) -> usize {
    txs.iter().map(|t| t.0.len()).sum()
}

#[derive(Debug, Default)]
struct Queues {
    msgs: Mutex<MsgQueue>,
    msg_ready: Notify,
    txs: Mutex<TxQueue>,
    tx_ready: Notify,
    state: Mutex<HealthState>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Queues {
    fn push_msg(&self, key: MsgKey, msg: Arc<SignedConsensusMsg>) {
        let mut q = lock(&self.msgs);
        let now = Instant::now();
        if let Some(slot) = q.items.get_mut(&key) {
            *slot = (now, msg);
            drop(q);
            lock(&self.state).health.coalesced += 1;
        } else {
            let mut dropped = 0;
            while q.order.len() >= MSG_QUEUE_LEN {
                if let Some(old) = q.order.pop_front() {
                    q.items.remove(&old);
                    dropped += 1;
                }
            }
            q.order.push_back(key.clone());
            q.items.insert(key, (now, msg));
            drop(q);
            if dropped > 0 {
                lock(&self.state).health.dropped += dropped;
            }
        }
        self.msg_ready.notify_one();
    }

    fn pop_msg(&self) -> Option<(MsgKey, Instant, Arc<SignedConsensusMsg>)> {
        let mut q = lock(&self.msgs);
        let key = q.order.pop_front()?;
        let (at, msg) = q.items.remove(&key)?;
        Some((key, at, msg))
    }

    /// True when a newer envelope with `key` was queued meanwhile.
    fn superseded(&self, key: &MsgKey) -> bool {
        lock(&self.msgs).items.contains_key(key)
    }

    fn push_txs(&self, txs: Arc<Vec<LocallyEncryptedTx>>) {
        let mut q = lock(&self.txs);
        q.bytes += batch_bytes(&txs);
        q.items.push_back(txs);
        let mut dropped = 0;
        while q.bytes > TX_QUEUE_BYTES && q.items.len() > 1 {
            if let Some(old) = q.items.pop_front() {
                q.bytes -= batch_bytes(&old);
                dropped += 1;
            }
        }
        drop(q);
        if dropped > 0 {
            lock(&self.state).health.tx_batches_dropped += dropped;
        }
        self.tx_ready.notify_one();
    }

    fn front_txs(&self) -> Option<Arc<Vec<LocallyEncryptedTx>>> {
        lock(&self.txs).items.front().cloned()
    }

    /// Removes `txs` from the front if it is still there (it may have been dropped).
    fn done_txs(&self, txs: &Arc<Vec<LocallyEncryptedTx>>) {
        let mut q = lock(&self.txs);
        if q.items.front().is_some_and(|f| Arc::ptr_eq(f, txs)) {
            q.items.pop_front();
            q.bytes -= batch_bytes(txs);
        }
    }
}

struct Worker {
    responder_id: ResponderId,
    queues: Arc<Queues>,
}

/// Sends to every broadcast peer.
pub struct Broadcaster {
    workers: Vec<Worker>,
}

impl std::fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcaster")
            .field("peers", &self.workers.len())
            .finish()
    }
}

impl Broadcaster {
    /// Starts two workers per client (envelopes, transactions) on the current tokio
    /// runtime.
    pub fn start(clients: Vec<Arc<PeerClient>>) -> Self {
        let workers = clients
            .into_iter()
            .map(|client| {
                let queues = Arc::new(Queues::default());
                let responder_id = client.peer().responder_id.clone();
                tokio::spawn(run_msg_worker(client.clone(), queues.clone()));
                tokio::spawn(run_tx_worker(client, queues.clone()));
                Worker {
                    responder_id,
                    queues,
                }
            })
            .collect();
        Self { workers }
    }

    /// Queues a consensus envelope for every peer but `except` (its sender), replacing a
    /// queued one with the same key.
    pub fn send_msg(
        &self,
        msg: Arc<SignedConsensusMsg>,
        key: &MsgKey,
        except: Option<&ResponderId>,
    ) {
        for w in &self.workers {
            if Some(&w.responder_id) != except {
                w.queues.push_msg(key.clone(), msg.clone());
            }
        }
    }

    /// Queues transactions for every peer but `except`.
    pub fn send_txs(&self, txs: Arc<Vec<LocallyEncryptedTx>>, except: Option<&ResponderId>) {
        for w in &self.workers {
            if Some(&w.responder_id) != except {
                w.queues.push_txs(txs.clone());
            }
        }
    }

    /// Each peer's health.
    pub fn health(&self) -> Vec<(ResponderId, PeerHealth)> {
        self.workers
            .iter()
            .map(|w| {
                let s = lock(&w.queues.state);
                let mut h = s.health.clone();
                h.last_ok_secs_ago = s.last_ok.map(|t| t.elapsed().as_secs());
                drop(s);
                h.queued = lock(&w.queues.msgs).order.len();
                h.queued_tx_batches = lock(&w.queues.txs).items.len();
                (w.responder_id.clone(), h)
            })
            .collect()
    }
}

/// How one failed call is handled: retry after a backoff (the peer is unreachable) or
/// drop the item (the peer answered with an error).
fn note_failure(state: &Mutex<HealthState>, e: &crate::PeerError) -> bool {
    lock(state).failed(e);
    let unreachable = e.is_unreachable();
    if !unreachable {
        // A relayed envelope whose author has not attested to that peer yet is refused
        // too: expected for a moment after a restart.
        if e.is_precondition() {
            tracing::debug!(error = %e, "peer refused a message; dropped");
        } else {
            tracing::warn!(error = %e, "peer refused a message; dropped");
        }
    } else {
        tracing::debug!(error = %e, "peer unreachable; retrying");
    }
    unreachable
}

async fn run_msg_worker(client: Arc<PeerClient>, queues: Arc<Queues>) {
    let mut backoff = BACKOFF_MIN;
    // Attest to the peer at once; until it works, retry with backoff (or until there is
    // something to send, which retries on its own).
    loop {
        match client.attested_channel().await {
            Ok(_) => {
                lock(&queues.state).succeeded();
                break;
            }
            Err(e) => {
                lock(&queues.state).failed(&e);
                if e.is_unreachable() {
                    tracing::debug!(error = %e, "peer not reachable yet");
                } else {
                    tracing::warn!(error = %e, "cannot attest to a peer");
                }
                if !lock(&queues.msgs).order.is_empty() {
                    break;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
    backoff = BACKOFF_MIN;
    loop {
        let Some((key, queued_at, msg)) = queues.pop_msg() else {
            queues.msg_ready.notified().await;
            continue;
        };
        loop {
            if queued_at.elapsed() > MSG_MAX_AGE {
                lock(&queues.state).health.dropped += 1;
                break;
            }
            match client.send_consensus_msg(&msg).await {
                Ok(()) => {
                    lock(&queues.state).succeeded();
                    backoff = BACKOFF_MIN;
                    break;
                }
                Err(e) => {
                    if !note_failure(&queues.state, &e) {
                        lock(&queues.state).health.dropped += 1;
                        break;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    if queues.superseded(&key) {
                        // A newer statement of the same kind is queued: send that instead.
                        lock(&queues.state).health.coalesced += 1;
                        break;
                    }
                }
            }
        }
    }
}

async fn run_tx_worker(client: Arc<PeerClient>, queues: Arc<Queues>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let Some(txs) = queues.front_txs() else {
            queues.tx_ready.notified().await;
            continue;
        };
        match client.propose_txs(&txs).await {
            Ok(r) => {
                lock(&queues.state).succeeded();
                backoff = BACKOFF_MIN;
                if r.result != 0 {
                    tracing::debug!(peer = %client.peer().responder_id, code = r.result,
                        message = %r.message, "peer did not take relayed transactions");
                }
                queues.done_txs(&txs);
            }
            Err(e) => {
                if note_failure(&queues.state, &e) {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                } else {
                    lock(&queues.state).health.tx_batches_dropped += 1;
                    queues.done_txs(&txs);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mcnode_crypto::Ed25519Signature;

    fn env(n: u8) -> Arc<SignedConsensusMsg> {
        Arc::new(SignedConsensusMsg {
            scp_msg: vec![n],
            prev_block_id: [0; 32],
            from: "a:1".parse().unwrap(),
            signature: Ed25519Signature([0; 64]),
        })
    }

    fn key(slot: u64, ballot: bool) -> MsgKey {
        MsgKey {
            author: "a:1".parse().unwrap(),
            slot,
            ballot,
        }
    }

    #[test]
    fn a_newer_envelope_replaces_the_queued_one_in_place() {
        let q = Queues::default();
        q.push_msg(key(5, false), env(1));
        q.push_msg(key(5, true), env(2));
        q.push_msg(key(5, false), env(3));
        let (k, _, m) = q.pop_msg().unwrap();
        assert_eq!((k, m.scp_msg.clone()), (key(5, false), vec![3]));
        let (k, _, m) = q.pop_msg().unwrap();
        assert_eq!((k, m.scp_msg.clone()), (key(5, true), vec![2]));
        assert!(q.pop_msg().is_none());
        assert_eq!(lock(&q.state).health.coalesced, 1);
    }

    #[test]
    fn the_message_queue_drops_its_oldest_key_when_full() {
        let q = Queues::default();
        for s in 0..(MSG_QUEUE_LEN as u64 + 3) {
            q.push_msg(key(s, false), env(0));
        }
        assert_eq!(lock(&q.state).health.dropped, 3);
        assert_eq!(q.pop_msg().unwrap().0, key(3, false));
    }

    #[test]
    fn the_tx_queue_is_bounded_by_bytes_and_keeps_the_newest() {
        let q = Queues::default();
        let big = Arc::new(vec![LocallyEncryptedTx(vec![0; TX_QUEUE_BYTES / 2])]);
        q.push_txs(big.clone());
        q.push_txs(Arc::new(vec![LocallyEncryptedTx(vec![
            1;
            TX_QUEUE_BYTES / 2
        ])]));
        q.push_txs(Arc::new(vec![LocallyEncryptedTx(vec![2; 10])]));
        assert_eq!(lock(&q.state).health.tx_batches_dropped, 1);
        let front = q.front_txs().unwrap();
        assert_eq!(front[0].0[0], 1);
        // Finishing a batch that was dropped meanwhile leaves the queue alone.
        q.done_txs(&big);
        assert_eq!(lock(&q.txs).items.len(), 2);
        q.done_txs(&front);
        assert_eq!(lock(&q.txs).items.len(), 1);
    }
}
