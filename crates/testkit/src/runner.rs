//! Many seeded runs, in parallel, aggregated into one report (what `mcnode sim` prints).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::faults::{FaultKind, FaultSet};
use crate::sim::{run_seed, RunOutcome, SimOptions};
use crate::topology::Topology;
use crate::SimError;

/// Which topology each run uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopologyChoice {
    /// The same topology for every seed.
    One(Topology),
    /// Rotate through [`Topology::mix`] by seed.
    Mix,
}

impl TopologyChoice {
    /// The topology of `seed`.
    pub fn for_seed(&self, seed: u64) -> Topology {
        match self {
            TopologyChoice::One(t) => t.clone(),
            TopologyChoice::Mix => {
                let all = Topology::mix();
                all[(seed % all.len() as u64) as usize].clone()
            }
        }
    }
}

impl std::str::FromStr for TopologyChoice {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        if s == "mix" {
            Ok(Self::Mix)
        } else {
            Ok(Self::One(s.parse()?))
        }
    }
}

impl std::fmt::Display for TopologyChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TopologyChoice::One(t) => t.fmt(f),
            TopologyChoice::Mix => f.write_str("mix"),
        }
    }
}

/// A batch of seeded runs.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Topology per seed.
    pub topology: TopologyChoice,
    /// Fault kinds.
    pub faults: FaultSet,
    /// Slots per run.
    pub slots: u64,
    /// Number of runs (seeds `first_seed..first_seed + seeds`).
    pub seeds: u64,
    /// First seed.
    pub first_seed: u64,
    /// Use the deliberately broken protocol.
    pub broken: bool,
    /// Worker threads (0: all cores).
    pub threads: usize,
    /// Re-run every this many seeds (and the first) to check determinism; 0 never.
    pub determinism_every: u64,
}

impl Batch {
    /// A batch with every fault kind over the topology mix, 3 slots.
    pub fn new(seeds: u64) -> Self {
        Self {
            topology: TopologyChoice::Mix,
            faults: FaultSet::all(),
            slots: 3,
            seeds,
            first_seed: 0,
            broken: false,
            threads: 0,
            determinism_every: 50,
        }
    }

    fn options(&self, seed: u64) -> SimOptions {
        let mut o = SimOptions::new(self.topology.for_seed(seed)).with_slots(self.slots);
        o.faults = self.faults.clone();
        o.broken = self.broken;
        o
    }

    /// The command line that reproduces one seed.
    pub fn reproduce_command(&self, seed: u64) -> String {
        format!(
            "mcnode sim --seeds 1 --first-seed {seed} --topology {} --faults {} --slots {}{}",
            self.topology.for_seed(seed),
            self.faults,
            self.slots,
            if self.broken { " --broken" } else { "" }
        )
    }
}

/// Fault injections of one kind over a batch.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FaultTally {
    /// Runs that used the kind.
    pub runs: u64,
    /// Events: messages dropped, delayed, duplicated or jittered; partitions; crashes;
    /// Byzantine nodes.
    pub events: u64,
}

/// The first run that failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Failure {
    /// Its seed.
    pub seed: u64,
    /// Its topology.
    pub topology: String,
    /// What failed.
    pub what: String,
    /// The command that runs it alone.
    pub reproduce: String,
}

/// What `mcnode sim` prints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimReport {
    /// Runs made.
    pub runs: u64,
    /// Topology (or `mix`).
    pub topology: String,
    /// Fault kinds enabled.
    pub faults_enabled: String,
    /// Slots per run.
    pub slots_per_run: u64,
    /// Whether the broken protocol was used.
    pub broken: bool,
    /// Slots externalized by every honest node, summed over runs.
    pub slots_externalized: u64,
    /// Simulated time, summed over runs, seconds.
    pub simulated_seconds: f64,
    /// Fault injections by kind.
    pub faults: BTreeMap<FaultKind, FaultTally>,
    /// Messages broadcast, summed.
    pub messages_sent: u64,
    /// Messages delivered, summed.
    pub deliveries: u64,
    /// Messages honest nodes refused with a typed error (garbage), summed.
    pub rejected_messages: u64,
    /// Crash restarts that carried on from `Node::restore` alone, without proposing
    /// again for the slot they restored, summed.
    #[serde(default)]
    pub restore_only_restarts: u64,
    /// Runs in which the whole network (every honest node) crashed at once.
    #[serde(default)]
    pub network_crash_runs: u64,
    /// Runs with at least one agreement, validity or well-formedness violation.
    pub safety_violations: u64,
    /// Runs where some honest node did not finish within the bound after faults ended.
    pub liveness_failures: u64,
    /// Seeds re-run to check determinism.
    pub determinism_checks: u64,
    /// Re-runs whose event digest differed.
    pub determinism_failures: u64,
    /// The first failing run, if any.
    pub first_failure: Option<Failure>,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
}

impl SimReport {
    /// Whether any invariant failed.
    pub fn failed(&self) -> bool {
        self.safety_violations + self.liveness_failures + self.determinism_failures > 0
    }
}

fn describe(o: &RunOutcome, determinism: bool) -> Option<String> {
    if let Some(v) = o.safety_violations.first() {
        return Some(format!("safety: {v}"));
    }
    if let Some(l) = &o.liveness_failure {
        return Some(format!("liveness: {l}"));
    }
    determinism.then(|| "determinism: the same seed gave a different event digest".into())
}

/// Runs the batch on `threads` threads; results are aggregated in seed order, so the
/// report (wall time aside) is the same whatever the thread count.
pub fn run_batch(batch: &Batch) -> Result<SimReport, SimError> {
    batch.options(batch.first_seed).validate()?;
    let started = Instant::now();
    let threads = if batch.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        batch.threads
    };
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<(u64, RunOutcome, bool, bool)>> = Mutex::new(Vec::new());
    let error: Mutex<Option<SimError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= batch.seeds {
                    break;
                }
                let seed = batch.first_seed.wrapping_add(i);
                let opts = batch.options(seed);
                let outcome = match run_seed(&opts, seed) {
                    Ok(o) => o,
                    Err(e) => {
                        if let Ok(mut slot) = error.lock() {
                            slot.get_or_insert(e);
                        }
                        break;
                    }
                };
                let check =
                    batch.determinism_every > 0 && i.is_multiple_of(batch.determinism_every);
                let mut differs = false;
                if check {
                    match run_seed(&opts, seed) {
                        Ok(again) => differs = again.digest != outcome.digest,
                        Err(_) => differs = true,
                    }
                }
                if let Ok(mut r) = results.lock() {
                    r.push((i, outcome, check, differs));
                }
            });
        }
    });
    if let Some(e) = error.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|r| r.0);
    let mut report = SimReport {
        runs: results.len() as u64,
        topology: batch.topology.to_string(),
        faults_enabled: batch.faults.to_string(),
        slots_per_run: batch.slots,
        broken: batch.broken,
        slots_externalized: 0,
        simulated_seconds: 0.0,
        faults: BTreeMap::new(),
        messages_sent: 0,
        deliveries: 0,
        rejected_messages: 0,
        restore_only_restarts: 0,
        network_crash_runs: 0,
        safety_violations: 0,
        liveness_failures: 0,
        determinism_checks: 0,
        determinism_failures: 0,
        first_failure: None,
        wall_seconds: 0.0,
    };
    let mut sim_ms = 0u64;
    for (_, o, checked, differs) in &results {
        report.slots_externalized += o.slots_externalized;
        sim_ms += o.simulated_ms;
        for kind in &o.faults_used {
            let t = report.faults.entry(*kind).or_default();
            t.runs += 1;
            t.events += o.fault_events.get(kind).copied().unwrap_or(0);
        }
        report.messages_sent += o.messages_sent;
        report.deliveries += o.deliveries;
        report.rejected_messages += o.rejected;
        report.restore_only_restarts += o.restore_only_restarts;
        report.network_crash_runs += u64::from(o.network_crash);
        report.safety_violations += u64::from(!o.safety_violations.is_empty());
        report.liveness_failures += u64::from(o.liveness_failure.is_some());
        report.determinism_checks += u64::from(*checked);
        report.determinism_failures += u64::from(*differs);
        if report.first_failure.is_none() {
            if let Some(what) = describe(o, *differs) {
                report.first_failure = Some(Failure {
                    seed: o.seed,
                    topology: o.topology.clone(),
                    what,
                    reproduce: batch.reproduce_command(o.seed),
                });
            }
        }
    }
    report.simulated_seconds = sim_ms as f64 / 1000.0;
    report.wall_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
