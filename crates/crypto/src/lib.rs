//! Cryptography for mcnode: every primitive the ledger and the node rely on.
//!
//! * [`ristretto`]: Ristretto private/public keys with canonical-encoding checks, and the
//!   unchecked [`CompressedPoint`] form that travels in transactions and blocks.
//! * [`ed25519`]: Ed25519 keys for the message signer (`--msg-signer-key`) and block
//!   signer, in the operator-facing encodings (base64 DER PKCS#8; DER base64url / hex).
//! * [`hash`]: the one domain-separated hashing scheme (digests, hash-to-scalar,
//!   hash-to-point); [`hash::domain`] lists every domain tag.
//! * [`pedersen`]: commitments with the generators Bulletproofs uses.
//! * [`mlsag`]: RingCT MLSAG ring signatures with key images; variable-time verification.
//! * [`range_proof`]: aggregated Bulletproofs over a transaction's outputs.
//! * [`batch`]: many verification equations (range proofs, and any `Σ s_i P_i = 0` the
//!   caller adds) checked with one random-weighted multiscalar multiplication.
//! * [`merkle`]: leaf, node and nil hashes of the TxOut tree.
//!
//! This crate does no IO and knows nothing of transactions, blocks or protobuf.

pub mod batch;
pub mod ed25519;
pub mod hash;
pub mod merkle;
pub mod mlsag;
pub mod pedersen;
pub mod range_proof;
pub mod ristretto;

pub use batch::BatchCheck;
pub use curve25519_dalek::{ristretto::RistrettoPoint, scalar::Scalar};
pub use ed25519::{Ed25519Error, Ed25519Public, Ed25519Signature, Ed25519Signer};
pub use mlsag::{KeyImage, RingMember, RingMlsag, RingSignatureError, ScalarBytes};
pub use range_proof::RangeProofError;
pub use ristretto::{CompressedPoint, KeyError, RistrettoPrivate, RistrettoPublic};
