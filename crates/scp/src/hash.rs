//! The deterministic hashes behind nomination: neighbour selection, leader priority and
//! value priority.
//!
//! Paper: section 6.1, `G_i(m) = H(i, slot, round, m)`: `G_1` decides whether a node is
//! a neighbour this round, `G_2` its priority, and a value hash orders values a node
//! copies from its leaders. We use SHA-256 under a domain tag and keep 64 bits.

use std::hash::{Hash, Hasher};

use sha2::{Digest, Sha256};

use crate::msg::SlotIndex;
use crate::quorum_set::NodeId;

const DOMAIN: &[u8] = b"mcnode-scp/nomination/v1";

/// Which of the paper's hash functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum HashKind {
    /// Paper: `G_1`, neighbour selection.
    Neighbor = 1,
    /// Paper: `G_2`, leader priority.
    Priority = 2,
    /// Ordering of a leader's values.
    Value = 3,
}

fn hash64(kind: HashKind, slot: SlotIndex, round: u32, payload: &[u8]) -> u64 {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update([kind as u8]);
    h.update(slot.to_le_bytes());
    h.update(round.to_le_bytes());
    h.update(payload);
    let out = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    u64::from_be_bytes(first)
}

/// `G_kind(slot, round, node)` for neighbour selection and priority.
pub fn node_hash(kind: HashKind, slot: SlotIndex, round: u32, node: &NodeId) -> u64 {
    hash64(kind, slot, round, node.as_str().as_bytes())
}

/// The priority of a value among a leader's nominated values.
pub fn value_hash<V: Hash>(slot: SlotIndex, round: u32, value: &V) -> u64 {
    hash64(HashKind::Value, slot, round, &digest_of(value))
}

/// SHA-256 of a value's `Hash` stream, with fixed-width little-endian integers so it does
/// not depend on the platform.
pub fn digest_of<V: Hash>(value: &V) -> [u8; 32] {
    let mut h = Sha256Hasher(Sha256::new());
    value.hash(&mut h);
    h.0.finalize().into()
}

struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let out = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        u64::from_le_bytes(first)
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.0.update([i]);
    }
    fn write_u16(&mut self, i: u16) {
        self.0.update(i.to_le_bytes());
    }
    fn write_u32(&mut self, i: u32) {
        self.0.update(i.to_le_bytes());
    }
    fn write_u64(&mut self, i: u64) {
        self.0.update(i.to_le_bytes());
    }
    fn write_u128(&mut self, i: u128) {
        self.0.update(i.to_le_bytes());
    }
    fn write_usize(&mut self, i: usize) {
        self.0.update((i as u64).to_le_bytes());
    }
    fn write_i8(&mut self, i: i8) {
        self.0.update(i.to_le_bytes());
    }
    fn write_i16(&mut self, i: i16) {
        self.0.update(i.to_le_bytes());
    }
    fn write_i32(&mut self, i: i32) {
        self.0.update(i.to_le_bytes());
    }
    fn write_i64(&mut self, i: i64) {
        self.0.update(i.to_le_bytes());
    }
    fn write_i128(&mut self, i: i128) {
        self.0.update(i.to_le_bytes());
    }
    fn write_isize(&mut self, i: isize) {
        self.0.update((i as i64).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable() {
        // Frozen: changing the priority hash changes leader election across the network.
        let a = node_hash(HashKind::Priority, 7, 1, &NodeId::from("a:1"));
        assert_eq!(a, node_hash(HashKind::Priority, 7, 1, &NodeId::from("a:1")));
        assert_ne!(a, node_hash(HashKind::Priority, 7, 2, &NodeId::from("a:1")));
        assert_ne!(a, node_hash(HashKind::Neighbor, 7, 1, &NodeId::from("a:1")));
        assert_eq!(digest_of(&1u64), digest_of(&1u64));
        assert_ne!(value_hash(1, 1, &1u64), value_hash(1, 1, &2u64));
    }

    /// Frozen: nodes of one network must agree on these bit for bit, or they elect
    /// different leaders.
    #[test]
    fn golden_hashes() {
        let node = NodeId::from("node0.sim:8443");
        assert_eq!(
            node_hash(HashKind::Neighbor, 1, 1, &node),
            0x97fe_6901_1ca0_3294
        );
        assert_eq!(
            node_hash(HashKind::Priority, 1, 1, &node),
            0x0e13_fde2_e17f_eb7d
        );
        assert_eq!(value_hash(1, 1, &7u64), 0x6fa3_cbc7_2070_4b1f);
    }
}
