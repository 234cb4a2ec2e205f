//! `mcnode localnet`: a whole network of nodes on loopback, from one command.
//!
//! The first start in a directory writes everything the nodes need ([`generate`]): a
//! localnet CA (`tls/ca.pem`) and per node a TLS certificate for `localhost` and
//! `127.0.0.1` signed by it, a message-signer key, a `network.toml` (every other node a
//! broadcast peer and an archive to catch up from; a quorum set of every node, this one
//! included, with the threshold), an origin ledger paying sample accounts
//! (`origin/ledger`, `wallets/account_keys_<i>.json`), and the manifest `localnet.json`
//! ([`Manifest`], format version 1) that every other tool (`status`, `heights`,
//! `wait-for-block`, the wallet) reads given `--dir`. Later starts reuse all of it.
//!
//! Then it runs, per node, `consensus-service` and (once the node answers on its client
//! port) `ledger-distribution` publishing to `nodeI/archive`, as child processes with
//! their output appended to `nodeI/<binary>.log` (module [`run`]). SIGINT or SIGTERM
//! stops them all (SIGTERM, then SIGKILL after 10 s).
//!
//! Layout of `DIR`:
//!
//! ```text
//! localnet.json            the manifest
//! chain.json               the chain settings every node runs with (block version, ...)
//! tls/ca.pem               the CA every node's certificate is signed by
//! origin/ledger/           the origin ledger (--origin-block-path)
//! wallets/account_keys_<i>.json, .pub
//! node<i>/tls.crt, tls.key, msg-signer-key, network.toml
//! node<i>/ledger/          the node's ledger (copied from the origin on first start)
//! node<i>/archive/         what ledger-distribution publishes (the others' tx_source_urls)
//! node<i>/consensus-service.log, ledger-distribution.log, ledger-distribution.state
//! node<i>/sealed-block-signing-key, host-secret   (made by consensus-service)
//! ```

pub mod chain;
mod docker;
mod run;

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
};

use anyhow::Context;
use mcnode_crypto::Ed25519Signer;
use mcnode_peers::{NetworkConfig, ResponderId};
use mcnode_transaction::constants::DEFAULT_MINIMUM_FEE;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::json;

use crate::{keys, ledger_cmd};

pub use mcnode_wallet::localnet::{Manifest, ManifestNode, MANIFEST_FILE, MANIFEST_VERSION};
/// Outputs each sample account gets in the origin block.
const OUTPUTS_EACH: usize = 64;
/// Value of each origin output: a million minimum fees.
const ORIGIN_AMOUNT: u64 = 1_000_000 * DEFAULT_MINIMUM_FEE;
/// Ports per node: client `base + STRIDE * i`, peer `+ 1`, admin `+ 2`.
const PORT_STRIDE: u16 = 10;
/// Ports each node uses (see `--base-port`).
const PORTS_PER_NODE: usize = 6;
/// The host every localnet process listens on.
const HOST: &str = "127.0.0.1";
/// The name the nodes' certificates are for (and clients verify).
const TLS_NAME: &str = "localhost";

/// Arguments of `mcnode localnet`.
#[derive(Debug, clap::Args)]
pub struct LocalnetArgs {
    /// The localnet directory: created and filled on the first start, reused after.
    #[arg(long, env = "MC_LOCALNET_DIR")]
    dir: PathBuf,
    /// Number of nodes (first start; default 4). Must match the manifest afterwards.
    #[arg(long, env = "MC_LOCALNET_NODES")]
    nodes: Option<usize>,
    /// Quorum threshold, counting the node itself (first start; default
    /// `N - (N-1)/3`, 3 of 4). Must match afterwards.
    #[arg(long, env = "MC_LOCALNET_THRESHOLD")]
    threshold: Option<u32>,
    /// First port (first start; default 3200): node `i` listens on `P+10i` (client),
    /// `P+10i+1` (peer), `P+10i+2` (admin gRPC), `P+10i+3` (admin panel and metrics),
    /// `P+10i+4` (metrics) and `P+10i+5` (ledger-distribution metrics). `0` picks free
    /// ports. Must match afterwards
    /// (`0` always does).
    #[arg(long, env = "MC_LOCALNET_BASE_PORT")]
    base_port: Option<u16>,
    /// Sample accounts paid by the origin block (first start only), each with 64 outputs
    /// of a million minimum fees.
    #[arg(long, env = "MC_LOCALNET_ACCOUNTS", default_value_t = 8)]
    accounts: usize,
    /// Seconds to wait for every node to answer on its client port.
    #[arg(long, env = "MC_LOCALNET_READY_TIMEOUT", default_value_t = 60)]
    ready_timeout: u64,
    /// The block version every node writes (first start: default 1, and the origin
    /// block's version). On a later start, a higher version upgrades the localnet (its
    /// flag day: `chain.json` is rewritten and every node restarts at it); a lower one is
    /// refused.
    #[arg(long, env = "MC_LOCALNET_BLOCK_VERSION")]
    block_version: Option<mcnode_transaction::BlockVersion>,
    /// Write (or check) the files and print the summary, without starting anything.
    #[arg(long)]
    generate_only: bool,
    /// Do not restart a process that dies (only report it): for harnesses that stop and
    /// start the nodes themselves.
    #[arg(long)]
    no_restart: bool,
    /// Write the configuration of the 4-node Docker network of `docker/compose.yml`
    /// instead (host names node0..node3, S3 archives), and start nothing.
    #[arg(long)]
    docker: bool,
}

/// The files of node `i` under a localnet directory.
fn node_dir(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("node{i}"))
}

/// Percent-encodes a URI query value, keeping path characters readable.
fn query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~:@,!$'()*;".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A TOML basic string (JSON's escapes are a subset of TOML's).
fn toml_string(s: &str) -> anyhow::Result<String> {
    Ok(serde_json::to_string(s)?)
}

/// The default threshold for `n` nodes: the largest that leaves `(n-1)/3` nodes free to
/// fail (3 of 4, 5 of 7).
fn default_threshold(n: usize) -> u32 {
    (n - (n - 1) / 3) as u32
}

/// Picks `count` distinct free ports on loopback: binds them all at once, notes them and
/// lets them go. They are drawn below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`), because a port the kernel hands out for
/// outgoing connections can be taken by one between now and the node's start (another
/// process connecting anywhere), while ports below that range are only ever taken by a
/// listener. Falls back to kernel-chosen ports when nothing below the range is free.
fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let low = ephemeral_low().unwrap_or(32_768);
    if low > FIRST_QUIET_PORT {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        for _ in 0..64 {
            let mut listeners = Vec::with_capacity(count);
            let mut used = std::collections::BTreeSet::new();
            while listeners.len() < count && used.len() < count * 4 {
                let port = rng.gen_range(FIRST_QUIET_PORT..low);
                if !used.insert(port) {
                    continue;
                }
                if let Ok(l) = TcpListener::bind((HOST, port)) {
                    listeners.push(l);
                }
            }
            if listeners.len() == count {
                return listeners
                    .iter()
                    .map(|l| Ok(l.local_addr()?.port()))
                    .collect();
            }
        }
    }
    let listeners = (0..count)
        .map(|_| TcpListener::bind((HOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .context("cannot bind an ephemeral port on 127.0.0.1")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// The lowest port free ports are drawn from (below it: well-known and common services).
const FIRST_QUIET_PORT: u16 = 10_000;

/// The first port of the kernel's ephemeral range, if this system says.
fn ephemeral_low() -> Option<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
}

/// The localnet CA and a way to sign node certificates with it.
struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl Ca {
    fn new() -> anyhow::Result<Self> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mcnode localnet CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// A certificate for `localhost` and `127.0.0.1` and its key, both PEM.
    fn node_cert(&self, name: &str) -> anyhow::Result<(String, String)> {
        let mut params =
            rcgen::CertificateParams::new(vec![TLS_NAME.to_string(), HOST.to_string()])?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("mcnode localnet {name}"));
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = rcgen::KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// What the nodes of a localnet are, before anything is written.
struct Plan {
    dir: PathBuf,
    ca_path: PathBuf,
    threshold: u32,
    /// Per node: client, peer, admin, panel, metrics and distribution metrics ports.
    ports: Vec<[u16; PORTS_PER_NODE]>,
    /// Per node: the message-signer key.
    signers: Vec<Ed25519Signer>,
}

impl Plan {
    fn peer_responder_id(&self, i: usize) -> String {
        format!("{HOST}:{}", self.ports[i][1])
    }

    fn peer_uri(&self, i: usize) -> String {
        format!(
            "mcp://{}/?consensus-msg-key={}&ca-bundle={}&tls-hostname={TLS_NAME}",
            self.peer_responder_id(i),
            self.signers[i].public().to_base64url_der(),
            query_value(&self.ca_path.display().to_string()),
        )
    }

    fn client_uri(&self, i: usize) -> String {
        format!(
            "mc://{HOST}:{}/?ca-bundle={}&tls-hostname={TLS_NAME}",
            self.ports[i][0],
            query_value(&self.ca_path.display().to_string()),
        )
    }

    fn archive_url(&self, i: usize) -> anyhow::Result<url::Url> {
        let dir = node_dir(&self.dir, i).join("archive");
        url::Url::from_directory_path(&dir)
            .map_err(|()| anyhow::anyhow!("{} is not an absolute path", dir.display()))
    }

    fn manifest_node(&self, i: usize) -> anyhow::Result<ManifestNode> {
        let dir = node_dir(&self.dir, i);
        let archive = self.archive_url(i)?.to_string();
        Ok(ManifestNode {
            name: format!("node{i}"),
            peer_responder_id: self.peer_responder_id(i),
            client_responder_id: format!("{HOST}:{}", self.ports[i][0]),
            client_uri: self.client_uri(i),
            peer_uri: self.peer_uri(i),
            admin_uri: format!("insecure-mca://{HOST}:{}/", self.ports[i][2]),
            ledger_path: dir.join("ledger"),
            archive: archive.trim_end_matches('/').to_string(),
            dir,
            admin_http: Some(format!("{HOST}:{}", self.ports[i][3])),
            metrics_http: Some(format!("{HOST}:{}", self.ports[i][4])),
            distribution_metrics: Some(format!("{HOST}:{}", self.ports[i][5])),
        })
    }

    /// Node `i`'s `network.toml`: every other node a broadcast peer and an archive; the
    /// quorum set every node, this one included (as in `mcnode sim --topology
    /// mesh:N:T`), so `threshold` counts this node's own vote.
    fn network_toml(&self, i: usize) -> anyhow::Result<String> {
        let n = self.ports.len();
        let mut peers = String::new();
        let mut sources = String::new();
        for j in (0..n).filter(|j| *j != i) {
            peers.push_str(&format!("  {},\n", toml_string(&self.peer_uri(j))?));
            sources.push_str(&format!(
                "  {},\n",
                toml_string(self.archive_url(j)?.as_str())?
            ));
        }
        let mut members = String::new();
        for j in 0..n {
            members.push_str(&format!(
                "  {},\n",
                toml_string(&self.peer_responder_id(j))?
            ));
        }
        Ok(format!(
            "# network.toml of node{i} in the localnet at {dir}, written by `mcnode localnet`.\n\
             # Peers this node sends its consensus messages and transactions to.\n\
             broadcast_peers = [\n{peers}]\n\
             known_peers = []\n\
             # The other nodes' archives, to catch up from.\n\
             tx_source_urls = [\n{sources}]\n\
             \n\
             # Every node, this one included: {t} of {n} make a quorum.\n\
             [quorum_set]\n\
             threshold = {t}\n\
             members = [\n{members}]\n",
            dir = self.dir.display(),
            t = self.threshold,
        ))
    }
}

/// Writes a new localnet into `dir` (which must be empty or absent) and returns its
/// manifest. `base_port` 0 picks free ports.
pub fn generate(
    dir: &Path,
    nodes: usize,
    threshold: u32,
    base_port: u16,
    accounts: usize,
    block_version: mcnode_transaction::BlockVersion,
) -> anyhow::Result<Manifest> {
    if !(1..=64).contains(&nodes) {
        anyhow::bail!("--nodes must be in 1..=64, got {nodes}");
    }
    if threshold == 0 || threshold as usize > nodes {
        anyhow::bail!(
            "--threshold must be in 1..={nodes} (the node counts itself), got {threshold}"
        );
    }
    if accounts == 0 {
        anyhow::bail!("--accounts must be at least 1");
    }
    if 2 * threshold as usize <= nodes {
        eprintln!(
            "warning: threshold {threshold} of {nodes}: two quorums need not share a node, so \
             the network can fork; use more than {}",
            nodes / 2
        );
    }
    let ports: Vec<[u16; PORTS_PER_NODE]> = if base_port == 0 {
        free_ports(PORTS_PER_NODE * nodes)?
            .chunks(PORTS_PER_NODE)
            .map(|c| std::array::from_fn(|k| c[k]))
            .collect()
    } else {
        let last = u32::from(base_port)
            + u32::from(PORT_STRIDE) * (nodes as u32 - 1)
            + PORTS_PER_NODE as u32
            - 1;
        if last > u32::from(u16::MAX) {
            anyhow::bail!("--base-port {base_port} leaves no room for {nodes} nodes (the last port would be {last})");
        }
        (0..nodes as u16)
            .map(|i| {
                let p = base_port + PORT_STRIDE * i;
                std::array::from_fn(|k| p + k as u16)
            })
            .collect()
    };

    let dir = empty_dir(dir, MANIFEST_FILE)?;

    let mut rng = rand::rngs::OsRng;
    let plan = Plan {
        ca_path: dir.join("tls").join("ca.pem"),
        threshold,
        ports,
        signers: (0..nodes)
            .map(|_| Ed25519Signer::random(&mut rng))
            .collect(),
        dir: dir.clone(),
    };

    let ca = Ca::new().context("cannot make the localnet CA")?;
    fs::create_dir_all(dir.join("tls"))?;
    keys::write_public(&plan.ca_path, &ca.pem)?;
    let mut manifest_nodes = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let node = plan.manifest_node(i)?;
        fs::create_dir_all(&node.dir)
            .with_context(|| format!("cannot create {}", node.dir.display()))?;
        let (cert, key) = ca
            .node_cert(&node.name)
            .with_context(|| format!("cannot make {}'s certificate", node.name))?;
        keys::write_public(&node.file("tls.crt"), &cert)?;
        keys::write_secret(&node.file("tls.key"), &key)?;
        keys::write_secret(
            &node.file("msg-signer-key"),
            &format!("{}\n", plan.signers[i].to_base64_pkcs8()),
        )?;
        let toml = plan.network_toml(i)?;
        // What we write must be what the node accepts.
        let me: ResponderId = node.peer_responder_id.parse()?;
        NetworkConfig::parse(&toml, &me)
            .with_context(|| format!("generated an invalid network.toml for {}", node.name))?;
        keys::write_public(&node.file("network.toml"), &toml)?;
        manifest_nodes.push(node);
    }

    let origin = ledger_cmd::make_origin(
        ledger_cmd::OriginSpec {
            accounts,
            amount: ORIGIN_AMOUNT,
            outputs_each: OUTPUTS_EACH,
            schema: mcnode_ledger::CURRENT_SCHEMA_VERSION,
            block_version,
        },
        &dir.join("origin").join("ledger"),
        &dir.join("wallets"),
        &mut ChaCha20Rng::from_entropy(),
    )?;

    chain::save(
        &dir,
        &chain::ChainFile {
            block_version,
            ..chain::ChainFile::default()
        },
    )?;
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        nodes: manifest_nodes,
        wallets: origin.key_files,
    };
    manifest.save(&dir)?;
    Ok(manifest)
}

/// Checks that the flags given on a later start agree with the manifest.
fn check_reuse(dir: &Path, manifest: &Manifest, args: &LocalnetArgs) -> anyhow::Result<()> {
    let path = Manifest::path(dir);
    let n = manifest.nodes.len();
    if let Some(nodes) = args.nodes {
        if nodes != n {
            anyhow::bail!(
                "--nodes {nodes} contradicts {}, which has {n} nodes: drop --nodes, or use \
                 another --dir for a new localnet",
                path.display()
            );
        }
    }
    if let Some(base) = args.base_port.filter(|p| *p != 0) {
        for (i, node) in manifest.nodes.iter().enumerate() {
            let p = u32::from(base) + u32::from(PORT_STRIDE) * i as u32;
            let want = [p, p + 1, p + 2];
            let have = node.ports()?.map(u32::from);
            if have != want {
                anyhow::bail!(
                    "--base-port {base} contradicts {}: {} listens on {:?} (client, peer, \
                     admin), not {want:?}; drop --base-port, or use another --dir",
                    path.display(),
                    node.name,
                    have
                );
            }
        }
    }
    if let Some(t) = args.threshold {
        let node = &manifest.nodes[0];
        let config = load_network(node)?;
        if config.quorum_set.threshold != t {
            anyhow::bail!(
                "--threshold {t} contradicts {}, whose quorum threshold is {}: drop \
                 --threshold, or use another --dir",
                node.file("network.toml").display(),
                config.quorum_set.threshold
            );
        }
    }
    Ok(())
}

/// Reads and checks a node's `network.toml`.
fn load_network(node: &ManifestNode) -> anyhow::Result<NetworkConfig> {
    let path = node.file("network.toml");
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let me: ResponderId = node.peer_responder_id.parse()?;
    NetworkConfig::parse(&text, &me).with_context(|| format!("{}", path.display()))
}

/// The summary printed on start: the nodes, their logs, the wallets.
fn summary(dir: &Path, manifest: &Manifest) -> serde_json::Value {
    let nodes: Vec<_> = manifest
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name,
                "client_uri": n.client_uri,
                "peer_uri": n.peer_uri,
                "admin_uri": n.admin_uri,
                "ledger_path": n.ledger_path,
                "archive": n.archive,
                "panel": n.panel_url(),
                "metrics": n.metrics_urls(),
                "logs": {
                    "consensus-service": n.file(run::CONSENSUS_LOG),
                    "ledger-distribution": n.file(run::DISTRIBUTION_LOG),
                    "mc-admin-http-gateway": n.file(run::GATEWAY_LOG),
                },
            })
        })
        .collect();
    json!({
        "manifest": Manifest::path(dir),
        "nodes": nodes,
        "wallets": manifest.wallets,
    })
}

/// The file `DIR/prometheus.yml`: a Prometheus scrape configuration for this localnet's
/// gateways (metrics port) and `ledger-distribution`s, with the job names the Grafana
/// dashboard in `deploy/grafana` selects on.
pub const PROMETHEUS_FILE: &str = "prometheus.yml";

/// The scrape configuration for the given nodes' metrics addresses.
pub fn prometheus_config(manifest: &Manifest) -> String {
    let list = |addrs: Vec<&String>| {
        addrs
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let gateways = list(
        manifest
            .nodes
            .iter()
            .filter_map(|n| n.metrics_http.as_ref())
            .collect(),
    );
    let distribution = list(
        manifest
            .nodes
            .iter()
            .filter_map(|n| n.distribution_metrics.as_ref())
            .collect(),
    );
    format!(
        "# Written by `mcnode localnet`: prometheus --config.file=THIS_FILE\n\
         global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n\n\
         scrape_configs:\n\
         \x20 - job_name: mcnode-consensus\n\
         \x20   static_configs:\n\
         \x20     - targets: [{gateways}]\n\
         \x20 - job_name: mcnode-ledger-distribution\n\
         \x20   static_configs:\n\
         \x20     - targets: [{distribution}]\n"
    )
}

/// Runs `mcnode localnet`.
pub fn run(args: LocalnetArgs) -> anyhow::Result<()> {
    if args.docker {
        return docker::run(&args);
    }
    if docker::is_docker_dir(&args.dir) {
        anyhow::bail!(
            "{} holds a Docker localnet (made with --docker): start it with docker compose \
             (see its {}), or choose another --dir",
            args.dir.display(),
            docker::DOCKER_FILE
        );
    }
    let manifest_path = Manifest::path(&args.dir);
    let (dir, manifest) = if manifest_path.exists() {
        let dir = args
            .dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", args.dir.display()))?;
        let manifest = Manifest::load(&dir)?;
        check_reuse(&dir, &manifest, &args)?;
        chain::upgrade(&dir, args.block_version)?;
        (dir, manifest)
    } else {
        let nodes = args.nodes.unwrap_or(4);
        if nodes == 0 {
            anyhow::bail!("--nodes must be at least 1");
        }
        let threshold = args.threshold.unwrap_or_else(|| default_threshold(nodes));
        let manifest = generate(
            &args.dir,
            nodes,
            threshold,
            args.base_port.unwrap_or(3200),
            args.accounts,
            args.block_version.unwrap_or_default(),
        )?;
        let dir = args.dir.canonicalize()?;
        eprintln!(
            "localnet: wrote a new {nodes}-node localnet (threshold {threshold}) to {}",
            dir.display()
        );
        (dir, manifest)
    };
    for node in &manifest.nodes {
        load_network(node)?;
    }
    let prometheus = dir.join(PROMETHEUS_FILE);
    fs::write(&prometheus, prometheus_config(&manifest))
        .with_context(|| format!("cannot write {}", prometheus.display()))?;
    if args.generate_only {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary(&dir, &manifest))?
        );
        return Ok(());
    }
    run::supervise(
        &dir,
        &manifest,
        std::time::Duration::from_secs(args.ready_timeout),
        summary(&dir, &manifest),
        !args.no_restart,
    )
}

/// Creates `dir` if absent and returns its canonical path; refuses a directory that holds
/// anything (it is not a network of ours, since it has no `manifest`).
pub(crate) fn empty_dir(dir: &Path, manifest: &str) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    if fs::read_dir(&dir)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty but holds no {manifest} (an interrupted first start?); \
             remove it or choose another --dir",
            dir.display()
        );
    }
    Ok(dir)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_thresholds_tolerate_a_third() {
        let t: Vec<u32> = (1..=7).map(default_threshold).collect();
        assert_eq!(t, [1, 2, 3, 3, 4, 5, 5]);
    }

    #[test]
    fn query_values_round_trip_through_uri_parsing() {
        let path = "/tmp/a b+c&d=e%f/ca.pem";
        let uri = format!("mc://127.0.0.1:1/?ca-bundle={}", query_value(path));
        let parsed = mcnode_peers::NodeUri::parse(&uri, mcnode_peers::Service::Client).unwrap();
        assert_eq!(parsed.ca_bundle.unwrap(), PathBuf::from(path));
        assert_eq!(query_value("/abs/dir/ca.pem"), "/abs/dir/ca.pem");
    }
}
