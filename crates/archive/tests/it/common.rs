//! Shared helpers: ledgers of small signed blocks, servers, archive checks.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use mcnode_archive::{
    layout::{block_key, bundle_key, decode_bundle},
    ArchiveStore,
};
use mcnode_blockchain::{encoding::encode_archive_block, ArchiveBlock};
use mcnode_ledger::{
    test_utils::{append_random, Signers},
    Ledger, LmdbLedger,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tempfile::TempDir;

pub const BLOCKS: u64 = 1000;

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Appends `n` small signed blocks (2 outputs, 1 key image) to `ledger`.
pub fn grow(ledger: &LmdbLedger, rng: &mut ChaCha20Rng, n: u64) {
    let signers = Signers::from_seed(3);
    for _ in 0..n {
        append_random(ledger, rng, 2, 1, Some(&signers)).unwrap();
    }
}

/// A new ledger with `n` blocks from `seed`.
pub fn make_ledger(dir: &Path, n: u64, seed: u64) -> LmdbLedger {
    let ledger = LmdbLedger::create(dir).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    grow(&ledger, &mut rng, n);
    ledger
}

/// One ledger of [`BLOCKS`] blocks shared by the tests that only read it.
pub fn shared_ledger() -> (PathBuf, Arc<LmdbLedger>) {
    static L: OnceLock<(TempDir, Arc<LmdbLedger>)> = OnceLock::new();
    let (dir, ledger) = L.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ledger = make_ledger(&dir.path().join("ledger"), BLOCKS, 1);
        (dir, Arc::new(ledger))
    });
    (dir.path().join("ledger"), Arc::clone(ledger))
}

/// The archive record of block `i` as the ledger encodes it.
pub fn ledger_bytes(ledger: &LmdbLedger, i: u64) -> Vec<u8> {
    encode_archive_block(&ArchiveBlock {
        block: ledger.block(i).unwrap(),
        contents: ledger.block_contents(i).unwrap(),
        signature: ledger.block_signature(i).unwrap(),
        metadata: ledger.block_metadata(i).unwrap(),
    })
}

/// Checks that `store` holds exactly blocks `0..n` of `ledger` (byte-identical) and every
/// complete bundle of `buckets`, and nothing else.
pub async fn assert_archive_exact<S: ArchiveStore>(
    store: &S,
    ledger: &LmdbLedger,
    n: u64,
    buckets: &[u64],
) {
    let keys = store.list().await.unwrap();
    let mut expected = BTreeMap::new();
    for i in 0..n {
        expected.insert(block_key(i), ledger_bytes(ledger, i));
    }
    for &b in buckets {
        for first in (0..n / b).map(|k| k * b) {
            expected.insert(bundle_key(b, first), Vec::new());
        }
    }
    let got: Vec<&String> = keys.iter().collect();
    let want: Vec<&String> = expected.keys().collect();
    assert_eq!(got.len(), want.len(), "number of objects");
    assert_eq!(got, want, "object keys");
    for (key, bytes) in &expected {
        let stored = store.get(key).await.unwrap().unwrap();
        if key.starts_with("merged-") {
            let bundle = decode_bundle(&stored).unwrap();
            let first = bundle.first_index;
            for (k, enc) in bundle.blocks.iter().enumerate() {
                assert_eq!(enc, &ledger_bytes(ledger, first + k as u64), "{key}[{k}]");
            }
            let b: u64 = key["merged-".len()..key.find('/').unwrap()]
                .parse()
                .unwrap();
            assert_eq!(bundle.blocks.len() as u64, b, "{key} length");
        } else {
            assert_eq!(&stored[..], &bytes[..], "{key}");
        }
    }
}

/// Runs an in-process writer of `ledger` to `store` until it has published `n` blocks,
/// then stops it; returns the next block it reports.
pub async fn publish<S: ArchiveStore>(
    store: S,
    ledger: Arc<LmdbLedger>,
    state_file: &Path,
    start_from: mcnode_archive::StartFrom,
    buckets: &[u64],
    n: u64,
) -> Result<u64, mcnode_archive::ArchiveError> {
    let metrics = mcnode_archive::ArchiveMetrics::default();
    let mut config = mcnode_archive::WriterConfig::new(state_file.to_path_buf(), start_from);
    config.merge_buckets = if buckets.is_empty() {
        vec![0]
    } else {
        buckets.to_vec()
    };
    config.poll_interval = std::time::Duration::from_millis(20);
    let writer = mcnode_archive::Writer::new(store, ledger, config, metrics.clone())?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopper = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while metrics.height.get() < n as i64 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let _ = tx.send(true);
    };
    let (r, ()) = tokio::join!(writer.run(rx), stopper);
    r
}
