//! Talking to running nodes on their client ports (`BlockchainApi.GetLastBlockInfo`), and
//! `mcnode status`, `mcnode heights` and `mcnode wait-for-block` built on it.
//!
//! The nodes are named either by a localnet's manifest (`--dir`, see
//! [`crate::localnet::Manifest`]) or by explicit client URIs (`--node-uri`, repeated), so the
//! same commands work against a real deployment.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;
use mcnode_peers::{tls, NodeUri, Service};
use mcnode_wallet::{ConnectOptions, NodeClient};
use serde_json::{json, Value};

use crate::localnet::Manifest;

/// How long one request (connect included) may take before a node counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How often `heights` and `wait-for-block` poll.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Which nodes to talk to: a localnet directory or explicit URIs (exactly one of them).
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct NodeSelection {
    /// A localnet directory (made by `mcnode localnet`): every node in its `localnet.json`.
    #[arg(long, env = "MC_LOCALNET_DIR")]
    dir: Option<PathBuf>,
    /// A node's client URI (`mc://host:port/?ca-bundle=...&tls-hostname=...` or
    /// `insecure-mc://host:port/`); repeat for several nodes.
    #[arg(long = "node-uri", value_name = "URI")]
    node_uris: Vec<String>,
}

/// Arguments of `mcnode status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    nodes: NodeSelection,
}

/// Arguments of `mcnode heights`.
#[derive(Debug, clap::Args)]
pub struct HeightsArgs {
    #[command(flatten)]
    nodes: NodeSelection,
    /// Keep polling for up to this many seconds while nodes are unreachable or at
    /// different heights (which is normal for a moment while a block is being appended)
    /// before failing. Two different block ids at one height fail at once.
    #[arg(
        long,
        env = "MC_HEIGHTS_SETTLE",
        default_value_t = 5.0,
        value_name = "SECONDS"
    )]
    settle: f64,
}

/// Arguments of `mcnode wait-for-block`.
#[derive(Debug, clap::Args)]
pub struct WaitForBlockArgs {
    #[command(flatten)]
    nodes: NodeSelection,
    /// The height to wait for: the number of blocks (the origin block is height 1), so
    /// every node must have appended the block of index `HEIGHT - 1`.
    #[arg(long, env = "MC_WAIT_HEIGHT")]
    height: u64,
    /// Give up (exit 1) after this many seconds.
    #[arg(
        long,
        env = "MC_WAIT_TIMEOUT",
        default_value_t = 60.0,
        value_name = "SECONDS"
    )]
    timeout: f64,
}

/// A node to ask: a display name and its client URI.
#[derive(Clone, Debug)]
pub struct Target {
    /// `node0`, ... for a localnet; the URI's `host:port` otherwise.
    pub name: String,
    /// The client URI as given or as the manifest has it.
    pub uri_text: String,
    /// The parsed URI.
    pub uri: NodeUri,
}

impl NodeSelection {
    fn targets(&self) -> anyhow::Result<Vec<Target>> {
        if let Some(dir) = &self.dir {
            let manifest = Manifest::load(dir)?;
            return manifest
                .nodes
                .iter()
                .map(|n| {
                    let uri =
                        NodeUri::parse(&n.client_uri, Service::Client).with_context(|| {
                            format!(
                                "{}: client_uri of {} ({})",
                                dir.display(),
                                n.name,
                                n.client_uri
                            )
                        })?;
                    Ok(Target {
                        name: n.name.clone(),
                        uri_text: n.client_uri.clone(),
                        uri,
                    })
                })
                .collect();
        }
        self.node_uris
            .iter()
            .map(|text| {
                let uri = NodeUri::parse(text, Service::Client)
                    .with_context(|| format!("--node-uri {text}"))?;
                Ok(Target {
                    name: uri.address(),
                    uri_text: text.clone(),
                    uri,
                })
            })
            .collect()
    }
}

/// The last block as a node reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Number of blocks (last index + 1).
    pub height: u64,
    /// The last block's id, hex.
    pub last_block_id: String,
    /// The node's minimum fee, in the smallest unit.
    pub minimum_fee: u64,
    /// The last block's version.
    pub block_version: u32,
    /// Outputs in the ledger.
    pub cumulative_txo_count: u64,
}

/// Asks one node for its last block, within `timeout` (connect included). The URI's TLS
/// settings (`ca-bundle`, `tls-hostname`) apply; call
/// [`mcnode_peers::tls::install_crypto_provider`] first.
pub async fn last_block_info(uri: &NodeUri, timeout: Duration) -> anyhow::Result<BlockInfo> {
    let options = ConnectOptions {
        connect_timeout: timeout,
        request_timeout: timeout,
        ..ConnectOptions::default()
    };
    let call = async {
        let node = NodeClient::connect_uri(uri.clone(), options).await?;
        anyhow::Ok(node.last_block_info().await?)
    };
    let tip = tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {timeout:?}"))??;
    Ok(BlockInfo {
        height: tip.height(),
        last_block_id: hex::encode(tip.block_id.0),
        minimum_fee: tip.minimum_fee,
        block_version: tip.block_version,
        cumulative_txo_count: tip.cumulative_txo_count,
    })
}

/// Asks every target at once; results in target order.
async fn poll(targets: &[Target]) -> Vec<Result<BlockInfo, String>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let uri = t.uri.clone();
        set.spawn(async move { (i, last_block_info(&uri, REQUEST_TIMEOUT).await) });
    }
    let mut out: Vec<Result<BlockInfo, String>> = vec![Err("not asked".to_string()); targets.len()];
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            out[i] = r.map_err(|e| short_error(&e));
        }
    }
    out
}

/// An error in one line without transport layers repeating each other: the outermost
/// message when it is ours, else the root cause ("Connection refused", "invalid peer
/// certificate: UnknownIssuer", a gRPC status).
fn short_error(e: &anyhow::Error) -> String {
    let root = e.root_cause().to_string();
    let top = e.to_string();
    if top == root || top.contains(&root) {
        top
    } else {
        root
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tls::install_crypto_provider();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn node_json(t: &Target, r: &Result<BlockInfo, String>) -> Value {
    match r {
        Ok(b) => json!({
            "name": t.name,
            "uri": t.uri_text,
            "reachable": true,
            "height": b.height,
            "last_block_index": b.height - 1,
            "last_block_id": b.last_block_id,
            "minimum_fee": b.minimum_fee,
            "block_version": b.block_version,
            "cumulative_txo_count": b.cumulative_txo_count,
        }),
        Err(e) => json!({
            "name": t.name,
            "uri": t.uri_text,
            "reachable": false,
            "error": e,
        }),
    }
}

/// Runs `mcnode status`: one JSON object, every node reachable or not. Exits 0 whenever
/// it could ask (use `heights` to fail on unreachable nodes).
pub fn status(args: StatusArgs) -> anyhow::Result<()> {
    let targets = args.nodes.targets()?;
    let results = runtime()?.block_on(poll(&targets));
    let nodes: Vec<Value> = targets
        .iter()
        .zip(&results)
        .map(|(t, r)| node_json(t, r))
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "reachable": results.iter().filter(|r| r.is_ok()).count(),
            "nodes": nodes,
        }))?
    );
    Ok(())
}

/// What a round of answers says about agreement.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Every node at one height with one block id.
    Agree,
    /// Two nodes at one height with different ids: a fork, not transient.
    Fork(String),
    /// Unreachable nodes or different heights: may pass.
    Pending(String),
}

fn judge(targets: &[Target], results: &[Result<BlockInfo, String>]) -> Verdict {
    let mut by_height: std::collections::BTreeMap<u64, (&str, &str)> = Default::default();
    let mut problems = Vec::new();
    for (t, r) in targets.iter().zip(results) {
        match r {
            Err(e) => problems.push(format!("{} is unreachable ({e})", t.name)),
            Ok(b) => match by_height.get(&b.height) {
                Some((other, id)) if *id != b.last_block_id => {
                    return Verdict::Fork(format!(
                        "{other} and {} disagree at height {}: block ids {id} and {}",
                        t.name, b.height, b.last_block_id
                    ))
                }
                Some(_) => {}
                None => {
                    by_height.insert(b.height, (&t.name, &b.last_block_id));
                }
            },
        }
    }
    if by_height.len() > 1 {
        let heights: Vec<String> = targets
            .iter()
            .zip(results)
            .filter_map(|(t, r)| r.as_ref().ok().map(|b| format!("{} {}", t.name, b.height)))
            .collect();
        problems.push(format!("heights differ: {}", heights.join(", ")));
    }
    if problems.is_empty() {
        Verdict::Agree
    } else {
        Verdict::Pending(problems.join("; "))
    }
}

fn heights_table(targets: &[Target], results: &[Result<BlockInfo, String>]) -> String {
    let width = targets
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = format!("{:width$}  {:>8}  last block id\n", "node", "height");
    for (t, r) in targets.iter().zip(results) {
        match r {
            Ok(b) => s.push_str(&format!(
                "{:width$}  {:>8}  {}\n",
                t.name, b.height, b.last_block_id
            )),
            Err(e) => s.push_str(&format!("{:width$}  {:>8}  {e}\n", t.name, "-")),
        }
    }
    s
}

/// Runs `mcnode heights`: every node's height and last block id; exits 1 when a node
/// is unreachable or they disagree after `--settle`.
pub fn heights(args: HeightsArgs) -> anyhow::Result<()> {
    if !(args.settle.is_finite() && args.settle >= 0.0) {
        anyhow::bail!("--settle must be a number of seconds, 0 or more");
    }
    let targets = args.nodes.targets()?;
    let deadline = Instant::now() + Duration::from_secs_f64(args.settle);
    let rt = runtime()?;
    let (results, verdict) = loop {
        let results = rt.block_on(poll(&targets));
        let verdict = judge(&targets, &results);
        if matches!(verdict, Verdict::Pending(_)) && Instant::now() < deadline {
            std::thread::sleep(POLL_INTERVAL);
            continue;
        }
        break (results, verdict);
    };
    let agreed = results.first().and_then(|r| r.as_ref().ok());
    let agree = verdict == Verdict::Agree;
    let nodes: Vec<Value> = targets
        .iter()
        .zip(&results)
        .map(|(t, r)| match r {
            Ok(b) => json!({
                "name": t.name,
                "reachable": true,
                "height": b.height,
                "last_block_id": b.last_block_id,
            }),
            Err(e) => json!({ "name": t.name, "reachable": false, "error": e }),
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "agree": agree,
            "height": agreed.filter(|_| agree).map(|b| b.height),
            "last_block_id": agreed.filter(|_| agree).map(|b| &b.last_block_id),
            "nodes": nodes,
        }))?
    );
    eprint!("{}", heights_table(&targets, &results));
    match verdict {
        Verdict::Agree => Ok(()),
        Verdict::Fork(why) => anyhow::bail!("fork: {why}"),
        Verdict::Pending(why) => {
            anyhow::bail!(
                "nodes did not agree within --settle {}s: {why}",
                args.settle
            )
        }
    }
}

/// Runs `mcnode wait-for-block`: returns once every node has at least `--height` blocks;
/// exits 1 naming the laggards after `--timeout`.
pub fn wait_for_block(args: WaitForBlockArgs) -> anyhow::Result<()> {
    if !(args.timeout.is_finite() && args.timeout >= 0.0) {
        anyhow::bail!("--timeout must be a number of seconds, 0 or more");
    }
    if args.height == 0 {
        anyhow::bail!("--height must be at least 1 (the origin block is height 1)");
    }
    let targets = args.nodes.targets()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.timeout);
    let rt = runtime()?;
    loop {
        let results = rt.block_on(poll(&targets));
        let behind: Vec<String> = targets
            .iter()
            .zip(&results)
            .filter_map(|(t, r)| match r {
                Ok(b) if b.height >= args.height => None,
                Ok(b) => Some(format!("{} at height {}", t.name, b.height)),
                Err(e) => Some(format!("{} unreachable ({e})", t.name)),
            })
            .collect();
        if behind.is_empty() {
            let nodes: Vec<Value> = targets
                .iter()
                .zip(&results)
                .map(|(t, r)| node_json(t, r))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "height": args.height,
                    "waited_seconds": started.elapsed().as_secs_f64(),
                    "nodes": nodes,
                }))?
            );
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "timed out after {}s waiting for height {}: {}",
                args.timeout,
                args.height,
                behind.join(", ")
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn target(name: &str) -> Target {
        Target {
            name: name.into(),
            uri_text: "insecure-mc://127.0.0.1:1/".into(),
            uri: NodeUri::parse("insecure-mc://127.0.0.1:1/", Service::Client).unwrap(),
        }
    }

    fn at(height: u64, id: &str) -> Result<BlockInfo, String> {
        Ok(BlockInfo {
            height,
            last_block_id: id.into(),
            minimum_fee: 1,
            block_version: 1,
            cumulative_txo_count: 1,
        })
    }

    #[test]
    fn judge_tells_agreement_lag_and_forks_apart() {
        let t = [target("a"), target("b"), target("c")];
        assert_eq!(
            judge(&t, &[at(2, "x"), at(2, "x"), at(2, "x")]),
            Verdict::Agree
        );
        assert!(matches!(
            judge(&t, &[at(2, "x"), at(3, "y"), at(2, "x")]),
            Verdict::Pending(w) if w.contains("heights differ")
        ));
        assert!(matches!(
            judge(&t, &[at(2, "x"), Err("refused".into()), at(2, "x")]),
            Verdict::Pending(w) if w.contains("b is unreachable")
        ));
        assert!(matches!(
            judge(&t, &[at(2, "x"), at(3, "y"), at(2, "z")]),
            Verdict::Fork(w) if w.contains("a and c disagree at height 2")
        ));
    }
}
