//! form_block: sorted, signed, verifiable; stale transactions dropped.

use std::collections::BTreeSet;

use mcnode_blockchain::{encoding, Block, BlockContentsHash, BlockId};
use mcnode_enclave::{
    ClientChannel, ConsensusEnclave, DropReason, EnclaveError, FormBlockError, FormBlockInputs,
    HostLedgerState, LocallyEncryptedTx, SoftwareEnclave, TxContext, BUILD_MEASUREMENT,
};
use mcnode_transaction::{test_utils::Fixture, LedgerView, Tx, TxOutTree};
use rand::SeedableRng;

use crate::{enclave, CHAIN};

struct Setup {
    enclave: SoftwareEnclave,
    tree: TxOutTree,
    parent: Block,
    txs: Vec<Tx>,
    contexts: Vec<TxContext>,
}

fn setup() -> Setup {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let fee = CHAIN.minimum_fee;
    let f = Fixture::new(&mut rng, 40, &[10 * fee, 10 * fee, 10 * fee]);
    // Three txs: one spends owned[0]; one spends owned[1]; a third spends owned[0] again
    // (a conflicting double spend in the same block).
    let t0 = f.tx(1, 2, &mut rng);
    let t1 = {
        let mut b = mcnode_transaction::TxBuilder::new(fee, 100);
        b.add_input(f.credentials(1, &mut rng));
        b.add_output(fee, &f.recipient.default_address());
        b.build(Some(&f.sender.change_address()), &mut rng).unwrap()
    };
    let t2 = f.tx(1, 3, &mut rng);
    let txs = vec![t0, t1, t2];
    let e = enclave("a");
    let (pending, hello) = ClientChannel::start("a.test:3223", BUILD_MEASUREMENT, CHAIN).unwrap();
    let (_, answer) = e.client_accept(&hello).unwrap();
    let mut client = pending.finish(&answer).unwrap();
    let contexts = txs
        .iter()
        .map(|tx| {
            e.client_tx_propose(&client.encrypt(&encoding::encode_tx(tx)).unwrap())
                .unwrap()
        })
        .collect();
    let tree = f.tree.clone();
    let parent = Block::new(
        1,
        BlockId([1; 32]),
        5,
        tree.len(),
        tree.root().unwrap(),
        BlockContentsHash([2; 32]),
    );
    Setup {
        enclave: e,
        tree,
        parent,
        txs,
        contexts,
    }
}

fn ledger_state(tree: &TxOutTree, contexts: &[TxContext]) -> HostLedgerState {
    let mut indices: BTreeSet<u64> = contexts
        .iter()
        .flat_map(|c| c.highest_indices.iter().copied())
        .collect();
    indices.insert(tree.len() - 1);
    HostLedgerState {
        root_element: tree.root(),
        root_proofs: indices
            .iter()
            .map(|i| tree.root_proof(*i).unwrap())
            .collect(),
    }
}

fn inputs(s: &Setup, txs: Vec<LocallyEncryptedTx>) -> FormBlockInputs {
    FormBlockInputs {
        parent: s.parent.clone(),
        ledger: ledger_state(&s.tree, &s.contexts),
        txs,
        spent_key_images: BTreeSet::new(),
        existing_output_keys: BTreeSet::new(),
        signed_at: 1_700_000_000,
    }
}

#[test]
fn formed_block_is_sorted_signed_and_links_to_its_parent() {
    let s = setup();
    let all: Vec<_> = s.contexts.iter().map(|c| c.encrypted_tx.clone()).collect();
    let formed = s.enclave.form_block(inputs(&s, all)).unwrap();
    // t2 double-spends t0's input: dropped, t0 and t1 included.
    assert_eq!(formed.included, vec![s.txs[0].hash(), s.txs[1].hash()]);
    assert_eq!(
        formed.dropped,
        vec![(Some(s.txs[2].hash()), DropReason::KeyImageSpent)]
    );

    let b = &formed.block;
    assert!(formed.contents.is_sorted());
    assert_eq!(formed.contents.key_images.len(), 2);
    assert_eq!(formed.contents.outputs.len(), 4);
    assert_eq!(b.parent_id, s.parent.id);
    assert_eq!(b.index, 6);
    assert_eq!(b.cumulative_txo_count, s.parent.cumulative_txo_count + 4);
    assert_eq!(b.contents_hash, formed.contents.hash());
    assert!(b.is_id_valid());
    // The root is what the full tree gives after appending the sorted outputs.
    let mut tree = s.tree.clone();
    for o in &formed.contents.outputs {
        tree.push(*o);
    }
    assert_eq!(b.root_element, tree.root().unwrap());
    // Signed by the enclave's block-signing key.
    assert_eq!(formed.signature.signer, s.enclave.block_signer());
    assert_eq!(formed.signature.verify(b), Ok(()));
    // No ring, proof or signature survives: only outputs and key images.
    let expected_outputs: BTreeSet<_> = s.txs[..2]
        .iter()
        .flat_map(|t| t.prefix.outputs.iter().map(|o| o.target_key))
        .collect();
    let got: BTreeSet<_> = formed
        .contents
        .outputs
        .iter()
        .map(|o| o.target_key)
        .collect();
    assert_eq!(got, expected_outputs);
}

#[test]
fn a_tx_whose_key_image_was_spent_is_dropped() {
    let s = setup();
    let mut i = inputs(
        &s,
        vec![
            s.contexts[0].encrypted_tx.clone(),
            s.contexts[1].encrypted_tx.clone(),
        ],
    );
    i.spent_key_images.insert(s.contexts[0].key_images[0]);
    let formed = s.enclave.form_block(i).unwrap();
    assert_eq!(formed.included, vec![s.txs[1].hash()]);
    assert_eq!(
        formed.dropped,
        vec![(Some(s.txs[0].hash()), DropReason::KeyImageSpent)]
    );

    let mut i = inputs(
        &s,
        vec![
            s.contexts[0].encrypted_tx.clone(),
            s.contexts[1].encrypted_tx.clone(),
        ],
    );
    i.existing_output_keys
        .insert(s.contexts[1].output_public_keys[0]);
    let formed = s.enclave.form_block(i).unwrap();
    assert_eq!(
        formed.dropped,
        vec![(Some(s.txs[1].hash()), DropReason::OutputKeyExists)]
    );
}

#[test]
fn stale_garbage_and_empty_inputs() {
    let s = setup();
    // Past its tombstone (100) the tx is invalid.
    let mut i = inputs(
        &s,
        vec![
            s.contexts[0].encrypted_tx.clone(),
            LocallyEncryptedTx(vec![1, 2, 3]),
        ],
    );
    i.parent = Block::new(
        1,
        s.parent.parent_id,
        150,
        s.parent.cumulative_txo_count,
        s.parent.root_element,
        s.parent.contents_hash,
    );
    let e = s.enclave.form_block(i).unwrap_err();
    assert!(
        matches!(
            e,
            EnclaveError::FormBlock(FormBlockError::NoValidTransactions)
        ),
        "{e:?}"
    );
    // The host lying about the root is refused outright.
    let mut i = inputs(&s, vec![s.contexts[0].encrypted_tx.clone()]);
    i.ledger.root_element.as_mut().unwrap().hash[0] ^= 1;
    assert!(matches!(
        s.enclave.form_block(i),
        Err(EnclaveError::FormBlock(FormBlockError::RootMismatch))
    ));
    // No proof of the last output: refused.
    let mut i = inputs(&s, vec![s.contexts[0].encrypted_tx.clone()]);
    let last = s.tree.len() - 1;
    i.ledger.root_proofs.retain(|p| p.proof.index != last);
    assert!(matches!(
        s.enclave.form_block(i),
        Err(EnclaveError::FormBlock(FormBlockError::LastOutput(_)))
    ));
}

#[test]
fn tx_is_well_formed_uses_fresh_proofs() {
    let s = setup();
    let state = ledger_state(&s.tree, &s.contexts);
    assert_eq!(
        s.enclave
            .tx_is_well_formed(&s.contexts[0].encrypted_tx, 6, &state)
            .unwrap(),
        s.txs[0].hash()
    );
    // Without the proofs the host must supply, validation fails with a ledger error.
    let empty = HostLedgerState {
        root_element: state.root_element,
        root_proofs: vec![],
    };
    assert!(matches!(
        s.enclave
            .tx_is_well_formed(&s.contexts[0].encrypted_tx, 6, &empty),
        Err(EnclaveError::Invalid(
            mcnode_transaction::ValidationError::Ledger(_)
        ))
    ));
}

#[test]
fn blocks_carry_the_configured_version_and_never_go_below_the_parent() {
    let s = setup();
    let all: Vec<_> = s.contexts.iter().map(|c| c.encrypted_tx.clone()).collect();
    let formed = s.enclave.form_block(inputs(&s, all.clone())).unwrap();
    assert_eq!(formed.block.version, CHAIN.block_version);
    // A parent of a higher version than the enclave writes: refused, naming the flag.
    let mut i = inputs(&s, all);
    i.parent = Block::new(
        2,
        i.parent.parent_id,
        i.parent.index,
        i.parent.cumulative_txo_count,
        i.parent.root_element,
        i.parent.contents_hash,
    );
    let err = s.enclave.form_block(i).unwrap_err();
    assert!(
        matches!(
            err,
            EnclaveError::FormBlock(FormBlockError::VersionBelowParent {
                parent: 2,
                configured: 1
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--block-version 2"), "{err}");
}

#[test]
fn a_batch_gets_the_verdicts_of_one_by_one_checks() {
    let s = setup();
    let state = ledger_state(&s.tree, &s.contexts);
    let mut batch: Vec<_> = s.contexts.iter().map(|c| c.encrypted_tx.clone()).collect();
    batch.insert(1, LocallyEncryptedTx(vec![1, 2, 3]));
    let no_proofs = HostLedgerState {
        root_element: state.root_element,
        root_proofs: vec![],
    };
    // Block 6: all three txs valid on their own (t0 and t2 conflict only within a block);
    // block 150: past their tombstone; no proofs: a ledger error each.
    for (block, ledger) in [(6, &state), (150, &state), (6, &no_proofs)] {
        let together = s.enclave.txs_are_well_formed(&batch, block, ledger);
        let alone: Vec<_> = batch
            .iter()
            .map(|t| s.enclave.tx_is_well_formed(t, block, ledger))
            .collect();
        assert_eq!(together.len(), batch.len());
        assert_eq!(
            format!("{together:?}"),
            format!("{alone:?}"),
            "block {block}"
        );
    }
    let together = s.enclave.txs_are_well_formed(&batch, 6, &state);
    assert_eq!(together[0].as_ref().unwrap(), &s.txs[0].hash());
    assert!(matches!(together[1], Err(EnclaveError::LocalDecrypt)));
    assert_eq!(together[2].as_ref().unwrap(), &s.txs[1].hash());
}
