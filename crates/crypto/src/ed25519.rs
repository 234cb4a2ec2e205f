//! Ed25519 keys for signing consensus messages (`--msg-signer-key`) and blocks.
//!
//! Encodings, as operators see them:
//! * private key: base64 of the DER PKCS#8 document (what `openssl genpkey -algorithm
//!   ed25519 -outform DER | base64` prints, and what `mcnode keygen msg-signer` writes);
//! * public key: URL-safe base64 of the DER SubjectPublicKeyInfo (the `consensus-msg-key`
//!   of a peer URI), or hex of the raw 32 bytes. Parsing accepts standard or URL-safe
//!   base64, padded or not, and hex of either the raw key or the DER document.

use core::fmt;

use base64::{
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
    Engine,
};
use ed25519_dalek::{
    pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey},
    Signer, Verifier,
};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

/// Why an Ed25519 key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ed25519Error {
    /// The text is not base64 (standard or URL-safe) nor hex.
    #[error("not base64 or hex")]
    BadEncoding,
    /// The bytes are not a DER PKCS#8 Ed25519 private key.
    #[error("not a DER PKCS#8 Ed25519 private key: {0}")]
    BadPrivateKey(String),
    /// The bytes are not an Ed25519 public key (raw 32 bytes or DER SubjectPublicKeyInfo).
    #[error("not an Ed25519 public key: {0}")]
    BadPublicKey(String),
    /// A signature is not 64 bytes.
    #[error("a signature has 64 bytes, got {0}")]
    BadSignatureLength(usize),
    /// The signature does not verify under the key.
    #[error("signature does not verify")]
    BadSignature,
}

/// DER of `OneAsymmetricKey { version 0, algorithm id-Ed25519, privateKey OCTET STRING(32) }`
/// up to the seed.
const PKCS8_V1_HEADER: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn decode_base64_any(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(t).ok())
}

/// An Ed25519 signing key (msg signer or block signer).
#[derive(Clone)]
pub struct Ed25519Signer(ed25519_dalek::SigningKey);

impl Ed25519Signer {
    /// A fresh random key.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self(ed25519_dalek::SigningKey::generate(rng))
    }

    /// From the 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed (secret).
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Parses the DER PKCS#8 document.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Ed25519Error> {
        ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map(Self)
            .map_err(|e| Ed25519Error::BadPrivateKey(e.to_string()))
    }

    /// Parses base64 of the DER PKCS#8 document (the `--msg-signer-key` form).
    pub fn from_base64_pkcs8(text: &str) -> Result<Self, Ed25519Error> {
        let der = decode_base64_any(text).ok_or(Ed25519Error::BadEncoding)?;
        Self::from_pkcs8_der(&der)
    }

    /// The DER PKCS#8 document (secret), version 1 as RFC 8410 section 7 and `openssl
    /// genpkey` write it: a fixed 16-byte header, then the 32-byte seed.
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        let mut der = PKCS8_V1_HEADER.to_vec();
        der.extend_from_slice(&self.0.to_bytes());
        der
    }

    /// Base64 (standard, padded) of the DER PKCS#8 document: the `--msg-signer-key` form.
    pub fn to_base64_pkcs8(&self) -> String {
        STANDARD.encode(self.to_pkcs8_der())
    }

    /// The public key.
    pub fn public(&self) -> Ed25519Public {
        Ed25519Public(self.0.verifying_key())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Ed25519Signature {
        Ed25519Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Signer(<secret for {}>)", self.public().to_hex())
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ed25519Public(ed25519_dalek::VerifyingKey);

impl Ed25519Public {
    /// From the raw 32 bytes; refuses encodings that are not curve points.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Ed25519Error> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Ed25519Error::BadPublicKey(format!("{} bytes, not 32", bytes.len())))?;
        ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map(Self)
            .map_err(|e| Ed25519Error::BadPublicKey(e.to_string()))
    }

    /// From the DER SubjectPublicKeyInfo document.
    pub fn from_der(der: &[u8]) -> Result<Self, Ed25519Error> {
        ed25519_dalek::VerifyingKey::from_public_key_der(der)
            .map(Self)
            .map_err(|e| Ed25519Error::BadPublicKey(e.to_string()))
    }

    /// Parses any public form: hex of the raw key or the DER, or base64 of the DER.
    pub fn parse(text: &str) -> Result<Self, Ed25519Error> {
        let t = text.trim();
        if let Ok(bytes) = hex::decode(t) {
            return if bytes.len() == 32 {
                Self::from_bytes(&bytes)
            } else {
                Self::from_der(&bytes)
            };
        }
        let der = decode_base64_any(t).ok_or(Ed25519Error::BadEncoding)?;
        Self::from_der(&der)
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The DER SubjectPublicKeyInfo document.
    pub fn to_der(&self) -> Vec<u8> {
        #[allow(clippy::expect_used)]
        let doc = self
            .0
            .to_public_key_der()
            .expect("SPKI encoding of an Ed25519 key");
        doc.as_bytes().to_vec()
    }

    /// URL-safe base64 (unpadded) of the DER: the `consensus-msg-key` URI form.
    pub fn to_base64url_der(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.to_der())
    }

    /// Hex of the raw 32 bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Verifies `signature` over `message` (strict: refuses malleable and small-order forms).
    pub fn verify(&self, message: &[u8], signature: &Ed25519Signature) -> Result<(), Ed25519Error> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0
            .verify_strict(message, &sig)
            .map_err(|_| Ed25519Error::BadSignature)
    }

    /// The dalek key, for batch verification.
    pub fn as_dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.0
    }
}

impl fmt::Debug for Ed25519Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Public({})", self.to_hex())
    }
}

impl fmt::Display for Ed25519Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Verifier<ed25519_dalek::Signature> for Ed25519Public {
    fn verify(
        &self,
        msg: &[u8],
        sig: &ed25519_dalek::Signature,
    ) -> Result<(), ed25519_dalek::SignatureError> {
        self.0.verify_strict(msg, sig)
    }
}

impl Serialize for Ed25519Public {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_bytes().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ed25519Public {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = <[u8; 32]>::deserialize(d)?;
        Self::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// A 64-byte Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ed25519Signature(pub [u8; 64]);

impl Ed25519Signature {
    /// From 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Ed25519Error> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| Ed25519Error::BadSignatureLength(bytes.len()))
    }
}

impl fmt::Debug for Ed25519Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Signature({})", hex::encode(self.0))
    }
}

impl Serialize for Ed25519Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Ed25519Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: Vec<u8> = serde::de::Deserialize::deserialize(d)?;
        Self::from_slice(&bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A key made by `openssl genpkey -algorithm ed25519 -outform DER | base64` has this shape
    // (PKCS#8 v1, 48 bytes). This one is the seed 0x01 x 32, encoded by hand per RFC 8410.
    const GOLDEN_SEED: [u8; 32] = [1u8; 32];

    #[test]
    fn golden_encodings() {
        let k = Ed25519Signer::from_seed(&GOLDEN_SEED);
        assert_eq!(
            k.to_base64_pkcs8(),
            "MC4CAQAwBQYDK2VwBCIEIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
        );
        let p = k.public();
        assert_eq!(
            p.to_hex(),
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
        );
        assert_eq!(
            p.to_base64url_der(),
            "MCowBQYDK2VwAyEAiojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w"
        );
    }

    #[test]
    fn round_trips_and_parse_forms() {
        let k = Ed25519Signer::from_seed(&[9u8; 32]);
        let k2 = Ed25519Signer::from_base64_pkcs8(&k.to_base64_pkcs8()).expect("parse");
        assert_eq!(k.seed(), k2.seed());
        let p = k.public();
        assert_eq!(Ed25519Public::parse(&p.to_hex()), Ok(p));
        assert_eq!(Ed25519Public::parse(&p.to_base64url_der()), Ok(p));
        assert_eq!(Ed25519Public::parse(&hex::encode(p.to_der())), Ok(p));
        let sig = k.sign(b"msg");
        assert_eq!(p.verify(b"msg", &sig), Ok(()));
        assert_eq!(p.verify(b"msh", &sig), Err(Ed25519Error::BadSignature));
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert_eq!(
            Ed25519Signer::from_base64_pkcs8("%%%").err(),
            Some(Ed25519Error::BadEncoding)
        );
        assert!(matches!(
            Ed25519Signer::from_base64_pkcs8("AAAA"),
            Err(Ed25519Error::BadPrivateKey(_))
        ));
        assert!(matches!(
            Ed25519Public::parse("abcd"),
            Err(Ed25519Error::BadPublicKey(_))
        ));
        assert_eq!(
            Ed25519Signature::from_slice(&[0u8; 3]),
            Err(Ed25519Error::BadSignatureLength(3))
        );
    }
}
