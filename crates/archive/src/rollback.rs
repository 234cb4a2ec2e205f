//! Removing published blocks and bundles above a height (`mcnode archive rollback`).

use crate::{
    error::ArchiveError,
    layout::{parse_key, KeyKind},
    store::ArchiveStore,
};

/// What [`rollback`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollbackReport {
    /// Block objects deleted.
    pub blocks_deleted: u64,
    /// Bundle objects deleted.
    pub bundles_deleted: u64,
    /// Keys left alone because they are not archive objects.
    pub foreign_keys: u64,
}

/// Deletes every block object with index `>= keep` and every bundle that holds such a
/// block, so the archive holds blocks `0..keep` (the same meaning as
/// `mcnode ledger rollback --to`). Lists the store once; bundles go first, then blocks
/// from the highest down, so an interruption leaves a shorter but consistent archive.
pub async fn rollback<S: ArchiveStore>(
    store: &S,
    keep: u64,
) -> Result<RollbackReport, ArchiveError> {
    let mut report = RollbackReport::default();
    let mut bundles = Vec::new();
    let mut blocks = Vec::new();
    for key in store.list().await? {
        match parse_key(&key) {
            Some(KeyKind::Block(i)) if i >= keep => blocks.push((i, key)),
            Some(KeyKind::Bundle { bucket, first }) if first.saturating_add(bucket) > keep => {
                bundles.push(key)
            }
            Some(_) => {}
            None => report.foreign_keys += 1,
        }
    }
    for key in bundles {
        store.delete(&key).await?;
        report.bundles_deleted += 1;
    }
    blocks.sort_unstable_by_key(|b| std::cmp::Reverse(b.0));
    for (_, key) in blocks {
        store.delete(&key).await?;
        report.blocks_deleted += 1;
    }
    Ok(report)
}
