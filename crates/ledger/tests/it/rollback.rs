//! Rollback leaves exactly the tables of a ledger that never had the removed blocks, and
//! re-appending them gives back identical block ids and tables.

use mcnode_ledger::{Ledger, LedgerError};

use crate::common::{digest, grow, new_ledger, rng};

#[test]
fn rollback_equals_never_had_and_reappend_is_identical() {
    // Sizes cross several powers of two so the tree's height changes on the way back.
    let sizes = [3usize, 1, 4, 8, 2, 17, 1, 5, 30, 2, 9, 64];
    let (_dir, ledger) = new_ledger();
    let blocks = grow(&ledger, &mut rng(20), &sizes);
    let full = digest(&ledger.dump().unwrap());
    // Reference digests: ledgers that only ever had the first k blocks.
    let reference = |k: usize| {
        let (_d, l) = new_ledger();
        for (b, c, s, m) in &blocks[..k] {
            l.append_block(b, c, s.as_ref(), m.as_ref()).unwrap();
        }
        digest(&l.dump().unwrap())
    };
    for keep in [11u64, 7, 6, 4, 2, 1] {
        ledger.rollback(keep).unwrap();
        assert_eq!(ledger.num_blocks().unwrap(), keep);
        assert_eq!(
            digest(&ledger.dump().unwrap()),
            reference(keep as usize),
            "rollback to {keep}"
        );
        ledger.verify(&mut |_, _| {}).unwrap();
        // Removed key images and outputs are gone from the indexes.
        for (_, c, _, _) in &blocks[keep as usize..] {
            for ki in &c.key_images {
                assert_eq!(ledger.key_image_block(ki).unwrap(), None);
            }
            for o in &c.outputs {
                assert_eq!(ledger.tx_out_index(&o.target_key).unwrap(), None);
            }
        }
    }
    for (b, c, s, m) in &blocks[1..] {
        let next = ledger.next_block(c).unwrap();
        assert_eq!(next.id, b.id, "re-formed block {} has the same id", b.index);
        ledger.append_block(b, c, s.as_ref(), m.as_ref()).unwrap();
    }
    assert_eq!(digest(&ledger.dump().unwrap()), full);
    ledger.verify(&mut |_, _| {}).unwrap();
}

#[test]
fn rollback_bounds() {
    let (_dir, ledger) = new_ledger();
    grow(&ledger, &mut rng(21), &[2, 2]);
    assert!(matches!(
        ledger.rollback(0),
        Err(LedgerError::BadRollback {
            to: 0,
            num_blocks: 2
        })
    ));
    assert!(matches!(
        ledger.rollback(3),
        Err(LedgerError::BadRollback { .. })
    ));
    ledger.rollback(2).unwrap();
    assert_eq!(ledger.num_blocks().unwrap(), 2);
}
