//! The attested-channel handshake: the Noise messages a peer or a client sends to the
//! enclave (`AttestedApi.Auth`, whose `AuthMessage.data` is the raw Noise message), the
//! answers the enclave and the wallet read back, and the attestation evidence inside them.
//!
//! The first input byte picks where the rest goes ([`Mode`]); the enclave and the keys
//! are made once per process. Modes that wrap the rest in a well-formed Noise message
//! (as a peer with a fixed static key) let mutations reach the evidence checks past the
//! Noise layer.

use std::sync::LazyLock;

use curve25519_dalek::montgomery::MontgomeryPoint;
use mcnode_api::pb;
use mcnode_enclave::{
    attestation::simulated_ias, channel, ChainSettings, ClientChannel, ConsensusEnclave,
    EnclaveConfig, Evidence, HostSecret, IasMode, SessionLimits, SgxMode, SoftwareEnclave,
    BUILD_MEASUREMENT,
};
use mcnode_transaction::constants::DEFAULT_MINIMUM_FEE;
use prost::Message;

/// The fuzzed enclave's peer responder id.
pub const NODE_PEER_ID: &str = "node0.test:8443";
/// The fuzzed enclave's client responder id.
pub const NODE_CLIENT_ID: &str = "node0.test:3223";
/// The responder id of the fake peer the fuzzer speaks for.
pub const FAKE_PEER_ID: &str = "node1.test:8443";
/// The fake peer's X25519 static private key (fixed, so seeds can name its public key).
pub const FAKE_PEER_STATIC: [u8; 32] = [0x42; 32];

/// Where the rest of the input goes, by its first byte (modulo the number of modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// A peer's first handshake message, raw, to `peer_accept`.
    PeerAccept = 0,
    /// A client's first handshake message, raw, to `client_accept`.
    ClientAccept = 1,
    /// Evidence bytes, sent as the payload of a well-formed IX first message from the
    /// fake peer, to `peer_accept`.
    PeerEvidence = 2,
    /// Evidence bytes, sent by the fake peer as the payload of a well-formed answer to the
    /// enclave's own `peer_connect`, to `peer_connect_finish`.
    AnswerEvidence = 3,
    /// A raw answer to the enclave's `peer_connect`, to `peer_connect_finish`.
    RawAnswer = 4,
    /// Evidence bytes in a well-formed NX answer to the wallet (`ClientChannel::finish`).
    ClientEvidence = 5,
    /// A raw answer to the wallet's handshake.
    RawClientAnswer = 6,
    /// Evidence bytes alone: `Evidence::from_bytes` and `verify`.
    Evidence = 7,
    /// An `AuthMessage` protobuf whose data goes to `peer_accept` (the gRPC request as
    /// the peer service receives it).
    AuthMessage = 8,
}

const MODES: [Mode; 9] = [
    Mode::PeerAccept,
    Mode::ClientAccept,
    Mode::PeerEvidence,
    Mode::AnswerEvidence,
    Mode::RawAnswer,
    Mode::ClientEvidence,
    Mode::RawClientAnswer,
    Mode::Evidence,
    Mode::AuthMessage,
];

/// The configuration of every enclave the targets start.
pub fn enclave_config() -> EnclaveConfig {
    EnclaveConfig {
        peer_responder_id: NODE_PEER_ID.into(),
        client_responder_id: NODE_CLIENT_ID.into(),
        chain: ChainSettings {
            block_version: 1,
            minimum_fee: DEFAULT_MINIMUM_FEE,
        },
        sgx_mode: SgxMode::Sw,
        ias_mode: IasMode::Dev,
        limits: SessionLimits::default(),
    }
}

/// A software enclave with a fixed host secret.
pub fn start_enclave(config: EnclaveConfig) -> SoftwareEnclave {
    SoftwareEnclave::new(config, HostSecret::from_bytes([7; 32]), None)
        .unwrap_or_else(|e| panic!("the software enclave starts: {e}"))
        .0
}

static ENCLAVE: LazyLock<SoftwareEnclave> = LazyLock::new(|| start_enclave(enclave_config()));

/// The fake peer's X25519 public key.
pub fn fake_peer_public() -> [u8; 32] {
    MontgomeryPoint::mul_base_clamped(FAKE_PEER_STATIC).to_bytes()
}

/// Evidence as the fake peer would present it (valid for this build's measurement and
/// the simulated attestation service), for the seeds.
pub fn fake_peer_evidence(responder_id: &str) -> Evidence {
    Evidence::sign(
        BUILD_MEASUREMENT,
        fake_peer_public(),
        enclave_config().chain.digest(),
        responder_id.to_string(),
        &simulated_ias(),
    )
}

fn builder(pattern: &str) -> snow::Builder<'static> {
    let params = pattern
        .parse()
        .unwrap_or_else(|_| unreachable!("valid Noise pattern {pattern}"));
    snow::Builder::new(params)
}

fn write(hs: &mut snow::HandshakeState, payload: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; channel::MAX_HANDSHAKE_MESSAGE];
    let n = hs.write_message(payload, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

/// A well-formed first IX message from the fake peer to the fuzzed enclave, carrying
/// `payload` as its evidence.
pub fn peer_hello(payload: &[u8]) -> Option<Vec<u8>> {
    let prologue = channel::peer_prologue(NODE_PEER_ID, &enclave_config().chain);
    let mut hs = builder(channel::PEER_NOISE)
        .local_private_key(&FAKE_PEER_STATIC)
        .and_then(|b| b.prologue(&prologue))
        .and_then(|b| b.build_initiator())
        .ok()?;
    write(&mut hs, payload)
}

/// Fuzz target: handshake messages and evidence, by the first byte's [`Mode`].
pub fn attested_handshake(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let enclave = &*ENCLAVE;
    let config = enclave_config();
    match MODES[usize::from(selector) % MODES.len()] {
        Mode::PeerAccept => {
            let _ = enclave.peer_accept(rest);
        }
        Mode::ClientAccept => {
            let _ = enclave.client_accept(rest);
        }
        Mode::PeerEvidence => {
            if let Some(hello) = peer_hello(rest) {
                let _ = enclave.peer_accept(&hello);
            }
        }
        Mode::AnswerEvidence | Mode::RawAnswer => {
            let Ok((pending, hello)) = enclave.peer_connect(FAKE_PEER_ID) else {
                return;
            };
            let answer = if MODES[usize::from(selector) % MODES.len()] == Mode::RawAnswer {
                Some(rest.to_vec())
            } else {
                answer_as_fake_peer(&hello, rest, &config.chain)
            };
            if let Some(answer) = answer {
                let _ = enclave.peer_connect_finish(pending, &answer);
            }
        }
        Mode::ClientEvidence | Mode::RawClientAnswer => {
            let Ok((pending, hello)) =
                ClientChannel::start(NODE_CLIENT_ID, BUILD_MEASUREMENT, config.chain)
            else {
                return;
            };
            let answer = if MODES[usize::from(selector) % MODES.len()] == Mode::RawClientAnswer {
                Some(rest.to_vec())
            } else {
                answer_as_fake_node(&hello, rest, &config.chain)
            };
            if let Some(answer) = answer {
                let _ = pending.finish(&answer);
            }
        }
        Mode::Evidence => {
            if let Ok(e) = Evidence::from_bytes(rest) {
                let _ = e.verify(&simulated_ias().public());
                // Oracle: what parses re-encodes to what parses the same.
                assert_eq!(
                    Evidence::from_bytes(&e.to_bytes()).ok().as_ref(),
                    Some(&e),
                    "evidence re-encoding changed it"
                );
            }
        }
        Mode::AuthMessage => {
            if let Ok(m) = pb::AuthMessage::decode(rest) {
                let _ = enclave.peer_accept(&m.data);
            }
        }
    }
}

/// The fake peer answering the enclave's IX hello with `payload` as its evidence.
fn answer_as_fake_peer(hello: &[u8], payload: &[u8], chain: &ChainSettings) -> Option<Vec<u8>> {
    let prologue = channel::peer_prologue(FAKE_PEER_ID, chain);
    let mut hs = builder(channel::PEER_NOISE)
        .local_private_key(&FAKE_PEER_STATIC)
        .and_then(|b| b.prologue(&prologue))
        .and_then(|b| b.build_responder())
        .ok()?;
    let mut buf = vec![0u8; channel::MAX_HANDSHAKE_MESSAGE];
    hs.read_message(hello, &mut buf).ok()?;
    write(&mut hs, payload)
}

/// A fake node answering the wallet's NX hello with `payload` as its evidence.
fn answer_as_fake_node(hello: &[u8], payload: &[u8], chain: &ChainSettings) -> Option<Vec<u8>> {
    let prologue = channel::client_prologue(NODE_CLIENT_ID, chain);
    let mut hs = builder(channel::CLIENT_NOISE)
        .local_private_key(&FAKE_PEER_STATIC)
        .and_then(|b| b.prologue(&prologue))
        .and_then(|b| b.build_responder())
        .ok()?;
    let mut buf = vec![0u8; channel::MAX_HANDSHAKE_MESSAGE];
    hs.read_message(hello, &mut buf).ok()?;
    write(&mut hs, payload)
}
