//! Validating many transactions at once, across all cores (rayon).

use rayon::prelude::*;

use crate::{validate, LedgerView, Tx, ValidationError};

/// Validates every transaction in parallel; results come back in input order.
pub fn validate_batch<L: LedgerView + Sync + ?Sized>(
    txs: &[Tx],
    block_index: u64,
    minimum_fee: u64,
    ledger: &L,
) -> Vec<Result<[u8; 32], ValidationError>> {
    txs.par_iter()
        .map(|tx| validate(tx, block_index, minimum_fee, ledger))
        .collect()
}
