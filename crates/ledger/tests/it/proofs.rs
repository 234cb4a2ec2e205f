//! Membership proofs: valid for every index at every ledger size 1..=300, equal to the
//! in-memory tree's, and proofs from an older state still check against the newer root.

use mcnode_crypto::merkle::leaf_hash;
use mcnode_ledger::{test_utils::append_next, Ledger, LmdbLedger};
use mcnode_transaction::{
    constants::DEFAULT_MINIMUM_FEE,
    membership::{self, historical_root, RootElement, TxOutMembershipProof},
    test_utils::Fixture,
    validate, LedgerView, TxOutTree,
};

use crate::common::{new_ledger, real_outputs, rng};

/// Checks every index at the current size; returns the proofs with the root they prove.
fn check_all(ledger: &LmdbLedger, tree: &TxOutTree) -> (RootElement, Vec<TxOutMembershipProof>) {
    let n = ledger.num_txos().unwrap();
    assert_eq!(n, tree.len());
    let root = ledger.tree_root().unwrap();
    assert_eq!(Some(root), tree.root(), "root at size {n}");
    let proofs: Vec<_> = (0..n)
        .map(|i| {
            let p = ledger.membership_proof(i).unwrap();
            assert_eq!(Some(&p), tree.proof(i).as_ref(), "proof {i} at size {n}");
            membership::verify(&p, &ledger.tx_out(i).unwrap(), &root)
                .unwrap_or_else(|e| panic!("proof {i} at size {n}: {e}"));
            p
        })
        .collect();
    (root, proofs)
}

/// Every old proof still checks against today's ledger, as `validate` does it.
fn check_old(ledger: &LmdbLedger, old: &[(RootElement, Vec<TxOutMembershipProof>)]) {
    for (old_root, proofs) in old {
        let h = proofs[0].highest_index;
        let fresh = ledger.root_proof(h).unwrap();
        membership::verify(
            &fresh.proof,
            &ledger.tx_out(h).unwrap(),
            &ledger.root_element().unwrap(),
        )
        .unwrap();
        let then = historical_root(&fresh.proof, leaf_hash(&fresh.tx_out_hash)).unwrap();
        assert_eq!(&then, old_root, "historical root at highest index {h}");
        for p in proofs {
            membership::verify(p, &ledger.tx_out(p.index).unwrap(), &then).unwrap();
        }
    }
}

fn run(sizes: impl Iterator<Item = usize>, seed: u64) {
    let (_dir, ledger) = new_ledger();
    let mut rng = rng(seed);
    let mut tree = TxOutTree::new();
    let mut old = Vec::new();
    for n in sizes {
        let (_, c, _, _) = append_next(&ledger, real_outputs(&mut rng, n), vec![], None).unwrap();
        for o in &c.outputs {
            tree.push(*o);
        }
        old.push(check_all(&ledger, &tree));
        if ledger.num_blocks().unwrap() % 50 == 0 {
            check_old(&ledger, &old);
        }
    }
    check_old(&ledger, &old);
}

#[test]
fn every_index_at_every_size_1_to_300() {
    run(std::iter::repeat_n(1, 300), 10);
}

#[test]
fn blocks_of_varying_sizes_to_300() {
    let sizes = [1usize, 3, 2, 7, 1, 16, 5, 9, 31, 4, 2, 64, 1, 11, 17];
    let mut total = 0;
    let seq: Vec<usize> = sizes
        .iter()
        .cycle()
        .take_while(|&&s| {
            total += s;
            total <= 300
        })
        .copied()
        .collect();
    run(seq.into_iter(), 11);
}

#[test]
fn validate_runs_against_the_lmdb_ledger_as_it_grows() {
    let mut rng = rng(12);
    let fee = DEFAULT_MINIMUM_FEE;
    let fixture = Fixture::new(&mut rng, 20, &[10 * fee]);
    let (_dir, ledger) = new_ledger();
    // One output per block keeps the fixture's indices.
    for i in 0..fixture.tree.len() {
        append_next(&ledger, vec![*fixture.tree.get(i).unwrap()], vec![], None).unwrap();
    }
    assert_eq!(ledger.tree_root().unwrap(), fixture.tree.root().unwrap());
    let tx = fixture.tx(1, 2, &mut rng);
    validate(&tx, ledger.num_blocks().unwrap(), fee, &ledger).unwrap();
    // The ledger grows; the transaction's proofs are now old.
    for _ in 0..5 {
        append_next(&ledger, real_outputs(&mut rng, 13), vec![], None).unwrap();
    }
    validate(&tx, ledger.num_blocks().unwrap(), fee, &ledger).unwrap();
}

/// `state_for` answers from one read: the LMDB ledger and the mock (the trait's default,
/// one lookup at a time) agree, and each part matches the single lookups.
#[test]
fn state_queries_agree_with_single_lookups() {
    use mcnode_ledger::{test_utils::append_random, MockLedger, StateQuery};
    let (_dir, lmdb) = new_ledger();
    let mock = MockLedger::new();
    let mut r1 = rng(7);
    let mut r2 = rng(7);
    let mut spent = Vec::new();
    let mut outputs = Vec::new();
    for _ in 0..5 {
        let (_, contents, _, _) = append_random(&lmdb, &mut r1, 4, 2, None).unwrap();
        append_random(&mock, &mut r2, 4, 2, None).unwrap();
        spent.extend(contents.key_images);
        outputs.extend(contents.outputs);
    }
    let unknown_image = mcnode_ledger::test_utils::random_key_image(&mut r1);
    let unknown_key = mcnode_ledger::test_utils::random_tx_out(&mut r1).target_key;
    let query = StateQuery {
        proof_indices: vec![0, 7, 19, 20, 500],
        key_images: vec![spent[0], unknown_image, spent[3]],
        output_keys: vec![unknown_key, outputs[5].target_key],
    };
    let a = lmdb.state_for(&query).unwrap();
    assert_eq!(a, mock.state_for(&query).unwrap());
    assert_eq!(a.last_block, lmdb.last_block().unwrap());
    assert_eq!(a.root, lmdb.tree_root().unwrap());
    assert_eq!(a.missing_indices, [20, 500]);
    let proved: Vec<u64> = a.proofs.iter().map(|p| p.proof.index).collect();
    assert_eq!(proved, [0, 7, 19]);
    for p in &a.proofs {
        assert_eq!(p, &lmdb.root_proof(p.proof.index).unwrap());
    }
    assert_eq!(a.spent_key_images.len(), 2);
    assert!(a.spent_key_images.contains(&spent[0]) && !a.spent_key_images.contains(&unknown_image));
    assert_eq!(
        a.existing_output_keys.iter().collect::<Vec<_>>(),
        [&outputs[5].target_key]
    );
}
