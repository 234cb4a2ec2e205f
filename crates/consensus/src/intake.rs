//! Checking a transaction before it enters the cache: against the ledger on the host side
//! (key images unspent, output keys new, proof indices within the ledger) and for
//! well-formedness inside the enclave, with fresh proofs from one consistent ledger read.

use mcnode_api::result_code;
use mcnode_enclave::{ConsensusEnclave, EnclaveError, HostLedgerState, TxContext};
use mcnode_ledger::{Ledger, LedgerError, StateQuery};
use mcnode_transaction::ValidationError;

/// Why a transaction was refused, with its stable result code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct Rejection {
    /// The result code (`mcnode_api::result_code`).
    pub code: u32,
    /// What was wrong.
    pub message: String,
}

impl Rejection {
    /// A rejection with `code`.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A rejection for a validation error.
    pub fn invalid(e: &ValidationError) -> Self {
        Self::new(result_code::invalid(e), e.to_string())
    }
}

/// Why checking could not finish (not the transaction's fault).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The transaction is refused.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The ledger could not be read.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
}

/// Maps an enclave error met while opening a payload to a rejection.
pub fn enclave_rejection(e: &EnclaveError) -> Rejection {
    match e {
        EnclaveError::Channel(c) => Rejection::new(result_code::CHANNEL_ERROR, c.to_string()),
        EnclaveError::Decode(d) => Rejection::new(result_code::UNDECODABLE, d.to_string()),
        EnclaveError::Invalid(v) => Rejection::invalid(v),
        other => Rejection::new(result_code::UNDECODABLE, other.to_string()),
    }
}

/// Checks `ctx` against the ledger now, then in the enclave. Returns the index of the
/// block the transaction was checked for (the next one).
pub fn check_tx(
    ledger: &dyn Ledger,
    enclave: &dyn ConsensusEnclave,
    ctx: &TxContext,
) -> Result<u64, IntakeError> {
    let answer = ledger.state_for(&StateQuery {
        proof_indices: ctx.highest_indices.clone(),
        key_images: ctx.key_images.clone(),
        output_keys: ctx.output_public_keys.clone(),
    })?;
    let next_block = answer.last_block.index + 1;
    if let Some(&index) = answer.missing_indices.first() {
        return Err(
            Rejection::invalid(&ValidationError::MembershipProofBeyondLedger(index)).into(),
        );
    }
    if let Some(ki) = answer.spent_key_images.iter().next() {
        return Err(Rejection::new(
            result_code::KEY_IMAGE_SPENT,
            format!("key image {} is already spent", hex::encode(ki.as_bytes())),
        )
        .into());
    }
    if !answer.existing_output_keys.is_empty() {
        return Err(Rejection::new(
            result_code::OUTPUT_KEY_EXISTS,
            "an output public key is already in the ledger",
        )
        .into());
    }
    let host = HostLedgerState {
        root_element: Some(answer.root),
        root_proofs: answer.proofs,
    };
    enclave
        .tx_is_well_formed(&ctx.encrypted_tx, next_block, &host)
        .map_err(|e| enclave_rejection(&e))?;
    Ok(next_block)
}
