//! The transaction cache and the pending values.
//!
//! The cache holds what the host may hold of a transaction: its [`TxContext`] (hash, key
//! images, output keys, fee, tombstone, proof indices) and its enclave-encrypted body.
//! Pending values are the hashes this node still wants to nominate. Both are bounded
//! ([`CacheLimits`]); a full cache refuses new transactions with [`CacheError::Full`],
//! which the client API turns into gRPC `UNAVAILABLE` (result code 200), so that overload
//! pushes back on clients instead of dropping accepted work.

use std::collections::{BTreeSet, HashMap};

use mcnode_enclave::TxContext;

use crate::TxHash;

/// Limits of the cache. Defaults suit a validator with a few GiB of RAM: a cached
/// transaction is its context plus its ~7-250 KB encrypted body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLimits {
    /// Transactions held (pending, being agreed on, or fetched for a peer's proposal).
    pub max_txs: usize,
    /// Hashes waiting to be nominated.
    pub max_pending: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_txs: 50_000,
            max_pending: 10_000,
        }
    }
}

/// Why a transaction was not cached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// A limit is reached: try later or another node.
    #[error("{what} is full ({limit} entries): try again later")]
    Full {
        /// Which limit.
        what: &'static str,
        /// Its value.
        limit: usize,
    },
    /// Its tombstone block is reached: it can never be included.
    #[error("tombstone block {tombstone} reached (next block {next_block})")]
    Expired {
        /// The tombstone.
        tombstone: u64,
        /// The next block's index.
        next_block: u64,
    },
}

/// Whether an insert added something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new transaction.
    New,
    /// Already cached (a resubmission or a relay): nothing changed.
    Known,
}

/// The cache.
#[derive(Debug, Default)]
pub struct TxCache {
    limits: CacheLimits,
    txs: HashMap<TxHash, TxContext>,
    pending: BTreeSet<TxHash>,
}

impl TxCache {
    /// An empty cache.
    pub fn new(limits: CacheLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Caches a transaction accepted from a client, to be nominated (`pending`), or fetched
    /// for a peer's proposal (not pending).
    pub fn insert(
        &mut self,
        ctx: TxContext,
        next_block: u64,
        pending: bool,
    ) -> Result<Inserted, CacheError> {
        if ctx.tombstone_block <= next_block {
            return Err(CacheError::Expired {
                tombstone: ctx.tombstone_block,
                next_block,
            });
        }
        let hash = ctx.tx_hash;
        if self.txs.contains_key(&hash) {
            if pending && !self.pending.contains(&hash) {
                self.check_pending_room()?;
                self.pending.insert(hash);
            }
            return Ok(Inserted::Known);
        }
        if self.txs.len() >= self.limits.max_txs {
            return Err(CacheError::Full {
                what: "the transaction cache",
                limit: self.limits.max_txs,
            });
        }
        if pending {
            self.check_pending_room()?;
            self.pending.insert(hash);
        }
        self.txs.insert(hash, ctx);
        Ok(Inserted::New)
    }

    fn check_pending_room(&self) -> Result<(), CacheError> {
        if self.pending.len() >= self.limits.max_pending {
            return Err(CacheError::Full {
                what: "the pending-value queue",
                limit: self.limits.max_pending,
            });
        }
        Ok(())
    }

    /// The context of a cached transaction.
    pub fn get(&self, hash: &TxHash) -> Option<&TxContext> {
        self.txs.get(hash)
    }

    /// True when cached.
    pub fn contains(&self, hash: &TxHash) -> bool {
        self.txs.contains_key(hash)
    }

    /// The pending hashes, in hash order.
    pub fn pending(&self) -> impl Iterator<Item = &TxHash> {
        self.pending.iter()
    }

    /// Numbers of (cached transactions, pending values): the `tx cache size` and
    /// `pending values` metrics.
    pub fn sizes(&self) -> (usize, usize) {
        (self.txs.len(), self.pending.len())
    }

    /// Forgets transactions a block included.
    pub fn remove_included<'a>(&mut self, hashes: impl IntoIterator<Item = &'a TxHash>) {
        for h in hashes {
            self.txs.remove(h);
            self.pending.remove(h);
        }
    }

    /// Removes every transaction spending one of `key_images` or creating one of
    /// `outputs`' keys (a block just holds them); returns their hashes.
    pub fn remove_conflicting(
        &mut self,
        key_images: &[mcnode_crypto::KeyImage],
        outputs: &[mcnode_transaction::TxOut],
    ) -> Vec<TxHash> {
        if key_images.is_empty() && outputs.is_empty() {
            return Vec::new();
        }
        let images: std::collections::HashSet<_> = key_images.iter().collect();
        let keys: std::collections::HashSet<_> = outputs.iter().map(|o| &o.target_key).collect();
        let gone: Vec<TxHash> = self
            .txs
            .iter()
            .filter(|(_, c)| {
                c.key_images.iter().any(|k| images.contains(k))
                    || c.output_public_keys.iter().any(|k| keys.contains(k))
            })
            .map(|(h, _)| *h)
            .collect();
        self.remove_included(gone.iter());
        gone
    }

    /// Forgets transactions that can no longer be included in block `next_block` or
    /// later; returns their hashes.
    pub fn evict_expired(&mut self, next_block: u64) -> Vec<TxHash> {
        let expired: Vec<TxHash> = self
            .txs
            .iter()
            .filter(|(_, c)| c.tombstone_block <= next_block)
            .map(|(h, _)| *h)
            .collect();
        self.remove_included(expired.iter());
        expired
    }
}
