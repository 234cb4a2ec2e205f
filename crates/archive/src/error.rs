//! The archive's errors.

use std::path::PathBuf;

use mcnode_blockchain::{BlockId, DecodeError};
use mcnode_ledger::LedgerError;

use crate::{layout::BundleDecodeError, store::StoreError};

/// Why an archive object was refused. The enclosing [`ArchiveError::InvalidObject`] names
/// the object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidObject {
    /// The block record does not decode.
    #[error("does not decode: {0}")]
    Decode(DecodeError),
    /// The bundle does not decode.
    #[error("bundle does not decode: {0}")]
    Bundle(BundleDecodeError),
    /// The bundle's first index is not the one its key names.
    #[error("bundle starts at block {got}, its key says {expected}")]
    BundleStart {
        /// From the key.
        expected: u64,
        /// From the bundle.
        got: u64,
    },
    /// The bundle holds another number of blocks than its size.
    #[error("bundle holds {got} blocks, expected {expected}")]
    BundleLength {
        /// The bundle size.
        expected: u64,
        /// Blocks in it.
        got: u64,
    },
    /// The object holds another block than its key names.
    #[error("holds block {got}, expected block {expected}")]
    WrongIndex {
        /// From the key (or position in the bundle).
        expected: u64,
        /// The block's index.
        got: u64,
    },
    /// The block id is not the hash of the block's fields.
    #[error("block id {0} is not the hash of the block's fields")]
    BadBlockId(BlockId),
    /// The block's parent is not the previous block (out of chain).
    #[error("out of chain: parent id {got} is not the previous block's id {expected}")]
    WrongParent {
        /// The previous block's id.
        expected: BlockId,
        /// The block's parent id.
        got: BlockId,
    },
    /// The contents do not hash to the block's contents hash.
    #[error("contents hash does not match the contents")]
    ContentsHash,
    /// The cumulative output count does not add up.
    #[error("cumulative output count {got}, expected {expected}")]
    CumulativeCount {
        /// Previous count plus this block's outputs.
        expected: u64,
        /// The block's count.
        got: u64,
    },
    /// The enclave's block signature does not verify.
    #[error("block signature does not verify")]
    BadSignature,
    /// The node's metadata names another block or does not verify.
    #[error("block metadata {0}")]
    BadMetadata(&'static str),
}

/// Errors of the archive's readers, writer and tools.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The store failed (see [`StoreError::is_fatal`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An object failed verification; nothing from it was used.
    #[error("archive object {store}/{key} refused (block {index}): {reason}")]
    InvalidObject {
        /// The store (URL).
        store: String,
        /// The object's key.
        key: String,
        /// The block being checked.
        index: u64,
        /// What is wrong.
        reason: Box<InvalidObject>,
    },
    /// The local ledger failed.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The ledger refused a verified archive block (e.g. a spent key image).
    #[error("ledger refused block {index} from archive object {key}: {source}")]
    Append {
        /// The object's key.
        key: String,
        /// The block.
        index: u64,
        /// The ledger's reason.
        source: LedgerError,
    },
    /// The archive already holds a different object where the writer would put one: it
    /// belongs to another chain, or the ledger was rolled back without the archive.
    #[error(
        "archive object {store}/{key} differs from what the ledger gives for block {index}: \
         --dest points at another network's archive, or the ledger was rolled back without \
         `mcnode archive rollback`"
    )]
    Conflict {
        /// The store (URL).
        store: String,
        /// The object's key.
        key: String,
        /// The block (first block for a bundle).
        index: u64,
    },
    /// The state file cannot be read or written.
    #[error("state file {path}: {reason}")]
    StateFile {
        /// Its path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A background task failed.
    #[error("internal task failed: {0}")]
    Task(String),
}

impl ArchiveError {
    pub(crate) fn invalid(store: &str, key: &str, index: u64, reason: InvalidObject) -> Self {
        ArchiveError::InvalidObject {
            store: store.to_string(),
            key: key.to_string(),
            index,
            reason: Box::new(reason),
        }
    }
}
