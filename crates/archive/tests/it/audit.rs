//! `audit_archive`: a directory archive compared with its ledger block by block: clean,
//! a hole, a divergent block, blocks past a rolled-back ledger, lag.

use bytes::Bytes;
use mcnode_archive::{audit::audit_archive, layout::block_key, ArchiveStore, DirStore};
use mcnode_blockchain::BlockId;
use mcnode_ledger::{Ledger, LmdbLedger};

use crate::common::{ledger_bytes, make_ledger, rt};

fn ids(ledger: &LmdbLedger, from: u64) -> Vec<BlockId> {
    (from..ledger.num_blocks().unwrap())
        .map(|i| ledger.block(i).unwrap().id)
        .collect()
}

#[test]
fn an_archive_is_audited_block_by_block() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = make_ledger(&tmp.path().join("ledger"), 30, 5);
    let other = make_ledger(&tmp.path().join("other"), 30, 6);
    let store = DirStore::new(tmp.path().join("archive"));
    let rt = rt();
    rt.block_on(async {
        store.probe(true).await.unwrap();
        for i in 0..30 {
            store
                .put(&block_key(i), Bytes::from(ledger_bytes(&ledger, i)))
                .await
                .unwrap();
        }
        // Clean: everything present, nothing to say.
        let a = audit_archive(&store, 0, &ids(&ledger, 0)).await.unwrap();
        assert!(a.listed);
        assert_eq!((a.blocks_present, a.contiguous_height, a.lag), (30, 30, 0));
        assert_eq!(a.highest_present, Some(29));
        assert!(a.problems(0).is_empty(), "{:?}", a.problems(0));

        // A hole at 10, and block 20 from another chain.
        store.delete(&block_key(10)).await.unwrap();
        store
            .put(&block_key(20), Bytes::from(ledger_bytes(&other, 20)))
            .await
            .unwrap();
        let a = audit_archive(&store, 0, &ids(&ledger, 0)).await.unwrap();
        assert_eq!(a.holes, vec![10]);
        assert_eq!(a.contiguous_height, 10);
        assert_eq!(a.lag, 20);
        assert_eq!(a.divergent_count, 1);
        assert_eq!(a.divergent[0].index, 20);
        assert_eq!(
            a.divergent[0].ledger_id,
            ledger.block(20).unwrap().id.to_string()
        );
        assert_eq!(
            a.divergent[0].archive_id,
            other.block(20).unwrap().id.to_string()
        );
        let p = a.problems(100);
        assert!(
            p.iter()
                .any(|l| l.contains("1 block(s) differ from the ledger, the first at index 20")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|l| l.contains("1 hole(s), the first at index 10")),
            "{p:?}"
        );
        // Auditing from 11 on skips the hole.
        let a = audit_archive(&store, 11, &ids(&ledger, 11)).await.unwrap();
        assert_eq!(a.holes_count, 0);
        assert_eq!(a.divergent_count, 1);

        // Repaired, then an unreadable object.
        store
            .put(&block_key(10), Bytes::from(ledger_bytes(&ledger, 10)))
            .await
            .unwrap();
        store
            .put(&block_key(20), Bytes::from(ledger_bytes(&ledger, 20)))
            .await
            .unwrap();
        store
            .put(&block_key(5), Bytes::from_static(b"not a block"))
            .await
            .unwrap();
        let a = audit_archive(&store, 0, &ids(&ledger, 0)).await.unwrap();
        assert_eq!(a.unreadable.len(), 1);
        assert_eq!(a.unreadable[0].index, 5);
        store
            .put(&block_key(5), Bytes::from(ledger_bytes(&ledger, 5)))
            .await
            .unwrap();
        // Block 7's object holding block 8.
        store
            .put(&block_key(7), Bytes::from(ledger_bytes(&ledger, 8)))
            .await
            .unwrap();
        let a = audit_archive(&store, 0, &ids(&ledger, 0)).await.unwrap();
        assert!(
            a.unreadable[0].reason.contains("holds block 8"),
            "{:?}",
            a.unreadable
        );
        store
            .put(&block_key(7), Bytes::from(ledger_bytes(&ledger, 7)))
            .await
            .unwrap();
    });

    // The ledger rolled back to 25 while the archive kept 25..30: the blocks to withdraw.
    ledger.rollback(25).unwrap();
    rt.block_on(async {
        let a = audit_archive(&store, 0, &ids(&ledger, 0)).await.unwrap();
        assert_eq!(a.beyond_ledger_count, 5);
        let idx: Vec<u64> = a.beyond_ledger.iter().map(|e| e.index).collect();
        assert_eq!(idx, vec![25, 26, 27, 28, 29]);
        assert_eq!(a.lag, 0);
        assert!(a.problems(0)[0].contains("5 block(s) past the ledger's height 25"));
    });

    // The ledger ahead of its archive: lag, a problem only above --max-lag.
    let ahead = make_ledger(&tmp.path().join("ahead"), 40, 5);
    rt.block_on(async {
        let a = audit_archive(&store, 0, &ids(&ahead, 0)).await.unwrap();
        assert_eq!(a.lag, 10);
        assert!(a.problems(10).is_empty(), "{:?}", a.problems(10));
        assert!(a.problems(9)[0].contains("10 block(s) behind the ledger"));
    });
}
