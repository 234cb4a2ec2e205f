//! Batch verification: many verification equations checked with one random-weighted
//! multiscalar multiplication.
//!
//! Each equation a verifier checks here has the form `Σ s_i P_i = 0` over public points.
//! [`BatchCheck`] accumulates `w · (Σ s_i P_i)` for each equation with its own weight `w`,
//! folding the scalars of shared generators (the Bulletproofs vectors `G`, `H` and the
//! Pedersen generators `B`, `B_blinding`) into one scalar per generator, and
//! [`BatchCheck::verify`] evaluates the whole sum with one multiscalar multiplication
//! (Pippenger's method, whose cost per point falls as the batch grows).
//!
//! # Soundness
//!
//! Ristretto255 is a group of prime order `ℓ ≈ 2^252`. Let `E_1, …, E_k` be the group
//! elements the equations evaluate to (each is the identity exactly when its equation
//! holds) and let the weights `w_1, …, w_k` be drawn independently and uniformly from
//! `[0, 2^128)` by a cryptographically secure RNG *after* every proof is fixed (the
//! caller passes the RNG; the node uses `rand::thread_rng`, ChaCha12 seeded from the OS).
//! If some `E_j` is not the identity, then for every choice of the other weights at most
//! one residue of `w_j` modulo `ℓ` makes `Σ w_i E_i` the identity (because `E_j` generates
//! the whole group), and the `2^128` candidate values of `w_j` are distinct modulo `ℓ`.
//! So a batch containing a false equation passes with probability at most `2^-128`.
//! The prover cannot aim at the weights: they are fresh randomness of the verifier,
//! not a hash of the proofs. A batch that passes therefore means every equation holds
//! (up to that bound), and [`BatchCheck::verify`] failing means at least one is false,
//! which the caller finds by checking the proofs one by one.
//!
//! A Bulletproofs range proof contributes two equations (the `t(x)` polynomial check and
//! the inner-product check, which dalek's verifier itself combines with one random
//! scalar), each with its own weight; see [`fold_range_proof`].

use std::sync::LazyLock;

use bulletproofs::RangeProof;
use curve25519_dalek::{
    ristretto::{CompressedRistretto, RistrettoPoint},
    scalar::Scalar,
    traits::{IsIdentity, VartimeMultiscalarMul},
};
use merlin::Transcript;
use rand_core::{CryptoRng, RngCore};
use sha3::{
    digest::{ExtendableOutput, Update, XofReader},
    Shake256,
};

use crate::{
    pedersen,
    range_proof::{padded_len, transcript, RangeProofError, MAX_AGGREGATION, RANGE_BITS},
    CompressedPoint,
};

/// The Bulletproofs generator vectors of every party, party-major: index `j * 64 + i` is
/// bit `i` of party `j`. Derived as dalek's `BulletproofGens` derives them (SHAKE256 over
/// `"GeneratorsChain" || label || party`, 64 bytes per point, hash-to-group), because
/// dalek does not expose its `H` vector; the tests check both vectors against dalek.
struct Generators {
    g: Vec<RistrettoPoint>,
    h: Vec<RistrettoPoint>,
}

fn generator_chain(kind: u8, party: u32, count: usize) -> Vec<RistrettoPoint> {
    let mut label = [kind, 0, 0, 0, 0];
    label[1..].copy_from_slice(&party.to_le_bytes());
    let mut shake = Shake256::default();
    shake.update(b"GeneratorsChain");
    shake.update(&label);
    let mut reader = shake.finalize_xof();
    (0..count)
        .map(|_| {
            let mut uniform = [0u8; 64];
            reader.read(&mut uniform);
            RistrettoPoint::from_uniform_bytes(&uniform)
        })
        .collect()
}

static GENERATORS: LazyLock<Generators> = LazyLock::new(|| {
    let vector = |kind| {
        (0..MAX_AGGREGATION as u32)
            .flat_map(|j| generator_chain(kind, j, RANGE_BITS))
            .collect()
    };
    Generators {
        g: vector(b'G'),
        h: vector(b'H'),
    }
});

/// Builds the generator vectors now rather than on the first batch.
pub fn warm_up() {
    LazyLock::force(&GENERATORS);
}

/// A uniformly random weight in `[0, 2^128)`.
pub fn random_weight<R: RngCore + CryptoRng>(rng: &mut R) -> Scalar {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    Scalar::from(u128::from_le_bytes(bytes))
}

/// Weighted verification equations waiting to be checked together. Cheap to create;
/// combine partial checks (one per transaction, built in parallel) with [`Self::merge`].
#[derive(Clone, Debug, Default)]
pub struct BatchCheck {
    /// Scalar of each Bulletproofs `G` generator used so far (party-major).
    g: Vec<Scalar>,
    /// Scalar of each Bulletproofs `H` generator used so far (party-major).
    h: Vec<Scalar>,
    /// Scalar of the Pedersen value generator `B` (= `G` of the commitments).
    b: Scalar,
    /// Scalar of the Pedersen blinding generator `B_blinding`.
    b_blinding: Scalar,
    /// Every other term: points that belong to one equation.
    scalars: Vec<Scalar>,
    points: Vec<RistrettoPoint>,
}

impl BatchCheck {
    /// An empty batch (which verifies).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the term `scalar · point`.
    pub fn push(&mut self, scalar: Scalar, point: RistrettoPoint) {
        self.scalars.push(scalar);
        self.points.push(point);
    }

    /// Adds `scalar · B`, the Pedersen value generator.
    pub fn add_value_generator(&mut self, scalar: Scalar) {
        self.b += scalar;
    }

    /// Adds every term of `other`.
    pub fn merge(&mut self, other: BatchCheck) {
        add_into(&mut self.g, &other.g);
        add_into(&mut self.h, &other.h);
        self.b += other.b;
        self.b_blinding += other.b_blinding;
        self.scalars.extend(other.scalars);
        self.points.extend(other.points);
    }

    /// How many points the multiscalar multiplication of [`Self::verify`] will take.
    pub fn len(&self) -> usize {
        self.points.len() + self.g.len() + self.h.len() + 2
    }

    /// Whether no term was added.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.g.is_empty() && self.h.is_empty()
    }

    /// Whether the weighted sum of every equation is the identity, i.e. (see the module
    /// documentation) whether every equation holds, except with probability `<= 2^-128`
    /// per false equation. Variable-time: everything in it is public.
    pub fn verify(&self) -> bool {
        let gens = &*GENERATORS;
        let pc = pedersen::generators();
        let scalars = self
            .scalars
            .iter()
            .chain(&self.g)
            .chain(&self.h)
            .chain([&self.b, &self.b_blinding]);
        let points = self
            .points
            .iter()
            .chain(&gens.g[..self.g.len()])
            .chain(&gens.h[..self.h.len()])
            .chain([&pc.B, &pc.B_blinding]);
        RistrettoPoint::vartime_multiscalar_mul(scalars, points).is_identity()
    }
}

fn add_into(acc: &mut Vec<Scalar>, more: &[Scalar]) {
    if acc.len() < more.len() {
        acc.resize(more.len(), Scalar::ZERO);
    }
    for (a, m) in acc.iter_mut().zip(more) {
        *a += m;
    }
}

/// The fields of a proof in dalek's byte layout (`RangeProof::to_bytes`): points `A`, `S`,
/// `T_1`, `T_2`; scalars `t_x`, `t_x_blinding`, `e_blinding`; then the inner-product
/// proof: `lg(n·m)` pairs `L_k, R_k`, then scalars `a`, `b`.
struct ParsedProof {
    a_point: CompressedRistretto,
    s_point: CompressedRistretto,
    t1: CompressedRistretto,
    t2: CompressedRistretto,
    t_x: Scalar,
    t_x_blinding: Scalar,
    e_blinding: Scalar,
    l: Vec<CompressedRistretto>,
    r: Vec<CompressedRistretto>,
    ipp_a: Scalar,
    ipp_b: Scalar,
}

fn point_at(bytes: &[u8], k: usize) -> Result<CompressedRistretto, RangeProofError> {
    bytes
        .get(32 * k..32 * (k + 1))
        .and_then(|b| b.try_into().ok())
        .map(CompressedRistretto)
        .ok_or(RangeProofError::Malformed)
}

fn scalar_at(bytes: &[u8], k: usize) -> Result<Scalar, RangeProofError> {
    let c = point_at(bytes, k)?;
    Option::from(Scalar::from_canonical_bytes(c.0)).ok_or(RangeProofError::Malformed)
}

/// Parses `bytes`, refusing exactly what dalek's `RangeProof::from_bytes` refuses (it is
/// asked first, so the two can never disagree on which bytes are malformed).
fn parse(bytes: &[u8]) -> Result<ParsedProof, RangeProofError> {
    RangeProof::from_bytes(bytes).map_err(|_| RangeProofError::Malformed)?;
    let elements = bytes.len() / 32;
    let lg = elements
        .checked_sub(9)
        .map(|e| e / 2)
        .ok_or(RangeProofError::Malformed)?;
    let mut l = Vec::with_capacity(lg);
    let mut r = Vec::with_capacity(lg);
    for k in 0..lg {
        l.push(point_at(bytes, 7 + 2 * k)?);
        r.push(point_at(bytes, 8 + 2 * k)?);
    }
    Ok(ParsedProof {
        a_point: point_at(bytes, 0)?,
        s_point: point_at(bytes, 1)?,
        t1: point_at(bytes, 2)?,
        t2: point_at(bytes, 3)?,
        t_x: scalar_at(bytes, 4)?,
        t_x_blinding: scalar_at(bytes, 5)?,
        e_blinding: scalar_at(bytes, 6)?,
        l,
        r,
        ipp_a: scalar_at(bytes, 7 + 2 * lg)?,
        ipp_b: scalar_at(bytes, 8 + 2 * lg)?,
    })
}

// The merlin transcript operations of dalek's verifier (its `TranscriptProtocol`, which is
// private to that crate), byte for byte.
fn append_point(t: &mut Transcript, label: &'static [u8], p: &CompressedRistretto) {
    t.append_message(label, p.as_bytes());
}

fn append_nonidentity(
    t: &mut Transcript,
    label: &'static [u8],
    p: &CompressedRistretto,
) -> Result<(), RangeProofError> {
    if p.is_identity() {
        return Err(RangeProofError::Invalid);
    }
    append_point(t, label, p);
    Ok(())
}

fn challenge(t: &mut Transcript, label: &'static [u8]) -> Scalar {
    let mut wide = [0u8; 64];
    t.challenge_bytes(label, &mut wide);
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn decompress(p: &CompressedRistretto) -> Result<RistrettoPoint, RangeProofError> {
    p.decompress().ok_or(RangeProofError::Invalid)
}

/// `1 + x + … + x^(n-1)` for `n` a power of two, in `lg n` steps (dalek's method):
/// `Σ_{i<2k} x^i = (1 + x^k) Σ_{i<k} x^i`.
fn sum_of_powers(x: &Scalar, n: usize) -> Scalar {
    if n <= 1 {
        return Scalar::from(n as u64);
    }
    debug_assert!(n.is_power_of_two(), "sum_of_powers takes a power of two");
    let (mut sum, mut factor, mut k) = (Scalar::ONE + x, *x, 2);
    while k < n {
        factor *= factor;
        sum += factor * sum;
        k *= 2;
    }
    sum
}

/// Checks everything about a range proof for `commitments` (unpadded, as
/// [`range_proof::verify`](crate::range_proof::verify) takes them) that needs no
/// multiscalar multiplication, and returns its two verification equations weighted by
/// fresh random weights from `rng`, ready to [`BatchCheck::merge`].
///
/// The challenges are recomputed exactly as dalek's `RangeProof::verify_multiple` computes
/// them: same domain-separated merlin transcript, same labels and order, so a proof
/// verifies here if and only if (up to the batch's `2^-128`) it verifies there, and the
/// error is the same: [`RangeProofError::Malformed`] for bytes that do not parse,
/// [`RangeProofError::Invalid`] for a proof refused before the multiscalar check (an
/// identity point, the wrong number of rounds, a point that does not decompress).
///
/// With `δ(y, z)` and the vectors of the Bulletproofs paper (section 4.2, in dalek's
/// notation), the equations are
/// * t-check: `z²·Σ_j z^j V_j + δ B + x T_1 + x² T_2 - t_x B - t̃_x B_blinding = 0`,
/// * inner-product check: `A + x S - ẽ B_blinding + w(t_x - a b) B
///   + Σ (-z - a s_i) G_i + Σ (z + y^-i (z² z^j 2^i - b s_i^-1)) H_i
///   + Σ (u_k² L_k + u_k^-2 R_k) = 0`.
pub fn fold_range_proof<R: RngCore + CryptoRng>(
    proof: &[u8],
    commitments: &[CompressedPoint],
    rng: &mut R,
) -> Result<BatchCheck, RangeProofError> {
    let m = padded_len(commitments.len())?;
    let p = parse(proof)?;
    let n = RANGE_BITS;
    let nm = n * m;

    let mut t = transcript();
    t.append_message(b"dom-sep", b"rangeproof v1");
    t.append_u64(b"n", n as u64);
    t.append_u64(b"m", m as u64);
    let padding = CompressedRistretto([0u8; 32]);
    for j in 0..m {
        let v = commitments
            .get(j)
            .map(|c| CompressedRistretto(c.0))
            .unwrap_or(padding);
        append_point(&mut t, b"V", &v);
    }
    append_nonidentity(&mut t, b"A", &p.a_point)?;
    append_nonidentity(&mut t, b"S", &p.s_point)?;
    let y = challenge(&mut t, b"y");
    let z = challenge(&mut t, b"z");
    append_nonidentity(&mut t, b"T_1", &p.t1)?;
    append_nonidentity(&mut t, b"T_2", &p.t2)?;
    let x = challenge(&mut t, b"x");
    t.append_message(b"t_x", p.t_x.as_bytes());
    t.append_message(b"t_x_blinding", p.t_x_blinding.as_bytes());
    t.append_message(b"e_blinding", p.e_blinding.as_bytes());
    let w = challenge(&mut t, b"w");

    // Inner-product rounds: dalek requires exactly lg(n·m) of them.
    let lg = p.l.len();
    if lg >= 32 || nm != 1usize << lg {
        return Err(RangeProofError::Invalid);
    }
    t.append_message(b"dom-sep", b"ipp v1");
    t.append_u64(b"n", nm as u64);
    let mut u = Vec::with_capacity(lg);
    for (l, r) in p.l.iter().zip(&p.r) {
        append_nonidentity(&mut t, b"L", l)?;
        append_nonidentity(&mut t, b"R", r)?;
        u.push(challenge(&mut t, b"u"));
    }

    // Decompress every point the proof brings before spending time on scalars.
    let a_point = decompress(&p.a_point)?;
    let s_point = decompress(&p.s_point)?;
    let t1 = decompress(&p.t1)?;
    let t2 = decompress(&p.t2)?;
    let l = p.l.iter().map(decompress).collect::<Result<Vec<_>, _>>()?;
    let r = p.r.iter().map(decompress).collect::<Result<Vec<_>, _>>()?;
    let v = commitments
        .iter()
        .map(|c| decompress(&CompressedRistretto(c.0)))
        .collect::<Result<Vec<_>, _>>()?;

    // s_i = Π_k u_k^(±1) by the bits of i (dalek's `verification_scalars`).
    let mut u_inv = u.clone();
    let all_inv = Scalar::batch_invert(&mut u_inv);
    let u_sq: Vec<Scalar> = u.iter().map(|x| x * x).collect();
    let u_inv_sq: Vec<Scalar> = u_inv.iter().map(|x| x * x).collect();
    let mut s = Vec::with_capacity(nm);
    s.push(all_inv);
    for i in 1..nm {
        let lg_i = (usize::BITS - 1 - i.leading_zeros()) as usize;
        let k = 1usize << lg_i;
        s.push(s[i - k] * u_sq[(lg - 1) - lg_i]);
    }

    // The two weights: `wi` for the inner-product check, `wt` for the t-check.
    let wi = random_weight(rng);
    let wt = random_weight(rng);
    let zz = z * z;
    let y_inv = y.invert();

    let mut check = BatchCheck {
        g: Vec::with_capacity(nm),
        h: Vec::with_capacity(nm),
        scalars: Vec::with_capacity(4 + 2 * lg + v.len()),
        points: Vec::with_capacity(4 + 2 * lg + v.len()),
        ..BatchCheck::default()
    };
    // G_i: wi (-z - a s_i).
    let (wi_z, wi_a) = (wi * z, wi * p.ipp_a);
    check.g.extend(s.iter().map(|s_i| -wi_z - wi_a * s_i));
    // H_i: wi (z + y^-i (z² z^j 2^i - b s_{nm-1-i})), with i = j n + bit.
    let wi_b = wi * p.ipp_b;
    let mut y_inv_i = Scalar::ONE;
    let mut z_j = wi * zz; // wi z² z^j
    let two = Scalar::from(2u64);
    for j in 0..m {
        let mut z_j_2 = z_j; // wi z² z^j 2^bit
        for bit in 0..n {
            let i = j * n + bit;
            check
                .h
                .push(wi_z + y_inv_i * (z_j_2 - wi_b * s[nm - 1 - i]));
            y_inv_i *= y_inv;
            z_j_2 *= two;
        }
        z_j *= z;
    }

    // Points of this proof alone.
    check.push(wi, a_point);
    check.push(wi * x, s_point);
    check.push(wt * x, t1);
    check.push(wt * x * x, t2);
    for ((l, r), (usq, uisq)) in l.into_iter().zip(r).zip(u_sq.iter().zip(&u_inv_sq)) {
        check.push(wi * usq, l);
        check.push(wi * uisq, r);
    }
    // V_j: wt z² z^j (the padding commitments are the identity: no term).
    let mut z_j = wt * zz;
    for v in v {
        check.push(z_j, v);
        z_j *= z;
    }

    // δ(y, z) = (z - z²) Σ y^i - z³ Σ_bits 2^bit Σ_j z^j.
    let delta =
        (z - zz) * sum_of_powers(&y, nm) - zz * z * sum_of_powers(&two, n) * sum_of_powers(&z, m);
    check.b = wi * w * (p.t_x - p.ipp_a * p.ipp_b) + wt * (delta - p.t_x);
    check.b_blinding = -wi * p.e_blinding - wt * p.t_x_blinding;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range_proof::{self, BP_GENS};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn generators_are_dalek_s() {
        let gens = &*GENERATORS;
        for j in 0..MAX_AGGREGATION {
            let dalek: Vec<RistrettoPoint> = BP_GENS.share(j).G(RANGE_BITS).copied().collect();
            assert_eq!(&gens.g[j * RANGE_BITS..(j + 1) * RANGE_BITS], &dalek[..]);
        }
        // dalek keeps `H` private; its derivation differs from `G`'s by the label only,
        // and `batch_agrees_with_dalek` would fail with any other `H`.
        assert_ne!(gens.g[0], gens.h[0]);
    }

    fn proof(rng: &mut ChaCha20Rng, values: &[u64]) -> (Vec<u8>, Vec<CompressedPoint>) {
        let blindings: Vec<Scalar> = values.iter().map(|_| Scalar::random(rng)).collect();
        range_proof::prove(values, &blindings, rng).expect("prove")
    }

    fn batch_verify(
        proofs: &[(Vec<u8>, Vec<CompressedPoint>)],
        rng: &mut ChaCha20Rng,
    ) -> Result<bool, RangeProofError> {
        let mut batch = BatchCheck::new();
        for (p, c) in proofs {
            batch.merge(fold_range_proof(p, c, rng)?);
        }
        Ok(batch.verify())
    }

    fn single(
        p: &[u8],
        c: &[CompressedPoint],
        rng: &mut ChaCha20Rng,
    ) -> Result<(), RangeProofError> {
        let check = fold_range_proof(p, c, rng)?;
        if check.verify() {
            Ok(())
        } else {
            Err(RangeProofError::Invalid)
        }
    }

    #[test]
    fn valid_proofs_of_every_size_verify_alone_and_together() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let proofs: Vec<_> = [1usize, 2, 3, 4, 5, 8, 16]
            .iter()
            .map(|m| {
                let values: Vec<u64> = (0..*m as u64).map(|i| u64::MAX - i * 77).collect();
                proof(&mut rng, &values)
            })
            .collect();
        for (p, c) in &proofs {
            assert_eq!(single(p, c, &mut rng), Ok(()));
        }
        assert_eq!(batch_verify(&proofs, &mut rng), Ok(true));
        assert_eq!(batch_verify(&[], &mut rng), Ok(true));
    }

    #[test]
    fn one_bad_proof_fails_the_batch() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let mut proofs: Vec<_> = (0..6).map(|i| proof(&mut rng, &[i, 2 * i])).collect();
        assert_eq!(batch_verify(&proofs, &mut rng), Ok(true));
        // A commitment to another value: the proof parses but its equations fail.
        let b = Scalar::random(&mut rng);
        proofs[3].1[1] = CompressedPoint::from(pedersen::commit(7, &b));
        assert_eq!(batch_verify(&proofs, &mut rng), Ok(false));
        // Two proofs swapped between their commitments.
        let mut swapped: Vec<_> = (0..4).map(|i| proof(&mut rng, &[i])).collect();
        let c0 = swapped[0].1.clone();
        swapped[0].1 = swapped[1].1.clone();
        swapped[1].1 = c0;
        assert_eq!(batch_verify(&swapped, &mut rng), Ok(false));
    }

    /// The batch verifier and dalek's `verify_multiple` agree on every proof: valid ones,
    /// and ones with a byte changed anywhere, truncated, extended or checked against other
    /// commitments.
    #[test]
    fn agrees_with_dalek_on_valid_and_corrupted_proofs() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mut cases = 0;
        for m in [1usize, 2, 3, 4] {
            let values: Vec<u64> = (0..m as u64).map(|i| i * 1_000_003).collect();
            let (p, c) = proof(&mut rng, &values);
            let mut variants = vec![(p.clone(), c.clone())];
            for _ in 0..40 {
                let mut q = p.clone();
                let at = rng.gen_range(0..q.len());
                q[at] ^= 1 << rng.gen_range(0..8);
                variants.push((q, c.clone()));
            }
            // Every 32-byte element in turn set to zeros (identity points, zero scalars)
            // and to 0xff (non-canonical).
            for k in 0..p.len() / 32 {
                for fill in [0u8, 0xff] {
                    let mut q = p.clone();
                    q[32 * k..32 * (k + 1)].fill(fill);
                    variants.push((q, c.clone()));
                }
            }
            variants.push((p[..p.len() - 32].to_vec(), c.clone()));
            variants.push((p[..p.len() - 64].to_vec(), c.clone()));
            variants.push((p[..p.len() - 1].to_vec(), c.clone()));
            variants.push(([p.clone(), vec![0u8; 64]].concat(), c.clone()));
            variants.push((vec![], c.clone()));
            let mut other = c.clone();
            other[0] = CompressedPoint([0xff; 32]);
            variants.push((p.clone(), other));
            let mut other = c.clone();
            other[m - 1] = CompressedPoint::default();
            variants.push((p.clone(), other));
            variants.push((p.clone(), c[..m - 1].to_vec()));
            variants.push((p.clone(), [c.clone(), c.clone()].concat()));
            for (q, cs) in &variants {
                let dalek = range_proof::verify(q, cs, &mut rng);
                let ours = single(q, cs, &mut rng);
                assert_eq!(ours, dalek, "m = {m}, proof {} bytes", q.len());
                cases += 1;
            }
        }
        assert!(cases > 300);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Hostile bytes: random 32-byte elements written over a valid proof, or its length
        /// changed; never a panic, and the same verdict as dalek.
        #[test]
        fn hostile_bytes_agree_with_dalek(
            m in 1usize..4,
            writes in proptest::collection::vec((0usize..40, proptest::prelude::any::<[u8; 32]>()), 0..3),
            len_change in -70i64..70,
            seed in proptest::prelude::any::<u64>(),
        ) {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let values: Vec<u64> = (0..m as u64).collect();
            let (mut p, c) = proof(&mut rng, &values);
            for (k, bytes) in &writes {
                let k = k % (p.len() / 32);
                p[32 * k..32 * (k + 1)].copy_from_slice(bytes);
            }
            let len = (p.len() as i64 + len_change).max(0) as usize;
            p.resize(len, 7);
            let dalek = range_proof::verify(&p, &c, &mut rng);
            let ours = single(&p, &c, &mut rng);
            proptest::prop_assert_eq!(ours, dalek);
        }
    }

    #[test]
    fn sum_of_powers_matches_the_sum() {
        let x = Scalar::from(3u64);
        for n in [1usize, 2, 4, 64, 128, 1024] {
            let mut expected = Scalar::ZERO;
            let mut p = Scalar::ONE;
            for _ in 0..n {
                expected += p;
                p *= x;
            }
            assert_eq!(sum_of_powers(&x, n), expected, "n = {n}");
        }
        assert_eq!(sum_of_powers(&x, 0), Scalar::ZERO);
    }

    #[test]
    fn weights_are_random_and_at_most_128_bits() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let a = random_weight(&mut rng);
        let b = random_weight(&mut rng);
        assert_ne!(a, b);
        assert_eq!(&a.as_bytes()[16..], &[0u8; 16]);
    }
}
