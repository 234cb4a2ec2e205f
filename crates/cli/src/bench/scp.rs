//! `mcnode bench scp`: SCP cost on simulated networks (the logic lives in `mcnode-testkit`).

use mcnode_testkit::{bench, Topology};

/// Arguments of `mcnode bench scp`.
#[derive(Debug, clap::Args)]
pub struct ScpBenchArgs {
    /// Slots to run per topology.
    #[arg(long, env = "MCNODE_BENCH_SCP_SLOTS", default_value_t = 50)]
    pub slots: u64,
    /// Seed for link delays.
    #[arg(long, env = "MCNODE_BENCH_SCP_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Topologies (comma list; default mesh:4:3,mesh:5:4,mesh:10:7,mesh:16:11,tiered:4:3).
    #[arg(long, env = "MCNODE_BENCH_SCP_TOPOLOGIES", value_delimiter = ',')]
    pub topologies: Vec<String>,
}

/// Runs the benchmark.
pub fn run(args: ScpBenchArgs) -> anyhow::Result<serde_json::Value> {
    let topologies: Vec<Topology> = if args.topologies.is_empty() {
        bench::default_topologies()
    } else {
        args.topologies
            .iter()
            .map(|t| t.parse())
            .collect::<Result<_, _>>()?
    };
    let rows = bench::run(&topologies, args.slots, args.seed)?;
    Ok(serde_json::json!({
        "bench": "scp",
        "network": "simulated, no faults, links 10-30 ms + jitter, 1 s base timeouts",
        "slots_per_topology": args.slots,
        "rows": rows,
    }))
}
