//! `mcnode ledger from-archive` and `mcnode archive rollback` against directory and S3
//! archives (an in-process s3s-fs server) published by the library's writer.

use std::{path::Path, process::Command, sync::Arc, time::Duration};

use mcnode_archive::{
    layout::block_key, test_server::TestS3Server, ArchiveMetrics, ArchiveStore, DirStore, S3Store,
    StartFrom, Writer, WriterConfig,
};
use mcnode_ledger::{
    test_utils::{append_random, Signers},
    Ledger, LmdbLedger,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

const N: u64 = 300;

fn mcnode_env(envs: &[(&'static str, String)], args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mcnode"))
        .args(args)
        .env_remove("AWS_PATH")
        .env_remove("MC_DEST")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    (
        out.status.success(),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn publish<S: ArchiveStore>(store: S, ledger: Arc<LmdbLedger>, state: &Path) {
    publish_blocks(store, ledger, state, N, vec![10, 100]);
}

/// Publishes the first `n` blocks of `ledger` to `store` with bundles of `buckets`.
pub fn publish_blocks<S: ArchiveStore>(
    store: S,
    ledger: Arc<LmdbLedger>,
    state: &Path,
    n: u64,
    buckets: Vec<u64>,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let metrics = ArchiveMetrics::default();
    let mut config = WriterConfig::new(state.to_path_buf(), StartFrom::Zero);
    config.merge_buckets = buckets;
    config.poll_interval = Duration::from_millis(10);
    let writer = Writer::new(store, ledger, config, metrics.clone()).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    rt.block_on(async {
        let stop = async {
            while metrics.height.get() < n as i64 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tx.send(true).unwrap();
        };
        let (r, ()) = tokio::join!(writer.run(rx), stop);
        assert_eq!(r.unwrap(), n);
    });
}

fn same_blocks(a: &LmdbLedger, b: &Path, n: u64) {
    let b = LmdbLedger::open(b).unwrap();
    assert_eq!(b.num_blocks().unwrap(), n);
    for i in 0..n {
        assert_eq!(a.block(i).unwrap().id, b.block(i).unwrap().id, "block {i}");
    }
}

#[test]
fn from_archive_dir_and_s3_then_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Arc::new(LmdbLedger::create(tmp.path().join("src")).unwrap());
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let signers = Signers::from_seed(4);
    for _ in 0..N {
        append_random(ledger.as_ref(), &mut rng, 2, 1, Some(&signers)).unwrap();
    }
    let dir = tmp.path().join("archive");
    let dir_url = format!("file://{}", dir.display());
    publish(
        DirStore::new(dir.clone()),
        ledger.clone(),
        &tmp.path().join("d.state"),
    );

    // From a directory, in two steps (build, then extend).
    let out = tmp.path().join("from-dir");
    let out_s = out.to_str().unwrap();
    let (ok, j, err) = mcnode_env(
        &[],
        &[
            "ledger",
            "from-archive",
            "--url",
            &dir_url,
            "--out",
            out_s,
            "--to",
            "120",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(j["height"], 120);
    let (ok, j, err) = mcnode_env(
        &[],
        &["ledger", "from-archive", "--url", &dir_url, "--out", out_s],
    );
    assert!(ok, "{err}");
    assert_eq!(
        (j["from_height"].as_u64(), j["height"].as_u64()),
        (Some(120), Some(N))
    );
    same_blocks(&ledger, &out, N);

    // From S3, credentials from the AWS environment.
    let root = tmp.path().join("s3");
    std::fs::create_dir_all(root.join("arch")).unwrap();
    let server = TestS3Server::start(&root).unwrap();
    publish(
        S3Store::new("arch", "n1", &server.config()).unwrap(),
        ledger.clone(),
        &tmp.path().join("s.state"),
    );
    let out = tmp.path().join("from-s3");
    let (ok, j, err) = mcnode_env(
        &server.env(),
        &[
            "ledger",
            "from-archive",
            "--url",
            "s3://arch/n1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(j["height"], N);
    same_blocks(&ledger, &out, N);

    // A corrupted object is refused, and the error names it.
    let key = block_key(205);
    let mut bytes = std::fs::read(dir.join(&key)).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    std::fs::write(dir.join(&key), &bytes).unwrap();
    let (ok, _, err) = mcnode_env(
        &[],
        &[
            "ledger",
            "from-archive",
            "--url",
            &dir_url,
            "--merge-buckets",
            "0",
            "--out",
            tmp.path().join("bad").to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(err.contains(&key), "{err}");

    // Rollback of the S3 archive to 150 blocks; the state file follows.
    let state = tmp.path().join("s.state");
    let (ok, j, err) = mcnode_env(
        &server.env(),
        &[
            "archive",
            "rollback",
            "--to",
            "150",
            "--dest",
            "s3://arch/n1",
            "--state-file",
            state.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(j["blocks_deleted"], N - 150);
    // merged-10: 150..300 (15), merged-100: 100, 200 (2).
    assert_eq!(j["bundles_deleted"], 17);
    assert_eq!(j["state_file_lowered"]["to"], 150);
    let out = tmp.path().join("after-rollback");
    let (ok, j, err) = mcnode_env(
        &server.env(),
        &[
            "ledger",
            "from-archive",
            "--url",
            "s3://arch/n1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(j["height"], 150);

    // A first try that fails (no such bucket) leaves no empty ledger behind.
    let failed = tmp.path().join("failed");
    let (ok, _, err) = mcnode_env(
        &server.env(),
        &[
            "ledger",
            "from-archive",
            "--url",
            "s3://no-such-bucket/n1",
            "--out",
            failed.to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(err.contains("no-such-bucket"), "{err}");
    assert!(!failed.exists(), "{err}");
}

#[test]
fn audit_finds_a_rolled_back_ledger_and_lists_the_blocks_to_withdraw() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger_dir = tmp.path().join("ledger");
    let ledger = LmdbLedger::create(&ledger_dir).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let signers = Signers::from_seed(4);
    for _ in 0..40 {
        append_random(&ledger, &mut rng, 2, 1, Some(&signers)).unwrap();
    }
    let ledger = Arc::new(ledger);
    let archive = tmp.path().join("archive");
    let state = tmp.path().join("state.json");
    publish_blocks(
        DirStore::new(archive.clone()),
        Arc::clone(&ledger),
        &state,
        40,
        vec![10],
    );
    let url = format!("file://{}", archive.display());
    let lp = ledger_dir.to_str().unwrap();
    drop(ledger);
    let audit = |extra: &[&str]| {
        let mut args = vec!["archive", "audit", "--ledger-path", lp, "--archive", &url];
        args.extend_from_slice(extra);
        mcnode_env(&[], &args)
    };
    let (ok, j, err) = audit(&[]);
    assert!(ok, "{err}");
    assert_eq!(j["archive"]["blocks_present"], 40);
    assert_eq!(j["archive"]["lag"], 0);
    assert!(
        err.contains("40 blocks (0..40 contiguous), 0 behind, 0 hole(s)"),
        "{err}"
    );

    // The ledger goes back to 30 (the operator's rollback), the archive does not yet.
    let (ok, _, err) = mcnode_env(
        &[],
        &["ledger", "rollback", "--ledger-path", lp, "--to", "30"],
    );
    assert!(ok, "{err}");
    let list = tmp.path().join("withdraw.json");
    let (ok, j, err) = audit(&["--withdraw-list", list.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("10 block(s) past the ledger's height 30"),
        "{err}"
    );
    assert!(err.contains("error: the audit found 1 problem(s)"), "{err}");
    assert_eq!(j["ok"], false);
    let w: Value = serde_json::from_str(&std::fs::read_to_string(&list).unwrap()).unwrap();
    assert_eq!(w, j["withdraw"]);
    assert_eq!(w["ledger_height"], 30);
    assert_eq!(w["blocks"].as_array().unwrap().len(), 10);
    assert_eq!(w["blocks"][0]["index"], 30);
    assert_eq!(w["complete"], true);
    let cmd = w["rollback_command"].as_str().unwrap();
    assert!(
        cmd.starts_with(&format!("mcnode archive rollback --to 30 --dest {url}")),
        "{cmd}"
    );

    // The command it names repairs the archive.
    let (ok, _, err) = mcnode_env(
        &[],
        &[
            "archive",
            "rollback",
            "--to",
            "30",
            "--dest",
            &url,
            "--state-file",
            state.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = audit(&[]);
    assert!(ok, "{err}");

    // A hole is a problem; --from past it audits only the rest.
    std::fs::remove_file(archive.join(block_key(12))).unwrap();
    let (ok, _, err) = audit(&[]);
    assert!(
        !ok && err.contains("1 hole(s), the first at index 12"),
        "{err}"
    );
    let (ok, _, err) = audit(&["--from", "13"]);
    assert!(ok, "{err}");
    // Another archive as a source: the same chain, so no fork.
    let (ok, j, err) = mcnode_env(
        &[],
        &[
            "archive",
            "audit",
            "--ledger-path",
            lp,
            "--source",
            &url,
            "--from",
            "13",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(j["sources"][0]["divergent_count"], 0);
}
