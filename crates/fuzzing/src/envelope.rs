//! The peer consensus envelope: what `ConsensusPeerApi.SendConsensusMsg` receives.
//!
//! The input is a sequence of length-delimited `ConsensusMsg` protobufs (at most
//! [`MAX_ENVELOPES`]), handed one after another to one fresh node core, as the peer
//! service and the node task do: `envelope_from_pb`, `SignedConsensusMsg::open` (the
//! signature under the sender's key from `network.toml`, then the SCP message), then
//! `NodeCore::on_envelope`, which runs SCP's `handle_message`.
//!
//! A fuzzer cannot forge signatures, but a member of the network can sign anything: an
//! envelope whose signature does not verify is signed again with the key of the peer it
//! names (when that is one of the three fake peers) and opened again, so mutations of the
//! SCP message reach SCP as a Byzantine peer's would.
//!
//! The node (`node0.test:8443`) trusts 3 of the 4 nodes, holds three transactions
//! ([`known_tx_hash`]) and is at slot 1 on [`GENESIS`].

use std::collections::HashMap;

use mcnode_api::pb;
use mcnode_crypto::{hash::hash32, Ed25519Public, Ed25519Signer};
use mcnode_node_core::{Action, CoreConfig, CoreTx, Envelope, NodeCore, Tip, TxFacts, TxSet};
use mcnode_peers::{client::envelope_from_pb, EnvelopeError, ResponderId, SignedConsensusMsg};
use mcnode_scp::{NodeId, QuorumSet};
use prost::Message;

/// Most envelopes read from one input.
pub const MAX_ENVELOPES: usize = 16;
/// The id of the block the node's ledger ends with.
pub const GENESIS: [u8; 32] = [0xaa; 32];
/// Simulated time between two envelopes, ms.
const STEP_MS: u64 = 250;

/// Node `i`'s responder id (node 0 is the fuzzed one).
pub fn node_name(i: usize) -> String {
    format!("node{i}.test:8443")
}

/// Node `i`'s SCP id.
pub fn node_id(i: usize) -> NodeId {
    NodeId::new(node_name(i)).unwrap_or_else(|e| unreachable!("valid node id: {e}"))
}

/// Node `i`'s message-signing key (fixed, so seeds and the target agree).
pub fn signer(i: usize) -> Ed25519Signer {
    Ed25519Signer::from_seed(&hash32("mcnode.fuzzing.msg-signer", &[&[i as u8]]))
}

/// The quorum set of every node: 3 of the 4.
pub fn quorum_set() -> QuorumSet {
    QuorumSet::flat(3, (0..4).map(node_id).collect())
        .unwrap_or_else(|e| unreachable!("valid quorum set: {e}"))
}

/// The hash of the node's `n`th known transaction (`n` in 1..=3).
pub fn known_tx_hash(n: u8) -> [u8; 32] {
    [n; 32]
}

fn keys() -> HashMap<ResponderId, Ed25519Public> {
    (0..4)
        .filter_map(|i| Some((node_name(i).parse().ok()?, signer(i).public())))
        .collect()
}

fn new_core() -> Option<NodeCore<u8>> {
    let mut core = NodeCore::new(
        CoreConfig::default(),
        node_id(0),
        quorum_set(),
        (1..4).map(node_id).collect(),
        Tip {
            index: 0,
            id: GENESIS,
        },
        &[],
        0,
    )
    .ok()?;
    for n in 1..=3u8 {
        let tx = CoreTx {
            facts: TxFacts {
                hash: known_tx_hash(n),
                fee: 400_000_000,
                tombstone_block: 100,
                key_images: vec![[n; 32]],
                output_keys: vec![[n + 100; 32]],
            },
            body: n,
        };
        core.on_client_tx(tx, 1, 0);
    }
    let _ = core.take_actions();
    Some(core)
}

/// Fuzz target: a sequence of peer envelopes into one node core.
pub fn consensus_envelope(data: &[u8]) {
    let _ = consensus_envelope_actions(data);
}

/// What [`consensus_envelope`] does, returning every action the node core asked for.
pub fn consensus_envelope_actions(data: &[u8]) -> Vec<Action<u8>> {
    let mut actions = Vec::new();
    let Some(mut core) = new_core() else {
        return actions;
    };
    let keys = keys();
    let lookup = |r: &ResponderId| keys.get(r).copied();
    let mut buf = data;
    let mut now = 1_000;
    for _ in 0..MAX_ENVELOPES {
        if buf.is_empty() {
            break;
        }
        let Ok(wire) = pb::ConsensusMsg::decode_length_delimited(&mut buf) else {
            break;
        };
        let Ok(envelope) = envelope_from_pb(&wire) else {
            continue;
        };
        let msg = match envelope.open(&lookup) {
            Ok(msg) => msg,
            Err(EnvelopeError::BadSignature(_)) => {
                // A member of the network signs whatever it likes.
                let Some(i) = (1..4).find(|i| node_name(*i) == envelope.from.as_str()) else {
                    continue;
                };
                let resigned = SignedConsensusMsg::sign_bytes(
                    envelope.scp_msg.clone(),
                    envelope.prev_block_id,
                    envelope.from.clone(),
                    &signer(i),
                );
                match resigned.open(&lookup) {
                    Ok(msg) => msg,
                    Err(_) => continue,
                }
            }
            Err(_) => continue,
        };
        let _ = core.on_envelope(
            Envelope {
                msg,
                prev_block_id: envelope.prev_block_id,
            },
            now,
        );
        actions.extend(core.take_actions());
        now += STEP_MS;
        core.tick(now);
        actions.extend(core.take_actions());
    }
    let _ = core.status();
    actions
}

/// One envelope from node `from`, signed, as length-delimited protobuf bytes (for the
/// seeds).
pub fn wire_envelope(from: usize, msg: &mcnode_scp::Msg<TxSet>, prev: [u8; 32]) -> Vec<u8> {
    let from_id: ResponderId = node_name(from)
        .parse()
        .unwrap_or_else(|e| unreachable!("valid responder id: {e}"));
    let env = SignedConsensusMsg::sign(msg, prev, from_id, &signer(from))
        .unwrap_or_else(|e| unreachable!("an SCP message encodes: {e}"));
    mcnode_peers::client::envelope_to_pb(&env).encode_length_delimited_to_vec()
}
