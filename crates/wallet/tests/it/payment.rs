//! Building payments: valid against the local ledger, input selection, rings, errors.

use std::collections::BTreeSet;

use mcnode_ledger::Ledger;
use mcnode_transaction::{constants::RING_SIZE, validate};
use mcnode_wallet::{WalletError, TOMBSTONE_BLOCKS};

use crate::common::*;

#[test]
fn a_payment_validates_against_the_local_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng(10);
    let a = Accounts::new(&mut rng);
    let node = node_ledger(
        &dir.path().join("node"),
        standard_origin_outputs(&a, &mut rng),
    );
    let mut alice = wallet_synced(&a.alice, &dir.path().join("alice"), &node);
    let to = a.bob.default_address();

    // 25 fees + 1 fee: the two largest outputs (20 + 10), change 4.
    let p = alice.build_payment(&to, 25 * FEE, FEE, &mut rng).unwrap();
    let ledger = alice.ledger().ledger();
    let height = ledger.num_blocks().unwrap();
    assert_eq!(validate(&p.tx, height, FEE, ledger).unwrap(), p.tx.hash());
    // Also valid against the node's ledger (the same chain).
    validate(&p.tx, height, FEE, &node).unwrap();
    assert_eq!(p.tombstone_block, height + TOMBSTONE_BLOCKS);
    assert_eq!(p.tx.prefix.tombstone_block, p.tombstone_block);
    assert_eq!(p.tx.prefix.fee, FEE);
    let mut spent: Vec<u64> = p.inputs.iter().map(|i| i.value() / FEE).collect();
    spent.sort_unstable();
    assert_eq!(spent, vec![10, 20]);
    assert_eq!(p.change, 4 * FEE);
    assert_eq!(p.tx.prefix.outputs.len(), 2, "payment and change");
    assert_eq!(p.tx.prefix.inputs.len(), 2);

    // Each ring: RING_SIZE distinct ledger outputs, holding exactly one real input, with
    // proofs of those outputs.
    let num_txos = ledger.num_txos().unwrap();
    for input in &p.tx.prefix.inputs {
        assert_eq!(input.ring.len(), RING_SIZE);
        let keys: BTreeSet<_> = input.ring.iter().map(|o| o.target_key).collect();
        assert_eq!(keys.len(), RING_SIZE);
        let real = p
            .inputs
            .iter()
            .filter(|i| input.ring.contains(&i.output.tx_out))
            .count();
        assert_eq!(real, 1);
        for (member, proof) in input.ring.iter().zip(&input.proofs) {
            assert!(proof.index < num_txos);
            assert_eq!(ledger.tx_out(proof.index).unwrap(), *member);
        }
    }

    // The recipient can open the payment; the change is Alice's.
    let paid: Vec<_> =
        p.tx.prefix
            .outputs
            .iter()
            .filter_map(|o| o.recover(&a.bob, &[0]))
            .collect();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].value, 25 * FEE);
    let change: Vec<_> =
        p.tx.prefix
            .outputs
            .iter()
            .filter_map(|o| o.recover(&a.alice, &[1]))
            .collect();
    assert_eq!(change.len(), 1);
    assert_eq!(change[0].value, 4 * FEE);
}

#[test]
fn decoys_are_drawn_at_random() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng(11);
    let a = Accounts::new(&mut rng);
    let node = node_ledger(
        &dir.path().join("node"),
        standard_origin_outputs(&a, &mut rng),
    );
    let mut alice = wallet_synced(&a.alice, &dir.path().join("alice"), &node);
    let rings: BTreeSet<Vec<u64>> = (0..4)
        .map(|_| {
            let p = alice
                .build_payment(&a.bob.default_address(), FEE, FEE, &mut rng)
                .unwrap();
            let mut idx: Vec<u64> = p.tx.prefix.inputs[0]
                .proofs
                .iter()
                .map(|pr| pr.index)
                .collect();
            idx.sort_unstable();
            idx
        })
        .collect();
    assert!(
        rings.len() > 1,
        "four payments drew the same ring: {rings:?}"
    );
}

#[test]
fn an_exact_payment_has_no_change_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng(12);
    let a = Accounts::new(&mut rng);
    let node = node_ledger(
        &dir.path().join("node"),
        standard_origin_outputs(&a, &mut rng),
    );
    let mut alice = wallet_synced(&a.alice, &dir.path().join("alice"), &node);
    let p = alice
        .build_payment(&a.bob.default_address(), 19 * FEE, FEE, &mut rng)
        .unwrap();
    assert_eq!(p.change, 0);
    assert_eq!(p.tx.prefix.outputs.len(), 1);
    validate(&p.tx, 1, FEE, alice.ledger().ledger()).unwrap();
}

#[test]
fn insufficient_funds_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng(13);
    let a = Accounts::new(&mut rng);
    let node = node_ledger(
        &dir.path().join("node"),
        standard_origin_outputs(&a, &mut rng),
    );
    let mut alice = wallet_synced(&a.alice, &dir.path().join("alice"), &node);
    match alice.build_payment(&a.bob.default_address(), 35 * FEE, FEE, &mut rng) {
        Err(WalletError::InsufficientFunds { have, need }) => {
            assert_eq!(have, u128::from(35 * FEE));
            assert_eq!(need, u128::from(36 * FEE));
        }
        other => panic!("expected InsufficientFunds, got {other:?}"),
    }
    // A stranger to the ledger has nothing to spend.
    let mut nobody = wallet_synced(
        &mcnode_transaction::AccountKey::random(&mut rng),
        &dir.path().join("nobody"),
        &node,
    );
    assert!(matches!(
        nobody.build_payment(&a.bob.default_address(), 1, FEE, &mut rng),
        Err(WalletError::InsufficientFunds { have: 0, .. })
    ));
}

#[test]
fn too_many_small_outputs_and_too_small_a_ledger_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng(14);
    let a = Accounts::new(&mut rng);
    // Alice holds 20 outputs of 1 fee: 18 fees need 18 inputs, more than a tx may have.
    let node = node_ledger(&dir.path().join("node"), pay(&a.alice, &[1; 20], &mut rng));
    let mut alice = wallet_synced(&a.alice, &dir.path().join("alice"), &node);
    match alice.build_payment(&a.bob.default_address(), 17 * FEE, FEE, &mut rng) {
        Err(WalletError::TooManyInputs {
            max_inputs,
            largest,
            need,
        }) => {
            assert_eq!(max_inputs, 16);
            assert_eq!(largest, u128::from(16 * FEE));
            assert_eq!(need, u128::from(18 * FEE));
        }
        other => panic!("expected TooManyInputs, got {other:?}"),
    }
    // 15 fees in 16 inputs is fine.
    let p = alice
        .build_payment(&a.bob.default_address(), 15 * FEE, FEE, &mut rng)
        .unwrap();
    assert_eq!(p.inputs.len(), 16);

    // A ledger of 5 outputs cannot hold a ring of 11.
    let small = node_ledger(&dir.path().join("small"), pay(&a.alice, &[3; 5], &mut rng));
    let mut alice = wallet_synced(&a.alice, &dir.path().join("alice-small"), &small);
    match alice.build_payment(&a.bob.default_address(), FEE, FEE, &mut rng) {
        Err(WalletError::NotEnoughOutputsForRing { have, need }) => {
            assert_eq!((have, need), (5, RING_SIZE));
        }
        other => panic!("expected NotEnoughOutputsForRing, got {other:?}"),
    }
}
