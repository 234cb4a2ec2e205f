//! The SCP value of a block and its policy.
//!
//! A node nominates the set of transaction hashes it wants in the next block; SCP agrees on
//! one such set per slot (slot `n` forms block `n`). [`TxSetPolicy`] supplies the two
//! functions SCP leaves to the application, over the node's [`TxStore`]:
//!
//! * **validity** ([`Validity`]): *invalid* when the set is empty, unsorted, over
//!   [`TxSetPolicy::max_block_txs`], or names a transaction known to be invalid in the
//!   slot (refused by validation, expired, or conflicting with a block); *maybe valid*
//!   when it names transactions this node does not hold yet (the core fetches them and
//!   re-evaluates the slot when they arrive); *valid* when every transaction is held.
//!   Whether a value is invalid depends only on the value and the ledger; only the step
//!   from maybe valid to valid depends on what the node has received so far.
//! * **combine**: the union of the confirmed candidates, ordered by fee (highest first)
//!   then hash; a transaction whose key image or output key conflicts with one already
//!   chosen is dropped; at most `max_block_txs` are kept. Deterministic: every input it
//!   reads (fee, key images, output keys) is part of the transaction itself, so all nodes
//!   combine alike.

use std::collections::BTreeSet;

use mcnode_scp::{SlotIndex, Validity, ValuePolicy};
use serde::{Deserialize, Serialize};

use crate::{store::TxStore, types::TxHash};

/// The transactions a node proposes for a block: sorted, without repeats.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxSet(Vec<TxHash>);

impl TxSet {
    /// A set from any hashes (sorted and de-duplicated here).
    pub fn new(mut hashes: Vec<TxHash>) -> Self {
        hashes.sort_unstable();
        hashes.dedup();
        Self(hashes)
    }

    /// The hashes, ascending.
    pub fn hashes(&self) -> &[TxHash] {
        &self.0
    }

    /// True when sorted strictly ascending (a decoded set may not be).
    pub fn is_canonical(&self) -> bool {
        self.0.windows(2).all(|w| w[0] < w[1])
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl core::fmt::Debug for TxSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let short: Vec<String> = self.0.iter().map(|h| hex::encode(&h[..4])).collect();
        write!(f, "TxSet[{}]", short.join(","))
    }
}

/// Default cap on transactions per block. A value of this many hashes is 64 KiB, so an
/// SCP message carrying several values stays well under the envelope limit (1 MiB).
pub const DEFAULT_MAX_BLOCK_TXS: usize = 2_000;

/// Validity and combine for [`TxSet`] values, over the node's transaction store (which
/// the policy owns, so that SCP sees every change at once).
#[derive(Debug)]
pub struct TxSetPolicy<B> {
    store: TxStore<B>,
    max_block_txs: usize,
    /// Legacy emulation: a value naming transactions not held is invalid.
    pub(crate) unknown_is_invalid: bool,
}

impl<B> TxSetPolicy<B> {
    /// A policy over `store`, with at most `max_block_txs` transactions per block.
    pub fn new(store: TxStore<B>, max_block_txs: usize) -> Self {
        Self {
            store,
            max_block_txs: max_block_txs.max(1),
            unknown_is_invalid: false,
        }
    }

    /// The block size cap.
    pub fn max_block_txs(&self) -> usize {
        self.max_block_txs
    }

    /// The store.
    pub fn store(&self) -> &TxStore<B> {
        &self.store
    }

    /// The store, to change.
    pub fn store_mut(&mut self) -> &mut TxStore<B> {
        &mut self.store
    }

    /// The hashes of `value` this node does not hold and does not know to be invalid.
    pub fn unknown<'a>(&'a self, value: &'a TxSet) -> impl Iterator<Item = &'a TxHash> + 'a {
        value
            .hashes()
            .iter()
            .filter(|h| !self.store.contains(h) && self.store.invalid_since(h).is_none())
    }
}

impl<B> ValuePolicy<TxSet> for TxSetPolicy<B> {
    fn validity(&self, slot: SlotIndex, value: &TxSet) -> Validity {
        if value.is_empty() || value.len() > self.max_block_txs || !value.is_canonical() {
            return Validity::Invalid;
        }
        let mut all_known = true;
        for h in value.hashes() {
            if self
                .store
                .invalid_since(h)
                .is_some_and(|since| since <= slot)
            {
                return Validity::Invalid;
            }
            match self.store.get(h) {
                Some(tx) if tx.facts.tombstone_block <= slot => return Validity::Invalid,
                Some(_) => {}
                None => all_known = false,
            }
        }
        if all_known {
            Validity::Valid
        } else if self.unknown_is_invalid {
            Validity::Invalid
        } else {
            Validity::MaybeValid
        }
    }

    fn combine(&self, slot: SlotIndex, candidates: &[TxSet]) -> TxSet {
        let union: BTreeSet<TxHash> = candidates
            .iter()
            .flat_map(|c| c.hashes().iter().copied())
            .collect();
        let mut txs: Vec<_> = union
            .iter()
            .filter_map(|h| self.store.get(h))
            .filter(|tx| tx.facts.tombstone_block > slot)
            .map(|tx| &tx.facts)
            .collect();
        // Highest fee first; ties by hash, so every node orders alike.
        txs.sort_by(|a, b| b.fee.cmp(&a.fee).then(a.hash.cmp(&b.hash)));
        let mut images = BTreeSet::new();
        let mut outputs = BTreeSet::new();
        let mut chosen = Vec::new();
        for facts in txs {
            if chosen.len() == self.max_block_txs {
                break;
            }
            let conflicts = facts.key_images.iter().any(|k| images.contains(k))
                || facts.output_keys.iter().any(|o| outputs.contains(o));
            if conflicts {
                continue;
            }
            images.extend(facts.key_images.iter().copied());
            outputs.extend(facts.output_keys.iter().copied());
            chosen.push(facts.hash);
        }
        if chosen.is_empty() {
            // Candidates are valid, so their transactions are held and this is not
            // reached; should it be, any candidate is still a value every node agrees on.
            return candidates
                .first()
                .cloned()
                .unwrap_or_else(|| TxSet::new(vec![]));
        }
        TxSet::new(chosen)
    }
}
