//! The [`Ledger`] trait.

use mcnode_blockchain::{Block, BlockContents, BlockId, BlockMetadata, BlockSignature};
use mcnode_crypto::{CompressedPoint, KeyImage};
use std::collections::BTreeSet;

use mcnode_transaction::{
    membership::RootElement, LedgerView, LedgerViewError, RootProof, TxOut, TxOutMembershipProof,
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

    /// Answers `query` from one consistent state of the ledger (one read transaction in
    /// LMDB): a block appended meanwhile cannot make the root and the proofs disagree.
    /// Indices beyond the ledger's outputs are listed in
    /// [`StateAnswer::missing_indices`], not an error.
    fn state_for(&self, query: &StateQuery) -> Result<StateAnswer, LedgerError> {
        answer_query(
            self.last_block()?,
            self.tree_root()?,
            query,
            StateLookups {
                tx_out: &|i| self.tx_out(i),
                proof: &|i| self.membership_proof(i),
                spent: &|k| self.contains_key_image(k),
                exists: &|o| Ok(self.tx_out_index(o)?.is_some()),
            },
        )
    }

    /// The block that would carry `contents` next: the origin block (version 1) when the
    /// ledger is empty, otherwise a child of the last block at its version, with the right
    /// root element and id.
    fn next_block(&self, contents: &BlockContents) -> Result<Block, LedgerError> {
        let version = match self.num_blocks()? {
            0 => 1,
            _ => self.last_block()?.version,
        };
        self.next_block_at(version, contents)
    }

    /// [`Self::next_block`] at block `version`.
    fn next_block_at(&self, version: u32, contents: &BlockContents) -> Result<Block, LedgerError> {
        let root = self.root_after(&contents.outputs)?;
        if self.num_blocks()? == 0 {
            return Ok(Block::new(
                version,
                BlockId::default(),
                0,
                contents.outputs.len() as u64,
                root,
                contents.hash(),
            ));
        }
        Ok(Block::new_child_at(
            version,
            &self.last_block()?,
            contents,
            root,
        ))
    }
}

/// What [`Ledger::state_for`] is asked: proofs of some outputs, and which key images and
/// output keys the ledger already holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateQuery {
    /// Outputs to prove against the current root (duplicates allowed).
    pub proof_indices: Vec<u64>,
    /// Key images to look up.
    pub key_images: Vec<KeyImage>,
    /// Output target keys to look up.
    pub output_keys: Vec<CompressedPoint>,
}

/// One consistent answer to a [`StateQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateAnswer {
    /// The last block.
    pub last_block: Block,
    /// The TxOut tree root (the last block's root element).
    pub root: RootElement,
    /// Proofs of the asked indices that exist, in the order asked.
    pub proofs: Vec<RootProof>,
    /// Asked indices beyond the ledger's outputs.
    pub missing_indices: Vec<u64>,
    /// The asked key images that are spent.
    pub spent_key_images: BTreeSet<KeyImage>,
    /// The asked output keys that exist.
    pub existing_output_keys: BTreeSet<CompressedPoint>,
}

impl StateAnswer {
    /// An answer with nothing found yet.
    pub fn new(last_block: Block, root: RootElement) -> Self {
        Self {
            last_block,
            root,
            proofs: Vec::new(),
            missing_indices: Vec::new(),
            spent_key_images: BTreeSet::new(),
            existing_output_keys: BTreeSet::new(),
        }
    }
}

/// The lookups [`answer_query`] needs, from one consistent state.
pub(crate) struct StateLookups<'a> {
    pub tx_out: &'a dyn Fn(u64) -> Result<TxOut, LedgerError>,
    pub proof: &'a dyn Fn(u64) -> Result<TxOutMembershipProof, LedgerError>,
    pub spent: &'a dyn Fn(&KeyImage) -> Result<bool, LedgerError>,
    pub exists: &'a dyn Fn(&CompressedPoint) -> Result<bool, LedgerError>,
}

/// Answers `query` at the state whose last block and root are given.
pub(crate) fn answer_query(
    last_block: Block,
    root: RootElement,
    query: &StateQuery,
    look: StateLookups<'_>,
) -> Result<StateAnswer, LedgerError> {
    let mut answer = StateAnswer::new(last_block, root);
    for &index in &query.proof_indices {
        if index >= answer.last_block.cumulative_txo_count {
            answer.missing_indices.push(index);
            continue;
        }
        answer.proofs.push(RootProof {
            tx_out_hash: (look.tx_out)(index)?.hash(),
            proof: (look.proof)(index)?,
        });
    }
    for ki in &query.key_images {
        if (look.spent)(ki)? {
            answer.spent_key_images.insert(*ki);
        }
    }
    for key in &query.output_keys {
        if (look.exists)(key)? {
            answer.existing_output_keys.insert(*key);
        }
    }
    Ok(answer)
}

/// Maps a ledger error to what [`LedgerView`] callers see.
pub(crate) fn view_error(e: LedgerError) -> LedgerViewError {
    match e {
        LedgerError::Empty => LedgerViewError::Empty,
        LedgerError::NoSuchTxOut { index, .. } => LedgerViewError::IndexOutOfRange(index),
        other => LedgerViewError::Storage(other.to_string()),
    }
}
