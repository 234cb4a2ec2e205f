//! Merkle hashing for the TxOut tree: leaf, inner node and nil (padding) hashes.
//!
//! The tree itself (ranges, proofs, roots) lives with the membership proofs in
//! `mcnode-transaction`; this module fixes only the hash functions, each under its own
//! domain so that a leaf can never pass for a node or for padding.

use std::sync::LazyLock;

use crate::hash::{domain, hash32, DomainHasher};

/// A 32-byte Merkle hash.
pub type MerkleHash = [u8; 32];

/// The hash of a leaf holding a TxOut whose hash is `tx_out_hash`.
pub fn leaf_hash(tx_out_hash: &[u8; 32]) -> MerkleHash {
    hash32(domain::MERKLE_LEAF, &[tx_out_hash])
}

/// The hash of an inner node from its children.
pub fn node_hash(left: &MerkleHash, right: &MerkleHash) -> MerkleHash {
    let mut h = DomainHasher::new(domain::MERKLE_NODE);
    h.update(left).update(right);
    h.finish()
}

static NIL: LazyLock<MerkleHash> = LazyLock::new(|| hash32(domain::MERKLE_NIL, &[]));

/// The hash of any subtree that holds only padding, whatever its height.
pub fn nil_hash() -> MerkleHash {
    *NIL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_differ() {
        let x = [7u8; 32];
        assert_ne!(leaf_hash(&x), node_hash(&x, &x));
        assert_ne!(nil_hash(), leaf_hash(&[0u8; 32]));
    }
}
