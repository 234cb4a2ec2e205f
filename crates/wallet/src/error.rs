//! The wallet's one error type.

use std::{path::PathBuf, time::Duration};

use mcnode_archive::{ArchiveError, InvalidObject};
use mcnode_blockchain::BlockId;
use mcnode_enclave::ChannelError;
use mcnode_ledger::LedgerError;
use mcnode_transaction::{BuildError, ValidationError};

use crate::{client::result_code_name, localnet::ManifestError};

/// Why a wallet operation failed. Nothing a node sends makes the wallet panic: every
/// malformed or refused answer is one of these.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The node URI does not parse.
    #[error(transparent)]
    Uri(#[from] mcnode_peers::UriError),
    /// TLS could not be set up for the node URI (unreadable or non-PEM `ca-bundle`).
    #[error(transparent)]
    Tls(#[from] mcnode_peers::tls::TlsError),
    /// The node could not be reached.
    #[error("cannot connect to {uri}: {reason}")]
    Connect {
        /// The node.
        uri: String,
        /// Why.
        reason: String,
    },
    /// A gRPC call failed with a status (for example `UNAVAILABLE` when the node is over
    /// capacity, catching up or in maintenance, or unreachable).
    #[error("{method}: gRPC status {code:?}: {message}")]
    Rpc {
        /// The method called.
        method: &'static str,
        /// The status code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// A call (or the connection) did not finish within its deadline: the node is
    /// paused, overloaded or cut off. Transient.
    #[error("{uri}: {method} did not answer within {after:?}")]
    Deadline {
        /// The node.
        uri: String,
        /// The method called (`connect` for the connection).
        method: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// The node answered something that makes no sense (not a protocol refusal).
    #[error("{method}: bad answer from the node: {reason}")]
    BadResponse {
        /// The method called.
        method: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The attested channel could not be set up: the node's enclave runs other code
    /// (measurement), enforces other chain settings, or the handshake is broken.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The node refused the transaction with a result code (see `mcnode_api::result_code`;
    /// 1-99 are `ValidationError` codes).
    #[error("transaction rejected: result {code} ({}): {message}", result_code_name(*code))]
    Rejected {
        /// The result code.
        code: u32,
        /// The node's message.
        message: String,
    },
    /// A block from the node or an archive failed verification; it was not appended.
    #[error("block {index} failed verification: {reason}")]
    Verify {
        /// The block's index.
        index: u64,
        /// What is wrong with it.
        reason: InvalidObject,
    },
    /// The local ledger refused a block that passed verification (its root, key images or
    /// outputs contradict the chain so far); it was not appended.
    #[error("block {index} refused by the local ledger: {reason}")]
    Append {
        /// The block's index.
        index: u64,
        /// Why.
        reason: LedgerError,
    },
    /// The node serves another chain than the local copy (another origin block): the
    /// local copy belongs to another network. Delete the wallet cache to start over.
    #[error(
        "the node's origin block {node} is not the local copy's {local}: another network? \
         (delete the wallet cache directory to start over)"
    )]
    OriginMismatch {
        /// The local copy's block 0.
        local: BlockId,
        /// The node's block 0.
        node: BlockId,
    },
    /// The node's chain and the local copy differ at a block both have.
    #[error("the node's block {index} is {node}, the local copy has {local}")]
    Diverged {
        /// The block index.
        index: u64,
        /// The local copy's id.
        local: BlockId,
        /// The node's id.
        node: BlockId,
    },
    /// The local ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Syncing from an archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The account's unspent outputs do not cover the payment and fee.
    #[error("insufficient funds: have {have}, need {need} (amount plus fee)")]
    InsufficientFunds {
        /// The unspent balance.
        have: u128,
        /// Amount plus fee.
        need: u128,
    },
    /// The funds are there but spread over more outputs than one transaction may spend
    /// (consolidate with smaller self-payments first).
    #[error(
        "the {max_inputs} largest unspent outputs hold {largest}, less than the {need} needed \
         (funds are spread over too many outputs; consolidate first)"
    )]
    TooManyInputs {
        /// Inputs one transaction may have.
        max_inputs: usize,
        /// What the largest outputs hold together.
        largest: u128,
        /// Amount plus fee.
        need: u128,
    },
    /// The ledger has too few outputs to draw decoys from.
    #[error("the ledger holds {have} outputs; a ring needs {need}")]
    NotEnoughOutputsForRing {
        /// Outputs in the ledger.
        have: u64,
        /// Ring size.
        need: usize,
    },
    /// The fee is below the node's minimum.
    #[error("fee {fee} is below the node's minimum fee {minimum}")]
    FeeTooLow {
        /// The fee asked for.
        fee: u64,
        /// The node's minimum.
        minimum: u64,
    },
    /// The transaction could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The built transaction does not validate against the local ledger (it would be
    /// rejected; the local copy may be stale).
    #[error("the built transaction does not validate locally: {0}")]
    Invalid(ValidationError),
    /// The tombstone block was reached without the transaction in a block: it can no
    /// longer be included (the funds were not spent).
    #[error(
        "transaction not included before its tombstone block {tombstone} (ledger height {height})"
    )]
    TombstoneExpired {
        /// The tombstone block.
        tombstone: u64,
        /// The ledger height seen.
        height: u64,
    },
    /// Waiting timed out: a payment not seen in a block (it may still be included), or
    /// the node not reaching a height.
    #[error("timed out after {waited:?} at ledger height {height}")]
    Timeout {
        /// How long the wallet waited.
        waited: Duration,
        /// The ledger height seen.
        height: u64,
    },
    /// An account key file could not be read or parsed.
    #[error("key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An expected enclave measurement is not 64 hex digits.
    #[error("measurement must be 64 hex digits: {0}")]
    BadMeasurement(String),
    /// A localnet manifest problem.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A file of the wallet's cache could not be written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

impl From<ValidationError> for WalletError {
    fn from(e: ValidationError) -> Self {
        Self::Invalid(e)
    }
}

impl WalletError {
    /// The node's result code, when the node refused a transaction.
    pub fn result_code(&self) -> Option<u32> {
        match self {
            Self::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True for failures that may pass on their own (the node unreachable, busy, catching
    /// up or in maintenance): worth retrying later or on another node.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Deadline { .. } => true,
            Self::Rpc { code, .. } => matches!(
                code,
                tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::ResourceExhausted
                    | tonic::Code::Aborted
                    | tonic::Code::Unknown
            ),
            Self::Rejected { code, .. } => (200..300).contains(code),
            _ => false,
        }
    }

    pub(crate) fn rpc(method: &'static str) -> impl FnOnce(tonic::Status) -> Self {
        move |s| Self::Rpc {
            method,
            code: s.code(),
            message: s.message().to_string(),
        }
    }
}
