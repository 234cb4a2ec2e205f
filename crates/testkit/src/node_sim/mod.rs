//! The whole node in the deterministic simulator.
//!
//! Each simulated node runs the real [`mcnode_node_core::NodeCore`] (its transaction store,
//! validity levels, fetching, held envelopes, nomination, block forming and catch-up
//! decisions, with the real SCP underneath) behind a simulated shell that does what
//! `consensus-service`'s shell does: validates transactions (taking simulated time, per
//! node), answers `GetTxs`, relays, forms blocks as the enclave does (dropping
//! transactions the ledger or the block already spends), serves and fetches blocks for
//! catch-up, persists SCP state and restores it after a crash. The network is simulated
//! from one seed: link delays, loss, duplication, extra delays, partitions, crashes with
//! restart, relayed transactions lost, slow validation, and Byzantine peers (silent, or
//! naming transactions nobody has and lying about what they hold). Clients submit
//! payments to random nodes at random times, some of them double spends, some invalid.
//!
//! Oracles, checked as the run goes and at the end:
//! * **agreement**: no two honest nodes append different blocks at one index;
//! * **no double spend**: no coin is spent twice in a ledger, and no transaction is
//!   appended twice;
//! * **no stale pending**: no honest node holds as pending a transaction its ledger
//!   already holds (the accept/append race);
//! * **liveness**: after faults end, every transaction an honest node acknowledged (and
//!   that node did not crash before the transaction reached a block), and every
//!   transaction submitted after the faults, is in every honest node's ledger within
//!   [`NodeSimOptions::liveness_bound_ms`], or its double-spend twin is;
//! * **the chain keeps moving**: after faults end, no gap between two blocks exceeds
//!   [`NodeSimOptions::gap_bound_ms`] while transactions wait;
//! * **determinism**: a seed run twice gives the same digest.
//!
//! [`Scenario`]s set up the stalls the node used to suffer, and
//! [`mcnode_node_core::Legacy`] brings back the old behaviours so that tests can show the
//! scenarios fail under them.

mod model;
mod world;

use std::collections::BTreeMap;
use std::time::Instant;

use mcnode_node_core::{CoreConfig, Legacy};
use serde::{Deserialize, Serialize};

pub use model::{NodeFault, Plan, SimBlock, SimLedger, SimTxId, Universe};

use crate::{SimError, Topology};

/// A set-up that used to stall the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Random faults drawn from [`NodeSimOptions::faults`].
    Random,
    /// One node, needed for a quorum, misses the relays of transactions its peers ballot
    /// on, and its fetches fail: it learns them only when they are relayed again.
    LateTx,
    /// Only one node holds a pending transaction (its relays are lost for a while).
    OnlyOneHasTx,
    /// A value naming more transactions than one fetch may carry, none of them held by one
    /// node that is needed for a quorum.
    BigValue,
    /// A node's peers relay many transactions to it while its validation is slow.
    SlowPeer,
    /// A client submits the same transaction to two nodes; on the second it is validated
    /// just before the block holding it is appended there.
    AcceptAppendRace,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 6] = [
        Self::Random,
        Self::LateTx,
        Self::OnlyOneHasTx,
        Self::BigValue,
        Self::SlowPeer,
        Self::AcceptAppendRace,
    ];

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::LateTx => "late_tx",
            Self::OnlyOneHasTx => "only_one_has_tx",
            Self::BigValue => "big_value",
            Self::SlowPeer => "slow_peer",
            Self::AcceptAppendRace => "accept_append_race",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, SimError> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| SimError::Options(format!("unknown scenario {s:?}")))
    }
}

/// Options of a whole-node simulation run (everything but the seed).
#[derive(Clone, Debug)]
pub struct NodeSimOptions {
    /// The network.
    pub topology: Topology,
    /// The set-up.
    pub scenario: Scenario,
    /// Fault kinds random runs may draw.
    pub faults: Vec<NodeFault>,
    /// Valid payments clients submit.
    pub txs: u32,
    /// Of which this many pairs are double spends.
    pub double_spends: u32,
    /// Invalid payments clients submit (every node refuses them).
    pub invalid_txs: u32,
    /// Payments are submitted over this long, ms.
    pub submit_window_ms: u64,
    /// Validation time per transaction, ms (drawn per node from this range).
    pub validate_ms: (u64, u64),
    /// Block forming time, ms.
    pub form_ms: (u64, u64),
    /// Base link delay range, ms (drawn per link).
    pub base_delay_ms: (u64, u64),
    /// Network and crash faults end at a random time up to this, ms.
    pub max_fault_window_ms: u64,
    /// After faults end, every transaction that must commit does so within this, ms.
    pub liveness_bound_ms: u64,
    /// After faults end, no gap between blocks while transactions wait exceeds this, ms.
    pub gap_bound_ms: u64,
    /// Most hashes the serving side of `GetTxs` takes in one request.
    pub fetch_server_limit: usize,
    /// Most transactions one `GetTxs` answer carries (the rest are deferred).
    pub fetch_answer_limit: usize,
    /// Old behaviours brought back (all off: the node as it is).
    pub legacy: Legacy,
    /// Old transport: one FIFO per link for envelopes and relays, a relay occupying the
    /// link until the receiver validated the batch.
    pub legacy_relay_fifo: bool,
    /// The node core's configuration.
    pub core: CoreConfig,
    /// Stop after this many events (counted as a liveness failure).
    pub max_events: u64,
}

impl NodeSimOptions {
    /// Defaults for `topology` and `scenario`: all faults, 40 payments over 10 s (2 double
    /// spends, 2 invalid), 1-5 ms validation, faults for up to 15 s, liveness within 60 s.
    pub fn new(topology: Topology, scenario: Scenario) -> Self {
        let mut core = CoreConfig::default();
        // The simulated peer API takes the same number of hashes per request as the
        // real one.
        core.fetch.max_per_request = mcnode_node_core::FetchConfig::default().max_per_request;
        let mut o = Self {
            topology,
            scenario,
            faults: NodeFault::ALL.to_vec(),
            txs: 40,
            double_spends: 2,
            invalid_txs: 2,
            submit_window_ms: 10_000,
            validate_ms: (1, 5),
            form_ms: (1, 20),
            base_delay_ms: (5, 60),
            max_fault_window_ms: 15_000,
            liveness_bound_ms: 60_000,
            gap_bound_ms: 30_000,
            fetch_server_limit: mcnode_node_core::FetchConfig::default().max_per_request,
            fetch_answer_limit: 100,
            legacy: Legacy::default(),
            legacy_relay_fifo: false,
            core,
            max_events: 3_000_000,
        };
        o.apply_scenario();
        o
    }

    fn apply_scenario(&mut self) {
        match self.scenario {
            Scenario::Random => {}
            Scenario::LateTx => {
                self.faults = Vec::new();
                self.txs = 6;
                self.double_spends = 0;
                self.invalid_txs = 0;
                self.submit_window_ms = 3_000;
                self.gap_bound_ms = 9_000;
                self.liveness_bound_ms = 20_000;
            }
            Scenario::OnlyOneHasTx => {
                self.faults = Vec::new();
                self.txs = 1;
                self.double_spends = 0;
                self.invalid_txs = 0;
                self.submit_window_ms = 1;
                self.liveness_bound_ms = 20_000;
            }
            Scenario::BigValue => {
                self.faults = Vec::new();
                self.txs = 600;
                self.double_spends = 0;
                self.invalid_txs = 0;
                self.submit_window_ms = 1_000;
                self.liveness_bound_ms = 30_000;
            }
            Scenario::SlowPeer => {
                self.faults = Vec::new();
                self.txs = 400;
                self.double_spends = 0;
                self.invalid_txs = 0;
                self.submit_window_ms = 8_000;
                self.validate_ms = (3, 3);
                self.gap_bound_ms = 3_000;
                self.liveness_bound_ms = 20_000;
            }
            Scenario::AcceptAppendRace => {
                self.faults = Vec::new();
                self.txs = 20;
                self.double_spends = 0;
                self.invalid_txs = 0;
                self.submit_window_ms = 5_000;
                self.gap_bound_ms = 5_000;
                self.liveness_bound_ms = 20_000;
            }
        }
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), SimError> {
        self.topology.build()?;
        self.core
            .validate()
            .map_err(|e| SimError::Options(e.to_string()))?;
        let ok = self.base_delay_ms.0 >= 1
            && self.base_delay_ms.0 <= self.base_delay_ms.1
            && self.validate_ms.0 <= self.validate_ms.1
            && self.form_ms.0 <= self.form_ms.1
            && self.fetch_server_limit > 0
            && self.fetch_answer_limit > 0
            && self.txs <= 100_000;
        if !ok {
            return Err(SimError::Options(
                "delays, times and limits must be ordered ranges and positive".into(),
            ));
        }
        Ok(())
    }
}

/// What one run found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeRunOutcome {
    /// The seed.
    pub seed: u64,
    /// The topology.
    pub topology: String,
    /// The scenario.
    pub scenario: Scenario,
    /// Fault kinds drawn.
    pub faults_used: Vec<NodeFault>,
    /// Fault events by kind.
    pub fault_events: BTreeMap<NodeFault, u64>,
    /// When faults ended, ms.
    pub fault_end_ms: u64,
    /// Simulated time at the end, ms.
    pub simulated_ms: u64,
    /// Transactions clients submitted (counting resubmissions once).
    pub submitted: u64,
    /// Transactions an honest node acknowledged.
    pub acknowledged: u64,
    /// Transactions in every honest node's ledger at the end.
    pub committed: u64,
    /// Blocks in the shortest honest ledger.
    pub blocks: u64,
    /// Longest gap between two blocks after faults ended while transactions waited, ms.
    pub max_block_gap_ms: u64,
    /// Envelopes delivered.
    pub messages: u64,
    /// Stall reports the cores made.
    pub stall_reports: u64,
    /// Agreement, double-spend and stale-pending violations.
    pub safety_violations: Vec<String>,
    /// Why liveness failed, if it did.
    pub liveness_failure: Option<String>,
    /// SHA-256 over every event, hex.
    pub digest: String,
    /// When liveness failed: each honest node's state at the end (core status and its
    /// current slot's SCP snapshot), for debugging.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stuck: Vec<serde_json::Value>,
}

impl NodeRunOutcome {
    /// True when nothing was violated.
    pub fn ok(&self) -> bool {
        self.safety_violations.is_empty() && self.liveness_failure.is_none()
    }
}

/// Runs one seed.
pub fn run_node_seed(opts: &NodeSimOptions, seed: u64) -> Result<NodeRunOutcome, SimError> {
    opts.validate()?;
    Ok(world::World::new(opts, seed)?.run())
}

/// What a batch of runs found (`mcnode sim --node` prints it as JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeBatchReport {
    /// Runs made.
    pub runs: u64,
    /// First seed.
    pub first_seed: u64,
    /// Topology.
    pub topology: String,
    /// Scenario.
    pub scenario: Scenario,
    /// Runs with a safety violation.
    pub safety_failures: u64,
    /// Runs with a liveness failure.
    pub liveness_failures: u64,
    /// Runs whose second execution gave another digest.
    pub determinism_failures: u64,
    /// Runs per fault kind drawn.
    pub runs_with_fault: BTreeMap<NodeFault, u64>,
    /// Transactions acknowledged over all runs.
    pub acknowledged: u64,
    /// Transactions committed over all runs.
    pub committed: u64,
    /// Worst block gap after faults over all runs, ms.
    pub worst_block_gap_ms: u64,
    /// The first failing runs (at most 10).
    pub failures: Vec<NodeRunOutcome>,
    /// Wall time, s.
    pub wall_s: f64,
}

/// Runs `seeds` seeds from `first_seed` on all cores; every `determinism_every`-th run is
/// made twice and the digests compared (0: never).
pub fn run_node_batch(
    opts: &NodeSimOptions,
    first_seed: u64,
    seeds: u64,
    determinism_every: u64,
) -> Result<NodeBatchReport, SimError> {
    opts.validate()?;
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicU64::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= seeds {
                    break;
                }
                let seed = first_seed.wrapping_add(i);
                let Ok(w) = world::World::new(opts, seed) else {
                    break;
                };
                let outcome = w.run();
                let differs = determinism_every > 0
                    && i.is_multiple_of(determinism_every)
                    && world::World::new(opts, seed)
                        .map(|w| w.run().digest != outcome.digest)
                        .unwrap_or(true);
                if let Ok(mut r) = results.lock() {
                    r.push((i, outcome, differs));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _, _)| *i);
    let mut report = NodeBatchReport {
        runs: results.len() as u64,
        first_seed,
        topology: opts.topology.to_string(),
        scenario: opts.scenario,
        safety_failures: 0,
        liveness_failures: 0,
        determinism_failures: 0,
        runs_with_fault: BTreeMap::new(),
        acknowledged: 0,
        committed: 0,
        worst_block_gap_ms: 0,
        failures: Vec::new(),
        wall_s: 0.0,
    };
    for (_, o, differs) in results {
        report.safety_failures += u64::from(!o.safety_violations.is_empty());
        report.liveness_failures += u64::from(o.liveness_failure.is_some());
        report.determinism_failures += u64::from(differs);
        for k in &o.faults_used {
            *report.runs_with_fault.entry(*k).or_default() += 1;
        }
        report.acknowledged += o.acknowledged;
        report.committed += o.committed;
        report.worst_block_gap_ms = report.worst_block_gap_ms.max(o.max_block_gap_ms);
        if (!o.ok() || differs) && report.failures.len() < 10 {
            report.failures.push(o);
        }
    }
    report.wall_s = started.elapsed().as_secs_f64();
    Ok(report)
}
