//! Hostile input: mutated transactions get a typed error, never a panic.

use std::sync::LazyLock;

use mcnode_crypto::CompressedPoint;
use mcnode_transaction::{
    constants::DEFAULT_MINIMUM_FEE, membership, test_utils::Fixture, validate, Tx,
};
use proptest::prelude::*;

pub(crate) static CASE: LazyLock<(Fixture, Tx)> = LazyLock::new(|| {
    let mut rng = crate::rng(77);
    let f = Fixture::new(
        &mut rng,
        30,
        &[10 * DEFAULT_MINIMUM_FEE, 10 * DEFAULT_MINIMUM_FEE],
    );
    let tx = f.tx(2, 3, &mut rng);
    (f, tx)
});

#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    PointByte {
        input: usize,
        member: usize,
        byte: usize,
        value: u8,
    },
    OutputByte {
        output: usize,
        byte: usize,
        value: u8,
    },
    ProofIndex {
        input: usize,
        member: usize,
        index: u64,
        highest: u64,
    },
    ProofTruncate {
        input: usize,
        member: usize,
        keep: usize,
    },
    ProofExtend {
        input: usize,
        member: usize,
        extra: usize,
    },
    ScalarByte {
        input: usize,
        which: usize,
        value: u8,
    },
    KeyImage {
        input: usize,
        bytes: [u8; 32],
    },
    RangeProofTruncate(usize),
    RangeProofByte {
        byte: usize,
        value: u8,
    },
    Fee(u64),
    Tombstone(u64),
    PseudoOutput {
        input: usize,
        bytes: [u8; 32],
    },
}

pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..2usize, 0..11usize, 0..32usize, any::<u8>()).prop_map(
            |(input, member, byte, value)| Mutation::PointByte {
                input,
                member,
                byte,
                value
            }
        ),
        (0..3usize, 0..32usize, any::<u8>()).prop_map(|(output, byte, value)| {
            Mutation::OutputByte {
                output,
                byte,
                value,
            }
        }),
        (0..2usize, 0..11usize, any::<u64>(), any::<u64>()).prop_map(
            |(input, member, index, highest)| Mutation::ProofIndex {
                input,
                member,
                index,
                highest
            }
        ),
        (0..2usize, 0..11usize, 0..8usize).prop_map(|(input, member, keep)| {
            Mutation::ProofTruncate {
                input,
                member,
                keep,
            }
        }),
        (0..2usize, 0..11usize, 1..70usize).prop_map(|(input, member, extra)| {
            Mutation::ProofExtend {
                input,
                member,
                extra,
            }
        }),
        (0..2usize, 0..22usize, any::<u8>()).prop_map(|(input, which, value)| {
            Mutation::ScalarByte {
                input,
                which,
                value,
            }
        }),
        (0..2usize, any::<[u8; 32]>())
            .prop_map(|(input, bytes)| Mutation::KeyImage { input, bytes }),
        (0..800usize).prop_map(Mutation::RangeProofTruncate),
        (0..700usize, any::<u8>())
            .prop_map(|(byte, value)| Mutation::RangeProofByte { byte, value }),
        any::<u64>().prop_map(Mutation::Fee),
        any::<u64>().prop_map(Mutation::Tombstone),
        (0..2usize, any::<[u8; 32]>())
            .prop_map(|(input, bytes)| Mutation::PseudoOutput { input, bytes }),
    ]
}

pub(crate) fn apply(tx: &mut Tx, m: &Mutation) {
    match m.clone() {
        Mutation::PointByte {
            input,
            member,
            byte,
            value,
        } => tx.prefix.inputs[input].ring[member].target_key.0[byte] = value,
        Mutation::OutputByte {
            output,
            byte,
            value,
        } => tx.prefix.outputs[output].amount.commitment.0[byte] = value,
        Mutation::ProofIndex {
            input,
            member,
            index,
            highest,
        } => {
            let p = &mut tx.prefix.inputs[input].proofs[member];
            p.index = index;
            p.highest_index = highest;
        }
        Mutation::ProofTruncate {
            input,
            member,
            keep,
        } => tx.prefix.inputs[input].proofs[member]
            .elements
            .truncate(keep),
        Mutation::ProofExtend {
            input,
            member,
            extra,
        } => {
            let p = &mut tx.prefix.inputs[input].proofs[member];
            for i in 0..extra {
                p.elements.push(membership::TreeElement {
                    range: membership::Range {
                        from: i as u64,
                        to: u64::MAX - i as u64,
                    },
                    hash: [i as u8; 32],
                });
            }
        }
        Mutation::ScalarByte {
            input,
            which,
            value,
        } => {
            tx.signature.ring_signatures[input].responses[which].0[31] = value;
        }
        Mutation::KeyImage { input, bytes } => {
            tx.signature.ring_signatures[input].key_image.0 = CompressedPoint(bytes)
        }
        Mutation::RangeProofTruncate(n) => tx.signature.range_proof.truncate(n),
        Mutation::RangeProofByte { byte, value } => {
            if let Some(b) = tx.signature.range_proof.get_mut(byte) {
                *b = value;
            }
        }
        Mutation::Fee(f) => tx.prefix.fee = f,
        Mutation::Tombstone(t) => tx.prefix.tombstone_block = t,
        Mutation::PseudoOutput { input, bytes } => {
            tx.signature.pseudo_output_commitments[input] = CompressedPoint(bytes)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mutated_transactions_never_panic(muts in proptest::collection::vec(mutation(), 1..4), block in prop_oneof![Just(10u64), any::<u64>()]) {
        let (fixture, tx) = &*CASE;
        let mut tx = tx.clone();
        for m in &muts {
            apply(&mut tx, m);
        }
        // Returns (no panic), and refuses anything that differs from the signed original.
        let result = validate(&tx, block, DEFAULT_MINIMUM_FEE, &fixture.tree);
        if tx != CASE.1 {
            prop_assert!(result.is_err(), "mutated tx accepted: {:?}", muts);
        }
    }
}

#[test]
fn extreme_indices_do_not_panic() {
    assert_eq!(membership::tree_height(u64::MAX), 64);
    assert_eq!(membership::tree_height(0), 0);
    assert_eq!(membership::tree_height(1), 1);
    assert_eq!(membership::tree_height(2), 2);
    assert_eq!(membership::tree_height(3), 2);
    assert_eq!(membership::tree_height(4), 3);
    let (_, tx) = &*CASE;
    let proof = membership::TxOutMembershipProof {
        index: u64::MAX,
        highest_index: u64::MAX,
        elements: (0..64u32)
            .map(|l| membership::TreeElement {
                range: membership::Range { from: 0, to: 0 },
                hash: [l as u8; 32],
            })
            .collect(),
    };
    assert!(membership::proof_root(&proof, &tx.prefix.outputs[0]).is_err());
}
