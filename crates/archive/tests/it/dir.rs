//! Directory archives: publish, read back, refuse bad objects, roll back.

use std::sync::Arc;

use mcnode_archive::{
    layout::{block_key, bundle_key},
    rollback, ArchiveError, ArchiveMetrics, ArchiveReader, ArchiveStore, DirStore, InvalidObject,
    StartFrom,
};
use mcnode_ledger::{Ledger, LmdbLedger};

use crate::common::{assert_archive_exact, make_ledger, publish, rt, shared_ledger, BLOCKS};

const BUCKETS: [u64; 3] = [10, 100, 1000];

#[test]
fn publish_and_sync_dir() {
    let (_, ledger) = shared_ledger();
    let tmp = tempfile::tempdir().unwrap();
    let store = DirStore::new(tmp.path().join("archive"));
    let state = tmp.path().join("state.json");
    rt().block_on(async {
        let next = publish(
            &store,
            ledger.clone(),
            &state,
            StartFrom::Next,
            &BUCKETS,
            BLOCKS,
        )
        .await
        .unwrap();
        assert_eq!(next, BLOCKS);
        assert_archive_exact(&store, &ledger, BLOCKS, &BUCKETS).await;
        assert_eq!(
            mcnode_archive::state::read_state(&state)
                .unwrap()
                .unwrap()
                .next_block,
            BLOCKS
        );
        // No temporary files left.
        assert_eq!(
            std::fs::read_dir(tmp.path().join("archive/.tmp"))
                .unwrap()
                .count(),
            0
        );

        // Restarting republishes nothing and changes nothing.
        let before = std::fs::metadata(tmp.path().join("archive").join(block_key(5)))
            .unwrap()
            .modified()
            .unwrap();
        for start in [StartFrom::Zero, StartFrom::Last, StartFrom::Next] {
            let metrics_store = &store;
            publish(
                metrics_store,
                ledger.clone(),
                &state,
                start,
                &BUCKETS,
                BLOCKS,
            )
            .await
            .unwrap();
        }
        let after = std::fs::metadata(tmp.path().join("archive").join(block_key(5)))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after, "an identical object was rewritten");

        // A new ledger from the archive has the same blocks.
        let out = tmp.path().join("copy");
        let copy = Arc::new(LmdbLedger::create(&out).unwrap());
        let reader = ArchiveReader::new(&store, &BUCKETS, ArchiveMetrics::default());
        assert_eq!(reader.height(32).await.unwrap(), BLOCKS);
        let mut seen = Vec::new();
        let report = reader
            .sync_ledger(copy.clone(), None, |h| seen.push(h))
            .await
            .unwrap();
        assert_eq!((report.from, report.to), (0, BLOCKS));
        assert_eq!(seen.last(), Some(&BLOCKS));
        for i in 0..BLOCKS {
            assert_eq!(copy.block(i).unwrap().id, ledger.block(i).unwrap().id);
        }
        // Extending: nothing more to fetch.
        let again = reader.sync_ledger(copy, None, |_| {}).await.unwrap();
        assert_eq!((again.from, again.to), (BLOCKS, BLOCKS));
    });
}

async fn sync_err<S: ArchiveStore>(store: &S, buckets: &[u64]) -> ArchiveError {
    let tmp = tempfile::tempdir().unwrap();
    let copy = Arc::new(LmdbLedger::create(tmp.path().join("l")).unwrap());
    let reader = ArchiveReader::new(store, buckets, ArchiveMetrics::default());
    let err = reader
        .sync_ledger(copy.clone(), None, |_| {})
        .await
        .unwrap_err();
    // Nothing from the bad object was appended.
    assert!(copy.num_blocks().unwrap() <= 500);
    err
}

#[test]
fn refuses_corrupt_and_out_of_chain_objects() {
    let (_, ledger) = shared_ledger();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("archive");
    let store = DirStore::new(root.clone());
    // Another chain's blocks, for splicing in.
    let other = make_ledger(&tmp.path().join("other"), 600, 99);
    rt().block_on(async {
        publish(&store, ledger.clone(), &tmp.path().join("s"), StartFrom::Zero, &[100], BLOCKS)
            .await
            .unwrap();
        let key = block_key(550);
        let path = root.join(&key);
        let good = std::fs::read(&path).unwrap();

        // A flipped byte inside the contents: the contents hash no longer matches (or
        // the record no longer decodes).
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 40] ^= 0x55;
        std::fs::write(&path, &bad).unwrap();
        let e = sync_err(&store, &[]).await;
        let msg = e.to_string();
        assert!(msg.contains(&key), "{msg}");
        assert!(matches!(e, ArchiveError::InvalidObject { index: 550, .. }), "{e:?}");

        // Garbage: does not decode, and the error names the object.
        std::fs::write(&path, b"\xff\xff garbage").unwrap();
        let e = sync_err(&store, &[]).await;
        assert!(
            matches!(&e, ArchiveError::InvalidObject { reason, key: k, .. } if *k == key && matches!(**reason, InvalidObject::Decode(_))),
            "{e:?}"
        );

        // A valid block of another chain at the same height: out of chain.
        std::fs::write(&path, crate::common::ledger_bytes(&other, 550)).unwrap();
        let e = sync_err(&store, &[]).await;
        assert!(
            matches!(&e, ArchiveError::InvalidObject { reason, key: k, .. } if *k == key && matches!(**reason, InvalidObject::WrongParent { .. })),
            "{e:?}"
        );
        assert!(e.to_string().contains("out of chain"), "{e}");

        // The right block under the wrong key.
        std::fs::write(&path, crate::common::ledger_bytes(&ledger, 551)).unwrap();
        let e = sync_err(&store, &[]).await;
        assert!(
            matches!(&e, ArchiveError::InvalidObject { reason, .. } if matches!(**reason, InvalidObject::WrongIndex { expected: 550, got: 551 })),
            "{e:?}"
        );
        std::fs::write(&path, &good).unwrap();
        // Bundles are read first: with single blocks intact, a bundle reader still refuses.

        // A corrupt bundle is refused with its key (bundles are read first).
        let bkey = bundle_key(100, 300);
        let bpath = root.join(&bkey);
        let mut b = std::fs::read(&bpath).unwrap();
        let n = b.len();
        b[n / 2] ^= 0x01;
        std::fs::write(&bpath, &b).unwrap();
        let e = sync_err(&store, &[100]).await;
        assert!(e.to_string().contains(&bkey), "{e}");
    });
}

#[test]
fn rollback_then_republish() {
    let (_, ledger) = shared_ledger();
    let tmp = tempfile::tempdir().unwrap();
    let store = DirStore::new(tmp.path().join("archive"));
    let state = tmp.path().join("state.json");
    rt().block_on(async {
        publish(
            &store,
            ledger.clone(),
            &state,
            StartFrom::Next,
            &BUCKETS,
            BLOCKS,
        )
        .await
        .unwrap();
        let report = rollback(&store, 555).await.unwrap();
        assert_eq!(report.blocks_deleted, BLOCKS - 555);
        // merged-10: 550.. and later (45 bundles: 550..1000); merged-100: 500..1000 (5);
        // merged-1000: 0 (1).
        assert_eq!(report.bundles_deleted, 45 + 5 + 1);
        assert_archive_exact(&store, &ledger, 555, &BUCKETS).await;
        // `last` finds the end of the archive and publishes the rest.
        publish(
            &store,
            ledger.clone(),
            &state,
            StartFrom::Last,
            &BUCKETS,
            BLOCKS,
        )
        .await
        .unwrap();
        assert_archive_exact(&store, &ledger, BLOCKS, &BUCKETS).await;
    });
}
