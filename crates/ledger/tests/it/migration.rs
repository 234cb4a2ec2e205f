//! Schema migrations: a schema-1 fixture is refused with a pointer to the tool, migrated
//! forward to what a current writer produces, backward to the fixture, and a failing step
//! leaves the ledger as it was.

use mcnode_ledger::{
    lmdb::{dump_path, schema_version, snapshot, tables},
    migrations::{create_schema_1_ledger, migrate},
    Ledger, LedgerError, LmdbLedger, MigrationError, MockLedger, CURRENT_SCHEMA_VERSION,
};

use crate::common::{digest, grow, new_ledger, real_outputs, rng};

#[test]
fn schema_1_forward_and_back() {
    let mock = MockLedger::new();
    let blocks = grow(&mock, &mut rng(50), &[5, 3, 4, 1, 8]);
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1");
    create_schema_1_ledger(&v1, &blocks).unwrap();
    let v1_digest = digest(&dump_path(&v1).unwrap());
    assert_eq!(schema_version(&v1).unwrap(), 1);
    assert!(!dump_path(&v1)
        .unwrap()
        .iter()
        .any(|(n, _)| *n == tables::TX_OUT_BY_TARGET_KEY));

    let err = LmdbLedger::open(&v1).unwrap_err();
    assert!(matches!(
        err,
        LedgerError::SchemaMismatch {
            found: 1,
            expected: 2
        }
    ));
    assert!(err.to_string().contains("mc-ledger-migration"), "{err}");

    // Back it up first, as the operator's guide says.
    snapshot(&v1, &dir.path().join("backup")).unwrap();
    assert_eq!(
        digest(&dump_path(&dir.path().join("backup")).unwrap()),
        v1_digest
    );

    let mut seen = Vec::new();
    let report = migrate(&v1, None, &mut |s, fwd| seen.push((s.from, s.to, fwd))).unwrap();
    assert_eq!(report.applied, vec![(1, 2)]);
    assert_eq!(seen, vec![(1, 2, true)]);
    assert_eq!(schema_version(&v1).unwrap(), CURRENT_SCHEMA_VERSION);

    // Identical to a ledger written by the current code.
    let (_d, current) = new_ledger();
    for (b, c, s, m) in &blocks {
        current.append_block(b, c, s.as_ref(), m.as_ref()).unwrap();
    }
    assert_eq!(
        digest(&dump_path(&v1).unwrap()),
        digest(&current.dump().unwrap())
    );
    {
        let l = LmdbLedger::open(&v1).unwrap();
        l.verify(&mut |_, _| {}).unwrap();
        let o = blocks[3].1.outputs[0];
        assert_eq!(l.tx_out_index(&o.target_key).unwrap(), Some(12));
        l.close();
    }
    // Nothing to do the second time.
    assert!(migrate(&v1, None, &mut |_, _| {})
        .unwrap()
        .applied
        .is_empty());

    // And back.
    let report = migrate(&v1, Some(1), &mut |_, _| {}).unwrap();
    assert_eq!(report.applied, vec![(2, 1)]);
    assert_eq!(digest(&dump_path(&v1).unwrap()), v1_digest);
    assert!(matches!(
        LmdbLedger::open(&v1),
        Err(LedgerError::SchemaMismatch { found: 1, .. })
    ));
    migrate(&v1, Some(2), &mut |_, _| {}).unwrap();
    LmdbLedger::open(&v1)
        .unwrap()
        .verify(&mut |_, _| {})
        .unwrap();
}

#[test]
fn a_failing_step_changes_nothing() {
    // Schema-1 writers did not refuse a repeated output key; such a ledger cannot be
    // indexed, and the step must leave it exactly as it was.
    let mut rng = rng(51);
    let mock = MockLedger::new();
    let mut blocks = grow(&mock, &mut rng, &[3]);
    let repeated = blocks[0].1.outputs[1];
    let mut outs = real_outputs(&mut rng, 2);
    outs.push(repeated);
    // Form the block by hand: every current ledger refuses it.
    let contents = mcnode_blockchain::BlockContents::new(vec![], outs.clone());
    let root = {
        // Root after the repeated output, computed on a tree of the same outputs.
        let mut tree = mcnode_transaction::TxOutTree::new();
        for o in blocks[0].1.outputs.iter().chain(&contents.outputs) {
            tree.push(*o);
        }
        tree.root().unwrap()
    };
    let block = mcnode_blockchain::Block::new_child(&blocks[0].0, &contents, root);
    blocks.push((block, contents, None, None));
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1");
    create_schema_1_ledger(&v1, &blocks).unwrap();
    let before = digest(&dump_path(&v1).unwrap());
    let err = migrate(&v1, None, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(err, MigrationError::StepFailed { from: 1, to: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("share a target key"), "{err}");
    assert_eq!(schema_version(&v1).unwrap(), 1);
    assert_eq!(digest(&dump_path(&v1).unwrap()), before);
}

#[test]
fn unknown_versions() {
    let (dir, ledger) = new_ledger();
    grow(&ledger, &mut rng(52), &[2]);
    let path = ledger.path().to_path_buf();
    ledger.close();
    assert!(matches!(
        migrate(&path, Some(3), &mut |_, _| {}),
        Err(MigrationError::UnknownVersion { target: 3, .. })
    ));
    assert!(matches!(
        migrate(&path, Some(0), &mut |_, _| {}),
        Err(MigrationError::UnknownVersion { .. })
    ));
    assert!(matches!(
        migrate(&dir.path().join("nothing"), None, &mut |_, _| {}),
        Err(MigrationError::Ledger(LedgerError::NotALedger(_)))
    ));
    assert!(matches!(
        LmdbLedger::open(dir.path().join("nothing")),
        Err(LedgerError::NotALedger(_))
    ));
    assert!(matches!(
        LmdbLedger::create(&path),
        Err(LedgerError::AlreadyExists(_))
    ));
}
