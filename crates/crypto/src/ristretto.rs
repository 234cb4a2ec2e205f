//! Ristretto private and public keys with canonical-encoding checks.
//!
//! [`CompressedPoint`] is the 32-byte form that travels in transactions and blocks: it is
//! not trusted until [`CompressedPoint::decompress`] has checked that it is the canonical
//! encoding of a group element. [`RistrettoPublic`] holds a checked point together with
//! its encoding. [`RistrettoPrivate`] is a non-zero canonical scalar, wiped on drop.

use core::fmt;

use curve25519_dalek::{
    constants::RISTRETTO_BASEPOINT_TABLE,
    ristretto::{CompressedRistretto, RistrettoPoint},
    scalar::Scalar,
};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Why bytes were refused as a key or a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The input had the wrong number of bytes.
    #[error("wrong length: expected {expected} bytes, got {got}")]
    WrongLength {
        /// The length a key of this kind has.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// The bytes are not the canonical encoding of a Ristretto point.
    #[error("not a canonical Ristretto point encoding")]
    NonCanonicalPoint,
    /// The bytes are not a canonical scalar (they are not reduced modulo the group order).
    #[error("not a canonical scalar encoding")]
    NonCanonicalScalar,
    /// The point is the identity, which is never a valid key.
    #[error("the identity point is not a valid key")]
    IdentityPoint,
    /// The scalar is zero, which is never a valid private key.
    #[error("zero is not a valid private key")]
    ZeroScalar,
    /// The text is not valid hex.
    #[error("not valid hex")]
    BadHex,
}

/// 32 bytes that claim to encode a Ristretto point. Unchecked until decompressed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct CompressedPoint(pub [u8; 32]);

impl CompressedPoint {
    /// Checks the encoding and returns the point, or [`KeyError::NonCanonicalPoint`].
    pub fn decompress(&self) -> Result<RistrettoPoint, KeyError> {
        CompressedRistretto(self.0)
            .decompress()
            .ok_or(KeyError::NonCanonicalPoint)
    }

    /// Parses a 32-byte slice (the encoding itself is checked only by `decompress`).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::WrongLength {
            expected: 32,
            got: bytes.len(),
        })?;
        Ok(Self(arr))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<RistrettoPoint> for CompressedPoint {
    fn from(p: RistrettoPoint) -> Self {
        Self(p.compress().to_bytes())
    }
}

impl fmt::Debug for CompressedPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompressedPoint({})", hex::encode(self.0))
    }
}

impl fmt::Display for CompressedPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A checked Ristretto public key: a non-identity group element and its canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RistrettoPublic {
    point: RistrettoPoint,
    compressed: CompressedPoint,
}

impl RistrettoPublic {
    /// Checks a compressed point: canonical and not the identity.
    pub fn from_compressed(c: &CompressedPoint) -> Result<Self, KeyError> {
        let point = c.decompress()?;
        Self::from_point(point)
    }

    /// Parses 32 bytes (canonical, non-identity).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        Self::from_compressed(&CompressedPoint::from_slice(bytes)?)
    }

    /// Wraps a point, refusing the identity.
    pub fn from_point(point: RistrettoPoint) -> Result<Self, KeyError> {
        if point == RistrettoPoint::default() {
            return Err(KeyError::IdentityPoint);
        }
        Ok(Self {
            point,
            compressed: point.into(),
        })
    }

    /// The group element.
    pub fn point(&self) -> &RistrettoPoint {
        &self.point
    }

    /// The canonical 32-byte encoding.
    pub fn compressed(&self) -> CompressedPoint {
        self.compressed
    }

    /// The canonical 32-byte encoding as bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.compressed.0
    }
}

impl fmt::Debug for RistrettoPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RistrettoPublic({})", hex::encode(self.compressed.0))
    }
}

impl Serialize for RistrettoPublic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.compressed.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RistrettoPublic {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let c = CompressedPoint::deserialize(d)?;
        Self::from_compressed(&c).map_err(serde::de::Error::custom)
    }
}

/// A Ristretto private key: a non-zero canonical scalar. Wiped from memory on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RistrettoPrivate(Scalar);

impl RistrettoPrivate {
    /// A fresh random key.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        loop {
            let s = Scalar::random(rng);
            if s != Scalar::ZERO {
                return Self(s);
            }
        }
    }

    /// Wraps a scalar, refusing zero.
    pub fn from_scalar(s: Scalar) -> Result<Self, KeyError> {
        if s == Scalar::ZERO {
            return Err(KeyError::ZeroScalar);
        }
        Ok(Self(s))
    }

    /// Parses 32 bytes: canonical and non-zero.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::WrongLength {
            expected: 32,
            got: bytes.len(),
        })?;
        let s: Option<Scalar> = Scalar::from_canonical_bytes(arr).into();
        Self::from_scalar(s.ok_or(KeyError::NonCanonicalScalar)?)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut bytes = hex::decode(text.trim()).map_err(|_| KeyError::BadHex)?;
        let key = Self::from_bytes(&bytes);
        bytes.zeroize();
        key
    }

    /// The secret scalar.
    pub fn scalar(&self) -> &Scalar {
        &self.0
    }

    /// The 32-byte encoding (secret: handle with care).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key `x * G`.
    pub fn public(&self) -> RistrettoPublic {
        let point = &self.0 * RISTRETTO_BASEPOINT_TABLE;
        RistrettoPublic {
            point,
            compressed: point.into(),
        }
    }
}

impl fmt::Debug for RistrettoPrivate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RistrettoPrivate(<secret for {}>)",
            self.public().compressed()
        )
    }
}

impl PartialEq for RistrettoPrivate {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for RistrettoPrivate {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn bad_bytes_are_typed_errors() {
        assert_eq!(
            RistrettoPublic::from_bytes(&[0u8; 31]),
            Err(KeyError::WrongLength {
                expected: 32,
                got: 31
            })
        );
        assert_eq!(
            RistrettoPublic::from_bytes(&[0u8; 32]),
            Err(KeyError::IdentityPoint)
        );
        // 0xff..ff is not a canonical field element, so not a point encoding.
        assert_eq!(
            RistrettoPublic::from_bytes(&[0xffu8; 32]),
            Err(KeyError::NonCanonicalPoint)
        );
        assert_eq!(
            RistrettoPrivate::from_bytes(&[0xffu8; 32]).err(),
            Some(KeyError::NonCanonicalScalar)
        );
        assert_eq!(
            RistrettoPrivate::from_bytes(&[0u8; 32]).err(),
            Some(KeyError::ZeroScalar)
        );
        assert_eq!(
            RistrettoPrivate::from_hex("zz").err(),
            Some(KeyError::BadHex)
        );
    }

    #[test]
    fn round_trips() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let k = RistrettoPrivate::random(&mut rng);
        let k2 = RistrettoPrivate::from_bytes(&k.to_bytes()).expect("canonical");
        assert_eq!(k, k2);
        let p = k.public();
        assert_eq!(RistrettoPublic::from_bytes(&p.to_bytes()), Ok(p));
    }
}
