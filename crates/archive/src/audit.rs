//! Auditing an archive against a ledger, block by block: which blocks it holds, holes,
//! lag, blocks the ledger does not have, and blocks whose id differs from the ledger's.
//!
//! [`audit_archive`] lists the archive once (or, for a read-only HTTP archive that cannot
//! be listed, asks for each index up to a little past the ledger's height), fetches every
//! single-block object from `from` on, decodes it and compares its id with the ledger's
//! block at that index. It reads objects only; bundles are counted, not opened (they hold
//! the same bytes as the single-block objects, which the writer stores first).

use futures_util::{stream, StreamExt};
use mcnode_blockchain::BlockId;
use serde::Serialize;

use crate::{
    layout::{block_key, decode_block_object, parse_key, KeyKind},
    store::{ArchiveStore, StoreError},
    ArchiveError,
};

/// Objects fetched at once.
const CONCURRENCY: usize = 16;
/// Past the ledger's height, how many indexes an unlistable archive is asked for.
const PROBE_PAST_LEDGER: u64 = 32;
/// Lists in a report hold at most this many entries (the counts are exact).
pub const MAX_LISTED: usize = 100;

/// A block whose id in the archive differs from the ledger's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// The block index.
    pub index: u64,
    /// The ledger's block id (hex).
    pub ledger_id: String,
    /// The archive's block id (hex).
    pub archive_id: String,
}

/// A block the archive holds beyond the ledger's height.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Extra {
    /// The block index.
    pub index: u64,
    /// Its id in the archive (hex).
    pub block_id: String,
}

/// An object that could not be read as the block its key names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// The block index its key names.
    pub index: u64,
    /// Why.
    pub reason: String,
}

/// What [`audit_archive`] found in one archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArchiveAudit {
    /// The archive (its URL).
    pub archive: String,
    /// True when the archive was listed; false when it was probed index by index (HTTP),
    /// so that blocks far past the ledger's height are not seen.
    pub listed: bool,
    /// The first index audited.
    pub from: u64,
    /// The ledger's height (blocks `0..height`).
    pub ledger_height: u64,
    /// Block objects found at or after `from`.
    pub blocks_present: u64,
    /// Bundle objects found (counted, not opened).
    pub bundles_present: u64,
    /// Blocks `from..contiguous_height` are all present.
    pub contiguous_height: u64,
    /// The highest block index present, if any.
    pub highest_present: Option<u64>,
    /// How many blocks the archive is behind the ledger (`ledger_height -
    /// contiguous_height`, 0 when not behind).
    pub lag: u64,
    /// Missing block indexes below the highest present one (at most [`MAX_LISTED`]).
    pub holes: Vec<u64>,
    /// How many.
    pub holes_count: u64,
    /// Blocks present at or past the ledger's height (at most [`MAX_LISTED`]).
    pub beyond_ledger: Vec<Extra>,
    /// How many.
    pub beyond_ledger_count: u64,
    /// Blocks whose id differs from the ledger's (at most [`MAX_LISTED`]).
    pub divergent: Vec<Divergence>,
    /// How many.
    pub divergent_count: u64,
    /// Objects that did not decode, or hold another index than their key.
    pub unreadable: Vec<Unreadable>,
}

impl ArchiveAudit {
    /// Every problem, one line each: holes, divergence, unreadable objects, blocks past
    /// the ledger, and a lag above `max_lag`.
    pub fn problems(&self, max_lag: u64) -> Vec<String> {
        let mut out = Vec::new();
        if self.divergent_count > 0 {
            out.push(format!(
                "{}: {} block(s) differ from the ledger, the first at index {}",
                self.archive,
                self.divergent_count,
                self.divergent.first().map_or(0, |d| d.index)
            ));
        }
        if self.holes_count > 0 {
            out.push(format!(
                "{}: {} hole(s), the first at index {}",
                self.archive,
                self.holes_count,
                self.holes.first().copied().unwrap_or(0)
            ));
        }
        if !self.unreadable.is_empty() {
            out.push(format!(
                "{}: {} unreadable object(s), the first block {}: {}",
                self.archive,
                self.unreadable.len(),
                self.unreadable[0].index,
                self.unreadable[0].reason
            ));
        }
        if self.beyond_ledger_count > 0 {
            out.push(format!(
                "{}: {} block(s) past the ledger's height {} (a rolled-back ledger whose archive was not: see the withdraw list)",
                self.archive, self.beyond_ledger_count, self.ledger_height
            ));
        }
        if self.lag > max_lag {
            out.push(format!(
                "{}: {} block(s) behind the ledger (more than {max_lag})",
                self.archive, self.lag
            ));
        }
        out
    }
}

/// Audits `store` against a ledger whose block ids from index `from` on are `ledger_ids`
/// (`ledger_ids[i]` is block `from + i`).
pub async fn audit_archive<S: ArchiveStore>(
    store: &S,
    from: u64,
    ledger_ids: &[BlockId],
) -> Result<ArchiveAudit, ArchiveError> {
    let ledger_height = from + ledger_ids.len() as u64;
    let (listed, mut indexes, bundles) = match store.list().await {
        Ok(keys) => {
            let mut blocks = Vec::new();
            let mut bundles = 0u64;
            for key in keys {
                match parse_key(&key) {
                    Some(KeyKind::Block(i)) if i >= from => blocks.push(i),
                    Some(KeyKind::Bundle { .. }) => bundles += 1,
                    _ => {}
                }
            }
            (true, blocks, bundles)
        }
        Err(StoreError::Permanent { op: "list", .. }) => {
            let probe: Vec<u64> = (from..ledger_height + PROBE_PAST_LEDGER).collect();
            let found: Vec<Result<Option<u64>, StoreError>> = stream::iter(probe)
                .map(|i| async move { Ok(store.exists(&block_key(i)).await?.then_some(i)) })
                .buffered(CONCURRENCY)
                .collect()
                .await;
            let mut blocks = Vec::new();
            for f in found {
                if let Some(i) = f? {
                    blocks.push(i);
                }
            }
            (false, blocks, 0)
        }
        Err(e) => return Err(e.into()),
    };
    indexes.sort_unstable();
    indexes.dedup();

    let fetched: Vec<(u64, Result<Option<bytes::Bytes>, StoreError>)> =
        stream::iter(indexes.iter().copied())
            .map(|i| async move { (i, store.get(&block_key(i)).await) })
            .buffered(CONCURRENCY)
            .collect()
            .await;

    let mut divergent = Vec::new();
    let mut divergent_count = 0u64;
    let mut beyond = Vec::new();
    let mut beyond_count = 0u64;
    let mut unreadable = Vec::new();
    let mut present = Vec::with_capacity(fetched.len());
    for (i, got) in fetched {
        let Some(bytes) = got? else {
            // Deleted between the listing and the read: a hole.
            continue;
        };
        present.push(i);
        let block = match decode_block_object(&bytes) {
            Ok(b) => b.block,
            Err(e) => {
                unreadable.push(Unreadable {
                    index: i,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if block.index != i {
            unreadable.push(Unreadable {
                index: i,
                reason: format!("the object holds block {}", block.index),
            });
            continue;
        }
        match ledger_ids.get((i - from) as usize) {
            Some(id) if *id == block.id => {}
            Some(id) => {
                divergent_count += 1;
                if divergent.len() < MAX_LISTED {
                    divergent.push(Divergence {
                        index: i,
                        ledger_id: id.to_string(),
                        archive_id: block.id.to_string(),
                    });
                }
            }
            None => {
                beyond_count += 1;
                if beyond.len() < MAX_LISTED {
                    beyond.push(Extra {
                        index: i,
                        block_id: block.id.to_string(),
                    });
                }
            }
        }
    }

    let highest_present = present.last().copied();
    let mut holes = Vec::new();
    let mut holes_count = 0u64;
    let mut contiguous_height = from;
    let mut expected = from;
    for &i in &present {
        if i == contiguous_height {
            contiguous_height += 1;
        }
        for missing in expected..i {
            holes_count += 1;
            if holes.len() < MAX_LISTED {
                holes.push(missing);
            }
        }
        expected = i + 1;
    }
    Ok(ArchiveAudit {
        archive: store.describe(),
        listed,
        from,
        ledger_height,
        blocks_present: present.len() as u64,
        bundles_present: bundles,
        contiguous_height,
        highest_present,
        lag: ledger_height.saturating_sub(contiguous_height),
        holes,
        holes_count,
        beyond_ledger: beyond,
        beyond_ledger_count: beyond_count,
        divergent,
        divergent_count,
        unreadable,
    })
}
