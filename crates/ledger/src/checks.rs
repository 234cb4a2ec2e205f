//! The rules `append_block` enforces, shared by every implementation.

use mcnode_blockchain::{
    Block, BlockContents, BlockId, BlockMetadata, BlockSignature, MAX_BLOCK_VERSION,
};
use mcnode_crypto::{CompressedPoint, KeyImage};

use crate::{AppendError, LedgerError};

/// What the checks read from a ledger's current state.
pub(crate) trait AppendState {
    /// The last block, `None` when empty.
    fn last_block(&self) -> Result<Option<Block>, LedgerError>;
    /// The block that spent `key_image`.
    fn spent_in(&self, key_image: &KeyImage) -> Result<Option<u64>, LedgerError>;
    /// The index of the output with `target_key`; `None` also when the state cannot tell
    /// (schema 1 had no index by target key).
    fn output_index(&self, target_key: &CompressedPoint) -> Result<Option<u64>, LedgerError>;
}

/// Every rule except the root element (which needs the appended tree), in this order:
/// outputs present, contents sorted, contents hash, version (known, not below the
/// parent's), index, parent, cumulative
/// count, block id, signature, metadata, key images unspent, outputs new.
pub(crate) fn check_block<S: AppendState>(
    state: &S,
    block: &Block,
    contents: &BlockContents,
    signature: Option<&BlockSignature>,
    metadata: Option<&BlockMetadata>,
) -> Result<(), LedgerError> {
    if contents.outputs.is_empty() {
        return Err(AppendError::NoOutputs.into());
    }
    if !contents.is_sorted() {
        return Err(AppendError::UnsortedContents.into());
    }
    if contents.hash() != block.contents_hash {
        return Err(AppendError::ContentsHashMismatch.into());
    }
    if block.version == 0 || block.version > MAX_BLOCK_VERSION {
        return Err(AppendError::UnsupportedVersion {
            got: block.version,
            supported: MAX_BLOCK_VERSION,
        }
        .into());
    }
    let last = state.last_block()?;
    if let Some(parent) = &last {
        if block.version < parent.version {
            return Err(AppendError::VersionBelowParent {
                parent: parent.version,
                got: block.version,
            }
            .into());
        }
    }
    let (expected_index, expected_parent, previous_count) = match &last {
        None => (0, BlockId::default(), 0),
        Some(b) => (b.index + 1, b.id, b.cumulative_txo_count),
    };
    if block.index != expected_index {
        return Err(AppendError::WrongIndex {
            expected: expected_index,
            got: block.index,
        }
        .into());
    }
    if block.parent_id != expected_parent {
        return Err(AppendError::WrongParent {
            expected: expected_parent,
            got: block.parent_id,
        }
        .into());
    }
    let expected_count = previous_count + contents.outputs.len() as u64;
    if block.cumulative_txo_count != expected_count {
        return Err(AppendError::WrongCumulativeCount {
            expected: expected_count,
            got: block.cumulative_txo_count,
        }
        .into());
    }
    if !block.is_id_valid() {
        return Err(AppendError::InvalidBlockId(block.id).into());
    }
    if let Some(sig) = signature {
        sig.verify(block).map_err(|_| AppendError::BadSignature)?;
    }
    if let Some(meta) = metadata {
        if meta.contents.block_id != block.id {
            return Err(AppendError::MetadataForOtherBlock {
                expected: block.id,
                got: meta.contents.block_id,
            }
            .into());
        }
        meta.verify()
            .map_err(|_| AppendError::BadMetadataSignature)?;
    }
    for ki in &contents.key_images {
        if let Some(spent) = state.spent_in(ki)? {
            return Err(AppendError::KeyImageSpent {
                key_image: *ki,
                block: spent,
            }
            .into());
        }
    }
    for o in &contents.outputs {
        if let Some(index) = state.output_index(&o.target_key)? {
            return Err(AppendError::DuplicateOutput {
                target_key: o.target_key,
                index,
            }
            .into());
        }
    }
    Ok(())
}
