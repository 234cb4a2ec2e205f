//! Each refusal class of `append_block`, on the LMDB ledger and the mock; the ledger is
//! untouched after every refusal.

use mcnode_blockchain::{
    Block, BlockContents, BlockId, BlockMetadata, BlockSignature, MAX_BLOCK_VERSION,
};
use mcnode_ledger::{
    test_utils::{random_key_image, Signers},
    AppendError, Ledger, LedgerError, MockLedger,
};

/// The block version of the ledgers these tests grow.
const V1: u32 = 1;

use crate::common::{grow, new_ledger, real_outputs, rng};

type Case = (
    &'static str,
    Block,
    BlockContents,
    Option<BlockSignature>,
    Option<BlockMetadata>,
    fn(&AppendError) -> bool,
);

/// Refused candidates for the block after a 2-block ledger, and the good one.
fn cases<L: Ledger>(
    ledger: &L,
) -> (
    Vec<Case>,
    (Block, BlockContents, BlockSignature, BlockMetadata),
) {
    let mut rng = rng(77);
    let signers = Signers::from_seed(3);
    let last = ledger.last_block().unwrap();
    let old_output = ledger.tx_out(1).unwrap();
    let spent = ledger.block_contents(1).unwrap().key_images[0];

    let good_contents =
        BlockContents::new(vec![random_key_image(&mut rng)], real_outputs(&mut rng, 3));
    let good = ledger.next_block(&good_contents).unwrap();
    let (sig, meta) = signers.sign(&good, 5);
    let root = good.root_element;
    let count = good.cumulative_txo_count;
    let hash = good.contents_hash;
    let mut cases: Vec<Case> = Vec::new();

    let empty = BlockContents::new(vec![random_key_image(&mut rng)], vec![]);
    cases.push((
        "no outputs",
        Block::new_child(&last, &empty, root),
        empty,
        None,
        None,
        |e| matches!(e, AppendError::NoOutputs),
    ));

    let mut unsorted = good_contents.clone();
    unsorted.outputs.reverse();
    let b = Block::new(V1, last.id, last.index + 1, count, root, unsorted.hash());
    cases.push(("unsorted", b, unsorted, None, None, |e| {
        matches!(e, AppendError::UnsortedContents)
    }));

    let mut other = good_contents.clone();
    other.key_images.push(random_key_image(&mut rng));
    other.key_images.sort();
    cases.push(("contents hash", good.clone(), other, None, None, |e| {
        matches!(e, AppendError::ContentsHashMismatch)
    }));

    let b = Block::new(
        MAX_BLOCK_VERSION + 1,
        last.id,
        last.index + 1,
        count,
        root,
        hash,
    );
    cases.push(("version", b, good_contents.clone(), None, None, |e| {
        matches!(e, AppendError::UnsupportedVersion { .. })
    }));

    let b = Block::new(V1, last.id, last.index + 2, count, root, hash);
    cases.push(("index", b, good_contents.clone(), None, None, |e| {
        matches!(
            e,
            AppendError::WrongIndex {
                expected: 2,
                got: 3
            }
        )
    }));

    let b = Block::new(V1, BlockId([7; 32]), last.index + 1, count, root, hash);
    cases.push(("parent", b, good_contents.clone(), None, None, |e| {
        matches!(e, AppendError::WrongParent { .. })
    }));

    let b = Block::new(V1, last.id, last.index + 1, count + 1, root, hash);
    cases.push(("count", b, good_contents.clone(), None, None, |e| {
        matches!(e, AppendError::WrongCumulativeCount { .. })
    }));

    let mut b = good.clone();
    b.id.0[0] ^= 1;
    cases.push(("block id", b, good_contents.clone(), None, None, |e| {
        matches!(e, AppendError::InvalidBlockId(_))
    }));

    let respent = BlockContents::new(vec![spent], good_contents.outputs.clone());
    let b = ledger.next_block(&respent).unwrap();
    cases.push(("key image spent", b, respent, None, None, |e| {
        matches!(e, AppendError::KeyImageSpent { block: 1, .. })
    }));

    let mut outs = good_contents.outputs.clone();
    outs.push(old_output);
    let dup = BlockContents::new(good_contents.key_images.clone(), outs);
    let b = ledger.next_block(&dup).unwrap();
    cases.push(("output present", b, dup, None, None, |e| {
        matches!(e, AppendError::DuplicateOutput { index: 1, .. })
    }));

    let b = Block::new(V1, last.id, last.index + 1, count, last.root_element, hash);
    cases.push(("root element", b, good_contents.clone(), None, None, |e| {
        matches!(e, AppendError::WrongRootElement)
    }));

    let wrong_sig = signers.sign(&last, 5).0;
    cases.push((
        "signature",
        good.clone(),
        good_contents.clone(),
        Some(wrong_sig),
        None,
        |e| matches!(e, AppendError::BadSignature),
    ));

    let other_meta = signers.sign(&last, 5).1;
    cases.push((
        "metadata block",
        good.clone(),
        good_contents.clone(),
        Some(sig.clone()),
        Some(other_meta),
        |e| matches!(e, AppendError::MetadataForOtherBlock { .. }),
    ));

    let mut bad_meta = meta.clone();
    bad_meta.signature.0[10] ^= 4;
    cases.push((
        "metadata signature",
        good.clone(),
        good_contents.clone(),
        Some(sig.clone()),
        Some(bad_meta),
        |e| matches!(e, AppendError::BadMetadataSignature),
    ));

    (cases, (good, good_contents, sig, meta))
}

fn check_refusals<L: Ledger>(ledger: &L, snapshot: &dyn Fn() -> String) {
    let before = snapshot();
    let (cases, (good, contents, sig, meta)) = cases(ledger);
    assert_eq!(cases.len(), 14);
    for (name, block, contents, sig, meta, expected) in &cases {
        match ledger.append_block(block, contents, sig.as_ref(), meta.as_ref()) {
            Err(LedgerError::Refused(e)) => {
                assert!(expected(&e), "{name}: unexpected refusal {e:?}")
            }
            other => panic!("{name}: expected a refusal, got {other:?}"),
        }
        assert_eq!(snapshot(), before, "{name}: ledger changed");
    }
    ledger
        .append_block(&good, &contents, Some(&sig), Some(&meta))
        .unwrap();
    assert_eq!(ledger.num_blocks().unwrap(), 3);
    assert_eq!(ledger.block_signature(2).unwrap(), Some(sig));
    assert_eq!(ledger.block_metadata(2).unwrap(), Some(meta));
}

#[test]
fn lmdb_refuses_each_class_and_stays_untouched() {
    let (_dir, ledger) = new_ledger();
    grow(&ledger, &mut rng(1), &[3, 2]);
    check_refusals(&ledger, &|| crate::common::digest(&ledger.dump().unwrap()));
    ledger.verify(&mut |_, _| {}).unwrap();
}

#[test]
fn mock_refuses_the_same() {
    let ledger = MockLedger::new();
    grow(&ledger, &mut rng(1), &[3, 2]);
    check_refusals(&ledger, &|| {
        format!(
            "{:?} {:?}",
            ledger.num_blocks().unwrap(),
            ledger.tree_root().unwrap()
        )
    });
}

#[test]
fn origin_rules() {
    let (_dir, ledger) = new_ledger();
    assert!(matches!(ledger.last_block(), Err(LedgerError::Empty)));
    let mut rng = rng(2);
    let contents = BlockContents::new(vec![], real_outputs(&mut rng, 2));
    let origin = ledger.next_block(&contents).unwrap();
    let orphan = Block::new(
        V1,
        BlockId([1; 32]),
        0,
        2,
        origin.root_element,
        origin.contents_hash,
    );
    assert!(matches!(
        ledger.append_block(&orphan, &contents, None, None),
        Err(LedgerError::Refused(AppendError::WrongParent { .. }))
    ));
    ledger.append_block(&origin, &contents, None, None).unwrap();
    assert_eq!(ledger.num_txos().unwrap(), 2);
    assert_eq!(ledger.block_signature(0).unwrap(), None);
    assert!(matches!(
        ledger.block(1),
        Err(LedgerError::NoSuchBlock {
            index: 1,
            num_blocks: 1
        })
    ));
    assert!(matches!(
        ledger.tx_out(2),
        Err(LedgerError::NoSuchTxOut {
            index: 2,
            num_txos: 2
        })
    ));
    assert_eq!(
        ledger
            .tx_out_index(&contents.outputs[1].target_key)
            .unwrap(),
        Some(1)
    );
}

/// Block versions go up (at a network upgrade) and never back; an unknown version is
/// refused. Checked on LMDB and the mock, and by `verify`.
fn versions_rise_never_fall<L: Ledger>(ledger: &L) {
    let mut rng = rng(12);
    let signers = Signers::from_seed(4);
    grow(ledger, &mut rng, &[2, 1]);
    let append = |version: u32, rng: &mut rand_chacha::ChaCha20Rng| {
        let contents = BlockContents::new(vec![random_key_image(rng)], real_outputs(rng, 1));
        let block = ledger.next_block_at(version, &contents).unwrap();
        let (sig, meta) = signers.sign(&block, 9);
        ledger.append_block(&block, &contents, Some(&sig), Some(&meta))
    };
    for v in [0, MAX_BLOCK_VERSION + 1] {
        assert!(matches!(
            append(v, &mut rng),
            Err(LedgerError::Refused(AppendError::UnsupportedVersion { got, supported }))
                if got == v && supported == MAX_BLOCK_VERSION
        ));
    }
    append(2, &mut rng).unwrap();
    assert_eq!(ledger.last_block().unwrap().version, 2);
    let err = append(1, &mut rng).unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::Refused(AppendError::VersionBelowParent { parent: 2, got: 1 })
        ),
        "{err}"
    );
    // The same version again, and up: fine; a block without a version bump keeps it.
    append(2, &mut rng).unwrap();
    append(MAX_BLOCK_VERSION, &mut rng).unwrap();
    let contents = BlockContents::new(vec![], real_outputs(&mut rng, 1));
    assert_eq!(
        ledger.next_block(&contents).unwrap().version,
        MAX_BLOCK_VERSION
    );
}

#[test]
fn block_versions_rise_and_never_fall() {
    let (_dir, lmdb) = new_ledger();
    versions_rise_never_fall(&lmdb);
    lmdb.verify(&mut |_, _| {}).unwrap();
    versions_rise_never_fall(&MockLedger::new());
}

#[test]
fn lmdb_and_mock_agree_on_lookups() {
    let (_dir, lmdb) = new_ledger();
    let mock = MockLedger::new();
    let blocks = grow(&lmdb, &mut rng(3), &[4, 1, 7, 2, 9]);
    for (b, c, s, m) in &blocks {
        mock.append_block(b, c, s.as_ref(), m.as_ref()).unwrap();
    }
    for i in 0..5 {
        assert_eq!(lmdb.block(i).unwrap(), mock.block(i).unwrap());
        assert_eq!(
            lmdb.block_contents(i).unwrap(),
            mock.block_contents(i).unwrap()
        );
        assert_eq!(lmdb.block_contents(i).unwrap(), blocks[i as usize].1);
        for ki in &blocks[i as usize].1.key_images {
            assert_eq!(lmdb.key_image_block(ki).unwrap(), Some(i));
            assert_eq!(mock.key_image_block(ki).unwrap(), Some(i));
        }
    }
    for i in 0..lmdb.num_txos().unwrap() {
        assert_eq!(
            lmdb.membership_proof(i).unwrap(),
            mock.membership_proof(i).unwrap()
        );
        let o = lmdb.tx_out(i).unwrap();
        assert_eq!(lmdb.tx_out_index(&o.target_key).unwrap(), Some(i));
    }
    assert_eq!(lmdb.tree_root().unwrap(), mock.tree_root().unwrap());
    assert!(!lmdb
        .contains_key_image(&random_key_image(&mut rng(4)))
        .unwrap());
}
