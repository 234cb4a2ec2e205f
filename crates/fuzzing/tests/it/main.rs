//! Replays every committed corpus file (`fuzz/corpus/<target>/`) and every crash
//! regression (`fuzz/regressions/<target>/`) through the fuzz targets' bodies, so CI runs
//! what the fuzzers found; checks the seeds are in the corpus and that each target accepts
//! its seeds without panicking.

#![allow(clippy::unwrap_used, missing_docs)]

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    path::{Path, PathBuf},
};

use mcnode_fuzzing::{seeds::seeds, Target, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Runs `target` on each file; returns the files on which it panicked.
fn replay(target: Target, files: &[PathBuf]) -> Vec<String> {
    let mut failed = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        if catch_unwind(AssertUnwindSafe(|| target(&bytes))).is_err() {
            failed.push(f.display().to_string());
        }
    }
    failed
}

fn replay_dir(kind: &str, must_exist: bool) {
    let mut failed = Vec::new();
    let mut total = 0;
    for (name, target) in TARGETS {
        let dir = fuzz_dir().join(kind).join(name);
        let fs = files(&dir);
        if must_exist {
            assert!(!fs.is_empty(), "{} holds no inputs", dir.display());
        }
        total += fs.len();
        failed.extend(replay(*target, &fs));
    }
    eprintln!("replayed {total} {kind} files");
    assert!(failed.is_empty(), "targets panicked on: {failed:#?}");
}

#[test]
fn corpus_replays_without_panics() {
    replay_dir("corpus", true);
}

#[test]
fn regressions_replay_without_panics() {
    replay_dir("regressions", false);
}

#[test]
fn every_target_has_seeds_and_a_harness() {
    for (name, target) in TARGETS {
        let s = seeds(name);
        assert!(!s.is_empty(), "{name} has no seeds");
        for (file, bytes) in &s {
            assert!(
                catch_unwind(AssertUnwindSafe(|| target(bytes))).is_ok(),
                "{name} panicked on its seed {file}"
            );
        }
        let harness = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&harness)
            .unwrap_or_else(|e| panic!("{}: {e}", harness.display()));
        assert!(
            text.contains(&format!("mcnode_fuzzing::{name}(")),
            "{} does not call mcnode_fuzzing::{name}",
            harness.display()
        );
    }
}

#[test]
fn the_client_tx_seeds_are_valid_transactions() {
    // So the fuzzer starts from inputs that pass every rule of validate.
    for (file, bytes) in seeds("client_tx") {
        let outcome = mcnode_fuzzing::tx::client_tx_outcome(&bytes);
        assert!(matches!(outcome, Some(Ok(_))), "{file}: {outcome:?}");
    }
}

#[test]
fn the_envelope_seeds_reach_scp() {
    use mcnode_node_core::Action;
    let round = seeds("consensus_envelope")
        .into_iter()
        .find(|(f, _)| f == "seed-round-to-externalize")
        .unwrap()
        .1;
    let actions = mcnode_fuzzing::envelope::consensus_envelope_actions(&round);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::FormBlock { index: 1, .. })),
        "three peers' full round externalizes slot 1: {actions:#?}"
    );
}

#[test]
fn the_handshake_seeds_pass_the_checks() {
    use mcnode_enclave::{ClientChannel, ConsensusEnclave, BUILD_MEASUREMENT};
    use mcnode_fuzzing::handshake::{self as h};
    let enclave = h::start_enclave(h::enclave_config());
    let evidence = h::fake_peer_evidence(h::FAKE_PEER_ID).to_bytes();
    let hello = h::peer_hello(&evidence).unwrap();
    let (channel, _) = enclave.peer_accept(&hello).unwrap();
    assert_eq!(channel.responder_id, h::FAKE_PEER_ID);
    // The same evidence with one byte changed is refused.
    let mut tampered = evidence.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(enclave
        .peer_accept(&h::peer_hello(&tampered).unwrap())
        .is_err());
    let (_, client_hello) = ClientChannel::start(
        h::NODE_CLIENT_ID,
        BUILD_MEASUREMENT,
        h::enclave_config().chain,
    )
    .unwrap();
    assert!(enclave.client_accept(&client_hello).is_ok());
}
