//! One crafted transaction per validation rule, each asserting the exact variant and code.

use std::sync::LazyLock;

use mcnode_crypto::{CompressedPoint, KeyImage, Scalar};
use mcnode_transaction::{
    constants::{DEFAULT_MINIMUM_FEE, MAX_TOMBSTONE_BLOCKS},
    test_utils::Fixture,
    validate, validate_batch, LedgerViewError, Tx, TxOutTree, ValidationError,
};

const BLOCK: u64 = 10;
const FEE: u64 = DEFAULT_MINIMUM_FEE;

struct Txs {
    fixture: Fixture,
    one_in: Tx,
    two_in: Tx,
}

static TXS: LazyLock<Txs> = LazyLock::new(|| {
    let mut rng = crate::rng(42);
    let fixture = Fixture::new(&mut rng, 60, &[5 * FEE, 7 * FEE, 9 * FEE]);
    let one_in = fixture.tx(1, 2, &mut rng);
    let two_in = fixture.tx(2, 2, &mut rng);
    Txs {
        fixture,
        one_in,
        two_in,
    }
});

fn check(tx: &Tx) -> Result<[u8; 32], ValidationError> {
    validate(tx, BLOCK, FEE, &TXS.fixture.tree)
}

fn one() -> Tx {
    TXS.one_in.clone()
}

fn two() -> Tx {
    TXS.two_in.clone()
}

#[test]
fn valid_transactions_pass_and_return_their_hash() {
    assert_eq!(check(&one()), Ok(one().hash()));
    assert_eq!(check(&two()), Ok(two().hash()));
}

type Checker = Box<dyn Fn(&Tx) -> Result<[u8; 32], ValidationError>>;
type Craft = fn() -> (Tx, Checker);
type Row = (u32, &'static str, Craft, fn(&ValidationError) -> bool);

fn default_check(tx: Tx) -> (Tx, Checker) {
    (tx, Box::new(check))
}

/// (code, expected variant matcher, crafted tx)
fn table() -> Vec<Row> {
    use ValidationError as E;
    vec![
        (
            1,
            "NoInputs",
            || {
                let mut t = one();
                t.prefix.inputs.clear();
                default_check(t)
            },
            |e| matches!(e, E::NoInputs),
        ),
        (
            2,
            "TooManyInputs",
            || {
                let mut t = one();
                let i = t.prefix.inputs[0].clone();
                t.prefix.inputs = vec![i; 17];
                default_check(t)
            },
            |e| matches!(e, E::TooManyInputs(17)),
        ),
        (
            3,
            "NoOutputs",
            || {
                let mut t = one();
                t.prefix.outputs.clear();
                default_check(t)
            },
            |e| matches!(e, E::NoOutputs),
        ),
        (
            4,
            "TooManyOutputs",
            || {
                let mut t = one();
                let o = t.prefix.outputs[0];
                t.prefix.outputs = vec![o; 17];
                default_check(t)
            },
            |e| matches!(e, E::TooManyOutputs(17)),
        ),
        (
            5,
            "WrongRingSize",
            || {
                let mut t = one();
                t.prefix.inputs[0].ring.pop();
                default_check(t)
            },
            |e| matches!(e, E::WrongRingSize { input: 0, size: 10 }),
        ),
        (
            6,
            "MissingMembershipProofs",
            || {
                let mut t = one();
                t.prefix.inputs[0].proofs.pop();
                default_check(t)
            },
            |e| matches!(e, E::MissingMembershipProofs(0)),
        ),
        (
            7,
            "SignatureShape",
            || {
                let mut t = one();
                t.signature.pseudo_output_commitments.pop();
                default_check(t)
            },
            |e| matches!(e, E::SignatureShape),
        ),
        (
            8,
            "UnsortedRing",
            || {
                let mut t = one();
                t.prefix.inputs[0].ring.swap(3, 4);
                t.prefix.inputs[0].proofs.swap(3, 4);
                default_check(t)
            },
            |e| matches!(e, E::UnsortedRing(0)),
        ),
        (
            9,
            "DuplicateRingMember",
            || {
                let mut t = one();
                let r = &mut t.prefix.inputs[0];
                r.ring[5] = r.ring[4];
                r.proofs[5] = r.proofs[4].clone();
                default_check(t)
            },
            |e| matches!(e, E::DuplicateRingMember(0)),
        ),
        (
            10,
            "UnsortedInputs",
            || {
                let mut t = two();
                t.prefix.inputs.swap(0, 1);
                default_check(t)
            },
            |e| matches!(e, E::UnsortedInputs),
        ),
        (
            11,
            "UnsortedOutputs",
            || {
                let mut t = one();
                t.prefix.outputs.swap(0, 1);
                default_check(t)
            },
            |e| matches!(e, E::UnsortedOutputs),
        ),
        (
            12,
            "FeeTooLow",
            || {
                (
                    one(),
                    Box::new(|t: &Tx| validate(t, BLOCK, FEE + 1, &TXS.fixture.tree)),
                )
            },
            |e| matches!(e, E::FeeTooLow { fee: FEE, minimum } if *minimum == FEE + 1),
        ),
        (
            13,
            "TombstoneExpired",
            || {
                (
                    one(),
                    Box::new(|t: &Tx| validate(t, 100, FEE, &TXS.fixture.tree)),
                )
            },
            |e| {
                matches!(
                    e,
                    E::TombstoneExpired {
                        tombstone: 100,
                        current: 100
                    }
                )
            },
        ),
        (
            14,
            "TombstoneTooFar",
            || {
                let mut t = one();
                t.prefix.tombstone_block = BLOCK + MAX_TOMBSTONE_BLOCKS + 1;
                default_check(t)
            },
            |e| matches!(e, E::TombstoneTooFar { .. }),
        ),
        (
            15,
            "NonCanonicalPoint",
            || {
                let mut t = one();
                t.prefix.outputs[0].public_key = CompressedPoint([0xff; 32]);
                default_check(t)
            },
            |e| matches!(e, E::NonCanonicalPoint("output public key")),
        ),
        (
            16,
            "DuplicateOutputPublicKey",
            || {
                let mut t = one();
                t.prefix.outputs[1].target_key = t.prefix.outputs[0].target_key;
                default_check(t)
            },
            |e| matches!(e, E::DuplicateOutputPublicKey),
        ),
        (
            17,
            "DuplicateKeyImage",
            || {
                let mut t = two();
                t.signature.ring_signatures[1].key_image = t.signature.ring_signatures[0].key_image;
                default_check(t)
            },
            |e| matches!(e, E::DuplicateKeyImage),
        ),
        (
            18,
            "InvalidMembershipProof",
            || {
                let mut t = one();
                t.prefix.inputs[0].proofs[2].elements[0].hash[7] ^= 1;
                default_check(t)
            },
            |e| {
                matches!(
                    e,
                    E::InvalidMembershipProof {
                        input: 0,
                        member: 2,
                        ..
                    }
                )
            },
        ),
        (
            19,
            "MembershipProofBeyondLedger",
            || {
                let mut t = one();
                t.prefix.inputs[0].proofs[0].highest_index = 10_000;
                default_check(t)
            },
            |e| matches!(e, E::MembershipProofBeyondLedger(10_000)),
        ),
        (
            20,
            "Ledger",
            || {
                (
                    one(),
                    Box::new(|t: &Tx| validate(t, BLOCK, FEE, &TxOutTree::new())),
                )
            },
            |e| matches!(e, E::Ledger(LedgerViewError::Empty)),
        ),
        (
            21,
            "MalformedRangeProof",
            || {
                let mut t = one();
                t.signature.range_proof.truncate(31);
                default_check(t)
            },
            |e| matches!(e, E::MalformedRangeProof),
        ),
        (
            22,
            "InvalidRangeProof",
            || {
                let mut t = one();
                t.signature.range_proof = TXS.two_in.signature.range_proof.clone();
                default_check(t)
            },
            |e| matches!(e, E::InvalidRangeProof),
        ),
        (
            23,
            "Unbalanced",
            || {
                let mut t = one();
                t.prefix.fee += 1;
                default_check(t)
            },
            |e| matches!(e, E::Unbalanced),
        ),
        (
            24,
            "InvalidRingSignature",
            || {
                let mut t = one();
                let r = &mut t.signature.ring_signatures[0].responses[3];
                *r = (r.to_scalar().unwrap() + Scalar::ONE).into();
                default_check(t)
            },
            |e| matches!(e, E::InvalidRingSignature { input: 0, .. }),
        ),
    ]
}

#[test]
fn each_rule_has_its_variant_and_code() {
    let rows = table();
    for (code, name, craft, is_expected) in &rows {
        let (tx, run) = craft();
        let err = run(&tx).expect_err(name);
        assert!(is_expected(&err), "{name}: got {err:?}");
        assert_eq!(err.code(), *code, "{name}: code");
    }
    // Codes are unique and dense: one row per variant.
    let mut codes: Vec<u32> = rows.iter().map(|r| r.0).collect();
    codes.dedup();
    assert_eq!(codes, (1..=24).collect::<Vec<_>>());
}

#[test]
fn a_second_spend_key_image_differs_only_per_output() {
    // Spending the same output in two transactions yields the same key image: the node's
    // spent-key-image check relies on it.
    let mut rng = crate::rng(7);
    let a = TXS.fixture.tx(1, 2, &mut rng);
    let images_a: Vec<KeyImage> = a.key_images();
    assert_eq!(images_a, TXS.one_in.key_images());
    assert_ne!(a.hash(), TXS.one_in.hash());
}

#[test]
fn proofs_from_an_older_ledger_still_validate() {
    let mut rng = crate::rng(8);
    let mut fixture = Fixture::new(&mut rng, 20, &[3 * FEE]);
    let tx = fixture.tx(1, 2, &mut rng);
    let to = fixture.recipient.default_address();
    for _ in 0..100 {
        fixture
            .tree
            .push(mcnode_transaction::TxOut::create(1, &to, &mut rng).tx_out);
    }
    assert_eq!(validate(&tx, BLOCK, FEE, &fixture.tree), Ok(tx.hash()));
}

#[test]
fn batch_matches_one_by_one() {
    let mut bad = one();
    bad.prefix.fee += 1;
    let txs = vec![one(), bad.clone(), two()];
    let results = validate_batch(&txs, BLOCK, FEE, &TXS.fixture.tree);
    let single: Vec<_> = txs.iter().map(check).collect();
    assert_eq!(results, single);
    assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
}

#[test]
fn builder_refuses_what_it_cannot_build() {
    use mcnode_transaction::{BuildError, TxBuilder};
    let mut rng = crate::rng(9);
    let f = &TXS.fixture;
    let mut b = TxBuilder::new(FEE, 100);
    assert_eq!(
        b.build(None, &mut rng).err(),
        Some(BuildError::InputCount(0))
    );
    b.add_input(f.credentials(0, &mut rng));
    b.add_output(100 * FEE, &f.recipient.default_address());
    assert!(matches!(
        b.build(None, &mut rng),
        Err(BuildError::InsufficientFunds { .. })
    ));
    let mut b = TxBuilder::new(FEE, 100);
    b.add_input(f.credentials(0, &mut rng));
    assert_eq!(
        b.build(None, &mut rng).err(),
        Some(BuildError::NoChangeAddress(4 * FEE))
    );
    // Credentials whose ring does not hold the output claimed as spent.
    let mut cred = f.credentials(0, &mut rng);
    cred.owned = f.owned[1].1.clone();
    let mut b = TxBuilder::new(FEE, 100);
    b.add_input(cred);
    assert_eq!(
        b.build(Some(&f.sender.change_address()), &mut rng).err(),
        Some(BuildError::RealOutputNotInRing(0))
    );
}

/// `revalidate_verified` skips only what cannot change with the ledger or the block (the
/// range proof, the balance, the ring signatures) and checks everything else again.
#[test]
fn revalidation_skips_proofs_but_not_what_the_ledger_decides() {
    use mcnode_transaction::revalidate_verified;
    let re = |tx: &Tx, block: u64| revalidate_verified(tx, block, FEE, &TXS.fixture.tree);
    assert_eq!(re(&one(), BLOCK), check(&one()));

    let mut forged = one();
    forged.signature.ring_signatures[0].responses.swap(0, 1);
    assert!(matches!(
        check(&forged),
        Err(ValidationError::InvalidRingSignature { .. })
    ));
    assert_eq!(re(&forged, BLOCK), Ok(forged.hash()));

    let tombstone = one().prefix.tombstone_block;
    assert!(matches!(
        re(&one(), tombstone),
        Err(ValidationError::TombstoneExpired { .. })
    ));
    let mut cheap = one();
    cheap.prefix.fee = FEE - 1;
    assert!(matches!(
        re(&cheap, BLOCK),
        Err(ValidationError::FeeTooLow { .. })
    ));
    let empty = TxOutTree::new();
    assert!(revalidate_verified(&one(), BLOCK, FEE, &empty).is_err());
}
