//! Snapshots taken while a writer appends are consistent ledgers at a block boundary.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use mcnode_ledger::{
    lmdb::{schema_version, snapshot},
    test_utils::{append_random, Signers},
    LedgerError, LmdbLedger,
};

use crate::common::{new_ledger, rng};

#[test]
fn snapshots_during_writes_verify() {
    let (dir, ledger) = new_ledger();
    append_random(&ledger, &mut rng(70), 5, 0, None).unwrap();
    let ledger = Arc::new(ledger);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (ledger, stop) = (ledger.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rng = rng(71);
            let signers = Signers::from_seed(1);
            while !stop.load(Ordering::Relaxed) {
                append_random(&*ledger, &mut rng, 40, 3, Some(&signers)).unwrap();
            }
        })
    };
    let mut heights = Vec::new();
    for i in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let dest = dir.path().join(format!("snap{i}"));
        ledger.snapshot(&dest).unwrap();
        let copy = LmdbLedger::open(&dest).unwrap();
        heights.push(copy.verify(&mut |_, _| {}).unwrap().num_blocks);
        copy.close();
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(heights.windows(2).all(|w| w[0] <= w[1]), "{heights:?}");
    assert!(heights.last().copied().unwrap_or(0) > 1, "{heights:?}");
    // A snapshot target that already holds a ledger is refused.
    assert!(matches!(
        ledger.snapshot(&dir.path().join("snap0")),
        Err(LedgerError::AlreadyExists(_))
    ));
    let path = ledger.path().to_path_buf();
    Arc::try_unwrap(ledger).unwrap().close();
    // The free function copies a closed ledger of any schema.
    snapshot(&path, &dir.path().join("cold")).unwrap();
    assert_eq!(schema_version(&dir.path().join("cold")).unwrap(), 2);
}
