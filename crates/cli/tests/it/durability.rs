//! Kill-during-write, file by file: each file the node must not lose is written by its
//! real writer in a child process (this test binary re-run as the ignored test
//! `durability::child`, or `mcnode` itself for key files) that is SIGKILLed at random
//! moments; afterwards the file is absent or whole, and the next start takes it as it is
//! (or does the interrupted step again).
//!
//! Files: the sealed block-signing key and the origin copy (`consensus-service`), the
//! origin copy of `mcnode-entrypoint`, the host secret, the `ledger-distribution` state
//! file, and the key files of `mcnode keygen`.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use mcnode_archive::state::{read_state, write_state, State};
use mcnode_enclave::{
    sealing::{seal, unseal},
    HostSecret, Measurement,
};
use mcnode_ledger::{Ledger, LmdbLedger};
use rand::{Rng, SeedableRng};

use super::{mcnode, path};

const ENV_WHAT: &str = "MCNODE_DURABILITY_WHAT";
const ENV_DIR: &str = "MCNODE_DURABILITY_DIR";
const PURPOSE: &str = "durability-test";

fn measurement() -> Measurement {
    Measurement([9; 32])
}

/// An origin ledger made by `mcnode origin-block` (a few hundred KiB of LMDB).
fn origin(dir: &Path) -> PathBuf {
    let out = dir.join("origin");
    let (ok, _, err) = mcnode(&[
        "origin-block",
        "--accounts",
        "4",
        "--outputs-each",
        "50",
        "--amount",
        "1000",
        "--out",
        path(&out),
    ]);
    assert!(ok, "{err}");
    out.join("ledger")
}

/// The entrypoint's configuration for ledger `ledger` and origin `origin`.
fn entrypoint_config(ledger: &Path, origin: &Path, state: &Path) -> mcnode_entrypoint::Config {
    let env: HashMap<&str, String> = [
        ("LOCAL_NODE_ID", "node0:8443".to_string()),
        ("NODE_LEDGER_DIR", ledger.display().to_string()),
        (
            "CONSENSUS_ADMIN_URI",
            "insecure-mca://127.0.0.1:9091/".into(),
        ),
        ("NODE_STATE_DIR", state.display().to_string()),
        ("ORIGIN_BLOCK_PATH", origin.display().to_string()),
    ]
    .into_iter()
    .collect();
    mcnode_entrypoint::Config::from_lookup(|k| env.get(k).cloned(), vec![], Path::new("/bin"))
        .unwrap()
}

/// The child: writes its file over and over (fresh directories `round-N` for the origin
/// copies and the host secret, which are written once per directory).
#[test]
#[ignore = "the child half of the kill tests; they run it"]
fn child() {
    let (Ok(what), Some(dir)) = (std::env::var(ENV_WHAT), std::env::var_os(ENV_DIR)) else {
        return; // run directly: nothing to do
    };
    let dir = PathBuf::from(dir);
    let origin = dir.join("origin/ledger");
    let host = HostSecret::from_bytes([3; 32]);
    for n in 0u64.. {
        let round = dir.join(format!("round-{n:06}"));
        match what.as_str() {
            "sealed-key" => {
                let sealed = seal(&n.to_le_bytes(), &host, &measurement(), PURPOSE).unwrap();
                mcnode_consensus::service::write_sealed_key(&dir.join("sealed-key"), &sealed)
                    .unwrap();
            }
            "state-file" => write_state(&dir.join("state.json"), State { next_block: n }).unwrap(),
            "consensus-origin" => {
                drop(mcnode_consensus::service::prepare_ledger(&round, Some(&origin)).unwrap());
            }
            "entrypoint-origin" => {
                let cfg = entrypoint_config(&round, &origin, &dir.join("state"));
                assert!(mcnode_entrypoint::supervisor::prepare_ledger(&cfg).unwrap());
            }
            "host-secret" => drop(HostSecret::load_or_create(&round.join("host-secret")).unwrap()),
            other => panic!("unknown file {other}"),
        }
    }
}

/// Runs the child for `what` `kills` times, killing it after 1-30 ms, and calls `check`
/// after each kill.
fn kill_loop(what: &str, dir: &Path, kills: usize, mut check: impl FnMut(&Path)) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
    for _ in 0..kills {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "durability::child", "--ignored", "--nocapture"])
            .env(ENV_WHAT, what)
            .env(ENV_DIR, dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.gen_range(1_000..30_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        check(dir);
    }
}

/// The highest `round-N` directory the child started.
fn last_round(dir: &Path) -> Option<PathBuf> {
    let mut rounds: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("round-")
        })
        .collect();
    rounds.sort();
    rounds.pop()
}

/// Removes the `round-N` directories (between kills), so each kill starts afresh.
fn clear_rounds(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("round-")
        {
            std::fs::remove_dir_all(p).unwrap();
        }
    }
}

#[test]
fn sealed_block_signing_key_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let host = HostSecret::from_bytes([3; 32]);
    let mut seen = 0;
    kill_loop("sealed-key", dir.path(), 30, |d| {
        if let Ok(sealed) = std::fs::read(d.join("sealed-key")) {
            unseal(&sealed, &host, &measurement(), PURPOSE).expect("the sealed key file is torn");
            seen += 1;
        }
    });
    assert!(seen > 0);
}

#[test]
fn distribution_state_file_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = 0;
    kill_loop("state-file", dir.path(), 30, |d| {
        if read_state(&d.join("state.json"))
            .expect("the state file is torn")
            .is_some()
        {
            seen += 1;
        }
    });
    assert!(seen > 0);
}

/// After each kill the last ledger directory the child was filling is prepared again
/// (the next start) and must hold the origin block.
#[test]
fn consensus_service_origin_copy_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let origin = origin(dir.path());
    let origin_id = LmdbLedger::open(&origin).unwrap().last_block().unwrap().id;
    kill_loop("consensus-origin", dir.path(), 25, |d| {
        if let Some(round) = last_round(d) {
            let ledger = mcnode_consensus::service::prepare_ledger(&round, Some(&origin))
                .unwrap_or_else(|e| panic!("restart after a kill mid-copy: {e:#}"));
            assert_eq!(ledger.last_block().unwrap().id, origin_id);
            drop(ledger);
            clear_rounds(d);
        }
    });
}

#[test]
fn entrypoint_origin_copy_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let origin = origin(dir.path());
    let want = std::fs::read(origin.join("data.mdb")).unwrap();
    kill_loop("entrypoint-origin", dir.path(), 25, |d| {
        if let Some(round) = last_round(d) {
            let cfg = entrypoint_config(&round, &origin, &d.join("state"));
            mcnode_entrypoint::supervisor::prepare_ledger(&cfg)
                .unwrap_or_else(|e| panic!("restart after a kill mid-copy: {e}"));
            assert_eq!(std::fs::read(round.join("data.mdb")).unwrap(), want);
            clear_rounds(d);
        }
    });
}

#[test]
fn host_secret_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    kill_loop("host-secret", dir.path(), 30, |d| {
        if let Some(round) = last_round(d) {
            let p = round.join("host-secret");
            let before = std::fs::read(&p).ok();
            HostSecret::load_or_create(&p)
                .unwrap_or_else(|e| panic!("restart after a kill mid-write: {e}"));
            if let Some(b) = before {
                assert_eq!(b.len(), 32);
                assert_eq!(std::fs::read(&p).unwrap(), b, "an existing secret is kept");
            }
            clear_rounds(d);
        }
    });
}

/// `mcnode keygen account --out F` killed at random moments: `F` is absent or a whole
/// key file, and its address file absent or whole.
#[test]
fn keygen_key_files_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
    let mut whole = 0;
    for i in 0..40 {
        let out = dir.path().join(format!("k{i}.json"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcnode"))
            .args(["keygen", "account", "--out", path(&out)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..6_000)));
        let _ = child.kill();
        child.wait().unwrap();
        if let Ok(text) = std::fs::read_to_string(&out) {
            let file: mcnode_transaction::AccountKeyFile =
                serde_json::from_str(&text).expect("the key file is torn");
            mcnode_transaction::AccountKey::from_key_file(&file).unwrap();
            whole += 1;
        }
        let pub_path = dir.path().join(format!("k{i}.json.pub"));
        if let Ok(text) = std::fs::read_to_string(&pub_path) {
            text.trim()
                .parse::<mcnode_transaction::PublicAddress>()
                .expect("the address file is torn");
        }
    }
    eprintln!("{whole} of 40 key files written before the kill");
}
