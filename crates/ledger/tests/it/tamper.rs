//! `verify` catches a flipped byte in any table, naming the bad block.

use mcnode_ledger::{
    heed::{types::Bytes, CommitOrAbort, Database},
    lmdb::{open_env, tables},
    LmdbLedger, VerifyError,
};

use crate::common::{grow, new_ledger, rng};

/// Flips one bit of byte `byte` (mod length) of the value under the `nth` key of `table`.
fn flip(path: &std::path::Path, table: &str, nth: usize, byte: usize) {
    let env = open_env(path).unwrap();
    let wtxn = env.write_txn().unwrap();
    let db: Database<Bytes, Bytes> = env
        .create_databases_and_commit(wtxn, |dbo, wtxn| {
            dbo.open_database(wtxn, Some(table))
                .map(|d| CommitOrAbort::<_, ()>::Commit(d.unwrap()))
        })
        .unwrap()
        .unwrap_commit();
    let mut wtxn = env.write_txn().unwrap();
    let (k, mut v) = {
        let (k, v) = db.iter(&wtxn).unwrap().nth(nth).unwrap().unwrap();
        (k.to_vec(), v.to_vec())
    };
    let i = byte % v.len();
    v[i] ^= 0x10;
    db.put(&mut wtxn, &k, &v).unwrap();
    wtxn.commit().unwrap();
    env.prepare_for_closing().wait();
}

#[test]
fn verify_catches_a_tampered_byte_in_every_table() {
    // (table, which entry, which byte, the block verify must name; None: any error)
    let cases: [(&str, usize, usize, Option<u64>); 10] = [
        (tables::BLOCKS, 3, 40, Some(3)),
        (tables::BLOCKS, 5, 5, Some(5)),
        (tables::BLOCK_KEY_IMAGES, 2, 7, Some(2)),
        (tables::BLOCK_SIGNATURES, 2, 20, Some(3)),
        (tables::BLOCK_METADATA, 0, 50, Some(1)),
        (tables::TX_OUTS, 7, 10, None),
        (tables::TX_OUTS, 7, 104, None),
        (tables::KEY_IMAGES, 1, 7, None),
        (tables::TX_OUT_BY_TARGET_KEY, 3, 7, None),
        (tables::MERKLE_NODES, 5, 0, None),
    ];
    for (table, nth, byte, block) in cases {
        let (dir, ledger) = new_ledger();
        grow(&ledger, &mut rng(30), &[4, 3, 5, 2, 6, 3]);
        ledger.verify(&mut |_, _| {}).unwrap();
        let path = ledger.path().to_path_buf();
        ledger.close();
        flip(&path, table, nth, byte);
        let ledger = LmdbLedger::open(&path).unwrap();
        let err = ledger.verify(&mut |_, _| {}).unwrap_err();
        match (&err, block) {
            (VerifyError::BadBlock { index, .. }, Some(b)) => {
                assert_eq!(*index, b, "{table}[{nth}]: {err}")
            }
            (VerifyError::BadBlock { .. } | VerifyError::BadTables(_), None) => {}
            _ => panic!("{table}[{nth}]: unexpected {err}"),
        }
        eprintln!("{table}[{nth}] byte {byte}: {err}");
        drop(dir);
    }
}
