//! The value policy: validity levels and the deterministic combine.

use mcnode_node_core::{StoreLimits, TxOrigin, TxSet, TxSetPolicy, TxStore};
use mcnode_scp::{Validity, ValuePolicy};
use proptest::prelude::*;

use crate::{h, tx};

fn store_with(txs: &[mcnode_node_core::CoreTx<u8>]) -> TxStore<u8> {
    let mut s = TxStore::new(StoreLimits::default());
    for t in txs {
        s.insert(t.clone(), 1, 1, TxOrigin::Client, 0).unwrap();
    }
    s
}

#[test]
fn combine_orders_by_fee_drops_conflicts_and_caps() {
    let s = store_with(&[
        tx(1, 100, &[1], &[11], 50),
        tx(2, 300, &[2], &[12], 50),
        // Spends key image 2 again (a double spend of tx 2) with a lower fee: dropped.
        tx(3, 200, &[2], &[13], 50),
        // Creates output 11 again: conflicts with tx 1, but pays more, so tx 1 is dropped.
        tx(4, 150, &[4], &[11], 50),
        tx(5, 50, &[5], &[15], 50),
    ]);
    let p = TxSetPolicy::new(s, 2);
    let a = TxSet::new(vec![h(1), h(2)]);
    let b = TxSet::new(vec![h(3), h(4), h(5), [7; 32]]); // 7 is unknown
    let combined = p.combine(1, &[a.clone(), b.clone()]);
    // By fee: 2 (300), 3 (200, conflicts with 2), 4 (150), 1 (100, conflicts with 4), 5 (50) -> cap 2.
    assert_eq!(combined, TxSet::new(vec![h(2), h(4)]));
    // Order of candidates does not matter.
    assert_eq!(p.combine(1, &[b, a]), combined);
}

#[test]
fn validity_has_three_levels() {
    let mut s = store_with(&[tx(1, 1, &[1], &[1], 10), tx(2, 1, &[2], &[2], 10)]);
    s.mark_invalid(h(9), 4);
    let p = TxSetPolicy::new(s, 10);
    assert_eq!(
        p.validity(3, &TxSet::new(vec![h(1), h(2)])),
        Validity::Valid
    );
    assert_eq!(
        p.validity(10, &TxSet::new(vec![h(1)])),
        Validity::Invalid,
        "past its tombstone"
    );
    assert_eq!(
        p.validity(3, &TxSet::new(vec![h(1), h(8)])),
        Validity::MaybeValid,
        "an unknown hash: fetch it first"
    );
    assert_eq!(
        p.validity(4, &TxSet::new(vec![h(1), h(9)])),
        Validity::Invalid,
        "a hash known invalid from slot 4 on"
    );
    assert_eq!(
        p.validity(3, &TxSet::new(vec![h(1), h(9)])),
        Validity::MaybeValid,
        "before slot 4 it is merely unknown here"
    );
    assert_eq!(
        p.validity(3, &TxSet::new(vec![])),
        Validity::Invalid,
        "empty"
    );
    let unsorted: TxSet =
        serde_json::from_str(&serde_json::to_string(&vec![h(2), h(1)]).unwrap()).unwrap();
    assert!(!unsorted.is_canonical());
    assert_eq!(p.validity(3, &unsorted), Validity::Invalid, "not canonical");
    let p1 = TxSetPolicy::new(TxStore::<u8>::new(StoreLimits::default()), 1);
    assert_eq!(
        p1.validity(3, &TxSet::new(vec![h(1), h(2)])),
        Validity::Invalid,
        "over the block cap"
    );
}

proptest! {
    #[test]
    fn combine_is_deterministic_and_conflict_free(
        txs in proptest::collection::vec((any::<u8>(), 0..5u64, 0..8u8, 0..8u8), 1..30),
        split in 0..30usize,
        cap in 1..20usize,
    ) {
        let mut s = TxStore::new(StoreLimits::default());
        let mut hashes = Vec::new();
        for (n, fee, ki, out) in &txs {
            let _ = s.insert(tx(*n, *fee, &[*ki], &[*out, out.wrapping_add(100)], 100), 1, 1, TxOrigin::Fetch, 0);
            hashes.push(h(*n));
        }
        let p = TxSetPolicy::new(s, cap);
        let k = split.min(hashes.len());
        let (a, b) = (TxSet::new(hashes[..k].to_vec()), TxSet::new(hashes[k..].to_vec()));
        let cands: Vec<TxSet> = [a, b].into_iter().filter(|c| !c.is_empty()).collect();
        let x = p.combine(1, &cands);
        let mut rev = cands.clone();
        rev.reverse();
        let y = p.combine(1, &rev);
        prop_assert_eq!(&x, &y);
        prop_assert!(x.len() <= cap && x.is_canonical());
        prop_assert_eq!(p.validity(1, &x), Validity::Valid);
        // No two chosen transactions share a key image or an output key.
        let mut images = std::collections::BTreeSet::new();
        let mut outs = std::collections::BTreeSet::new();
        for hash in x.hashes() {
            let f = &p.store().get(hash).unwrap().facts;
            for k in &f.key_images { prop_assert!(images.insert(*k)); }
            for o in &f.output_keys { prop_assert!(outs.insert(*o)); }
        }
    }
}
