//! The SCP value of a block and its policy.
//!
//! A node nominates the set of transaction hashes it wants in the next block; SCP agrees on
//! one such set per slot (slot `n` forms block `n`). [`TxSetPolicy`] supplies the two
//! functions SCP leaves to the application:
//!
//! * **validity**: Invalid unless sorted and unique, non-empty, at most
//!   [`TxSetPolicy::max_block_txs`] hashes and none of the known ones past its tombstone;
//!   MaybeValid while some hash is unknown to this node (the driver fetches unknown ones
//!   from the sender); Valid once every hash is known;
//! * **combine**: the union of the confirmed candidates, ordered by fee (highest first) then
//!   hash; a transaction whose key image or output key conflicts with one already chosen is
//!   dropped; at most `max_block_txs` are kept. Deterministic: every input it reads (fee,
//!   key images, output keys) is part of the transaction itself, so all nodes combine alike.

use std::{
    collections::BTreeSet,
    sync::{Arc, RwLock},
};

use mcnode_crypto::{CompressedPoint, KeyImage};
use mcnode_scp::{SlotIndex, Validity, ValuePolicy};
use serde::{Deserialize, Serialize};

use crate::TxCache;

/// A transaction hash.
pub type TxHash = [u8; 32];

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

/// What the policy needs to know of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxFacts {
    /// Fee.
    pub fee: u64,
    /// Tombstone block.
    pub tombstone_block: u64,
    /// Key images spent.
    pub key_images: Vec<KeyImage>,
    /// Output target keys created.
    pub output_keys: Vec<CompressedPoint>,
}

/// Where the policy looks transactions up.
pub trait TxLookup {
    /// The facts of a known transaction.
    fn facts(&self, hash: &TxHash) -> Option<TxFacts>;
}

impl TxLookup for TxCache {
    fn facts(&self, hash: &TxHash) -> Option<TxFacts> {
        self.get(hash).map(|c| TxFacts {
            fee: c.fee,
            tombstone_block: c.tombstone_block,
            key_images: c.key_images.clone(),
            output_keys: c.output_public_keys.clone(),
        })
    }
}

impl TxLookup for Arc<RwLock<TxCache>> {
    fn facts(&self, hash: &TxHash) -> Option<TxFacts> {
        // The cache holds plain data: a panic elsewhere while writing cannot leave it
        // half-updated in a way that matters here, so read through a poisoned lock.
        self.read().unwrap_or_else(|p| p.into_inner()).facts(hash)
    }
}

/// Validity and combine for [`TxSet`] values.
#[derive(Debug)]
pub struct TxSetPolicy<L> {
    lookup: L,
    max_block_txs: usize,
}

/// Default cap on transactions per block. A value of this many hashes is 64 KiB, so an
/// SCP message carrying several values stays well under the envelope limit
/// (`mcnode_peers::envelope::MAX_SCP_MSG_BYTES`, 1 MiB).
pub const DEFAULT_MAX_BLOCK_TXS: usize = 2_000;

impl<L: TxLookup> TxSetPolicy<L> {
    /// A policy over `lookup`, with at most `max_block_txs` transactions per block.
    pub fn new(lookup: L, max_block_txs: usize) -> Self {
        Self {
            lookup,
            max_block_txs: max_block_txs.max(1),
        }
    }

    /// The block size cap.
    pub fn max_block_txs(&self) -> usize {
        self.max_block_txs
    }
}

impl<L: TxLookup> ValuePolicy<TxSet> for TxSetPolicy<L> {
    fn validity(&self, slot: SlotIndex, value: &TxSet) -> Validity {
        if value.is_empty() || value.len() > self.max_block_txs || !value.is_canonical() {
            return Validity::Invalid;
        }
        let mut unknown = false;
        for h in value.hashes() {
            match self.lookup.facts(h) {
                Some(f) if f.tombstone_block <= slot => return Validity::Invalid,
                Some(_) => {}
                None => unknown = true,
            }
        }
        if unknown {
            Validity::MaybeValid
        } else {
            Validity::Valid
        }
    }

    fn combine(&self, slot: SlotIndex, candidates: &[TxSet]) -> TxSet {
        let union: BTreeSet<TxHash> = candidates
            .iter()
            .flat_map(|c| c.hashes().iter().copied())
            .collect();
        let mut txs: Vec<(TxHash, TxFacts)> = union
            .into_iter()
            .filter_map(|h| self.lookup.facts(&h).map(|f| (h, f)))
            .filter(|(_, f)| f.tombstone_block > slot)
            .collect();
        // Highest fee first; ties by hash, so every node orders alike.
        txs.sort_by(|(ha, fa), (hb, fb)| fb.fee.cmp(&fa.fee).then(ha.cmp(hb)));
        let mut images = BTreeSet::new();
        let mut outputs = BTreeSet::new();
        let mut chosen = Vec::new();
        for (hash, facts) in txs {
            if chosen.len() == self.max_block_txs {
                break;
            }
            let conflicts = facts.key_images.iter().any(|k| images.contains(k))
                || facts.output_keys.iter().any(|o| outputs.contains(o));
            if conflicts {
                continue;
            }
            images.extend(facts.key_images);
            outputs.extend(facts.output_keys);
            chosen.push(hash);
        }
        if chosen.is_empty() {
            // Only if the cache lost every candidate's transactions since they were
            // validated: fall back to the first candidate (each one was Valid).
            return candidates
                .first()
                .cloned()
                .unwrap_or_else(|| TxSet::new(chosen));
        }
        TxSet::new(chosen)
    }
}
