//! Property tests: a valid ring signature verifies, and any change to what it signs or to
//! the signature itself breaks it.

use mcnode_crypto::{
    mlsag::{self, reference, SignerSecrets},
    pedersen, CompressedPoint, KeyImage, RingMember, RingMlsag, RingSignatureError,
    RistrettoPrivate, Scalar, ScalarBytes,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const RING: usize = 11;

struct Case {
    message: [u8; 32],
    ring: Vec<RingMember>,
    pseudo: CompressedPoint,
    sig: RingMlsag,
}

fn case(seed: u64, real_index: usize) -> Case {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut message = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rng, &mut message);
    let ring: Vec<RingMember> = (0..RING)
        .map(|_| RingMember {
            target_key: RistrettoPrivate::random(&mut rng).public().compressed(),
            commitment: pedersen::commit(rand::Rng::gen(&mut rng), &Scalar::random(&mut rng))
                .into(),
        })
        .collect();
    let x = RistrettoPrivate::random(&mut rng);
    let value: u64 = rand::Rng::gen(&mut rng);
    let blinding = Scalar::random(&mut rng);
    let pseudo_blinding = Scalar::random(&mut rng);
    let mut ring = ring;
    ring[real_index] = RingMember {
        target_key: x.public().compressed(),
        commitment: pedersen::commit(value, &blinding).into(),
    };
    let secrets = SignerSecrets {
        real_index,
        onetime_private: &x,
        value,
        blinding: &blinding,
        pseudo_blinding: &pseudo_blinding,
    };
    let (sig, pseudo) = mlsag::sign(&message, &ring, &secrets, &mut rng).unwrap();
    assert_eq!(sig.key_image, KeyImage::from_private(&x));
    Case {
        message,
        ring,
        pseudo,
        sig,
    }
}

fn verify(c: &Case) -> Result<(), RingSignatureError> {
    let fast = mlsag::verify(&c.message, &c.ring, &c.pseudo, &c.sig);
    let reference = reference::verify_constant_time(&c.message, &c.ring, &c.pseudo, &c.sig);
    assert_eq!(
        fast, reference,
        "variable-time and constant-time verifiers disagree"
    );
    fast
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn valid_signature_verifies(seed in any::<u64>(), real in 0..RING) {
        prop_assert_eq!(verify(&case(seed, real)), Ok(()));
    }

    #[test]
    fn changed_message_breaks(seed in any::<u64>(), real in 0..RING, byte in 0..32usize, bit in 0..8u8) {
        let mut c = case(seed, real);
        c.message[byte] ^= 1 << bit;
        prop_assert_eq!(verify(&c), Err(RingSignatureError::Invalid));
    }

    #[test]
    fn changed_key_image_breaks(seed in any::<u64>(), real in 0..RING) {
        let mut c = case(seed, real);
        let other = RistrettoPrivate::random(&mut ChaCha20Rng::seed_from_u64(seed ^ 1));
        c.sig.key_image = KeyImage::from_private(&other);
        prop_assert_eq!(verify(&c), Err(RingSignatureError::Invalid));
    }

    #[test]
    fn changed_ring_member_breaks(seed in any::<u64>(), real in 0..RING, member in 0..RING) {
        let mut c = case(seed, real);
        c.ring[member].target_key =
            RistrettoPrivate::random(&mut ChaCha20Rng::seed_from_u64(seed ^ 2)).public().compressed();
        prop_assert_eq!(verify(&c), Err(RingSignatureError::Invalid));
    }

    #[test]
    fn changed_commitment_breaks(seed in any::<u64>(), real in 0..RING, member in 0..RING) {
        let mut c = case(seed, real);
        c.ring[member].commitment = pedersen::commit(1, &Scalar::from(seed)).into();
        prop_assert_eq!(verify(&c), Err(RingSignatureError::Invalid));
    }

    #[test]
    fn changed_pseudo_output_breaks(seed in any::<u64>(), real in 0..RING) {
        let mut c = case(seed, real);
        c.pseudo = pedersen::commit(7, &Scalar::from(seed)).into();
        prop_assert_eq!(verify(&c), Err(RingSignatureError::Invalid));
    }

    #[test]
    fn changed_response_breaks(seed in any::<u64>(), real in 0..RING, which in 0..2 * RING) {
        let mut c = case(seed, real);
        let r = c.sig.responses[which].to_scalar().unwrap() + Scalar::ONE;
        c.sig.responses[which] = r.into();
        prop_assert_eq!(verify(&c), Err(RingSignatureError::Invalid));
    }

    #[test]
    fn changed_challenge_breaks(seed in any::<u64>(), real in 0..RING) {
        let mut c = case(seed, real);
        c.sig.c_zero = (c.sig.c_zero.to_scalar().unwrap() + Scalar::ONE).into();
        prop_assert_eq!(verify(&c), Err(RingSignatureError::Invalid));
    }

    #[test]
    fn non_canonical_key_image_rejected(seed in any::<u64>(), junk in any::<[u8; 32]>()) {
        let mut c = case(seed, 0);
        // Force a non-canonical encoding: the top bit is never set in a canonical point.
        let mut bytes = junk;
        bytes[31] |= 0x80;
        c.sig.key_image = KeyImage(CompressedPoint(bytes));
        prop_assert_eq!(verify(&c), Err(RingSignatureError::NonCanonicalKeyImage));
    }
}

#[test]
fn identity_key_image_rejected() {
    let mut c = case(1, 3);
    c.sig.key_image = KeyImage(CompressedPoint([0u8; 32]));
    assert_eq!(verify(&c), Err(RingSignatureError::NonCanonicalKeyImage));
}

#[test]
fn non_canonical_scalars_rejected() {
    let mut c = case(2, 4);
    // s + l (the group order) encodes the same residue non-canonically: malleability.
    c.sig.responses[5] = ScalarBytes([0xff; 32]);
    assert_eq!(verify(&c), Err(RingSignatureError::NonCanonicalScalar));
    let mut c = case(2, 4);
    c.sig.c_zero = ScalarBytes([0xff; 32]);
    assert_eq!(verify(&c), Err(RingSignatureError::NonCanonicalScalar));
}

#[test]
fn malformed_shapes_rejected() {
    let c = case(3, 0);
    let mut short = c.sig.clone();
    short.responses.pop();
    assert_eq!(
        mlsag::verify(&c.message, &c.ring, &c.pseudo, &short),
        Err(RingSignatureError::ResponseCount {
            expected: 22,
            got: 21
        })
    );
    assert_eq!(
        mlsag::verify(&c.message, &[], &c.pseudo, &c.sig),
        Err(RingSignatureError::EmptyRing)
    );
    let mut ring = c.ring.clone();
    ring[6].commitment = CompressedPoint([0xff; 32]);
    assert_eq!(
        mlsag::verify(&c.message, &ring, &c.pseudo, &c.sig),
        Err(RingSignatureError::NonCanonicalRingMember(6))
    );
    assert_eq!(
        mlsag::verify(&c.message, &c.ring, &CompressedPoint([0xff; 32]), &c.sig),
        Err(RingSignatureError::NonCanonicalPseudoOutput)
    );
}

#[test]
fn signing_refuses_wrong_secrets() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let c = case(4, 2);
    let x = RistrettoPrivate::random(&mut rng);
    let b = Scalar::random(&mut rng);
    let secrets = SignerSecrets {
        real_index: 2,
        onetime_private: &x,
        value: 1,
        blinding: &b,
        pseudo_blinding: &b,
    };
    assert_eq!(
        mlsag::sign(&c.message, &c.ring, &secrets, &mut rng).err(),
        Some(RingSignatureError::SecretsMismatch)
    );
    let secrets = SignerSecrets {
        real_index: 11,
        ..secrets
    };
    assert_eq!(
        mlsag::sign(&c.message, &c.ring, &secrets, &mut rng).err(),
        Some(RingSignatureError::RealIndexOutOfRange { index: 11, len: 11 })
    );
}

#[test]
fn same_output_same_key_image() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let x = RistrettoPrivate::random(&mut rng);
    let y = RistrettoPrivate::random(&mut rng);
    assert_eq!(
        KeyImage::from_private(&x),
        KeyImage::from_private(&x.clone())
    );
    assert_ne!(KeyImage::from_private(&x), KeyImage::from_private(&y));
}
