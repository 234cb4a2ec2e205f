//! The sync core: blocks verified against their predecessor before they are appended.

use mcnode_archive::InvalidObject;
use mcnode_blockchain::{BlockId, BlockSignature};
use mcnode_crypto::Ed25519Signer;
use mcnode_ledger::{test_utils::Signers, Ledger};
use mcnode_wallet::{LocalLedger, WalletError};

use crate::common::*;

/// A node ledger of the standard origin and three signed blocks of fresh outputs.
fn chain(dir: &std::path::Path, seed: u64) -> (mcnode_ledger::LmdbLedger, Accounts) {
    let mut rng = rng(seed);
    let a = Accounts::new(&mut rng);
    let node = node_ledger(&dir.join("node"), standard_origin_outputs(&a, &mut rng));
    let signers = Signers::from_seed(9);
    for n in 1..4 {
        commit_outputs(&node, pay(&a.stranger, &[n, n + 1], &mut rng), &signers);
    }
    (node, a)
}

#[test]
fn a_verified_chain_is_appended_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (node, _) = chain(dir.path(), 20);
    let local = LocalLedger::open_or_create(dir.path().join("local")).unwrap();
    assert_eq!(local.height().unwrap(), 0);
    // The origin alone, then the rest in two chunks.
    assert_eq!(local.apply_blocks(&archive_blocks(&node, 0, 1)).unwrap(), 1);
    assert_eq!(local.apply_blocks(&archive_blocks(&node, 1, 3)).unwrap(), 3);
    assert_eq!(local.apply_blocks(&archive_blocks(&node, 3, 4)).unwrap(), 4);
    assert_eq!(local.apply_blocks(&[]).unwrap(), 4);
    for i in 0..4 {
        assert_eq!(local.ledger().block(i).unwrap(), node.block(i).unwrap());
    }
    assert_eq!(
        local.ledger().tree_root().unwrap(),
        node.tree_root().unwrap()
    );
}

fn expect_verify(r: Result<u64, WalletError>) -> (u64, InvalidObject) {
    match r {
        Err(WalletError::Verify { index, reason }) => (index, reason),
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

#[test]
fn tampered_blocks_are_refused_naming_the_index_and_never_appended() {
    let dir = tempfile::tempdir().unwrap();
    let (node, a) = chain(dir.path(), 21);
    let local = LocalLedger::open_or_create(dir.path().join("local")).unwrap();
    let good = archive_blocks(&node, 0, 4);

    // Contents changed (an output swapped for another): the contents hash no longer
    // matches.
    let mut blocks = good.clone();
    let mut rng = rng(99);
    blocks[2].contents.outputs[0] = pay(&a.stranger, &[7], &mut rng)[0];
    blocks[2].contents.outputs.sort_by_key(|o| o.target_key);
    let (index, reason) = expect_verify(local.apply_blocks(&blocks));
    assert_eq!((index, reason), (2, InvalidObject::ContentsHash));
    // Blocks before the bad one were appended, the bad one and after were not.
    assert_eq!(local.height().unwrap(), 2);

    // A signature by a key that did not sign this block.
    let mut forged = good[2].clone();
    let other = &good[3].block;
    forged.signature = Some(BlockSignature::sign(
        other,
        &Ed25519Signer::from_seed(&[42; 32]),
        1,
    ));
    let (index, reason) = expect_verify(local.apply_blocks(&[forged]));
    assert_eq!((index, reason), (2, InvalidObject::BadSignature));

    // A block id that is not the hash of the block.
    let mut bad_id = good[2].clone();
    bad_id.block.id = BlockId([5; 32]);
    let (index, reason) = expect_verify(local.apply_blocks(&[bad_id]));
    assert_eq!(index, 2);
    assert!(matches!(reason, InvalidObject::BadBlockId(_)), "{reason:?}");

    // A block that skips one, and a block from another chain.
    let (index, reason) = expect_verify(local.apply_blocks(&good[3..4]));
    assert_eq!(index, 2);
    assert!(matches!(
        reason,
        InvalidObject::WrongIndex {
            expected: 2,
            got: 3
        }
    ));
    let other_dir = tempfile::tempdir().unwrap();
    let (other_chain, _) = chain(other_dir.path(), 22);
    let (index, reason) = expect_verify(local.apply_blocks(&archive_blocks(&other_chain, 2, 3)));
    assert_eq!(index, 2);
    assert!(
        matches!(reason, InvalidObject::WrongParent { .. }),
        "{reason:?}"
    );
    assert_eq!(local.height().unwrap(), 2);

    // The genuine blocks still go on.
    assert_eq!(local.apply_blocks(&good[2..]).unwrap(), 4);
}

#[test]
fn an_empty_copy_takes_only_a_valid_origin_block() {
    let dir = tempfile::tempdir().unwrap();
    let (node, _) = chain(dir.path(), 23);
    let local = LocalLedger::open_or_create(dir.path().join("local")).unwrap();
    // A later block cannot start the copy.
    let (index, reason) = expect_verify(local.apply_blocks(&archive_blocks(&node, 1, 2)));
    assert_eq!(index, 0);
    assert!(matches!(
        reason,
        InvalidObject::WrongIndex {
            expected: 0,
            got: 1
        }
    ));
    // An origin whose cumulative count lies.
    let mut origin = archive_blocks(&node, 0, 1);
    origin[0].block.cumulative_txo_count += 1;
    let (index, _) = expect_verify(local.apply_blocks(&origin));
    assert_eq!(index, 0);
    assert_eq!(local.height().unwrap(), 0);
    // Reopening keeps what was appended.
    local.apply_blocks(&archive_blocks(&node, 0, 2)).unwrap();
    drop(local);
    let local = LocalLedger::open_or_create(dir.path().join("local")).unwrap();
    assert_eq!(local.height().unwrap(), 2);
}

/// Writes blocks `0..n` of `ledger` into a directory archive, as `ledger-distribution`
/// lays them out.
fn write_archive<L: Ledger>(ledger: &L, root: &std::path::Path) {
    for a in archive_blocks(ledger, 0, ledger.num_blocks().unwrap()) {
        let path = root.join(mcnode_archive::layout::block_key(a.block.index));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, mcnode_blockchain::encoding::encode_archive_block(&a)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_syncs_from_a_directory_archive_and_refuses_a_tampered_object() {
    let dir = tempfile::tempdir().unwrap();
    let (node, a) = chain(dir.path(), 24);
    let root = dir.path().join("archive");
    write_archive(&node, &root);
    let url: mcnode_archive::ArchiveUrl = format!("file://{}", root.display()).parse().unwrap();

    let local = LocalLedger::open_or_create(dir.path().join("local")).unwrap();
    let report = local.sync_from_archive(&url).await.unwrap();
    assert_eq!((report.from, report.to, report.tip), (0, 4, None));
    assert_eq!(
        local.ledger().last_block().unwrap(),
        node.last_block().unwrap()
    );
    let mut alice = mcnode_wallet::Wallet::new(a.alice.clone(), local);
    assert_eq!(alice.balance().unwrap().unspent, u128::from(35 * FEE));

    // Another copy, from an archive whose block 2 was tampered with: refused, and nothing
    // of the chunk that held it is appended.
    let mut rng = rng(98);
    commit_outputs(
        &node,
        pay(&a.stranger, &[9], &mut rng),
        &Signers::from_seed(9),
    );
    let mut blocks = archive_blocks(&node, 2, 3);
    blocks[0].contents.outputs[0] = pay(&a.stranger, &[8], &mut rng)[0];
    blocks[0].contents.outputs.sort_by_key(|o| o.target_key);
    std::fs::write(
        root.join(mcnode_archive::layout::block_key(2)),
        mcnode_blockchain::encoding::encode_archive_block(&blocks[0]),
    )
    .unwrap();
    let other = LocalLedger::open_or_create(dir.path().join("other")).unwrap();
    let err = other.sync_from_archive(&url).await.unwrap_err();
    assert!(matches!(err, WalletError::Archive(_)), "{err}");
    assert!(err.to_string().contains("contents hash"), "{err}");
    assert_eq!(other.height().unwrap(), 0);
}
