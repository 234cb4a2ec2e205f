//! The transactions a node holds, and what it remembers about the ones it refused.
//!
//! Every transaction in the store was validated against the ledger at some height and is
//! not in a block yet; all of them are pending (the node nominates them, oldest first).
//! The store also keeps:
//! * the key images and output keys of the last [`RECENT_BLOCKS`] blocks, so a
//!   transaction checked against an older ledger state can be admitted without checking
//!   it again when nothing it touches changed, and refused when a block appended since
//!   spent its key image (the race between accepting a transaction and appending the block
//!   that holds it);
//! * the hashes of transactions found invalid (at most [`MAX_INVALID`], oldest forgotten
//!   first) and the first slot they are invalid in, so that a value naming one is invalid
//!   at once and nobody fetches it again.
//!
//! Limits ([`StoreLimits`]): transactions from clients and relays are admitted while the
//! store holds fewer than `max_pending`; transactions fetched because an SCP message names
//! them (consensus needs them) up to `max_txs`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::types::{codes, AppendedBlock, CoreTx, Millis, Refusal, TxHash, TxOrigin};

/// Blocks whose key images and output keys are remembered.
pub const RECENT_BLOCKS: usize = 64;
/// Invalid transaction hashes remembered.
pub const MAX_INVALID: usize = 100_000;

/// Limits of the store. Defaults suit a validator with a few GiB of RAM: a held
/// transaction is its facts plus its ~7-250 KB encrypted body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Most transactions held (including those fetched for peers' proposals).
    pub max_txs: usize,
    /// Most transactions held when admitting one from a client or a relay; over it the
    /// client gets `OVER_CAPACITY` (gRPC `UNAVAILABLE`).
    pub max_pending: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            max_txs: 50_000,
            max_pending: 10_000,
        }
    }
}

/// Whether an insert added something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new transaction.
    New,
    /// Already held: nothing changed.
    Known,
}

/// Why the store did not take a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotStored {
    /// It is invalid for the current ledger (spent since its check, expired).
    Refused(Refusal),
    /// A limit is reached.
    Full {
        /// Which limit.
        what: &'static str,
        /// Its value.
        limit: usize,
    },
    /// It was checked against a ledger older than the blocks remembered: check again.
    Recheck,
}

struct Entry<B> {
    tx: CoreTx<B>,
    seq: u64,
    /// When it entered the store (ms of the caller's clock).
    held_at: Millis,
}

struct RecentBlock {
    index: u64,
    key_images: HashSet<[u8; 32]>,
    output_keys: HashSet<[u8; 32]>,
}

/// The store.
pub struct TxStore<B> {
    limits: StoreLimits,
    txs: HashMap<TxHash, Entry<B>>,
    /// Arrival order (for proposing oldest first).
    order: BTreeMap<u64, TxHash>,
    next_seq: u64,
    by_key_image: HashMap<[u8; 32], Vec<TxHash>>,
    by_output_key: HashMap<[u8; 32], Vec<TxHash>>,
    by_tombstone: BTreeMap<u64, Vec<TxHash>>,
    recent: VecDeque<RecentBlock>,
    invalid: HashMap<TxHash, u64>,
    invalid_order: VecDeque<TxHash>,
    /// Legacy emulation: admit without checking the blocks appended since the check.
    pub(crate) skip_recent_check: bool,
}

impl<B> std::fmt::Debug for TxStore<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxStore")
            .field("txs", &self.txs.len())
            .field("invalid", &self.invalid.len())
            .field("recent_blocks", &self.recent.len())
            .finish()
    }
}

fn index_add(map: &mut HashMap<[u8; 32], Vec<TxHash>>, key: [u8; 32], hash: TxHash) {
    map.entry(key).or_default().push(hash);
}

fn index_remove(map: &mut HashMap<[u8; 32], Vec<TxHash>>, key: &[u8; 32], hash: &TxHash) {
    if let Some(list) = map.get_mut(key) {
        list.retain(|h| h != hash);
        if list.is_empty() {
            map.remove(key);
        }
    }
}

impl<B> TxStore<B> {
    /// An empty store.
    pub fn new(limits: StoreLimits) -> Self {
        Self {
            limits,
            txs: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            by_key_image: HashMap::new(),
            by_output_key: HashMap::new(),
            by_tombstone: BTreeMap::new(),
            recent: VecDeque::new(),
            invalid: HashMap::new(),
            invalid_order: VecDeque::new(),
            skip_recent_check: false,
        }
    }

    /// The limits.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// Transactions held.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// True when `hash` is held.
    pub fn contains(&self, hash: &TxHash) -> bool {
        self.txs.contains_key(hash)
    }

    /// A held transaction.
    pub fn get(&self, hash: &TxHash) -> Option<&CoreTx<B>> {
        self.txs.get(hash).map(|e| &e.tx)
    }

    /// The first slot in which `hash` is known to be invalid, if it is.
    pub fn invalid_since(&self, hash: &TxHash) -> Option<u64> {
        self.invalid.get(hash).copied()
    }

    /// Invalid hashes remembered.
    pub fn invalid_len(&self) -> usize {
        self.invalid.len()
    }

    /// Remembers that `hash` is invalid from slot `since` on.
    pub fn mark_invalid(&mut self, hash: TxHash, since: u64) {
        if let Some(old) = self.invalid.get_mut(&hash) {
            *old = (*old).min(since);
            return;
        }
        self.invalid.insert(hash, since);
        self.invalid_order.push_back(hash);
        while self.invalid_order.len() > MAX_INVALID {
            if let Some(old) = self.invalid_order.pop_front() {
                self.invalid.remove(&old);
            }
        }
    }

    /// Up to `max` held transactions, oldest first: what the node nominates.
    pub fn oldest(&self, max: usize) -> Vec<TxHash> {
        self.order.values().take(max).copied().collect()
    }

    /// Up to `max` transactions held since `cutoff` or before, oldest first; and when the
    /// first younger one entered, if any.
    pub fn held_since(&self, cutoff: Millis, max: usize) -> (Vec<TxHash>, Option<Millis>) {
        let mut out = Vec::new();
        for h in self.order.values() {
            let Some(e) = self.txs.get(h) else { continue };
            if e.held_at > cutoff {
                return (out, Some(e.held_at));
            }
            if out.len() == max {
                break;
            }
            out.push(*h);
        }
        (out, None)
    }

    /// Takes `tx`, validated against the ledger as it was when block `checked_for` was
    /// next, into the store at `now` while block `next_block` is next.
    pub fn insert(
        &mut self,
        tx: CoreTx<B>,
        checked_for: u64,
        next_block: u64,
        origin: TxOrigin,
        now: Millis,
    ) -> Result<Inserted, NotStored> {
        let hash = tx.hash();
        if self.txs.contains_key(&hash) {
            return Ok(Inserted::Known);
        }
        if tx.facts.tombstone_block <= next_block {
            return Err(NotStored::Refused(Refusal {
                code: codes::TOMBSTONE_EXPIRED,
                message: format!(
                    "tombstone block {} reached (next block {next_block})",
                    tx.facts.tombstone_block
                ),
                permanent: true,
            }));
        }
        if checked_for < next_block && !self.skip_recent_check {
            if let Some(refusal) = self.changed_since(&tx, checked_for)? {
                return Err(NotStored::Refused(refusal));
            }
        }
        let (what, limit) = match origin {
            TxOrigin::Fetch => ("the transaction cache", self.limits.max_txs),
            TxOrigin::Client | TxOrigin::Relay => (
                "the pending-value queue",
                self.limits.max_pending.min(self.limits.max_txs),
            ),
        };
        if self.txs.len() >= limit {
            return Err(NotStored::Full { what, limit });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        for k in &tx.facts.key_images {
            index_add(&mut self.by_key_image, *k, hash);
        }
        for k in &tx.facts.output_keys {
            index_add(&mut self.by_output_key, *k, hash);
        }
        self.by_tombstone
            .entry(tx.facts.tombstone_block)
            .or_default()
            .push(hash);
        self.order.insert(seq, hash);
        self.txs.insert(
            hash,
            Entry {
                tx,
                seq,
                held_at: now,
            },
        );
        Ok(Inserted::New)
    }

    /// True when a transaction checked while block `checked_for` was next must be checked
    /// again before it can be taken while `next_block` is next (the blocks in between are
    /// not all remembered).
    pub fn needs_recheck(&self, checked_for: u64, next_block: u64) -> bool {
        !self.skip_recent_check
            && checked_for < next_block
            && checked_for < self.recent.front().map_or(u64::MAX, |b| b.index)
    }

    /// Whether a block from `checked_for` on spends one of `tx`'s key images or creates
    /// one of its output keys. `Err(Recheck)` when those blocks are not all remembered.
    fn changed_since(
        &self,
        tx: &CoreTx<B>,
        checked_for: u64,
    ) -> Result<Option<Refusal>, NotStored> {
        let oldest = self.recent.front().map_or(u64::MAX, |b| b.index);
        if checked_for < oldest {
            return Err(NotStored::Recheck);
        }
        for b in self.recent.iter().filter(|b| b.index >= checked_for) {
            if let Some(k) = tx
                .facts
                .key_images
                .iter()
                .find(|k| b.key_images.contains(*k))
            {
                return Ok(Some(Refusal {
                    code: codes::KEY_IMAGE_SPENT,
                    message: format!(
                        "key image {} was spent in block {}",
                        hex::encode(k),
                        b.index
                    ),
                    permanent: true,
                }));
            }
            if tx
                .facts
                .output_keys
                .iter()
                .any(|k| b.output_keys.contains(k))
            {
                return Ok(Some(Refusal {
                    code: codes::OUTPUT_KEY_EXISTS,
                    message: format!("an output public key was created in block {}", b.index),
                    permanent: true,
                }));
            }
        }
        Ok(None)
    }

    fn remove(&mut self, hash: &TxHash) -> bool {
        let Some(entry) = self.txs.remove(hash) else {
            return false;
        };
        self.order.remove(&entry.seq);
        for k in &entry.tx.facts.key_images {
            index_remove(&mut self.by_key_image, k, hash);
        }
        for k in &entry.tx.facts.output_keys {
            index_remove(&mut self.by_output_key, k, hash);
        }
        if let Some(list) = self.by_tombstone.get_mut(&entry.tx.facts.tombstone_block) {
            list.retain(|h| h != hash);
            if list.is_empty() {
                self.by_tombstone.remove(&entry.tx.facts.tombstone_block);
            }
        }
        true
    }

    /// Applies an appended block: forgets the transactions it holds or dropped, those
    /// that conflict with it (they can never enter a block now: marked invalid from the
    /// next slot on) and those expired at the next block; remembers its key images and
    /// output keys. Returns how many transactions left the store.
    pub fn apply_block(&mut self, block: &AppendedBlock) -> usize {
        let next = block.index + 1;
        let mut gone = 0;
        for h in block.included.iter().chain(&block.dropped) {
            gone += usize::from(self.remove(h));
        }
        let mut conflicting: Vec<TxHash> = Vec::new();
        for k in &block.key_images {
            if let Some(list) = self.by_key_image.get(k) {
                conflicting.extend(list.iter().copied());
            }
        }
        for k in &block.output_keys {
            if let Some(list) = self.by_output_key.get(k) {
                conflicting.extend(list.iter().copied());
            }
        }
        for h in conflicting {
            if self.remove(&h) {
                gone += 1;
                self.mark_invalid(h, next);
            }
        }
        let expired: Vec<TxHash> = self
            .by_tombstone
            .range(..=next)
            .flat_map(|(_, l)| l.iter().copied())
            .collect();
        for h in expired {
            if self.remove(&h) {
                gone += 1;
                self.mark_invalid(h, next);
            }
        }
        self.recent.push_back(RecentBlock {
            index: block.index,
            key_images: block.key_images.iter().copied().collect(),
            output_keys: block.output_keys.iter().copied().collect(),
        });
        while self.recent.len() > RECENT_BLOCKS {
            self.recent.pop_front();
        }
        gone
    }

    /// Forgets everything held (not the invalid hashes or recent blocks).
    pub fn clear(&mut self) {
        self.txs.clear();
        self.order.clear();
        self.by_key_image.clear();
        self.by_output_key.clear();
        self.by_tombstone.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::TxFacts;

    fn tx(n: u8, images: &[u8], outputs: &[u8], tombstone: u64) -> CoreTx<()> {
        CoreTx {
            facts: TxFacts {
                hash: [n; 32],
                fee: 10,
                tombstone_block: tombstone,
                key_images: images.iter().map(|i| [*i; 32]).collect(),
                output_keys: outputs.iter().map(|o| [100 + *o; 32]).collect(),
            },
            body: (),
        }
    }

    fn block(index: u64, images: &[u8], outputs: &[u8], included: &[u8]) -> AppendedBlock {
        AppendedBlock {
            index,
            id: [index as u8; 32],
            parent_id: [0; 32],
            key_images: images.iter().map(|i| [*i; 32]).collect(),
            output_keys: outputs.iter().map(|o| [100 + *o; 32]).collect(),
            included: included.iter().map(|i| [*i; 32]).collect(),
            dropped: vec![],
        }
    }

    #[test]
    fn a_tx_checked_before_the_block_that_spends_it_is_refused() {
        let mut s = TxStore::new(StoreLimits::default());
        // Block 5 holds tx 1 (key image 1).
        s.apply_block(&block(5, &[1], &[1], &[1]));
        // A copy of tx 1 validated while block 5 was next comes back now that 6 is next.
        let err = s.insert(tx(1, &[1], &[1], 50), 5, 6, TxOrigin::Relay, 0);
        assert!(matches!(err, Err(NotStored::Refused(r)) if r.code == codes::KEY_IMAGE_SPENT));
        // One checked for block 6 (after the append) is taken.
        assert_eq!(
            s.insert(tx(2, &[2], &[2], 50), 5, 6, TxOrigin::Relay, 0),
            Ok(Inserted::New)
        );
        // Checked against a ledger older than the remembered blocks: check again.
        assert_eq!(
            s.insert(tx(3, &[3], &[3], 50), 2, 6, TxOrigin::Client, 0),
            Err(NotStored::Recheck)
        );
    }

    #[test]
    fn limits_push_back_clients_but_leave_room_for_consensus() {
        let mut s = TxStore::new(StoreLimits {
            max_txs: 3,
            max_pending: 2,
        });
        for n in 1..=2 {
            assert_eq!(
                s.insert(tx(n, &[n], &[n], 50), 1, 1, TxOrigin::Client, 0),
                Ok(Inserted::New)
            );
        }
        assert!(matches!(
            s.insert(tx(3, &[3], &[3], 50), 1, 1, TxOrigin::Relay, 0),
            Err(NotStored::Full { limit: 2, .. })
        ));
        assert_eq!(
            s.insert(tx(3, &[3], &[3], 50), 1, 1, TxOrigin::Fetch, 0),
            Ok(Inserted::New)
        );
        assert!(matches!(
            s.insert(tx(4, &[4], &[4], 50), 1, 1, TxOrigin::Fetch, 0),
            Err(NotStored::Full { limit: 3, .. })
        ));
        assert_eq!(
            s.insert(tx(1, &[1], &[1], 50), 1, 1, TxOrigin::Client, 0),
            Ok(Inserted::Known)
        );
        assert_eq!(s.oldest(10), vec![[1; 32], [2; 32], [3; 32]]);
    }

    #[test]
    fn a_block_removes_what_it_holds_conflicts_and_expired() {
        let mut s = TxStore::new(StoreLimits::default());
        s.insert(tx(1, &[1], &[1], 50), 1, 1, TxOrigin::Client, 0)
            .unwrap();
        s.insert(tx(2, &[1], &[2], 50), 1, 1, TxOrigin::Client, 0)
            .unwrap(); // double spend of 1
        s.insert(tx(3, &[3], &[3], 3), 1, 1, TxOrigin::Client, 0)
            .unwrap(); // expires at 3
        s.insert(tx(4, &[4], &[4], 50), 1, 1, TxOrigin::Client, 0)
            .unwrap();
        assert_eq!(s.apply_block(&block(2, &[1], &[1], &[1])), 3);
        assert_eq!(s.oldest(10), vec![[4; 32]]);
        assert_eq!(s.invalid_since(&[2; 32]), Some(3));
        assert_eq!(s.invalid_since(&[3; 32]), Some(3));
        assert_eq!(s.invalid_since(&[1; 32]), None);
        // The indexes are clean: a block spending key image 1 again touches nothing.
        assert_eq!(s.apply_block(&block(3, &[1], &[], &[])), 0);
        assert!(!s.by_key_image.contains_key(&[1; 32]));
    }

    #[test]
    fn expired_on_arrival_is_refused_permanently() {
        let mut s = TxStore::new(StoreLimits::default());
        let err = s.insert(tx(1, &[1], &[1], 7), 7, 7, TxOrigin::Client, 0);
        assert!(
            matches!(err, Err(NotStored::Refused(r)) if r.code == codes::TOMBSTONE_EXPIRED && r.permanent)
        );
    }
}
