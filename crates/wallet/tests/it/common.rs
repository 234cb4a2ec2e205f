//! Fixtures: accounts, an origin block paying them, a "node" ledger and block commits.

use std::path::Path;

use mcnode_blockchain::{origin_block, ArchiveBlock};
use mcnode_ledger::{test_utils::Signers, Ledger, LmdbLedger};
use mcnode_transaction::{constants::DEFAULT_MINIMUM_FEE, AccountKey, Tx, TxOut};
use mcnode_wallet::{LocalLedger, Wallet};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub const FEE: u64 = DEFAULT_MINIMUM_FEE;
/// Alice's origin outputs, in fees.
pub const ALICE: [u64; 3] = [10, 20, 5];
/// Bob's origin outputs, in fees.
pub const BOB: [u64; 1] = [3];
/// Outputs paid to a stranger in the origin block (decoys).
pub const STRANGER_OUTPUTS: usize = 20;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub struct Accounts {
    pub alice: AccountKey,
    pub bob: AccountKey,
    pub stranger: AccountKey,
}

impl Accounts {
    pub fn new(rng: &mut ChaCha20Rng) -> Self {
        Self {
            alice: AccountKey::random(rng),
            bob: AccountKey::random(rng),
            stranger: AccountKey::random(rng),
        }
    }
}

/// Outputs paying `values` (in fees) to `to`.
pub fn pay(to: &AccountKey, values: &[u64], rng: &mut ChaCha20Rng) -> Vec<TxOut> {
    values
        .iter()
        .map(|v| TxOut::create(v * FEE, &to.default_address(), rng).tx_out)
        .collect()
}

/// The standard origin: Alice [10, 20, 5] fees, Bob [3], a stranger 20 x 1.
pub fn standard_origin_outputs(a: &Accounts, rng: &mut ChaCha20Rng) -> Vec<TxOut> {
    let mut outs = pay(&a.alice, &ALICE, rng);
    outs.extend(pay(&a.bob, &BOB, rng));
    outs.extend(pay(&a.stranger, &[1; STRANGER_OUTPUTS], rng));
    outs
}

/// A node's ledger at `dir` holding an origin block of `outputs`.
pub fn node_ledger(dir: &Path, outputs: Vec<TxOut>) -> LmdbLedger {
    let ledger = LmdbLedger::create(dir).unwrap();
    let (block, contents) = origin_block(outputs).unwrap();
    ledger.append_block(&block, &contents, None, None).unwrap();
    ledger
}

/// Blocks `from..to` of `ledger` as archive records.
pub fn archive_blocks<L: Ledger>(ledger: &L, from: u64, to: u64) -> Vec<ArchiveBlock> {
    (from..to)
        .map(|i| ArchiveBlock {
            block: ledger.block(i).unwrap(),
            contents: ledger.block_contents(i).unwrap(),
            signature: ledger.block_signature(i).unwrap(),
            metadata: ledger.block_metadata(i).unwrap(),
        })
        .collect()
}

/// Appends a signed block holding `tx`'s outputs and key images (what consensus would do).
pub fn commit<L: Ledger>(ledger: &L, tx: &Tx, signers: &Signers) {
    mcnode_ledger::test_utils::append_next(
        ledger,
        tx.prefix.outputs.clone(),
        tx.key_images(),
        Some(signers),
    )
    .unwrap();
}

/// Appends a signed block of fresh (valid) outputs to a stranger.
pub fn commit_outputs<L: Ledger>(ledger: &L, outputs: Vec<TxOut>, signers: &Signers) {
    mcnode_ledger::test_utils::append_next(ledger, outputs, Vec::new(), Some(signers)).unwrap();
}

/// Brings `local` up to `node` through the sync core.
pub fn catch_up<L: Ledger>(local: &LocalLedger, node: &L) -> u64 {
    let from = local.height().unwrap();
    let to = node.num_blocks().unwrap();
    local.apply_blocks(&archive_blocks(node, from, to)).unwrap()
}

/// A wallet over its own fresh local copy in `dir`, caught up with `node`.
pub fn wallet_synced<L: Ledger>(account: &AccountKey, dir: &Path, node: &L) -> Wallet {
    let local = LocalLedger::open_or_create(dir).unwrap();
    catch_up(&local, node);
    Wallet::new(account.clone(), local)
}
