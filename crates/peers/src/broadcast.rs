//! Broadcast to peers: one worker task per peer, each with a bounded queue, retrying with
//! exponential backoff while the peer is unreachable.
//!
//! Limits: [`QUEUE_LEN`] items per peer (a full queue drops the new item and counts it;
//! SCP re-sends its latest messages every few seconds anyway); items older than
//! [`MAX_AGE`] are dropped instead of sent late; backoff doubles from [`BACKOFF_MIN`] to
//! [`BACKOFF_MAX`].

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mcnode_enclave::LocallyEncryptedTx;
use tokio::sync::mpsc;

use crate::{client::PeerClient, ResponderId, SignedConsensusMsg};

/// Items queued per peer.
pub const QUEUE_LEN: usize = 4096;
/// Oldest item still worth sending.
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// First retry delay.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Something to send to a peer.
#[derive(Clone, Debug)]
pub enum Outgoing {
    /// A consensus envelope.
    Msg(Arc<SignedConsensusMsg>),
    /// Transactions to relay.
    Txs(Arc<Vec<LocallyEncryptedTx>>),
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
    /// Items dropped (queue full, too old, or refused).
    pub dropped: u64,
    /// The last error, if the last call failed.
    pub last_error: Option<String>,
    /// Items waiting in its queue.
    pub queued: usize,
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
    }

    fn failed(&mut self, e: &crate::PeerError) {
        self.health.connected = false;
        self.health.consecutive_failures += 1;
        self.health.last_error = Some(e.to_string());
    }
}

struct Worker {
    responder_id: ResponderId,
    queue: mpsc::Sender<(Instant, Outgoing)>,
    state: Arc<Mutex<HealthState>>,
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

fn lock(state: &Mutex<HealthState>) -> std::sync::MutexGuard<'_, HealthState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Broadcaster {
    /// Starts one worker per client on the current tokio runtime.
    pub fn start(clients: Vec<Arc<PeerClient>>) -> Self {
        let workers = clients
            .into_iter()
            .map(|client| {
                let (tx, rx) = mpsc::channel(QUEUE_LEN);
                let state = Arc::new(Mutex::new(HealthState::default()));
                let responder_id = client.peer().responder_id.clone();
                tokio::spawn(run_worker(client, rx, state.clone()));
                Worker {
                    responder_id,
                    queue: tx,
                    state,
                }
            })
            .collect();
        Self { workers }
    }

    fn enqueue(&self, item: &Outgoing, except: Option<&ResponderId>) {
        let now = Instant::now();
        for w in &self.workers {
            if Some(&w.responder_id) == except {
                continue;
            }
            if w.queue.try_send((now, item.clone())).is_err() {
                lock(&w.state).health.dropped += 1;
            }
        }
    }

    /// Queues a consensus envelope for every peer but `except` (its sender).
    pub fn send_msg(&self, msg: Arc<SignedConsensusMsg>, except: Option<&ResponderId>) {
        self.enqueue(&Outgoing::Msg(msg), except);
    }

    /// Queues transactions for every peer but `except`.
    pub fn send_txs(&self, txs: Arc<Vec<LocallyEncryptedTx>>, except: Option<&ResponderId>) {
        self.enqueue(&Outgoing::Txs(txs), except);
    }

    /// Each peer's health.
    pub fn health(&self) -> Vec<(ResponderId, PeerHealth)> {
        self.workers
            .iter()
            .map(|w| {
                let s = lock(&w.state);
                let mut h = s.health.clone();
                h.last_ok_secs_ago = s.last_ok.map(|t| t.elapsed().as_secs());
                h.queued = QUEUE_LEN - w.queue.capacity();
                (w.responder_id.clone(), h)
            })
            .collect()
    }
}

async fn send_one(client: &PeerClient, item: &Outgoing) -> Result<(), crate::PeerError> {
    match item {
        Outgoing::Msg(m) => client.send_consensus_msg(m).await,
        Outgoing::Txs(txs) => {
            let r = client.propose_txs(txs).await?;
            if r.result != 0 {
                tracing::debug!(peer = %client.peer().responder_id, code = r.result,
                    message = %r.message, "peer did not take relayed transactions");
            }
            Ok(())
        }
    }
}

async fn run_worker(
    client: Arc<PeerClient>,
    mut rx: mpsc::Receiver<(Instant, Outgoing)>,
    state: Arc<Mutex<HealthState>>,
) {
    let mut backoff = BACKOFF_MIN;
    // Attest to the peer at once; until it works, retry with backoff (or until there is
    // something to send, which retries on its own).
    loop {
        match client.attested_channel().await {
            Ok(_) => {
                lock(&state).succeeded();
                break;
            }
            Err(e) => {
                lock(&state).failed(&e);
                if e.is_unreachable() {
                    tracing::debug!(error = %e, "peer not reachable yet");
                } else {
                    tracing::warn!(error = %e, "cannot attest to a peer");
                }
                if !rx.is_empty() {
                    break;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
    backoff = BACKOFF_MIN;
    while let Some((queued_at, item)) = rx.recv().await {
        loop {
            if queued_at.elapsed() > MAX_AGE {
                lock(&state).health.dropped += 1;
                break;
            }
            match send_one(&client, &item).await {
                Ok(()) => {
                    let mut s = lock(&state);
                    s.succeeded();
                    s.health.sent += 1;
                    backoff = BACKOFF_MIN;
                    break;
                }
                Err(e) => {
                    let unreachable = e.is_unreachable();
                    {
                        let mut s = lock(&state);
                        s.failed(&e);
                        if !unreachable {
                            s.health.dropped += 1;
                        }
                    }
                    if !unreachable {
                        // A relayed envelope whose author has not attested to that peer
                        // yet is refused too: expected for a moment after a restart.
                        if e.is_precondition() {
                            tracing::debug!(error = %e, "peer refused a message; dropped");
                        } else {
                            tracing::warn!(error = %e, "peer refused a message; dropped");
                        }
                        break;
                    }
                    tracing::debug!(error = %e, ?backoff, "peer unreachable; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }
}
