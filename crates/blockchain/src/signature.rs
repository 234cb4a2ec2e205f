//! Block signatures (by the enclave's block-signing key) and block metadata (by the node's
//! msg-signer key).

use mcnode_crypto::{
    hash::{domain, DomainHasher},
    Ed25519Error, Ed25519Public, Ed25519Signature, Ed25519Signer,
};
use serde::{Deserialize, Serialize};

use crate::{Block, BlockId};

/// An enclave's signature over a block: the audit trail of which enclaves took part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSignature {
    /// Signature over the block id and `signed_at`.
    pub signature: Ed25519Signature,
    /// The block-signing key (a new key shows a new enclave: new host or new build).
    pub signer: Ed25519Public,
    /// Seconds since the Unix epoch when it was signed.
    pub signed_at: u64,
}

fn block_signature_message(id: &BlockId, signed_at: u64) -> [u8; 32] {
    let mut h = DomainHasher::new(domain::BLOCK_SIGNATURE);
    h.update(&id.0).update_u64(signed_at);
    h.finish()
}

impl BlockSignature {
    /// Signs `block` with `signer`.
    pub fn sign(block: &Block, signer: &Ed25519Signer, signed_at: u64) -> Self {
        Self {
            signature: signer.sign(&block_signature_message(&block.id, signed_at)),
            signer: signer.public(),
            signed_at,
        }
    }

    /// Checks the signature over `block`.
    pub fn verify(&self, block: &Block) -> Result<(), Ed25519Error> {
        self.signer.verify(
            &block_signature_message(&block.id, self.signed_at),
            &self.signature,
        )
    }
}

/// A quorum set as recorded in block metadata: plain data, independent of the SCP crate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct QuorumSetRecord {
    /// How many members must agree.
    pub threshold: u32,
    /// Members: nodes (responder ids) or nested sets.
    pub members: Vec<QuorumMemberRecord>,
}

/// A member of a [`QuorumSetRecord`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuorumMemberRecord {
    /// A node, by responder id (`host:port`).
    Node(String),
    /// A nested set.
    InnerSet(QuorumSetRecord),
}

/// What a node says about a block it appended: under which quorum set, with which
/// enclave evidence, as which responder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMetadataContents {
    /// The block.
    pub block_id: BlockId,
    /// The node's quorum set when the block was externalized.
    pub quorum_set: QuorumSetRecord,
    /// The enclave's attestation evidence (opaque here).
    pub attestation_evidence: Vec<u8>,
    /// The node's peer responder id.
    pub responder_id: String,
}

impl BlockMetadataContents {
    fn digest(&self) -> [u8; 32] {
        let mut h = DomainHasher::new(domain::BLOCK_METADATA);
        h.update(&self.block_id.0);
        hash_quorum_set(&mut h, &self.quorum_set);
        h.update(&self.attestation_evidence)
            .update(self.responder_id.as_bytes());
        h.finish()
    }
}

fn hash_quorum_set(h: &mut DomainHasher, q: &QuorumSetRecord) {
    h.update_u64(u64::from(q.threshold))
        .update_u64(q.members.len() as u64);
    for m in &q.members {
        match m {
            QuorumMemberRecord::Node(id) => {
                h.update(b"node").update(id.as_bytes());
            }
            QuorumMemberRecord::InnerSet(inner) => {
                h.update(b"set");
                hash_quorum_set(h, inner);
            }
        }
    }
}

/// Block metadata signed by the node's msg-signer key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMetadata {
    /// What is signed.
    pub contents: BlockMetadataContents,
    /// The msg-signer public key.
    pub node_key: Ed25519Public,
    /// Signature over `contents`.
    pub signature: Ed25519Signature,
}

impl BlockMetadata {
    /// Signs `contents` with the node's msg-signer key.
    pub fn sign(contents: BlockMetadataContents, signer: &Ed25519Signer) -> Self {
        let signature = signer.sign(&contents.digest());
        Self {
            contents,
            node_key: signer.public(),
            signature,
        }
    }

    /// Checks the signature.
    pub fn verify(&self) -> Result<(), Ed25519Error> {
        self.node_key
            .verify(&self.contents.digest(), &self.signature)
    }
}
