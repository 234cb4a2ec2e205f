//! Fixtures for tests and benchmarks (feature `test-utils`): a ledger of decoy outputs with
//! some outputs owned by a known account, and valid transactions spending them.

use rand::{seq::index::sample, Rng};
use rand_core::{CryptoRng, RngCore};

use crate::{
    constants::{DEFAULT_MINIMUM_FEE, RING_SIZE},
    AccountKey, InputCredentials, OwnedOutput, Tx, TxBuilder, TxOut, TxOutTree,
};

/// An in-memory ledger holding decoys and outputs owned by `sender`.
pub struct Fixture {
    /// All outputs, with their Merkle tree.
    pub tree: TxOutTree,
    /// Owns `owned`.
    pub sender: AccountKey,
    /// A second account to pay.
    pub recipient: AccountKey,
    /// `sender`'s outputs and their ledger indices.
    pub owned: Vec<(u64, OwnedOutput)>,
}

impl Fixture {
    /// `decoys` random outputs, then one output of each of `owned_values` to `sender`.
    pub fn new<R: RngCore + CryptoRng>(rng: &mut R, decoys: usize, owned_values: &[u64]) -> Self {
        let sender = AccountKey::random(rng);
        let recipient = AccountKey::random(rng);
        let stranger = AccountKey::random(rng).default_address();
        let mut tree = TxOutTree::new();
        for _ in 0..decoys.max(RING_SIZE) {
            tree.push(TxOut::create(rng.gen_range(1..1_000_000), &stranger, rng).tx_out);
        }
        let mut owned = Vec::new();
        for v in owned_values {
            let out = TxOut::create(*v, &sender.default_address(), rng).tx_out;
            let index = tree.push(out);
            let recovered = out
                .recover(&sender, &[0])
                .unwrap_or_else(|| unreachable!("own output"));
            owned.push((index, recovered));
        }
        Self {
            tree,
            sender,
            recipient,
            owned,
        }
    }

    /// Credentials to spend `owned[k]` with random decoys and proofs at today's tree.
    pub fn credentials<R: RngCore + CryptoRng>(&self, k: usize, rng: &mut R) -> InputCredentials {
        let (real_index, owned) = &self.owned[k];
        let mut indices: Vec<u64> = Vec::with_capacity(RING_SIZE);
        indices.push(*real_index);
        for i in sample(rng, self.tree.len() as usize, self.tree.len() as usize) {
            if indices.len() == RING_SIZE {
                break;
            }
            let i = i as u64;
            if !self.owned.iter().any(|(o, _)| *o == i) {
                indices.push(i);
            }
        }
        let get = |i: &u64| {
            (
                *self.tree.get(*i).unwrap_or_else(|| unreachable!()),
                self.tree.proof(*i).unwrap_or_else(|| unreachable!()),
            )
        };
        InputCredentials {
            owned: owned.clone(),
            ring: indices.iter().map(|i| get(i).0).collect(),
            proofs: indices.iter().map(|i| get(i).1).collect(),
        }
    }

    /// A valid transaction spending the first `inputs` owned outputs to `outputs - 1`
    /// payments to `recipient` (1 each) plus change, with the default minimum fee and
    /// tombstone 100.
    pub fn tx<R: RngCore + CryptoRng>(&self, inputs: usize, outputs: usize, rng: &mut R) -> Tx {
        let mut b = TxBuilder::new(DEFAULT_MINIMUM_FEE, 100);
        for k in 0..inputs {
            b.add_input(self.credentials(k, rng));
        }
        for _ in 0..outputs.saturating_sub(1) {
            b.add_output(1, &self.recipient.default_address());
        }
        b.build(Some(&self.sender.change_address()), rng)
            .unwrap_or_else(|e| unreachable!("fixture tx builds: {e}"))
    }
}

/// Prepared inputs for the validation benchmarks (criterion and `mcnode bench tx`): each
/// method runs one operation and panics if it does not succeed, so a benchmark can never
/// time a failure.
pub struct BenchCases {
    fixture: Fixture,
    /// A valid 1-input, 2-output transaction.
    pub tx_1in2out: Tx,
    /// A valid 2-input, 2-output transaction.
    pub tx_2in2out: Tx,
    ring: Vec<mcnode_crypto::RingMember>,
    message: [u8; 32],
    pseudo: mcnode_crypto::CompressedPoint,
    ring_sig: mcnode_crypto::RingMlsag,
    range_proofs: Vec<(Vec<u8>, Vec<mcnode_crypto::CompressedPoint>)>,
}

/// Block index the benchmark transactions are validated for.
pub const BENCH_BLOCK: u64 = 10;

impl BenchCases {
    /// Builds the cases from `seed`.
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let fee = DEFAULT_MINIMUM_FEE;
        let fixture = Fixture::new(&mut rng, 1000, &[10 * fee, 20 * fee]);
        let tx_1in2out = fixture.tx(1, 2, &mut rng);
        let tx_2in2out = fixture.tx(2, 2, &mut rng);
        let input = &tx_1in2out.prefix.inputs[0];
        let ring = input.ring_members();
        let range_proofs = [1usize, 2, 4, 8, 16]
            .iter()
            .map(|m| {
                let values: Vec<u64> = (0..*m as u64).map(|v| v * 1_000_003).collect();
                let blindings: Vec<_> = (0..*m)
                    .map(|_| mcnode_crypto::Scalar::random(&mut rng))
                    .collect();
                mcnode_crypto::range_proof::prove(&values, &blindings, &mut rng)
                    .unwrap_or_else(|e| unreachable!("bench range proof: {e}"))
            })
            .collect();
        Self {
            message: tx_1in2out.signed_message(),
            pseudo: tx_1in2out.signature.pseudo_output_commitments[0],
            ring_sig: tx_1in2out.signature.ring_signatures[0].clone(),
            ring,
            range_proofs,
            tx_1in2out,
            tx_2in2out,
            fixture,
        }
    }

    /// `n` valid 1-input, 2-output transactions for batch benchmarks: `distinct` different
    /// ones (fresh decoys, blindings and proofs each, all spending the same owned output),
    /// repeated in turn. Verification costs the same whether a proof repeats or not.
    pub fn batch_1in2out(&self, distinct: usize, n: usize, seed: u64) -> Vec<Tx> {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let pool: Vec<Tx> = (0..distinct.max(1))
            .map(|_| self.fixture.tx(1, 2, &mut rng))
            .collect();
        (0..n).map(|i| pool[i % pool.len()].clone()).collect()
    }

    /// The ledger view the transactions validate against.
    pub fn ledger(&self) -> &TxOutTree {
        &self.fixture.tree
    }

    /// Variable-time verification of one ring-11 MLSAG.
    pub fn ring_verify(&self) {
        let r =
            mcnode_crypto::mlsag::verify(&self.message, &self.ring, &self.pseudo, &self.ring_sig);
        assert!(r.is_ok(), "bench ring signature must verify");
    }

    /// Constant-time verification of the same signature (the reference shape).
    pub fn ring_verify_constant_time(&self) {
        let r = mcnode_crypto::mlsag::reference::verify_constant_time(
            &self.message,
            &self.ring,
            &self.pseudo,
            &self.ring_sig,
        );
        assert!(r.is_ok(), "bench ring signature must verify");
    }

    /// Verification of an aggregated range proof over `m` values (m in 1, 2, 4, 8, 16).
    pub fn range_verify(&self, m: usize) {
        let (proof, comms) = &self.range_proofs[m.trailing_zeros() as usize];
        assert_eq!(comms.len(), m, "range proof case for m = {m}");
        let r = mcnode_crypto::range_proof::verify(proof, comms, &mut rand::thread_rng());
        assert!(r.is_ok(), "bench range proof must verify");
    }

    /// Full validation of the 1-input, 2-output transaction.
    pub fn validate_1in2out(&self) {
        let r = crate::validate(
            &self.tx_1in2out,
            BENCH_BLOCK,
            DEFAULT_MINIMUM_FEE,
            self.ledger(),
        );
        assert!(r.is_ok(), "bench tx must validate: {r:?}");
    }

    /// Full validation of the 2-input, 2-output transaction.
    pub fn validate_2in2out(&self) {
        let r = crate::validate(
            &self.tx_2in2out,
            BENCH_BLOCK,
            DEFAULT_MINIMUM_FEE,
            self.ledger(),
        );
        assert!(r.is_ok(), "bench tx must validate: {r:?}");
    }
}
