//! `mcnode bench quorum`: the run time of `mcnode quorum check`'s analysis
//! (`mcnode-quorum`) on generated federations of ~100 nodes.

use std::time::Instant;

use mcnode_quorum::{Federation, Options};
use mcnode_scp::{NodeId, QuorumSet};

/// Arguments of `mcnode bench quorum`.
#[derive(Debug, clap::Args)]
pub struct QuorumBenchArgs {
    /// Federations, comma-separated, each `tiered:ORGS:PER_ORG:LEAVES`: a top tier of ORGS
    /// organisations of PER_ORG nodes (each node: a majority of each organisation, and
    /// all organisations but a third), and LEAVES nodes that trust that top tier.
    #[arg(
        long,
        env = "MCNODE_BENCH_QUORUM_NETWORKS",
        value_delimiter = ',',
        default_value = "tiered:7:3:79,tiered:8:3:76"
    )]
    pub networks: Vec<String>,
    /// Runs per federation (worst and median are reported).
    #[arg(long, env = "MCNODE_BENCH_QUORUM_RUNS", default_value_t = 5)]
    pub runs: usize,
}

/// A generated federation and its node count.
pub fn tiered(orgs: usize, per_org: usize, leaves: usize) -> anyhow::Result<Federation> {
    if orgs == 0 || per_org == 0 {
        anyhow::bail!("a tiered federation needs at least one organisation of one node");
    }
    let org_sets: Vec<QuorumSet> = (0..orgs)
        .map(|o| {
            let members = (0..per_org)
                .map(|i| NodeId::from(format!("org{o}-node{i}:8443").as_str()))
                .collect();
            QuorumSet::flat((per_org / 2 + 1) as u32, members)
        })
        .collect::<Result<_, _>>()?;
    let threshold = (orgs - (orgs - 1) / 3) as u32;
    let top = QuorumSet::new(threshold, Vec::new(), org_sets.clone())?;
    let mut f = Federation::new();
    for set in &org_sets {
        for node in &set.members {
            f.configure(node.clone(), top.clone(), "generated");
        }
    }
    for l in 0..leaves {
        f.configure(
            NodeId::from(format!("leaf{l}:8443").as_str()),
            top.clone(),
            "generated",
        );
    }
    Ok(f)
}

fn parse(spec: &str) -> anyhow::Result<(usize, usize, usize)> {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        ["tiered", o, p, l] => Ok((o.parse()?, p.parse()?, l.parse()?)),
        _ => anyhow::bail!("{spec:?}: expected tiered:ORGS:PER_ORG:LEAVES"),
    }
}

fn worst_median(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    serde_json::json!({
        "worst": v.last().copied().unwrap_or(0.0),
        "median": v.get(v.len() / 2).copied().unwrap_or(0.0),
        "all": v,
    })
}

/// Runs the benchmark.
pub fn run(args: QuorumBenchArgs) -> anyhow::Result<serde_json::Value> {
    let runs = args.runs.max(1);
    let mut rows = Vec::new();
    for spec in &args.networks {
        let (orgs, per_org, leaves) = parse(spec)?;
        let f = tiered(orgs, per_org, leaves)?;
        let mut phases: [Vec<f64>; 3] = Default::default();
        let mut last = None;
        for _ in 0..runs {
            // Intersection and the top tier alone, then with each enumeration.
            for (slot, options) in [
                Options {
                    blocking_sets: false,
                    splitting_sets: false,
                    ..Options::default()
                },
                Options {
                    splitting_sets: false,
                    ..Options::default()
                },
                Options::default(),
            ]
            .into_iter()
            .enumerate()
            {
                let started = Instant::now();
                let a = f.analyze(&options)?;
                phases[slot].push(started.elapsed().as_secs_f64() * 1000.0);
                last = Some(a);
            }
        }
        let a = last.ok_or_else(|| anyhow::anyhow!("no run"))?;
        let [intersection, blocking, full] = phases;
        rows.push(serde_json::json!({
            "network": spec,
            "nodes": a.nodes.len(),
            "top_tier": a.top_tier.len(),
            "quorum_intersection": a.quorum_intersection,
            "minimal_blocking_sets": a.minimal_blocking_sets.as_ref().map(Vec::len),
            "smallest_blocking_set": a.smallest_blocking_set(),
            "minimal_splitting_sets": a.minimal_splitting_sets.as_ref().map(Vec::len),
            "smallest_splitting_set": a.smallest_splitting_set(),
            "ms_intersection_only": worst_median(intersection),
            "ms_with_blocking_sets": worst_median(blocking),
            "ms_full_check": worst_median(full),
        }));
    }
    Ok(serde_json::json!({
        "bench": "quorum",
        "what": "mcnode quorum check's analysis (mcnode-quorum over fbas_analyzer), in process, no IO",
        "runs": runs,
        "rows": rows,
    }))
}
