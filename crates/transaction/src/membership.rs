//! The TxOut Merkle tree and membership proofs.
//!
//! Every output in the ledger has a global index. The tree over `count` outputs is a
//! perfect binary tree over indices `[0, 2^k)` with `k = ceil(log2(count))`; leaves past the
//! last output are padding. The hash of a subtree covering indices `[from, to]` is
//!
//! * `nil_hash()` if `from > highest` (only padding),
//! * `leaf_hash(tx_out.hash())` for a single real leaf,
//! * `node_hash(left, right)` otherwise.
//!
//! A [`TxOutMembershipProof`] for index `i` made when the ledger's highest index was `h`
//! lists the sibling `(range, hash)` of each of `i`'s ancestors, bottom up; folding the leaf
//! with them gives the root of the tree *as it was* at `h`.
//!
//! **Old proofs stay checkable.** The tree only grows, so the siblings of `h`'s path that
//! lie left of `h` never change, and in the tree at `h` everything right of `h` was padding.
//! Given a fresh proof of index `h` against today's root, [`historical_root`] therefore
//! recomputes the root at `h` exactly. Validation checks the fresh proof against today's
//! root, derives the root at `h`, and checks the wallet's old proof against that.
//!
//! [`NodeSource`] lets any store (memory here, LMDB in `mcnode-ledger`) hold the nodes;
//! [`make_proof`] and [`nodes_after_append`] do the O(log n) work over it.

use mcnode_crypto::merkle::{leaf_hash, nil_hash, node_hash, MerkleHash};
use serde::{Deserialize, Serialize};

use crate::TxOut;

/// An inclusive range of global TxOut indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Range {
    /// First index.
    pub from: u64,
    /// Last index (inclusive).
    pub to: u64,
}

/// A subtree: its range and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TreeElement {
    /// The indices it covers.
    pub range: Range,
    /// Its hash.
    pub hash: MerkleHash,
}

/// The root of the TxOut tree at some ledger state.
pub type RootElement = TreeElement;

/// Proof that the TxOut at `index` was in the ledger when its highest index was
/// `highest_index`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxOutMembershipProof {
    /// The output's global index.
    pub index: u64,
    /// The ledger's highest index when the proof was made.
    pub highest_index: u64,
    /// Sibling subtrees from the leaf's level up to just below the root.
    pub elements: Vec<TreeElement>,
}

/// Why a membership proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// The index lies above the highest index.
    #[error("index {index} above highest index {highest}")]
    IndexAboveHighest {
        /// Claimed index.
        index: u64,
        /// Claimed highest index.
        highest: u64,
    },
    /// Wrong number of elements for the tree height.
    #[error("expected {expected} proof elements, got {got}")]
    WrongLength {
        /// `ceil(log2(highest + 1))`.
        expected: usize,
        /// What the proof has.
        got: usize,
    },
    /// An element's range is not the sibling range at its level.
    #[error("proof element {0} has the wrong range")]
    WrongRange(usize),
    /// An element covering only padding does not carry the nil hash.
    #[error("proof element {0} covers only padding but is not nil")]
    BadPadding(usize),
    /// The proof folds to another root.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// Tree height (number of proof elements) for a ledger whose highest index is `highest`.
pub fn tree_height(highest: u64) -> u32 {
    // ceil(log2(highest + 1)) without overflowing at u64::MAX.
    if highest == 0 {
        0
    } else {
        64 - highest.leading_zeros()
    }
}

/// The indices under the node at `(level, position)`; `level <= 64`.
fn subtree_range(level: u32, position: u64) -> Range {
    if level >= 64 {
        return Range {
            from: 0,
            to: u64::MAX,
        };
    }
    let from = position << level;
    Range {
        from,
        to: from | ((1u64 << level) - 1),
    }
}

/// The root that `proof` proves `tx_out` under. Checks the proof's shape but not which
/// root is right: compare with a trusted root.
pub fn proof_root(
    proof: &TxOutMembershipProof,
    tx_out: &TxOut,
) -> Result<RootElement, MembershipError> {
    fold(proof, leaf_hash(&tx_out.hash()))
}

/// Like [`proof_root`] from the leaf's hash.
pub fn fold(
    proof: &TxOutMembershipProof,
    leaf: MerkleHash,
) -> Result<RootElement, MembershipError> {
    let (i, h) = (proof.index, proof.highest_index);
    if i > h {
        return Err(MembershipError::IndexAboveHighest {
            index: i,
            highest: h,
        });
    }
    let k = tree_height(h);
    if proof.elements.len() != k as usize {
        return Err(MembershipError::WrongLength {
            expected: k as usize,
            got: proof.elements.len(),
        });
    }
    let mut cur = leaf;
    for (level, e) in proof.elements.iter().enumerate() {
        let level = level as u32;
        let sibling = (i >> level) ^ 1;
        let range = subtree_range(level, sibling);
        if e.range != range {
            return Err(MembershipError::WrongRange(level as usize));
        }
        if range.from > h && e.hash != nil_hash() {
            return Err(MembershipError::BadPadding(level as usize));
        }
        cur = if sibling & 1 == 1 {
            node_hash(&cur, &e.hash)
        } else {
            node_hash(&e.hash, &cur)
        };
    }
    Ok(RootElement {
        range: subtree_range(k, 0),
        hash: cur,
    })
}

/// Checks that `proof` proves `tx_out` under `root`.
pub fn verify(
    proof: &TxOutMembershipProof,
    tx_out: &TxOut,
    root: &RootElement,
) -> Result<(), MembershipError> {
    if proof_root(proof, tx_out)? == *root {
        Ok(())
    } else {
        Err(MembershipError::RootMismatch)
    }
}

/// From a proof of index `h` (with its leaf) made at a later ledger state, the root of the
/// tree as it was when `h` was the highest index. See the module docs.
pub fn historical_root(
    later_proof: &TxOutMembershipProof,
    leaf: MerkleHash,
) -> Result<RootElement, MembershipError> {
    let h = later_proof.index;
    let k = tree_height(h) as usize;
    if later_proof.elements.len() < k {
        return Err(MembershipError::WrongLength {
            expected: k,
            got: later_proof.elements.len(),
        });
    }
    let old = TxOutMembershipProof {
        index: h,
        highest_index: h,
        elements: later_proof.elements[..k]
            .iter()
            .map(|e| {
                if e.range.from > h {
                    TreeElement {
                        range: e.range,
                        hash: nil_hash(),
                    }
                } else {
                    *e
                }
            })
            .collect(),
    };
    fold(&old, leaf)
}

/// A store of tree nodes. Level 0 holds leaf hashes; level `l`, position `p` covers
/// `[p 2^l, (p+1) 2^l - 1]`. Only nodes that cover at least one real leaf are stored.
pub trait NodeSource {
    /// The store's error.
    type Error;
    /// The stored hash at `(level, position)`; never asked for a padding-only node.
    fn stored_node(&self, level: u32, position: u64) -> Result<MerkleHash, Self::Error>;
}

fn node_at<S: NodeSource>(
    src: &S,
    highest: u64,
    level: u32,
    position: u64,
) -> Result<MerkleHash, S::Error> {
    if (position << level) > highest {
        Ok(nil_hash())
    } else {
        src.stored_node(level, position)
    }
}

/// The proof of `index` in a tree of `count` outputs, in `ceil(log2 count)` reads.
/// `index < count` is the caller's to check.
pub fn make_proof<S: NodeSource>(
    src: &S,
    count: u64,
    index: u64,
) -> Result<TxOutMembershipProof, S::Error> {
    assert!(index < count, "proof of index {index} in a tree of {count}");
    let highest = count - 1;
    let k = tree_height(highest);
    let mut elements = Vec::with_capacity(k as usize);
    for level in 0..k {
        let sibling = (index >> level) ^ 1;
        elements.push(TreeElement {
            range: subtree_range(level, sibling),
            hash: node_at(src, highest, level, sibling)?,
        });
    }
    Ok(TxOutMembershipProof {
        index,
        highest_index: highest,
        elements,
    })
}

/// The root of a tree of `count > 0` outputs.
pub fn root<S: NodeSource>(src: &S, count: u64) -> Result<RootElement, S::Error> {
    assert!(count > 0, "root of an empty tree");
    let k = tree_height(count - 1);
    Ok(RootElement {
        range: subtree_range(k, 0),
        hash: src.stored_node(k, 0)?,
    })
}

/// The nodes to write when the output with leaf hash `leaf` is appended to a tree of
/// `count` outputs (it gets index `count`): `(level, position, hash)` bottom up, in
/// `ceil(log2(count + 1))` reads.
pub fn nodes_after_append<S: NodeSource>(
    src: &S,
    count: u64,
    leaf: MerkleHash,
) -> Result<Vec<(u32, u64, MerkleHash)>, S::Error> {
    let index = count;
    let k = tree_height(index);
    let mut out = Vec::with_capacity(k as usize + 1);
    out.push((0, index, leaf));
    let mut cur = leaf;
    for level in 0..k {
        let pos = index >> level;
        let sibling = node_at(src, index, level, pos ^ 1)?;
        cur = if pos & 1 == 0 {
            node_hash(&cur, &sibling)
        } else {
            node_hash(&sibling, &cur)
        };
        out.push((level + 1, pos >> 1, cur));
    }
    Ok(out)
}

/// An in-memory TxOut tree: for tests, benchmarks, wallets and mocks.
#[derive(Clone, Debug, Default)]
pub struct TxOutTree {
    levels: Vec<Vec<MerkleHash>>,
    tx_outs: Vec<TxOut>,
}

impl NodeSource for TxOutTree {
    type Error = core::convert::Infallible;
    fn stored_node(&self, level: u32, position: u64) -> Result<MerkleHash, Self::Error> {
        Ok(self.levels[level as usize][position as usize])
    }
}

fn infallible<T>(r: Result<T, core::convert::Infallible>) -> T {
    match r {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

impl TxOutTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of outputs.
    pub fn len(&self) -> u64 {
        self.tx_outs.len() as u64
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.tx_outs.is_empty()
    }

    /// The output at `index`.
    pub fn get(&self, index: u64) -> Option<&TxOut> {
        self.tx_outs.get(index as usize)
    }

    /// Appends an output; returns its index.
    pub fn push(&mut self, tx_out: TxOut) -> u64 {
        let count = self.len();
        for (level, pos, hash) in
            infallible(nodes_after_append(self, count, leaf_hash(&tx_out.hash())))
        {
            let level = level as usize;
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            if row.len() as u64 == pos {
                row.push(hash);
            } else {
                row[pos as usize] = hash;
            }
        }
        self.tx_outs.push(tx_out);
        count
    }

    /// The current root (`None` when empty).
    pub fn root(&self) -> Option<RootElement> {
        (!self.is_empty()).then(|| infallible(root(self, self.len())))
    }

    /// A proof of `index` against the current root (`None` if out of range).
    pub fn proof(&self, index: u64) -> Option<TxOutMembershipProof> {
        (index < self.len()).then(|| infallible(make_proof(self, self.len(), index)))
    }
}

/// Why a [`Frontier`] could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    /// The proof is not of the last output against the given root.
    #[error("the proof is not of the last output under the given root")]
    NotLastOutput,
    /// A node the append path needs is missing (the proof was malformed).
    #[error("missing tree node at level {0}")]
    MissingNode(u32),
}

/// Enough of the TxOut tree to append outputs and compute new roots without the ledger:
/// the path of the last output and its left siblings. Built from a proof of the last
/// output, checked against a trusted root (the parent block's).
#[derive(Clone, Debug)]
pub struct Frontier {
    count: u64,
    nodes: std::collections::HashMap<(u32, u64), MerkleHash>,
}

impl NodeSource for Frontier {
    type Error = FrontierError;
    fn stored_node(&self, level: u32, position: u64) -> Result<MerkleHash, Self::Error> {
        self.nodes
            .get(&(level, position))
            .copied()
            .ok_or(FrontierError::MissingNode(level))
    }
}

impl Frontier {
    /// From the proof of the last output (index `count - 1`), its leaf hash and the root it
    /// must lead to.
    pub fn new(
        last_proof: &TxOutMembershipProof,
        last_leaf: MerkleHash,
        root: &RootElement,
    ) -> Result<Self, FrontierError> {
        let last = last_proof.index;
        if last_proof.highest_index != last || fold(last_proof, last_leaf).ok() != Some(*root) {
            return Err(FrontierError::NotLastOutput);
        }
        let mut nodes = std::collections::HashMap::new();
        nodes.insert((0, last), last_leaf);
        let mut cur = last_leaf;
        for (level, e) in last_proof.elements.iter().enumerate() {
            let level = level as u32;
            let sibling = (last >> level) ^ 1;
            if sibling < (last >> level) {
                nodes.insert((level, sibling), e.hash);
                cur = node_hash(&e.hash, &cur);
            } else {
                cur = node_hash(&cur, &e.hash);
            }
            nodes.insert((level + 1, last >> (level + 1)), cur);
        }
        Ok(Self {
            count: last + 1,
            nodes,
        })
    }

    /// Number of outputs in the tree.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Never true: a frontier holds at least one output.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends an output.
    pub fn push(&mut self, tx_out: &TxOut) -> Result<(), FrontierError> {
        for (level, pos, hash) in nodes_after_append(self, self.count, leaf_hash(&tx_out.hash()))? {
            self.nodes.insert((level, pos), hash);
        }
        self.count += 1;
        Ok(())
    }

    /// The root now.
    pub fn root(&self) -> Result<RootElement, FrontierError> {
        root(self, self.count)
    }
}
