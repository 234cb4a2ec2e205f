//! Reading archives: ranges of verified blocks (bundles first, then single blocks), the
//! archive's height, and catching a ledger up.

use std::sync::Arc;

use futures_util::{stream, StreamExt};
use mcnode_blockchain::{ArchiveBlock, Block};
use mcnode_ledger::{Ledger, LedgerError};

use crate::{
    error::{ArchiveError, InvalidObject},
    layout::{block_key, bundle_key, decode_block_object, decode_bundle},
    metrics::ArchiveMetrics,
    store::ArchiveStore,
    verify::verify_block,
};

/// Single blocks fetched at once when no bundle covers a position.
const SINGLE_FETCH_CONCURRENCY: usize = 16;
/// Blocks per chunk while syncing a ledger.
const SYNC_CHUNK: u64 = 1000;

/// A reader of one archive. Every block it returns was checked by
/// [`verify_block`](crate::verify::verify_block) against its predecessor.
#[derive(Debug)]
pub struct ArchiveReader<S> {
    store: S,
    /// Bundle sizes tried, largest first.
    buckets: Vec<u64>,
    metrics: ArchiveMetrics,
}

/// What [`ArchiveReader::sync_ledger`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// Ledger height before.
    pub from: u64,
    /// Ledger height after.
    pub to: u64,
}

impl<S: ArchiveStore> ArchiveReader<S> {
    /// A reader of `store` that looks for bundles of the given sizes (any order; `[]`: none).
    pub fn new(store: S, buckets: &[u64], metrics: ArchiveMetrics) -> Self {
        let mut buckets: Vec<u64> = buckets.iter().copied().filter(|&b| b > 1).collect();
        buckets.sort_unstable_by(|a, b| b.cmp(a));
        buckets.dedup();
        Self {
            store,
            buckets,
            metrics,
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn refuse(&self, key: &str, index: u64, reason: InvalidObject) -> ArchiveError {
        self.metrics.rejected_objects.inc();
        ArchiveError::invalid(&self.store.describe(), key, index, reason)
    }

    fn decode_verified(
        &self,
        key: &str,
        index: u64,
        bytes: &[u8],
        prev: Option<&Block>,
    ) -> Result<ArchiveBlock, ArchiveError> {
        let a = decode_block_object(bytes)
            .map_err(|e| self.refuse(key, index, InvalidObject::Decode(e)))?;
        verify_block(prev, index, &a).map_err(|e| self.refuse(key, index, e))?;
        self.metrics.verified_blocks.inc();
        Ok(a)
    }

    /// Block `index` as stored (decoded, not verified), `None` if the archive lacks it.
    pub async fn fetch_block(&self, index: u64) -> Result<Option<ArchiveBlock>, ArchiveError> {
        let key = block_key(index);
        match self.store.get(&key).await? {
            None => Ok(None),
            Some(bytes) => {
                self.metrics.fetched_bytes.inc_by(bytes.len() as u64);
                decode_block_object(&bytes)
                    .map(Some)
                    .map_err(|e| self.refuse(&key, index, InvalidObject::Decode(e)))
            }
        }
    }

    /// Up to `max` blocks from `start` on, each verified against the one before (`prev` is
    /// block `start - 1`; `None` for `start == 0`, or to skip the first link check).
    /// Returns fewer when the archive ends. Bundles are used when one starts at the
    /// position and fits in `max`; otherwise single blocks are fetched, several at once.
    pub async fn fetch_verified(
        &self,
        start: u64,
        max: u64,
        prev: Option<&Block>,
    ) -> Result<Vec<ArchiveBlock>, ArchiveError> {
        let mut out: Vec<ArchiveBlock> = Vec::new();
        let mut pos = start;
        let mut prev = prev.cloned();
        'outer: while (out.len() as u64) < max {
            let remaining = max - out.len() as u64;
            for &n in &self.buckets {
                if !pos.is_multiple_of(n) || n > remaining {
                    continue;
                }
                let key = bundle_key(n, pos);
                let Some(bytes) = self.store.get(&key).await? else {
                    continue;
                };
                self.metrics.fetched_bytes.inc_by(bytes.len() as u64);
                let bundle = decode_bundle(&bytes)
                    .map_err(|e| self.refuse(&key, pos, InvalidObject::Bundle(e)))?;
                if bundle.first_index != pos {
                    return Err(self.refuse(
                        &key,
                        pos,
                        InvalidObject::BundleStart {
                            expected: pos,
                            got: bundle.first_index,
                        },
                    ));
                }
                if bundle.blocks.len() as u64 != n {
                    return Err(self.refuse(
                        &key,
                        pos,
                        InvalidObject::BundleLength {
                            expected: n,
                            got: bundle.blocks.len() as u64,
                        },
                    ));
                }
                for (i, enc) in bundle.blocks.iter().enumerate() {
                    let index = pos + i as u64;
                    let a = self.decode_verified(&key, index, enc, prev.as_ref())?;
                    prev = Some(a.block.clone());
                    out.push(a);
                }
                pos += n;
                continue 'outer;
            }
            // No bundle here: single blocks up to the next position a bundle may start at.
            let step = self
                .buckets
                .last()
                .map_or(SINGLE_FETCH_CONCURRENCY as u64, |&b| b - pos % b);
            let end = pos + step.min(remaining);
            let mut fetches = stream::iter(pos..end)
                .map(|i| async move {
                    let key = block_key(i);
                    self.store.get(&key).await.map(|b| (i, key, b))
                })
                .buffered(SINGLE_FETCH_CONCURRENCY);
            while let Some(r) = fetches.next().await {
                let (i, key, bytes) = r?;
                let Some(bytes) = bytes else {
                    break 'outer;
                };
                self.metrics.fetched_bytes.inc_by(bytes.len() as u64);
                let a = self.decode_verified(&key, i, &bytes, prev.as_ref())?;
                prev = Some(a.block.clone());
                out.push(a);
                pos = i + 1;
            }
        }
        Ok(out)
    }

    /// The number of consecutive blocks the archive holds from block 0, found with
    /// O(log n) existence checks (no listing). `window` covers a writer that uploads
    /// several blocks at once: holes may exist among the last `window` blocks, and the
    /// answer is the first missing block.
    pub async fn height(&self, window: u64) -> Result<u64, ArchiveError> {
        let exists = |i: u64| async move { self.store.exists(&block_key(i)).await };
        if !exists(0).await? {
            return Ok(0);
        }
        // Invariant: `lo` present, `hi` missing.
        let mut lo = 0u64;
        let mut step = 1u64;
        let hi = loop {
            let probe = lo.saturating_add(step);
            if probe == u64::MAX || !exists(probe).await? {
                break probe;
            }
            lo = probe;
            step = step.saturating_mul(2);
        };
        let mut hi = hi;
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if exists(mid).await? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        // Blocks below the first missing one are all present; it lies in
        // (lo - window, lo + 1].
        for i in lo.saturating_sub(window.saturating_sub(1))..lo {
            if !exists(i).await? {
                return Ok(i);
            }
        }
        Ok(lo + 1)
    }

    /// Appends to `ledger` every block the archive has beyond the ledger's height (up to
    /// height `until` when given), verifying each before appending; the ledger checks it
    /// again. Fetching the next chunk overlaps appending the current one. `progress` is
    /// called with the ledger's height after each chunk.
    pub async fn sync_ledger<L: Ledger + 'static>(
        &self,
        ledger: Arc<L>,
        until: Option<u64>,
        mut progress: impl FnMut(u64),
    ) -> Result<SyncReport, ArchiveError> {
        let from = ledger.num_blocks()?;
        let mut next = from;
        let prev = match from {
            0 => None,
            _ => Some(ledger.last_block()?),
        };
        let limit =
            |next: u64| until.map_or(SYNC_CHUNK, |u| u.saturating_sub(next).min(SYNC_CHUNK));
        let mut chunk = self
            .fetch_verified(next, limit(next), prev.as_ref())
            .await?;
        while let Some(last) = chunk.last().map(|a| a.block.clone()) {
            let after = next + chunk.len() as u64;
            let l = Arc::clone(&ledger);
            let append = tokio::task::spawn_blocking(move || -> Result<(), (u64, LedgerError)> {
                for a in &chunk {
                    l.append_block(
                        &a.block,
                        &a.contents,
                        a.signature.as_ref(),
                        a.metadata.as_ref(),
                    )
                    .map_err(|e| (a.block.index, e))?;
                }
                Ok(())
            });
            let fetch = self.fetch_verified(after, limit(after), Some(&last));
            let (appended, fetched) = tokio::join!(append, fetch);
            appended
                .map_err(|e| ArchiveError::Task(e.to_string()))?
                .map_err(|(index, source)| ArchiveError::Append {
                    key: block_key(index),
                    index,
                    source,
                })?;
            next = after;
            progress(next);
            chunk = fetched?;
        }
        Ok(SyncReport { from, to: next })
    }
}
