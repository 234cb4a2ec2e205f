//! `mcnode bench archive`: publishing a ledger to an archive and catching a new ledger up
//! from it, to a directory and to S3 (an in-process s3s-fs server on loopback, so the
//! figures show the client and server costs without a network).
//!
//! The ledger has `--blocks` signed blocks of 2 random outputs and 1 key image. Reported:
//! the ledger's own append rate while building it; upload blocks/s (the `Writer` of
//! `ledger-distribution`, bundles included, state file kept); catch-up blocks/s (fetch,
//! verify, append into a new LMDB ledger); and catch-up rate / append rate.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use mcnode_archive::{
    layout::validate_buckets, test_server::TestS3Server, ArchiveMetrics, ArchiveReader,
    ArchiveStore, DirStore, S3Store, StartFrom, Writer, WriterConfig,
};
use mcnode_ledger::{
    test_utils::{append_random, Signers},
    Ledger, LmdbLedger,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::json;

/// Arguments of `mcnode bench archive`.
#[derive(Debug, clap::Args)]
pub struct ArchiveBenchArgs {
    /// Blocks in the ledger that is published and caught up.
    #[arg(long, env = "MC_BENCH_BLOCKS", default_value_t = 5000)]
    blocks: u64,
    /// Bundle sizes written and read.
    #[arg(
        long,
        env = "MC_MERGE_BUCKETS",
        value_delimiter = ',',
        default_value = "100,1000,10000"
    )]
    merge_buckets: Vec<u64>,
    /// Uploads in flight at once.
    #[arg(long, env = "MC_UPLOAD_CONCURRENCY", default_value_t = 8)]
    upload_concurrency: usize,
    /// Directory for the temporary ledgers and archives (default: the system temp dir).
    #[arg(long, env = "MC_BENCH_DIR")]
    dir: Option<std::path::PathBuf>,
    /// Seed of the generated data.
    #[arg(long, env = "MC_BENCH_SEED", default_value_t = 7)]
    seed: u64,
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

async fn publish<S: ArchiveStore>(
    store: S,
    ledger: Arc<LmdbLedger>,
    state: &Path,
    args: &ArchiveBenchArgs,
) -> anyhow::Result<(f64, u64)> {
    let metrics = ArchiveMetrics::default();
    let mut config = WriterConfig::new(state.to_path_buf(), StartFrom::Zero);
    config.merge_buckets = args.merge_buckets.clone();
    config.upload_concurrency = args.upload_concurrency;
    config.poll_interval = Duration::from_millis(5);
    let writer = Writer::new(store, ledger, config, metrics.clone())?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let target = args.blocks as i64;
    let started = Instant::now();
    let stopper = async {
        while metrics.height.get() < target {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let elapsed = started.elapsed();
        let _ = tx.send(true);
        elapsed
    };
    let (r, elapsed) = tokio::join!(writer.run(rx), stopper);
    r?;
    Ok((
        args.blocks as f64 / elapsed.as_secs_f64(),
        metrics.uploaded_bytes.get(),
    ))
}

async fn catch_up<S: ArchiveStore>(
    store: S,
    out: &Path,
    buckets: &[u64],
    expected: u64,
) -> anyhow::Result<f64> {
    let ledger = Arc::new(LmdbLedger::create(out)?);
    let reader = ArchiveReader::new(store, buckets, ArchiveMetrics::default());
    let started = Instant::now();
    let report = reader.sync_ledger(ledger, None, |_| {}).await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        report.to == expected,
        "caught up {} blocks, expected {expected}",
        report.to
    );
    Ok(expected as f64 / elapsed.as_secs_f64())
}

/// Runs the benchmark.
pub fn run(args: ArchiveBenchArgs) -> anyhow::Result<serde_json::Value> {
    let buckets = validate_buckets(&args.merge_buckets).map_err(|e| anyhow::anyhow!(e))?;
    anyhow::ensure!(args.blocks >= 2, "--blocks must be at least 2");
    let tmp = match &args.dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .context("cannot create a temporary directory")?;
    mcnode_archive::install_crypto_provider();

    // The source ledger, timing the ledger's own appends.
    let ledger = Arc::new(LmdbLedger::create(tmp.path().join("ledger"))?);
    let mut rng = ChaCha20Rng::seed_from_u64(args.seed);
    let signers = Signers::from_seed(5);
    for _ in 0..args.blocks {
        append_random(ledger.as_ref(), &mut rng, 2, 1, Some(&signers))?;
    }
    // The ledger's own append rate for these blocks: `append_block` alone (checks, Merkle
    // nodes, tables, durable commit) into a fresh ledger, as catch-up does.
    let copy = LmdbLedger::create(tmp.path().join("append-copy"))?;
    let mut append_time = Duration::ZERO;
    for i in 0..args.blocks {
        let (b, c, s, m) = (
            ledger.block(i)?,
            ledger.block_contents(i)?,
            ledger.block_signature(i)?,
            ledger.block_metadata(i)?,
        );
        let t = Instant::now();
        copy.append_block(&b, &c, s.as_ref(), m.as_ref())?;
        append_time += t.elapsed();
    }
    drop(copy);
    let append_rate = args.blocks as f64 / append_time.as_secs_f64();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let s3_root = tmp.path().join("s3");
    std::fs::create_dir_all(s3_root.join("bench"))?;
    let server = TestS3Server::start(&s3_root)?;
    let s3 = S3Store::new("bench", "ledger", &server.config())?;
    let dir = DirStore::new(tmp.path().join("dir-archive"));

    let report = runtime.block_on(async {
        let (dir_up, bytes) = publish(
            &dir,
            Arc::clone(&ledger),
            &tmp.path().join("dir.state"),
            &args,
        )
        .await?;
        let (s3_up, _) = publish(
            &s3,
            Arc::clone(&ledger),
            &tmp.path().join("s3.state"),
            &args,
        )
        .await?;
        let dir_down = catch_up(&dir, &tmp.path().join("from-dir"), &buckets, args.blocks).await?;
        let s3_down = catch_up(&s3, &tmp.path().join("from-s3"), &buckets, args.blocks).await?;
        let single_down =
            catch_up(&s3, &tmp.path().join("from-s3-single"), &[], args.blocks).await?;
        anyhow::Ok(json!({
            "blocks": args.blocks,
            "block_shape": "2 outputs, 1 key image, signed (block signature + metadata)",
            "merge_buckets": buckets,
            "upload_concurrency": args.upload_concurrency,
            "bytes_uploaded_per_block": round(bytes as f64 / args.blocks as f64),
            "ledger_append_blocks_per_s": round(append_rate),
            "upload_blocks_per_s": { "dir": round(dir_up), "s3": round(s3_up) },
            "catch_up_blocks_per_s": {
                "dir": round(dir_down),
                "s3": round(s3_down),
                "s3_single_blocks_only": round(single_down),
            },
            "catch_up_to_append_ratio": {
                "dir": round(dir_down / append_rate),
                "s3": round(s3_down / append_rate),
                "s3_single_blocks_only": round(single_down / append_rate),
            },
            "notes": "S3 is s3s-fs in process on 127.0.0.1 (no network latency). Upload \
                      includes bundles and state-file writes; catch-up is fetch + verify \
                      (linkage, id, contents hash, signatures) + durable LMDB append. The \
                      append rate is Ledger::append_block alone while building the source.",
        }))
    })?;
    drop(server);
    Ok(report)
}
