//! Signed consensus envelopes: an SCP message bound to the ledger state it speaks about,
//! signed by the sender's `--msg-signer-key`, verified before anything else looks at it.
//!
//! Wire form (format version [`ENVELOPE_VERSION`]): the SCP message as
//! `version (1 byte) || postcard(Msg<V>)`, the previous block id, the sender's responder
//! id and an Ed25519 signature over
//! `H("mcnode.consensus-msg.v1"; scp_msg, prev_block_id, from)`.
//! [`Deduplicator`] remembers recent envelopes so a broadcast relays each one once.

use std::collections::{HashMap, HashSet, VecDeque};

use mcnode_crypto::{
    hash::{hash32, DomainHasher},
    Ed25519Public, Ed25519Signature, Ed25519Signer,
};
use mcnode_scp::{Msg, Value};

use crate::ResponderId;

/// Version byte in front of every encoded SCP message.
pub const ENVELOPE_VERSION: u8 = 1;
/// Largest encoded SCP message accepted (a nomination carries at most a block's worth of
/// transaction hashes; quorum sets at most 1000 nodes).
pub const MAX_SCP_MSG_BYTES: usize = 1 << 20;

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The sender is not among the peers whose keys `network.toml` lists.
    #[error("message from unknown peer {0}")]
    UnknownPeer(String),
    /// The signature does not verify under the sender's key.
    #[error("bad signature on a message from {0}")]
    BadSignature(String),
    /// The signature is not 64 bytes.
    #[error("malformed signature from {0}")]
    MalformedSignature(String),
    /// The encoded SCP message is too large.
    #[error("SCP message of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Another format version.
    #[error("SCP message format version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The SCP message does not decode.
    #[error("SCP message does not decode: {0}")]
    Decode(String),
    /// The SCP message names another sender than the envelope.
    #[error("envelope from {envelope} carries a message from {message}")]
    SenderMismatch {
        /// The envelope's sender.
        envelope: String,
        /// The message's sender.
        message: String,
    },
}

/// A signed consensus message as it travels between peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedConsensusMsg {
    /// `version || postcard(Msg<V>)`.
    pub scp_msg: Vec<u8>,
    /// The block the slot builds on.
    pub prev_block_id: [u8; 32],
    /// The sender.
    pub from: ResponderId,
    /// Ed25519 over the digest of the fields above.
    pub signature: Ed25519Signature,
}

fn digest(scp_msg: &[u8], prev_block_id: &[u8; 32], from: &ResponderId) -> [u8; 32] {
    let mut h = DomainHasher::new("mcnode.consensus-msg.v1");
    h.update(scp_msg)
        .update(prev_block_id)
        .update(from.as_str().as_bytes());
    h.finish()
}

/// Encodes an SCP message for an envelope.
pub fn encode_scp_msg<V: Value>(msg: &Msg<V>) -> Result<Vec<u8>, EnvelopeError> {
    let mut out = vec![ENVELOPE_VERSION];
    out.extend(postcard::to_stdvec(msg).map_err(|e| EnvelopeError::Decode(e.to_string()))?);
    Ok(out)
}

impl SignedConsensusMsg {
    /// Signs `msg` (sent by this node, `from`) for the slot after `prev_block_id`.
    pub fn sign<V: Value>(
        msg: &Msg<V>,
        prev_block_id: [u8; 32],
        from: ResponderId,
        signer: &Ed25519Signer,
    ) -> Result<Self, EnvelopeError> {
        Ok(Self::sign_bytes(
            encode_scp_msg(msg)?,
            prev_block_id,
            from,
            signer,
        ))
    }

    /// Signs already-encoded SCP message bytes.
    pub fn sign_bytes(
        scp_msg: Vec<u8>,
        prev_block_id: [u8; 32],
        from: ResponderId,
        signer: &Ed25519Signer,
    ) -> Self {
        let signature = signer.sign(&digest(&scp_msg, &prev_block_id, &from));
        Self {
            scp_msg,
            prev_block_id,
            from,
            signature,
        }
    }

    /// Checks the signature against the sender's key in `keys`, then decodes the SCP
    /// message and checks it names the same sender. Nothing else should look at an
    /// envelope before this succeeds.
    pub fn open<V: Value>(
        &self,
        keys: &impl Fn(&ResponderId) -> Option<Ed25519Public>,
    ) -> Result<Msg<V>, EnvelopeError> {
        let from = self.from.to_string();
        let key = keys(&self.from).ok_or_else(|| EnvelopeError::UnknownPeer(from.clone()))?;
        if self.scp_msg.len() > MAX_SCP_MSG_BYTES {
            return Err(EnvelopeError::TooLarge(self.scp_msg.len()));
        }
        key.verify(
            &digest(&self.scp_msg, &self.prev_block_id, &self.from),
            &self.signature,
        )
        .map_err(|_| EnvelopeError::BadSignature(from.clone()))?;
        let (version, body) = self
            .scp_msg
            .split_first()
            .ok_or_else(|| EnvelopeError::Decode("empty".into()))?;
        if *version != ENVELOPE_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(*version));
        }
        let msg: Msg<V> =
            postcard::from_bytes(body).map_err(|e| EnvelopeError::Decode(e.to_string()))?;
        if msg.sender.as_str() != self.from.as_str() {
            return Err(EnvelopeError::SenderMismatch {
                envelope: from,
                message: msg.sender.to_string(),
            });
        }
        Ok(msg)
    }

    /// A digest identifying this envelope, for de-duplication.
    pub fn id(&self) -> [u8; 32] {
        hash32(
            "mcnode.consensus-msg-id.v1",
            &[&self.scp_msg, &self.prev_block_id, &self.signature.0],
        )
    }
}

/// Remembers the last `capacity` ids seen, so each broadcast message is handled and relayed
/// once.
#[derive(Debug)]
pub struct Deduplicator {
    capacity: usize,
    seen: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl Deduplicator {
    /// A de-duplicator remembering `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// True when `id` was not seen (within the window); does not remember it.
    pub fn is_new(&self, id: &[u8; 32]) -> bool {
        !self.seen.contains(id)
    }

    /// True the first time `id` is seen (within the window).
    pub fn first_time(&mut self, id: [u8; 32]) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    /// Ids remembered now.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// The message-signing keys of a network's peers, by responder id.
pub fn peer_keys(config: &crate::NetworkConfig) -> HashMap<ResponderId, Ed25519Public> {
    config
        .peers
        .iter()
        .map(|(id, p)| (id.clone(), p.msg_key))
        .collect()
}
