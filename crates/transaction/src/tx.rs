//! Transactions: inputs with rings and membership proofs, outputs, fee, tombstone, and the
//! RingCT signature (one MLSAG per input, pseudo-outputs, one aggregated range proof).
//!
//! Hashes (format version [`TX_VERSION`](crate::constants::TX_VERSION)):
//! * prefix hash: every input (ring outputs' hashes, each proof's index, highest index and
//!   elements), every output's hash, fee and tombstone;
//! * signed message: prefix hash, pseudo-outputs and range proof bytes; each MLSAG signs it,
//!   which binds the whole transaction;
//! * tx hash: signed message, then each ring signature.

use mcnode_crypto::{
    hash::{domain, DomainHasher},
    CompressedPoint, KeyImage, RingMember, RingMlsag,
};
use serde::{Deserialize, Serialize};

use crate::{constants::TX_VERSION, membership::TxOutMembershipProof, TxOut};

/// An input: a ring of outputs, one of which is really spent, each with a membership proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxIn {
    /// The ring, sorted by target key (strictly ascending, so no member repeats).
    pub ring: Vec<TxOut>,
    /// One proof per ring member, in ring order.
    pub proofs: Vec<TxOutMembershipProof>,
}

/// Everything about a transaction except its signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxPrefix {
    /// Inputs, sorted by their ring's first target key.
    pub inputs: Vec<TxIn>,
    /// Outputs, sorted by target key.
    pub outputs: Vec<TxOut>,
    /// Fee, in the smallest unit.
    pub fee: u64,
    /// The transaction is valid only in blocks with index below this.
    pub tombstone_block: u64,
}

/// The RingCT signature: one MLSAG and one pseudo-output per input, one range proof over
/// all outputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureRct {
    /// One per input, in input order.
    pub ring_signatures: Vec<RingMlsag>,
    /// One per input: commits to the spent value under a fresh blinding factor.
    pub pseudo_output_commitments: Vec<CompressedPoint>,
    /// Aggregated Bulletproofs over the outputs' commitments.
    pub range_proof: Vec<u8>,
}

/// A signed transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tx {
    /// What is being done.
    pub prefix: TxPrefix,
    /// The proof that it may be done.
    pub signature: SignatureRct,
}

impl TxIn {
    /// The ring as its MLSAG sees it: each member's target key and commitment.
    pub fn ring_members(&self) -> Vec<RingMember> {
        self.ring
            .iter()
            .map(|o| RingMember {
                target_key: o.target_key,
                commitment: o.amount.commitment,
            })
            .collect()
    }
}

impl TxPrefix {
    /// The prefix hash.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = DomainHasher::new(domain::TX_PREFIX);
        h.update_u64(u64::from(TX_VERSION))
            .update_u64(self.inputs.len() as u64);
        for input in &self.inputs {
            h.update_u64(input.ring.len() as u64);
            for tx_out in &input.ring {
                h.update(&tx_out.hash());
            }
            h.update_u64(input.proofs.len() as u64);
            for proof in &input.proofs {
                h.update_u64(proof.index).update_u64(proof.highest_index);
                h.update_u64(proof.elements.len() as u64);
                for e in &proof.elements {
                    h.update_u64(e.range.from)
                        .update_u64(e.range.to)
                        .update(&e.hash);
                }
            }
        }
        h.update_u64(self.outputs.len() as u64);
        for tx_out in &self.outputs {
            h.update(&tx_out.hash());
        }
        h.update_u64(self.fee).update_u64(self.tombstone_block);
        h.finish()
    }
}

/// The message every ring signature of a transaction signs.
pub fn signed_message(
    prefix_hash: &[u8; 32],
    pseudo_outputs: &[CompressedPoint],
    range_proof: &[u8],
) -> [u8; 32] {
    let mut h = DomainHasher::new(domain::TX_SIGNED_MESSAGE);
    h.update(prefix_hash)
        .update_u64(pseudo_outputs.len() as u64);
    for p in pseudo_outputs {
        h.update(&p.0);
    }
    h.update(range_proof);
    h.finish()
}

impl Tx {
    /// The message the ring signatures sign.
    pub fn signed_message(&self) -> [u8; 32] {
        signed_message(
            &self.prefix.hash(),
            &self.signature.pseudo_output_commitments,
            &self.signature.range_proof,
        )
    }

    /// The transaction hash: its identity in caches and in consensus.
    pub fn hash(&self) -> [u8; 32] {
        self.hash_with_message(&self.signed_message())
    }

    pub(crate) fn hash_with_message(&self, message: &[u8; 32]) -> [u8; 32] {
        let mut h = DomainHasher::new(domain::TX);
        h.update(message)
            .update_u64(self.signature.ring_signatures.len() as u64);
        for sig in &self.signature.ring_signatures {
            h.update(&sig.c_zero.0)
                .update_u64(sig.responses.len() as u64);
            for r in &sig.responses {
                h.update(&r.0);
            }
            h.update(sig.key_image.as_bytes());
        }
        h.finish()
    }

    /// The key images of the inputs (from the ring signatures).
    pub fn key_images(&self) -> Vec<KeyImage> {
        self.signature
            .ring_signatures
            .iter()
            .map(|s| s.key_image)
            .collect()
    }

    /// The target keys of the outputs: the keys the ledger must not hold yet.
    pub fn output_public_keys(&self) -> Vec<CompressedPoint> {
        self.prefix.outputs.iter().map(|o| o.target_key).collect()
    }

    /// For each input, the highest ledger index its proofs were made at.
    pub fn highest_membership_indices(&self) -> Vec<u64> {
        self.prefix
            .inputs
            .iter()
            .map(|i| i.proofs.iter().map(|p| p.highest_index).max().unwrap_or(0))
            .collect()
    }
}
