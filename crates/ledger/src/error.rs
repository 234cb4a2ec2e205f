//! The ledger's errors.

use mcnode_blockchain::{BlockId, DecodeError};
use mcnode_crypto::{CompressedPoint, KeyImage};

/// Why [`Ledger::append_block`](crate::Ledger::append_block) refused a block. The ledger is
/// unchanged after any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The block adds no outputs (every block, the origin included, must add at least one).
    #[error("block has no outputs")]
    NoOutputs,
    /// Key images or outputs are not strictly ascending (unsorted or repeated).
    #[error("block contents are not sorted (or repeat a key image or an output)")]
    UnsortedContents,
    /// The block's contents hash is not the hash of the contents given with it.
    #[error("block contents hash does not match the contents")]
    ContentsHashMismatch,
    /// The block's version is not one this build knows.
    #[error(
        "block version {got} is not supported (this build knows 1..={supported}): a newer \
         mcnode wrote it"
    )]
    UnsupportedVersion {
        /// The block's version.
        got: u32,
        /// The highest version this build knows.
        supported: u32,
    },
    /// The block's version is lower than its parent's: versions never go back.
    #[error("block version {got} is lower than its parent's version {parent}")]
    VersionBelowParent {
        /// The parent's version.
        parent: u32,
        /// The block's version.
        got: u32,
    },
    /// The block's index is not the ledger's next index.
    #[error("block index {got}, expected {expected}")]
    WrongIndex {
        /// The ledger's next index (its number of blocks).
        expected: u64,
        /// The block's index.
        got: u64,
    },
    /// The block's parent id is not the last block's id (or not all zeros for the origin).
    #[error("block parent {got}, expected {expected}")]
    WrongParent {
        /// The last block's id (zeros for the origin block).
        expected: BlockId,
        /// The block's parent id.
        got: BlockId,
    },
    /// The block's cumulative output count is not the previous count plus its outputs.
    #[error("cumulative output count {got}, expected {expected}")]
    WrongCumulativeCount {
        /// Previous count plus this block's outputs.
        expected: u64,
        /// The block's count.
        got: u64,
    },
    /// The block id is not the hash of the block's fields.
    #[error("block id {0} is not the hash of the block's fields")]
    InvalidBlockId(BlockId),
    /// A key image in the block was already spent in an earlier block.
    #[error("key image {key_image:?} already spent in block {block}")]
    KeyImageSpent {
        /// The key image.
        key_image: KeyImage,
        /// The block that spent it.
        block: u64,
    },
    /// An output's target key ("output public key") is already in the ledger.
    #[error("output target key {target_key} already in the ledger at index {index}")]
    DuplicateOutput {
        /// The target key.
        target_key: CompressedPoint,
        /// The global index of the output that has it.
        index: u64,
    },
    /// The block's TxOut root is not the root the ledger has after appending its outputs.
    #[error("block root element does not match the ledger's root after its outputs")]
    WrongRootElement,
    /// The block signature does not verify.
    #[error("block signature does not verify")]
    BadSignature,
    /// The metadata names another block.
    #[error("block metadata is for block {got}, not {expected}")]
    MetadataForOtherBlock {
        /// The block's id.
        expected: BlockId,
        /// The id in the metadata.
        got: BlockId,
    },
    /// The metadata signature does not verify.
    #[error("block metadata signature does not verify")]
    BadMetadataSignature,
}

/// A ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The block was refused; nothing was written.
    #[error("block refused: {0}")]
    Refused(#[from] AppendError),
    /// A write to the store failed (disk full, IO error, map full). **Fatal**: the node must
    /// stop. The transaction was aborted, so the ledger on disk is at the last block that
    /// committed; restart recovers from there.
    #[error(
        "ledger write failed (fatal: stop and restart; the last committed block is intact): {0}"
    )]
    WriteFailed(heed::Error),
    /// A read from the store failed.
    #[error("ledger read failed: {0}")]
    ReadFailed(heed::Error),
    /// The ledger directory could not be opened or created.
    #[error("cannot open ledger at {path}: {source}")]
    Open {
        /// The directory.
        path: String,
        /// Why.
        source: heed::Error,
    },
    /// The directory holds no mcnode ledger (no metadata table or no schema version).
    #[error("{0} holds no mcnode ledger (create one with `mcnode origin-block`)")]
    NotALedger(String),
    /// The directory already holds a ledger (on create).
    #[error("{0} already holds a ledger")]
    AlreadyExists(String),
    /// The ledger's schema is not the one this build reads.
    #[error(
        "ledger schema version {found}, this build reads version {expected}: run \
         `mc-ledger-migration --ledger-db <path>` (take a `mcnode ledger snapshot` first)"
    )]
    SchemaMismatch {
        /// The ledger's schema version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// A stored value does not decode: the ledger file is corrupt.
    #[error("corrupt ledger: table {table}, key {key}: {source}")]
    Decode {
        /// The table.
        table: &'static str,
        /// The key, hex.
        key: String,
        /// Why.
        source: DecodeError,
    },
    /// The stored data is inconsistent (a missing entry, a key or value of the wrong size).
    #[error("corrupt ledger: {0}")]
    Corrupt(String),
    /// No block with that index.
    #[error("no block {index} (the ledger has {num_blocks})")]
    NoSuchBlock {
        /// Asked for.
        index: u64,
        /// Blocks in the ledger.
        num_blocks: u64,
    },
    /// No output with that global index.
    #[error("no output {index} (the ledger has {num_txos})")]
    NoSuchTxOut {
        /// Asked for.
        index: u64,
        /// Outputs in the ledger.
        num_txos: u64,
    },
    /// The ledger has no blocks yet.
    #[error("the ledger is empty")]
    Empty,
    /// A rollback target outside `1..=num_blocks`.
    #[error("cannot roll back to {to} blocks (the ledger has {num_blocks}; the origin stays)")]
    BadRollback {
        /// Blocks to keep.
        to: u64,
        /// Blocks in the ledger.
        num_blocks: u64,
    },
    /// Filesystem error outside LMDB (creating directories, snapshot target).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl LedgerError {
    /// True when the node must stop rather than go on: a failed write or a corrupt store.
    /// A refused block or a lookup of something absent is not fatal.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::WriteFailed(_) | Self::Decode { .. } | Self::Corrupt(_)
        )
    }
}

/// Why [`verify`](crate::LmdbLedger::verify) rejected a ledger: the first bad block and what
/// is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A block failed a check.
    #[error("block {index}: {reason}")]
    BadBlock {
        /// The first bad block.
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// A check across tables failed (an index or Merkle node that no block explains).
    #[error("ledger tables: {0}")]
    BadTables(String),
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Why a schema migration failed. Each step runs in one LMDB write transaction, so a
/// failure leaves the ledger at the version of the last step that committed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The ledger could not be opened or read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The target version is not one this build knows.
    #[error("unknown schema version {target} (this build knows 1..={current})")]
    UnknownVersion {
        /// Asked for.
        target: u32,
        /// The newest version.
        current: u32,
    },
    /// The ledger's version is newer than this build knows (a newer mcnode wrote it).
    #[error(
        "ledger schema version {found} is newer than this build ({current}): use the newer \
         mcnode's mc-ledger-migration to step it down"
    )]
    TooNew {
        /// The ledger's version.
        found: u32,
        /// The newest version this build knows.
        current: u32,
    },
    /// A step found data it cannot migrate.
    #[error("migration {from} -> {to} failed: {reason}")]
    StepFailed {
        /// Version before the step.
        from: u32,
        /// Version after the step.
        to: u32,
        /// Why.
        reason: String,
    },
}
