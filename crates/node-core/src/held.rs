//! Envelopes for slots the ledger has not reached yet, held until it does.
//!
//! A peer that appended block `n` before this node speaks about slot `n + 1` while this
//! node still works on `n`. Its messages are kept, the latest per sender, slot and kind
//! (nomination or ballot), for slots up to `max_ahead` beyond the current one, and handed
//! to SCP when the ledger reaches their slot. The bound is therefore
//! `senders x max_ahead x 2` envelopes, and senders are the peers whose signatures the
//! shell verified.

use std::collections::BTreeMap;

use mcnode_scp::Topic;

use crate::types::{Envelope, NodeId, SlotIndex};

/// The held envelopes.
#[derive(Debug, Default)]
pub struct Held {
    by_slot: BTreeMap<SlotIndex, BTreeMap<(NodeId, bool), Envelope>>,
}

impl Held {
    /// Keeps `env` (replacing the sender's earlier one of the same kind for that slot).
    pub fn hold(&mut self, env: Envelope) {
        let ballot = matches!(env.msg.topic, Topic::Ballot(_));
        self.by_slot
            .entry(env.msg.slot)
            .or_default()
            .insert((env.msg.sender.clone(), ballot), env);
    }

    /// Takes the envelopes of `slot` (nominations first) and forgets every slot below it.
    pub fn take(&mut self, slot: SlotIndex) -> Vec<Envelope> {
        self.by_slot = self.by_slot.split_off(&slot);
        let Some(held) = self.by_slot.remove(&slot) else {
            return Vec::new();
        };
        let mut out: Vec<Envelope> = held.into_values().collect();
        out.sort_by_key(|e| matches!(e.msg.topic, Topic::Ballot(_)));
        out
    }

    /// Envelopes held.
    pub fn len(&self) -> usize {
        self.by_slot.values().map(BTreeMap::len).sum()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.by_slot.is_empty()
    }

    /// The highest slot held.
    pub fn highest_slot(&self) -> Option<SlotIndex> {
        self.by_slot.keys().next_back().copied()
    }
}
