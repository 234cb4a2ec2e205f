//! `mcnode bench ledger`: the LMDB ledger's append rate for blocks of 1, 100 and 1000
//! transactions (2 outputs and 1 key image each), membership-proof time as the ledger
//! grows to 1e6 outputs, and key-image lookups per second.
//!
//! Outputs and key images are random bytes (`mcnode_ledger::test_utils`): the ledger never
//! decompresses them, and making real ones would time curve arithmetic, not the ledger.
//! Appends are durable (LMDB syncs each commit), as in the node.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;
use mcnode_blockchain::BlockContents;
use mcnode_crypto::KeyImage;
use mcnode_ledger::{
    test_utils::{random_key_image_bytes, random_tx_out},
    Ledger, LmdbLedger,
};
use mcnode_transaction::membership::tree_height;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::json;

/// Arguments of `mcnode bench ledger`.
#[derive(Debug, clap::Args)]
pub struct LedgerBenchArgs {
    /// Blocks appended for each block size (1-tx blocks use 10x this many).
    #[arg(long, env = "MC_BENCH_BLOCKS", default_value_t = 20)]
    blocks: u64,
    /// Ledger sizes (outputs) at which membership proofs are timed.
    #[arg(
        long,
        env = "MC_BENCH_PROOF_SIZES",
        value_delimiter = ',',
        default_value = "1000,100000,1000000"
    )]
    proof_sizes: Vec<u64>,
    /// Proofs timed at each size.
    #[arg(long, env = "MC_BENCH_PROOFS", default_value_t = 20_000)]
    proofs: u64,
    /// Key-image lookups timed (half present, half absent).
    #[arg(long, env = "MC_BENCH_LOOKUPS", default_value_t = 200_000)]
    lookups: u64,
    /// Directory for the temporary ledgers (default: the system temp dir).
    #[arg(long, env = "MC_BENCH_DIR")]
    dir: Option<PathBuf>,
    /// Seed of the generated data.
    #[arg(long, env = "MC_BENCH_SEED", default_value_t = 7)]
    seed: u64,
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn tempdir(args: &LedgerBenchArgs) -> anyhow::Result<tempfile::TempDir> {
    match &args.dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .context("cannot create a temporary directory")
}

/// Contents of `txs` transactions of 2 outputs and 1 key image.
fn contents(rng: &mut ChaCha20Rng, txs: u64) -> BlockContents {
    BlockContents::new(
        (0..txs).map(|_| random_key_image_bytes(rng)).collect(),
        (0..2 * txs).map(|_| random_tx_out(rng)).collect(),
    )
}

fn append_bench(
    args: &LedgerBenchArgs,
    rng: &mut ChaCha20Rng,
) -> anyhow::Result<serde_json::Value> {
    let mut rows = Vec::new();
    for txs in [1u64, 100, 1000] {
        let dir = tempdir(args)?;
        let ledger = LmdbLedger::create(dir.path().join("ledger"))?;
        let origin = BlockContents::new(vec![], (0..16).map(|_| random_tx_out(rng)).collect());
        ledger.append_block(&ledger.next_block(&origin)?, &origin, None, None)?;
        let blocks = if txs == 1 {
            args.blocks * 10
        } else {
            args.blocks
        };
        let (mut form, mut append) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..blocks {
            let c = contents(rng, txs);
            let t = Instant::now();
            let block = ledger.next_block(&c)?;
            form += t.elapsed();
            let t = Instant::now();
            ledger.append_block(&block, &c, None, None)?;
            append += t.elapsed();
        }
        let secs = append.as_secs_f64();
        rows.push(json!({
            "txs_per_block": txs,
            "outputs_per_block": 2 * txs,
            "key_images_per_block": txs,
            "blocks": blocks,
            "blocks_per_s": round(blocks as f64 / secs),
            "outputs_per_s": round((blocks * 2 * txs) as f64 / secs),
            "append_ms_per_block": round(secs * 1e3 / blocks as f64),
            "root_preview_ms_per_block": round(form.as_secs_f64() * 1e3 / blocks as f64),
        }));
        ledger.close();
    }
    Ok(json!(rows))
}

fn proof_and_lookup_bench(
    args: &LedgerBenchArgs,
    rng: &mut ChaCha20Rng,
) -> anyhow::Result<(serde_json::Value, serde_json::Value)> {
    let dir = tempdir(args)?;
    let ledger = LmdbLedger::create(dir.path().join("ledger"))?;
    let mut sizes = args.proof_sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let mut rows = Vec::new();
    let mut sampled: Vec<KeyImage> = Vec::new();
    let max = sizes.last().copied().unwrap_or(0);
    let pb = crate::progress::bar(max, "growing the ledger");
    for &target in &sizes {
        // Grow to `target` outputs with 1000-tx blocks (2 outputs + 1 key image per tx).
        loop {
            let have = ledger.num_txos()?;
            if have >= target {
                break;
            }
            let txs = ((target - have).div_ceil(2)).min(1000);
            let mut c = contents(rng, txs);
            if have == 0 {
                c.key_images.clear();
            }
            if sampled.len() < 10_000 {
                sampled.extend(c.key_images.iter().take(50));
            }
            ledger.append_block(&ledger.next_block(&c)?, &c, None, None)?;
            pb.set_position(ledger.num_txos()?);
        }
        let n = ledger.num_txos()?;
        let indices: Vec<u64> = (0..args.proofs).map(|_| rng.gen_range(0..n)).collect();
        let t = Instant::now();
        for &i in &indices {
            std::hint::black_box(ledger.membership_proof(i)?);
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / args.proofs as f64;
        let height = tree_height(n - 1);
        rows.push(json!({
            "outputs": n,
            "tree_height": height,
            "us_per_proof": round(us),
            "us_per_level": round(us / f64::from(height.max(1))),
        }));
    }
    pb.finish_and_clear();
    let key_images = ledger.info()?.num_key_images;
    let probes: Vec<KeyImage> = (0..args.lookups)
        .map(|i| {
            if i % 2 == 0 && !sampled.is_empty() {
                sampled[rng.gen_range(0..sampled.len())]
            } else {
                random_key_image_bytes(rng)
            }
        })
        .collect();
    let t = Instant::now();
    let mut found = 0u64;
    for ki in &probes {
        found += u64::from(ledger.contains_key_image(ki)?);
    }
    let secs = t.elapsed().as_secs_f64();
    let lookups = json!({
        "key_images_in_ledger": key_images,
        "outputs_in_ledger": ledger.num_txos()?,
        "lookups": args.lookups,
        "found": found,
        "lookups_per_s": round(args.lookups as f64 / secs),
    });
    ledger.close();
    Ok((json!(rows), lookups))
}

/// Runs the benchmark.
pub fn run(args: LedgerBenchArgs) -> anyhow::Result<serde_json::Value> {
    let mut rng = ChaCha20Rng::seed_from_u64(args.seed);
    let append = append_bench(&args, &mut rng)?;
    let (proofs, lookups) = proof_and_lookup_bench(&args, &mut rng)?;
    Ok(json!({
        "append": append,
        "membership_proof": proofs,
        "key_image_lookup": lookups,
        "notes": "append_ms_per_block is append_block alone (checks, Merkle nodes, every table, \
                  durable commit); root_preview_ms_per_block is Ledger::next_block (the root a \
                  new block must state). Proofs and lookups each open one read transaction.",
    }))
}
