//! Which missing transactions to fetch, from whom, and when to try again.
//!
//! An SCP message names transactions by hash; a node that does not hold one asks a peer
//! for it (`GetTxs`). The [`Fetcher`] keeps one entry per missing hash with the peers to
//! ask, in order: the ones that named it first (they validated it, so they hold it), then
//! every other peer. At most one request per hash is in flight; a request carries at most
//! [`FetchConfig::max_per_request`] hashes (the shared wire limit) and a peer has at most
//! [`FetchConfig::max_in_flight_per_peer`] requests open. A peer that lacks a hash, fails
//! or does not answer within [`FetchConfig::timeout_ms`] is skipped for that hash; after a
//! full round over the peers the next round waits, doubling from
//! [`FetchConfig::backoff_min_ms`] to [`FetchConfig::backoff_max_ms`]. A hash is given up
//! after [`FetchConfig::max_attempts`] tries, or as soon as the slot that needed it is
//! appended. At most [`FetchConfig::max_wanted`] hashes are wanted at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::types::{FetchId, Millis, NodeId, SlotIndex, TxHash};

/// Answers in a row that may defer a hash before the peer counts as failing for it.
pub const MAX_DEFERRALS: u32 = 3;

/// Limits and timing of fetching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchConfig {
    /// Most hashes in one request (both sides use the same constant).
    pub max_per_request: usize,
    /// Most requests open to one peer.
    pub max_in_flight_per_peer: usize,
    /// A request unanswered this long counts as failed, ms.
    pub timeout_ms: u64,
    /// First wait between rounds over the peers, ms.
    pub backoff_min_ms: u64,
    /// Longest wait between rounds, ms.
    pub backoff_max_ms: u64,
    /// Tries per hash before giving up.
    pub max_attempts: u32,
    /// Most hashes wanted at once.
    pub max_wanted: usize,
    /// How long a received transaction may wait for its validation before it is asked
    /// for again, ms.
    pub validation_timeout_ms: u64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            max_per_request: 256,
            max_in_flight_per_peer: 4,
            timeout_ms: 2_000,
            backoff_min_ms: 100,
            backoff_max_ms: 5_000,
            max_attempts: 40,
            max_wanted: 20_000,
            validation_timeout_ms: 30_000,
        }
    }
}

#[derive(Debug)]
struct Want {
    /// Peers that named the hash, in the order heard.
    named_by: Vec<NodeId>,
    /// Tries so far.
    attempts: u32,
    /// Rounds completed over all peers.
    rounds: u32,
    /// Answers in a row that deferred it (a peer that always defers is skipped).
    deferrals: u32,
    /// Peers tried in this round.
    tried: BTreeSet<NodeId>,
    in_flight: Option<FetchId>,
    retry_at: Millis,
    /// The highest slot whose messages named it; forgotten once that slot is appended.
    slot: SlotIndex,
}

#[derive(Debug)]
struct Request {
    peer: NodeId,
    hashes: Vec<TxHash>,
    deadline: Millis,
}

/// A request for the shell to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    /// Its id (the answer must carry it).
    pub id: FetchId,
    /// Whom to ask.
    pub peer: NodeId,
    /// What to ask for.
    pub hashes: Vec<TxHash>,
}

/// Counters of the fetcher.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Requests made.
    pub requests: u64,
    /// Requests that failed or timed out.
    pub failures: u64,
    /// Hashes a peer said it lacks.
    pub lacking: u64,
    /// Hashes given up after `max_attempts`.
    pub gave_up: u64,
    /// Hashes not wanted because `max_wanted` was reached.
    pub over_limit: u64,
}

/// The fetch state machine.
#[derive(Debug)]
pub struct Fetcher {
    cfg: FetchConfig,
    peers: Vec<NodeId>,
    wanted: BTreeMap<TxHash, Want>,
    requests: BTreeMap<FetchId, Request>,
    next_id: FetchId,
    stats: FetchStats,
    /// When [`Fetcher::poll`] last ran: a hash due by then but not asked for waits for a
    /// request to finish (its peers are at their in-flight limit), not for a timer.
    last_poll: Option<Millis>,
}

impl Fetcher {
    /// A fetcher that may ask any of `peers`.
    pub fn new(cfg: FetchConfig, peers: Vec<NodeId>) -> Self {
        Self {
            cfg,
            peers,
            wanted: BTreeMap::new(),
            requests: BTreeMap::new(),
            next_id: 1,
            stats: FetchStats::default(),
            last_poll: None,
        }
    }

    /// Hashes wanted now.
    pub fn len(&self) -> usize {
        self.wanted.len()
    }

    /// True when nothing is wanted.
    pub fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }

    /// Requests open.
    pub fn in_flight(&self) -> usize {
        self.requests.len()
    }

    /// The counters.
    pub fn stats(&self) -> FetchStats {
        self.stats
    }

    /// True when every peer was asked for `hash` at least once (or it is not wanted).
    pub fn tried_everyone(&self, hash: &TxHash) -> bool {
        self.wanted.get(hash).is_none_or(|w| w.rounds > 0)
    }

    /// True when `hash` is wanted.
    pub fn is_wanted(&self, hash: &TxHash) -> bool {
        self.wanted.contains_key(hash)
    }

    /// Notes that `hash` is needed for `slot`, named by `source` (a peer that holds it),
    /// if known.
    pub fn want(&mut self, hash: TxHash, source: Option<&NodeId>, slot: SlotIndex, now: Millis) {
        let len = self.wanted.len();
        let max = self.cfg.max_wanted;
        let entry = match self.wanted.get_mut(&hash) {
            Some(w) => w,
            None if len >= max => {
                self.stats.over_limit += 1;
                return;
            }
            None => self.wanted.entry(hash).or_insert(Want {
                named_by: Vec::new(),
                attempts: 0,
                rounds: 0,
                deferrals: 0,
                tried: BTreeSet::new(),
                in_flight: None,
                retry_at: now,
                slot,
            }),
        };
        entry.slot = entry.slot.max(slot);
        if let Some(s) = source {
            if !entry.named_by.contains(s) {
                entry.named_by.push(s.clone());
                // A new source is worth a try at once.
                if entry.in_flight.is_none() && !entry.tried.contains(s) {
                    entry.retry_at = entry.retry_at.min(now);
                }
            }
        }
    }

    /// Forgets `hash` (it arrived and was decided on).
    pub fn resolved(&mut self, hash: &TxHash) {
        self.wanted.remove(hash);
    }

    /// Forgets every hash only slots below `slot` needed.
    pub fn forget_below(&mut self, slot: SlotIndex) {
        self.wanted.retain(|_, w| w.slot >= slot);
    }

    fn next_peer(&self, w: &Want) -> Option<NodeId> {
        w.named_by
            .iter()
            .chain(self.peers.iter())
            .find(|p| !w.tried.contains(*p))
            .cloned()
    }

    fn backoff(&self, rounds: u32) -> u64 {
        let shift = rounds.saturating_sub(1).min(20);
        self.cfg
            .backoff_min_ms
            .saturating_mul(1u64 << shift)
            .min(self.cfg.backoff_max_ms)
    }

    /// One hash's try failed at its current peer: move on, and wait once every peer was
    /// tried in this round.
    fn failed_once(&mut self, hash: &TxHash, peer: &NodeId, now: Millis) {
        let cfg_attempts = self.cfg.max_attempts;
        let Some(w) = self.wanted.get_mut(hash) else {
            return;
        };
        w.in_flight = None;
        w.attempts += 1;
        w.tried.insert(peer.clone());
        if w.attempts >= cfg_attempts {
            self.wanted.remove(hash);
            self.stats.gave_up += 1;
            return;
        }
        let exhausted = w
            .named_by
            .iter()
            .chain(self.peers.iter())
            .all(|p| w.tried.contains(p));
        if exhausted {
            w.rounds += 1;
            w.tried.clear();
            let rounds = w.rounds;
            let wait = self.backoff(rounds);
            if let Some(w) = self.wanted.get_mut(hash) {
                w.retry_at = now.saturating_add(wait);
            }
        } else {
            w.retry_at = now;
        }
    }

    /// The requests to make now (expiring those past their deadline first).
    pub fn poll(&mut self, now: Millis) -> Vec<FetchRequest> {
        self.last_poll = Some(now);
        let expired: Vec<FetchId> = self
            .requests
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.failed(id, now);
        }
        let mut open: BTreeMap<NodeId, usize> = BTreeMap::new();
        for r in self.requests.values() {
            *open.entry(r.peer.clone()).or_default() += 1;
        }
        let mut batches: BTreeMap<NodeId, Vec<TxHash>> = BTreeMap::new();
        let ready: Vec<(TxHash, NodeId)> = self
            .wanted
            .iter()
            .filter(|(_, w)| w.in_flight.is_none() && w.retry_at <= now)
            .filter_map(|(h, w)| self.next_peer(w).map(|p| (*h, p)))
            .collect();
        for (hash, peer) in ready {
            batches.entry(peer).or_default().push(hash);
        }
        let mut out = Vec::new();
        for (peer, hashes) in batches {
            for chunk in hashes.chunks(self.cfg.max_per_request.max(1)) {
                let n = open.entry(peer.clone()).or_default();
                if *n >= self.cfg.max_in_flight_per_peer {
                    break;
                }
                *n += 1;
                let id = self.next_id;
                self.next_id += 1;
                for h in chunk {
                    if let Some(w) = self.wanted.get_mut(h) {
                        w.in_flight = Some(id);
                    }
                }
                self.requests.insert(
                    id,
                    Request {
                        peer: peer.clone(),
                        hashes: chunk.to_vec(),
                        deadline: now.saturating_add(self.cfg.timeout_ms),
                    },
                );
                self.stats.requests += 1;
                out.push(FetchRequest {
                    id,
                    peer: peer.clone(),
                    hashes: chunk.to_vec(),
                });
            }
        }
        out
    }

    /// The answer to request `id`: `received` came (and go to validation), `lacking` the
    /// peer does not hold, `deferred` it holds but did not fit in the answer (asked again
    /// at once, from the same peer).
    pub fn answered(
        &mut self,
        id: FetchId,
        received: &[TxHash],
        lacking: &[TxHash],
        deferred: &[TxHash],
        now: Millis,
    ) {
        let Some(req) = self.requests.remove(&id) else {
            return;
        };
        let validation_timeout = self.cfg.validation_timeout_ms;
        for h in received {
            if let Some(w) = self.wanted.get_mut(h) {
                if w.in_flight == Some(id) {
                    w.in_flight = None;
                    // Validation decides; if it never does, ask again later.
                    w.retry_at = now.saturating_add(validation_timeout);
                }
            }
        }
        let mut deferred_too_often = Vec::new();
        for h in deferred {
            if let Some(w) = self.wanted.get_mut(h) {
                if w.in_flight == Some(id) {
                    w.in_flight = None;
                    w.retry_at = now;
                    w.deferrals += 1;
                    if w.deferrals > MAX_DEFERRALS {
                        // An honest peer sends a full answer each time: this one keeps
                        // saying "later". Count it as a failure, so others are asked.
                        w.deferrals = 0;
                        deferred_too_often.push(*h);
                    }
                }
            }
        }
        for h in deferred_too_often {
            self.failed_once(&h, &req.peer, now);
        }
        let lacking: BTreeSet<&TxHash> = lacking.iter().collect();
        let answered: BTreeSet<&TxHash> = received.iter().chain(deferred).collect();
        for h in &req.hashes {
            if lacking.contains(h) || !answered.contains(h) {
                let in_this = self.wanted.get(h).is_some_and(|w| w.in_flight == Some(id));
                if in_this {
                    self.stats.lacking += 1;
                    self.failed_once(h, &req.peer, now);
                }
            }
        }
    }

    /// Request `id` failed (the peer is unreachable, refused, or the call timed out).
    pub fn failed(&mut self, id: FetchId, now: Millis) {
        let Some(req) = self.requests.remove(&id) else {
            return;
        };
        self.stats.failures += 1;
        for h in &req.hashes {
            if self.wanted.get(h).is_some_and(|w| w.in_flight == Some(id)) {
                self.failed_once(h, &req.peer, now);
            }
        }
    }

    /// When [`Fetcher::poll`] next has something to do.
    pub fn next_wakeup(&self) -> Option<Millis> {
        let retry = self
            .wanted
            .values()
            .filter(|w| w.in_flight.is_none())
            .map(|w| w.retry_at)
            .filter(|t| self.last_poll.is_none_or(|p| *t > p))
            .min();
        let deadline = self.requests.values().map(|r| r.deadline).min();
        match (retry, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn h(n: u8) -> TxHash {
        [n; 32]
    }

    fn fetcher() -> Fetcher {
        Fetcher::new(
            FetchConfig {
                max_per_request: 2,
                ..FetchConfig::default()
            },
            vec![id("a:1"), id("b:1"), id("c:1")],
        )
    }

    #[test]
    fn asks_who_named_it_first_then_the_others_then_waits() {
        let mut f = fetcher();
        f.want(h(1), Some(&id("b:1")), 5, 0);
        let r = f.poll(0);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].peer, id("b:1"));
        // Nothing more while it is in flight.
        assert!(f.poll(0).is_empty());
        f.answered(r[0].id, &[], &[h(1)], &[], 10);
        let r = f.poll(10);
        assert_eq!(r[0].peer, id("a:1"));
        f.failed(r[0].id, 20);
        let r = f.poll(20);
        assert_eq!(r[0].peer, id("c:1"));
        f.answered(r[0].id, &[], &[h(1)], &[], 30);
        // Every peer tried: the next round waits for the backoff.
        assert!(f.poll(30).is_empty());
        assert_eq!(f.next_wakeup(), Some(130));
        let r = f.poll(130);
        assert_eq!(r[0].peer, id("b:1"));
        f.answered(r[0].id, &[h(1)], &[], &[], 140);
        f.resolved(&h(1));
        assert!(f.is_empty());
    }

    #[test]
    fn chunks_by_the_wire_limit_and_bounds_requests_per_peer() {
        let mut f = fetcher();
        for n in 0..20 {
            f.want(h(n), Some(&id("a:1")), 5, 0);
        }
        let r = f.poll(0);
        // 4 requests of 2 hashes to a:1; the rest wait for one to finish.
        assert_eq!(r.len(), 4);
        assert!(r.iter().all(|x| x.peer == id("a:1") && x.hashes.len() == 2));
        f.answered(r[0].id, &r[0].hashes.clone(), &[], &[], 1);
        assert_eq!(f.poll(1).len(), 1);
    }

    #[test]
    fn deferred_hashes_are_asked_again_and_timeouts_fail_over() {
        let mut f = fetcher();
        f.want(h(1), Some(&id("a:1")), 5, 0);
        f.want(h(2), Some(&id("a:1")), 5, 0);
        let r = f.poll(0);
        f.answered(r[0].id, &[h(1)], &[], &[h(2)], 5);
        let r = f.poll(5);
        assert_eq!(r[0].hashes, vec![h(2)]);
        assert_eq!(r[0].peer, id("a:1"));
        // No answer: after the timeout the next peer is asked.
        let r = f.poll(5 + 2_000);
        assert_eq!(r[0].peer, id("b:1"));
        assert_eq!(f.stats().failures, 1);
    }

    #[test]
    fn a_peer_that_always_defers_is_skipped() {
        let mut f = fetcher();
        f.want(h(1), Some(&id("a:1")), 5, 0);
        for _ in 0..=MAX_DEFERRALS {
            let r = f.poll(0);
            assert_eq!(r[0].peer, id("a:1"));
            f.answered(r[0].id, &[], &[], &[h(1)], 0);
        }
        assert_eq!(f.poll(0)[0].peer, id("b:1"));
    }

    #[test]
    fn gives_up_after_max_attempts_and_forgets_old_slots() {
        let mut f = Fetcher::new(
            FetchConfig {
                max_attempts: 2,
                ..FetchConfig::default()
            },
            vec![id("a:1")],
        );
        f.want(h(1), None, 5, 0);
        f.want(h(2), None, 3, 0);
        let mut now = 0;
        for _ in 0..2 {
            now = f.next_wakeup().unwrap().max(now);
            for r in f.poll(now) {
                f.failed(r.id, now);
            }
            f.forget_below(4);
        }
        assert!(f.is_empty());
        assert_eq!(f.stats().gave_up, 1);
    }
}
