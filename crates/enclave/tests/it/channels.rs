//! Peer and client channels: pairing, and each refusal with its own error.

use mcnode_blockchain::encoding;
use mcnode_crypto::Ed25519Signer;
use mcnode_enclave::{
    ChainSettings, ChannelError, ClientChannel, ConsensusEnclave, EnclaveError, EvidenceError,
    HostSecret, Measurement, SessionLimits, SoftwareEnclave, BUILD_MEASUREMENT,
};
use mcnode_transaction::test_utils::Fixture;
use rand::SeedableRng;

use crate::{config, enclave, CHAIN};

fn pair(
    a: &SoftwareEnclave,
    b: &SoftwareEnclave,
    b_name: &str,
) -> Result<(mcnode_enclave::PeerChannel, mcnode_enclave::PeerChannel), EnclaveError> {
    let (pending, hello) = a.peer_connect(&format!("{b_name}.test:8443"))?;
    let (b_side, answer) = b.peer_accept(&hello)?;
    let a_side = a.peer_connect_finish(pending, &answer)?;
    Ok((a_side, b_side))
}

fn channel_error(r: Result<impl std::fmt::Debug, EnclaveError>) -> ChannelError {
    match r {
        Err(EnclaveError::Channel(e)) => e,
        other => panic!("expected a channel error, got {other:?}"),
    }
}

#[test]
fn two_enclaves_of_one_build_pair_and_exchange_encrypted_txs() {
    let (a, b) = (enclave("a"), enclave("b"));
    let (a_side, b_side) = pair(&a, &b, "b").unwrap();
    assert_eq!(a_side.channel_id, b_side.channel_id);
    assert_eq!(a_side.responder_id, "b.test:8443");
    assert_eq!(b_side.responder_id, "a.test:8443");

    // A wallet hands A two transactions over a client channel.
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let f = Fixture::new(
        &mut rng,
        30,
        &[10 * CHAIN.minimum_fee, 10 * CHAIN.minimum_fee],
    );
    let txs = [f.tx(1, 2, &mut rng), f.tx(2, 3, &mut rng)];
    let (pending, hello) = ClientChannel::start("a.test:3223", BUILD_MEASUREMENT, CHAIN).unwrap();
    let (_, answer) = a.client_accept(&hello).unwrap();
    let mut client = pending.finish(&answer).unwrap();
    let contexts: Vec<_> = txs
        .iter()
        .map(|tx| {
            a.client_tx_propose(&client.encrypt(&encoding::encode_tx(tx)).unwrap())
                .unwrap()
        })
        .collect();
    for (ctx, tx) in contexts.iter().zip(&txs) {
        assert_eq!(ctx.tx_hash, tx.hash());
        assert_eq!(ctx.key_images, tx.key_images());
        assert_eq!(ctx.output_public_keys, tx.output_public_keys());
        assert_eq!(ctx.fee, tx.prefix.fee);
        // The host's copy is ciphertext: no encoding of the tx appears in it.
        assert_ne!(ctx.encrypted_tx.0, encoding::encode_tx(tx));
    }

    // A relays them to B; B gets the same contexts (fresh local ciphertexts).
    let cached: Vec<_> = contexts.iter().map(|c| c.encrypted_tx.clone()).collect();
    let msg = a.txs_for_peer(&cached, &a_side.channel_id).unwrap();
    let at_b = b.peer_tx_propose(&msg).unwrap();
    assert_eq!(at_b.len(), 2);
    for (x, y) in at_b.iter().zip(&contexts) {
        assert_eq!((x.tx_hash, &x.key_images), (y.tx_hash, &y.key_images));
    }
    // Replaying the frame is refused; a frame for an unknown channel too.
    assert_eq!(
        channel_error(b.peer_tx_propose(&msg)),
        ChannelError::ReplayedFrame(0)
    );
    // A's cache entries mean nothing to B.
    assert!(matches!(
        b.tx_is_well_formed(&cached[0], 10, &Default::default()),
        Err(EnclaveError::LocalDecrypt)
    ));
    b.peer_close(&b_side.channel_id);
    let msg2 = a.txs_for_peer(&cached, &a_side.channel_id).unwrap();
    assert_eq!(
        channel_error(b.peer_tx_propose(&msg2)),
        ChannelError::UnknownChannel(b_side.channel_id)
    );
}

#[test]
fn a_different_measurement_is_refused() {
    let a = enclave("a");
    let (other, _) = SoftwareEnclave::new_with_measurement_for_tests(
        config("b"),
        HostSecret::from_bytes([7; 32]),
        Measurement([9; 32]),
    )
    .unwrap();
    // Either side refuses the other.
    let e = channel_error(pair(&other, &a, "a"));
    assert_eq!(
        e,
        ChannelError::MeasurementMismatch {
            ours: BUILD_MEASUREMENT,
            theirs: Measurement([9; 32])
        }
    );
    let (_, hello) = a.peer_connect("b.test:8443").unwrap();
    assert!(matches!(
        channel_error(other.peer_accept(&hello)),
        ChannelError::MeasurementMismatch { .. }
    ));
    // A wallet expecting another measurement refuses the node.
    let (pending, hello) =
        ClientChannel::start("a.test:3223", Measurement([1; 32]), CHAIN).unwrap();
    let (_, answer) = a.client_accept(&hello).unwrap();
    assert!(matches!(
        pending.finish(&answer).err(),
        Some(ChannelError::MeasurementMismatch { .. })
    ));
}

#[test]
fn tampered_or_untrusted_evidence_is_refused() {
    let a = enclave("a");
    // Evidence signed by an authority other than the attestation service.
    let (rogue, _) = SoftwareEnclave::new_with_authority_for_tests(
        config("b"),
        HostSecret::from_bytes([7; 32]),
        Ed25519Signer::from_seed(&[3; 32]),
    )
    .unwrap();
    assert!(matches!(
        channel_error(pair(&rogue, &a, "a")),
        ChannelError::Evidence(EvidenceError::UntrustedAuthority(_))
    ));
    // Evidence altered in flight: IX's first message carries it in the clear after the
    // two keys; flip a byte of the responder id inside it.
    let b = enclave("b");
    let (_, mut hello) = b.peer_connect("a.test:8443").unwrap();
    let pos = hello.windows(6).position(|w| w == b"b.test").unwrap();
    hello[pos] = b'c';
    assert_eq!(
        channel_error(a.peer_accept(&hello)),
        ChannelError::Evidence(EvidenceError::BadSignature)
    );
}

#[test]
fn a_replayed_handshake_is_refused() {
    let (a, b) = (enclave("a"), enclave("b"));
    let (_, hello) = b.peer_connect("a.test:8443").unwrap();
    a.peer_accept(&hello).unwrap();
    assert_eq!(
        channel_error(a.peer_accept(&hello)),
        ChannelError::ReplayedHandshake
    );
    let (_, hello) = ClientChannel::start("a.test:3223", BUILD_MEASUREMENT, CHAIN).unwrap();
    a.client_accept(&hello).unwrap();
    assert_eq!(
        channel_error(a.client_accept(&hello)),
        ChannelError::ReplayedHandshake
    );
}

#[test]
fn mismatched_chain_settings_are_refused() {
    let a = enclave("a");
    let mut cfg = config("b");
    cfg.chain = ChainSettings {
        block_version: 1,
        minimum_fee: CHAIN.minimum_fee + 1,
    };
    let (b, _) = SoftwareEnclave::new(cfg, HostSecret::from_bytes([7; 32]), None).unwrap();
    assert_eq!(
        channel_error(pair(&b, &a, "a")),
        ChannelError::ChainSettingsMismatch
    );
    // The client side: a wallet with other chain settings cannot complete the handshake
    // (the prologue differs, so the answer does not authenticate).
    let other = ChainSettings {
        block_version: 2,
        minimum_fee: CHAIN.minimum_fee,
    };
    let (pending, hello) = ClientChannel::start("a.test:3223", BUILD_MEASUREMENT, other).unwrap();
    let (_, answer) = a.client_accept(&hello).unwrap();
    assert!(matches!(
        pending.finish(&answer).err(),
        Some(ChannelError::Handshake(_))
    ));
}

#[test]
fn dialling_the_wrong_node_is_refused() {
    let (a, b) = (enclave("a"), enclave("b"));
    // A dials "c" but reaches B: the prologues differ, the handshake fails.
    let (pending, hello) = a.peer_connect("c.test:8443").unwrap();
    let (_, answer) = b.peer_accept(&hello).unwrap();
    assert!(matches!(
        channel_error(a.peer_connect_finish(pending, &answer)),
        ChannelError::Handshake(_)
    ));
}

#[test]
fn sessions_are_bounded_with_eviction() {
    let mut cfg = config("a");
    cfg.limits = SessionLimits {
        max_peers: 2,
        max_pending_handshakes: 2,
        max_clients: 3,
        ..SessionLimits::default()
    };
    let (a, _) = SoftwareEnclave::new(cfg, HostSecret::from_bytes([7; 32]), None).unwrap();
    let mut clients = Vec::new();
    for _ in 0..5 {
        let (pending, hello) =
            ClientChannel::start("a.test:3223", BUILD_MEASUREMENT, CHAIN).unwrap();
        let (id, answer) = a.client_accept(&hello).unwrap();
        clients.push((id, pending.finish(&answer).unwrap()));
    }
    assert_eq!(a.session_counts().2, 3);
    // The first two were evicted: their frames are refused; the newest still work.
    let (id0, c0) = &mut clients[0];
    assert_eq!(
        channel_error(a.client_tx_propose(&c0.encrypt(b"x").unwrap())),
        ChannelError::UnknownChannel(*id0)
    );
    let (_, c4) = &mut clients[4];
    assert!(matches!(
        a.client_tx_propose(&c4.encrypt(b"x").unwrap()),
        Err(EnclaveError::Decode(_))
    ));
    // Pending handshakes: the oldest is dropped.
    let p: Vec<_> = (0..3)
        .map(|i| a.peer_connect(&format!("p{i}.test:8443")).unwrap().0)
        .collect();
    assert_eq!(a.session_counts().0, 2);
    let b = enclave("p0");
    let (_, hello) = b.peer_connect("a.test:8443").unwrap();
    let (_, answer) = a.peer_accept(&hello).unwrap();
    assert_eq!(
        channel_error(a.peer_connect_finish(p[0], &answer)),
        ChannelError::UnknownPendingHandshake
    );
    // Peers: at most two.
    for name in ["x", "y", "z"] {
        let e = enclave(name);
        let (_, hello) = e.peer_connect("a.test:8443").unwrap();
        a.peer_accept(&hello).unwrap();
    }
    assert_eq!(a.peers().len(), 2);
}

#[test]
fn oversized_and_garbage_payloads_are_typed_errors() {
    let a = enclave("a");
    let (pending, hello) = ClientChannel::start("a.test:3223", BUILD_MEASUREMENT, CHAIN).unwrap();
    let (_, answer) = a.client_accept(&hello).unwrap();
    let mut client = pending.finish(&answer).unwrap();
    let big = vec![0u8; SessionLimits::default().max_message_bytes + 1];
    assert!(matches!(
        channel_error(a.client_tx_propose(&client.encrypt(&big).unwrap())),
        ChannelError::TooLarge { .. }
    ));
    assert!(matches!(
        a.client_tx_propose(&client.encrypt(&[0xff; 40]).unwrap()),
        Err(EnclaveError::Decode(_))
    ));
    let mut forged = client.encrypt(b"hello").unwrap();
    forged.ciphertext[0] ^= 1;
    assert_eq!(
        channel_error(a.client_tx_propose(&forged)),
        ChannelError::Decrypt
    );
    assert!(matches!(
        channel_error(a.peer_accept(&[1, 2, 3])),
        ChannelError::Handshake(_)
    ));
    assert!(matches!(
        channel_error(a.client_accept(&[0u8; 10])),
        ChannelError::Handshake(_)
    ));
}
