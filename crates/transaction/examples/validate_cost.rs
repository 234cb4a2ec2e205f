//! Runs validation a given number of times so that `valgrind --tool=callgrind` can count
//! its instructions (`scripts/bench-tx-instructions.sh` runs it and subtracts the set-up).
//!
//! `validate_cost MODE N`: builds the benchmark fixture and a pool of 16 distinct
//! 1-input/2-output transactions, validates one of them once (warming every lazy table),
//! then
//! * `setup`: nothing more (the baseline to subtract);
//! * `single`: `N` calls of `validate`, cycling through the pool;
//! * `batch`: one call of `validate_batch` over `N` transactions;
//! * `batch-bad`: the same with one false range proof in the middle of the batch;
//! * `reference`: `N` times the MobileCoin-shaped cost of one 1-in/2-out transaction
//!   (constant-time ring verification and a range proof over 4 values).
#![allow(missing_docs)]

use mcnode_transaction::{
    constants::DEFAULT_MINIMUM_FEE,
    test_utils::{BenchCases, BENCH_BLOCK},
    validate, validate_batch,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, n) = match (
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) {
        (Some(m), Some(n)) => (m.clone(), n),
        _ => {
            eprintln!("usage: validate_cost setup|single|batch|batch-bad|reference N");
            std::process::exit(2);
        }
    };
    mcnode_crypto::range_proof::warm_up();
    let cases = BenchCases::new(7);
    let txs = cases.batch_1in2out(16, n.max(1), 11);
    let ledger = cases.ledger();
    let first = validate(&txs[0], BENCH_BLOCK, DEFAULT_MINIMUM_FEE, ledger);
    assert!(first.is_ok(), "warm-up tx must validate: {first:?}");
    let ok = match mode.as_str() {
        "setup" => true,
        "single" => txs
            .iter()
            .take(n)
            .all(|tx| validate(tx, BENCH_BLOCK, DEFAULT_MINIMUM_FEE, ledger).is_ok()),
        "reference" => {
            for _ in 0..n {
                cases.ring_verify_constant_time();
                cases.range_verify(4);
            }
            true
        }
        "batch" => validate_batch(&txs[..n], BENCH_BLOCK, DEFAULT_MINIMUM_FEE, ledger)
            .iter()
            .all(Result::is_ok),
        "batch-bad" => {
            // One transaction in the middle with a range proof that parses but is false
            // (a bit of `t_x` flipped): the batch must name it and only it.
            let mut txs = txs[..n].to_vec();
            txs[n / 2].signature.range_proof[4 * 32] ^= 1;
            let results = validate_batch(&txs, BENCH_BLOCK, DEFAULT_MINIMUM_FEE, ledger);
            results
                .iter()
                .enumerate()
                .all(|(i, r)| r.is_ok() != (i == n / 2))
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    };
    assert!(ok, "every transaction must validate");
}
