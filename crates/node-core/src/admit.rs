//! Admission of client transactions: how much work a node takes on.
//!
//! Every node validates every transaction, so a network accepts at most what its slowest
//! quorum can validate; past that, whatever a node accepts waits in every node's store
//! and validation queue, blocks grow to the size cap, each slot's value takes longer to
//! validate than a nomination round lasts, and latency grows without bound. So a node
//! admits a client's transaction only while the transactions it already holds or is
//! validating would be committed within [`AdmitConfig::drain_ms`] at the rate the
//! network committed recently ([`Admission::limit`]); above that the client hears
//! `OVER_CAPACITY` (retryable) before anything is validated: the shell asks
//! [`CoreStatus::admits_client_tx`](crate::CoreStatus::admits_client_tx) first, and a
//! transaction it then validated is taken even if the room filled meanwhile (a refusal
//! after the validation would waste the validation, and under overload most arrivals
//! are refused). The floor
//! ([`AdmitConfig::floor`]) keeps an idle or just-started network from refusing a
//! burst: the rate is measured, not configured, and is low until load has come.
//!
//! Relayed and fetched transactions are not limited here: they were admitted by a peer,
//! and refusing them would only make this node fetch them again when they are nominated.

use std::collections::VecDeque;

use crate::types::Millis;

/// How much a node takes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmitConfig {
    /// The work held (pending plus being validated) is kept below what the recent commit
    /// rate commits in this long, ms. Default 5 000.
    pub drain_ms: u64,
    /// The limit is never below this many transactions. Default 500.
    pub floor: usize,
    /// The commit rate is measured over the blocks appended in this long, ms. Default
    /// 10 000.
    pub window_ms: u64,
}

impl Default for AdmitConfig {
    fn default() -> Self {
        Self {
            drain_ms: 5_000,
            floor: 500,
            window_ms: 10_000,
        }
    }
}

/// The recent commit rate and the admission limit it gives.
#[derive(Clone, Debug)]
pub struct Admission {
    cfg: AdmitConfig,
    /// Blocks appended in the window: when, and how many transactions each included.
    recent: VecDeque<(Millis, usize)>,
}

impl Admission {
    /// No blocks seen yet.
    pub fn new(cfg: AdmitConfig) -> Self {
        Self {
            cfg,
            recent: VecDeque::new(),
        }
    }

    /// A block with `included` transactions was appended at `now`.
    pub fn on_block(&mut self, included: usize, now: Millis) {
        self.recent.push_back((now, included));
        self.expire(now);
    }

    fn expire(&mut self, now: Millis) {
        let start = now.saturating_sub(self.cfg.window_ms);
        while self.recent.front().is_some_and(|(t, _)| *t < start) {
            self.recent.pop_front();
        }
    }

    /// Transactions committed per second over the window ending at `now`. Always divided
    /// by the whole window, also just after a start: the rate then reads low and the
    /// limit errs towards the floor.
    pub fn commit_rate(&self, now: Millis) -> f64 {
        let start = now.saturating_sub(self.cfg.window_ms);
        let committed: usize = self
            .recent
            .iter()
            .filter(|(t, _)| *t >= start)
            .map(|(_, n)| n)
            .sum();
        committed as f64 * 1_000.0 / self.cfg.window_ms.max(1) as f64
    }

    /// The most transactions a node may hold (pending plus validating) and still admit a
    /// client's transaction, at `now`.
    pub fn limit(&self, now: Millis) -> usize {
        let drain = self.commit_rate(now) * self.cfg.drain_ms as f64 / 1_000.0;
        // Saturating float-to-int: a huge rate gives usize::MAX, then the store's own
        // cap applies.
        (drain as usize).max(self.cfg.floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AdmitConfig {
        AdmitConfig {
            drain_ms: 5_000,
            floor: 500,
            window_ms: 10_000,
        }
    }

    #[test]
    fn the_floor_holds_until_blocks_show_a_rate() {
        let a = Admission::new(cfg());
        assert_eq!(a.commit_rate(0), 0.0);
        assert_eq!(a.limit(123_456), 500);
    }

    #[test]
    fn the_limit_is_the_recent_rate_times_the_drain_time() {
        let mut a = Admission::new(cfg());
        // 200 txs a second for 20 s, one block a second.
        for s in 0..=20 {
            a.on_block(200, s * 1_000);
        }
        // The 10 s window holds 11 blocks (at 10 000 ms .. 20 000 ms): 2 200 txs.
        let rate = a.commit_rate(20_000);
        assert!((rate - 220.0).abs() < 1e-9, "rate {rate}");
        assert_eq!(a.limit(20_000), 1_100);
    }

    #[test]
    fn a_stalled_network_falls_back_to_the_floor() {
        let mut a = Admission::new(cfg());
        for s in 0..10 {
            a.on_block(300, s * 1_000);
        }
        assert!(a.limit(9_000) > 1_000);
        // No block for 30 s: nothing in the window.
        assert_eq!(a.limit(39_000), 500);
        a.on_block(0, 40_000);
        assert_eq!(a.limit(40_000), 500);
    }

    #[test]
    fn one_early_block_counts_over_the_whole_window() {
        let mut a = Admission::new(cfg());
        a.on_block(2_000, 10);
        // 2 000 txs over the 10 s window: 200 tx/s, 1 000 admitted.
        assert_eq!(a.limit(20), 1_000);
        assert_eq!(a.limit(10_011), 500);
    }
}
