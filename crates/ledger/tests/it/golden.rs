//! The table layout is frozen: a deterministic ledger's tables hash to a fixed digest.
//! A change here is a schema change: bump `CURRENT_SCHEMA_VERSION` and add a migration.

use mcnode_ledger::{lmdb::tables, CURRENT_SCHEMA_VERSION};

use crate::common::{digest, grow, new_ledger, rng};

const GOLDEN: &str = "e11d5d4af55b909d514b21342f79edb7e4ba2f92407034eeac16ceb604f84ed0";

#[test]
fn table_layout_is_frozen() {
    let (_dir, ledger) = new_ledger();
    grow(&ledger, &mut rng(42), &[3, 2, 4]);
    let dump = ledger.dump().unwrap();
    let names: Vec<_> = dump.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, tables::ALL);
    assert!(names.iter().all(|n| n.starts_with(tables::PREFIX)));
    let meta = &dump[0].1;
    assert_eq!(
        meta,
        &vec![(
            b"schema_version".to_vec(),
            CURRENT_SCHEMA_VERSION.to_be_bytes().to_vec()
        )]
    );
    // Keys: big-endian block and output indices, (level, position) for nodes.
    let blocks = &dump[1].1;
    assert_eq!(
        blocks.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        (0u64..3)
            .map(|i| i.to_be_bytes().to_vec())
            .collect::<Vec<_>>()
    );
    let nodes = &dump[8].1;
    assert_eq!(nodes[0].0, [0u8, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(nodes.last().unwrap().0, [4u8, 0, 0, 0, 0, 0, 0, 0, 0]);
    let entries: Vec<usize> = dump.iter().map(|(_, rows)| rows.len()).collect();
    assert_eq!(entries, [1, 3, 3, 2, 2, 3, 9, 9, 9 + 5 + 3 + 2 + 1]);
    assert_eq!(digest(&dump), GOLDEN, "table layout changed");
}
