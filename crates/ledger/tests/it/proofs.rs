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
