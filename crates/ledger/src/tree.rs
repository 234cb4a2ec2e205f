//! TxOut-tree helpers shared by the LMDB ledger and the mock: appending a block's outputs
//! over a store without touching it (an overlay), and an in-memory node store.

use std::collections::HashMap;

use mcnode_crypto::merkle::{leaf_hash, MerkleHash};
use mcnode_transaction::{
    membership::{self, NodeSource, RootElement},
    TxOut,
};

/// Nodes written on top of a read-only [`NodeSource`].
pub(crate) struct Overlay<'a, S> {
    base: &'a S,
    written: HashMap<(u32, u64), MerkleHash>,
}

impl<S: NodeSource> NodeSource for Overlay<'_, S> {
    type Error = S::Error;
    fn stored_node(&self, level: u32, position: u64) -> Result<MerkleHash, Self::Error> {
        match self.written.get(&(level, position)) {
            Some(h) => Ok(*h),
            None => self.base.stored_node(level, position),
        }
    }
}

/// What appending outputs to a tree of `count` outputs gives: the new root and every node
/// to write (each once, with its final value), in no particular order.
pub(crate) struct AppendedNodes {
    /// Root after the outputs.
    pub root: RootElement,
    /// `(level, position, hash)` to store.
    pub nodes: Vec<(u32, u64, MerkleHash)>,
}

/// Appends `outputs` (in order) to the tree of `count` outputs held by `base`, without
/// writing to it. `outputs` must not be empty.
pub(crate) fn append_outputs<S: NodeSource>(
    base: &S,
    count: u64,
    outputs: &[TxOut],
) -> Result<AppendedNodes, S::Error> {
    assert!(!outputs.is_empty(), "appending no outputs");
    let mut overlay = Overlay {
        base,
        written: HashMap::with_capacity(outputs.len() * 2 + 64),
    };
    for (i, o) in outputs.iter().enumerate() {
        let nodes =
            membership::nodes_after_append(&overlay, count + i as u64, leaf_hash(&o.hash()))?;
        for (level, pos, hash) in nodes {
            overlay.written.insert((level, pos), hash);
        }
    }
    let new_count = count + outputs.len() as u64;
    let root = membership::root(&overlay, new_count)?;
    Ok(AppendedNodes {
        root,
        nodes: overlay
            .written
            .into_iter()
            .map(|((l, p), h)| (l, p, h))
            .collect(),
    })
}

/// A dense in-memory node store: level `l` holds positions `0..`. Used by `verify` (64
/// bytes per output) and the mock ledger.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemNodes {
    levels: Vec<Vec<MerkleHash>>,
    count: u64,
}

impl NodeSource for MemNodes {
    type Error = std::convert::Infallible;
    fn stored_node(&self, level: u32, position: u64) -> Result<MerkleHash, Self::Error> {
        Ok(self.levels[level as usize][position as usize])
    }
}

pub(crate) fn infallible<T>(r: Result<T, std::convert::Infallible>) -> T {
    match r {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

impl MemNodes {
    /// Records `n` more leaves whose nodes were [`set`](Self::set).
    #[cfg_attr(not(feature = "test-utils"), allow(dead_code))]
    pub fn grow(&mut self, n: u64) {
        self.count += n;
    }

    /// Appends one output.
    pub fn push(&mut self, tx_out: &TxOut) {
        let nodes = infallible(membership::nodes_after_append(
            self,
            self.count,
            leaf_hash(&tx_out.hash()),
        ));
        self.set(nodes);
        self.count += 1;
    }

    /// Writes nodes (after sorting them, new positions must extend each level densely).
    pub fn set(&mut self, nodes: impl IntoIterator<Item = (u32, u64, MerkleHash)>) {
        let mut nodes: Vec<_> = nodes.into_iter().collect();
        nodes.sort_unstable_by_key(|&(l, p, _)| (l, p));
        for (level, pos, hash) in nodes {
            let level = level as usize;
            while self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            if row.len() as u64 == pos {
                row.push(hash);
            } else {
                row[pos as usize] = hash;
            }
        }
    }

    /// The node at `(level, position)` if stored.
    pub fn get(&self, level: u32, position: u64) -> Option<MerkleHash> {
        self.levels
            .get(level as usize)
            .and_then(|row| row.get(usize::try_from(position).ok()?))
            .copied()
    }

    /// Number of stored nodes.
    pub fn num_nodes(&self) -> u64 {
        self.levels.iter().map(|l| l.len() as u64).sum()
    }

    /// The root, `None` when empty.
    pub fn root(&self) -> Option<RootElement> {
        (self.count > 0).then(|| infallible(membership::root(self, self.count)))
    }
}
