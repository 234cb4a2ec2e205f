//! Integration tests of mcnode-transaction.
#![allow(clippy::unwrap_used, missing_docs)]

mod batch;
mod golden;
mod membership;
mod outputs;
mod robustness;
mod validate_table;

use rand::SeedableRng;

pub fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    rand_chacha::ChaCha20Rng::seed_from_u64(seed)
}
