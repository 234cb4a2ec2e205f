//! `NodeClient` and `Wallet::send` over gRPC against the in-process fake node.

use std::time::Duration;

use mcnode_api::result_code;
use mcnode_archive::InvalidObject;
use mcnode_enclave::{ChannelError, Measurement};
use mcnode_ledger::{test_utils::Signers, Ledger};
use mcnode_wallet::{ConnectOptions, LocalLedger, NodeClient, SendOptions, Wallet, WalletError};

use crate::{
    common::*,
    fake_node::{FakeNode, Running},
};

/// A fake node serving the standard origin and `extra` blocks of stranger outputs, with
/// `GetBlockData` capped at `cap` blocks.
async fn start(seed: u64, extra: u64, cap: u32, dir: &std::path::Path) -> (Running, Accounts) {
    let mut rng = rng(seed);
    let a = Accounts::new(&mut rng);
    let ledger = node_ledger(&dir.join("node"), standard_origin_outputs(&a, &mut rng));
    let signers = Signers::from_seed(1);
    for n in 0..extra {
        commit_outputs(&ledger, pay(&a.stranger, &[n + 1], &mut rng), &signers);
    }
    (FakeNode::start(ledger, cap).await, a)
}

fn fast() -> SendOptions {
    SendOptions {
        timeout: Duration::from_secs(20),
        poll_interval: Duration::from_millis(10),
        ..SendOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_in_capped_chunks_then_a_self_payment_costs_exactly_the_fee() {
    let dir = tempfile::tempdir().unwrap();
    let (net, a) = start(30, 6, 2, dir.path()).await;
    let mut node = NodeClient::connect(&net.uri).await.unwrap();
    let tip = node.last_block_info().await.unwrap();
    assert_eq!((tip.index, tip.minimum_fee), (6, FEE));
    assert_eq!(node.block_data(0, 100).await.unwrap().len(), 2, "capped");

    let mut alice = Wallet::open(a.alice.clone(), dir.path().join("alice")).unwrap();
    let report = alice.sync(&node).await.unwrap();
    assert_eq!((report.from, report.to), (0, 7));
    assert_eq!(report.tip, Some(tip));
    for i in 0..7 {
        assert_eq!(
            alice.ledger().ledger().block(i).unwrap(),
            net.node.ledger().block(i).unwrap()
        );
    }
    let before = alice.balance().unwrap();
    assert_eq!(before.unspent, u128::from(35 * FEE));

    let me = alice.address();
    let mut rng = rng(31);
    let receipt = alice
        .send(&mut node, &me, 3 * FEE, &fast(), &mut rng)
        .await
        .unwrap();
    assert_eq!(receipt.block_index, 7);
    assert_eq!(receipt.fee, FEE);
    assert_eq!(receipt.tombstone_block, 7 + mcnode_wallet::TOMBSTONE_BLOCKS);
    assert!(!receipt.accepted.rehandshaken);
    assert!(receipt.latency < Duration::from_secs(20));
    let after = alice.balance().unwrap();
    assert_eq!(after.unspent, before.unspent - u128::from(FEE));
    assert_eq!(after.height, 8);
    // The block the node formed holds the payment's key image.
    let contents = net.node.ledger().block_contents(7).unwrap();
    assert_eq!(contents.key_images.len(), 1);
    assert!(alice
        .owned_outputs()
        .unwrap()
        .iter()
        .any(|o| o.spent_in == Some(7) && o.key_image == contents.key_images[0]));

    // Bob, syncing from the same node, sees the same chain and an unchanged balance.
    let mut bob = Wallet::new(
        a.bob.clone(),
        LocalLedger::open_or_create(dir.path().join("bob")).unwrap(),
    );
    assert_eq!(bob.sync(&node).await.unwrap().to, 8);
    assert_eq!(bob.balance().unwrap().unspent, u128::from(3 * FEE));

    // Alice pays Bob: Alice loses amount + fee, Bob gains the amount.
    let to_bob = a.bob.default_address();
    let alice_before = alice.balance().unwrap().unspent;
    let r = alice
        .send(&mut node, &to_bob, 4 * FEE, &fast(), &mut rng)
        .await
        .unwrap();
    assert_eq!(r.block_index, 8);
    assert_eq!(
        alice.balance().unwrap().unspent,
        alice_before - u128::from(5 * FEE)
    );
    bob.sync(&node).await.unwrap();
    assert_eq!(bob.balance().unwrap().unspent, u128::from(7 * FEE));

    // A fee below the node's minimum is refused before anything is sent.
    let low = SendOptions {
        fee: Some(FEE - 1),
        ..fast()
    };
    assert!(matches!(
        alice.send(&mut node, &to_bob, FEE, &low, &mut rng).await,
        Err(WalletError::FeeTooLow { fee, minimum }) if fee == FEE - 1 && minimum == FEE
    ));
    assert_eq!(net.node.ledger().num_blocks().unwrap(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_is_cached_and_reopened_once_after_a_node_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (net, a) = start(32, 0, 100, dir.path()).await;
    let mut node = NodeClient::connect(&net.uri).await.unwrap();
    let mut alice = Wallet::open(a.alice.clone(), dir.path().join("alice")).unwrap();
    let mut rng = rng(33);
    let me = alice.address();
    let first = alice
        .send(&mut node, &me, FEE, &fast(), &mut rng)
        .await
        .unwrap();
    let channel = node.attested_channel_id().unwrap();
    assert!(!first.accepted.rehandshaken);
    let second = alice
        .send(&mut node, &me, FEE, &fast(), &mut rng)
        .await
        .unwrap();
    assert!(!second.accepted.rehandshaken);
    assert_eq!(node.attested_channel_id(), Some(channel), "cached");

    net.node.restart_enclave();
    let third = alice
        .send(&mut node, &me, FEE, &fast(), &mut rng)
        .await
        .unwrap();
    assert!(third.accepted.rehandshaken);
    assert_ne!(node.attested_channel_id(), Some(channel));
    assert_eq!(third.block_index, 3);
    assert_eq!(
        alice.balance().unwrap().unspent,
        u128::from(35 * FEE - 3 * FEE)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_come_back_as_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (net, a) = start(34, 0, 100, dir.path()).await;
    let mut node = NodeClient::connect(&net.uri).await.unwrap();
    let mut alice = Wallet::new(
        a.alice.clone(),
        LocalLedger::open_or_create(dir.path().join("alice")).unwrap(),
    );
    alice.sync(&node).await.unwrap();
    let mut rng = rng(35);
    let p = alice
        .build_payment(&a.bob.default_address(), FEE, FEE, &mut rng)
        .unwrap();
    node.propose_tx(&p.tx).await.unwrap();
    // The same transaction again: its key image is spent now.
    let err = node.propose_tx(&p.tx).await.unwrap_err();
    assert_eq!(
        err.result_code(),
        Some(result_code::KEY_IMAGE_SPENT),
        "{err}"
    );
    assert!(err.to_string().contains("key image already spent"), "{err}");
    // Not a transaction at all.
    let err = node.propose_payload(b"not a tx").await.unwrap_err();
    assert_eq!(err.result_code(), Some(result_code::UNDECODABLE), "{err}");
    assert!(!err.is_transient());

    // A node whose enclave is not the measurement we expect is refused at the handshake.
    let options = ConnectOptions {
        measurement: Measurement([9; 32]),
        ..ConnectOptions::default()
    };
    let mut wary = NodeClient::connect_with(&net.uri, options).await.unwrap();
    match wary.propose_tx(&p.tx).await {
        Err(WalletError::Channel(ChannelError::MeasurementMismatch { .. })) => {}
        other => panic!("expected a measurement mismatch, got {other:?}"),
    }
    // A URI naming another responder id than the node's enclave proves.
    let other_id = format!("{}?responder-id=node9.test:3223", net.uri);
    let mut lost = NodeClient::connect(&other_id).await.unwrap();
    assert_eq!(lost.responder_id(), "node9.test:3223");
    assert!(matches!(
        lost.propose_tx(&p.tx).await,
        Err(WalletError::Channel(_))
    ));
    // Nobody listening.
    let err = NodeClient::connect("insecure-mc://127.0.0.1:1/")
        .await
        .unwrap_err();
    assert!(matches!(err, WalletError::Connect { .. }), "{err}");
    assert!(err.is_transient());
    // Not a client URI.
    assert!(matches!(
        NodeClient::connect("insecure-mcp://127.0.0.1:1/").await,
        Err(WalletError::Uri(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_ahead_of_a_rolled_back_node_is_cut_back_and_payments_work() {
    let dir = tempfile::tempdir().unwrap();
    let (net, a) = start(38, 6, 100, dir.path()).await;
    let mut node = NodeClient::connect(&net.uri).await.unwrap();
    let mut alice = Wallet::open(a.alice.clone(), dir.path().join("alice")).unwrap();
    assert_eq!(alice.sync(&node).await.unwrap().to, 7);

    // The operator rolls the node back to 4 blocks (docs/running-the-node.md, Rollback).
    net.node.ledger().rollback(4).unwrap();
    let report = alice.sync(&node).await.unwrap();
    assert_eq!((report.from, report.to, report.cut_back()), (7, 4, 3));
    assert_eq!(report.appended(), 0);
    assert_eq!(alice.ledger().height().unwrap(), 4);
    for i in 0..4 {
        assert_eq!(
            alice.ledger().ledger().block(i).unwrap(),
            net.node.ledger().block(i).unwrap()
        );
    }

    // Proofs are made over the node's ledger again, so it takes the payment.
    let me = alice.address();
    let receipt = alice
        .send(&mut node, &me, 3 * FEE, &fast(), &mut rng(39))
        .await
        .unwrap();
    assert_eq!(receipt.block_index, 4);
    assert_eq!(alice.balance().unwrap().height, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_serving_a_tampered_block_or_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (net, a) = start(36, 5, 2, dir.path()).await;
    let node = NodeClient::connect(&net.uri).await.unwrap();
    net.node.tamper(Some(3));
    let local = LocalLedger::open_or_create(dir.path().join("local")).unwrap();
    match local.sync_from_node(&node).await {
        Err(WalletError::Verify { index: 3, reason }) => {
            assert!(matches!(reason, InvalidObject::BadBlockId(_)), "{reason:?}")
        }
        other => panic!("expected block 3 refused, got {other:?}"),
    }
    assert_eq!(local.height().unwrap(), 3, "nothing from block 3 on");
    net.node.tamper(None);
    assert_eq!(local.sync_from_node(&node).await.unwrap().to, 6);

    // Another network (another origin block) on the same address.
    let other_dir = tempfile::tempdir().unwrap();
    let (other, _) = start(37, 0, 100, other_dir.path()).await;
    let other_node = NodeClient::connect(&other.uri).await.unwrap();
    assert!(matches!(
        local.sync_from_node(&other_node).await,
        Err(WalletError::OriginMismatch { .. })
    ));
    drop(a);
}
