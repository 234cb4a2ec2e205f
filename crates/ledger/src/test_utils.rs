//! Block builders for tests and benchmarks (feature `test-utils`).

use mcnode_blockchain::{
    Block, BlockContents, BlockMetadata, BlockMetadataContents, BlockSignature, QuorumMemberRecord,
    QuorumSetRecord,
};
use mcnode_crypto::{CompressedPoint, Ed25519Signer, KeyImage, RistrettoPrivate};
use mcnode_transaction::{MaskedAmount, TxOut};
use rand_core::{CryptoRng, RngCore};

use crate::{migrations::FullBlock, Ledger, LedgerError};

/// An output of random bytes: not valid curve points, but the ledger stores outputs
/// without decompressing them, so benches and stress tests use these (100x cheaper than
/// `TxOut::create`).
pub fn random_tx_out<R: RngCore>(rng: &mut R) -> TxOut {
    let mut b = [[0u8; 32]; 3];
    for x in &mut b {
        rng.fill_bytes(x);
    }
    TxOut {
        target_key: CompressedPoint(b[0]),
        public_key: CompressedPoint(b[1]),
        amount: MaskedAmount {
            commitment: CompressedPoint(b[2]),
            masked_value: rng.next_u64(),
        },
    }
}

/// A valid key image of a random one-time key.
pub fn random_key_image<R: RngCore + CryptoRng>(rng: &mut R) -> KeyImage {
    KeyImage::from_private(&RistrettoPrivate::random(rng))
}

/// 32 random bytes as a key image (not a valid point; see [`random_tx_out`]).
pub fn random_key_image_bytes<R: RngCore>(rng: &mut R) -> KeyImage {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    KeyImage(CompressedPoint(b))
}

/// Signs blocks as an enclave (block signature) and a node (metadata) would.
pub struct Signers {
    /// The enclave's block-signing key.
    pub block_signer: Ed25519Signer,
    /// The node's msg-signer key.
    pub msg_signer: Ed25519Signer,
}

impl Signers {
    /// Keys from two seeds (deterministic).
    pub fn from_seed(seed: u8) -> Self {
        Self {
            block_signer: Ed25519Signer::from_seed(&[seed; 32]),
            msg_signer: Ed25519Signer::from_seed(&[seed.wrapping_add(1); 32]),
        }
    }

    /// The signature and metadata of `block`, signed at `signed_at`.
    pub fn sign(&self, block: &Block, signed_at: u64) -> (BlockSignature, BlockMetadata) {
        let sig = BlockSignature::sign(block, &self.block_signer, signed_at);
        let meta = BlockMetadata::sign(
            BlockMetadataContents {
                block_id: block.id,
                quorum_set: QuorumSetRecord {
                    threshold: 1,
                    members: vec![QuorumMemberRecord::Node("node0.test:8443".into())],
                },
                attestation_evidence: b"test evidence".to_vec(),
                responder_id: "node0.test:8443".into(),
            },
            &self.msg_signer,
        );
        (sig, meta)
    }
}

/// Builds the next block over `ledger` from `outputs` and `key_images` (any order), signs
/// it unless it is the origin block, and appends it. Returns what was appended.
pub fn append_next<L: Ledger + ?Sized>(
    ledger: &L,
    outputs: Vec<TxOut>,
    key_images: Vec<KeyImage>,
    signers: Option<&Signers>,
) -> Result<FullBlock, LedgerError> {
    let contents = BlockContents::new(key_images, outputs);
    let block = ledger.next_block(&contents)?;
    let (sig, meta) = match signers {
        Some(s) if block.index > 0 => {
            let (a, b) = s.sign(&block, 1_700_000_000 + block.index);
            (Some(a), Some(b))
        }
        _ => (None, None),
    };
    ledger.append_block(&block, &contents, sig.as_ref(), meta.as_ref())?;
    Ok((block, contents, sig, meta))
}

/// Appends a block of `outputs` random outputs and `key_images` random (valid) key images.
pub fn append_random<L: Ledger + ?Sized, R: RngCore + CryptoRng>(
    ledger: &L,
    rng: &mut R,
    outputs: usize,
    key_images: usize,
    signers: Option<&Signers>,
) -> Result<FullBlock, LedgerError> {
    let outs = (0..outputs).map(|_| random_tx_out(rng)).collect();
    let kis = if ledger.num_blocks()? == 0 {
        Vec::new()
    } else {
        (0..key_images).map(|_| random_key_image(rng)).collect()
    };
    append_next(ledger, outs, kis, signers)
}
