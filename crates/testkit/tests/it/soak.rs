//! The long soak, marked `#[ignore]` so it runs only on purpose (release build):
//!
//! ```text
//! SEEDS=100000 cargo test --release -p mcnode-testkit --test it soak -- --ignored --nocapture
//! ```
//!
//! Environment: `SEEDS`, `FIRST`, `TOPO` (or `mix`), `SLOTS`, `FAULTS`, `BROKEN=1`; `DUMP=1` prints the
//! first seed's full outcome (with debug snapshots of stuck nodes).

use mcnode_testkit::{run_batch, run_seed, Batch, SimOptions};

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_string())
}

/// Runs a batch described by the environment and fails on any violation.
#[test]
#[ignore = "slow soak: run explicitly in release"]
fn soak() {
    let mut b = Batch::new(env("SEEDS", "100").parse().unwrap());
    b.topology = env("TOPO", "mix").parse().unwrap();
    b.first_seed = env("FIRST", "0").parse().unwrap();
    b.slots = env("SLOTS", "3").parse().unwrap();
    b.faults = env("FAULTS", "all").parse().unwrap();
    b.broken = std::env::var("BROKEN").is_ok();
    let r = run_batch(&b).unwrap();
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    println!(
        "RESULT {} safety {} live {} det {} wall {:.1} first {:?}",
        b.topology,
        r.safety_violations,
        r.liveness_failures,
        r.determinism_failures,
        r.wall_seconds,
        r.first_failure
    );
    if std::env::var("DUMP").is_ok() {
        let o = run_seed(
            &SimOptions {
                faults: b.faults.clone(),
                ..SimOptions::new(b.topology.for_seed(b.first_seed)).with_slots(b.slots)
            },
            b.first_seed,
        )
        .unwrap();
        println!("{}", serde_json::to_string_pretty(&o).unwrap());
    }
    assert!(!r.failed());
}

/// What `mcnode bench scp` prints, without the CLI (run in release for real figures):
/// `cargo test --release -p mcnode-testkit --test it bench_scp -- --ignored --nocapture`
/// (`SLOTS`, `SEED`, `TOPO=tiered:10:10,...` to choose).
#[test]
#[ignore = "benchmark: run explicitly in release"]
fn bench_scp() {
    use mcnode_testkit::bench;
    let slots = env("SLOTS", "50").parse().unwrap();
    let topologies: Vec<mcnode_testkit::Topology> = match std::env::var("TOPO") {
        Ok(t) => t.split(',').map(|t| t.parse().unwrap()).collect(),
        Err(_) => bench::default_topologies(),
    };
    let seed = env("SEED", "1").parse().unwrap();
    let rows = bench::run(&topologies, slots, seed, &[None, Some(bench::BENCH_LATE)]).unwrap();
    println!("{}", serde_json::to_string_pretty(&rows).unwrap());
}
