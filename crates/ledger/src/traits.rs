//! The [`Ledger`] trait.

use mcnode_blockchain::{
    Block, BlockContents, BlockId, BlockMetadata, BlockSignature, BLOCK_VERSION,
};
use mcnode_crypto::{CompressedPoint, KeyImage};
use mcnode_transaction::{
    membership::RootElement, LedgerView, LedgerViewError, TxOut, TxOutMembershipProof,
};

use crate::LedgerError;

/// A blockchain of blocks holding outputs and key images, with the TxOut Merkle tree.
///
/// Blocks are appended one at a time, each atomically with its contents, signature and
/// metadata; [`append_block`](Self::append_block) checks every rule of
/// [`AppendError`](crate::AppendError) first and leaves the ledger untouched if one fails.
/// Lookups by index, key image and target key, and membership proofs, take O(log n) reads.
/// Implementations are shared between threads (`&self` everywhere): the store serializes
/// writers.
pub trait Ledger: LedgerView + Send + Sync {
    /// Appends `block` with its `contents` and, except for the origin block usually, the
    /// enclave's `signature` and the node's `metadata`, in one atomic write. A
    /// [`LedgerError::is_fatal`] error means the node must stop.
    fn append_block(
        &self,
        block: &Block,
        contents: &BlockContents,
        signature: Option<&BlockSignature>,
        metadata: Option<&BlockMetadata>,
    ) -> Result<(), LedgerError>;

    /// Number of blocks (the next block's index).
    fn num_blocks(&self) -> Result<u64, LedgerError>;

    /// Number of outputs (the next output's global index).
    fn num_txos(&self) -> Result<u64, LedgerError>;

    /// The block at `index`.
    fn block(&self, index: u64) -> Result<Block, LedgerError>;

    /// The contents of the block at `index`.
    fn block_contents(&self, index: u64) -> Result<BlockContents, LedgerError>;

    /// The enclave's signature of the block at `index`, if it was stored with one.
    fn block_signature(&self, index: u64) -> Result<Option<BlockSignature>, LedgerError>;

    /// The node's metadata of the block at `index`, if it was stored with some.
    fn block_metadata(&self, index: u64) -> Result<Option<BlockMetadata>, LedgerError>;

    /// The index of the block that spent `key_image`, `None` if unspent.
    fn key_image_block(&self, key_image: &KeyImage) -> Result<Option<u64>, LedgerError>;

    /// The output with global index `index`.
    fn tx_out(&self, index: u64) -> Result<TxOut, LedgerError>;

    /// The global index of the output whose target key ("output public key") is
    /// `target_key`.
    fn tx_out_index(&self, target_key: &CompressedPoint) -> Result<Option<u64>, LedgerError>;

    /// A proof of output `index` against the current root, in O(log n) reads.
    fn membership_proof(&self, index: u64) -> Result<TxOutMembershipProof, LedgerError>;

    /// The current root of the TxOut tree ([`LedgerError::Empty`] when empty).
    fn tree_root(&self) -> Result<RootElement, LedgerError>;

    /// The root the tree would have after appending `outputs` (in this order), without
    /// changing the ledger: what a block carrying them must state.
    fn root_after(&self, outputs: &[TxOut]) -> Result<RootElement, LedgerError>;

    /// The last block ([`LedgerError::Empty`] when empty).
    fn last_block(&self) -> Result<Block, LedgerError> {
        match self.num_blocks()? {
            0 => Err(LedgerError::Empty),
            n => self.block(n - 1),
        }
    }

    /// True when `key_image` was spent.
    fn contains_key_image(&self, key_image: &KeyImage) -> Result<bool, LedgerError> {
        Ok(self.key_image_block(key_image)?.is_some())
    }

    /// The block that would carry `contents` next: the origin block when the ledger is
    /// empty, otherwise a child of the last block, with the right root element and id.
    fn next_block(&self, contents: &BlockContents) -> Result<Block, LedgerError> {
        let root = self.root_after(&contents.outputs)?;
        if self.num_blocks()? == 0 {
            return Ok(Block::new(
                BLOCK_VERSION,
                BlockId::default(),
                0,
                contents.outputs.len() as u64,
                root,
                contents.hash(),
            ));
        }
        Ok(Block::new_child(&self.last_block()?, contents, root))
    }
}

/// Maps a ledger error to what [`LedgerView`] callers see.
pub(crate) fn view_error(e: LedgerError) -> LedgerViewError {
    match e {
        LedgerError::Empty => LedgerViewError::Empty,
        LedgerError::NoSuchTxOut { index, .. } => LedgerViewError::IndexOutOfRange(index),
        other => LedgerViewError::Storage(other.to_string()),
    }
}
