//! `mcnode sim`: seeded SCP network simulations (the logic lives in `mcnode-testkit`).

use mcnode_testkit::{run_batch, Batch, FaultSet, TopologyChoice};

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
}

/// Runs the simulations, prints one JSON report, and exits with status 1 if any
/// invariant failed (after printing the report and a one-line summary on stderr).
pub fn run(args: SimArgs) -> anyhow::Result<()> {
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
