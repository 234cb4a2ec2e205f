//! The origin block: block 0, holding the network's initial outputs and no key images.

use mcnode_transaction::{BlockVersion, PublicAddress, TxOut, TxOutTree};
use rand_core::{CryptoRng, RngCore};

use crate::{Block, BlockContents, BlockId};

/// Why an origin block could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// An origin block needs at least one output.
    #[error("an origin block needs at least one output")]
    NoOutputs,
    /// Two outputs share a target key.
    #[error("two origin outputs share a target key")]
    DuplicateOutput,
}

/// The origin block (block version 1) over `outputs` (any order), with its contents.
pub fn origin_block(outputs: Vec<TxOut>) -> Result<(Block, BlockContents), OriginError> {
    origin_block_at(BlockVersion::ONE, outputs)
}

/// The origin block at block `version` over `outputs` (any order), with its contents.
pub fn origin_block_at(
    version: BlockVersion,
    outputs: Vec<TxOut>,
) -> Result<(Block, BlockContents), OriginError> {
    if outputs.is_empty() {
        return Err(OriginError::NoOutputs);
    }
    let contents = BlockContents::new(Vec::new(), outputs);
    if !contents.is_sorted() {
        return Err(OriginError::DuplicateOutput);
    }
    let mut tree = TxOutTree::new();
    for o in &contents.outputs {
        tree.push(*o);
    }
    let root = tree.root().ok_or(OriginError::NoOutputs)?;
    let block = Block::new(
        version.get(),
        BlockId::default(),
        0,
        contents.outputs.len() as u64,
        root,
        contents.hash(),
    );
    Ok((block, contents))
}

/// An origin block (block version 1) paying `amount` to each of `recipients`,
/// `outputs_each` times.
pub fn origin_block_paying<R: RngCore + CryptoRng>(
    recipients: &[PublicAddress],
    amount: u64,
    outputs_each: usize,
    rng: &mut R,
) -> Result<(Block, BlockContents), OriginError> {
    origin_block_paying_at(BlockVersion::ONE, recipients, amount, outputs_each, rng)
}

/// An origin block at block `version` paying `amount` to each of `recipients`,
/// `outputs_each` times.
pub fn origin_block_paying_at<R: RngCore + CryptoRng>(
    version: BlockVersion,
    recipients: &[PublicAddress],
    amount: u64,
    outputs_each: usize,
    rng: &mut R,
) -> Result<(Block, BlockContents), OriginError> {
    let outputs = recipients
        .iter()
        .flat_map(|to| std::iter::repeat_n(to, outputs_each))
        .map(|to| TxOut::create(amount, to, rng).tx_out)
        .collect();
    origin_block_at(version, outputs)
}
