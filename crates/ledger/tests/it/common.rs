//! Shared helpers.

use mcnode_ledger::{
    lmdb::TableDump,
    migrations::FullBlock,
    test_utils::{append_next, random_key_image, Signers},
    Ledger, LmdbLedger,
};
use mcnode_transaction::{AccountKey, TxOut};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A new empty LMDB ledger in a temporary directory.
pub fn new_ledger() -> (TempDir, LmdbLedger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = LmdbLedger::create(dir.path().join("ledger")).unwrap();
    (dir, ledger)
}

/// `n` real outputs to a random account.
pub fn real_outputs(rng: &mut ChaCha20Rng, n: usize) -> Vec<TxOut> {
    let to = AccountKey::random(rng).default_address();
    (0..n)
        .map(|i| TxOut::create(1000 + i as u64, &to, rng).tx_out)
        .collect()
}

/// Appends `sizes.len()` blocks of real outputs (`sizes[i]` each) with `i % 3` key images,
/// signed from block 1 on. Returns what was appended.
pub fn grow<L: Ledger>(ledger: &L, rng: &mut ChaCha20Rng, sizes: &[usize]) -> Vec<FullBlock> {
    let signers = Signers::from_seed(9);
    sizes
        .iter()
        .map(|&n| {
            let kis = if ledger.num_blocks().unwrap() == 0 {
                Vec::new()
            } else {
                (0..(n % 3)).map(|_| random_key_image(rng)).collect()
            };
            append_next(ledger, real_outputs(rng, n), kis, Some(&signers)).unwrap()
        })
        .collect()
}

/// SHA-256 over every table's name and every key/value, length-prefixed.
pub fn digest(dump: &TableDump) -> String {
    let mut h = Sha256::new();
    for (name, rows) in dump {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((rows.len() as u64).to_le_bytes());
        for (k, v) in rows {
            h.update((k.len() as u64).to_le_bytes());
            h.update(k);
            h.update((v.len() as u64).to_le_bytes());
            h.update(v);
        }
    }
    hex::encode(h.finalize())
}
