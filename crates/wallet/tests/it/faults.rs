//! The wallet under faults: a node that never answers fails each call within its
//! deadline; a node that is merely behind never moves the copy back while a quorum of
//! the known nodes is ahead; a real rollback (a quorum below the copy) does.

use std::time::{Duration, Instant};

use mcnode_ledger::{test_utils::Signers, Ledger, LmdbLedger};
use mcnode_peers::{NodeUri, Service};
use mcnode_wallet::{ConnectOptions, LocalLedger, NodeClient, Wallet, WalletError};

use crate::{
    common::*,
    fake_node::{FakeNode, Running},
};

/// A listener that accepts connections and never answers (a paused node: the kernel
/// still completes the TCP handshake).
async fn silent_listener() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("insecure-mc://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (uri, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_answers_fails_every_call_within_its_deadline() {
    let (uri, task) = silent_listener().await;
    let options = ConnectOptions {
        connect_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(300),
        ..ConnectOptions::default()
    };
    let start = Instant::now();
    match NodeClient::connect_with(&uri, options.clone()).await {
        Err(e @ WalletError::Deadline { .. }) => assert!(e.is_transient()),
        Err(other) => panic!("expected a deadline, got {other}"),
        // The HTTP/2 set-up may be deferred to the first call: then that call is bounded.
        Ok(node) => {
            let e = node.last_block_info().await.unwrap_err();
            assert!(matches!(e, WalletError::Deadline { .. }), "{e}");
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );

    // A lazily dialled client: every call, including a submit, is bounded too.
    let lazy =
        NodeClient::connect_lazy(NodeUri::parse(&uri, Service::Client).unwrap(), options).unwrap();
    for _ in 0..2 {
        let start = Instant::now();
        let e = lazy.block_data(0, 10).await.unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
    let mut lazy = lazy;
    let start = Instant::now();
    let e = lazy.propose_payload(b"x").await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    task.abort();
}

/// Blocks `0..n` of `src` in a new LMDB ledger at `dir`.
fn copy_chain(src: &LmdbLedger, dir: &std::path::Path, n: u64) -> LmdbLedger {
    let ledger = LmdbLedger::create(dir).unwrap();
    for a in archive_blocks(src, 0, n) {
        ledger
            .append_block(
                &a.block,
                &a.contents,
                a.signature.as_ref(),
                a.metadata.as_ref(),
            )
            .unwrap();
    }
    ledger
}

/// Four fake nodes on one chain of 8 blocks; node 0 is `behind` blocks short.
async fn four_nodes(dir: &std::path::Path, behind: u64) -> (Vec<Running>, Accounts) {
    let mut rng = rng(50);
    let a = Accounts::new(&mut rng);
    let full = node_ledger(&dir.join("full"), standard_origin_outputs(&a, &mut rng));
    let signers = Signers::from_seed(1);
    for n in 0..7 {
        commit_outputs(&full, pay(&a.stranger, &[n + 1], &mut rng), &signers);
    }
    let mut nodes = Vec::new();
    for i in 0..4 {
        let n = if i == 0 { 8 - behind } else { 8 };
        let ledger = copy_chain(&full, &dir.join(format!("node{i}")), n);
        nodes.push(FakeNode::start(ledger, 100).await);
    }
    (nodes, a)
}

async fn clients(nodes: &[Running]) -> Vec<NodeClient> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(NodeClient::connect(&n.uri).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_is_behind_never_moves_the_copy_back() {
    let dir = tempfile::tempdir().unwrap();
    let (nodes, a) = four_nodes(dir.path(), 3).await;
    let mut c = clients(&nodes).await;
    let behind = c.remove(0);
    let local = LocalLedger::open_or_create(dir.path().join("local")).unwrap();

    // Asked through the node that is behind, the copy follows the quorum (3 of 4) to 8.
    let r = local.sync_from_nodes(&behind, &c, 3).await.unwrap();
    assert_eq!(
        (r.from, r.to, r.quorum_height, r.answered),
        (0, 8, Some(8), 4)
    );
    assert_eq!(
        r.tip.unwrap().height(),
        5,
        "the primary's own tip is reported"
    );
    // Again: no block is removed.
    let r = local.sync_from_nodes(&behind, &c, 3).await.unwrap();
    assert_eq!((r.from, r.to, r.cut_back()), (8, 8, 0));
    assert_eq!(local.height().unwrap(), 8);

    // The wallet does the same once it knows the other nodes.
    let mut alice = Wallet::open(a.alice.clone(), dir.path().join("alice")).unwrap();
    alice.know_nodes(c, 3);
    assert_eq!(alice.sync(&behind).await.unwrap().to, 8);
    assert_eq!(alice.sync(&behind).await.unwrap().to, 8);
    assert_eq!(alice.balance().unwrap().height, 8);

    // Alone, the same node is followed down (it is its own quorum): the old behaviour,
    // kept for a wallet that knows one node.
    assert_eq!(local.sync_from_node(&behind).await.unwrap().to, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_below_the_copy_is_a_rollback_and_too_few_answers_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (nodes, _) = four_nodes(dir.path(), 0).await;
    let mut c = clients(&nodes).await;
    let local = LocalLedger::open_or_create(dir.path().join("local")).unwrap();
    assert_eq!(
        local.sync_from_nodes(&c[0], &c[1..], 3).await.unwrap().to,
        8
    );

    // One node rolled back: still a quorum at 8.
    nodes[1].node.ledger().rollback(6).unwrap();
    let r = local.sync_from_nodes(&c[0], &c[1..], 3).await.unwrap();
    assert_eq!((r.to, r.quorum_height), (8, Some(8)));
    // Three rolled back (the network's rollback): the copy follows to 6.
    nodes[2].node.ledger().rollback(6).unwrap();
    nodes[3].node.ledger().rollback(6).unwrap();
    let r = local.sync_from_nodes(&c[0], &c[1..], 3).await.unwrap();
    assert_eq!(
        (r.from, r.to, r.cut_back(), r.quorum_height),
        (8, 6, 2, Some(6))
    );

    // Two of four do not answer (one paused, one gone): no quorum, nothing changes, no
    // error.
    let (silent, task) = silent_listener().await;
    let quick = ConnectOptions {
        connect_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(300),
        ..ConnectOptions::default()
    };
    let lazy = |u: &str| {
        NodeClient::connect_lazy(NodeUri::parse(u, Service::Client).unwrap(), quick.clone())
            .unwrap()
    };
    let primary = c.remove(0);
    let others = [
        c.remove(0),
        lazy(&silent),
        lazy("insecure-mc://127.0.0.1:1/"),
    ];
    let r = local.sync_from_nodes(&primary, &others, 3).await.unwrap();
    assert_eq!((r.from, r.to, r.quorum_height, r.answered), (6, 6, None, 2));
    task.abort();
}
