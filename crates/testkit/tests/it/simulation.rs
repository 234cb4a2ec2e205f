//! Seeded simulation batches: the invariants hold with every fault kind, and fail for
//! the deliberately broken protocol.

use mcnode_testkit::{run_batch, run_seed, Batch, FaultKind, FaultSet, SimOptions, Topology};

/// CI: 500 seeded runs over the topology mix (mesh 4-of-3, core5, core3, mesh 7-of-5,
/// cycle of 4, tiered 4x2) with every fault kind, 3 slots each: no safety violation, no
/// liveness failure, determinism spot-checked. About 10 s in a debug build on 2 cores.
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
