//! `validate_batch` against `validate`: the same verdict for every transaction of random
//! batches with random corruptions, and exactly the bad transaction named.

use std::sync::LazyLock;

use mcnode_transaction::{constants::DEFAULT_MINIMUM_FEE, validate, validate_batch, Tx};
use proptest::prelude::*;

use crate::robustness::{apply, mutation, Mutation, CASE};

/// Distinct valid 2-input/3-output transactions over the robustness fixture (the shape its
/// mutations expect).
static POOL: LazyLock<Vec<Tx>> = LazyLock::new(|| {
    let (fixture, tx) = &*CASE;
    let mut rng = crate::rng(78);
    let mut pool = vec![tx.clone()];
    pool.extend((0..3).map(|_| fixture.tx(2, 3, &mut rng)));
    pool
});

const BLOCK: u64 = 10;

/// Corruptions that keep every point canonical, so that they reach the proof checks:
/// material taken from another valid transaction.
#[derive(Debug, Clone)]
enum Swap {
    RangeProof {
        from: usize,
    },
    PseudoOutput {
        input: usize,
        from: usize,
    },
    OutputCommitment {
        output: usize,
        from: usize,
    },
    Fee {
        delta: u64,
    },
    /// A byte of the range proof's `t_x`, `t_x_blinding` or `e_blinding` (low bytes, so
    /// the scalar stays canonical: the proof parses and fails its equations).
    RangeScalar {
        which: usize,
        byte: usize,
        bit: u8,
    },
}

fn swap() -> impl Strategy<Value = Swap> {
    prop_oneof![
        (0..4usize).prop_map(|from| Swap::RangeProof { from }),
        (0..2usize, 0..4usize).prop_map(|(input, from)| Swap::PseudoOutput { input, from }),
        (0..3usize, 0..4usize).prop_map(|(output, from)| Swap::OutputCommitment { output, from }),
        (1..1000u64).prop_map(|delta| Swap::Fee { delta }),
        (0..3usize, 0..16usize, 0..8u8).prop_map(|(which, byte, bit)| Swap::RangeScalar {
            which,
            byte,
            bit
        }),
    ]
}

fn apply_swap(tx: &mut Tx, s: &Swap) {
    let pool = &*POOL;
    match *s {
        Swap::RangeProof { from } => {
            tx.signature.range_proof = pool[from].signature.range_proof.clone()
        }
        Swap::PseudoOutput { input, from } => {
            tx.signature.pseudo_output_commitments[input] =
                pool[from].signature.pseudo_output_commitments[input]
        }
        Swap::OutputCommitment { output, from } => {
            tx.prefix.outputs[output].amount.commitment =
                pool[from].prefix.outputs[output].amount.commitment
        }
        Swap::Fee { delta } => tx.prefix.fee += delta,
        Swap::RangeScalar { which, byte, bit } => {
            tx.signature.range_proof[32 * (4 + which) + byte] ^= 1 << bit
        }
    }
}

#[derive(Debug, Clone)]
enum Corruption {
    None,
    Swap(Swap),
    Mutations(Vec<Mutation>),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        3 => Just(Corruption::None),
        3 => swap().prop_map(Corruption::Swap),
        1 => proptest::collection::vec(mutation(), 1..3).prop_map(Corruption::Mutations),
    ]
}

fn build(batch: &[(usize, Corruption)]) -> Vec<Tx> {
    batch
        .iter()
        .map(|(k, c)| {
            let mut tx = POOL[*k].clone();
            match c {
                Corruption::None => {}
                Corruption::Swap(s) => apply_swap(&mut tx, s),
                Corruption::Mutations(ms) => ms.iter().for_each(|m| apply(&mut tx, m)),
            }
            tx
        })
        .collect()
}

fn per_tx(txs: &[Tx]) -> Vec<Result<[u8; 32], mcnode_transaction::ValidationError>> {
    let ledger = &CASE.0.tree;
    txs.iter()
        .map(|tx| validate(tx, BLOCK, DEFAULT_MINIMUM_FEE, ledger))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn batch_verdicts_equal_validate(batch in proptest::collection::vec((0..4usize, corruption()), 1..12)) {
        let txs = build(&batch);
        let expected = per_tx(&txs);
        let got = validate_batch(&txs, BLOCK, DEFAULT_MINIMUM_FEE, &CASE.0.tree);
        prop_assert_eq!(&got, &expected, "batch {:?}", batch);
        // On one core the whole batch is one multiscalar check; same verdicts.
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let got_one = one.install(|| validate_batch(&txs, BLOCK, DEFAULT_MINIMUM_FEE, &CASE.0.tree));
        prop_assert_eq!(&got_one, &expected, "batch on one core {:?}", batch);
    }
}

#[test]
fn one_bad_proof_names_exactly_that_transaction() {
    use mcnode_transaction::ValidationError as E;
    let ledger = &CASE.0.tree;
    let mut txs: Vec<Tx> = (0..24).map(|i| POOL[i % POOL.len()].clone()).collect();
    // t_x changed by one bit: the proof parses, its equations fail.
    txs[13].signature.range_proof[4 * 32] ^= 1;
    // Another valid transaction's pseudo-output: well formed, unbalanced.
    txs[5].signature.pseudo_output_commitments[1] = POOL[2].signature.pseudo_output_commitments[1];
    let hashes: Vec<_> = txs
        .iter()
        .map(|tx| validate(tx, BLOCK, DEFAULT_MINIMUM_FEE, ledger).ok())
        .collect();
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let got = pool.install(|| validate_batch(&txs, BLOCK, DEFAULT_MINIMUM_FEE, ledger));
        assert_eq!(got.len(), 24);
        for (i, r) in got.iter().enumerate() {
            match i {
                13 => assert_eq!(r, &Err(E::InvalidRangeProof), "threads {threads}"),
                5 => assert_eq!(r, &Err(E::Unbalanced), "threads {threads}"),
                _ => assert_eq!(
                    r.as_ref().ok(),
                    hashes[i].as_ref(),
                    "tx {i}, threads {threads}"
                ),
            }
        }
    }
    assert!(validate_batch(&[], BLOCK, DEFAULT_MINIMUM_FEE, ledger).is_empty());
}
