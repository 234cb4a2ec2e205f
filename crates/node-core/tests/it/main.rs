//! Integration tests of mcnode-node-core: the value policy and single-node behaviour of
//! the core (the whole-node scenarios run in `mcnode-testkit`'s node simulator).
#![allow(clippy::unwrap_used, missing_docs)]

mod core;
mod value;

use mcnode_node_core::{CoreTx, TxFacts, TxHash};

pub fn h(n: u8) -> TxHash {
    [n; 32]
}

pub fn tx(n: u8, fee: u64, images: &[u8], outputs: &[u8], tombstone: u64) -> CoreTx<u8> {
    CoreTx {
        facts: TxFacts {
            hash: h(n),
            fee,
            tombstone_block: tombstone,
            key_images: images.iter().map(|i| [*i; 32]).collect(),
            output_keys: outputs.iter().map(|o| [*o; 32]).collect(),
        },
        body: n,
    }
}
