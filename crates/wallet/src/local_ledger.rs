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
    /// The primary node's tip as it answered (absent when syncing from an archive, or
    /// when the primary did not answer).
    pub tip: Option<NodeTip>,
    /// The height a quorum of the known nodes reached (absent from an archive, or when
    /// fewer than a quorum answered).
    pub quorum_height: Option<u64>,
    /// Nodes that answered.
    pub answered: usize,
}

impl SyncReport {
    /// Blocks appended (0 when the copy was cut back to a node's shorter ledger).
    pub fn appended(&self) -> u64 {
        self.to.saturating_sub(self.from)
    }

    /// Blocks removed to follow a quorum of nodes whose ledgers are shorter than the local
    /// copy (a rollback).
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

    /// [`Self::sync_from_nodes`] with `node` as the only node the wallet knows (so it is
    /// its own quorum: the copy follows it, also down when its ledger is shorter).
    pub async fn sync_from_node(&self, node: &NodeClient) -> Result<SyncReport, WalletError> {
        self.sync_from_nodes(node, &[], 1).await
    }

    /// Brings the local copy to the highest height that `quorum` of the nodes the wallet
    /// knows (`primary` and `others`) have reached, asking them all for their tips at
    /// once (each call under its deadline; nodes that do not answer are left out).
    ///
    /// * The origin block must be the local one (an empty copy takes the node's).
    /// * Missing blocks up to that height are fetched in chunks (from `primary` if it has
    ///   them, else from the highest node), verified and appended
    ///   ([`Self::apply_blocks`]); the source's last block must be the local block at
    ///   that index ([`WalletError::Diverged`] otherwise).
    /// * A node that is merely behind (restarted, slow) never moves the copy back. The
    ///   copy is cut back only when a quorum of the known nodes is below it, which is a
    ///   real rollback of the network (membership proofs over blocks a quorum does not
    ///   have would be refused); a later sync fetches any blocks again.
    /// * With fewer than `quorum` nodes answering, nothing changes (the report says so).
    ///
    /// `quorum` is clamped to `1..=` the number of nodes.
    pub async fn sync_from_nodes(
        &self,
        primary: &NodeClient,
        others: &[NodeClient],
        quorum: usize,
    ) -> Result<SyncReport, WalletError> {
        let from = self.height()?;
        let nodes: Vec<&NodeClient> = std::iter::once(primary).chain(others).collect();
        let quorum = quorum.clamp(1, nodes.len());
        let answers =
            futures_util::future::join_all(nodes.iter().map(|n| n.last_block_info())).await;
        let mut tips: Vec<(usize, NodeTip)> = Vec::new();
        let mut first_error = None;
        for (i, a) in answers.into_iter().enumerate() {
            match a {
                Ok(tip) => tips.push((i, tip)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let primary_tip = tips.iter().find(|(i, _)| *i == 0).map(|(_, t)| *t);
        if tips.len() < quorum {
            // No quorum to follow: a lone node, or none, answered.
            return match first_error {
                Some(e) if tips.is_empty() || quorum == 1 => Err(e),
                _ => Ok(SyncReport {
                    from,
                    to: from,
                    tip: primary_tip,
                    quorum_height: None,
                    answered: tips.len(),
                }),
            };
        }
        let mut heights: Vec<u64> = tips.iter().map(|(_, t)| t.height()).collect();
        heights.sort_unstable_by(|a, b| b.cmp(a));
        let target = heights[quorum - 1];
        // The source: the primary if it has the target height, else the highest node.
        let (source, tip) = match primary_tip {
            Some(t) if t.height() >= target => (primary, t),
            _ => {
                let (i, t) = tips
                    .iter()
                    .max_by_key(|(_, t)| t.height())
                    .copied()
                    .unwrap_or_else(|| unreachable!("at least `quorum` >= 1 tips"));
                (nodes[i], t)
            }
        };
        if from > 0 {
            let local = self.ledger.block(0)?.id;
            let remote = source.origin_block_id().await?;
            if local != remote {
                return Err(WalletError::OriginMismatch {
                    local,
                    node: remote,
                });
            }
        }
        let mut height = from;
        while height < target {
            let want = (target - height).min(u64::from(BLOCKS_PER_REQUEST));
            let limit = u32::try_from(want).unwrap_or(BLOCKS_PER_REQUEST);
            let blocks = source.block_data(height, limit).await?;
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
        if target < height {
            // A quorum of the known nodes ends inside the local copy: the network was
            // rolled back. Follow it.
            self.ledger.rollback(target)?;
            height = target;
        }
        Ok(SyncReport {
            from,
            to: height,
            tip: primary_tip,
            quorum_height: Some(target),
            answered: tips.len(),
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
            quorum_height: None,
            answered: 0,
        })
    }
}
