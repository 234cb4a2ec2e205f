//! [`LocalLedger`]: the wallet's own LMDB copy of the ledger, synced from a node (or an
//! archive), every block verified against its predecessor before it is appended.

use std::{path::Path, sync::Arc};

use mcnode_archive::{
    verify::verify_block, AnyStore, ArchiveMetrics, ArchiveReader, ArchiveUrl, S3Config,
};
use mcnode_blockchain::ArchiveBlock;
use mcnode_ledger::{Ledger, LmdbLedger};

use crate::{
    client::{NodeTip, BLOCKS_PER_REQUEST},
    NodeClient, WalletError,
};

/// Bundle sizes looked for when syncing from an archive (the writer's defaults).
const ARCHIVE_BUCKETS: [u64; 3] = [100, 1000, 10_000];

/// What a sync did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// Local height before.
    pub from: u64,
    /// Local height after.
    pub to: u64,
    /// The node's tip as it answered (absent when syncing from an archive).
    pub tip: Option<NodeTip>,
}

impl SyncReport {
    /// Blocks appended (0 when the copy was cut back to a node's shorter ledger).
    pub fn appended(&self) -> u64 {
        self.to.saturating_sub(self.from)
    }

    /// Blocks removed to follow a node whose ledger is shorter than the local copy.
    pub fn cut_back(&self) -> u64 {
        self.from.saturating_sub(self.to)
    }
}

/// A local copy of the ledger (LMDB, in a directory the caller picks). Cheap to clone:
/// clones share the environment.
#[derive(Clone, Debug)]
pub struct LocalLedger {
    ledger: Arc<LmdbLedger>,
}

impl LocalLedger {
    /// Opens the ledger copy in `path`, creating an empty one if there is none.
    pub fn open_or_create(path: impl AsRef<Path>) -> Result<Self, WalletError> {
        let path = path.as_ref();
        let ledger = if path.join("data.mdb").exists() {
            LmdbLedger::open(path)?
        } else {
            LmdbLedger::create(path)?
        };
        Ok(Self::from_ledger(ledger))
    }

    /// Wraps an open LMDB ledger.
    pub fn from_ledger(ledger: LmdbLedger) -> Self {
        Self {
            ledger: Arc::new(ledger),
        }
    }

    /// The ledger: a [`Ledger`], and so a
    /// [`LedgerView`](mcnode_transaction::LedgerView) for `validate()`.
    pub fn ledger(&self) -> &LmdbLedger {
        &self.ledger
    }

    /// Blocks in the local copy.
    pub fn height(&self) -> Result<u64, WalletError> {
        Ok(self.ledger.num_blocks()?)
    }

    /// The sync core: appends `blocks`, which must continue the local copy (the first is
    /// block `height()`), verifying each against its predecessor first
    /// ([`verify_block`]: index, id, parent, cumulative count, contents hash, signatures).
    /// On an empty copy the first block must be a valid origin block. Stops at the first
    /// bad block with [`WalletError::Verify`] (or [`WalletError::Append`] when the ledger's
    /// own checks refuse it), naming its index; blocks before it stay appended, nothing of
    /// it is written. Returns the new height.
    pub fn apply_blocks(&self, blocks: &[ArchiveBlock]) -> Result<u64, WalletError> {
        let mut height = self.height()?;
        let mut prev = match height {
            0 => None,
            _ => Some(self.ledger.last_block()?),
        };
        for a in blocks {
            verify_block(prev.as_ref(), height, a).map_err(|reason| WalletError::Verify {
                index: height,
                reason,
            })?;
            self.ledger
                .append_block(
                    &a.block,
                    &a.contents,
                    a.signature.as_ref(),
                    a.metadata.as_ref(),
                )
                .map_err(|reason| WalletError::Append {
                    index: height,
                    reason,
                })?;
            prev = Some(a.block.clone());
            height += 1;
        }
        Ok(height)
    }

    /// Brings the local copy up to the node's height: checks the node's origin block is
    /// the local one (an empty copy takes the node's), fetches the missing blocks in
    /// chunks, verifies and appends them ([`Self::apply_blocks`]), then checks the node's
    /// last block is the local block at that index ([`WalletError::Diverged`] otherwise).
    /// A local copy longer than the node's ledger (the node is behind, or its ledger was
    /// rolled back) is cut back to the node's height.
    pub async fn sync_from_node(&self, node: &NodeClient) -> Result<SyncReport, WalletError> {
        let from = self.height()?;
        let tip = node.last_block_info().await?;
        if from > 0 {
            let local = self.ledger.block(0)?.id;
            let remote = node.origin_block_id().await?;
            if local != remote {
                return Err(WalletError::OriginMismatch {
                    local,
                    node: remote,
                });
            }
        }
        let mut height = from;
        while height < tip.height() {
            let want = (tip.height() - height).min(u64::from(BLOCKS_PER_REQUEST));
            let limit = u32::try_from(want).unwrap_or(BLOCKS_PER_REQUEST);
            let blocks = node.block_data(height, limit).await?;
            if blocks.is_empty() {
                return Err(WalletError::BadResponse {
                    method: "GetBlockData",
                    reason: format!(
                        "no blocks from {height} on, though the node reports height {}",
                        tip.height()
                    ),
                });
            }
            height = self.apply_blocks(&blocks)?;
        }
        if tip.index < height {
            let local = self.ledger.block(tip.index)?.id;
            if local != tip.block_id {
                return Err(WalletError::Diverged {
                    index: tip.index,
                    local,
                    node: tip.block_id,
                });
            }
        }
        if tip.height() < height {
            // The node's ledger ends inside the local copy: the node is behind (another
            // node served the rest) or its ledger was rolled back. Follow it: membership
            // proofs made over blocks it does not have would be refused, so the copy is
            // cut back to the node's height (a later sync fetches any blocks again).
            self.ledger.rollback(tip.height())?;
            height = tip.height();
        }
        Ok(SyncReport {
            from,
            to: height,
            tip: Some(tip),
        })
    }

    /// Brings the local copy up to an archive's end (`s3://…`, `file:///…`, `https://…`),
    /// every block verified against its predecessor; an empty copy takes the archive's
    /// origin block. S3 credentials come from the AWS environment.
    pub async fn sync_from_archive(&self, url: &ArchiveUrl) -> Result<SyncReport, WalletError> {
        mcnode_archive::install_crypto_provider();
        let store = AnyStore::open(url, &S3Config::from_env())
            .map_err(mcnode_archive::ArchiveError::from)?;
        let reader = ArchiveReader::new(store, &ARCHIVE_BUCKETS, ArchiveMetrics::default());
        let report = reader
            .sync_ledger(Arc::clone(&self.ledger), None, |_| {})
            .await?;
        Ok(SyncReport {
            from: report.from,
            to: report.to,
            tip: None,
        })
    }
}
