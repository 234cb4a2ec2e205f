//! Pedersen commitments, with the generators Bulletproofs uses.
//!
//! `commit(v, b) = v * G + b * H` where `G` is the Ristretto basepoint (the same generator
//! as one-time keys) and `H` is the Bulletproofs blinding generator (a hash of `G`, so its
//! discrete log with respect to `G` is unknown). Sharing the generators with Bulletproofs
//! is what lets a range proof speak about a transaction's commitments.

use std::sync::LazyLock;

use bulletproofs::PedersenGens;
use curve25519_dalek::{ristretto::RistrettoPoint, scalar::Scalar};

static GENS: LazyLock<PedersenGens> = LazyLock::new(PedersenGens::default);

/// The Pedersen generators (`B` = value generator `G`, `B_blinding` = `H`).
pub fn generators() -> &'static PedersenGens {
    &GENS
}

/// The blinding generator `H`.
pub fn blinding_generator() -> RistrettoPoint {
    GENS.B_blinding
}

/// `value * G + blinding * H`.
pub fn commit(value: u64, blinding: &Scalar) -> RistrettoPoint {
    GENS.commit(Scalar::from(value), *blinding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;

    #[test]
    fn homomorphic() {
        let (b1, b2) = (Scalar::from(11u64), Scalar::from(31u64));
        assert_eq!(commit(5, &b1) + commit(7, &b2), commit(12, &(b1 + b2)));
        assert_eq!(generators().B, RISTRETTO_BASEPOINT_POINT);
    }

    #[test]
    fn golden_blinding_generator() {
        assert_eq!(
            hex::encode(blinding_generator().compress().to_bytes()),
            "8c9240b456a9e6dc65c377a1048d745f94a08cdb7f44cbcd7b46f34048871134"
        );
    }
}
