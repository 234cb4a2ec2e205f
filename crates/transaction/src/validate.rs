//! `validate`: is a transaction well formed and correctly signed, given the ledger's
//! Merkle roots? A pure function of the transaction, the index of the block being formed,
//! the minimum fee and a [`LedgerView`].
//!
//! What it does not check, because it depends on the ledger's contents rather than on the
//! transaction: whether a key image was already spent, and whether an output's target key
//! is already in the ledger. The node checks those against its ledger.
//!
//! Every rule has its own [`ValidationError`] variant with a stable numeric
//! [`code`](ValidationError::code): these are the client API's result codes.

use std::collections::{BTreeMap, BTreeSet};

use curve25519_dalek::traits::{Identity, VartimeMultiscalarMul};
use mcnode_crypto::{
    merkle::leaf_hash, mlsag, range_proof, RingSignatureError, RistrettoPoint, RistrettoPublic,
    Scalar,
};

use crate::{
    constants::{MAX_INPUTS, MAX_OUTPUTS, MAX_TOMBSTONE_BLOCKS, RING_SIZE},
    membership::{self, RootElement, TxOutMembershipProof},
    Tx,
};

/// A fresh proof of one index against the ledger's current root, with that index's leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootProof {
    /// Hash of the TxOut at `proof.index`.
    pub tx_out_hash: [u8; 32],
    /// Its proof against the current root.
    pub proof: TxOutMembershipProof,
}

/// Why the ledger could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerViewError {
    /// The index is beyond the ledger's outputs.
    #[error("no output at index {0}")]
    IndexOutOfRange(u64),
    /// The ledger has no outputs at all.
    #[error("the ledger is empty")]
    Empty,
    /// The store failed.
    #[error("ledger read failed: {0}")]
    Storage(String),
}

/// What validation needs from a ledger: its TxOut tree root and fresh proofs.
pub trait LedgerView {
    /// The root of the TxOut tree now.
    fn root_element(&self) -> Result<RootElement, LedgerViewError>;
    /// A proof of `index` against [`Self::root_element`], with the output's hash.
    fn root_proof(&self, index: u64) -> Result<RootProof, LedgerViewError>;
}

impl LedgerView for membership::TxOutTree {
    fn root_element(&self) -> Result<RootElement, LedgerViewError> {
        self.root().ok_or(LedgerViewError::Empty)
    }

    fn root_proof(&self, index: u64) -> Result<RootProof, LedgerViewError> {
        let tx_out = self
            .get(index)
            .ok_or(LedgerViewError::IndexOutOfRange(index))?;
        let proof = self
            .proof(index)
            .ok_or(LedgerViewError::IndexOutOfRange(index))?;
        Ok(RootProof {
            tx_out_hash: tx_out.hash(),
            proof,
        })
    }
}

/// Why a transaction is invalid. Codes are stable: never renumber, only add.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The transaction has no inputs.
    #[error("no inputs")]
    NoInputs,
    /// More than [`MAX_INPUTS`] inputs.
    #[error("too many inputs: {0} (at most {MAX_INPUTS})")]
    TooManyInputs(usize),
    /// The transaction has no outputs.
    #[error("no outputs")]
    NoOutputs,
    /// More than [`MAX_OUTPUTS`] outputs.
    #[error("too many outputs: {0} (at most {MAX_OUTPUTS})")]
    TooManyOutputs(usize),
    /// A ring does not have exactly [`RING_SIZE`] members.
    #[error("input {input} has a ring of {size}, not {RING_SIZE}")]
    WrongRingSize {
        /// Input index.
        input: usize,
        /// Its ring size.
        size: usize,
    },
    /// An input does not have one membership proof per ring member.
    #[error("input {0} does not have one membership proof per ring member")]
    MissingMembershipProofs(usize),
    /// The numbers of ring signatures, pseudo-outputs and inputs differ.
    #[error("signature shape does not match the inputs")]
    SignatureShape,
    /// A ring is not sorted by target key.
    #[error("ring of input {0} is not sorted by target key")]
    UnsortedRing(usize),
    /// A ring holds the same output twice.
    #[error("ring of input {0} repeats a member")]
    DuplicateRingMember(usize),
    /// Inputs are not sorted by their first ring member.
    #[error("inputs are not sorted")]
    UnsortedInputs,
    /// Outputs are not sorted by target key.
    #[error("outputs are not sorted by target key")]
    UnsortedOutputs,
    /// The fee is below the minimum.
    #[error("fee {fee} below the minimum {minimum}")]
    FeeTooLow {
        /// The transaction's fee.
        fee: u64,
        /// The network's minimum.
        minimum: u64,
    },
    /// The tombstone block has been reached.
    #[error("tombstone block {tombstone} reached (block being formed: {current})")]
    TombstoneExpired {
        /// The transaction's tombstone.
        tombstone: u64,
        /// The block being formed.
        current: u64,
    },
    /// The tombstone block is too far in the future.
    #[error("tombstone block {tombstone} more than {MAX_TOMBSTONE_BLOCKS} blocks past {current}")]
    TombstoneTooFar {
        /// The transaction's tombstone.
        tombstone: u64,
        /// The block being formed.
        current: u64,
    },
    /// A point (output key, commitment, pseudo-output, key image) is not canonical.
    #[error("non-canonical point: {0}")]
    NonCanonicalPoint(&'static str),
    /// Two outputs share a target key.
    #[error("two outputs share a target key")]
    DuplicateOutputPublicKey,
    /// Two inputs share a key image (a double spend within the transaction).
    #[error("two inputs share a key image")]
    DuplicateKeyImage,
    /// A membership proof is malformed or does not lead to the ledger's root.
    #[error("membership proof of input {input}, member {member} is invalid: {reason}")]
    InvalidMembershipProof {
        /// Input index.
        input: usize,
        /// Ring member index.
        member: usize,
        /// What is wrong.
        reason: membership::MembershipError,
    },
    /// A membership proof claims a ledger state the ledger has not reached.
    #[error("membership proof made at highest index {0}, beyond the ledger")]
    MembershipProofBeyondLedger(u64),
    /// The ledger could not answer (a node-side failure, not the client's).
    #[error("ledger unavailable: {0}")]
    Ledger(LedgerViewError),
    /// The range proof does not parse.
    #[error("malformed range proof")]
    MalformedRangeProof,
    /// The range proof does not verify.
    #[error("range proof does not verify")]
    InvalidRangeProof,
    /// Pseudo-outputs do not equal outputs plus fee.
    #[error("inputs do not balance outputs plus fee")]
    Unbalanced,
    /// A ring signature does not verify.
    #[error("ring signature of input {input} is invalid: {reason}")]
    InvalidRingSignature {
        /// Input index.
        input: usize,
        /// What is wrong.
        reason: RingSignatureError,
    },
}

impl ValidationError {
    /// The stable numeric result code (0 means "ok" on the API and is never used here).
    pub fn code(&self) -> u32 {
        use ValidationError::*;
        match self {
            NoInputs => 1,
            TooManyInputs(_) => 2,
            NoOutputs => 3,
            TooManyOutputs(_) => 4,
            WrongRingSize { .. } => 5,
            MissingMembershipProofs(_) => 6,
            SignatureShape => 7,
            UnsortedRing(_) => 8,
            DuplicateRingMember(_) => 9,
            UnsortedInputs => 10,
            UnsortedOutputs => 11,
            FeeTooLow { .. } => 12,
            TombstoneExpired { .. } => 13,
            TombstoneTooFar { .. } => 14,
            NonCanonicalPoint(_) => 15,
            DuplicateOutputPublicKey => 16,
            DuplicateKeyImage => 17,
            InvalidMembershipProof { .. } => 18,
            MembershipProofBeyondLedger(_) => 19,
            Ledger(_) => 20,
            MalformedRangeProof => 21,
            InvalidRangeProof => 22,
            Unbalanced => 23,
            InvalidRingSignature { .. } => 24,
        }
    }
}

/// Validates `tx` for inclusion in block `block_index` (the index of the block being
/// formed) under `minimum_fee`, with membership roots from `ledger`. Returns the tx hash.
pub fn validate<L: LedgerView + ?Sized>(
    tx: &Tx,
    block_index: u64,
    minimum_fee: u64,
    ledger: &L,
) -> Result<[u8; 32], ValidationError> {
    check(tx, block_index, minimum_fee, ledger, true)
}

/// [`validate`] without the checks that cannot change with the ledger or the block: the
/// range proof, the balance and the ring signatures. Only for a transaction whose exact
/// bytes already passed [`validate`] (the enclave re-checks transactions this way when it
/// forms a block, having verified them when they arrived); everything the ledger or the
/// block index decides (shape, fee, tombstone, points, membership) is checked again.
pub fn revalidate_verified<L: LedgerView + ?Sized>(
    tx: &Tx,
    block_index: u64,
    minimum_fee: u64,
    ledger: &L,
) -> Result<[u8; 32], ValidationError> {
    check(tx, block_index, minimum_fee, ledger, false)
}

fn check<L: LedgerView + ?Sized>(
    tx: &Tx,
    block_index: u64,
    minimum_fee: u64,
    ledger: &L,
    verify_proofs: bool,
) -> Result<[u8; 32], ValidationError> {
    let checked = check_static(tx, block_index, minimum_fee, ledger)?;
    if !verify_proofs {
        return Ok(tx.hash_with_message(&checked.message));
    }
    let commitments: Vec<_> = tx
        .prefix
        .outputs
        .iter()
        .map(|o| o.amount.commitment)
        .collect();
    range_proof::verify(
        &tx.signature.range_proof,
        &commitments,
        &mut rand::thread_rng(),
    )
    .map_err(range_proof_error)?;
    check_balance(
        &checked.pseudo_outputs,
        &checked.output_commitments,
        tx.prefix.fee,
    )?;
    check_ring_signatures(tx, &checked.message)?;
    Ok(tx.hash_with_message(&checked.message))
}

/// What [`check_static`] learnt on the way, for the proof checks that follow.
pub(crate) struct Checked {
    /// The message every ring signature signs.
    pub(crate) message: [u8; 32],
    /// The pseudo-output commitments, decompressed.
    pub(crate) pseudo_outputs: Vec<RistrettoPoint>,
    /// The output commitments, decompressed.
    pub(crate) output_commitments: Vec<RistrettoPoint>,
}

/// Every rule of [`validate`] before the range proof, in `validate`'s order: what
/// [`revalidate_verified`] checks.
pub(crate) fn check_static<L: LedgerView + ?Sized>(
    tx: &Tx,
    block_index: u64,
    minimum_fee: u64,
    ledger: &L,
) -> Result<Checked, ValidationError> {
    use ValidationError as E;
    let prefix = &tx.prefix;
    let sig = &tx.signature;

    // Shape.
    match prefix.inputs.len() {
        0 => return Err(E::NoInputs),
        n if n > MAX_INPUTS => return Err(E::TooManyInputs(n)),
        _ => {}
    }
    match prefix.outputs.len() {
        0 => return Err(E::NoOutputs),
        n if n > MAX_OUTPUTS => return Err(E::TooManyOutputs(n)),
        _ => {}
    }
    for (i, input) in prefix.inputs.iter().enumerate() {
        if input.ring.len() != RING_SIZE {
            return Err(E::WrongRingSize {
                input: i,
                size: input.ring.len(),
            });
        }
        if input.proofs.len() != RING_SIZE {
            return Err(E::MissingMembershipProofs(i));
        }
    }
    if sig.ring_signatures.len() != prefix.inputs.len()
        || sig.pseudo_output_commitments.len() != prefix.inputs.len()
    {
        return Err(E::SignatureShape);
    }

    // Order and uniqueness.
    for (i, input) in prefix.inputs.iter().enumerate() {
        for pair in input.ring.windows(2) {
            match pair[0].target_key.cmp(&pair[1].target_key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Err(E::DuplicateRingMember(i)),
                std::cmp::Ordering::Greater => return Err(E::UnsortedRing(i)),
            }
        }
    }
    if prefix
        .inputs
        .windows(2)
        .any(|p| p[0].ring[0].target_key > p[1].ring[0].target_key)
    {
        return Err(E::UnsortedInputs);
    }
    for pair in prefix.outputs.windows(2) {
        match pair[0].target_key.cmp(&pair[1].target_key) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => return Err(E::DuplicateOutputPublicKey),
            std::cmp::Ordering::Greater => return Err(E::UnsortedOutputs),
        }
    }

    // Fee and tombstone.
    if prefix.fee < minimum_fee {
        return Err(E::FeeTooLow {
            fee: prefix.fee,
            minimum: minimum_fee,
        });
    }
    if prefix.tombstone_block <= block_index {
        return Err(E::TombstoneExpired {
            tombstone: prefix.tombstone_block,
            current: block_index,
        });
    }
    if prefix.tombstone_block > block_index.saturating_add(MAX_TOMBSTONE_BLOCKS) {
        return Err(E::TombstoneTooFar {
            tombstone: prefix.tombstone_block,
            current: block_index,
        });
    }

    // Points.
    let mut output_commitments = Vec::with_capacity(prefix.outputs.len());
    for out in &prefix.outputs {
        RistrettoPublic::from_compressed(&out.target_key)
            .map_err(|_| E::NonCanonicalPoint("output target key"))?;
        RistrettoPublic::from_compressed(&out.public_key)
            .map_err(|_| E::NonCanonicalPoint("output public key"))?;
        output_commitments.push(
            out.amount
                .commitment
                .decompress()
                .map_err(|_| E::NonCanonicalPoint("output commitment"))?,
        );
    }
    let mut pseudo_outputs = Vec::with_capacity(prefix.inputs.len());
    for p in &sig.pseudo_output_commitments {
        pseudo_outputs.push(
            p.decompress()
                .map_err(|_| E::NonCanonicalPoint("pseudo-output"))?,
        );
    }
    let mut key_images = BTreeSet::new();
    for s in &sig.ring_signatures {
        s.key_image
            .decompress()
            .map_err(|_| E::NonCanonicalPoint("key image"))?;
        if !key_images.insert(s.key_image) {
            return Err(E::DuplicateKeyImage);
        }
    }

    // Membership: every proof against the root of the ledger state it was made at.
    check_membership(tx, ledger)?;

    Ok(Checked {
        message: tx.signed_message(),
        pseudo_outputs,
        output_commitments,
    })
}

/// The verdict of a range proof that does not verify.
pub(crate) fn range_proof_error(e: mcnode_crypto::RangeProofError) -> ValidationError {
    match e {
        mcnode_crypto::RangeProofError::Malformed => ValidationError::MalformedRangeProof,
        _ => ValidationError::InvalidRangeProof,
    }
}

/// Every input's ring signature, in input order.
pub(crate) fn check_ring_signatures(tx: &Tx, message: &[u8; 32]) -> Result<(), ValidationError> {
    let sig = &tx.signature;
    for (i, (input, ring_sig)) in tx
        .prefix
        .inputs
        .iter()
        .zip(&sig.ring_signatures)
        .enumerate()
    {
        let ring = input.ring_members();
        mlsag::verify(message, &ring, &sig.pseudo_output_commitments[i], ring_sig)
            .map_err(|reason| ValidationError::InvalidRingSignature { input: i, reason })?;
    }
    Ok(())
}

fn check_membership<L: LedgerView + ?Sized>(tx: &Tx, ledger: &L) -> Result<(), ValidationError> {
    use ValidationError as E;
    let current = ledger.root_element().map_err(E::Ledger)?;
    let mut roots: BTreeMap<u64, RootElement> = BTreeMap::new();
    for (i, input) in tx.prefix.inputs.iter().enumerate() {
        for (m, (tx_out, proof)) in input.ring.iter().zip(&input.proofs).enumerate() {
            let h = proof.highest_index;
            let root = match roots.get(&h) {
                Some(r) => *r,
                None => {
                    let rp = ledger.root_proof(h).map_err(|e| match e {
                        LedgerViewError::IndexOutOfRange(_) => E::MembershipProofBeyondLedger(h),
                        e => E::Ledger(e),
                    })?;
                    let leaf = leaf_hash(&rp.tx_out_hash);
                    // The ledger's own proof must lead to its own root: anything else is a
                    // node-side fault, reported as such.
                    if rp.proof.index != h
                        || membership::fold(&rp.proof, leaf).ok() != Some(current)
                    {
                        return Err(E::Ledger(LedgerViewError::Storage(format!(
                            "inconsistent root proof for index {h}"
                        ))));
                    }
                    let root = membership::historical_root(&rp.proof, leaf).map_err(|e| {
                        E::Ledger(LedgerViewError::Storage(format!("root proof for {h}: {e}")))
                    })?;
                    roots.insert(h, root);
                    root
                }
            };
            membership::verify(proof, tx_out, &root).map_err(|reason| {
                E::InvalidMembershipProof {
                    input: i,
                    member: m,
                    reason,
                }
            })?;
        }
    }
    Ok(())
}

pub(crate) fn check_balance(
    pseudo_outputs: &[RistrettoPoint],
    outputs: &[RistrettoPoint],
    fee: u64,
) -> Result<(), ValidationError> {
    // sum(pseudo) - sum(outputs) - fee G == 0, as one multiscalar multiplication.
    let ones = pseudo_outputs.iter().map(|_| Scalar::ONE);
    let minus = outputs.iter().map(|_| -Scalar::ONE);
    let scalars = ones.chain(minus).chain(std::iter::once(-Scalar::from(fee)));
    let points = pseudo_outputs
        .iter()
        .chain(outputs)
        .copied()
        .chain(std::iter::once(mcnode_crypto::pedersen::generators().B));
    if RistrettoPoint::vartime_multiscalar_mul(scalars, points) == RistrettoPoint::identity() {
        Ok(())
    } else {
        Err(ValidationError::Unbalanced)
    }
}
