//! `mcnode quorum check`: the quorum analysis of `mcnode-quorum` over configuration files
//! and the quorum sets nodes published in signed block metadata (read from ledgers, from
//! running nodes, or from archives).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;
use mcnode_archive::{ArchiveMetrics, ArchiveReader, ArchiveStore};
use mcnode_crypto::Ed25519Public;
use mcnode_ledger::{Ledger, LmdbLedger};
use mcnode_peers::{NetworkConfig, NetworkError, NetworkFormat, NodeUri, ResponderId, Service};
use mcnode_quorum::{compare, Analysis, Federation, Options};
use mcnode_scp::NodeId;
use mcnode_wallet::{ConnectOptions, NodeClient};
use serde_json::{json, Value};

use crate::localnet::Manifest;

/// `mcnode quorum` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum QuorumCommand {
    /// Whether all quorums intersect, the minimal blocking sets (liveness) and splitting
    /// sets (safety) by node name, and what a proposed network.toml would change. Exits 1
    /// when quorums do not intersect or the proposal makes the network less safe or live.
    Check(CheckArgs),
}

/// Arguments of `mcnode quorum check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A node's network.toml (or network.json), as `[ID=]PATH`: ID is the node's peer
    /// responder id; without it, the node is the one quorum member the file has no key
    /// for (a node lists itself). A directory stands for every *.toml and *.json in it.
    /// Repeat for several nodes.
    #[arg(long = "network", value_name = "[ID=]PATH")]
    networks: Vec<String>,
    /// A localnet directory: every node's network.toml, and its client URI as with
    /// --node-uri.
    #[arg(long, env = "MC_LOCALNET_DIR")]
    dir: Option<PathBuf>,
    /// A ledger directory: the quorum sets in the metadata of its last --scan-blocks
    /// blocks.
    #[arg(long = "ledger", value_name = "PATH")]
    ledgers: Vec<PathBuf>,
    /// A node's client URI: the quorum sets in the metadata of its last --scan-blocks
    /// blocks (BlockchainApi.GetBlockData).
    #[arg(long = "node-uri", value_name = "URI")]
    node_uris: Vec<String>,
    /// An archive (s3://, file://, https://): the metadata of its last --scan-blocks
    /// blocks.
    #[arg(long = "archive", value_name = "URL")]
    archives: Vec<String>,
    /// How many of the newest blocks to read from each ledger, node or archive.
    #[arg(long, env = "MC_QUORUM_SCAN_BLOCKS", default_value_t = 100)]
    scan_blocks: u64,
    /// A proposed network.toml for one node, `[ID=]PATH`: the report says what changes if
    /// it replaces that node's current one.
    #[arg(long, value_name = "[ID=]PATH")]
    proposed: Option<String>,
    /// Skip the minimal splitting sets (the costliest analysis on a large top tier).
    #[arg(long)]
    no_splitting_sets: bool,
    /// Also list the minimal quorums.
    #[arg(long)]
    minimal_quorums: bool,
    /// Look for splitting sets among all nodes, not only the core (the nodes that hold
    /// every quorum); slower with many leaf nodes.
    #[arg(long)]
    all_nodes_splitting: bool,
}

/// One network file, read and checked, and whose it is.
pub(crate) struct NetworkFile {
    pub(crate) owner: ResponderId,
    pub(crate) path: PathBuf,
    pub(crate) config: NetworkConfig,
}

pub(crate) fn read_network(spec: &str) -> anyhow::Result<Vec<NetworkFile>> {
    let (owner, path) = match spec.split_once('=') {
        Some((id, path)) if !id.contains('/') => (Some(id.to_string()), PathBuf::from(path)),
        _ => (None, PathBuf::from(spec)),
    };
    if path.is_dir() {
        if owner.is_some() {
            anyhow::bail!("--network {spec}: a directory cannot have one ID");
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
            .with_context(|| format!("cannot read the directory {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("toml" | "json")
                )
            })
            .collect();
        files.sort();
        if files.is_empty() {
            anyhow::bail!("{}: no *.toml or *.json file", path.display());
        }
        return files
            .iter()
            .map(|f| read_one(None, f))
            .collect::<anyhow::Result<Vec<_>>>();
    }
    Ok(vec![read_one(owner, &path)?])
}

fn read_one(owner: Option<String>, path: &Path) -> anyhow::Result<NetworkFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let format = NetworkFormat::from_path(path);
    let owner: ResponderId = match owner {
        Some(id) => id
            .parse()
            .map_err(|e| anyhow::anyhow!("{id:?} is not a responder id (host:port): {e}"))?,
        None => infer_owner(&text, format)
            .with_context(|| format!("{}: whose network file is it?", path.display()))?,
    };
    let config = NetworkConfig::parse_as(&text, format, &owner)
        .with_context(|| format!("{} (node {owner})", path.display()))?;
    Ok(NetworkFile {
        owner,
        path: path.to_path_buf(),
        config,
    })
}

/// The node a network file belongs to: the quorum member that no peer entry gives a key
/// (a node does not list itself among its peers, and lists itself in its quorum set).
fn infer_owner(text: &str, format: NetworkFormat) -> anyhow::Result<ResponderId> {
    let nobody: ResponderId = "owner.invalid:1"
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match NetworkConfig::parse_as(text, format, &nobody) {
        Err(NetworkError::UnresolvableQuorumMember { member, .. }) => {
            let me: ResponderId = member
                .parse()
                .map_err(|e| anyhow::anyhow!("{member}: {e}"))?;
            // With that node as the owner, every other member must resolve.
            NetworkConfig::parse_as(text, format, &me).with_context(|| {
                format!("taking {me} (the member without a key) as the owner")
            })?;
            Ok(me)
        }
        Ok(_) => anyhow::bail!(
            "every quorum member is a peer, so the file does not say which node it is; write --network ID=PATH"
        ),
        Err(e) => Err(e.into()),
    }
}

fn split_spec(spec: &str) -> (Option<String>, &str) {
    match spec.split_once('=') {
        Some((id, path)) if !id.contains('/') => (Some(id.to_string()), path),
        _ => (None, spec),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    mcnode_peers::tls::install_crypto_provider();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A source of block metadata and what it gave.
struct Scan {
    from: String,
    taken: usize,
    refused: Vec<String>,
    error: Option<String>,
}

fn take_metadata(
    federation: &mut Federation,
    keys: &BTreeMap<String, Ed25519Public>,
    from: &str,
    blocks: impl IntoIterator<Item = (u64, Option<mcnode_blockchain::BlockMetadata>)>,
    scan: &mut Scan,
) {
    for (index, metadata) in blocks {
        let Some(m) = metadata else { continue };
        let expected = keys.get(&m.contents.responder_id);
        match federation.add_metadata(&m, index, expected, from) {
            Ok(_) => scan.taken += 1,
            Err(e) => scan.refused.push(e.to_string()),
        }
    }
}

fn scan_ledger(
    path: &Path,
    n: u64,
) -> anyhow::Result<Vec<(u64, Option<mcnode_blockchain::BlockMetadata>)>> {
    let ledger = LmdbLedger::open(path)
        .with_context(|| format!("cannot open the ledger {}", path.display()))?;
    let height = ledger.num_blocks()?;
    (height.saturating_sub(n)..height)
        .map(|i| Ok((i, ledger.block_metadata(i)?)))
        .collect()
}

async fn scan_node(
    uri: &str,
    n: u64,
) -> anyhow::Result<Vec<(u64, Option<mcnode_blockchain::BlockMetadata>)>> {
    let uri = NodeUri::parse(uri, Service::Client).with_context(|| format!("--node-uri {uri}"))?;
    let options = ConnectOptions {
        connect_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(10),
        ..ConnectOptions::default()
    };
    let node = NodeClient::connect_uri(uri, options).await?;
    let height = node.last_block_info().await?.height();
    let mut out = Vec::new();
    let mut at = height.saturating_sub(n);
    while at < height {
        let limit = (height - at).min(100) as u32;
        let blocks = node.block_data(at, limit).await?;
        if blocks.is_empty() {
            break;
        }
        for b in blocks {
            out.push((at, b.metadata));
            at += 1;
        }
    }
    Ok(out)
}

async fn scan_archive(
    url: &str,
    n: u64,
) -> anyhow::Result<Vec<(u64, Option<mcnode_blockchain::BlockMetadata>)>> {
    mcnode_archive::install_crypto_provider();
    let parsed: mcnode_archive::ArchiveUrl = url.parse()?;
    let store = mcnode_archive::AnyStore::open(&parsed, &mcnode_archive::S3Config::from_env())?;
    store.probe(false).await?;
    let reader = ArchiveReader::new(store, &[], ArchiveMetrics::default());
    let height = reader
        .height(mcnode_archive::writer::MAX_IN_FLIGHT as u64)
        .await?;
    let mut out = Vec::new();
    for i in height.saturating_sub(n)..height {
        if let Some(b) = reader.fetch_block(i).await? {
            out.push((i, b.metadata));
        }
    }
    Ok(out)
}

fn options(args: &CheckArgs) -> Options {
    Options {
        splitting_sets: !args.no_splitting_sets,
        minimal_quorums: args.minimal_quorums,
        core_only_splitting: !args.all_nodes_splitting,
        ..Options::default()
    }
}

fn timed(f: &Federation, o: &Options) -> anyhow::Result<(Analysis, f64)> {
    let started = Instant::now();
    let a = f.analyze(o)?;
    Ok((a, started.elapsed().as_secs_f64() * 1000.0))
}

fn set_text(set: &[String]) -> String {
    format!("{{{}}}", set.join(", "))
}

fn sets_line(what: &str, sets: &Option<Vec<Vec<String>>>) -> String {
    match sets {
        None => format!("{what}: not computed\n"),
        Some(s) if s.is_empty() => format!("{what}: none\n"),
        Some(s) if s.iter().any(Vec::is_empty) => {
            format!("{what}: the empty set, no node needs to fail or lie\n")
        }
        Some(s) => {
            let smallest = s.iter().map(Vec::len).min().unwrap_or(0);
            let examples: Vec<String> = s
                .iter()
                .filter(|x| x.len() == smallest)
                .take(3)
                .map(|x| set_text(x))
                .collect();
            format!(
                "{what}: {} sets, the smallest {smallest} node(s), e.g. {}\n",
                s.len(),
                examples.join(" ")
            )
        }
    }
}

/// The human summary printed on stderr.
pub fn summary(a: &Analysis, ms: f64) -> String {
    let mut s = format!(
        "{} nodes analysed ({} configured, {} from block metadata)\n",
        a.nodes.len(),
        a.sources
            .values()
            .filter(|s| matches!(s, mcnode_quorum::Source::Configured { .. }))
            .count(),
        a.sources
            .values()
            .filter(|s| matches!(s, mcnode_quorum::Source::Published { .. }))
            .count(),
    );
    if !a.unknown.is_empty() {
        s.push_str(&format!(
            "quorum set unknown (never in a quorum here): {}\n",
            a.unknown.join(", ")
        ));
    }
    if !a.unsatisfiable.is_empty() {
        s.push_str(&format!(
            "never in any quorum: {}\n",
            a.unsatisfiable.join(", ")
        ));
    }
    if !a.published_differs.is_empty() {
        s.push_str(&format!(
            "running another quorum set than their file: {}\n",
            a.published_differs.join(", ")
        ));
    }
    match &a.disjoint_quorums {
        None if !a.has_quorum => s.push_str(
            "no quorum exists among these quorum sets: no node can externalize anything\n",
        ),
        None if a.quorum_intersection => s.push_str("quorum intersection: yes\n"),
        Some([x, y]) => s.push_str(&format!(
            "quorum intersection: NO, the network can split: {} and {} are quorums without a common node\n",
            set_text(x),
            set_text(y)
        )),
        None => s.push_str("quorum intersection: NO\n"),
    }
    s.push_str(&format!("top tier: {}\n", a.top_tier.join(", ")));
    s.push_str(&sets_line(
        "minimal blocking sets (these failing halt the network)",
        &a.minimal_blocking_sets,
    ));
    s.push_str(&sets_line(
        "minimal splitting sets (these lying can split the network)",
        &a.minimal_splitting_sets,
    ));
    for l in &a.local {
        s.push_str(&format!(
            "{}: blocked by {} failure(s) among its quorum set, e.g. {}\n",
            l.node,
            l.blocking_distance,
            l.minimal_v_blocking_sets
                .first()
                .map_or("-".into(), |x| set_text(x))
        ));
    }
    s.push_str(&format!("analysis took {ms:.1} ms\n"));
    s
}

/// Runs `mcnode quorum ...`.
pub fn run(cmd: QuorumCommand) -> anyhow::Result<()> {
    match cmd {
        QuorumCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for spec in &args.networks {
        files.extend(read_network(spec)?);
    }
    let mut node_uris = args.node_uris.clone();
    if let Some(dir) = &args.dir {
        let manifest = Manifest::load(dir)?;
        for n in &manifest.nodes {
            let path = n.dir.join("network.toml");
            files.push(read_one(Some(n.peer_responder_id.clone()), &path)?);
            node_uris.push(n.client_uri.clone());
        }
    }
    if files.is_empty()
        && args.ledgers.is_empty()
        && node_uris.is_empty()
        && args.archives.is_empty()
    {
        anyhow::bail!(
            "nothing to analyse: give --network files, --dir, --ledger, --node-uri or --archive"
        );
    }

    let mut federation = Federation::new();
    // Each node's key as the files give it, to check who signed its metadata.
    let mut keys: BTreeMap<String, Ed25519Public> = BTreeMap::new();
    for f in &files {
        for p in f.config.peers.values() {
            if let Some(old) = keys.insert(p.responder_id.to_string(), p.msg_key) {
                if old != p.msg_key {
                    anyhow::bail!(
                        "{}: gives {} another consensus-msg-key than an earlier file",
                        f.path.display(),
                        p.responder_id
                    );
                }
            }
        }
        let id = NodeId::new(f.owner.to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
        if federation.get(&id).is_some_and(|e| e.configured.is_some()) {
            anyhow::bail!("two network files for {}", f.owner);
        }
        federation.configure(
            id,
            f.config.quorum_set.clone(),
            f.path.display().to_string(),
        );
    }

    let mut scans = Vec::new();
    for path in &args.ledgers {
        let from = format!("ledger {}", path.display());
        let mut scan = Scan {
            from: from.clone(),
            taken: 0,
            refused: Vec::new(),
            error: None,
        };
        match scan_ledger(path, args.scan_blocks) {
            Ok(blocks) => take_metadata(&mut federation, &keys, &from, blocks, &mut scan),
            Err(e) => scan.error = Some(format!("{e:#}")),
        }
        scans.push(scan);
    }
    if !node_uris.is_empty() || !args.archives.is_empty() {
        let rt = runtime()?;
        for uri in &node_uris {
            let from = format!("node {uri}");
            let mut scan = Scan {
                from: from.clone(),
                taken: 0,
                refused: Vec::new(),
                error: None,
            };
            match rt.block_on(scan_node(uri, args.scan_blocks)) {
                Ok(blocks) => take_metadata(&mut federation, &keys, &from, blocks, &mut scan),
                Err(e) => scan.error = Some(format!("{e:#}")),
            }
            scans.push(scan);
        }
        for url in &args.archives {
            let from = format!("archive {url}");
            let mut scan = Scan {
                from: from.clone(),
                taken: 0,
                refused: Vec::new(),
                error: None,
            };
            match rt.block_on(scan_archive(url, args.scan_blocks)) {
                Ok(blocks) => take_metadata(&mut federation, &keys, &from, blocks, &mut scan),
                Err(e) => scan.error = Some(format!("{e:#}")),
            }
            scans.push(scan);
        }
    }

    let options = options(&args);
    let (current, ms) = timed(&federation, &options)?;
    let mut ok = current.quorum_intersection && current.has_quorum;
    let mut out = json!({
        "analysis": current,
        "analysis_ms": ms,
        "sources": scans.iter().map(|s| json!({
            "from": s.from,
            "metadata_taken": s.taken,
            "refused": s.refused,
            "error": s.error,
        })).collect::<Vec<Value>>(),
    });
    let mut text = summary(&current, ms);
    for s in &scans {
        if let Some(e) = &s.error {
            text.push_str(&format!("warning: {}: {e}\n", s.from));
        }
        for r in &s.refused {
            text.push_str(&format!("warning: {}: refused: {r}\n", s.from));
        }
    }

    if let Some(spec) = &args.proposed {
        let (owner, _) = split_spec(spec);
        let file = read_network(spec)?.pop().context("--proposed: no file")?;
        let owner = owner.unwrap_or_else(|| file.owner.to_string());
        let id = NodeId::new(owner.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
        if federation.get(&id).is_none() {
            anyhow::bail!(
                "--proposed {spec}: the federation has no quorum set for {owner} to replace; give its current network.toml or where it publishes"
            );
        }
        let next = federation.with_proposed(&id, file.config.quorum_set.clone(), spec.clone());
        let (after, ms_after) = timed(&next, &options)?;
        let change = compare(&current, &after);
        text.push_str(&format!("\nif {owner} used {}:\n", file.path.display()));
        if change.is_safe() {
            text.push_str("  nothing gets worse\n");
        }
        for w in &change.worse {
            text.push_str(&format!("  worse: {w}\n"));
        }
        for (label, sets) in [
            ("new minimal blocking sets", &change.blocking_sets.added),
            ("new minimal splitting sets", &change.splitting_sets.added),
        ] {
            if !sets.is_empty() {
                let shown: Vec<String> = sets.iter().take(5).map(|s| set_text(s)).collect();
                text.push_str(&format!("  {label}: {}\n", shown.join(" ")));
            }
        }
        ok &= change.is_safe();
        out["proposed"] = json!({
            "node": owner,
            "file": file.path.display().to_string(),
            "analysis": after,
            "analysis_ms": ms_after,
            "change": change,
        });
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    eprint!("{text}");
    if !ok {
        if !current.has_quorum {
            if current.unknown.is_empty() {
                anyhow::bail!("no quorum exists: the network cannot make progress");
            }
            anyhow::bail!(
                "no quorum exists among the known quorum sets; {} unknown: give their network.toml, or a ledger, node or archive where they publish",
                current.unknown.join(", ")
            );
        }
        if !current.quorum_intersection {
            anyhow::bail!("quorums do not intersect: the network can split");
        }
        anyhow::bail!("the proposed configuration makes the network less safe or less live");
    }
    Ok(())
}
