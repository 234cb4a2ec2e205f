//! Blocks, their contents and ids.

use core::fmt;

use mcnode_crypto::{
    hash::{domain, DomainHasher},
    KeyImage,
};
use mcnode_transaction::{membership::RootElement, BlockVersion, TxOut};
use serde::{Deserialize, Serialize};

/// The highest block version this build reads and writes (see
/// [`mcnode_transaction::version`]).
pub const MAX_BLOCK_VERSION: u32 = BlockVersion::MAX.get();

/// A block id: the hash of the block's header fields.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct BlockId(pub [u8; 32]);

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId({})", hex::encode(self.0))
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// The hash of a block's contents.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct BlockContentsHash(pub [u8; 32]);

impl fmt::Debug for BlockContentsHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockContentsHash({})", hex::encode(self.0))
    }
}

/// What a block adds to the ledger: spent key images and new outputs, both sorted, so
/// that nothing links a transaction's inputs to its outputs. Rings, proofs and ring
/// signatures are never stored.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlockContents {
    /// Key images spent in this block, ascending.
    pub key_images: Vec<KeyImage>,
    /// Outputs created in this block, ascending by target key.
    pub outputs: Vec<TxOut>,
}

impl BlockContents {
    /// Contents from unsorted parts (sorts them).
    pub fn new(mut key_images: Vec<KeyImage>, mut outputs: Vec<TxOut>) -> Self {
        key_images.sort();
        outputs.sort_by_key(|o| o.target_key);
        Self {
            key_images,
            outputs,
        }
    }

    /// True when both lists are strictly ascending (sorted, no repeats).
    pub fn is_sorted(&self) -> bool {
        self.key_images.windows(2).all(|w| w[0] < w[1])
            && self
                .outputs
                .windows(2)
                .all(|w| w[0].target_key < w[1].target_key)
    }

    /// The contents hash.
    pub fn hash(&self) -> BlockContentsHash {
        let mut h = DomainHasher::new(domain::BLOCK_CONTENTS);
        h.update_u64(self.key_images.len() as u64);
        for ki in &self.key_images {
            h.update(ki.as_bytes());
        }
        h.update_u64(self.outputs.len() as u64);
        for o in &self.outputs {
            h.update(&o.hash());
        }
        BlockContentsHash(h.finish())
    }
}

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The hash of all the fields below.
    pub id: BlockId,
    /// Block version: which ledger rules the block follows
    /// ([`mcnode_transaction::BlockVersion`]).
    pub version: u32,
    /// The previous block's id (all zeros for the origin block).
    pub parent_id: BlockId,
    /// Height: 0 for the origin block.
    pub index: u64,
    /// Outputs in the ledger after this block.
    pub cumulative_txo_count: u64,
    /// Root of the TxOut tree after this block.
    pub root_element: RootElement,
    /// Hash of this block's contents.
    pub contents_hash: BlockContentsHash,
}

/// Computes a block id from its fields.
pub fn compute_block_id(
    version: u32,
    parent_id: &BlockId,
    index: u64,
    cumulative_txo_count: u64,
    root_element: &RootElement,
    contents_hash: &BlockContentsHash,
) -> BlockId {
    let mut h = DomainHasher::new(domain::BLOCK_ID);
    h.update_u64(u64::from(version))
        .update(&parent_id.0)
        .update_u64(index)
        .update_u64(cumulative_txo_count)
        .update_u64(root_element.range.from)
        .update_u64(root_element.range.to)
        .update(&root_element.hash)
        .update(&contents_hash.0);
    BlockId(h.finish())
}

impl Block {
    /// The block after `parent` with `contents`, given the TxOut tree root after it, at the
    /// parent's version.
    pub fn new_child(parent: &Block, contents: &BlockContents, root_element: RootElement) -> Self {
        Self::new_child_at(parent.version, parent, contents, root_element)
    }

    /// The block after `parent` with `contents` at block `version`, given the TxOut tree
    /// root after it.
    pub fn new_child_at(
        version: u32,
        parent: &Block,
        contents: &BlockContents,
        root_element: RootElement,
    ) -> Self {
        Self::new(
            version,
            parent.id,
            parent.index + 1,
            parent.cumulative_txo_count + contents.outputs.len() as u64,
            root_element,
            contents.hash(),
        )
    }

    /// A block from its fields (computes the id).
    pub fn new(
        version: u32,
        parent_id: BlockId,
        index: u64,
        cumulative_txo_count: u64,
        root_element: RootElement,
        contents_hash: BlockContentsHash,
    ) -> Self {
        let id = compute_block_id(
            version,
            &parent_id,
            index,
            cumulative_txo_count,
            &root_element,
            &contents_hash,
        );
        Self {
            id,
            version,
            parent_id,
            index,
            cumulative_txo_count,
            root_element,
            contents_hash,
        }
    }

    /// True when `id` is the hash of the other fields.
    pub fn is_id_valid(&self) -> bool {
        self.id
            == compute_block_id(
                self.version,
                &self.parent_id,
                self.index,
                self.cumulative_txo_count,
                &self.root_element,
                &self.contents_hash,
            )
    }
}
