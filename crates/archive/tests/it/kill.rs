//! The real `ledger-distribution` binary publishing to a real S3 API server while the
//! ledger grows, killed with SIGKILL 20 times at random moments and restarted with
//! `--start-from last`: afterwards the archive holds every block exactly once,
//! byte-identical to the ledger's encoding, and every complete bundle.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use mcnode_archive::{
    state::read_state, test_server::TestS3Server, ArchiveMetrics, ArchiveReader, S3Store,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::common::{assert_archive_exact, grow, make_ledger, rt, BLOCKS};

const BUCKETS: [u64; 3] = [10, 100, 1000];
const KILLS: usize = 20;

fn spawn(server: &TestS3Server, ledger: &Path, state: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_ledger-distribution"))
        .args(["--ledger-path", ledger.to_str().unwrap()])
        .args(["--dest", "s3://archive/kill-test"])
        .args(["--state-file", state.to_str().unwrap()])
        .args(["--start-from", "last"])
        .args(["--merge-buckets", "10,100,1000"])
        .args(["--poll-interval-ms", "20"])
        .envs(server.env())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_20_times_then_archive_is_exact() {
    let seed: u64 = std::env::var("KILL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("kill test seed {seed} (set KILL_TEST_SEED to replay)");
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("s3");
    std::fs::create_dir_all(root.join("archive")).unwrap();
    let server = TestS3Server::start(&root).unwrap();
    let ledger_path = tmp.path().join("ledger");
    let state = tmp.path().join("state.json");
    let log = tmp.path().join("writer.log");
    // 600 blocks at first; the other 400 arrive while the writer is being killed.
    let initial = 600;
    let ledger = make_ledger(&ledger_path, initial, 7);
    let mut data_rng = ChaCha20Rng::seed_from_u64(seed ^ 0xabcd);
    let per_round = (BLOCKS - initial) / KILLS as u64;

    let started = Instant::now();
    let mut child = spawn(&server, &ledger_path, &state, &log);
    let store = S3Store::new("archive", "kill-test", &server.config()).unwrap();
    let reader = ArchiveReader::new(&store, &[], ArchiveMetrics::default());
    let runtime = rt();
    let mut progress = Vec::new();
    for _ in 0..KILLS {
        grow(&ledger, &mut data_rng, per_round);
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..250)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let height = runtime.block_on(reader.height(32)).unwrap();
        progress.push((height, read_state(&state).unwrap().map(|s| s.next_block)));
        child = spawn(&server, &ledger_path, &state, &log);
    }
    eprintln!("(archive height, state file) at each kill: {progress:?}");
    // Let it catch up, then stop it cleanly with SIGTERM.
    let deadline = Instant::now() + Duration::from_secs(60);
    while read_state(&state).unwrap().map(|s| s.next_block) != Some(BLOCKS) {
        assert!(Instant::now() < deadline, "writer did not catch up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    eprintln!("kill test took {:?}", started.elapsed());
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("stopped cleanly"), "{logs}");

    runtime.block_on(assert_archive_exact(&store, &ledger, BLOCKS, &BUCKETS));
    // The kills hit a writer with work to do: the archive was short of the ledger.
    let behind = progress
        .iter()
        .enumerate()
        .filter(|(k, (h, _))| *h < initial + per_round * (*k as u64 + 1))
        .count();
    assert!(behind >= KILLS / 2, "{progress:?}");
}
