//! `mcnode localnet`, `status`, `heights` and `wait-for-block`, run as an operator would.
//!
//! [`Localnet`] is the harness for end-to-end tests: it runs the real `mcnode localnet`
//! binary, which starts the real `consensus-service` and `ledger-distribution` found next
//! to `mcnode` in the target directory. `cargo nextest run --workspace` (what
//! `scripts/test.sh` runs) builds every binary of the workspace there; with `-p
//! mcnode-cli` alone they are missing and those tests fail saying so.

use std::{
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, ChildStdout, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use mcnode_api::pb::{self, blockchain_api_server::BlockchainApiServer};
use mcnode_crypto::Ed25519Signer;
use mcnode_peers::{tls, NetworkConfig, NodeUri, ResponderId, Service};
use serde::Deserialize;
use serde_json::Value;

use super::{mcnode, path};

/// `localnet.json`, format version 1, field for field (unknown fields refused, so a
/// change of format shows here).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub nodes: Vec<ManifestNode>,
    pub wallets: Vec<PathBuf>,
}

/// One node of [`Manifest`].
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManifestNode {
    pub name: String,
    pub peer_responder_id: String,
    pub client_responder_id: String,
    pub client_uri: String,
    pub peer_uri: String,
    pub admin_uri: String,
    pub dir: PathBuf,
    pub ledger_path: PathBuf,
    pub archive: String,
    pub admin_http: String,
    pub metrics_http: String,
    pub distribution_metrics: String,
}

impl Manifest {
    pub fn load(dir: &Path) -> Self {
        let text = std::fs::read_to_string(dir.join("localnet.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// Where the node binaries are: next to `mcnode`.
fn node_binary(name: &str) -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_mcnode"))
        .parent()
        .unwrap()
        .join(name);
    assert!(
        bin.is_file(),
        "{} is missing: build every binary first (`cargo nextest run --workspace`, or \
         `cargo build --workspace --bins` before `cargo test -p mcnode-cli`)",
        bin.display()
    );
    bin
}

/// A running `mcnode localnet` in a temporary directory; stopped (SIGTERM, then wait) on
/// drop.
pub struct Localnet {
    pub dir: tempfile::TempDir,
    pub manifest: Manifest,
    /// The JSON summary `mcnode localnet` printed when ready.
    pub summary: Value,
    child: Child,
    /// Kept open, so that `mcnode localnet` never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Localnet {
    /// Starts `nodes` nodes on free ports and waits for `ready` (up to 3 minutes: debug
    /// builds on a busy machine).
    ///
    /// Free ports are picked before the processes bind them, so a port can be taken in
    /// between (by another test's outgoing connection); then it starts over in a new
    /// directory, up to three times.
    pub fn start(nodes: usize) -> Self {
        Self::start_with(nodes, &[])
    }

    /// [`Self::start`] with the supervisor restarting children that die.
    pub fn start_supervised(nodes: usize) -> Self {
        Self::launch(nodes, &[])
    }

    /// [`Self::start`] with more `mcnode localnet` flags (first start).
    pub fn start_with(nodes: usize, extra: &[&str]) -> Self {
        let mut flags = vec!["--no-restart"];
        flags.extend_from_slice(extra);
        Self::launch(nodes, &flags)
    }

    fn launch(nodes: usize, extra: &[&str]) -> Self {
        let mut attempt = 1;
        loop {
            match Self::try_start_in(tempfile::tempdir().unwrap(), nodes, extra) {
                Ok(net) => return net,
                Err(e) if e.contains("is taken") && attempt < 3 => {
                    eprintln!("[localnet harness] a port was taken; starting over");
                    attempt += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Starts (or restarts) the localnet in `dir` (children that die are not restarted:
    /// the tests stop and start nodes themselves).
    pub fn start_in(dir: tempfile::TempDir, nodes: usize) -> Self {
        Self::try_start_in(dir, nodes, &["--no-restart"]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start_in(dir: tempfile::TempDir, nodes: usize, extra: &[&str]) -> Result<Self, String> {
        node_binary("consensus-service");
        node_binary("ledger-distribution");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcnode"))
            .args(["localnet", "--dir", path(dir.path())])
            .args(["--nodes", &nodes.to_string(), "--base-port", "0"])
            .args(["--ready-timeout", "150"])
            .args(extra)
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Forward stderr (it shows in the test's output) and spot `ready`.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[mcnode localnet] {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) if line == "ready" => break,
                Ok(line) => seen.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().unwrap();
                    return Err(format!(
                        "mcnode localnet exited ({status}) before ready:\n{}",
                        seen.join("\n")
                    ));
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("mcnode localnet not ready in 180 s:\n{}", seen.join("\n"));
            }
        }
        // The summary was printed to stdout before `ready`; read it without blocking on
        // the rest (the process keeps running).
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let summary = read_json_object(&mut stdout);
        let manifest = Manifest::load(dir.path());
        Ok(Self {
            dir,
            manifest,
            summary,
            child,
            _stdout: stdout,
        })
    }

    /// Stops the localnet (SIGTERM) and returns its directory for a restart.
    pub fn stop(mut self) -> (tempfile::TempDir, std::process::ExitStatus) {
        let status = self.terminate();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (dir, status)
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status;
        }
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        // mcnode gives its children 10 s before SIGKILL.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Reads one pretty-printed JSON object (up to its closing `}` line) from `r`.
fn read_json_object(r: &mut impl BufRead) -> Value {
    let mut text = String::new();
    for line in r.lines() {
        let line = line.unwrap();
        let end = line == "}";
        text.push_str(&line);
        text.push('\n');
        if end {
            break;
        }
    }
    serde_json::from_str(&text).unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn ports(n: &ManifestNode) -> [u16; 3] {
    let port = |s: &str| s.rsplit_once(':').unwrap().1.parse::<u16>().unwrap();
    let admin = NodeUri::parse(&n.admin_uri, Service::Admin).unwrap();
    [
        port(&n.client_responder_id),
        port(&n.peer_responder_id),
        admin.port,
    ]
}

fn generate(dir: &Path, extra: &[&str]) -> (bool, Value, String) {
    let mut args = vec!["localnet", "--dir", path(dir), "--generate-only"];
    args.extend_from_slice(extra);
    mcnode(&args)
}

/// Test (1): what the first start writes, checked file by file; a second start reuses it.
#[test]
fn localnet_files_are_generated_then_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let (ok, summary, err) = generate(&dir, &["--base-port", "0"]);
    assert!(ok, "{err}");
    let dir = dir.canonicalize().unwrap();
    let m = Manifest::load(&dir);
    assert_eq!(m.version, 1);
    assert_eq!(m.nodes.len(), 4);
    assert_eq!(summary["manifest"], path(&dir.join("localnet.json")));
    assert_eq!(summary["nodes"].as_array().unwrap().len(), 4);

    // Every port distinct, every path absolute and inside the directory.
    let mut all_ports: Vec<u16> = m.nodes.iter().flat_map(ports).collect();
    all_ports.sort_unstable();
    all_ports.dedup();
    assert_eq!(all_ports.len(), 12);
    let ca = dir.join("tls/ca.pem");
    assert!(std::fs::read_to_string(&ca)
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));

    for (i, n) in m.nodes.iter().enumerate() {
        assert_eq!(n.name, format!("node{i}"));
        assert_eq!(n.dir, dir.join(&n.name));
        assert_eq!(n.ledger_path, n.dir.join("ledger"));
        assert_eq!(
            n.archive,
            format!("file://{}", path(&n.dir.join("archive")))
        );
        let [client, peer, _admin] = ports(n);
        assert_eq!(n.peer_responder_id, format!("127.0.0.1:{peer}"));
        assert_eq!(n.client_responder_id, format!("127.0.0.1:{client}"));

        // Secrets are 0600; the key file is the one the peer URI names.
        for secret in ["tls.key", "msg-signer-key"] {
            assert_eq!(mode(&n.dir.join(secret)), 0o600, "{}/{secret}", n.name);
        }
        let key = Ed25519Signer::from_base64_pkcs8(
            std::fs::read_to_string(n.dir.join("msg-signer-key"))
                .unwrap()
                .trim(),
        )
        .unwrap();
        let peer_uri = NodeUri::parse(&n.peer_uri, Service::Peer).unwrap();
        assert_eq!(peer_uri.consensus_msg_key, Some(key.public()));
        assert_eq!(peer_uri.ca_bundle.as_deref(), Some(ca.as_path()));
        assert_eq!(peer_uri.tls_name(), "localhost");
        assert_eq!(peer_uri.responder_id().to_string(), n.peer_responder_id);
        let client_uri = NodeUri::parse(&n.client_uri, Service::Client).unwrap();
        assert!(client_uri.tls);
        assert_eq!(client_uri.ca_bundle.as_deref(), Some(ca.as_path()));
        assert_eq!(client_uri.port, client);
        assert!(!NodeUri::parse(&n.admin_uri, Service::Admin).unwrap().tls);

        // network.toml: the node accepts it; every other node a broadcast peer with its
        // key and archive; the quorum set is every node, this one included, 3 of 4.
        let text = std::fs::read_to_string(n.dir.join("network.toml")).unwrap();
        let me: ResponderId = n.peer_responder_id.parse().unwrap();
        let config = NetworkConfig::parse(&text, &me).unwrap();
        assert_eq!(config.broadcast_peers().count(), 3);
        assert_eq!(config.peers.len(), 3);
        assert_eq!(config.quorum_set.threshold, 3);
        let members: Vec<String> = config
            .quorum_set
            .nodes()
            .iter()
            .map(|id| id.to_string())
            .collect();
        assert_eq!(members.len(), 4);
        for other in m.nodes.iter().filter(|o| o.name != n.name) {
            let rid: ResponderId = other.peer_responder_id.parse().unwrap();
            let p = &config.peers[&rid];
            assert_eq!(
                Some(p.msg_key),
                NodeUri::parse(&other.peer_uri, Service::Peer)
                    .unwrap()
                    .consensus_msg_key
            );
            assert!(members.contains(&other.peer_responder_id));
            assert!(config
                .tx_source_urls
                .iter()
                .any(|u| u.as_str() == format!("{}/", other.archive)));
        }
        assert!(members.contains(&n.peer_responder_id));
    }

    // Wallets: 8 key files with addresses; the origin ledger pays them 64 outputs each.
    assert_eq!(m.wallets.len(), 8);
    for (i, w) in m.wallets.iter().enumerate() {
        assert_eq!(*w, dir.join(format!("wallets/account_keys_{i}.json")));
        assert_eq!(mode(w), 0o600);
        assert!(dir.join(format!("wallets/account_keys_{i}.pub")).is_file());
    }
    let (ok, info, err) = mcnode(&[
        "ledger",
        "info",
        "--ledger-path",
        path(&dir.join("origin/ledger")),
    ]);
    assert!(ok, "{err}");
    assert_eq!(info["height"], 1);
    assert_eq!(info["num_txos"], 8 * 64);

    // A second start reuses everything: same manifest, same keys (--base-port 0 agrees
    // with any ports).
    let key0 = std::fs::read(dir.join("node0/msg-signer-key")).unwrap();
    let ca_pem = std::fs::read(&ca).unwrap();
    let (ok, _, err) = generate(&dir, &["--base-port", "0", "--nodes", "4"]);
    assert!(ok, "{err}");
    assert_eq!(Manifest::load(&dir), m);
    assert_eq!(
        std::fs::read(dir.join("node0/msg-signer-key")).unwrap(),
        key0
    );
    assert_eq!(std::fs::read(&ca).unwrap(), ca_pem);
    let (ok, _, err) = generate(&dir, &[]);
    assert!(ok, "{err}");

    // Flags that contradict the manifest are refused, naming it.
    for (flags, says) in [
        (&["--nodes", "5"][..], "--nodes 5 contradicts"),
        (&["--base-port", "3200"][..], "--base-port 3200 contradicts"),
        (&["--threshold", "4"][..], "--threshold 4 contradicts"),
    ] {
        let (ok, _, err) = generate(&dir, flags);
        assert!(!ok);
        assert!(err.contains(says) && err.contains("another --dir"), "{err}");
    }

    // A directory with something else in it is not taken over.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join("x")).unwrap();
    let (ok, _, err) = generate(&other, &[]);
    assert!(!ok);
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn fixed_ports_follow_the_base_port_and_bad_shapes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let (ok, _, err) = generate(&dir, &["--nodes", "2", "--base-port", "45000"]);
    assert!(ok, "{err}");
    let m = Manifest::load(&dir);
    assert_eq!(ports(&m.nodes[0]), [45000, 45001, 45002]);
    assert_eq!(ports(&m.nodes[1]), [45010, 45011, 45012]);
    // 2 nodes: threshold 2 (both).
    let text = std::fs::read_to_string(m.nodes[0].dir.join("network.toml")).unwrap();
    let me: ResponderId = m.nodes[0].peer_responder_id.parse().unwrap();
    assert_eq!(
        NetworkConfig::parse(&text, &me)
            .unwrap()
            .quorum_set
            .threshold,
        2
    );
    let (ok, _, err) = generate(&dir, &["--base-port", "45000"]);
    assert!(ok, "{err}");

    for (flags, says) in [
        (&["--nodes", "0"][..], "--nodes"),
        (&["--nodes", "3", "--threshold", "4"][..], "--threshold"),
        (&["--nodes", "3", "--base-port", "65530"][..], "no room"),
    ] {
        let fresh = tmp.path().join(format!("bad{}", flags.join("")));
        let (ok, _, err) = generate(&fresh, flags);
        assert!(!ok, "{flags:?}");
        assert!(err.contains(says), "{flags:?}: {err}");
    }
}

/// A stand-in for the node's `BlockchainApi`: a fixed last block.
struct FakeChain(pb::LastBlockInfo);

#[tonic::async_trait]
impl pb::blockchain_api_server::BlockchainApi for FakeChain {
    async fn get_last_block_info(
        &self,
        _: tonic::Request<pb::GetLastBlockInfoRequest>,
    ) -> Result<tonic::Response<pb::LastBlockInfo>, tonic::Status> {
        Ok(tonic::Response::new(self.0.clone()))
    }
    async fn get_blocks(
        &self,
        _: tonic::Request<pb::GetBlocksRequest>,
    ) -> Result<tonic::Response<pb::GetBlocksResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("fake"))
    }
    async fn get_block_data(
        &self,
        _: tonic::Request<pb::GetBlocksRequest>,
    ) -> Result<tonic::Response<pb::GetBlockDataResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("fake"))
    }
}

/// Serves a [`FakeChain`] on `node`'s client port with its generated certificate.
async fn serve_fake(node: &ManifestNode, index: u64, id: u8) {
    let [client, ..] = ports(node);
    let listen = NodeUri::parse(
        &format!(
            "mc://127.0.0.1:{client}/?tls-chain={}&tls-key={}",
            path(&node.dir.join("tls.crt")),
            path(&node.dir.join("tls.key"))
        ),
        Service::Client,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", client))
        .await
        .unwrap();
    let server = tonic::transport::Server::builder()
        .tls_config(tls::server_tls(&listen).unwrap().unwrap())
        .unwrap()
        .add_service(BlockchainApiServer::new(FakeChain(pb::LastBlockInfo {
            index,
            minimum_fee: 400_000_000,
            block_version: 1,
            block_id: vec![id; 32],
            cumulative_txo_count: 32,
        })))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
}

/// `status`, `heights` and `wait-for-block` over TLS with the generated CA and
/// certificates, against stand-in nodes (the real ones are in the tests below).
#[test]
fn status_heights_and_wait_for_block_against_stand_in_nodes() {
    tls::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let (ok, _, err) = generate(&dir, &["--nodes", "3", "--base-port", "0"]);
    assert!(ok, "{err}");
    let m = Manifest::load(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // node0 and node1 agree at height 5; node2 is down.
    rt.block_on(async {
        serve_fake(&m.nodes[0], 4, 7).await;
        serve_fake(&m.nodes[1], 4, 7).await;
    });

    let (ok, j, err) = mcnode(&["status", "--dir", path(&dir)]);
    assert!(ok, "{err}");
    assert_eq!(j["reachable"], 2);
    let nodes = j["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["height"], 5);
    assert_eq!(nodes[0]["last_block_id"], hex::encode([7u8; 32]));
    assert_eq!(nodes[0]["minimum_fee"], 400_000_000u64);
    assert_eq!(nodes[0]["block_version"], 1);
    assert_eq!(nodes[2]["reachable"], false);
    assert!(nodes[2]["error"].as_str().unwrap().contains("refused"));

    // Explicit URIs: the two that are up agree.
    let (ok, j, err) = mcnode(&[
        "heights",
        "--node-uri",
        &m.nodes[0].client_uri,
        "--node-uri",
        &m.nodes[1].client_uri,
    ]);
    assert!(ok, "{err}");
    assert_eq!(j["agree"], true);
    assert_eq!(j["height"], 5);

    // With node2 down, `heights` fails after --settle.
    let started = Instant::now();
    let (ok, j, err) = mcnode(&["heights", "--dir", path(&dir), "--settle", "1"]);
    assert!(!ok);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(j["agree"], false);
    assert!(err.contains("node2 is unreachable"), "{err}");

    // A wrong CA: the node is unreachable, and the error says why.
    let other = tmp.path().join("other");
    let (ok, _, err) = generate(&other, &["--nodes", "1", "--base-port", "0"]);
    assert!(ok, "{err}");
    let wrong_ca = m.nodes[0].client_uri.replace(
        path(&dir.canonicalize().unwrap().join("tls/ca.pem")),
        path(&other.canonicalize().unwrap().join("tls/ca.pem")),
    );
    assert_ne!(wrong_ca, m.nodes[0].client_uri);
    let (ok, j, _) = mcnode(&["status", "--node-uri", &wrong_ca]);
    assert!(ok);
    assert_eq!(j["nodes"][0]["reachable"], false);
    let e = j["nodes"][0]["error"].as_str().unwrap();
    assert!(e.contains("certificate") || e.contains("Issuer"), "{e}");

    // A fork (same height, different ids) fails at once.
    rt.block_on(serve_fake(&m.nodes[2], 4, 8));
    let started = Instant::now();
    let (ok, _, err) = mcnode(&["heights", "--dir", path(&dir), "--settle", "30"]);
    assert!(!ok);
    assert!(err.contains("fork"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));

    // wait-for-block: reached, and timed out.
    let (ok, j, err) = mcnode(&["wait-for-block", "--dir", path(&dir), "--height", "5"]);
    assert!(ok, "{err}");
    assert_eq!(j["height"], 5);
    let (ok, _, err) = mcnode(&[
        "wait-for-block",
        "--dir",
        path(&dir),
        "--height",
        "6",
        "--timeout",
        "1",
    ]);
    assert!(!ok);
    assert!(
        err.contains("timed out") && err.contains("node0 at height 5"),
        "{err}"
    );
    drop(rt);
}

/// Test (2): `consensus-service` refuses a broken `network.toml`, naming the problem.
#[test]
fn consensus_service_refuses_a_broken_network_toml() {
    let consensus = node_binary("consensus-service");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let (ok, _, err) = generate(&dir, &["--base-port", "0"]);
    assert!(ok, "{err}");
    let dir = dir.canonicalize().unwrap();
    let m = Manifest::load(&dir);
    let n = &m.nodes[0];
    let network = n.dir.join("network.toml");
    let good = std::fs::read_to_string(&network).unwrap();
    // A threshold above the members.
    std::fs::write(&network, good.replace("threshold = 3", "threshold = 9")).unwrap();
    let [client, peer, admin] = ports(n);
    let tls = format!(
        "tls-chain={}&tls-key={}",
        path(&n.dir.join("tls.crt")),
        path(&n.dir.join("tls.key"))
    );
    let key = std::fs::read_to_string(n.dir.join("msg-signer-key")).unwrap();
    let run = |sgx_mode: &str| {
        Command::new(&consensus)
            .args(["--peer-responder-id", &n.peer_responder_id])
            .args(["--client-responder-id", &n.client_responder_id])
            .args([
                "--peer-listen-uri",
                &format!("mcp://127.0.0.1:{peer}/?{tls}"),
            ])
            .args([
                "--client-listen-uri",
                &format!("mc://127.0.0.1:{client}/?{tls}"),
            ])
            .args([
                "--admin-listen-uri",
                &format!("insecure-mca://127.0.0.1:{admin}/"),
            ])
            .args(["--network", path(&network)])
            .args(["--ledger-path", path(&n.ledger_path)])
            .args(["--origin-block-path", path(&dir.join("origin/ledger"))])
            .args([
                "--sealed-block-signing-key",
                path(&n.dir.join("sealed-block-signing-key")),
            ])
            .args(["--host-secret-path", path(&n.dir.join("host-secret"))])
            .env("MC_MSG_SIGNER_KEY", key.trim())
            .env("SGX_MODE", sgx_mode)
            .env("IAS_MODE", "DEV")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run("SW");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Status 2, as for a usage error: a supervisor gives up instead of restarting.
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("network.toml") && said.contains("quorum_set"),
        "{said}"
    );

    // Hardware SGX, which this build does not have, is a configuration error too.
    std::fs::write(&network, good).unwrap();
    let out = run("HW");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("SGX_MODE=HW"), "{said}");
}

/// Test (3): a real 4-node localnet comes up at height 1 everywhere with one origin
/// block; `status`, `heights`, `wait-for-block`; a restart reuses the ports.
#[test]
fn a_real_localnet_starts_agrees_on_the_origin_and_restarts() {
    let net = Localnet::start_supervised(4);
    let dir = net.dir.path().to_path_buf();
    assert_eq!(net.summary["nodes"].as_array().unwrap().len(), 4);
    for n in net.summary["nodes"].as_array().unwrap() {
        let log = n["logs"]["consensus-service"].as_str().unwrap();
        assert!(Path::new(log).is_file(), "{log}");
    }

    let (ok, j, err) = mcnode(&["heights", "--dir", path(&dir)]);
    assert!(ok, "{err}");
    assert_eq!(j["agree"], true);
    assert_eq!(j["height"], 1);
    let ids: Vec<&Value> = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["last_block_id"])
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
    // The origin block the nodes serve is the one `mcnode origin-block` wrote.
    let (ok, info, _) = mcnode(&[
        "ledger",
        "info",
        "--ledger-path",
        path(&dir.join("origin/ledger")),
    ]);
    assert!(ok);
    assert_eq!(*ids[0], info["last_block_id"]);

    let (ok, j, err) = mcnode(&["status", "--dir", path(&dir)]);
    assert!(ok, "{err}");
    assert_eq!(j["reachable"], 4);
    for n in j["nodes"].as_array().unwrap() {
        assert_eq!(n["height"], 1);
        assert!(n["minimum_fee"].as_u64().unwrap() > 0);
    }

    let (ok, _, err) = mcnode(&["wait-for-block", "--dir", path(&dir), "--height", "1"]);
    assert!(ok, "{err}");
    // Nothing is submitted, so no block 2 appears.
    let (ok, _, err) = mcnode(&[
        "wait-for-block",
        "--dir",
        path(&dir),
        "--height",
        "2",
        "--timeout",
        "2",
    ]);
    assert!(!ok);
    assert!(err.contains("timed out"), "{err}");

    // A child that dies is restarted by the supervisor (node0's ledger-distribution).
    let pid = distribution_pid(&dir, "node0").expect("node0's ledger-distribution runs");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match distribution_pid(&dir, "node0") {
            Some(p) if p != pid => break,
            _ if Instant::now() > deadline => panic!("ledger-distribution was not restarted"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }

    // A second `mcnode localnet` on the same directory is refused while this one runs.
    let (ok, _, err) = mcnode(&["localnet", "--dir", path(&dir)]);
    assert!(!ok);
    assert!(err.contains("already running"), "{err}");

    let manifest = net.manifest.clone();
    let (tmp, status) = net.stop();
    assert!(status.success(), "mcnode localnet exit: {status}");
    // Stopped: unreachable.
    let (ok, _, _) = mcnode(&["heights", "--dir", path(&dir), "--settle", "0"]);
    assert!(!ok);

    // Restarted: same ports and keys, the ledgers kept.
    let net = Localnet::start_in(tmp, 4);
    assert_eq!(net.manifest, manifest);
    let (ok, j, err) = mcnode(&["heights", "--dir", path(&dir)]);
    assert!(ok, "{err}");
    assert_eq!(j["height"], 1);
}

/// The pid of the `ledger-distribution` whose arguments name `node`'s directory in the
/// localnet `dir` (from /proc).
fn distribution_pid(dir: &Path, node: &str) -> Option<i32> {
    let want = dir.join(node);
    let want = want.to_string_lossy();
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_distribution = args.first()?.ends_with("ledger-distribution");
        let is_node = args.iter().any(|a| a.starts_with(want.as_ref()));
        (is_distribution && is_node).then_some(pid)
    })
}
