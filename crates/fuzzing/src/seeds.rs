//! The first corpus of every target, made from the fixtures the crates' own tests use:
//! valid transactions of the fixture ledger, signed envelopes of a full SCP round, the
//! peers crate's `network.toml` fixtures, archive blocks that verify, real handshake
//! messages, and the admin gateway's requests. `examples/seed.rs` writes them under
//! `fuzz/corpus/<target>/`.

use mcnode_blockchain::{
    encoding, ArchiveBlock, Block, BlockContents, BlockMetadata, BlockMetadataContents,
    BlockSignature, QuorumMemberRecord, QuorumSetRecord,
};
use mcnode_crypto::Ed25519Signer;
use mcnode_enclave::{ChannelId, ClientChannel, ConsensusEnclave, Evidence};
use mcnode_node_core::TxSet;
use mcnode_scp::{
    Ballot, BallotStatement, Confirm, Externalize, Msg, Nominate, Prepare, Topic, INFINITE_COUNTER,
};
use mcnode_transaction::TxOutTree;
use prost::Message;

use crate::{admin, archive, envelope, handshake, network, tx};

/// One seed: a file name and its bytes.
pub type Seed = (String, Vec<u8>);

/// The seeds of the target called `name` (none for an unknown name).
pub fn seeds(name: &str) -> Vec<Seed> {
    match name {
        "client_tx" => client_tx(),
        "consensus_envelope" => consensus_envelope(),
        "network_config" => network_config(),
        "archive_object" => archive_object(),
        "attested_handshake" => attested_handshake(),
        "admin_http" => admin_http(),
        _ => Vec::new(),
    }
}

fn seed(name: &str, bytes: Vec<u8>) -> Seed {
    (format!("seed-{name}"), bytes)
}

fn with_selector(selector: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![selector];
    v.extend_from_slice(bytes);
    v
}

fn client_tx() -> Vec<Seed> {
    tx::valid_txs()
        .iter()
        .enumerate()
        .map(|(i, t)| seed(&format!("valid-{i}"), encoding::encode_tx(t)))
        .collect()
}

fn msg(from: usize, slot: u64, topic: Topic<TxSet>) -> Msg<TxSet> {
    Msg {
        sender: envelope::node_id(from),
        slot,
        quorum_set: envelope::quorum_set(),
        topic,
    }
}

fn consensus_envelope() -> Vec<Seed> {
    let v = TxSet::new(vec![envelope::known_tx_hash(1), envelope::known_tx_hash(2)]);
    let w = TxSet::new(vec![envelope::known_tx_hash(3)]);
    let unknown = TxSet::new(vec![[0x77; 32]]);
    let b = Ballot::new(1, v.clone());
    let nominate = |x: &TxSet, accepted: bool| {
        Topic::Nominate(Nominate {
            voted: vec![x.clone()],
            accepted: if accepted {
                vec![x.clone()]
            } else {
                Vec::new()
            },
        })
    };
    let prepare = Topic::Ballot(BallotStatement::Prepare(Prepare {
        ballot: b.clone(),
        prepared: Some(b.clone()),
        prepared_prime: None,
        commit_counter: 1,
        high_counter: 1,
    }));
    let confirm = Topic::Ballot(BallotStatement::Confirm(Confirm {
        ballot: b.clone(),
        prepared_counter: 1,
        commit_counter: 1,
        high_counter: 1,
    }));
    let externalize = Topic::Ballot(BallotStatement::Externalize(Externalize {
        commit: b.clone(),
        high_counter: INFINITE_COUNTER,
    }));
    let g = envelope::GENESIS;
    let all = |topic: &Topic<TxSet>| -> Vec<u8> {
        (1..4)
            .flat_map(|i| envelope::wire_envelope(i, &msg(i, 1, topic.clone()), g))
            .collect()
    };
    let mut round = Vec::new();
    for topic in [
        nominate(&v, false),
        nominate(&v, true),
        prepare.clone(),
        confirm.clone(),
        externalize.clone(),
    ] {
        round.extend(all(&topic));
    }
    let mut bad_signature = envelope::wire_envelope(1, &msg(1, 1, nominate(&w, false)), g);
    let last = bad_signature.len() - 1;
    bad_signature[last] ^= 1;
    vec![
        seed(
            "one-nomination",
            envelope::wire_envelope(1, &msg(1, 1, nominate(&v, false)), g),
        ),
        seed("nominations", all(&nominate(&v, true))),
        seed("round-to-externalize", round),
        seed("prepare", all(&prepare)),
        seed("confirm", all(&confirm)),
        seed("externalize", all(&externalize)),
        seed("unknown-tx", all(&nominate(&unknown, false))),
        seed(
            "slot-ahead",
            envelope::wire_envelope(2, &msg(2, 3, nominate(&w, false)), [0xbb; 32]),
        ),
        seed(
            "other-parent",
            envelope::wire_envelope(3, &msg(3, 1, nominate(&w, false)), [0xcc; 32]),
        ),
        seed("bad-signature", bad_signature),
    ]
}

fn network_config() -> Vec<Seed> {
    let ours = include_str!("../../peers/tests/it/fixtures/network/ours.toml");
    let theirs_toml = include_str!("../../peers/tests/it/fixtures/network/theirs.toml");
    let theirs_json = include_str!("../../peers/tests/it/fixtures/network/theirs.json");
    let _ = network::ME;
    let mut out = vec![
        seed("ours-toml", with_selector(0, ours.as_bytes())),
        seed("theirs-toml", with_selector(0, theirs_toml.as_bytes())),
        seed("theirs-json", with_selector(1, theirs_json.as_bytes())),
    ];
    for (name, selector, text) in [
        ("client-uri", 2, "mc://node1.test:3223/?tls-chain=/etc/mc/chain.pem&tls-key=/etc/mc/key.pem"),
        ("insecure-client-uri", 2, "insecure-mc://127.0.0.1:3223/"),
        (
            "peer-uri",
            3,
            "mcp://node2.test:8443/?consensus-msg-key=MCowBQYDK2VwAyEAgTl3Dqh9F19Wo1Rmw0x-zMuNipG07jeiXfYPW4_Js5Q&ca-bundle=/etc/mcnode/peers/ca.pem&tls-hostname=peer2&responder-id=node2.test:8443",
        ),
        (
            "peer-uri-hex-key",
            3,
            "insecure-mcp://[::1]:8443?consensus-msg-key=8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
        ),
        ("admin-uri", 4, "insecure-mca://127.0.0.1:9091/"),
        ("responder-id", 5, "node1.test:8443"),
    ] {
        out.push(seed(name, with_selector(selector, text.as_bytes())));
    }
    out
}

/// Block 1 after the fixture origin, with the enclave's signature and the node's metadata.
fn child_block() -> ArchiveBlock {
    let origin = archive::origin();
    let t = &tx::valid_txs()[0];
    let contents = BlockContents::new(t.key_images(), t.prefix.outputs.clone());
    let mut tree = TxOutTree::new();
    for o in origin.contents.outputs.iter().chain(&contents.outputs) {
        tree.push(*o);
    }
    let root = tree
        .root()
        .unwrap_or_else(|| unreachable!("a tree with outputs has a root"));
    let block = Block::new_child(&origin.block, &contents, root);
    let enclave = Ed25519Signer::from_seed(&[3; 32]);
    let node = envelope::signer(0);
    let evidence = handshake::fake_peer_evidence(handshake::NODE_PEER_ID);
    let metadata = BlockMetadata::sign(
        BlockMetadataContents {
            block_id: block.id,
            quorum_set: QuorumSetRecord {
                threshold: 2,
                members: vec![
                    QuorumMemberRecord::Node(envelope::node_name(0)),
                    QuorumMemberRecord::InnerSet(QuorumSetRecord {
                        threshold: 1,
                        members: vec![QuorumMemberRecord::Node(envelope::node_name(1))],
                    }),
                ],
            },
            attestation_evidence: evidence.to_bytes(),
            responder_id: envelope::node_name(0),
        },
        &node,
    );
    ArchiveBlock {
        signature: Some(BlockSignature::sign(&block, &enclave, 1_800_000_000)),
        metadata: Some(metadata),
        block,
        contents,
    }
}

fn archive_object() -> Vec<Seed> {
    use mcnode_archive::layout::{block_key, bundle_key, encode_block_object, encode_bundle};
    let origin = encode_block_object(archive::origin());
    let child = encode_block_object(&child_block());
    vec![
        seed("origin-block", with_selector(0, &origin)),
        seed("block-1", with_selector(0, &child)),
        seed(
            "bundle-0-1",
            with_selector(1, &encode_bundle(0, &[origin.clone(), child.clone()])),
        ),
        seed("bundle-1", with_selector(1, &encode_bundle(1, &[child]))),
        seed("block-key", with_selector(2, block_key(1).as_bytes())),
        seed(
            "bundle-key",
            with_selector(2, bundle_key(100, 200).as_bytes()),
        ),
    ]
}

fn attested_handshake() -> Vec<Seed> {
    use handshake::Mode;
    let peer_evidence = handshake::fake_peer_evidence(handshake::FAKE_PEER_ID).to_bytes();
    let node_evidence = handshake::fake_peer_evidence(handshake::NODE_CLIENT_ID).to_bytes();
    let hello =
        handshake::peer_hello(&handshake::fake_peer_evidence(handshake::FAKE_PEER_ID).to_bytes())
            .unwrap_or_else(|| unreachable!("the fake peer writes its hello"));
    let chain = tx::chain();
    let client_hello = ClientChannel::start(
        handshake::NODE_CLIENT_ID,
        mcnode_enclave::BUILD_MEASUREMENT,
        chain,
    )
    .unwrap_or_else(|e| unreachable!("a client handshake starts: {e}"))
    .1;
    // A real enclave's answer to a real hello, to seed the raw-answer modes.
    let other = handshake::start_enclave(handshake::enclave_config());
    let (_, client_answer) = other
        .client_accept(&client_hello)
        .unwrap_or_else(|e| unreachable!("an enclave answers a client: {e}"));
    let tampered = {
        let mut e = Evidence::from_bytes(&peer_evidence)
            .unwrap_or_else(|e| unreachable!("evidence parses: {e}"));
        e.responder_id.push('x');
        e.to_bytes()
    };
    let auth = mcnode_api::pb::AuthMessage {
        data: hello.clone(),
    }
    .encode_to_vec();
    let _ = ChannelId([0; 16]);
    vec![
        seed("peer-hello", with_selector(Mode::PeerAccept as u8, &hello)),
        seed(
            "client-hello",
            with_selector(Mode::ClientAccept as u8, &client_hello),
        ),
        seed(
            "peer-evidence",
            with_selector(Mode::PeerEvidence as u8, &peer_evidence),
        ),
        seed(
            "peer-evidence-tampered",
            with_selector(Mode::PeerEvidence as u8, &tampered),
        ),
        seed(
            "answer-evidence",
            with_selector(Mode::AnswerEvidence as u8, &peer_evidence),
        ),
        seed(
            "raw-answer",
            with_selector(Mode::RawAnswer as u8, &client_answer),
        ),
        seed(
            "client-evidence",
            with_selector(Mode::ClientEvidence as u8, &node_evidence),
        ),
        seed(
            "raw-client-answer",
            with_selector(Mode::RawClientAnswer as u8, &client_answer),
        ),
        seed(
            "evidence",
            with_selector(Mode::Evidence as u8, &peer_evidence),
        ),
        seed(
            "auth-message",
            with_selector(Mode::AuthMessage as u8, &auth),
        ),
    ]
}

fn admin_http() -> Vec<Seed> {
    const GET: u8 = 0;
    const POST: u8 = 1;
    const ECHO: u8 = 2 << 2;
    const DOWN: u8 = 1 << 2;
    let form = "content-type: application/x-www-form-urlencoded\n";
    let json = "content-type: application/json\n";
    let cases: Vec<(&str, u8, String)> = vec![
        ("panel", GET, "/\n\n".into()),
        ("panel-down", GET | DOWN, "/\n\n".into()),
        ("info", GET, "/info\n\n".into()),
        ("scp", GET, "/scp?slot=8\n\n".into()),
        ("metrics", GET, "/metrics\naccept: text/plain\n\n".into()),
        ("unknown-route", GET, "/nope/../info?x=%zz\n\n".into()),
        ("set-rust-log-form", POST, format!("/set-rust-log\n{form}accept: text/html\n\nfilter=info%2Cmcnode_scp%3Ddebug")),
        ("set-rust-log-json", POST, format!("/set-rust-log\n{json}\n{{\"filter\": \"debug\"}}")),
        ("maintenance-form", POST, format!("/maintenance\n{form}\nenabled=true")),
        ("maintenance-json", POST, format!("/maintenance\n{json}\n{{\"enabled\": false}}")),
        (
            "cross-origin",
            POST,
            format!("/maintenance\n{form}origin: http://evil.test\nhost: 127.0.0.1:3203\n\nenabled=false"),
        ),
        ("sec-fetch-site", POST, format!("/set-rust-log\n{form}sec-fetch-site: cross-site\n\nfilter=x&filter=y")),
        ("echo-info", GET | ECHO, format!("/\n\n{}", admin::SAMPLE_INFO)),
        ("echo-metrics", GET | ECHO, format!("/metrics\n\n{}", admin::SAMPLE_METRICS)),
    ];
    cases
        .into_iter()
        .map(|(name, flags, text)| seed(name, with_selector(flags, text.as_bytes())))
        .collect()
}
