//! [`MockLedger`]: the [`Ledger`] trait in memory, with the same checks as the LMDB ledger.

use std::{collections::HashMap, sync::RwLock};

use mcnode_blockchain::{Block, BlockContents, BlockMetadata, BlockSignature};
use mcnode_crypto::{CompressedPoint, KeyImage};
use mcnode_transaction::{
    membership::{self, RootElement},
    LedgerView, LedgerViewError, RootProof, TxOut, TxOutMembershipProof,
};

use crate::{
    checks::{self, AppendState},
    traits::view_error,
    tree::{self, infallible, MemNodes},
    AppendError, Ledger, LedgerError,
};

#[derive(Default)]
struct State {
    blocks: Vec<(
        Block,
        BlockContents,
        Option<BlockSignature>,
        Option<BlockMetadata>,
    )>,
    tx_outs: Vec<TxOut>,
    nodes: MemNodes,
    key_images: HashMap<KeyImage, u64>,
    by_target: HashMap<CompressedPoint, u64>,
}

impl AppendState for State {
    fn last_block(&self) -> Result<Option<Block>, LedgerError> {
        Ok(self.blocks.last().map(|b| b.0.clone()))
    }
    fn spent_in(&self, key_image: &KeyImage) -> Result<Option<u64>, LedgerError> {
        Ok(self.key_images.get(key_image).copied())
    }
    fn output_index(&self, target_key: &CompressedPoint) -> Result<Option<u64>, LedgerError> {
        Ok(self.by_target.get(target_key).copied())
    }
}

/// An in-memory ledger for tests (feature `test-utils`). Same rules and answers as
/// [`LmdbLedger`](crate::LmdbLedger); never fails to read or write.
#[derive(Default)]
pub struct MockLedger {
    state: RwLock<State>,
}

impl std::fmt::Debug for MockLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockLedger").finish_non_exhaustive()
    }
}

impl MockLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        let guard = self
            .state
            .read()
            .map_err(|_| LedgerError::Corrupt("mock ledger lock poisoned".into()))?;
        f(&guard)
    }
}

fn no_block(s: &State, index: u64) -> LedgerError {
    LedgerError::NoSuchBlock {
        index,
        num_blocks: s.blocks.len() as u64,
    }
}

fn no_tx_out(s: &State, index: u64) -> LedgerError {
    LedgerError::NoSuchTxOut {
        index,
        num_txos: s.tx_outs.len() as u64,
    }
}

impl Ledger for MockLedger {
    fn append_block(
        &self,
        block: &Block,
        contents: &BlockContents,
        signature: Option<&BlockSignature>,
        metadata: Option<&BlockMetadata>,
    ) -> Result<(), LedgerError> {
        let mut s = self
            .state
            .write()
            .map_err(|_| LedgerError::Corrupt("mock ledger lock poisoned".into()))?;
        checks::check_block(&*s, block, contents, signature, metadata)?;
        let count = s.tx_outs.len() as u64;
        let appended = infallible(tree::append_outputs(&s.nodes, count, &contents.outputs));
        if appended.root != block.root_element {
            return Err(AppendError::WrongRootElement.into());
        }
        s.nodes.set(appended.nodes);
        s.nodes.grow(contents.outputs.len() as u64);
        for (i, o) in contents.outputs.iter().enumerate() {
            s.by_target.insert(o.target_key, count + i as u64);
        }
        s.tx_outs.extend_from_slice(&contents.outputs);
        for ki in &contents.key_images {
            s.key_images.insert(*ki, block.index);
        }
        s.blocks.push((
            block.clone(),
            contents.clone(),
            signature.cloned(),
            metadata.cloned(),
        ));
        Ok(())
    }

    fn num_blocks(&self) -> Result<u64, LedgerError> {
        self.read(|s| Ok(s.blocks.len() as u64))
    }

    fn num_txos(&self) -> Result<u64, LedgerError> {
        self.read(|s| Ok(s.tx_outs.len() as u64))
    }

    fn block(&self, index: u64) -> Result<Block, LedgerError> {
        self.read(|s| {
            s.blocks
                .get(index as usize)
                .map(|b| b.0.clone())
                .ok_or_else(|| no_block(s, index))
        })
    }

    fn block_contents(&self, index: u64) -> Result<BlockContents, LedgerError> {
        self.read(|s| {
            s.blocks
                .get(index as usize)
                .map(|b| b.1.clone())
                .ok_or_else(|| no_block(s, index))
        })
    }

    fn block_signature(&self, index: u64) -> Result<Option<BlockSignature>, LedgerError> {
        self.read(|s| {
            s.blocks
                .get(index as usize)
                .map(|b| b.2.clone())
                .ok_or_else(|| no_block(s, index))
        })
    }

    fn block_metadata(&self, index: u64) -> Result<Option<BlockMetadata>, LedgerError> {
        self.read(|s| {
            s.blocks
                .get(index as usize)
                .map(|b| b.3.clone())
                .ok_or_else(|| no_block(s, index))
        })
    }

    fn key_image_block(&self, key_image: &KeyImage) -> Result<Option<u64>, LedgerError> {
        self.read(|s| s.spent_in(key_image))
    }

    fn tx_out(&self, index: u64) -> Result<TxOut, LedgerError> {
        self.read(|s| {
            s.tx_outs
                .get(index as usize)
                .copied()
                .ok_or_else(|| no_tx_out(s, index))
        })
    }

    fn tx_out_index(&self, target_key: &CompressedPoint) -> Result<Option<u64>, LedgerError> {
        self.read(|s| s.output_index(target_key))
    }

    fn membership_proof(&self, index: u64) -> Result<TxOutMembershipProof, LedgerError> {
        self.read(|s| {
            let count = s.tx_outs.len() as u64;
            if index >= count {
                return Err(no_tx_out(s, index));
            }
            Ok(infallible(membership::make_proof(&s.nodes, count, index)))
        })
    }

    fn tree_root(&self) -> Result<RootElement, LedgerError> {
        self.read(|s| s.nodes.root().ok_or(LedgerError::Empty))
    }

    fn root_after(&self, outputs: &[TxOut]) -> Result<RootElement, LedgerError> {
        self.read(|s| {
            if outputs.is_empty() {
                return s.nodes.root().ok_or(LedgerError::Empty);
            }
            Ok(infallible(tree::append_outputs(
                &s.nodes,
                s.tx_outs.len() as u64,
                outputs,
            ))
            .root)
        })
    }
}

impl LedgerView for MockLedger {
    fn root_element(&self) -> Result<RootElement, LedgerViewError> {
        self.tree_root().map_err(view_error)
    }

    fn root_proof(&self, index: u64) -> Result<RootProof, LedgerViewError> {
        Ok(RootProof {
            tx_out_hash: self.tx_out(index).map_err(view_error)?.hash(),
            proof: self.membership_proof(index).map_err(view_error)?,
        })
    }
}
