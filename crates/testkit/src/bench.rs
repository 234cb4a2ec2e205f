//! `mcnode bench scp`: throughput, message and CPU cost per slot over fault-free runs,
//! with every value Valid at once or with validity levels on (late values).

use serde::{Deserialize, Serialize};

use crate::faults::{FaultSet, LateValues};
use crate::sim::{run_seed, SimOptions};
use crate::topology::Topology;
use crate::SimError;

/// One topology's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchRow {
    /// The topology.
    pub topology: String,
    /// Nodes.
    pub nodes: usize,
    /// `all valid`, or how values were late (MaybeValid for a while) at other nodes.
    pub validity: String,
    /// Slots run.
    pub slots: u64,
    /// Slots (values) externalized per simulated second.
    pub values_per_simulated_second: f64,
    /// Simulated milliseconds per slot.
    pub simulated_ms_per_slot: f64,
    /// Messages broadcast per slot per node.
    pub messages_per_slot_per_node: f64,
    /// Messages received (delivered) per slot per node.
    pub deliveries_per_slot_per_node: f64,
    /// CPU microseconds inside SCP calls per slot per node (wall time measured around
    /// each call, so it includes time the thread was preempted on a busy machine).
    pub cpu_us_per_slot_per_node: f64,
    /// On-CPU time of the whole run (SCP and the simulator: event queue, digest,
    /// message copies) per slot per node, from `/proc/thread-self/schedstat` (not
    /// inflated by preemption); absent where that file does not exist.
    pub thread_cpu_us_per_slot_per_node: Option<f64>,
    /// (node, transaction) pairs learned late over the run.
    pub late_learnings: u64,
}

/// The late-value setting of the validity-levels rows: each node learns each other
/// node's transaction late with probability 0.5, after up to 200 ms.
pub const BENCH_LATE: LateValues = LateValues {
    prob: 0.5,
    max_delay_ms: 200,
    never_prob: 0.0,
};

/// Nanoseconds the calling thread has spent on a CPU (Linux), if known.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn describe(late: Option<LateValues>) -> String {
    match late {
        None => "all valid".to_string(),
        Some(l) => format!("late values: p={} up to {} ms", l.prob, l.max_delay_ms),
    }
}

/// The topologies of the issue: mesh 4-of-3, 5-of-4, 10-of-7, 16-of-11, tiered 4x3 and
/// the 100-node tiered network (10 organisations of 10).
pub fn default_topologies() -> Vec<Topology> {
    vec![
        Topology::Mesh {
            nodes: 4,
            threshold: 3,
        },
        Topology::Mesh {
            nodes: 5,
            threshold: 4,
        },
        Topology::Mesh {
            nodes: 10,
            threshold: 7,
        },
        Topology::Mesh {
            nodes: 16,
            threshold: 11,
        },
        Topology::Tiered {
            orgs: 4,
            servers: 3,
        },
        Topology::Tiered {
            orgs: 10,
            servers: 10,
        },
    ]
}

/// Runs `slots` slots on each topology without faults (links 10-30 ms), once per entry
/// of `validity` (`None`: every value Valid at once; `Some`: late values), and measures.
pub fn run(
    topologies: &[Topology],
    slots: u64,
    seed: u64,
    validity: &[Option<LateValues>],
) -> Result<Vec<BenchRow>, SimError> {
    let mut rows = Vec::new();
    for topo in topologies {
        for late in validity {
            let mut opts = SimOptions::new(topo.clone()).with_slots(slots);
            opts.faults = FaultSet::none();
            opts.base_delay_ms = (10, 30);
            opts.late = *late;
            opts.max_events = u64::MAX;
            let cpu_before = thread_cpu_ns();
            let out = run_seed(&opts, seed)?;
            let thread_cpu = thread_cpu_ns()
                .zip(cpu_before)
                .map(|(after, before)| after.saturating_sub(before));
            if !out.safety_violations.is_empty() || out.liveness_failure.is_some() {
                return Err(SimError::Options(format!(
                    "bench run on {topo} failed: {:?} {:?}",
                    out.safety_violations, out.liveness_failure
                )));
            }
            let n = topo.len() as f64;
            let s = out.slots_externalized.max(1) as f64;
            rows.push(BenchRow {
                topology: topo.to_string(),
                nodes: topo.len(),
                validity: describe(*late),
                slots: out.slots_externalized,
                values_per_simulated_second: s / (out.simulated_ms.max(1) as f64 / 1000.0),
                simulated_ms_per_slot: out.simulated_ms as f64 / s,
                messages_per_slot_per_node: out.messages_sent as f64 / s / n,
                deliveries_per_slot_per_node: out.deliveries as f64 / s / n,
                cpu_us_per_slot_per_node: out.scp_cpu.as_secs_f64() * 1e6 / s / n,
                thread_cpu_us_per_slot_per_node: thread_cpu.map(|ns| ns as f64 / 1e3 / s / n),
                late_learnings: out
                    .fault_events
                    .get(&crate::FaultKind::Late)
                    .copied()
                    .unwrap_or(0),
            });
        }
    }
    Ok(rows)
}
