//! Integration tests of mcnode-blockchain.
#![allow(clippy::unwrap_used, missing_docs)]

use mcnode_blockchain::{
    encoding::{self, DecodeError},
    origin_block, origin_block_paying, ArchiveBlock, Block, BlockContents, BlockMetadata,
    BlockMetadataContents, BlockSignature, QuorumMemberRecord, QuorumSetRecord,
};
use mcnode_crypto::{hash::hash32, CompressedPoint, Ed25519Signer, KeyImage, RistrettoPrivate};
use mcnode_transaction::{AccountKey, MaskedAmount, TxOut};
use rand::SeedableRng;

fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    rand_chacha::ChaCha20Rng::seed_from_u64(seed)
}

fn key(byte: u8) -> CompressedPoint {
    let mut b = [0u8; 32];
    b[0] = byte;
    RistrettoPrivate::from_bytes(&b)
        .unwrap()
        .public()
        .compressed()
}

fn fixed_out(n: u8) -> TxOut {
    TxOut {
        target_key: key(n),
        public_key: key(n + 50),
        amount: MaskedAmount {
            commitment: key(n + 100),
            masked_value: u64::from(n) * 1000,
        },
    }
}

fn fixed_chain() -> (
    Block,
    BlockContents,
    Block,
    BlockContents,
    BlockSignature,
    BlockMetadata,
) {
    let (origin, origin_contents) =
        origin_block(vec![fixed_out(1), fixed_out(2), fixed_out(3)]).unwrap();
    let contents = BlockContents::new(
        vec![KeyImage(key(200)), KeyImage(key(201))],
        vec![fixed_out(7), fixed_out(6)],
    );
    let mut tree = mcnode_transaction::TxOutTree::new();
    for o in origin_contents.outputs.iter().chain(&contents.outputs) {
        tree.push(*o);
    }
    let block = Block::new_child(&origin, &contents, tree.root().unwrap());
    let signer = Ed25519Signer::from_seed(&[4u8; 32]);
    let sig = BlockSignature::sign(&block, &signer, 1_700_000_000);
    let meta = BlockMetadata::sign(
        BlockMetadataContents {
            block_id: block.id,
            quorum_set: QuorumSetRecord {
                threshold: 2,
                members: vec![
                    QuorumMemberRecord::Node("node1.test:8443".into()),
                    QuorumMemberRecord::InnerSet(QuorumSetRecord {
                        threshold: 1,
                        members: vec![
                            QuorumMemberRecord::Node("node2.test:8443".into()),
                            QuorumMemberRecord::Node("node3.test:8443".into()),
                        ],
                    }),
                ],
            },
            attestation_evidence: vec![1, 2, 3],
            responder_id: "node0.test:8443".into(),
        },
        &Ed25519Signer::from_seed(&[5u8; 32]),
    );
    (origin, origin_contents, block, contents, sig, meta)
}

#[test]
fn golden_block_ids_and_encodings() {
    let (origin, _, block, contents, sig, meta) = fixed_chain();
    assert_eq!(
        origin.id.to_string(),
        "8b7cdc212f1802978862ee774d164113f41e4d6ceec8327cc2753f4c56018a23"
    );
    assert_eq!(
        block.id.to_string(),
        "75d7316ea3ee08b1d4608cb27198b2a873b003c73825df93e853a05376b4a88f"
    );
    assert_eq!(
        hex::encode(contents.hash().0),
        "a75449d15e19ed9accc20b72c4830a4fd07add53dc01f388a3c334b492adcd3e"
    );
    let archive = ArchiveBlock {
        block,
        contents,
        signature: Some(sig),
        metadata: Some(meta),
    };
    let bytes = encoding::encode_archive_block(&archive);
    assert_eq!(
        hex::encode(hash32("test", &[&bytes])),
        "4ab63fd2c8e28ef08a7a21a2c36aba6c26446c00c0089e363206eb6704dd0e80"
    );
}

#[test]
fn chain_links_and_ids_check() {
    let (origin, oc, block, contents, sig, meta) = fixed_chain();
    assert_eq!(origin.index, 0);
    assert_eq!(origin.cumulative_txo_count, 3);
    assert!(oc.key_images.is_empty() && oc.is_sorted());
    assert_eq!(block.parent_id, origin.id);
    assert_eq!(block.index, 1);
    assert_eq!(block.cumulative_txo_count, 5);
    assert!(block.is_id_valid() && origin.is_id_valid());
    assert!(contents.is_sorted());
    let mut tampered = block.clone();
    tampered.cumulative_txo_count += 1;
    assert!(!tampered.is_id_valid());
    assert_eq!(sig.verify(&block), Ok(()));
    assert!(sig.verify(&origin).is_err());
    assert_eq!(meta.verify(), Ok(()));
    let mut m2 = meta.clone();
    m2.contents.responder_id.push('x');
    assert!(m2.verify().is_err());
}

#[test]
fn encodings_round_trip() {
    let (origin, oc, block, contents, sig, meta) = fixed_chain();
    assert_eq!(
        encoding::decode_block(&encoding::encode_block(&block)),
        Ok(block.clone())
    );
    assert_eq!(
        encoding::decode_contents(&encoding::encode_contents(&contents)),
        Ok(contents.clone())
    );
    assert_eq!(
        encoding::decode_signature(&encoding::encode_signature(&sig)),
        Ok(sig.clone())
    );
    assert_eq!(
        encoding::decode_metadata(&encoding::encode_metadata(&meta)),
        Ok(meta.clone())
    );
    let out = contents.outputs[0];
    assert_eq!(
        encoding::decode_tx_out(&encoding::encode_tx_out(&out)),
        Ok(out)
    );
    for a in [
        ArchiveBlock {
            block: origin,
            contents: oc,
            signature: None,
            metadata: None,
        },
        ArchiveBlock {
            block,
            contents,
            signature: Some(sig),
            metadata: Some(meta),
        },
    ] {
        assert_eq!(
            encoding::decode_archive_block(&encoding::encode_archive_block(&a)),
            Ok(a)
        );
    }
}

#[test]
fn malformed_bytes_are_typed_errors() {
    let (_, _, block, contents, sig, meta) = fixed_chain();
    let bytes = encoding::encode_archive_block(&ArchiveBlock {
        block: block.clone(),
        contents,
        signature: Some(sig),
        metadata: Some(meta),
    });
    // Every truncation fails cleanly (or, at a field boundary, decodes to something that
    // differs or lacks a required field): never a panic.
    for n in 0..bytes.len() {
        let _ = encoding::decode_archive_block(&bytes[..n]);
    }
    assert!(matches!(
        encoding::decode_archive_block(&bytes[..bytes.len() / 2]),
        Err(DecodeError::Malformed { .. }) | Err(DecodeError::BadField(_))
    ));
    assert!(matches!(
        encoding::decode_block(&[0xff, 0xff]),
        Err(DecodeError::Malformed {
            message: "Block",
            ..
        })
    ));
    // A block whose id is 31 bytes.
    let mut b = encoding::encode_block(&block);
    assert_eq!(b[0], 0x0a);
    assert_eq!(b[1], 32);
    b[1] = 31;
    b.remove(2);
    assert_eq!(
        encoding::decode_block(&b),
        Err(DecodeError::BadField("block.id"))
    );
    assert_eq!(
        encoding::decode_block(&[]),
        Err(DecodeError::BadField("block.id"))
    );
    // Another archive format version.
    let mut v2 = bytes.clone();
    assert_eq!(&v2[..2], &[0x08, 0x01]);
    v2[1] = 2;
    assert_eq!(
        encoding::decode_archive_block(&v2),
        Err(DecodeError::UnsupportedVersion(2))
    );
}

#[test]
fn origin_block_pays_accounts() {
    let mut r = rng(1);
    let accounts: Vec<AccountKey> = (0..3).map(|_| AccountKey::random(&mut r)).collect();
    let addresses: Vec<_> = accounts.iter().map(AccountKey::default_address).collect();
    let (block, contents) = origin_block_paying(&addresses, 1_000, 2, &mut r).unwrap();
    assert_eq!(block.cumulative_txo_count, 6);
    for a in &accounts {
        let mine: u64 = contents
            .outputs
            .iter()
            .filter_map(|o| o.recover(a, &[0]))
            .map(|o| o.value)
            .sum();
        assert_eq!(mine, 2_000);
    }
    assert_eq!(
        origin_block(vec![]).err(),
        Some(mcnode_blockchain::OriginError::NoOutputs)
    );
    assert_eq!(
        origin_block(vec![fixed_out(1), fixed_out(1)]).err(),
        Some(mcnode_blockchain::OriginError::DuplicateOutput)
    );
}

#[test]
fn transactions_round_trip_and_truncations_fail_cleanly() {
    let mut r = rng(3);
    let f = mcnode_transaction::test_utils::Fixture::new(&mut r, 20, &[10_000_000_000]);
    let tx = f.tx(1, 2, &mut r);
    let bytes = encoding::encode_tx(&tx);
    assert_eq!(encoding::decode_tx(&bytes), Ok(tx.clone()));
    for n in (0..bytes.len()).step_by(7) {
        if let Ok(t) = encoding::decode_tx(&bytes[..n]) {
            assert_ne!(t, tx);
        }
    }
}

fn fixed_tx() -> mcnode_transaction::Tx {
    use mcnode_crypto::{RingMlsag, ScalarBytes};
    use mcnode_transaction::{
        membership::{Range, TreeElement},
        SignatureRct, Tx, TxIn, TxOutMembershipProof, TxPrefix,
    };
    let proof = TxOutMembershipProof {
        index: 1,
        highest_index: 2,
        elements: vec![
            TreeElement {
                range: Range { from: 0, to: 0 },
                hash: [3u8; 32],
            },
            TreeElement {
                range: Range { from: 2, to: 3 },
                hash: [4u8; 32],
            },
        ],
    };
    Tx {
        prefix: TxPrefix {
            inputs: vec![TxIn {
                ring: vec![fixed_out(1), fixed_out(2)],
                proofs: vec![proof.clone(), proof],
            }],
            outputs: vec![fixed_out(3)],
            fee: 400_000_000,
            tombstone_block: 77,
        },
        signature: SignatureRct {
            ring_signatures: vec![RingMlsag {
                c_zero: ScalarBytes([5u8; 32]),
                responses: vec![ScalarBytes([6u8; 32]); 4],
                key_image: KeyImage(CompressedPoint([7u8; 32])),
            }],
            pseudo_output_commitments: vec![key(99)],
            range_proof: vec![1, 2, 3],
        },
    }
}

/// The bytes of every ledger message are frozen (format version 1): the digest of each
/// encoding of a fixed value.
#[test]
fn golden_encodings_of_every_message() {
    let (origin, oc, _block, contents, sig, meta) = fixed_chain();
    let digest = |bytes: Vec<u8>| hex::encode(hash32("golden", &[&bytes]));
    let got = [
        digest(encoding::encode_tx_out(&fixed_out(9))),
        digest(encoding::encode_block(&origin)),
        digest(encoding::encode_contents(&oc)),
        digest(encoding::encode_contents(&contents)),
        digest(encoding::encode_signature(&sig)),
        digest(encoding::encode_metadata(&meta)),
        digest(encoding::encode_tx(&fixed_tx())),
    ];
    let want: [&str; 7] = [
        "6de99e9c32f5bab88e9c9e51af4c4d53df89f7fdaad59be9866f7583d7267688",
        "426be133f6dc34ab7f9a442fc61070b44cb2c7bc846933dc4456d0356692adbb",
        "b28abc8a1d8c7833668a47de8a8bd908b3a14e3d9359142c817d624c9d23b8c1",
        "db4449754ba6419197253c0710d1bffc73493aae1dd7c3f0fd4f963a3b0b2d73",
        "3db58ffeac6856804e3e36648777f55ff2b5361a9f1364e59c71fce5bae10b41",
        "8641e13c4120c372f697e3f2f6ef382a232bf5882386820eb835f722c09fa673",
        "2280d87835f533d68114b51e9a10b5b62f89010158cb2f7e433d3bb8bc62735f",
    ];
    assert_eq!(got, want);
}
