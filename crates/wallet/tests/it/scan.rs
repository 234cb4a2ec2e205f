//! Finding an account's outputs, balances, spent detection and the scan cursor.

use mcnode_ledger::{test_utils::Signers, Ledger};
use mcnode_transaction::account::CHANGE_SUBADDRESS;
use mcnode_wallet::{wallet::SCAN_STATE_FILE, LocalLedger, Wallet};

use crate::common::*;

#[test]
fn origin_balances_are_found_with_the_view_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng(1);
    let a = Accounts::new(&mut rng);
    let node = node_ledger(
        &dir.path().join("node"),
        standard_origin_outputs(&a, &mut rng),
    );
    let local = LocalLedger::open_or_create(dir.path().join("local")).unwrap();
    assert_eq!(catch_up(&local, &node), 1);

    let mut alice = Wallet::new(a.alice.clone(), local.clone());
    let b = alice.balance().unwrap();
    assert_eq!(b.unspent, u128::from(35 * FEE));
    assert_eq!((b.unspent_outputs, b.spent_outputs, b.spent), (3, 0, 0));
    assert_eq!(b.height, 1);
    let outs = alice.owned_outputs().unwrap();
    let mut values: Vec<u64> = outs.iter().map(|o| o.value() / FEE).collect();
    values.sort_unstable();
    assert_eq!(values, vec![5, 10, 20]);
    for o in &outs {
        assert_eq!(o.block_index, 0);
        assert_eq!(o.subaddress(), 0);
        assert_eq!(local.ledger().tx_out(o.index).unwrap(), o.output.tx_out);
    }

    let mut bob = Wallet::new(a.bob.clone(), local.clone());
    assert_eq!(bob.balance().unwrap().unspent, u128::from(3 * FEE));
    // Someone with no outputs has nothing, and the stranger's 20 outputs are found too.
    let mut nobody = Wallet::new(
        mcnode_transaction::AccountKey::random(&mut rng),
        local.clone(),
    );
    assert_eq!(nobody.balance().unwrap().unspent, 0);
    let mut stranger = Wallet::new(a.stranger.clone(), local);
    assert_eq!(
        stranger.balance().unwrap().unspent_outputs,
        STRANGER_OUTPUTS
    );
}

#[test]
fn a_committed_payment_moves_exactly_amount_and_fee_and_change_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng(2);
    let a = Accounts::new(&mut rng);
    let node = node_ledger(
        &dir.path().join("node"),
        standard_origin_outputs(&a, &mut rng),
    );
    let signers = Signers::from_seed(3);
    let mut alice = wallet_synced(&a.alice, &dir.path().join("alice"), &node);
    let mut bob = wallet_synced(&a.bob, &dir.path().join("bob"), &node);

    let payment = alice
        .build_payment(&a.bob.default_address(), 7 * FEE, FEE, &mut rng)
        .unwrap();
    // Largest first: the 20-fee output alone covers 8 fees.
    assert_eq!(payment.inputs.len(), 1);
    assert_eq!(payment.inputs[0].value(), 20 * FEE);
    assert_eq!(payment.change, 12 * FEE);
    // Not in a block yet: nothing changes.
    assert_eq!(alice.balance().unwrap().unspent, u128::from(35 * FEE));

    commit(&node, &payment.tx, &signers);
    catch_up(alice.ledger(), &node);
    catch_up(bob.ledger(), &node);

    let after = alice.balance().unwrap();
    assert_eq!(after.unspent, u128::from(35 * FEE - 7 * FEE - FEE));
    assert_eq!(
        (after.spent, after.spent_outputs),
        (u128::from(20 * FEE), 1)
    );
    assert_eq!(after.height, 2);
    let outs = alice.owned_outputs().unwrap();
    let spent: Vec<_> = outs.iter().filter(|o| o.is_spent()).collect();
    assert_eq!(spent.len(), 1);
    assert_eq!(spent[0].spent_in, Some(1));
    assert_eq!(spent[0].key_image, payment.key_images()[0]);
    let change: Vec<_> = outs
        .iter()
        .filter(|o| o.subaddress() == CHANGE_SUBADDRESS)
        .collect();
    assert_eq!(change.len(), 1);
    assert_eq!(change[0].value(), 12 * FEE);
    assert_eq!(change[0].block_index, 1);

    let b = bob.balance().unwrap();
    assert_eq!(b.unspent, u128::from(10 * FEE));
    assert_eq!(b.unspent_outputs, 2);
}

#[test]
fn the_scan_cursor_is_kept_and_ignored_when_it_belongs_to_someone_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng(4);
    let a = Accounts::new(&mut rng);
    let node = node_ledger(
        &dir.path().join("node"),
        standard_origin_outputs(&a, &mut rng),
    );
    let signers = Signers::from_seed(5);

    let alice_dir = dir.path().join("alice-cache");
    {
        let mut w = Wallet::open(a.alice.clone(), &alice_dir).unwrap();
        catch_up(w.ledger(), &node);
        assert_eq!(w.balance().unwrap().unspent, u128::from(35 * FEE));
    }
    let state_path = alice_dir.join(SCAN_STATE_FILE);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    assert_eq!(state["next_block"], 1);
    assert_eq!(state["owned"].as_array().unwrap().len(), 3);

    // The cursor is trusted on reopen: blocks it covers are not scanned again. Prove it
    // by emptying its list of outputs: the reopened wallet sees none of block 0's.
    let mut emptied = state.clone();
    emptied["owned"] = serde_json::json!([]);
    std::fs::write(&state_path, emptied.to_string()).unwrap();
    {
        let mut w = Wallet::open(a.alice.clone(), &alice_dir).unwrap();
        assert_eq!(w.balance().unwrap().unspent, 0);
        // New blocks are scanned from the cursor on.
        let more = pay(&a.alice, &[2], &mut rng);
        commit_outputs(&node, more, &signers);
        catch_up(w.ledger(), &node);
        assert_eq!(w.balance().unwrap().unspent, u128::from(2 * FEE));
    }
    std::fs::write(&state_path, state.to_string()).unwrap();
    {
        let mut w = Wallet::open(a.alice.clone(), &alice_dir).unwrap();
        assert_eq!(w.balance().unwrap().unspent, u128::from(37 * FEE));
    }

    // Alice's cursor copied into Bob's cache is not Bob's: it is ignored and rebuilt.
    let bob_dir = dir.path().join("bob-cache");
    {
        let w = Wallet::open(a.bob.clone(), &bob_dir).unwrap();
        catch_up(w.ledger(), &node);
    }
    std::fs::copy(&state_path, bob_dir.join(SCAN_STATE_FILE)).unwrap();
    let mut bob = Wallet::open(a.bob.clone(), &bob_dir).unwrap();
    assert_eq!(bob.balance().unwrap().unspent, u128::from(3 * FEE));
    drop(bob);
    // A corrupt cursor is rebuilt too.
    std::fs::write(bob_dir.join(SCAN_STATE_FILE), "{not json").unwrap();
    let mut bob = Wallet::open(a.bob.clone(), &bob_dir).unwrap();
    assert_eq!(bob.balance().unwrap().unspent, u128::from(3 * FEE));
}
