//! The consensus enclave boundary ([`ConsensusEnclave`]) and its software implementation
//! ([`SoftwareEnclave`]).
//!
//! The node's untrusted host (networking, caches, LMDB) never sees a plaintext transaction
//! or the block-signing key: clients and peers talk to the enclave over attested channels
//! ([`channel`]), the host caches transactions only in a form encrypted under an
//! enclave-local key ([`LocallyEncryptedTx`]) together with their public [`TxContext`],
//! and blocks come out of [`ConsensusEnclave::form_block`] finished and signed.
//!
//! * [`Measurement`]: this build's MRENCLAVE, computed by `build.rs` from the source of the
//!   code inside the boundary; peers pair only with an identical measurement.
//! * [`attestation`]: evidence and the simulated attestation service (`SGX_MODE=SW`,
//!   `IAS_MODE=DEV`; `HW` and `PROD` fail at start with a clear [`attestation::ModeError`]).
//! * [`sealing`]: the block-signing key sealed to the host and the measurement.
//!
//! No network and no LMDB here: ledger data arrives as arguments ([`HostLedgerState`]).

pub mod attestation;
pub mod channel;
/// The measurement algorithm (also used by `build.rs`).
pub mod measure;
pub mod sealing;
mod software;

use core::fmt;
use std::collections::BTreeSet;

use mcnode_blockchain::{Block, BlockContents, BlockSignature, DecodeError};
use mcnode_crypto::{hash::DomainHasher, CompressedPoint, KeyImage};
use mcnode_transaction::{
    membership::{FrontierError, RootElement},
    LedgerView, LedgerViewError, RootProof, ValidationError,
};

pub use attestation::{Evidence, EvidenceError, IasMode, ModeError, SgxMode};
pub use channel::{ChannelId, ClientChannel, EncryptedMessage, PendingClientChannel};
pub use sealing::{HostSecret, SealError};
pub use software::{EnclaveConfig, InitReport, SessionLimits, SoftwareEnclave};

mod build_measurement {
    include!(concat!(env!("OUT_DIR"), "/measurement.rs"));
}

/// An enclave measurement (MRENCLAVE).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Measurement(pub [u8; 32]);

/// The measurement of this build's enclave code.
pub const BUILD_MEASUREMENT: Measurement = Measurement(build_measurement::MEASUREMENT);

impl fmt::Debug for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Measurement({})", hex::encode(self.0))
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// The chain rules an enclave enforces; nodes that differ cannot pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainSettings {
    /// Block version the enclave writes (`--block-version`; see
    /// `mcnode_transaction::version`).
    pub block_version: u32,
    /// Minimum transaction fee.
    pub minimum_fee: u64,
}

impl ChainSettings {
    /// Digest bound into evidence and handshake prologues.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = DomainHasher::new("mcnode.chain-settings.v1");
        h.update_u64(u64::from(self.block_version))
            .update_u64(self.minimum_fee);
        h.finish()
    }
}

/// A transaction as the host may hold it: encrypted under a key that never leaves the
/// enclave.
#[derive(Clone, PartialEq, Eq)]
pub struct LocallyEncryptedTx(pub Vec<u8>);

impl fmt::Debug for LocallyEncryptedTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocallyEncryptedTx({} bytes)", self.0.len())
    }
}

/// What the host learns about a transaction: enough to check it against the ledger, fetch
/// fresh membership proofs and order it, nothing about who pays whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxContext {
    /// The transaction, for the host to cache.
    pub encrypted_tx: LocallyEncryptedTx,
    /// Its hash.
    pub tx_hash: [u8; 32],
    /// Key images it spends (the ledger must not have them).
    pub key_images: Vec<KeyImage>,
    /// Target keys of its outputs (the ledger must not have them).
    pub output_public_keys: Vec<CompressedPoint>,
    /// Per input, the ledger state its proofs were made at (the host fetches fresh proofs
    /// of these indices).
    pub highest_indices: Vec<u64>,
    /// Its fee (public; orders transactions in a block).
    pub fee: u64,
    /// Its tombstone block.
    pub tombstone_block: u64,
}

/// The ledger state the host hands the enclave: the TxOut root now and fresh proofs of the
/// indices the enclave needs. The enclave trusts nothing here it cannot check: every
/// proof must lead to `root_element`.
#[derive(Clone, Debug, Default)]
pub struct HostLedgerState {
    /// The TxOut tree root now (the parent block's root when forming a block).
    pub root_element: Option<RootElement>,
    /// Fresh proofs, any order.
    pub root_proofs: Vec<RootProof>,
}

impl LedgerView for HostLedgerState {
    fn root_element(&self) -> Result<RootElement, LedgerViewError> {
        self.root_element.ok_or(LedgerViewError::Empty)
    }

    fn root_proof(&self, index: u64) -> Result<RootProof, LedgerViewError> {
        self.root_proofs
            .iter()
            .find(|p| p.proof.index == index)
            .cloned()
            .ok_or_else(|| LedgerViewError::Storage(format!("host gave no proof of index {index}")))
    }
}

/// Everything the enclave needs to form the next block.
#[derive(Clone, Debug)]
pub struct FormBlockInputs {
    /// The ledger's last block.
    pub parent: Block,
    /// Root (must equal the parent's) and fresh proofs: of every index the transactions'
    /// `highest_indices` name, and of the last output (`parent.cumulative_txo_count - 1`).
    pub ledger: HostLedgerState,
    /// The externalized transactions, in consensus order.
    pub txs: Vec<LocallyEncryptedTx>,
    /// Which of the transactions' key images the ledger already holds.
    pub spent_key_images: BTreeSet<KeyImage>,
    /// Which of the transactions' output target keys the ledger already holds.
    pub existing_output_keys: BTreeSet<CompressedPoint>,
    /// Seconds since the Unix epoch, for the block signature.
    pub signed_at: u64,
}

/// Why a transaction was left out of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// It no longer validates (e.g. its tombstone passed).
    Invalid(ValidationError),
    /// One of its key images is spent, in the ledger or earlier in this block.
    KeyImageSpent,
    /// One of its output keys exists, in the ledger or earlier in this block.
    OutputKeyExists,
    /// Its ciphertext or encoding is broken.
    Undecodable,
}

/// A formed, signed block.
#[derive(Clone, Debug)]
pub struct FormedBlock {
    /// The header.
    pub block: Block,
    /// Sorted key images and outputs; no rings, proofs or signatures.
    pub contents: BlockContents,
    /// The enclave's signature.
    pub signature: BlockSignature,
    /// Hashes of the transactions included, in consensus order.
    pub included: Vec<[u8; 32]>,
    /// Transactions left out, with the reason. The tx hash is absent when undecodable.
    pub dropped: Vec<(Option<[u8; 32]>, DropReason)>,
}

/// Why an attested channel operation failed. Each refusal class is its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The Noise handshake failed (malformed message or mismatched prologue).
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// This handshake message was already seen.
    #[error("replayed handshake message")]
    ReplayedHandshake,
    /// The remote evidence is malformed, untrusted or tampered.
    #[error("attestation: {0}")]
    Evidence(EvidenceError),
    /// The remote enclave runs other code.
    #[error("enclave measurement mismatch: ours {ours}, theirs {theirs}")]
    MeasurementMismatch {
        /// Ours.
        ours: Measurement,
        /// Theirs.
        theirs: Measurement,
    },
    /// The remote enclave enforces other chain settings (block version or minimum fee).
    #[error("chain settings mismatch (block version or minimum fee differ)")]
    ChainSettingsMismatch,
    /// The evidence names another key than the one the handshake authenticated.
    #[error("evidence does not match the handshake's static key")]
    EvidenceKeyMismatch,
    /// The remote is not the node we meant to reach.
    #[error("expected responder {expected}, evidence names {got}")]
    ResponderIdMismatch {
        /// Whom we dialled.
        expected: String,
        /// Whom the evidence names.
        got: String,
    },
    /// No such established channel (closed or evicted).
    #[error("unknown channel {0}")]
    UnknownChannel(ChannelId),
    /// No such pending handshake (finished, or evicted by newer ones).
    #[error("unknown or evicted pending handshake")]
    UnknownPendingHandshake,
    /// A frame nonce was already used or is too old.
    #[error("replayed or stale frame (nonce {0})")]
    ReplayedFrame(u64),
    /// A frame does not authenticate.
    #[error("frame does not decrypt")]
    Decrypt,
    /// Encryption failed.
    #[error("encryption failed")]
    Encrypt,
    /// The channel sent 2^64 frames.
    #[error("channel nonces exhausted")]
    NoncesExhausted,
    /// A message exceeds the size limit.
    #[error("message of {got} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Its size.
        got: usize,
        /// The limit.
        limit: usize,
    },
}

/// Why forming a block failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormBlockError {
    /// The host's root is not the parent block's.
    #[error("host ledger root does not match the parent block")]
    RootMismatch,
    /// The host's proof of the last output is missing or wrong.
    #[error("proof of the last output: {0}")]
    LastOutput(String),
    /// Appending to the tree failed.
    #[error("tree append: {0}")]
    Frontier(FrontierError),
    /// The parent block has a higher version than this enclave writes: a node never writes
    /// a block of a lower version than its parent's.
    #[error(
        "the parent block has version {parent}, higher than the configured block version \
         {configured}: start the node with --block-version {parent} or higher"
    )]
    VersionBelowParent {
        /// The parent's version.
        parent: u32,
        /// The version this enclave writes.
        configured: u32,
    },
    /// Every transaction was dropped: there is no block to form.
    #[error("no valid transactions to form a block from")]
    NoValidTransactions,
}

/// Everything that can go wrong inside the enclave boundary.
#[derive(Debug, thiserror::Error)]
pub enum EnclaveError {
    /// An attested-channel failure.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A payload did not decode.
    #[error("payload does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// A locally encrypted transaction does not open (not ours, or corrupted).
    #[error("locally encrypted transaction does not open")]
    LocalDecrypt,
    /// The transaction is invalid.
    #[error("invalid transaction: {0}")]
    Invalid(#[from] ValidationError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The modes cannot run here.
    #[error(transparent)]
    Mode(#[from] ModeError),
    /// Block forming failed.
    #[error(transparent)]
    FormBlock(#[from] FormBlockError),
}

/// A pending outgoing peer handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PendingHandshake(pub u64);

/// An established peer channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerChannel {
    /// Its id.
    pub channel_id: ChannelId,
    /// The peer's responder id, from its evidence.
    pub responder_id: String,
}

/// The boundary between the untrusted host and the trusted consensus logic.
pub trait ConsensusEnclave: Send + Sync {
    /// This enclave's measurement.
    fn measurement(&self) -> Measurement;
    /// This enclave's attestation evidence (as a peer), for block metadata.
    fn evidence(&self) -> Evidence;
    /// The block-signing public key.
    fn block_signer(&self) -> mcnode_crypto::Ed25519Public;
    /// The block-signing key sealed to this host and measurement.
    fn sealed_block_signing_key(&self) -> Result<Vec<u8>, EnclaveError>;

    /// Starts a handshake with the peer serving as `peer_responder_id`.
    fn peer_connect(
        &self,
        peer_responder_id: &str,
    ) -> Result<(PendingHandshake, Vec<u8>), EnclaveError>;
    /// Finishes an outgoing handshake with the peer's answer.
    fn peer_connect_finish(
        &self,
        pending: PendingHandshake,
        answer: &[u8],
    ) -> Result<PeerChannel, EnclaveError>;
    /// Answers an incoming peer handshake.
    fn peer_accept(&self, message: &[u8]) -> Result<(PeerChannel, Vec<u8>), EnclaveError>;
    /// Forgets a peer channel.
    fn peer_close(&self, channel: &ChannelId);

    /// Answers an incoming client handshake.
    fn client_accept(&self, message: &[u8]) -> Result<(ChannelId, Vec<u8>), EnclaveError>;
    /// Forgets a client channel.
    fn client_close(&self, channel: &ChannelId);
    /// Decrypts and decodes a client's transaction; returns its context.
    fn client_tx_propose(&self, message: &EncryptedMessage) -> Result<TxContext, EnclaveError>;

    /// Fully validates a cached transaction for block `block_index` with fresh proofs.
    fn tx_is_well_formed(
        &self,
        tx: &LocallyEncryptedTx,
        block_index: u64,
        ledger: &HostLedgerState,
    ) -> Result<[u8; 32], EnclaveError>;

    /// Fully validates several cached transactions for block `block_index` against one
    /// ledger state holding the proofs of all of them: one verdict per transaction, in
    /// order, each the one [`tx_is_well_formed`](Self::tx_is_well_formed) gives it. An
    /// enclave may verify their proofs together (the software enclave does, with
    /// `mcnode_transaction::validate_batch`); this default checks them one by one.
    fn txs_are_well_formed(
        &self,
        txs: &[LocallyEncryptedTx],
        block_index: u64,
        ledger: &HostLedgerState,
    ) -> Vec<Result<[u8; 32], EnclaveError>> {
        txs.iter()
            .map(|tx| self.tx_is_well_formed(tx, block_index, ledger))
            .collect()
    }

    /// Re-encrypts cached transactions for a peer.
    fn txs_for_peer(
        &self,
        txs: &[LocallyEncryptedTx],
        peer: &ChannelId,
    ) -> Result<EncryptedMessage, EnclaveError>;
    /// Decrypts transactions a peer sent; returns their contexts.
    fn peer_tx_propose(&self, message: &EncryptedMessage) -> Result<Vec<TxContext>, EnclaveError>;

    /// Forms, sorts and signs the next block from externalized transactions.
    fn form_block(&self, inputs: FormBlockInputs) -> Result<FormedBlock, EnclaveError>;
}
