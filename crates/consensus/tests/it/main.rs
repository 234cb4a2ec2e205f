//! Integration tests of mcnode-consensus: the cache's limits and the value policy.
#![allow(clippy::unwrap_used, missing_docs)]

use mcnode_consensus::{
    tx_cache::Inserted, CacheError, CacheLimits, TxCache, TxHash, TxSet, TxSetPolicy,
};
use mcnode_crypto::{CompressedPoint, KeyImage};
use mcnode_enclave::{LocallyEncryptedTx, TxContext};
use mcnode_scp::{Validity, ValuePolicy};
use proptest::prelude::*;

fn ctx(n: u8, fee: u64, images: &[u8], outputs: &[u8], tombstone: u64) -> TxContext {
    TxContext {
        encrypted_tx: LocallyEncryptedTx(vec![n]),
        tx_hash: [n; 32],
        key_images: images
            .iter()
            .map(|i| KeyImage(CompressedPoint([*i; 32])))
            .collect(),
        output_public_keys: outputs.iter().map(|o| CompressedPoint([*o; 32])).collect(),
        highest_indices: vec![0],
        fee,
        tombstone_block: tombstone,
    }
}

fn h(n: u8) -> TxHash {
    [n; 32]
}

#[test]
fn cache_limits_push_back_instead_of_dropping() {
    let mut c = TxCache::new(CacheLimits {
        max_txs: 3,
        max_pending: 2,
    });
    assert_eq!(
        c.insert(ctx(1, 10, &[1], &[1], 50), 5, true),
        Ok(Inserted::New)
    );
    assert_eq!(
        c.insert(ctx(1, 10, &[1], &[1], 50), 5, true),
        Ok(Inserted::Known)
    );
    assert_eq!(
        c.insert(ctx(2, 10, &[2], &[2], 50), 5, true),
        Ok(Inserted::New)
    );
    // The pending queue is full, but a fetched (non-pending) tx still fits.
    assert_eq!(
        c.insert(ctx(3, 10, &[3], &[3], 50), 5, true),
        Err(CacheError::Full {
            what: "the pending-value queue",
            limit: 2
        })
    );
    assert_eq!(
        c.insert(ctx(3, 10, &[3], &[3], 50), 5, false),
        Ok(Inserted::New)
    );
    assert_eq!(
        c.insert(ctx(4, 10, &[4], &[4], 50), 5, false),
        Err(CacheError::Full {
            what: "the transaction cache",
            limit: 3
        })
    );
    assert_eq!(c.sizes(), (3, 2));
    assert_eq!(
        c.insert(ctx(9, 10, &[9], &[9], 5), 5, true),
        Err(CacheError::Expired {
            tombstone: 5,
            next_block: 5
        })
    );
    c.remove_included([h(1)].iter());
    assert_eq!(c.sizes(), (2, 1));
    assert_eq!(c.evict_expired(49), Vec::<TxHash>::new());
    let mut gone = c.evict_expired(50);
    gone.sort();
    assert_eq!(gone, vec![h(2), h(3)]);
    assert_eq!(c.sizes(), (0, 0));
}

#[test]
fn combine_orders_by_fee_drops_conflicts_and_caps() {
    let mut c = TxCache::new(CacheLimits::default());
    c.insert(ctx(1, 100, &[1], &[11], 50), 0, true).unwrap();
    c.insert(ctx(2, 300, &[2], &[12], 50), 0, true).unwrap();
    // Spends key image 2 again (a double spend of tx 2) with a lower fee: dropped.
    c.insert(ctx(3, 200, &[2], &[13], 50), 0, true).unwrap();
    // Creates output 11 again: conflicts with tx 1, but pays more, so tx 1 is dropped.
    c.insert(ctx(4, 150, &[4], &[11], 50), 0, true).unwrap();
    c.insert(ctx(5, 50, &[5], &[15], 50), 0, true).unwrap();
    let p = TxSetPolicy::new(c, 2);
    let a = TxSet::new(vec![h(1), h(2)]);
    let b = TxSet::new(vec![h(3), h(4), h(5), [7; 32]]); // 7 is unknown
    let combined = p.combine(1, &[a.clone(), b.clone()]);
    // By fee: 2 (300), 3 (200, conflicts with 2), 4 (150), 1 (100, conflicts with 4), 5 (50) -> cap 2.
    assert_eq!(combined, TxSet::new(vec![h(2), h(4)]));
    // Order of candidates does not matter.
    assert_eq!(p.combine(1, &[b, a]), combined);
}

#[test]
fn validity_needs_known_live_canonical_sets() {
    let mut c = TxCache::new(CacheLimits::default());
    c.insert(ctx(1, 1, &[1], &[1], 10), 0, true).unwrap();
    c.insert(ctx(2, 1, &[2], &[2], 10), 0, true).unwrap();
    let p = TxSetPolicy::new(c, 10);
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
        "unknown hash"
    );
    assert_eq!(
        p.validity(10, &TxSet::new(vec![h(1), h(8)])),
        Validity::Invalid,
        "a known hash past its tombstone beats an unknown one"
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
    let p1 = TxSetPolicy::new(TxCache::new(CacheLimits::default()), 1);
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
        let mut c = TxCache::new(CacheLimits::default());
        let mut hashes = Vec::new();
        for (n, fee, ki, out) in &txs {
            let _ = c.insert(ctx(*n, *fee, &[*ki], &[*out, out.wrapping_add(100)], 100), 0, false);
            hashes.push(h(*n));
        }
        let p = TxSetPolicy::new(c, cap);
        let s = split.min(hashes.len());
        let (a, b) = (TxSet::new(hashes[..s].to_vec()), TxSet::new(hashes[s..].to_vec()));
        let x = p.combine(1, &[a.clone(), b.clone()]);
        let y = p.combine(1, &[b, a]);
        prop_assert_eq!(&x, &y);
        prop_assert!(x.len() <= cap && x.is_canonical());
        prop_assert_eq!(p.validity(1, &x), Validity::Valid);
    }
}
