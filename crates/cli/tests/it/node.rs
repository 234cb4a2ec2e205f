//! The node end to end: real `consensus-service` processes on loopback with TLS, started
//! by `mcnode localnet`, driven by the `mcnode wallet` commands and the wallet library.
//!
//! Faults are real too: nodes are killed with SIGKILL and started again with the command
//! line and environment they had (read from `/proc`), or replaced by a node whose enclave
//! claims another measurement (`mcnode-test-node`) or that signs with an unknown key.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use mcnode_crypto::Ed25519Signer;
use mcnode_transaction::ValidationError;
use mcnode_wallet::{load_account_key, NodeClient, SendOptions, Wallet, WalletError};
use rand::rngs::OsRng;

use super::{localnet::Localnet, mcnode, path};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A client of `node`, waiting up to 60 s for it to listen (it may have just started).
pub(crate) async fn client(net: &Localnet, node: usize) -> NodeClient {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match NodeClient::connect(&net.manifest.nodes[node].client_uri).await {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("node {node} does not answer: {e}"),
        }
    }
}

pub(crate) async fn wallet(net: &Localnet, account: usize, node: &NodeClient) -> Wallet {
    let key = load_account_key(&net.manifest.wallets[account]).unwrap();
    let dir = net.dir.path().join(format!("test-wallet-{account}"));
    let mut w = Wallet::open(key, dir).unwrap();
    w.sync(node).await.unwrap();
    w
}

pub(crate) fn log_of(net: &Localnet, node: usize) -> PathBuf {
    net.manifest.nodes[node].dir.join("consensus-service.log")
}

/// Waits until `file` contains every one of `needles` (on one line).
pub(crate) fn wait_for_log(file: &Path, needles: &[&str], timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{} never logged {needles:?}; last lines:\n{}",
            file.display(),
            text.lines().rev().take(20).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A node's `consensus-service` process as the localnet started it.
pub(crate) struct NodeProcess {
    pid: i32,
    argv: Vec<String>,
    env: Vec<(String, String)>,
}

impl NodeProcess {
    pub(crate) fn find(net: &Localnet, node: usize) -> Self {
        let ledger = net.manifest.nodes[node].ledger_path.display().to_string();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let argv: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).to_string())
                .collect();
            let is_node = argv
                .first()
                .is_some_and(|a| a.ends_with("consensus-service"));
            if is_node && argv.contains(&ledger) {
                let env = std::fs::read(entry.path().join("environ"))
                    .unwrap()
                    .split(|b| *b == 0)
                    .filter_map(|kv| {
                        let kv = String::from_utf8_lossy(kv).to_string();
                        kv.split_once('=')
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                    })
                    .collect();
                return Self { pid, argv, env };
            }
        }
        panic!("no consensus-service process for node {node}");
    }

    /// Its command line.
    pub(crate) fn argv(&self) -> &[String] {
        &self.argv
    }

    /// Its environment.
    pub(crate) fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Sends `signal` and returns at once (e.g. SIGSTOP, SIGCONT).
    pub(crate) fn send(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    pub(crate) fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Path::new(&format!("/proc/{}/cmdline", self.pid)).exists()
            && std::fs::read(format!("/proc/{}/cmdline", self.pid)).is_ok_and(|c| !c.is_empty())
        {
            assert!(Instant::now() < deadline, "pid {} did not exit", self.pid);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the same command again (another binary, extra environment if given).
    pub(crate) fn respawn(
        &self,
        binary: Option<&Path>,
        extra_env: &[(&str, String)],
        log: &Path,
    ) -> Restarted {
        let program = binary.map_or_else(|| PathBuf::from(&self.argv[0]), Path::to_path_buf);
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut cmd = Command::new(program);
        cmd.args(&self.argv[1..])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        Restarted(cmd.spawn().unwrap())
    }
}

/// A node started by the test; killed on drop.
pub(crate) struct Restarted(Child);

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) async fn height(node: &NodeClient) -> u64 {
    node.last_block_info().await.unwrap().height()
}

pub(crate) async fn wait_height(node: &NodeClient, at_least: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(tip) = node.last_block_info().await {
            if tip.height() >= at_least {
                return;
            }
        }
        assert!(Instant::now() < deadline, "height {at_least} not reached");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every block id of every node, compared.
async fn assert_same_ledgers(nodes: &[&NodeClient]) -> u64 {
    let h = height(nodes[0]).await;
    let first = nodes[0].block_data(0, h as u32).await.unwrap();
    for n in &nodes[1..] {
        wait_height(n, h, Duration::from_secs(30)).await;
        let other = n.block_data(0, h as u32).await.unwrap();
        let ids = |v: &[mcnode_blockchain::ArchiveBlock]| {
            v.iter().map(|a| a.block.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(&first), ids(&other[..first.len()]));
    }
    h
}

fn code_of(r: Result<mcnode_wallet::ProposeOutcome, WalletError>) -> u32 {
    match r {
        Ok(_) => 0,
        Err(WalletError::Rejected { code, .. }) => code,
        Err(e) => panic!("expected a result code, got {e}"),
    }
}

/// The spec's "perform transaction tests" on a 4-node network: a self-payment and a
/// cross-payment with exact balances, then every node's ledger is the same.
#[test]
fn payments_are_exact_and_every_node_keeps_the_same_ledger() {
    let net = Localnet::start(4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    let dir = net.dir.path();
    let (ok, j, err) = mcnode(&["wallet", "self-payment-test", "--dir", path(dir)]);
    assert!(ok, "{err}");
    assert_eq!(j["ok"], true, "{j}");
    let fee = j["fee"].as_u64().unwrap();
    assert_eq!(
        j["balance_after"].as_u64().unwrap() + fee,
        j["balance_before"].as_u64().unwrap(),
        "{j}"
    );
    let (ok, j, err) = mcnode(&[
        "wallet",
        "cross-payment-test",
        "--dir",
        path(dir),
        "--account",
        "1",
        "--to-account",
        "2",
        "--node",
        "1",
        "--via-node",
        "3",
    ]);
    assert!(ok, "{err}");
    assert_eq!(j["ok"], true, "{j}");
    let (ok, j, err) = mcnode(&["heights", "--dir", path(dir)]);
    assert!(ok, "{err}");
    assert_eq!(j["agree"], true, "{j}");
    assert!(j["height"].as_u64().unwrap() >= 3, "{j}");
    runtime().block_on(async {
        let clients = [
            client(&net, 0).await,
            client(&net, 1).await,
            client(&net, 2).await,
            client(&net, 3).await,
        ];
        let refs: Vec<&NodeClient> = clients.iter().collect();
        assert!(assert_same_ledgers(&refs).await >= 3);
        assert_reflection(&net).await;
    });
}

/// The services a node's port lists over gRPC reflection (what `grpcurl list` shows).
async fn listed_services(uri: &str, service: mcnode_peers::Service) -> Vec<String> {
    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };
    let uri = mcnode_peers::NodeUri::parse(uri, service).unwrap();
    let channel = mcnode_peers::client::endpoint_channel(&uri).unwrap();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    match answer.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// Both ports list their services over reflection, with TLS.
async fn assert_reflection(net: &Localnet) {
    let node = &net.manifest.nodes[0];
    let client = listed_services(&node.client_uri, mcnode_peers::Service::Client).await;
    for s in [
        "mcnode.v1.AttestedApi",
        "mcnode.v1.ConsensusClientApi",
        "mcnode.v1.BlockchainApi",
        "grpc.health.v1.Health",
    ] {
        assert!(
            client.iter().any(|c| c == s),
            "client port lacks {s}: {client:?}"
        );
    }
    let peer = listed_services(&node.peer_uri, mcnode_peers::Service::Peer).await;
    assert!(
        peer.iter().any(|c| c == "mcnode.v1.ConsensusPeerApi"),
        "peer port: {peer:?}"
    );
}

/// Each kind of bad transaction gets its own result code, garbage gets an error, a double
/// spend is refused with the spent-key-image code, and the node keeps serving.
#[test]
fn bad_transactions_get_their_codes_and_the_node_keeps_serving() {
    let net = Localnet::start(4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    runtime().block_on(async {
        let mut node0 = client(&net, 0).await;
        let mut node1 = client(&net, 1).await;
        let mut w = wallet(&net, 3, &node0).await;
        let tip = node0.last_block_info().await.unwrap();
        let fee = tip.minimum_fee;
        let me = w.address();
        let tomb = tip.height() + 50;
        let rng = &mut OsRng;

        // A double spend: two payments of the same input.
        let first = w.build_payment_until(&me, 1_000, fee, tomb, rng).unwrap();
        let second = w.build_payment_until(&me, 2_000, fee, tomb, rng).unwrap();
        assert_eq!(first.key_images(), second.key_images());
        node0.propose_tx(&first.tx).await.unwrap();
        w.wait_for_inclusion(
            &node0,
            &first,
            Duration::from_secs(60),
            Duration::from_millis(50),
        )
        .await
        .unwrap();
        assert_eq!(code_of(node1.propose_tx(&second.tx).await), 100);

        w.sync(&node0).await.unwrap();
        let tip = node0.last_block_info().await.unwrap();
        let tomb = tip.height() + 50;

        let mut bad = w.build_payment_until(&me, 1_000, fee, tomb, rng).unwrap();
        let mid = bad.tx.signature.range_proof.len() / 2;
        bad.tx.signature.range_proof[mid] ^= 0x01;
        let code = code_of(node0.propose_tx(&bad.tx).await);
        assert!(
            code == ValidationError::InvalidRangeProof.code()
                || code == ValidationError::MalformedRangeProof.code(),
            "range proof: code {code}"
        );

        let mut bad = w.build_payment_until(&me, 1_000, fee, tomb, rng).unwrap();
        let sig = &mut bad.tx.signature.ring_signatures[0];
        sig.responses.swap(0, 1);
        assert_eq!(
            code_of(node0.propose_tx(&bad.tx).await),
            24,
            "ring signature"
        );

        // Valid for the next block only; stale once another block is appended.
        let mut other = wallet(&net, 5, &node0).await;
        let other_me = other.address();
        let expiring = other
            .build_payment_until(&other_me, 1_000, fee, tip.height() + 1, rng)
            .unwrap();
        w.send(&mut node0, &me, 3_000, &SendOptions::default(), rng)
            .await
            .unwrap();
        let code = code_of(node0.propose_tx(&expiring.tx).await);
        assert_eq!(code, 13, "expired tombstone");

        let cheap = w
            .build_payment_until(&me, 1_000, fee - 1, tomb, rng)
            .unwrap();
        assert_eq!(code_of(node0.propose_tx(&cheap.tx).await), 12, "low fee");

        let garbage = node0.propose_payload(b"not a transaction").await;
        assert_eq!(code_of(garbage), 300, "garbage");

        // Still serving: a good payment goes through the same node.
        let receipt = w
            .send(&mut node0, &me, 5_000, &SendOptions::default(), rng)
            .await
            .unwrap();
        assert!(receipt.block_index >= 2);
    });
}

/// A node killed with SIGKILL and started again catches up from its peers, and then takes
/// part: with another node down, the network needs it for a quorum (3 of 4).
#[test]
fn a_killed_node_catches_up_and_takes_part_again() {
    let net = Localnet::start(4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    let node3 = NodeProcess::find(&net, 3);
    node3.signal(rustix::process::Signal::KILL);
    runtime().block_on(async {
        let mut node0 = client(&net, 0).await;
        let mut w = wallet(&net, 0, &node0).await;
        let me = w.address();
        for _ in 0..2 {
            w.send(&mut node0, &me, 7_000, &SendOptions::default(), &mut OsRng)
                .await
                .unwrap();
        }
        let h = height(&node0).await;
        assert!(h >= 3);

        let _restarted = node3.respawn(None, &[], &log_of(&net, 3));
        let mut c3 = client(&net, 3).await;
        wait_height(&c3, h, Duration::from_secs(60)).await;

        // Node 2 down: only 0, 1 and 3 remain, so block h+1 needs node 3's votes.
        NodeProcess::find(&net, 2).signal(rustix::process::Signal::KILL);
        let mut w3 = wallet(&net, 1, &c3).await;
        let me3 = w3.address();
        let receipt = w3
            .send(&mut c3, &me3, 9_000, &SendOptions::default(), &mut OsRng)
            .await
            .unwrap();
        assert!(receipt.block_index >= h);
        let c1 = client(&net, 1).await;
        assert_same_ledgers(&[&node0, &c1, &c3]).await;
    });
}

/// A node whose enclave runs other code is refused by the others (and by wallets); a node
/// signing with a key the others do not know has its consensus messages refused.
#[test]
fn another_enclave_or_an_unknown_signing_key_is_refused() {
    let net = Localnet::start(4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    let node3 = NodeProcess::find(&net, 3);
    node3.signal(rustix::process::Signal::TERM);
    let test_node = Path::new(env!("CARGO_BIN_EXE_mcnode"))
        .parent()
        .unwrap()
        .join("mcnode-test-node");
    assert!(
        test_node.is_file(),
        "{} is missing: build with --all-features (scripts/test.sh does)",
        test_node.display()
    );
    let other = node3.respawn(
        Some(&test_node),
        &[("MCNODE_TEST_MEASUREMENT", "ab".repeat(32))],
        &log_of(&net, 3),
    );
    let line = wait_for_log(
        &log_of(&net, 0),
        &["refused a peer's attestation", "measurement mismatch"],
        Duration::from_secs(60),
    );
    assert!(line.contains("abababab"), "{line}");
    runtime().block_on(async {
        // Wallets refuse it as well.
        let mut c3 = client(&net, 3).await;
        let err = c3.handshake().await.unwrap_err();
        assert!(err.to_string().contains("measurement"), "{err}");
        // The other three carry on.
        let mut node0 = client(&net, 0).await;
        let mut w = wallet(&net, 2, &node0).await;
        let me = w.address();
        w.send(&mut node0, &me, 3_000, &SendOptions::default(), &mut OsRng)
            .await
            .unwrap();
    });
    drop(other);

    // The right enclave but a signing key nobody configured: its envelopes are refused
    // (a payment submitted to it makes it speak; the others include the payment anyway).
    let stranger = Ed25519Signer::random(&mut OsRng).to_base64_pkcs8();
    let _wrong_key = node3.respawn(None, &[("MC_MSG_SIGNER_KEY", stranger)], &log_of(&net, 3));
    runtime().block_on(async {
        let mut c3 = client(&net, 3).await;
        wait_height(&c3, 2, Duration::from_secs(60)).await;
        let mut w = wallet(&net, 4, &c3).await;
        let me = w.address();
        w.send(&mut c3, &me, 4_000, &SendOptions::default(), &mut OsRng)
            .await
            .unwrap();
    });
    wait_for_log(
        &log_of(&net, 0),
        &["refused a consensus message", "bad signature"],
        Duration::from_secs(60),
    );
}

/// On a failing test, prints the end of every node's log (the temporary directory goes
/// away with the test).
pub(crate) struct LogsOnPanic(pub(crate) PathBuf);

impl Drop for LogsOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for node in 0..16 {
            let log = self.0.join(format!("node{node}/consensus-service.log"));
            let Ok(text) = std::fs::read_to_string(&log) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!("--- {} ---\n{}", log.display(), tail.join("\n"));
        }
    }
}

/// Extends the ledger at `dir` by `n` blocks, each paying one fresh output, signed by a
/// throwaway enclave key, with metadata signed by `signer` (a localnet node's msg key,
/// so that the nodes trust these blocks as their own network's).
fn extend_ledger(dir: &Path, n: u64, signer: &Ed25519Signer, responder_id: &str) {
    use mcnode_blockchain::{
        BlockContents, BlockMetadata, BlockMetadataContents, BlockSignature, QuorumSetRecord,
    };
    use mcnode_ledger::{Ledger, LmdbLedger};
    use mcnode_transaction::{AccountKey, TxOut};
    let ledger = LmdbLedger::open(dir).unwrap();
    let enclave_key = Ed25519Signer::random(&mut OsRng);
    let recipient = AccountKey::random(&mut OsRng).default_address();
    for _ in 0..n {
        let out: TxOut = TxOut::create(1_000, &recipient, &mut OsRng).tx_out;
        let contents = BlockContents::new(Vec::new(), vec![out]);
        let block = ledger.next_block(&contents).unwrap();
        let signature = BlockSignature::sign(&block, &enclave_key, 1_700_000_000);
        let metadata = BlockMetadata::sign(
            BlockMetadataContents {
                block_id: block.id,
                quorum_set: QuorumSetRecord::default(),
                attestation_evidence: Vec::new(),
                responder_id: responder_id.to_string(),
            },
            signer,
        );
        ledger
            .append_block(&block, &contents, Some(&signature), Some(&metadata))
            .unwrap();
    }
}

/// Points node `i`'s `network.toml` at one archive only.
fn set_tx_sources(net: &Localnet, node: usize, url: &str) {
    set_tx_sources_in(&net.manifest.nodes[node].dir, url);
}

/// Points the `network.toml` in `node_dir` at one archive only.
fn set_tx_sources_in(node_dir: &Path, url: &str) {
    let path = node_dir.join("network.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("tx_source_urls = [").unwrap();
    let end = start + text[start..].find(']').unwrap() + 1;
    let text = format!(
        "{}tx_source_urls = [\"{url}\"]{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(&path, text).unwrap();
}

/// A fresh node 1000 blocks behind catches up from an archive (a `file://` directory, then
/// an S3 server), checking every block, and then takes part in consensus.
#[test]
fn a_fresh_node_catches_up_from_file_and_s3_archives_then_joins() {
    const BLOCKS: u64 = 1000;
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = mcnode(&[
        "localnet",
        "--dir",
        path(dir.path()),
        "--base-port",
        "0",
        "--generate-only",
    ]);
    assert!(ok, "{err}");
    // A 1001-block ledger made by node 0's key: nodes 0-2 start with it, node 3 empty.
    let seed = dir.path().join("seed-ledger");
    std::fs::create_dir_all(&seed).unwrap();
    std::fs::copy(
        dir.path().join("origin/ledger/data.mdb"),
        seed.join("data.mdb"),
    )
    .unwrap();
    let key = std::fs::read_to_string(dir.path().join("node0/msg-signer-key")).unwrap();
    let signer = Ed25519Signer::from_base64_pkcs8(key.trim()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("localnet.json")).unwrap())
            .unwrap();
    let node0_id = manifest["nodes"][0]["peer_responder_id"].as_str().unwrap();
    extend_ledger(&seed, BLOCKS, &signer, node0_id);
    for i in 0..3 {
        let ledger = dir.path().join(format!("node{i}/ledger"));
        std::fs::create_dir_all(&ledger).unwrap();
        std::fs::copy(seed.join("data.mdb"), ledger.join("data.mdb")).unwrap();
    }
    // The archives: a directory and an S3 bucket, with bundles of 100.
    let seed_ledger = std::sync::Arc::new(mcnode_ledger::LmdbLedger::open(&seed).unwrap());
    let file_archive = dir.path().join("seed-archive");
    super::archive::publish_blocks(
        mcnode_archive::DirStore::new(file_archive.clone()),
        seed_ledger.clone(),
        &dir.path().join("seed-archive.state"),
        BLOCKS + 1,
        vec![100],
    );
    let s3_root = dir.path().join("s3");
    std::fs::create_dir_all(s3_root.join("seed")).unwrap();
    let s3 = mcnode_archive::test_server::TestS3Server::start(&s3_root).unwrap();
    super::archive::publish_blocks(
        mcnode_archive::S3Store::new("seed", "net", &s3.config()).unwrap(),
        seed_ledger,
        &dir.path().join("seed-s3.state"),
        BLOCKS + 1,
        vec![100],
    );

    let net = Localnet::start_in(dir, 4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    let file_url = format!("file://{}", file_archive.display());
    let rt = runtime();
    let mut restarted = Vec::new();
    for (url, env) in [
        (file_url, Vec::new()),
        ("s3://seed/net".to_string(), s3.env()),
    ] {
        // Node 3 from scratch, its only archive `url`.
        let node3 = NodeProcess::find(&net, 3);
        node3.signal(rustix::process::Signal::TERM);
        std::fs::remove_dir_all(&net.manifest.nodes[3].ledger_path).unwrap();
        set_tx_sources(&net, 3, &url);
        let env: Vec<(&str, String)> = env.into_iter().collect();
        restarted.push(node3.respawn(None, &env, &log_of(&net, 3)));
        rt.block_on(async {
            let c3 = client(&net, 3).await;
            wait_height(&c3, BLOCKS + 1, Duration::from_secs(180)).await;
        });
        let line = wait_for_log(
            &log_of(&net, 3),
            &["caught up", &format!("archive {url}")],
            Duration::from_secs(10),
        );
        assert!(line.contains("appended="), "{line}");
    }
    // Node 2 down: a payment through node 3 needs node 3's vote (3 of 4).
    NodeProcess::find(&net, 2).signal(rustix::process::Signal::KILL);
    rt.block_on(async {
        let mut c3 = client(&net, 3).await;
        let mut w = wallet(&net, 6, &c3).await;
        let me = w.address();
        let receipt = w
            .send(&mut c3, &me, 2_000, &SendOptions::default(), &mut OsRng)
            .await
            .unwrap();
        assert!(receipt.block_index > BLOCKS);
        let c0 = client(&net, 0).await;
        let c1 = client(&net, 1).await;
        assert_same_ledgers(&[&c0, &c1, &c3]).await;
    });
    drop(restarted);
}

/// A node `msg-signer-key` and peer responder id, from a generated localnet directory.
fn node_identity(dir: &Path, manifest: &serde_json::Value, i: usize) -> (Ed25519Signer, String) {
    let key = std::fs::read_to_string(dir.join(format!("node{i}/msg-signer-key"))).unwrap();
    let signer = Ed25519Signer::from_base64_pkcs8(key.trim()).unwrap();
    let id = manifest["nodes"][i]["peer_responder_id"].as_str().unwrap();
    (signer, id.to_string())
}

/// A ledger at `dir/name`: the localnet's origin plus `n` blocks whose metadata node
/// `signer` signed.
fn forged_ledger(dir: &Path, name: &str, n: u64, signer: &(Ed25519Signer, String)) -> PathBuf {
    let ledger = dir.join(name);
    std::fs::create_dir_all(&ledger).unwrap();
    std::fs::copy(dir.join("origin/ledger/data.mdb"), ledger.join("data.mdb")).unwrap();
    extend_ledger(&ledger, n, &signer.0, &signer.1);
    ledger
}

/// Catch-up takes only what the node's quorum set vouches for. Nodes 1, 2 and 3 hold the
/// real chain (150 blocks signed by node 2); node 0 lies (150 blocks of its own at the
/// same height, signed by itself alone), and so does node 3's only archive (200 blocks
/// signed by node 1's key that nobody holds). Node 3 restarts empty while nodes 1 and 2
/// are down: it refuses the archive and node 0, naming who vouched, and stays at the
/// origin. Nodes 1 and 2 come back: node 3 catches up from them and makes blocks with
/// them (a quorum without the liar).
#[test]
fn catch_up_refuses_a_lying_archive_and_a_lying_peer() {
    const REAL: u64 = 150;
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = mcnode(&[
        "localnet",
        "--dir",
        path(dir.path()),
        "--base-port",
        "0",
        "--generate-only",
    ]);
    assert!(ok, "{err}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("localnet.json")).unwrap())
            .unwrap();
    let ids: Vec<_> = (0..4)
        .map(|i| node_identity(dir.path(), &manifest, i))
        .collect();
    let real = forged_ledger(dir.path(), "real-ledger", REAL, &ids[2]);
    let liar_peer = forged_ledger(dir.path(), "liar-peer-ledger", REAL, &ids[0]);
    let liar_archive = forged_ledger(dir.path(), "liar-archive-ledger", 200, &ids[1]);
    for (i, from) in [(0, &liar_peer), (1, &real), (2, &real), (3, &real)] {
        let ledger = dir.path().join(format!("node{i}/ledger"));
        std::fs::create_dir_all(&ledger).unwrap();
        std::fs::copy(from.join("data.mdb"), ledger.join("data.mdb")).unwrap();
    }
    let archive = dir.path().join("liar-archive");
    super::archive::publish_blocks(
        mcnode_archive::DirStore::new(archive.clone()),
        std::sync::Arc::new(mcnode_ledger::LmdbLedger::open(&liar_archive).unwrap()),
        &dir.path().join("liar-archive.state"),
        201,
        vec![100],
    );
    let archive_url = format!("file://{}", archive.display());
    set_tx_sources_in(&dir.path().join("node3"), &archive_url);

    let net = Localnet::start_in(dir, 4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    let log3 = log_of(&net, 3);
    let rt = runtime();
    // Nodes 1 and 2 down, node 3 empty (it copies the origin again).
    let honest: Vec<NodeProcess> = (1..3).map(|i| NodeProcess::find(&net, i)).collect();
    for p in &honest {
        p.signal(rustix::process::Signal::TERM);
    }
    let node3 = NodeProcess::find(&net, 3);
    node3.signal(rustix::process::Signal::TERM);
    std::fs::remove_dir_all(&net.manifest.nodes[3].ledger_path).unwrap();
    let _node3 = node3.respawn(None, &[], &log3);
    let refused_archive = wait_for_log(
        &log3,
        &["refused blocks", &archive_url, "not vouched for"],
        Duration::from_secs(60),
    );
    assert!(
        refused_archive.contains(&format!("only by [{}]", ids[1].1)),
        "{refused_archive}"
    );
    let refused_peer = wait_for_log(
        &log3,
        &[
            "refused blocks",
            &format!("peer {}", ids[0].1),
            "not vouched for",
        ],
        Duration::from_secs(30),
    );
    assert!(
        refused_peer.contains(&format!("only by [{}]", ids[0].1)),
        "{refused_peer}"
    );
    rt.block_on(async {
        let c3 = client(&net, 3).await;
        assert_eq!(
            height(&c3).await,
            1,
            "node 3 appended blocks nobody vouched for"
        );
    });

    let _honest: Vec<Restarted> = honest
        .iter()
        .enumerate()
        .map(|(i, p)| p.respawn(None, &[], &log_of(&net, i + 1)))
        .collect();
    rt.block_on(async {
        let mut c3 = client(&net, 3).await;
        wait_height(&c3, REAL + 1, Duration::from_secs(120)).await;
        let c0 = client(&net, 0).await;
        let c1 = client(&net, 1).await;
        assert_eq!(
            height(&c3).await,
            REAL + 1,
            "node 3 took more than the real chain"
        );
        assert_same_ledgers(&[&c1, &c3]).await;
        let real_tip = c1.block_data(REAL, 1).await.unwrap();
        let liar_tip = c0.block_data(REAL, 1).await.unwrap();
        assert_ne!(real_tip[0].block.id, liar_tip[0].block.id);
        // Nodes 1, 2 and 3 are a quorum: a payment through node 3 commits.
        let mut w = wallet(&net, 6, &c3).await;
        let me = w.address();
        let receipt = w
            .send(&mut c3, &me, 2_000, &SendOptions::default(), &mut OsRng)
            .await
            .unwrap();
        assert!(receipt.block_index > REAL);
        let c2 = client(&net, 2).await;
        assert_same_ledgers(&[&c1, &c2, &c3]).await;
    });
}

/// Over its pending-value limit a node answers gRPC UNAVAILABLE (and keeps what it took):
/// node 0 alone (its peers stopped, so nothing is included) with room for one.
#[test]
fn over_capacity_is_unavailable() {
    let net = Localnet::start(4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    for i in 1..4 {
        NodeProcess::find(&net, i).signal(rustix::process::Signal::TERM);
    }
    let node0 = NodeProcess::find(&net, 0);
    node0.signal(rustix::process::Signal::TERM);
    let _small = node0.respawn(
        None,
        &[("MC_MAX_PENDING_VALUES", "1".to_string())],
        &log_of(&net, 0),
    );
    runtime().block_on(async {
        let mut c0 = client(&net, 0).await;
        let mut w = wallet(&net, 7, &c0).await;
        let tip = c0.last_block_info().await.unwrap();
        let me = w.address();
        let first = w
            .build_payment_until(&me, 1_000, tip.minimum_fee, tip.height() + 50, &mut OsRng)
            .unwrap();
        c0.propose_tx(&first.tx).await.unwrap();
        // Another account's payment: a different transaction, no conflict.
        let mut other = wallet(&net, 6, &c0).await;
        let other_me = other.address();
        let second = other
            .build_payment_until(
                &other_me,
                1_000,
                tip.minimum_fee,
                tip.height() + 50,
                &mut OsRng,
            )
            .unwrap();
        match c0.propose_tx(&second.tx).await {
            Err(WalletError::Rpc { code, message, .. }) => {
                assert_eq!(code, tonic::Code::Unavailable, "{message}");
                assert!(message.contains("full"), "{message}");
            }
            other => panic!("expected UNAVAILABLE, got {other:?}"),
        }
        // The first is still held: submitting it again is accepted (already known).
        c0.propose_tx(&first.tx).await.unwrap();
    });
}
