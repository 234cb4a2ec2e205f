//! `mcnode bench scp`: throughput, message and CPU cost per slot over fault-free runs.

use serde::{Deserialize, Serialize};

use crate::faults::FaultSet;
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
    /// CPU microseconds inside SCP calls per slot per node.
    pub cpu_us_per_slot_per_node: f64,
}

/// The topologies of the issue: mesh 4-of-3, 5-of-4, 10-of-7, 16-of-11 and tiered 4x3.
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
    ]
}

/// Runs `slots` slots on each topology without faults (links 10-30 ms) and measures.
pub fn run(topologies: &[Topology], slots: u64, seed: u64) -> Result<Vec<BenchRow>, SimError> {
    let mut rows = Vec::new();
    for topo in topologies {
        let mut opts = SimOptions::new(topo.clone()).with_slots(slots);
        opts.faults = FaultSet::none();
        opts.base_delay_ms = (10, 30);
        let out = run_seed(&opts, seed)?;
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
            slots: out.slots_externalized,
            values_per_simulated_second: s / (out.simulated_ms.max(1) as f64 / 1000.0),
            simulated_ms_per_slot: out.simulated_ms as f64 / s,
            messages_per_slot_per_node: out.messages_sent as f64 / s / n,
            deliveries_per_slot_per_node: out.deliveries as f64 / s / n,
            cpu_us_per_slot_per_node: out.scp_cpu.as_secs_f64() * 1e6 / s / n,
        });
    }
    Ok(rows)
}
