//! The node's recent history for the admin panel's charts: a ring of
//! [`HISTORY_SAMPLES`] samples of [`HISTORY_INTERVAL_SECS`] each (the last hour), kept in
//! the node so that the panel works without Prometheus.
//!
//! The node task feeds it (blocks appended, transactions committed with their
//! submit-to-commit latency, the pending count after every step, each peer envelope's
//! author) with the time passed in as Unix milliseconds; it reads no clock. `GetHistory`
//! answers [`History::snapshot`], the `mcnode_api::admin::History` document.

use std::collections::{BTreeSet, VecDeque};

use mcnode_api::admin::{History as HistoryDoc, HistorySample, HISTORY_FORMAT};

/// Seconds per sample.
pub const HISTORY_INTERVAL_SECS: u64 = 10;
/// Samples kept: one hour.
pub const HISTORY_SAMPLES: usize = 360;
/// Distinct peers counted per sample (more are counted as this many).
const MAX_PEERS_PER_SAMPLE: usize = 1_000;

/// The ring of samples (see the module docs).
#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<HistorySample>,
    /// Peers heard in the newest sample.
    heard: BTreeSet<String>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sample covering `now_ms` (Unix milliseconds), made (with empty ones for the
    /// intervals nothing happened in) when time moved past the newest one. A clock that
    /// went back lands in the newest sample.
    fn at(&mut self, now_ms: u64) -> &mut HistorySample {
        let start = now_ms / 1000 / HISTORY_INTERVAL_SECS * HISTORY_INTERVAL_SECS;
        let newest = self.samples.back().map(|s| s.start_unix);
        match newest {
            Some(last) if start <= last => {}
            _ => {
                let pending = self.samples.back().map_or(0, |s| s.pending_values);
                // After a long gap only the last hour matters.
                let first = newest.map_or(start, |last| {
                    let span = HISTORY_INTERVAL_SECS * HISTORY_SAMPLES as u64;
                    (last + HISTORY_INTERVAL_SECS).max(start.saturating_sub(span))
                });
                let mut t = first;
                while t <= start {
                    self.samples.push_back(HistorySample {
                        start_unix: t,
                        // Nothing was observed in a skipped interval: what was pending
                        // stayed pending.
                        pending_values: pending,
                        ..HistorySample::default()
                    });
                    t += HISTORY_INTERVAL_SECS;
                }
                while self.samples.len() > HISTORY_SAMPLES {
                    self.samples.pop_front();
                }
                self.heard.clear();
                if let Some(s) = self.samples.back_mut() {
                    s.pending_values = 0;
                }
            }
        }
        match self.samples.back_mut() {
            Some(s) => s,
            None => unreachable!("a sample was just pushed"),
        }
    }

    /// A block was appended; `txs` of it are transactions (0 for a caught-up block).
    pub fn block(&mut self, now_ms: u64, txs: u64) {
        let s = self.at(now_ms);
        s.blocks += 1;
        s.txs += txs;
    }

    /// A client transaction was committed `latency_seconds` after it was submitted.
    pub fn committed(&mut self, now_ms: u64, latency_seconds: f64) {
        if !latency_seconds.is_finite() || latency_seconds < 0.0 {
            return;
        }
        let s = self.at(now_ms);
        s.latency_count += 1;
        s.latency_sum_seconds += latency_seconds;
        s.latency_max_seconds = s.latency_max_seconds.max(latency_seconds);
    }

    /// `pending` transactions await a block now.
    pub fn pending(&mut self, now_ms: u64, pending: u64) {
        let s = self.at(now_ms);
        s.pending_values = s.pending_values.max(pending);
    }

    /// A consensus message from `peer` arrived.
    pub fn heard(&mut self, now_ms: u64, peer: &str) {
        self.at(now_ms);
        if self.heard.len() < MAX_PEERS_PER_SAMPLE && !self.heard.contains(peer) {
            self.heard.insert(peer.to_string());
        }
        let n = self.heard.len() as u64;
        if let Some(s) = self.samples.back_mut() {
            s.peers_heard = n;
        }
    }

    /// The document `GetHistory` answers, up to `now_ms` (empty samples are added for the
    /// intervals since the last event).
    pub fn snapshot(&mut self, now_ms: u64) -> HistoryDoc {
        self.at(now_ms);
        HistoryDoc {
            format: HISTORY_FORMAT,
            interval_seconds: HISTORY_INTERVAL_SECS,
            samples: self.samples.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;

    #[test]
    fn events_land_in_their_ten_second_sample() {
        let mut h = History::new();
        h.block(T0, 3);
        h.committed(T0 + 100, 0.5);
        h.committed(T0 + 200, 1.5);
        h.pending(T0 + 300, 7);
        h.pending(T0 + 400, 2);
        h.heard(T0 + 500, "n1:1");
        h.heard(T0 + 600, "n1:1");
        h.heard(T0 + 700, "n2:1");
        // 25 s later: two more samples, the skipped one empty.
        h.block(T0 + 25_000, 0);
        h.committed(T0 + 25_000, f64::NAN);
        let doc = h.snapshot(T0 + 25_500);
        assert_eq!(doc.format, HISTORY_FORMAT);
        assert_eq!(doc.interval_seconds, 10);
        let s = &doc.samples;
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].start_unix, 1_800_000_000);
        assert_eq!(
            (s[0].blocks, s[0].txs, s[0].latency_count),
            (1, 3, 2),
            "{s:?}"
        );
        assert_eq!(s[0].latency_sum_seconds, 2.0);
        assert_eq!(s[0].latency_max_seconds, 1.5);
        assert_eq!(s[0].pending_values, 7);
        assert_eq!(s[0].peers_heard, 2);
        assert_eq!(s[1].start_unix, 1_800_000_010);
        assert_eq!((s[1].blocks, s[1].peers_heard), (0, 0));
        // Nothing observed in the skipped interval: the last pending count carries.
        assert_eq!(s[1].pending_values, 7);
        assert_eq!((s[2].blocks, s[2].latency_count), (1, 0));
    }

    #[test]
    fn the_ring_keeps_the_last_hour() {
        let mut h = History::new();
        for i in 0..1_000u64 {
            h.block(T0 + i * 10_000, 1);
        }
        let doc = h.snapshot(T0 + 999 * 10_000);
        assert_eq!(doc.samples.len(), HISTORY_SAMPLES);
        assert_eq!(
            doc.samples.last().map(|s| s.start_unix),
            Some(1_800_000_000 + 9_990)
        );
        // A day without events: still one hour of samples, all empty.
        let doc = h.snapshot(T0 + 86_400_000 * 2);
        assert_eq!(doc.samples.len(), HISTORY_SAMPLES);
        assert!(doc.samples.iter().all(|s| s.blocks == 0));
        // A clock that went back lands in the newest sample.
        h.block(T0, 1);
        let doc = h.snapshot(T0);
        assert_eq!(doc.samples.last().map(|s| s.blocks), Some(1));
    }
}
