//! `mcnode quorum check` on the examples of docs/quorum.md: the 7-node tiered network,
//! the broken one split in two, a proposal that would split it, and quorum sets read
//! from the signed metadata of a ledger.

use std::path::{Path, PathBuf};

use mcnode_blockchain::{
    BlockContents, BlockMetadata, BlockMetadataContents, BlockSignature, QuorumMemberRecord,
    QuorumSetRecord,
};
use mcnode_crypto::Ed25519Signer;
use mcnode_ledger::{test_utils::random_tx_out, Ledger, LmdbLedger};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

use super::{mcnode, path};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/quorum")
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

const CORE: [&str; 4] = [
    "core1.example.com:8443",
    "core2.example.com:8443",
    "core3.example.com:8443",
    "core4.example.com:8443",
];

#[test]
fn the_tiered_example_intersects_and_names_its_sets() {
    let dir = examples().join("tiered");
    let (ok, j, err) = mcnode(&["quorum", "check", "--network", path(&dir)]);
    assert!(ok, "{err}");
    let a = &j["analysis"];
    assert_eq!(a["quorum_intersection"], true);
    assert_eq!(a["nodes"].as_array().unwrap().len(), 7);
    assert_eq!(names(&a["top_tier"]), CORE.map(String::from).to_vec());
    let mbs = a["minimal_blocking_sets"].as_array().unwrap();
    assert_eq!(mbs.len(), 6);
    assert_eq!(names(&mbs[0]), vec![CORE[0], CORE[1]]);
    assert_eq!(a["minimal_splitting_sets"].as_array().unwrap().len(), 6);
    assert!(err.contains("quorum intersection: yes"), "{err}");
    assert!(err.contains("analysis took"), "{err}");
    assert!(j["analysis_ms"].as_f64().unwrap() >= 0.0);
    // The owner of each file was found (the member without a key), and named files work.
    let (ok, j, err) = mcnode(&[
        "quorum",
        "check",
        "--network",
        &format!("leaf1.example.com:8443={}", path(&dir.join("leaf1.toml"))),
        "--network",
        path(&dir.join("core1.toml")),
    ]);
    // Only two files: core2..4 are unknown, so core1 and leaf1 form no quorum, and the
    // error says what to give.
    assert!(!ok);
    assert_eq!(j["analysis"]["has_quorum"], false);
    assert_eq!(
        names(&j["analysis"]["unknown"]),
        vec![CORE[1], CORE[2], CORE[3]]
    );
    assert!(err.contains("quorum set unknown"), "{err}");
    assert!(
        err.contains("error: no quorum exists among the known quorum sets; core2.example.com:8443, core3.example.com:8443, core4.example.com:8443 unknown"),
        "{err}"
    );
}

#[test]
fn the_broken_example_is_split_and_the_halves_named() {
    let (ok, j, err) = mcnode(&[
        "quorum",
        "check",
        "--network",
        path(&examples().join("broken")),
    ]);
    assert!(!ok);
    assert!(
        err.contains("error: quorums do not intersect: the network can split"),
        "{err}"
    );
    let a = &j["analysis"];
    assert_eq!(a["quorum_intersection"], false);
    let halves = a["disjoint_quorums"].as_array().unwrap();
    let (x, y) = (names(&halves[0]), names(&halves[1]));
    assert!(x.iter().all(|n| !y.contains(n)), "{x:?} {y:?}");
    assert!(x.len() >= 2 && y.len() >= 2, "{x:?} {y:?}");
    assert!(
        err.contains(&format!("{{{}}}", x.join(", "))) && err.contains("without a common node"),
        "{err}"
    );
    assert_eq!(a["minimal_splitting_sets"], serde_json::json!([[]]));
}

#[test]
fn a_proposal_that_splits_the_network_is_refused_with_the_reason() {
    let (ok, j, err) = mcnode(&[
        "quorum",
        "check",
        "--network",
        path(&examples().join("tiered")),
        "--proposed",
        &format!(
            "core4.example.com:8443={}",
            path(&examples().join("proposed-core4.toml"))
        ),
    ]);
    assert!(!ok);
    assert!(err.contains("less safe or less live"), "{err}");
    let change = &j["proposed"]["change"];
    assert_eq!(change["intersection_before"], true);
    assert_eq!(change["intersection_after"], false);
    let worse = change["worse"][0].as_str().unwrap();
    assert!(
        worse.starts_with("quorum intersection is lost")
            && worse.contains("{core4.example.com:8443}"),
        "{worse}"
    );
    // The current configuration alone is fine.
    assert_eq!(j["analysis"]["quorum_intersection"], true);
}

fn signer(seed: u8) -> Ed25519Signer {
    Ed25519Signer::from_seed(&[seed; 32])
}

fn core_set() -> QuorumSetRecord {
    QuorumSetRecord {
        threshold: 3,
        members: CORE
            .iter()
            .map(|n| QuorumMemberRecord::Node(n.to_string()))
            .collect(),
    }
}

#[test]
fn quorum_sets_come_from_signed_block_metadata_in_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = LmdbLedger::create(dir.path().join("ledger")).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let block_signer = signer(99);
    // The origin, then one block externalized by each of core2..core4 (seeds 3..5, as
    // in the example files), then one whose metadata claims core2 under another key.
    let origin = BlockContents::new(vec![], (0..3).map(|_| random_tx_out(&mut rng)).collect());
    let b = ledger.next_block(&origin).unwrap();
    ledger.append_block(&b, &origin, None, None).unwrap();
    for (who, key) in [(CORE[1], 3u8), (CORE[2], 4), (CORE[3], 5), (CORE[1], 42)] {
        let contents = BlockContents::new(vec![], vec![random_tx_out(&mut rng)]);
        let block = ledger.next_block(&contents).unwrap();
        let sig = BlockSignature::sign(&block, &block_signer, 1_700_000_000);
        let meta = BlockMetadata::sign(
            BlockMetadataContents {
                block_id: block.id,
                quorum_set: core_set(),
                attestation_evidence: vec![],
                responder_id: who.to_string(),
            },
            &signer(key),
        );
        ledger
            .append_block(&block, &contents, Some(&sig), Some(&meta))
            .unwrap();
    }
    drop(ledger);
    let (ok, j, err) = mcnode(&[
        "quorum",
        "check",
        "--network",
        path(&examples().join("tiered/core1.toml")),
        "--ledger",
        path(&dir.path().join("ledger")),
    ]);
    assert!(ok, "{err}");
    let a = &j["analysis"];
    assert_eq!(a["nodes"].as_array().unwrap().len(), 4, "{a}");
    assert_eq!(a["sources"]["core1.example.com:8443"]["kind"], "configured");
    assert_eq!(a["sources"]["core3.example.com:8443"]["kind"], "published");
    assert_eq!(a["sources"]["core3.example.com:8443"]["block_index"], 2);
    assert_eq!(a["quorum_intersection"], true);
    assert!(names(&a["unknown"]).is_empty());
    // The forged block was refused, naming the key mismatch.
    let refused = j["sources"][0]["refused"][0].as_str().unwrap();
    assert!(
        refused.contains("block 4")
            && refused.contains("core2.example.com:8443")
            && refused.contains("consensus-msg-key"),
        "{refused}"
    );
    assert_eq!(j["sources"][0]["metadata_taken"], 3);
    assert!(err.contains("1 configured, 3 from block metadata"), "{err}");
}

#[test]
fn a_file_that_does_not_say_whose_it_is_asks_for_the_id() {
    let dir = tempfile::tempdir().unwrap();
    // A leaf that trusts only the core, not itself: every member is a peer.
    let text = std::fs::read_to_string(examples().join("tiered/leaf1.toml"))
        .unwrap()
        .replace("threshold = 2\n", "threshold = 1\n")
        .replace("  \"leaf1.example.com:8443\",\n", "");
    let file = dir.path().join("leaf.toml");
    std::fs::write(&file, text).unwrap();
    let (ok, _, err) = mcnode(&["quorum", "check", "--network", path(&file)]);
    assert!(!ok);
    assert!(err.contains("--network ID=PATH"), "{err}");
    // Named, it is read (its core is unknown, so there is no quorum yet).
    let (_, j, err) = mcnode(&[
        "quorum",
        "check",
        "--network",
        &format!("leaf1.example.com:8443={}", path(&file)),
    ]);
    assert_eq!(j["analysis"]["nodes"][0], "leaf1.example.com:8443", "{err}");
}
