//! Aggregated Bulletproofs range proofs over 64-bit values.
//!
//! One proof covers all of a transaction's outputs. Bulletproofs aggregates a power-of-two
//! number of values, so `m` outputs are padded to the next power of two with commitments to
//! zero under a zero blinding factor, which is the identity point: prover and verifier pad
//! the same way, and the padding costs nothing to transmit. At most [`MAX_AGGREGATION`]
//! values per proof.

use std::sync::LazyLock;

use bulletproofs::{BulletproofGens, RangeProof};
use curve25519_dalek::{ristretto::CompressedRistretto, scalar::Scalar};
use merlin::Transcript;
use rand_core::{CryptoRng, RngCore};

use crate::{hash::domain, pedersen, CompressedPoint};

/// Bits per value: amounts are `u64`.
pub const RANGE_BITS: usize = 64;
/// The most values one proof aggregates (after padding).
pub const MAX_AGGREGATION: usize = 16;

pub(crate) static BP_GENS: LazyLock<BulletproofGens> =
    LazyLock::new(|| BulletproofGens::new(RANGE_BITS, MAX_AGGREGATION));

/// Why a range proof could not be made or was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeProofError {
    /// No values or commitments were given.
    #[error("a range proof needs at least one value")]
    Empty,
    /// More values than one proof aggregates.
    #[error("too many values for one range proof: {0} (at most {MAX_AGGREGATION})")]
    TooMany(usize),
    /// Values and blinding factors differ in number.
    #[error("{values} values but {blindings} blinding factors")]
    LengthMismatch {
        /// Number of values.
        values: usize,
        /// Number of blinding factors.
        blindings: usize,
    },
    /// The proof bytes do not parse.
    #[error("malformed range proof bytes")]
    Malformed,
    /// The proof does not verify for these commitments.
    #[error("range proof does not verify")]
    Invalid,
}

pub(crate) fn transcript() -> Transcript {
    Transcript::new(domain::RANGE_PROOF.as_bytes())
}

pub(crate) fn padded_len(m: usize) -> Result<usize, RangeProofError> {
    match m {
        0 => Err(RangeProofError::Empty),
        m if m > MAX_AGGREGATION => Err(RangeProofError::TooMany(m)),
        m => Ok(m.next_power_of_two()),
    }
}

/// Proves that every value is in `0..2^64`; returns the proof bytes and the commitments
/// (one per value, unpadded).
pub fn prove<R: RngCore + CryptoRng>(
    values: &[u64],
    blindings: &[Scalar],
    rng: &mut R,
) -> Result<(Vec<u8>, Vec<CompressedPoint>), RangeProofError> {
    if values.len() != blindings.len() {
        return Err(RangeProofError::LengthMismatch {
            values: values.len(),
            blindings: blindings.len(),
        });
    }
    let m = padded_len(values.len())?;
    let mut v = values.to_vec();
    let mut b = blindings.to_vec();
    v.resize(m, 0);
    b.resize(m, Scalar::ZERO);
    let (proof, commitments) = RangeProof::prove_multiple_with_rng(
        &BP_GENS,
        pedersen::generators(),
        &mut transcript(),
        &v,
        &b,
        RANGE_BITS,
        rng,
    )
    .map_err(|_| RangeProofError::Invalid)?;
    let commitments = commitments[..values.len()]
        .iter()
        .map(|c| CompressedPoint(c.0))
        .collect();
    Ok((proof.to_bytes(), commitments))
}

/// Verifies `proof` for `commitments` (unpadded). Variable-time: everything is public.
pub fn verify<R: RngCore + CryptoRng>(
    proof: &[u8],
    commitments: &[CompressedPoint],
    rng: &mut R,
) -> Result<(), RangeProofError> {
    let m = padded_len(commitments.len())?;
    let proof = RangeProof::from_bytes(proof).map_err(|_| RangeProofError::Malformed)?;
    let mut v: Vec<CompressedRistretto> = commitments
        .iter()
        .map(|c| CompressedRistretto(c.0))
        .collect();
    v.resize(m, CompressedRistretto([0u8; 32]));
    proof
        .verify_multiple_with_rng(
            &BP_GENS,
            pedersen::generators(),
            &mut transcript(),
            &v,
            RANGE_BITS,
            rng,
        )
        .map_err(|_| RangeProofError::Invalid)
}

/// Builds the generator tables now rather than on the first proof (or first batch: the
/// tables of [`crate::batch`] too).
pub fn warm_up() {
    LazyLock::force(&BP_GENS);
    crate::batch::warm_up();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn proves_and_verifies_every_size() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for m in [1usize, 2, 3, 5, 16] {
            let values: Vec<u64> = (0..m as u64).map(|i| i * 1000 + u64::MAX / 3).collect();
            let blindings: Vec<Scalar> = (0..m).map(|_| Scalar::random(&mut rng)).collect();
            let (proof, comms) = prove(&values, &blindings, &mut rng).expect("prove");
            assert_eq!(comms.len(), m);
            for (c, (v, b)) in comms.iter().zip(values.iter().zip(&blindings)) {
                assert_eq!(c.0, pedersen::commit(*v, b).compress().to_bytes());
            }
            assert_eq!(verify(&proof, &comms, &mut rng), Ok(()));
            // Swapping in another commitment breaks it.
            let mut bad = comms.clone();
            bad[0] = CompressedPoint::from(pedersen::commit(1, &blindings[0]));
            assert_eq!(
                verify(&proof, &bad, &mut rng),
                Err(RangeProofError::Invalid)
            );
        }
    }

    #[test]
    fn rejects_out_of_range_and_bad_input() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        // A commitment to a "negative" value (the group order minus one) cannot be proven:
        // take a proof of 5 and present a commitment to 5 + 2^64 with the same blinding.
        let b = Scalar::random(&mut rng);
        let (proof, _) = prove(&[5], &[b], &mut rng).expect("prove");
        let big = pedersen::generators().commit(Scalar::from(5u64) + Scalar::from(1u128 << 64), b);
        assert_eq!(
            verify(&proof, &[CompressedPoint::from(big)], &mut rng),
            Err(RangeProofError::Invalid)
        );
        let neg = pedersen::generators().commit(-Scalar::ONE, b);
        assert_eq!(
            verify(&proof, &[CompressedPoint::from(neg)], &mut rng),
            Err(RangeProofError::Invalid)
        );
        assert_eq!(
            verify(&proof[1..], &[CompressedPoint::default()], &mut rng),
            Err(RangeProofError::Malformed)
        );
        assert_eq!(verify(&proof, &[], &mut rng), Err(RangeProofError::Empty));
        assert_eq!(
            verify(&proof, &[CompressedPoint::default(); 17], &mut rng),
            Err(RangeProofError::TooMany(17))
        );
        assert_eq!(
            verify(&proof, &[CompressedPoint([0xff; 32])], &mut rng),
            Err(RangeProofError::Invalid)
        );
        assert_eq!(
            prove(&[1, 2], &[b], &mut rng).err(),
            Some(RangeProofError::LengthMismatch {
                values: 2,
                blindings: 1
            })
        );
    }
}
