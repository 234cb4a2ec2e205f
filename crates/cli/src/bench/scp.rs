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
    /// Topologies (comma list; default mesh:4:3,mesh:5:4,mesh:10:7,mesh:16:11,tiered:4:3,
    /// tiered:10:10).
    #[arg(long, env = "MCNODE_BENCH_SCP_TOPOLOGIES", value_delimiter = ',')]
    pub topologies: Vec<String>,
    /// Which validity runs per topology: `both` (every value Valid at once, then late
    /// values: each node learns each other node's transaction late with probability 0.5,
    /// after up to 200 ms, so values are MaybeValid there meanwhile), `valid` or `late`.
    #[arg(long, env = "MCNODE_BENCH_SCP_VALIDITY", default_value = "both")]
    pub validity: String,
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
    let validity = match args.validity.as_str() {
        "both" => vec![None, Some(bench::BENCH_LATE)],
        "valid" => vec![None],
        "late" => vec![Some(bench::BENCH_LATE)],
        other => anyhow::bail!("--validity {other:?}: use both, valid or late"),
    };
    let rows = bench::run(&topologies, args.slots, args.seed, &validity)?;
    Ok(serde_json::json!({
        "bench": "scp",
        "network": "simulated, no faults, links 10-30 ms + jitter, 1 s base timeouts",
        "slots_per_topology": args.slots,
        "rows": rows,
    }))
}
