//! `mcnode localnet --docker --dir DIR`: the configuration of the 4-node network in
//! `docker/compose.yml`, written instead of a loopback localnet. Nothing is started:
//! `docker compose -f docker/compose.yml up -d` does that (with `MCNODE_NET=DIR` unless
//! `DIR` is `docker/net`).
//!
//! Inside the compose network node `i` is the host `node<i>`, with the container ports of
//! the operator's guide: client `3223`, peer `8443`, admin gRPC `127.0.0.1:9091`, admin
//! panel `8000`, metrics `9090`. Its certificate is issued by the localnet CA for the name
//! `node<i>`. It publishes its ledger to `s3://mcnode-archive/node<i>` on the compose
//! network's S3 server (`http://s3:9000`), and catches up from the others' prefixes.
//!
//! The host reaches the nodes on 127.0.0.1 ([`host_ports`]): the manifest's client URIs
//! point there with `tls-hostname=node<i>`, so `mcnode status`, `heights`,
//! `wait-for-block` and `wallet` work from the host with `--dir DIR`.
//!
//! Layout of `DIR` (what differs from a loopback localnet):
//!
//! ```text
//! docker.json              host ports and the S3 endpoint (also marks the directory)
//! s3.env                   the S3 server's keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
//! node<i>/node.env         MC_MSG_SIGNER_KEY (read by docker compose, mode 0600)
//! node<i>/tls.crt, tls.key, network.toml   mounted at /etc/mcnode/node
//! tls/ca.pem               mounted at /etc/mcnode/ca.pem
//! origin/ledger/           mounted at /origin (copied into the node's empty ledger)
//! ```
//!
//! `tls.key` is written readable by all (mode 0644) so the image's user (uid 10001) can
//! read it through the bind mount whoever generated it: acceptable for a test network on
//! one machine, not for a real node (see `docs/running-the-node.md`).

use std::{fs, os::unix::fs::PermissionsExt, path::Path};

use anyhow::Context;
use mcnode_crypto::Ed25519Signer;
use mcnode_peers::{NetworkConfig, ResponderId};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::json;

use super::{
    default_threshold, node_dir, toml_string, Ca, LocalnetArgs, Manifest, ManifestNode,
    MANIFEST_VERSION, ORIGIN_AMOUNT, OUTPUTS_EACH,
};
use crate::{keys, ledger_cmd};

/// The marker and host-side description of a Docker localnet.
pub const DOCKER_FILE: &str = "docker.json";
/// Nodes in `docker/compose.yml`.
pub const NODES: usize = 4;
/// First host port: node `i` publishes client `B+10i`, admin panel `B+10i+1`, metrics
/// `B+10i+2`, ledger-distribution's metrics `B+10i+3`; the S3 server is `B+90`. Must
/// match `docker/compose.yml`.
pub const HOST_BASE_PORT: u16 = 4400;
/// The bucket every node publishes to, under its own prefix.
pub const BUCKET: &str = "mcnode-archive";
/// Container ports (the operator guide's defaults).
const CLIENT_PORT: u16 = 3223;
const PEER_PORT: u16 = 8443;
const ADMIN_URI: &str = "insecure-mca://127.0.0.1:9091/";
/// Where the compose file mounts the CA bundle.
const CA_IN_CONTAINER: &str = "/etc/mcnode/ca.pem";
/// The image's user, who must read the bind-mounted files.
const IMAGE_UID: u32 = 10001;

/// Host ports of node `i`: client, admin panel, metrics, archive metrics.
pub fn host_ports(i: usize) -> [u16; 4] {
    let p = HOST_BASE_PORT + 10 * i as u16;
    [p, p + 1, p + 2, p + 3]
}

/// The Compose command this host has: `docker compose` (v2, a docker plugin) or
/// `docker-compose` (v1), found on `PATH`; `docker compose` when neither is found.
fn compose_command() -> &'static str {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
    };
    let plugin = [
        "/usr/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/local/lib/docker/cli-plugins",
    ]
    .iter()
    .any(|d| Path::new(d).join("docker-compose").is_file())
        || std::env::var_os("HOME").is_some_and(|h| {
            Path::new(&h)
                .join(".docker/cli-plugins/docker-compose")
                .is_file()
        });
    if !plugin && on_path("docker-compose") {
        "docker-compose"
    } else {
        "docker compose"
    }
}

/// The S3 server's host port.
pub fn s3_host_port() -> u16 {
    HOST_BASE_PORT + 90
}

/// Whether `dir` holds a Docker localnet.
pub fn is_docker_dir(dir: &Path) -> bool {
    dir.join(DOCKER_FILE).is_file()
}

fn host(i: usize) -> String {
    format!("node{i}")
}

fn peer_responder_id(i: usize) -> String {
    format!("{}:{PEER_PORT}", host(i))
}

fn archive(i: usize) -> String {
    format!("s3://{BUCKET}/{}", host(i))
}

/// Node `i`'s client URI from the host: its published port on 127.0.0.1, checking the
/// certificate name `node<i>` and attesting to its client responder id `node<i>:3223`.
fn host_client_uri(i: usize, ca: &Path) -> String {
    format!(
        "mc://127.0.0.1:{}/?ca-bundle={}&tls-hostname={}&responder-id={}:{CLIENT_PORT}",
        host_ports(i)[0],
        super::query_value(&ca.display().to_string()),
        host(i),
        host(i)
    )
}

/// A certificate for `name` signed by the localnet CA, and its key (both PEM); as
/// `Ca::node_cert`, for one DNS name.
fn node_cert(ca: &Ca, name: &str) -> anyhow::Result<(String, String)> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("mcnode localnet {name}"));
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca.issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Node `i`'s `network.toml` as the containers see it.
fn network_toml(i: usize, signers: &[Ed25519Signer], threshold: u32) -> anyhow::Result<String> {
    let mut peers = String::new();
    let mut sources = String::new();
    for j in (0..signers.len()).filter(|j| *j != i) {
        let uri = format!(
            "mcp://{}/?consensus-msg-key={}&ca-bundle={CA_IN_CONTAINER}",
            peer_responder_id(j),
            signers[j].public().to_base64url_der()
        );
        peers.push_str(&format!("  {},\n", toml_string(&uri)?));
        sources.push_str(&format!("  {},\n", toml_string(&archive(j))?));
    }
    let members: String = (0..signers.len())
        .map(|j| Ok(format!("  {},\n", toml_string(&peer_responder_id(j))?)))
        .collect::<anyhow::Result<_>>()?;
    Ok(format!(
        "# network.toml of node{i} in docker/compose.yml, written by `mcnode localnet --docker`.\n\
         # Peers this node sends its consensus messages and transactions to.\n\
         broadcast_peers = [\n{peers}]\n\
         known_peers = []\n\
         # The other nodes' archives on the compose network's S3 server, to catch up from.\n\
         tx_source_urls = [\n{sources}]\n\
         \n\
         # Every node, this one included: {threshold} of {n} make a quorum.\n\
         [quorum_set]\n\
         threshold = {threshold}\n\
         members = [\n{members}]\n",
        n = signers.len(),
    ))
}

/// A random S3 key: `len` characters of a-z0-9.
fn random_key(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// What `docker.json` holds and the command prints.
fn description(dir: &Path) -> serde_json::Value {
    let nodes: Vec<_> = (0..NODES)
        .map(|i| {
            let [_, panel, metrics, archive_metrics] = host_ports(i);
            json!({
                "name": host(i),
                "client_uri": host_client_uri(i, &dir.join("tls").join("ca.pem")),
                "admin_panel": format!("http://127.0.0.1:{panel}/"),
                "metrics": format!("http://127.0.0.1:{metrics}/metrics"),
                "archive_metrics": format!("http://127.0.0.1:{archive_metrics}/metrics"),
                "archive": archive(i),
            })
        })
        .collect();
    json!({
        "compose_file": "docker/compose.yml",
        "network_dir": dir,
        "s3_endpoint": format!("http://127.0.0.1:{}", s3_host_port()),
        "s3_env": dir.join("s3.env"),
        "nodes": nodes,
        "start": if dir.ends_with("docker/net") {
            format!("{} -f docker/compose.yml up -d", compose_command())
        } else {
            format!(
                "MCNODE_NET={} {} -f docker/compose.yml up -d",
                dir.display(),
                compose_command()
            )
        },
    })
}

/// Writes the Docker localnet into `dir` (empty or absent).
fn generate(dir: &Path, threshold: u32, accounts: usize) -> anyhow::Result<()> {
    let dir = super::empty_dir(dir, DOCKER_FILE)?;
    let mut rng = rand::rngs::OsRng;
    let signers: Vec<Ed25519Signer> = (0..NODES)
        .map(|_| Ed25519Signer::random(&mut rng))
        .collect();
    let ca = Ca::new().context("cannot make the localnet CA")?;
    let ca_path = dir.join("tls").join("ca.pem");
    fs::create_dir_all(dir.join("tls"))?;
    keys::write_public(&ca_path, &ca.pem)?;

    let mut nodes = Vec::with_capacity(NODES);
    for (i, signer) in signers.iter().enumerate() {
        let nd = node_dir(&dir, i);
        fs::create_dir_all(&nd).with_context(|| format!("cannot create {}", nd.display()))?;
        let (cert, key) = node_cert(&ca, &host(i))
            .with_context(|| format!("cannot make {}'s certificate", host(i)))?;
        keys::write_public(&nd.join("tls.crt"), &cert)?;
        // Readable by the image's user through the bind mount (see the module docs).
        keys::write_public(&nd.join("tls.key"), &key)?;
        keys::write_secret(
            &nd.join("node.env"),
            &format!(
                "# node{i}'s message-signer key, for docker compose (env_file)\nMC_MSG_SIGNER_KEY={}\n",
                signer.to_base64_pkcs8()
            ),
        )?;
        let toml = network_toml(i, &signers, threshold)?;
        let me: ResponderId = peer_responder_id(i).parse()?;
        NetworkConfig::parse(&toml, &me)
            .with_context(|| format!("generated an invalid network.toml for node{i}"))?;
        keys::write_public(&nd.join("network.toml"), &toml)?;

        let [_, panel, metrics, archive_metrics] = host_ports(i);
        let node: ManifestNode = serde_json::from_value(json!({
            "name": host(i),
            "peer_responder_id": peer_responder_id(i),
            "client_responder_id": format!("{}:{CLIENT_PORT}", host(i)),
            "client_uri": host_client_uri(i, &ca_path),
            "peer_uri": format!(
                "mcp://{}/?consensus-msg-key={}&ca-bundle={CA_IN_CONTAINER}",
                peer_responder_id(i),
                signer.public().to_base64url_der()
            ),
            "admin_uri": ADMIN_URI,
            "dir": nd,
            "ledger_path": "/var/lib/mcnode/ledger",
            "archive": archive(i),
            "admin_http": format!("127.0.0.1:{panel}"),
            "metrics_http": format!("127.0.0.1:{metrics}"),
            "distribution_metrics": format!("127.0.0.1:{archive_metrics}"),
        }))
        .context("cannot describe a node for localnet.json")?;
        nodes.push(node);
    }

    let origin = ledger_cmd::make_origin(
        ledger_cmd::OriginSpec {
            accounts,
            amount: ORIGIN_AMOUNT,
            outputs_each: OUTPUTS_EACH,
            schema: mcnode_ledger::CURRENT_SCHEMA_VERSION,
            block_version: mcnode_transaction::BlockVersion::ONE,
        },
        &dir.join("origin").join("ledger"),
        &dir.join("wallets"),
        &mut ChaCha20Rng::from_entropy(),
    )?;
    // LMDB made the origin's files 0600; the containers read them as the image's user.
    // A ledger is public data.
    for entry in fs::read_dir(dir.join("origin").join("ledger"))? {
        let path = entry?.path();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot make {} readable", path.display()))?;
    }
    keys::write_secret(
        &dir.join("s3.env"),
        &format!(
            "# The compose network's S3 server accepts only these keys; the nodes use them too.\n\
             AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nAWS_REGION=us-east-1\n",
            random_key(20),
            random_key(40)
        ),
    )?;
    Manifest {
        version: MANIFEST_VERSION,
        nodes,
        wallets: origin.key_files,
    }
    .save(&dir)?;
    // Last: its presence says the directory is complete.
    keys::write_public(
        &dir.join(DOCKER_FILE),
        &format!("{}\n", serde_json::to_string_pretty(&description(&dir))?),
    )?;
    eprintln!(
        "localnet: wrote a {NODES}-node Docker network (threshold {threshold}) to {}; \
         node keys are readable by the image's user (uid {IMAGE_UID}): a test network only",
        dir.display()
    );
    Ok(())
}

/// Runs `mcnode localnet --docker`: writes the network on the first run, then prints its
/// description (stdout) either way.
pub fn run(args: &LocalnetArgs) -> anyhow::Result<()> {
    if args.base_port.is_some() {
        anyhow::bail!(
            "--base-port does not apply with --docker: the host ports ({}..) are fixed in docker/compose.yml",
            HOST_BASE_PORT
        );
    }
    if let Some(n) = args.nodes.filter(|n| *n != NODES) {
        anyhow::bail!("--nodes {n}: docker/compose.yml runs {NODES} nodes; drop --nodes");
    }
    if Manifest::path(&args.dir).exists() {
        if !is_docker_dir(&args.dir) {
            anyhow::bail!(
                "{} holds a loopback localnet (no {DOCKER_FILE}); choose another --dir for --docker",
                args.dir.display()
            );
        }
    } else {
        let threshold = args.threshold.unwrap_or_else(|| default_threshold(NODES));
        if threshold == 0 || threshold as usize > NODES {
            anyhow::bail!(
                "--threshold must be in 1..={NODES} (the node counts itself), got {threshold}"
            );
        }
        if args.accounts == 0 {
            anyhow::bail!("--accounts must be at least 1");
        }
        generate(&args.dir, threshold, args.accounts)?;
    }
    let dir = args.dir.canonicalize()?;
    Manifest::load(&dir)?;
    println!("{}", serde_json::to_string_pretty(&description(&dir))?);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_network_configs_parse_and_name_the_containers() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let signers: Vec<Ed25519Signer> = (0..NODES)
            .map(|_| Ed25519Signer::random(&mut rng))
            .collect();
        for i in 0..NODES {
            let toml = network_toml(i, &signers, 3).unwrap();
            let me: ResponderId = peer_responder_id(i).parse().unwrap();
            let cfg = NetworkConfig::parse(&toml, &me).unwrap();
            assert_eq!(cfg.quorum_set.threshold, 3);
            assert_eq!(cfg.tx_source_urls.len(), NODES - 1);
            assert!(toml.contains(&format!("\"s3://{BUCKET}/node{}\"", (i + 1) % NODES)));
            assert!(!toml.contains(&format!("\"s3://{BUCKET}/node{i}\"")));
            assert!(toml.contains("mcp://node") && toml.contains(CA_IN_CONTAINER));
        }
    }

    #[test]
    fn host_ports_match_the_compose_file() {
        let compose = include_str!("../../../../docker/compose.yml");
        for i in 0..NODES {
            let [client, panel, metrics, archive_metrics] = host_ports(i);
            for (host_port, container_port) in [
                (client, 3223),
                (panel, 8000),
                (metrics, 9090),
                (archive_metrics, 9092),
            ] {
                let mapping = format!("127.0.0.1:{host_port}:{container_port}");
                assert!(
                    compose.contains(&mapping),
                    "docker/compose.yml lacks {mapping}"
                );
            }
        }
        assert!(compose.contains(&format!("127.0.0.1:{}:9000", s3_host_port())));
        assert!(compose.contains(&format!("--bucket={BUCKET}")));
    }
}
