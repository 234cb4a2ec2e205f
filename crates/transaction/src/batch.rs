//! Validating many transactions at once: the proofs of all of them checked together with
//! one random-weighted multiscalar multiplication per core, every other rule per
//! transaction across all cores (rayon).
//!
//! [`validate_batch`] gives every transaction exactly the verdict
//! [`validate`](crate::validate()) gives it (the same `Ok` hash or the same
//! [`ValidationError`]):
//!
//! 1. Per transaction, in parallel: every rule before the range proof (shape, order, fee,
//!    tombstone, points, key images, membership), as `validate` checks them. A failure
//!    is that transaction's verdict.
//! 2. Per transaction, in parallel: the range proof is parsed and its Fiat-Shamir
//!    challenges recomputed ([`mcnode_crypto::batch::fold_range_proof`]); bytes that do
//!    not parse or a proof refused before its multiscalar check give the verdict
//!    `validate` gives. Its two verification equations, and the balance equation
//!    `Σ pseudo - Σ outputs - fee·G = 0`, each get a fresh 128-bit random weight; the ring
//!    signatures (a hash chain, not batchable) are verified here too.
//! 3. Per chunk (one chunk per rayon thread): all the weighted equations in one
//!    multiscalar multiplication, the Bulletproofs generators `G_i`, `H_i` and the Pedersen
//!    generators shared by every proof folded into one scalar each.
//! 4. A chunk that passes means every range proof and balance in it holds (a false
//!    equation passes with probability at most `2^-128`: the weights are drawn from a
//!    CSPRNG, `rand::thread_rng`, after the transactions are fixed, and the group has
//!    prime order; the argument is in [`mcnode_crypto::batch`]). A chunk that fails is
//!    halved and each half checked the same way; fewer than four transactions left are
//!    checked one by one, in parallel, with `validate`'s own range proof and balance
//!    checks, so exactly the failing transactions are named.
//! 5. Each verdict follows `validate`'s order: range proof, then balance, then ring
//!    signatures.
//!
//! Cost: an honest batch pays the range proofs' scalar work and one large multiscalar
//! multiplication instead of one per proof. One bad transaction in a chunk of `n` adds
//! about `2 log2(n / 4)` combined checks over shrinking halves (together about twice the
//! chunk's own multiscalar work) and at most three transactions' own proof checks.

use curve25519_dalek::{ristretto::RistrettoPoint, scalar::Scalar};
use mcnode_crypto::{
    batch::{fold_range_proof, random_weight},
    range_proof, BatchCheck,
};
use rayon::prelude::*;

use crate::{
    validate::{check_balance, check_ring_signatures, check_static, range_proof_error},
    LedgerView, Tx, ValidationError,
};

/// A transaction whose verdict waits for the batch's multiscalar check.
struct Pending {
    /// Index in the batch.
    index: usize,
    /// Its range-proof and balance equations, weighted.
    check: BatchCheck,
    /// Its ring signatures' verdict.
    rings: Result<(), ValidationError>,
    /// The tx hash, its verdict if every check passes.
    hash: [u8; 32],
    /// For the per-transaction fallback.
    pseudo_outputs: Vec<RistrettoPoint>,
    output_commitments: Vec<RistrettoPoint>,
}

enum Stage {
    Done(Result<[u8; 32], ValidationError>),
    Pending(Box<Pending>),
}

/// Validates every transaction as [`validate`](crate::validate()) does, for inclusion in
/// block `block_index` under `minimum_fee`, with the proofs of all of them verified
/// together (see the module documentation). Results come back in input order, one per
/// transaction, each equal to what `validate` returns for it.
pub fn validate_batch<L: LedgerView + Sync + ?Sized>(
    txs: &[Tx],
    block_index: u64,
    minimum_fee: u64,
    ledger: &L,
) -> Vec<Result<[u8; 32], ValidationError>> {
    let stages: Vec<Stage> = txs
        .par_iter()
        .enumerate()
        .map(|(index, tx)| prepare(index, tx, block_index, minimum_fee, ledger))
        .collect();

    let mut results: Vec<Option<Result<[u8; 32], ValidationError>>> = vec![None; txs.len()];
    let mut pending = Vec::new();
    for (index, stage) in stages.into_iter().enumerate() {
        match stage {
            Stage::Done(r) => results[index] = Some(r),
            Stage::Pending(p) => pending.push(*p),
        }
    }

    let chunk = pending
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1);
    let verdicts: Vec<(usize, Result<[u8; 32], ValidationError>)> = pending
        .par_chunks(chunk)
        .flat_map_iter(|chunk| verify_chunk(chunk, txs))
        .collect();
    for (index, r) in verdicts {
        results[index] = Some(r);
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| unreachable!("every transaction gets a verdict")))
        .collect()
}

fn prepare<L: LedgerView + ?Sized>(
    index: usize,
    tx: &Tx,
    block_index: u64,
    minimum_fee: u64,
    ledger: &L,
) -> Stage {
    let checked = match check_static(tx, block_index, minimum_fee, ledger) {
        Ok(c) => c,
        Err(e) => return Stage::Done(Err(e)),
    };
    let commitments: Vec<_> = tx
        .prefix
        .outputs
        .iter()
        .map(|o| o.amount.commitment)
        .collect();
    let mut rng = rand::thread_rng();
    let mut check = match fold_range_proof(&tx.signature.range_proof, &commitments, &mut rng) {
        Ok(c) => c,
        Err(e) => return Stage::Done(Err(range_proof_error(e))),
    };
    // Balance: w (Σ pseudo - Σ outputs - fee B) = 0.
    let w = random_weight(&mut rng);
    for p in &checked.pseudo_outputs {
        check.push(w, *p);
    }
    for c in &checked.output_commitments {
        check.push(-w, *c);
    }
    check.add_value_generator(-(w * Scalar::from(tx.prefix.fee)));
    let rings = check_ring_signatures(tx, &checked.message);
    Stage::Pending(Box::new(Pending {
        index,
        check,
        rings,
        hash: tx.hash_with_message(&checked.message),
        pseudo_outputs: checked.pseudo_outputs,
        output_commitments: checked.output_commitments,
    }))
}

/// Below this many transactions, a failed combined check is settled transaction by
/// transaction rather than by halving.
const BISECT_BELOW: usize = 4;

/// The verdicts of one chunk: one multiscalar check over all of it; if that fails, each
/// half is checked the same way (down to [`BISECT_BELOW`] transactions, which are checked
/// one by one with `validate`'s own code), so a bad transaction costs a few more
/// multiscalar checks of shrinking size, not the whole chunk's per-transaction proofs.
fn verify_chunk(chunk: &[Pending], txs: &[Tx]) -> Vec<(usize, Result<[u8; 32], ValidationError>)> {
    let mut all = BatchCheck::new();
    for p in chunk {
        all.merge(p.check.clone());
    }
    if all.verify() {
        return chunk
            .iter()
            .map(|p| (p.index, p.rings.clone().map(|()| p.hash)))
            .collect();
    }
    if chunk.len() < BISECT_BELOW {
        return chunk
            .par_iter()
            .map(|p| (p.index, fallback(p, &txs[p.index])))
            .collect();
    }
    let (left, right) = chunk.split_at(chunk.len() / 2);
    let (mut verdicts, more) = rayon::join(|| verify_chunk(left, txs), || verify_chunk(right, txs));
    verdicts.extend(more);
    verdicts
}

/// `validate`'s own proof checks for one transaction, in its order.
fn fallback(p: &Pending, tx: &Tx) -> Result<[u8; 32], ValidationError> {
    let commitments: Vec<_> = tx
        .prefix
        .outputs
        .iter()
        .map(|o| o.amount.commitment)
        .collect();
    range_proof::verify(
        &tx.signature.range_proof,
        &commitments,
        &mut rand::thread_rng(),
    )
    .map_err(range_proof_error)?;
    check_balance(&p.pseudo_outputs, &p.output_commitments, tx.prefix.fee)?;
    p.rings.clone()?;
    Ok(p.hash)
}
