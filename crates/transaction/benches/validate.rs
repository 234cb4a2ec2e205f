//! Criterion benches of transaction validation and its primitives (the same cases as
//! `mcnode bench tx`, which prints them as one JSON object).
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use mcnode_transaction::test_utils::BenchCases;

fn benches(c: &mut Criterion) {
    let cases = BenchCases::new(7);
    let mut g = c.benchmark_group("tx");
    g.sample_size(30);
    g.bench_function("ring11_verify", |b| b.iter(|| cases.ring_verify()));
    g.bench_function("ring11_verify_constant_time", |b| {
        b.iter(|| cases.ring_verify_constant_time())
    });
    for m in [1usize, 2, 4] {
        g.bench_function(format!("range_proof_verify_m{m}"), |b| {
            b.iter(|| cases.range_verify(m))
        });
    }
    g.bench_function("validate_1in2out", |b| b.iter(|| cases.validate_1in2out()));
    g.bench_function("validate_2in2out", |b| b.iter(|| cases.validate_2in2out()));
    g.finish();
}

criterion_group!(tx, benches);
criterion_main!(tx);
