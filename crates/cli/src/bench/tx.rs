//! `mcnode bench tx`: transaction validation costs, measured in one run so that ratios
//! compare like with like. Each figure is the median of `--samples` timings.
//!
//! `batch_verification`: for each `--batch-sizes` entry, the per-transaction time of
//! `validate_batch` over that many 1-in/2-out transactions, on one core and on all;
//! `batch_vs_reference_ratio` is the one-core per-transaction time at batch 100 over the
//! MobileCoin-shaped single-transaction cost (constant-time ring + range proof m=4, one
//! core), the median of ratios of timings taken in pairs. Instruction counts
//! of the same operations: `scripts/bench-tx-instructions.sh` (callgrind).

use std::time::Instant;

use mcnode_transaction::{
    constants::DEFAULT_MINIMUM_FEE,
    test_utils::{BenchCases, BENCH_BLOCK},
    validate_batch,
};
use serde_json::json;

/// Arguments of `mcnode bench tx`.
#[derive(Debug, clap::Args)]
pub struct TxBenchArgs {
    /// Timings per figure (the median is reported).
    #[arg(long, default_value_t = 101)]
    samples: usize,
    /// Transactions in the parallel batch.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Batch sizes of the batch-verification figures (1-in/2-out transactions);
    /// `batch_vs_reference_ratio` needs 100 among them.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
    batch_sizes: Vec<usize>,
    /// Seed of the generated ledger and transactions.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// Times each named operation `samples` times, round-robin (so that background noise hits
/// every operation alike), after one warm-up run each; returns the median in milliseconds.
fn medians_ms(samples: usize, ops: &mut [(&str, &mut dyn FnMut())]) -> Vec<f64> {
    for (_, f) in ops.iter_mut() {
        f();
    }
    let mut times = vec![Vec::with_capacity(samples); ops.len()];
    for _ in 0..samples.max(1) {
        for ((_, f), t) in ops.iter_mut().zip(&mut times) {
            let start = Instant::now();
            f();
            t.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.iter_mut().map(|t| median(t)).collect()
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Runs the benchmark.
pub fn run(args: TxBenchArgs) -> anyhow::Result<serde_json::Value> {
    mcnode_crypto::range_proof::warm_up();
    let cases = BenchCases::new(args.seed);
    let n = args.samples;

    let mut ops: [(&str, &mut dyn FnMut()); 7] = [
        ("ring", &mut || cases.ring_verify()),
        ("ring_ct", &mut || cases.ring_verify_constant_time()),
        ("range1", &mut || cases.range_verify(1)),
        ("range2", &mut || cases.range_verify(2)),
        ("range4", &mut || cases.range_verify(4)),
        ("v12", &mut || cases.validate_1in2out()),
        ("v22", &mut || cases.validate_2in2out()),
    ];
    let m = medians_ms(n, &mut ops);
    let (ring, ring_ct, range1, range2, range4, v12, v22) =
        (m[0], m[1], m[2], m[3], m[4], m[5], m[6]);

    // The primitives a 1-in/2-out validation cannot avoid: one ring signature, one range
    // proof over two outputs.
    let primitive_sum = ring + range2;
    // MobileCoin's shape: constant-time ring verification, and a range proof over outputs
    // and pseudo-outputs (2 + 1, padded to 4).
    let reference = ring_ct + range4;

    let txs: Vec<_> = (0..args.batch)
        .map(|i| {
            if i % 2 == 0 {
                cases.tx_1in2out.clone()
            } else {
                cases.tx_2in2out.clone()
            }
        })
        .collect();
    let run_batch = || {
        let results = validate_batch(&txs, BENCH_BLOCK, DEFAULT_MINIMUM_FEE, cases.ledger());
        assert!(
            results.iter().all(Result::is_ok),
            "batch transactions must validate"
        );
    };
    let cores = rayon::current_num_threads();
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    // Alternate one-core and all-core runs; the speedup is the median of the pairs' ratios.
    let rounds = (n / 10).max(3);
    let (mut one, mut all, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    run_batch();
    for _ in 0..rounds {
        let t = Instant::now();
        single.install(run_batch);
        let t1 = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        run_batch();
        let tn = t.elapsed().as_secs_f64() * 1e3;
        one.push(t1);
        all.push(tn);
        ratios.push(t1 / tn);
    }
    let (batch_one, batch_all, speedup) = (median(&mut one), median(&mut all), median(&mut ratios));

    // Batch verification: per-transaction cost of `validate_batch` over batches of 1-in/2-out
    // transactions (64 distinct ones, repeated), on one core and on all cores.
    let mut sizes = Vec::new();
    let mut vs_ref_100 = f64::NAN;
    for &size in &args.batch_sizes {
        let txs = cases.batch_1in2out(64, size, args.seed + 1);
        let run = || {
            let results = validate_batch(&txs, BENCH_BLOCK, DEFAULT_MINIMUM_FEE, cases.ledger());
            assert!(
                results.iter().all(Result::is_ok),
                "batch transactions must validate"
            );
        };
        // About 2,000 transactions' worth of timings per size, at least 5 and at most
        // `samples` runs. Each run is paired with one reference timing (the MobileCoin-shaped
        // single-transaction cost, one core) taken right after it, and the ratio is the
        // median of the pairs' ratios, so load that drifts on this shared machine hits both
        // sides of each ratio alike.
        let repeats = (2000 / size.max(1)).clamp(5, n.max(5));
        run();
        let (mut one, mut all, mut vs_ref) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..repeats {
            let t = Instant::now();
            single.install(run);
            let t1 = t.elapsed().as_secs_f64() * 1e3 / size.max(1) as f64;
            // The reference right after the one-core run, on the same thread: not after
            // the all-cores run, whose pool threads still spin for a while when it ends.
            let t = Instant::now();
            single.install(|| {
                cases.ring_verify_constant_time();
                cases.range_verify(4);
            });
            let r = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            run();
            all.push(t.elapsed().as_secs_f64() * 1e3 / size.max(1) as f64);
            one.push(t1);
            vs_ref.push(t1 / r);
        }
        let (one, all, vs_ref) = (median(&mut one), median(&mut all), median(&mut vs_ref));
        if size == 100 {
            vs_ref_100 = vs_ref;
        }
        sizes.push(json!({
            "batch": size,
            "runs": repeats,
            "per_tx_one_core_ms": round(one),
            "per_tx_all_cores_ms": round(all),
            "vs_reference_ratio_one_core": round(vs_ref),
        }));
    }

    Ok(json!({
        "bench": "tx",
        "samples": n,
        "cores": cores,
        "ring_size": mcnode_transaction::constants::RING_SIZE,
        "ring_verify_ms": round(ring),
        "ring_verify_constant_time_ms": round(ring_ct),
        "range_verify_m1_ms": round(range1),
        "range_verify_m2_ms": round(range2),
        "range_verify_m4_ms": round(range4),
        "validate_1in2out_ms": round(v12),
        "validate_2in2out_ms": round(v22),
        "primitive_sum_1in2out_ms": round(primitive_sum),
        "overhead_ratio": round(v12 / primitive_sum),
        "reference_1in2out_ms": round(reference),
        "vs_reference_ratio": round(v12 / reference),
        "batch_size": args.batch,
        "batch_one_core_ms": round(batch_one),
        "batch_all_cores_ms": round(batch_all),
        "batch_tx_per_s_all_cores": round(args.batch as f64 / (batch_all / 1e3)),
        "parallel_speedup": round(speedup),
        "batch_verification": sizes,
        "batch_vs_reference_ratio": if vs_ref_100.is_nan() { serde_json::Value::Null } else { json!(round(vs_ref_100)) },
    }))
}
