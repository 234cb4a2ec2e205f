//! Checking an archive block against its predecessor before anyone uses it.

use mcnode_blockchain::{ArchiveBlock, Block, BlockId};

use crate::error::InvalidObject;

/// Checks `a`, which should be block `index`, against `prev` (the block before it; `None`
/// for the origin block, or when the caller starts mid-chain and has no predecessor, in
/// which case linkage and the cumulative count cannot be checked):
/// index, block id, parent id, cumulative output count, contents hash, the enclave's
/// signature and the node's metadata when present.
///
/// Signatures are checked for validity, not against a list of trusted signers: which
/// enclaves may sign is the consensus layer's decision.
pub fn verify_block(
    prev: Option<&Block>,
    index: u64,
    a: &ArchiveBlock,
) -> Result<(), InvalidObject> {
    let b = &a.block;
    if b.index != index {
        return Err(InvalidObject::WrongIndex {
            expected: index,
            got: b.index,
        });
    }
    if !b.is_id_valid() {
        return Err(InvalidObject::BadBlockId(b.id));
    }
    let outputs = a.contents.outputs.len() as u64;
    match prev {
        Some(p) => {
            if b.parent_id != p.id || p.index.checked_add(1) != Some(index) {
                return Err(InvalidObject::WrongParent {
                    expected: p.id,
                    got: b.parent_id,
                });
            }
            let expected = p.cumulative_txo_count.saturating_add(outputs);
            if b.cumulative_txo_count != expected {
                return Err(InvalidObject::CumulativeCount {
                    expected,
                    got: b.cumulative_txo_count,
                });
            }
        }
        None if index == 0 => {
            if b.parent_id != BlockId::default() {
                return Err(InvalidObject::WrongParent {
                    expected: BlockId::default(),
                    got: b.parent_id,
                });
            }
            if b.cumulative_txo_count != outputs {
                return Err(InvalidObject::CumulativeCount {
                    expected: outputs,
                    got: b.cumulative_txo_count,
                });
            }
        }
        None => {}
    }
    if a.contents.hash() != b.contents_hash {
        return Err(InvalidObject::ContentsHash);
    }
    if let Some(sig) = &a.signature {
        sig.verify(b).map_err(|_| InvalidObject::BadSignature)?;
    }
    if let Some(meta) = &a.metadata {
        if meta.contents.block_id != b.id {
            return Err(InvalidObject::BadMetadata("names another block"));
        }
        meta.verify()
            .map_err(|_| InvalidObject::BadMetadata("signature does not verify"))?;
    }
    Ok(())
}
