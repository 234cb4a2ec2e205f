//! Signed consensus envelopes: verified before anything else, unknown peers refused.

use mcnode_crypto::Ed25519Signer;
use mcnode_peers::{
    envelope::encode_scp_msg, Deduplicator, EnvelopeError, ResponderId, SignedConsensusMsg,
};
use mcnode_scp::{Msg, NodeId, Nominate, QuorumSet, Topic};

fn msg(sender: &str) -> Msg<u64> {
    Msg {
        sender: NodeId::from(sender),
        slot: 7,
        quorum_set: QuorumSet::flat(1, vec![NodeId::from("a.test:8443")]).unwrap(),
        topic: Topic::Nominate(Nominate {
            voted: vec![1, 2],
            accepted: vec![1],
        }),
    }
}

fn id(s: &str) -> ResponderId {
    s.parse().unwrap()
}

#[test]
fn signed_messages_open_only_for_their_signer() {
    let alice = Ed25519Signer::from_seed(&[1; 32]);
    let mallory = Ed25519Signer::from_seed(&[2; 32]);
    let keys = |r: &ResponderId| (r.as_str() == "a.test:8443").then(|| alice.public());
    let env =
        SignedConsensusMsg::sign(&msg("a.test:8443"), [9; 32], id("a.test:8443"), &alice).unwrap();
    assert_eq!(env.open::<u64>(&keys).unwrap(), msg("a.test:8443"));

    // Signed by someone else under alice's name.
    let forged =
        SignedConsensusMsg::sign(&msg("a.test:8443"), [9; 32], id("a.test:8443"), &mallory)
            .unwrap();
    assert_eq!(
        forged.open::<u64>(&keys),
        Err(EnvelopeError::BadSignature("a.test:8443".into()))
    );
    // Any change after signing breaks it.
    let mut moved = env.clone();
    moved.prev_block_id[0] ^= 1;
    assert!(matches!(
        moved.open::<u64>(&keys),
        Err(EnvelopeError::BadSignature(_))
    ));
    let mut edited = env.clone();
    *edited.scp_msg.last_mut().unwrap() ^= 1;
    assert!(matches!(
        edited.open::<u64>(&keys),
        Err(EnvelopeError::BadSignature(_))
    ));
    // A peer nobody configured.
    let stranger =
        SignedConsensusMsg::sign(&msg("z.test:8443"), [9; 32], id("z.test:8443"), &mallory)
            .unwrap();
    assert_eq!(
        stranger.open::<u64>(&keys),
        Err(EnvelopeError::UnknownPeer("z.test:8443".into()))
    );
    // A message relayed under another sender's envelope.
    let relabelled =
        SignedConsensusMsg::sign(&msg("b.test:8443"), [9; 32], id("a.test:8443"), &alice).unwrap();
    assert!(matches!(
        relabelled.open::<u64>(&keys),
        Err(EnvelopeError::SenderMismatch { .. })
    ));
}

#[test]
fn garbage_and_other_versions_are_typed_errors() {
    let alice = Ed25519Signer::from_seed(&[1; 32]);
    let keys = |_: &ResponderId| Some(alice.public());
    let signed =
        |bytes: Vec<u8>| SignedConsensusMsg::sign_bytes(bytes, [0; 32], id("a.test:8443"), &alice);
    assert!(matches!(
        signed(vec![1, 0xff, 0xff, 0xff]).open::<u64>(&keys),
        Err(EnvelopeError::Decode(_))
    ));
    assert!(matches!(
        signed(vec![]).open::<u64>(&keys),
        Err(EnvelopeError::Decode(_))
    ));
    let mut v2 = encode_scp_msg(&msg("a.test:8443")).unwrap();
    assert_eq!(v2[0], 1);
    v2[0] = 2;
    assert_eq!(
        signed(v2).open::<u64>(&keys),
        Err(EnvelopeError::UnsupportedVersion(2))
    );
    let big = vec![1u8; mcnode_peers::envelope::MAX_SCP_MSG_BYTES + 1];
    assert!(matches!(
        signed(big).open::<u64>(&keys),
        Err(EnvelopeError::TooLarge(_))
    ));
    // A value of another type does not decode as this node's value type.
    let strings = Msg {
        topic: Topic::Nominate(Nominate {
            voted: vec!["x".to_string()],
            accepted: vec![],
        }),
        sender: NodeId::from("a.test:8443"),
        slot: 1,
        quorum_set: msg("a").quorum_set,
    };
    let env = SignedConsensusMsg::sign(&strings, [0; 32], id("a.test:8443"), &alice).unwrap();
    assert!(matches!(
        env.open::<u64>(&keys),
        Err(EnvelopeError::Decode(_))
    ));
}

#[test]
fn deduplicator_relays_each_message_once_within_its_window() {
    let mut d = Deduplicator::new(2);
    assert!(d.first_time([1; 32]));
    assert!(!d.first_time([1; 32]));
    assert!(d.first_time([2; 32]));
    assert!(d.first_time([3; 32]));
    assert_eq!(d.len(), 2);
    assert!(d.first_time([1; 32]), "forgotten after the window");
}
