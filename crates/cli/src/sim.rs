//! `mcnode sim`: seeded SCP network simulations, and with `--node` whole-node
//! simulations (the logic lives in `mcnode-testkit`).

use mcnode_testkit::{
    node_sim::{run_node_batch, NodeBatchReport, NodeSimOptions, Scenario},
    run_batch, Batch, FaultSet, Topology, TopologyChoice,
};

/// Arguments of `mcnode sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Number of seeded runs.
    #[arg(long, env = "MCNODE_SIM_SEEDS", default_value_t = 100)]
    pub seeds: u64,
    /// First seed; runs use seeds FIRST_SEED..FIRST_SEED+SEEDS.
    #[arg(long, env = "MCNODE_SIM_FIRST_SEED", default_value_t = 0)]
    pub first_seed: u64,
    /// mesh:N:T, cycle:N, tiered:ORGS:SERVERS, core5, core3, or mix (rotate by seed).
    #[arg(long, env = "MCNODE_SIM_TOPOLOGY", default_value = "mix")]
    pub topology: String,
    /// all, none, or a comma list of loss,delay,dup,reorder,partition,crash,late,silent,equivocate,garbage.
    #[arg(long, env = "MCNODE_SIM_FAULTS", default_value = "all")]
    pub faults: String,
    /// Slots (blocks) every honest node must externalize per run.
    #[arg(long, env = "MCNODE_SIM_SLOTS", default_value_t = 3)]
    pub slots: u64,
    /// Run the deliberately broken protocol (a v-blocking set counts as a quorum), to see
    /// the invariants fail.
    #[arg(long, env = "MCNODE_SIM_BROKEN")]
    pub broken: bool,
    /// Worker threads (0: all cores).
    #[arg(long, env = "MCNODE_SIM_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Re-run every Nth seed (and the first) to check determinism; 0 never.
    #[arg(long, env = "MCNODE_SIM_DETERMINISM_EVERY", default_value_t = 50)]
    pub determinism_every: u64,
    /// Simulate whole nodes (node cores with their stores, fetching, held messages, block
    /// forming and catch-up, behind a simulated network, validator and ledger) instead of
    /// SCP alone. `--topology mix` then splits the seeds over mesh:4:3, core5, core3,
    /// mesh:7:5 and tiered:4:3; `--faults` and `--slots` do not apply.
    #[arg(long, env = "MCNODE_SIM_NODE")]
    pub node: bool,
    /// With `--node`: random, late_tx, only_one_has_tx, big_value, slow_peer or
    /// accept_append_race.
    #[arg(long, env = "MCNODE_SIM_SCENARIO", default_value = "random")]
    pub scenario: String,
}

/// The topologies `mcnode sim --node --topology mix` covers.
pub const NODE_MIX: [&str; 5] = ["mesh:4:3", "core5", "core3", "mesh:7:5", "tiered:4:3"];

fn run_nodes(args: &SimArgs) -> anyhow::Result<()> {
    let scenario = Scenario::parse(&args.scenario)?;
    let topologies: Vec<Topology> = match args.topology.parse::<TopologyChoice>()? {
        TopologyChoice::One(t) => vec![t],
        TopologyChoice::Mix => NODE_MIX
            .iter()
            .map(|t| t.parse())
            .collect::<Result<_, _>>()?,
    };
    let per = args.seeds.div_ceil(topologies.len() as u64);
    let mut reports: Vec<NodeBatchReport> = Vec::new();
    for (i, topology) in topologies.into_iter().enumerate() {
        let opts = NodeSimOptions::new(topology, scenario);
        let first = args.first_seed.wrapping_add(i as u64 * per);
        reports.push(run_node_batch(&opts, first, per, args.determinism_every)?);
    }
    println!("{}", serde_json::to_string_pretty(&reports)?);
    let failed: Vec<&NodeBatchReport> = reports
        .iter()
        .filter(|r| r.safety_failures + r.liveness_failures + r.determinism_failures > 0)
        .collect();
    if !failed.is_empty() {
        for r in failed {
            eprintln!(
                "error: {}: {} safety, {} liveness, {} determinism failure(s); first failing seed: {}",
                r.topology,
                r.safety_failures,
                r.liveness_failures,
                r.determinism_failures,
                r.failures.first().map_or("-".to_string(), |f| f.seed.to_string())
            );
        }
        std::process::exit(1);
    }
    Ok(())
}

/// Runs the simulations, prints one JSON report, and exits with status 1 if any
/// invariant failed (after printing the report and a one-line summary on stderr).
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    if args.node {
        return run_nodes(&args);
    }
    let topology: TopologyChoice = args.topology.parse()?;
    let faults: FaultSet = args.faults.parse()?;
    let batch = Batch {
        topology,
        faults,
        slots: args.slots,
        seeds: args.seeds,
        first_seed: args.first_seed,
        broken: args.broken,
        threads: args.threads,
        determinism_every: args.determinism_every,
    };
    let report = run_batch(&batch)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report.failed() {
        eprintln!(
            "error: {} safety violation(s), {} liveness failure(s), {} determinism failure(s); reproduce: {}",
            report.safety_violations,
            report.liveness_failures,
            report.determinism_failures,
            report
                .first_failure
                .as_ref()
                .map_or("-", |f| f.reproduce.as_str())
        );
        std::process::exit(1);
    }
    Ok(())
}
