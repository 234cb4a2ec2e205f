//! Seeded simulation batches: the invariants hold with every fault kind, and fail for
//! the deliberately broken protocol.

use mcnode_testkit::{run_batch, run_seed, Batch, FaultKind, FaultSet, SimOptions, Topology};

/// CI: 500 seeded runs over the topology mix (mesh 4-of-3, core5, core3, mesh 7-of-5,
/// cycle of 4, tiered 4x2) with every fault kind (late values and restore-only and
/// whole-network restarts included), 3 slots each: no safety violation, no liveness
/// failure, determinism spot-checked. About 20 s in a debug build on 2 cores.
#[test]
fn ci_500_seeds_every_fault_kind() {
    let mut batch = Batch::new(500);
    batch.first_seed = 1_000_000;
    batch.determinism_every = 25;
    let report = run_batch(&batch).unwrap();
    assert_eq!(report.runs, 500);
    assert!(
        !report.failed(),
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    assert_eq!(report.slots_externalized, 500 * 3);
    for kind in FaultKind::ALL {
        let tally = report.faults.get(&kind).cloned().unwrap_or_default();
        assert!(
            tally.runs >= 20 && tally.events > 0,
            "{kind} barely exercised: {tally:?}"
        );
    }
    assert!(report.rejected_messages > 0, "garbage reached honest nodes");
    assert_eq!(report.determinism_checks, 20);
}

/// The broken protocol (a v-blocking set counts as a quorum) is caught: some runs with
/// partitions externalize different values on the two sides.
#[test]
fn broken_variant_is_caught() {
    let mut batch = Batch::new(60);
    batch.topology = "mesh:4:3".parse().unwrap();
    batch.faults = "partition".parse().unwrap();
    batch.broken = true;
    let report = run_batch(&batch).unwrap();
    assert!(
        report.safety_violations > 0,
        "broken variant went unnoticed"
    );
    let first = report.first_failure.expect("a failing seed is reported");
    assert!(first.what.contains("agreement"), "{}", first.what);
    assert!(first.reproduce.contains("--broken"));
    assert!(first
        .reproduce
        .contains(&format!("--first-seed {}", first.seed)));
}

/// The same seed gives the same digest of all events; another seed does not.
#[test]
fn same_seed_same_digest() {
    let opts = SimOptions::new(Topology::Core5);
    let a = run_seed(&opts, 42).unwrap();
    let b = run_seed(&opts, 42).unwrap();
    let c = run_seed(&opts, 43).unwrap();
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.simulated_ms, b.simulated_ms);
    assert_ne!(a.digest, c.digest);
}

/// Without faults every topology of the mix finishes several slots quickly.
#[test]
fn fault_free_runs_are_fast_and_live() {
    for topo in Topology::mix() {
        let mut opts = SimOptions::new(topo.clone()).with_slots(4);
        opts.faults = FaultSet::none();
        let out = run_seed(&opts, 7).unwrap();
        assert!(
            out.safety_violations.is_empty(),
            "{topo}: {:?}",
            out.safety_violations
        );
        assert_eq!(out.liveness_failure, None, "{topo}");
        assert_eq!(out.slots_externalized, 4, "{topo}");
        assert!(out.simulated_ms < 30_000, "{topo}: {} ms", out.simulated_ms);
    }
}

/// Byzantine nodes alone (no network faults) on the larger topologies.
#[test]
fn byzantine_only_on_larger_topologies() {
    for topo in ["mesh:10:7", "tiered:4:3"] {
        let mut batch = Batch::new(20);
        batch.topology = topo.parse().unwrap();
        batch.faults = "silent,equivocate,garbage".parse().unwrap();
        let report = run_batch(&batch).unwrap();
        assert!(!report.failed(), "{topo}: {:?}", report.first_failure);
    }
}

#[test]
fn bad_fault_and_topology_strings_are_errors() {
    assert!("loss,bogus".parse::<FaultSet>().is_err());
    assert!("mesh:4".parse::<Topology>().is_err());
    assert!("mesh:4:9".parse::<Topology>().is_err());
    assert!("tiered:0:3".parse::<Topology>().is_err());
    assert_eq!("core5".parse::<Topology>().unwrap(), Topology::Core5);
    assert_eq!(
        "loss,dup".parse::<FaultSet>().unwrap().to_string(),
        "loss,dup"
    );
}

/// Crash faults restart nodes with and without proposing again, and in some runs the
/// whole network stops at once and restarts from its last messages; late values make
/// statements MaybeValid for a while. Every run stays safe and live.
#[test]
fn restore_only_restarts_network_crashes_and_late_values() {
    let mut batch = Batch::new(150);
    batch.first_seed = 2_000_000;
    batch.faults = "crash,late".parse().unwrap();
    let report = run_batch(&batch).unwrap();
    assert!(
        !report.failed(),
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    assert!(report.restore_only_restarts > 20, "{report:?}");
    assert!(report.network_crash_runs > 10, "{report:?}");
    let late = report
        .faults
        .get(&FaultKind::Late)
        .cloned()
        .unwrap_or_default();
    assert!(late.runs > 40 && late.events > 100, "{late:?}");
}

/// `mcnode bench scp` rows: with late values some (node, transaction) pairs are learned
/// late and the slots still all externalize.
#[test]
fn bench_rows_with_and_without_late_values() {
    use mcnode_testkit::bench;
    let topo: Topology = "mesh:4:3".parse().unwrap();
    let rows = bench::run(&[topo], 3, 1, &[None, Some(bench::BENCH_LATE)]).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].slots, rows[1].slots), (3, 3));
    assert_eq!(rows[0].late_learnings, 0);
    assert!(rows[1].late_learnings > 0, "{:?}", rows[1]);
    assert!(rows[1].validity.starts_with("late values"));
    assert!(bench::default_topologies().contains(&"tiered:10:10".parse().unwrap()));
}
