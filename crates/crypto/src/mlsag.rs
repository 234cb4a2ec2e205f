//! MLSAG ring signatures in RingCT form, with linkable key images.
//!
//! Following Noether, *Ring Confidential Transactions* (2015), section 2.2 and 4, in our own
//! construction. A ring holds `n` members `(P_i, C_i)`: a one-time public key and an
//! amount commitment. The signer knows, for the real member `π`:
//!
//! * row 0: `x` with `P_π = x G` (the one-time private key);
//! * row 1: `z` with `C_π - C' = z H`, where `C'` is the input's *pseudo-output*
//!   commitment, which commits to the same value as `C_π` under a new blinding factor.
//!
//! The key image `I = x Hp(P_π)` is the same for every spend of `P_π`, which is how double
//! spends are caught, and reveals nothing about `π`.
//!
//! For each member `i`, with challenge `c_i` and responses `r0_i, r1_i`:
//!
//! ```text
//! L0_i = r0_i G + c_i P_i
//! R0_i = r0_i Hp(P_i) + c_i I
//! L1_i = r1_i H + c_i (C_i - C')
//! c_{i+1} = Hs("mcnode.mlsag.challenge.v1"; m, I, C', enc(2 L0_i), enc(2 R0_i), enc(2 L1_i))
//! ```
//!
//! The challenge hashes the encodings of the *doubled* commitments: doubling is a bijection
//! of the (prime-order) Ristretto group, so this binds exactly as much as hashing `L0_i`
//! itself, and [`RistrettoPoint::double_and_compress_batch`] encodes the three points with
//! one field inversion instead of three.
//!
//! and the signature `(c_0, r0_0, r1_0, ..., r0_{n-1}, r1_{n-1}, I)` verifies when the chain
//! closes: `c_n == c_0`.
//!
//! Verification ([`verify`]) is **variable-time**: everything it touches (ring, key image,
//! responses, message) is public, so constant-time arithmetic would only cost speed.
//! Signing is constant-time. [`reference::verify_constant_time`] exists only so the
//! benchmarks can compare against a constant-time verifier.

use curve25519_dalek::{
    constants::RISTRETTO_BASEPOINT_TABLE,
    ristretto::RistrettoPoint,
    scalar::Scalar,
    traits::{Identity, VartimeMultiscalarMul},
};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::{
    hash::{domain, hash_to_point, DomainHasher},
    pedersen, CompressedPoint, RistrettoPrivate,
};

/// Why a ring signature could not be made or was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RingSignatureError {
    /// The ring has no members.
    #[error("empty ring")]
    EmptyRing,
    /// The signature does not have two responses per ring member.
    #[error("expected {expected} responses, got {got}")]
    ResponseCount {
        /// Two per ring member.
        expected: usize,
        /// What the signature has.
        got: usize,
    },
    /// A challenge or response is not a canonical scalar (signatures must not be malleable).
    #[error("non-canonical scalar in the signature")]
    NonCanonicalScalar,
    /// The key image is not a canonical encoding of a non-identity point.
    #[error("non-canonical key image")]
    NonCanonicalKeyImage,
    /// A ring member's key or commitment is not a canonical point encoding.
    #[error("ring member {0} is not a canonical point encoding")]
    NonCanonicalRingMember(usize),
    /// The pseudo-output commitment is not a canonical point encoding.
    #[error("non-canonical pseudo-output commitment")]
    NonCanonicalPseudoOutput,
    /// Signing: the real index is outside the ring.
    #[error("real index {index} outside a ring of {len}")]
    RealIndexOutOfRange {
        /// The given index.
        index: usize,
        /// The ring size.
        len: usize,
    },
    /// Signing: the private key or amount opening does not match the real ring member.
    #[error("the signer's secrets do not open the real ring member")]
    SecretsMismatch,
    /// The challenge chain does not close: the signature is invalid.
    #[error("ring signature does not verify")]
    Invalid,
}

/// A linkable key image `I = x Hp(P)`: spending the same output twice gives the same image.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct KeyImage(pub CompressedPoint);

impl KeyImage {
    /// The key image of the one-time private key `x` (whose public key is `x G`).
    pub fn from_private(onetime_private: &RistrettoPrivate) -> Self {
        let public = onetime_private.public().compressed();
        let hp = hash_to_point(domain::KEY_IMAGE_POINT, &[&public.0]);
        Self(CompressedPoint::from(onetime_private.scalar() * hp))
    }

    /// Checks the encoding: canonical and not the identity.
    pub fn decompress(&self) -> Result<RistrettoPoint, RingSignatureError> {
        match self.0.decompress() {
            Ok(p) if p != RistrettoPoint::identity() => Ok(p),
            _ => Err(RingSignatureError::NonCanonicalKeyImage),
        }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0 .0
    }
}

/// A scalar as transmitted: 32 bytes, checked to be canonical when used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ScalarBytes(pub [u8; 32]);

impl ScalarBytes {
    /// The scalar, or [`RingSignatureError::NonCanonicalScalar`].
    pub fn to_scalar(&self) -> Result<Scalar, RingSignatureError> {
        Option::from(Scalar::from_canonical_bytes(self.0))
            .ok_or(RingSignatureError::NonCanonicalScalar)
    }
}

impl From<Scalar> for ScalarBytes {
    fn from(s: Scalar) -> Self {
        Self(s.to_bytes())
    }
}

/// One ring member: a one-time public key and an amount commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingMember {
    /// `P_i`, the member's one-time public (target) key.
    pub target_key: CompressedPoint,
    /// `C_i`, the member's amount commitment.
    pub commitment: CompressedPoint,
}

/// An MLSAG signature over one input's ring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingMlsag {
    /// `c_0`, the challenge at member 0.
    pub c_zero: ScalarBytes,
    /// `r0_0, r1_0, r0_1, r1_1, ...`: two responses per member.
    pub responses: Vec<ScalarBytes>,
    /// The key image of the spent output.
    pub key_image: KeyImage,
}

fn challenge(
    message: &[u8; 32],
    key_image: &KeyImage,
    pseudo_output: &CompressedPoint,
    l0: RistrettoPoint,
    r0: RistrettoPoint,
    l1: RistrettoPoint,
) -> Scalar {
    let mut h = DomainHasher::new_wide(domain::MLSAG_CHALLENGE);
    h.update(message)
        .update(key_image.as_bytes())
        .update(&pseudo_output.0);
    for encoded in RistrettoPoint::double_and_compress_batch(&[l0, r0, l1]) {
        h.update(encoded.as_bytes());
    }
    h.finish_scalar()
}

fn hp(target_key: &CompressedPoint) -> RistrettoPoint {
    hash_to_point(domain::KEY_IMAGE_POINT, &[&target_key.0])
}

struct Decoded {
    c_zero: Scalar,
    key_image: RistrettoPoint,
    pseudo_output: RistrettoPoint,
}

fn decode(
    ring: &[RingMember],
    pseudo_output: &CompressedPoint,
    sig: &RingMlsag,
) -> Result<Decoded, RingSignatureError> {
    if ring.is_empty() {
        return Err(RingSignatureError::EmptyRing);
    }
    if sig.responses.len() != 2 * ring.len() {
        return Err(RingSignatureError::ResponseCount {
            expected: 2 * ring.len(),
            got: sig.responses.len(),
        });
    }
    Ok(Decoded {
        c_zero: sig.c_zero.to_scalar()?,
        key_image: sig.key_image.decompress()?,
        pseudo_output: pseudo_output
            .decompress()
            .map_err(|_| RingSignatureError::NonCanonicalPseudoOutput)?,
    })
}

fn member_points(
    i: usize,
    m: &RingMember,
) -> Result<(RistrettoPoint, RistrettoPoint), RingSignatureError> {
    let p = m
        .target_key
        .decompress()
        .map_err(|_| RingSignatureError::NonCanonicalRingMember(i))?;
    let c = m
        .commitment
        .decompress()
        .map_err(|_| RingSignatureError::NonCanonicalRingMember(i))?;
    Ok((p, c))
}

/// Verifies `sig` over `message` for `ring` and the input's `pseudo_output` commitment.
/// Variable-time (all inputs are public).
pub fn verify(
    message: &[u8; 32],
    ring: &[RingMember],
    pseudo_output: &CompressedPoint,
    sig: &RingMlsag,
) -> Result<(), RingSignatureError> {
    let d = decode(ring, pseudo_output, sig)?;
    let h = pedersen::blinding_generator();
    let mut c = d.c_zero;
    for (i, member) in ring.iter().enumerate() {
        let (p, commitment) = member_points(i, member)?;
        let r0 = sig.responses[2 * i].to_scalar()?;
        let r1 = sig.responses[2 * i + 1].to_scalar()?;
        let l0 = RistrettoPoint::vartime_double_scalar_mul_basepoint(&c, &p, &r0);
        let rr0 =
            RistrettoPoint::vartime_multiscalar_mul([r0, c], [hp(&member.target_key), d.key_image]);
        let l1 =
            RistrettoPoint::vartime_multiscalar_mul([r1, c], [h, commitment - d.pseudo_output]);
        c = challenge(message, &sig.key_image, pseudo_output, l0, rr0, l1);
    }
    if c == d.c_zero {
        Ok(())
    } else {
        Err(RingSignatureError::Invalid)
    }
}

/// What the signer knows about the real ring member.
pub struct SignerSecrets<'a> {
    /// Index of the real member in the ring.
    pub real_index: usize,
    /// `x`, the real member's one-time private key.
    pub onetime_private: &'a RistrettoPrivate,
    /// The real member's value.
    pub value: u64,
    /// The real member's commitment blinding factor.
    pub blinding: &'a Scalar,
    /// The blinding factor of the pseudo-output `C' = value G + pseudo_blinding H`.
    pub pseudo_blinding: &'a Scalar,
}

/// Signs `message` with the ring; returns the signature and the pseudo-output commitment.
/// Constant-time in the secrets.
pub fn sign<R: RngCore + CryptoRng>(
    message: &[u8; 32],
    ring: &[RingMember],
    secrets: &SignerSecrets<'_>,
    rng: &mut R,
) -> Result<(RingMlsag, CompressedPoint), RingSignatureError> {
    let n = ring.len();
    if n == 0 {
        return Err(RingSignatureError::EmptyRing);
    }
    let pi = secrets.real_index;
    if pi >= n {
        return Err(RingSignatureError::RealIndexOutOfRange { index: pi, len: n });
    }
    let x = secrets.onetime_private.scalar();
    let real = &ring[pi];
    let pseudo_point = pedersen::commit(secrets.value, secrets.pseudo_blinding);
    let pseudo_output = CompressedPoint::from(pseudo_point);
    if secrets.onetime_private.public().compressed() != real.target_key
        || CompressedPoint::from(pedersen::commit(secrets.value, secrets.blinding))
            != real.commitment
    {
        return Err(RingSignatureError::SecretsMismatch);
    }
    let z = secrets.blinding - secrets.pseudo_blinding;
    let key_image = KeyImage::from_private(secrets.onetime_private);
    let image_point = key_image.decompress()?;
    let h = pedersen::blinding_generator();

    let mut challenges = vec![Scalar::ZERO; n];
    let mut responses = vec![ScalarBytes::default(); 2 * n];
    let alpha0 = Scalar::random(rng);
    let alpha1 = Scalar::random(rng);
    let mut c = challenge(
        message,
        &key_image,
        &pseudo_output,
        &alpha0 * RISTRETTO_BASEPOINT_TABLE,
        alpha0 * hp(&real.target_key),
        alpha1 * h,
    );
    for step in 1..n {
        let i = (pi + step) % n;
        challenges[i] = c;
        let (p, commitment) = member_points(i, &ring[i])?;
        let r0 = Scalar::random(rng);
        let r1 = Scalar::random(rng);
        let l0 = &r0 * RISTRETTO_BASEPOINT_TABLE + c * p;
        let rr0 = r0 * hp(&ring[i].target_key) + c * image_point;
        let l1 = r1 * h + c * (commitment - pseudo_point);
        responses[2 * i] = r0.into();
        responses[2 * i + 1] = r1.into();
        c = challenge(message, &key_image, &pseudo_output, l0, rr0, l1);
    }
    challenges[pi] = c;
    responses[2 * pi] = (alpha0 - c * x).into();
    responses[2 * pi + 1] = (alpha1 - c * z).into();
    let sig = RingMlsag {
        c_zero: challenges[0].into(),
        responses,
        key_image,
    };
    Ok((sig, pseudo_output))
}

/// A constant-time verifier, for benchmark comparison only (MobileCoin's verifier has this
/// shape). It accepts and refuses exactly what [`verify`] does.
pub mod reference {
    use super::*;

    /// Verifies like [`super::verify`] using constant-time scalar multiplication.
    pub fn verify_constant_time(
        message: &[u8; 32],
        ring: &[RingMember],
        pseudo_output: &CompressedPoint,
        sig: &RingMlsag,
    ) -> Result<(), RingSignatureError> {
        let d = decode(ring, pseudo_output, sig)?;
        let h = pedersen::blinding_generator();
        let mut c = d.c_zero;
        for (i, member) in ring.iter().enumerate() {
            let (p, commitment) = member_points(i, member)?;
            let r0 = sig.responses[2 * i].to_scalar()?;
            let r1 = sig.responses[2 * i + 1].to_scalar()?;
            let l0 = &r0 * RISTRETTO_BASEPOINT_TABLE + c * p;
            let rr0 = r0 * hp(&member.target_key) + c * d.key_image;
            let l1 = r1 * h + c * (commitment - d.pseudo_output);
            c = challenge(message, &sig.key_image, pseudo_output, l0, rr0, l1);
        }
        if c == d.c_zero {
            Ok(())
        } else {
            Err(RingSignatureError::Invalid)
        }
    }
}
