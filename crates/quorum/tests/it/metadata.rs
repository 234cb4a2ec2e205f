//! Quorum sets from signed block metadata: signatures, keys, the newest block wins, the
//! configured file takes precedence and differences are reported.

use mcnode_blockchain::{
    BlockId, BlockMetadata, BlockMetadataContents, QuorumMemberRecord, QuorumSetRecord,
};
use mcnode_crypto::Ed25519Signer;
use mcnode_quorum::{Federation, Options, QuorumError, Source};
use mcnode_scp::QuorumSet;

fn record(threshold: u32, nodes: &[&str]) -> QuorumSetRecord {
    QuorumSetRecord {
        threshold,
        members: nodes
            .iter()
            .map(|n| QuorumMemberRecord::Node(n.to_string()))
            .collect(),
    }
}

fn metadata(signer: &Ed25519Signer, who: &str, qs: QuorumSetRecord) -> BlockMetadata {
    BlockMetadata::sign(
        BlockMetadataContents {
            block_id: BlockId([7; 32]),
            quorum_set: qs,
            attestation_evidence: vec![1, 2, 3],
            responder_id: who.to_string(),
        },
        signer,
    )
}

#[test]
fn published_quorum_sets_are_checked_and_the_newest_wins() {
    let ka = Ed25519Signer::from_seed(&[1; 32]);
    let kb = Ed25519Signer::from_seed(&[2; 32]);
    let mut f = Federation::new();
    let m = metadata(&ka, "a:1", record(2, &["a:1", "b:1"]));
    assert!(f.add_metadata(&m, 5, Some(&ka.public()), "ledger").unwrap());
    // An older block is ignored, a newer one replaces.
    let older = metadata(&ka, "a:1", record(1, &["a:1", "b:1"]));
    assert!(!f.add_metadata(&older, 4, None, "ledger").unwrap());
    let newer = metadata(&ka, "a:1", record(1, &["a:1", "b:1"]));
    assert!(f.add_metadata(&newer, 9, None, "node").unwrap());
    let entry = f.get(&"a:1".into()).unwrap();
    assert_eq!(entry.published.as_ref().unwrap().block_index, 9);
    assert_eq!(
        entry.effective().unwrap().1,
        Source::Published {
            block_index: 9,
            from: "node".into()
        }
    );

    // Signed by another key than network.toml gives the node.
    let forged = metadata(&kb, "a:1", record(1, &["b:1"]));
    assert!(matches!(
        f.add_metadata(&forged, 10, Some(&ka.public()), "x"),
        Err(QuorumError::MetadataKeyMismatch {
            block_index: 10,
            ..
        })
    ));
    // A tampered quorum set.
    let mut tampered = metadata(&ka, "a:1", record(2, &["a:1", "b:1"]));
    tampered.contents.quorum_set.threshold = 1;
    assert!(matches!(
        f.add_metadata(&tampered, 11, None, "x"),
        Err(QuorumError::BadMetadataSignature {
            block_index: 11,
            ..
        })
    ));
    // A published set that breaks a rule.
    let bad = metadata(&ka, "a:1", record(3, &["a:1", "b:1"]));
    assert!(matches!(
        f.add_metadata(&bad, 12, None, "x"),
        Err(QuorumError::BadPublishedQuorumSet { .. })
    ));
    // Nothing refused was taken.
    assert_eq!(
        f.get(&"a:1".into())
            .unwrap()
            .published
            .as_ref()
            .unwrap()
            .block_index,
        9
    );

    // The configured file wins over what the node published, and the difference shows.
    f.configure(
        "a:1".into(),
        QuorumSet::flat(2, vec!["a:1".into(), "b:1".into()]).unwrap(),
        "a.toml",
    );
    let mb = metadata(&kb, "b:1", record(2, &["a:1", "b:1"]));
    f.add_metadata(&mb, 3, Some(&kb.public()), "ledger")
        .unwrap();
    let a = f.analyze(&Options::default()).unwrap();
    assert_eq!(a.published_differs, vec!["a:1"]);
    assert_eq!(
        a.sources["a:1"],
        Source::Configured {
            file: "a.toml".into()
        }
    );
    assert!(a.quorum_intersection);
    assert!(a.unknown.is_empty());
}
