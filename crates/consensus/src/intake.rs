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

/// True when a refusal with `code` means the transaction can never be valid in a later
/// block (as opposed to "not now": capacity, channel, a ledger this node does not have
/// yet).
pub fn is_permanent(code: u32) -> bool {
    match code {
        c if c == ValidationError::MembershipProofBeyondLedger(0).code() => false,
        c if c
            == ValidationError::Ledger(mcnode_transaction::LedgerViewError::IndexOutOfRange(0))
                .code() =>
        {
            false
        }
        1..=99 => true,
        result_code::KEY_IMAGE_SPENT | result_code::OUTPUT_KEY_EXISTS => true,
        result_code::UNDECODABLE => true,
        _ => false,
    }
}

/// Checks `ctx` against the ledger now, then in the enclave: the index of the block it was
/// checked for (the next one) and the verdict. `Err` only when the ledger cannot be read.
pub fn check(
    ledger: &dyn Ledger,
    enclave: &dyn ConsensusEnclave,
    ctx: &TxContext,
) -> Result<(u64, Result<(), Rejection>), LedgerError> {
    match check_tx(ledger, enclave, ctx) {
        Ok(next) => Ok((next, Ok(()))),
        Err(IntakeError::Rejected(r)) => Ok((ledger.num_blocks()?, Err(r))),
        Err(IntakeError::Ledger(e)) => Err(e),
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
    if let Some(r) = ledger_refusal(ctx, &answer) {
        return Err(r.into());
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

/// A transaction's verdict: taken, or refused and why.
pub type Verdict = Result<(), Rejection>;

/// Checks several transactions as [`check`] checks each, with one ledger read for all of
/// them and their proofs verified together in the enclave
/// ([`ConsensusEnclave::txs_are_well_formed`]): per transaction, in order, the index of
/// the block it was checked for and its verdict. `Err` only when the ledger cannot be
/// read.
pub fn check_batch(
    ledger: &dyn Ledger,
    enclave: &dyn ConsensusEnclave,
    ctxs: &[&TxContext],
) -> Result<Vec<(u64, Verdict)>, LedgerError> {
    let answer = ledger.state_for(&StateQuery {
        proof_indices: ctxs
            .iter()
            .flat_map(|c| c.highest_indices.iter().copied())
            .collect(),
        key_images: ctxs
            .iter()
            .flat_map(|c| c.key_images.iter().copied())
            .collect(),
        output_keys: ctxs
            .iter()
            .flat_map(|c| c.output_public_keys.iter().copied())
            .collect(),
    })?;
    let next_block = answer.last_block.index + 1;
    let mut verdicts: Vec<Option<Verdict>> = ctxs
        .iter()
        .map(|c| ledger_refusal(c, &answer).map(Err))
        .collect();
    let open: Vec<usize> = (0..ctxs.len()).filter(|i| verdicts[*i].is_none()).collect();
    let encrypted: Vec<_> = open.iter().map(|i| ctxs[*i].encrypted_tx.clone()).collect();
    let host = HostLedgerState {
        root_element: Some(answer.root),
        root_proofs: answer.proofs,
    };
    let checked = enclave.txs_are_well_formed(&encrypted, next_block, &host);
    for (i, verdict) in open.into_iter().zip(checked) {
        verdicts[i] = Some(verdict.map(|_| ()).map_err(|e| enclave_rejection(&e)));
    }
    Ok(verdicts
        .into_iter()
        .map(|v| {
            (
                next_block,
                v.unwrap_or_else(|| {
                    Err(Rejection::new(
                        result_code::UNDECODABLE,
                        "the enclave gave no verdict",
                    ))
                }),
            )
        })
        .collect())
}

/// What the ledger read alone refuses `ctx` for, if anything.
fn ledger_refusal(ctx: &TxContext, answer: &mcnode_ledger::StateAnswer) -> Option<Rejection> {
    if let Some(index) = ctx
        .highest_indices
        .iter()
        .find(|i| answer.missing_indices.contains(i))
    {
        return Some(Rejection::invalid(
            &ValidationError::MembershipProofBeyondLedger(*index),
        ));
    }
    if let Some(ki) = ctx
        .key_images
        .iter()
        .find(|k| answer.spent_key_images.contains(k))
    {
        return Some(Rejection::new(
            result_code::KEY_IMAGE_SPENT,
            format!("key image {} is already spent", hex::encode(ki.as_bytes())),
        ));
    }
    if ctx
        .output_public_keys
        .iter()
        .any(|k| answer.existing_output_keys.contains(k))
    {
        return Some(Rejection::new(
            result_code::OUTPUT_KEY_EXISTS,
            "an output public key is already in the ledger",
        ));
    }
    None
}

/// The node core's view of a transaction: its facts, with the context as the body.
pub fn core_tx(ctx: TxContext) -> mcnode_node_core::CoreTx<TxContext> {
    mcnode_node_core::CoreTx {
        facts: mcnode_node_core::TxFacts {
            hash: ctx.tx_hash,
            fee: ctx.fee,
            tombstone_block: ctx.tombstone_block,
            key_images: ctx.key_images.iter().map(|k| k.0 .0).collect(),
            output_keys: ctx.output_public_keys.iter().map(|k| k.0).collect(),
        },
        body: ctx,
    }
}

impl From<Rejection> for mcnode_node_core::Refusal {
    fn from(r: Rejection) -> Self {
        Self {
            permanent: is_permanent(r.code),
            code: r.code,
            message: r.message,
        }
    }
}
