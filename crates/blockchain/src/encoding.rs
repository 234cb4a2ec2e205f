//! The binary encoding of blocks, outputs and transactions: protobuf, format version 1.
//!
//! One encoding serves the ledger's LMDB values, the archive's objects and the gRPC APIs.
//! Its schema has one source, `proto/mcnode/ledger/v1/ledger.proto`; `build.rs` generates
//! the message types ([`pb`](crate::pb)) and this module converts between them and the
//! domain types (`From` one way, `TryFrom` with [`DecodeError`] the other). Every field has
//! a fixed tag that is never reused; decoding checks lengths and key validity and returns a
//! [`DecodeError`] that names the field, never panics. Golden tests freeze the bytes.

use mcnode_crypto::{
    CompressedPoint, Ed25519Public, Ed25519Signature, KeyImage, RingMlsag, ScalarBytes,
};
use mcnode_transaction::{
    membership::{Range, TreeElement},
    MaskedAmount, SignatureRct, Tx, TxIn, TxOut, TxOutMembershipProof, TxPrefix,
};
use prost::Message;

use crate::{
    pb, Block, BlockContents, BlockContentsHash, BlockId, BlockMetadata, BlockMetadataContents,
    BlockSignature, QuorumMemberRecord, QuorumSetRecord,
};

/// Version of the archive record format ([`ArchiveBlock`]).
pub const ARCHIVE_FORMAT_VERSION: u32 = 1;
/// Deepest quorum-set nesting a decoder accepts (the SCP crate allows 4).
pub const MAX_QUORUM_DEPTH: usize = 8;

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not valid protobuf for the message.
    #[error("malformed {message}: {reason}")]
    Malformed {
        /// The message being decoded.
        message: &'static str,
        /// What prost said.
        reason: String,
    },
    /// A field is missing or has the wrong length or value.
    #[error("bad field {0}")]
    BadField(&'static str),
    /// The archive record has a format version this build does not read.
    #[error(
        "archive format version {0} is not supported (this build reads {ARCHIVE_FORMAT_VERSION})"
    )]
    UnsupportedVersion(u32),
}

/// A block with everything the archive keeps about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveBlock {
    /// The block.
    pub block: Block,
    /// Its contents.
    pub contents: BlockContents,
    /// The enclave's signature (absent for the origin block).
    pub signature: Option<BlockSignature>,
    /// The node's metadata (absent for the origin block).
    pub metadata: Option<BlockMetadata>,
}

fn arr32(bytes: &[u8], field: &'static str) -> Result<[u8; 32], DecodeError> {
    bytes.try_into().map_err(|_| DecodeError::BadField(field))
}

fn decode_pb<M: Message + Default>(bytes: &[u8], message: &'static str) -> Result<M, DecodeError> {
    M::decode(bytes).map_err(|e| DecodeError::Malformed {
        message,
        reason: e.to_string(),
    })
}

fn tx_out_to_pb(o: &TxOut) -> pb::TxOut {
    pb::TxOut {
        target_key: o.target_key.0.to_vec(),
        public_key: o.public_key.0.to_vec(),
        commitment: o.amount.commitment.0.to_vec(),
        masked_value: o.amount.masked_value,
    }
}

fn tx_out_from_pb(o: &pb::TxOut) -> Result<TxOut, DecodeError> {
    Ok(TxOut {
        target_key: CompressedPoint(arr32(&o.target_key, "tx_out.target_key")?),
        public_key: CompressedPoint(arr32(&o.public_key, "tx_out.public_key")?),
        amount: MaskedAmount {
            commitment: CompressedPoint(arr32(&o.commitment, "tx_out.commitment")?),
            masked_value: o.masked_value,
        },
    })
}

fn element_to_pb(e: &TreeElement) -> pb::TreeElement {
    pb::TreeElement {
        range: Some(pb::Range {
            from: e.range.from,
            to: e.range.to,
        }),
        hash: e.hash.to_vec(),
    }
}

fn element_from_pb(
    e: Option<&pb::TreeElement>,
    field: &'static str,
) -> Result<TreeElement, DecodeError> {
    let e = e.ok_or(DecodeError::BadField(field))?;
    let r = e.range.as_ref().ok_or(DecodeError::BadField(field))?;
    if r.from > r.to {
        return Err(DecodeError::BadField(field));
    }
    Ok(TreeElement {
        range: Range {
            from: r.from,
            to: r.to,
        },
        hash: arr32(&e.hash, field)?,
    })
}

fn block_to_pb(b: &Block) -> pb::Block {
    pb::Block {
        id: b.id.0.to_vec(),
        version: b.version,
        parent_id: b.parent_id.0.to_vec(),
        index: b.index,
        cumulative_txo_count: b.cumulative_txo_count,
        root_element: Some(element_to_pb(&b.root_element)),
        contents_hash: b.contents_hash.0.to_vec(),
    }
}

fn block_from_pb(b: &pb::Block) -> Result<Block, DecodeError> {
    Ok(Block {
        id: BlockId(arr32(&b.id, "block.id")?),
        version: b.version,
        parent_id: BlockId(arr32(&b.parent_id, "block.parent_id")?),
        index: b.index,
        cumulative_txo_count: b.cumulative_txo_count,
        root_element: element_from_pb(b.root_element.as_ref(), "block.root_element")?,
        contents_hash: BlockContentsHash(arr32(&b.contents_hash, "block.contents_hash")?),
    })
}

fn contents_to_pb(c: &BlockContents) -> pb::BlockContents {
    pb::BlockContents {
        key_images: c.key_images.iter().map(|k| k.as_bytes().to_vec()).collect(),
        outputs: c.outputs.iter().map(tx_out_to_pb).collect(),
    }
}

fn contents_from_pb(c: &pb::BlockContents) -> Result<BlockContents, DecodeError> {
    Ok(BlockContents {
        key_images: c
            .key_images
            .iter()
            .map(|k| Ok(KeyImage(CompressedPoint(arr32(k, "contents.key_images")?))))
            .collect::<Result<_, DecodeError>>()?,
        outputs: c
            .outputs
            .iter()
            .map(tx_out_from_pb)
            .collect::<Result<_, _>>()?,
    })
}

fn signature_to_pb(s: &BlockSignature) -> pb::BlockSignature {
    pb::BlockSignature {
        signature: s.signature.0.to_vec(),
        signer: s.signer.to_bytes().to_vec(),
        signed_at: s.signed_at,
    }
}

fn signature_from_pb(s: &pb::BlockSignature) -> Result<BlockSignature, DecodeError> {
    Ok(BlockSignature {
        signature: Ed25519Signature::from_slice(&s.signature)
            .map_err(|_| DecodeError::BadField("signature.signature"))?,
        signer: Ed25519Public::from_bytes(&s.signer)
            .map_err(|_| DecodeError::BadField("signature.signer"))?,
        signed_at: s.signed_at,
    })
}

fn quorum_to_pb(q: &QuorumSetRecord) -> pb::QuorumSet {
    pb::QuorumSet {
        threshold: q.threshold,
        members: q
            .members
            .iter()
            .map(|m| pb::QuorumMember {
                member: Some(match m {
                    QuorumMemberRecord::Node(id) => pb::quorum_member::Member::Node(id.clone()),
                    QuorumMemberRecord::InnerSet(inner) => {
                        pb::quorum_member::Member::InnerSet(quorum_to_pb(inner))
                    }
                }),
            })
            .collect(),
    }
}

fn quorum_from_pb(q: &pb::QuorumSet, depth: usize) -> Result<QuorumSetRecord, DecodeError> {
    if depth > MAX_QUORUM_DEPTH {
        return Err(DecodeError::BadField(
            "metadata.quorum_set (nested too deep)",
        ));
    }
    Ok(QuorumSetRecord {
        threshold: q.threshold,
        members: q
            .members
            .iter()
            .map(|m| match &m.member {
                Some(pb::quorum_member::Member::Node(id)) => {
                    Ok(QuorumMemberRecord::Node(id.clone()))
                }
                Some(pb::quorum_member::Member::InnerSet(inner)) => Ok(
                    QuorumMemberRecord::InnerSet(quorum_from_pb(inner, depth + 1)?),
                ),
                None => Err(DecodeError::BadField("metadata.quorum_set.member")),
            })
            .collect::<Result<_, _>>()?,
    })
}

fn metadata_to_pb(m: &BlockMetadata) -> pb::BlockMetadata {
    pb::BlockMetadata {
        block_id: m.contents.block_id.0.to_vec(),
        quorum_set: Some(quorum_to_pb(&m.contents.quorum_set)),
        attestation_evidence: m.contents.attestation_evidence.clone(),
        responder_id: m.contents.responder_id.clone(),
        node_key: m.node_key.to_bytes().to_vec(),
        signature: m.signature.0.to_vec(),
    }
}

fn metadata_from_pb(m: &pb::BlockMetadata) -> Result<BlockMetadata, DecodeError> {
    Ok(BlockMetadata {
        contents: BlockMetadataContents {
            block_id: BlockId(arr32(&m.block_id, "metadata.block_id")?),
            quorum_set: quorum_from_pb(
                m.quorum_set
                    .as_ref()
                    .ok_or(DecodeError::BadField("metadata.quorum_set"))?,
                0,
            )?,
            attestation_evidence: m.attestation_evidence.clone(),
            responder_id: m.responder_id.clone(),
        },
        node_key: Ed25519Public::from_bytes(&m.node_key)
            .map_err(|_| DecodeError::BadField("metadata.node_key"))?,
        signature: Ed25519Signature::from_slice(&m.signature)
            .map_err(|_| DecodeError::BadField("metadata.signature"))?,
    })
}

fn tx_to_pb(tx: &Tx) -> pb::Tx {
    let proof = |p: &TxOutMembershipProof| pb::MembershipProof {
        index: p.index,
        highest_index: p.highest_index,
        elements: p.elements.iter().map(element_to_pb).collect(),
    };
    pb::Tx {
        prefix: Some(pb::TxPrefix {
            inputs: tx
                .prefix
                .inputs
                .iter()
                .map(|i| pb::TxIn {
                    ring: i.ring.iter().map(tx_out_to_pb).collect(),
                    proofs: i.proofs.iter().map(proof).collect(),
                })
                .collect(),
            outputs: tx.prefix.outputs.iter().map(tx_out_to_pb).collect(),
            fee: tx.prefix.fee,
            tombstone_block: tx.prefix.tombstone_block,
        }),
        signature: Some(pb::SignatureRct {
            ring_signatures: tx
                .signature
                .ring_signatures
                .iter()
                .map(|s| pb::RingMlsag {
                    c_zero: s.c_zero.0.to_vec(),
                    responses: s.responses.iter().map(|r| r.0.to_vec()).collect(),
                    key_image: s.key_image.as_bytes().to_vec(),
                })
                .collect(),
            pseudo_output_commitments: tx
                .signature
                .pseudo_output_commitments
                .iter()
                .map(|c| c.0.to_vec())
                .collect(),
            range_proof: tx.signature.range_proof.clone(),
        }),
    }
}

fn tx_from_pb(tx: &pb::Tx) -> Result<Tx, DecodeError> {
    let prefix = tx
        .prefix
        .as_ref()
        .ok_or(DecodeError::BadField("tx.prefix"))?;
    let sig = tx
        .signature
        .as_ref()
        .ok_or(DecodeError::BadField("tx.signature"))?;
    let proof = |p: &pb::MembershipProof| -> Result<TxOutMembershipProof, DecodeError> {
        Ok(TxOutMembershipProof {
            index: p.index,
            highest_index: p.highest_index,
            elements: p
                .elements
                .iter()
                .map(|e| element_from_pb(Some(e), "tx.input.proof.element"))
                .collect::<Result<_, _>>()?,
        })
    };
    Ok(Tx {
        prefix: TxPrefix {
            inputs: prefix
                .inputs
                .iter()
                .map(|i| {
                    Ok(TxIn {
                        ring: i
                            .ring
                            .iter()
                            .map(tx_out_from_pb)
                            .collect::<Result<_, _>>()?,
                        proofs: i.proofs.iter().map(proof).collect::<Result<_, _>>()?,
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
            outputs: prefix
                .outputs
                .iter()
                .map(tx_out_from_pb)
                .collect::<Result<_, _>>()?,
            fee: prefix.fee,
            tombstone_block: prefix.tombstone_block,
        },
        signature: SignatureRct {
            ring_signatures: sig
                .ring_signatures
                .iter()
                .map(|s| {
                    Ok(RingMlsag {
                        c_zero: ScalarBytes(arr32(&s.c_zero, "tx.ring_signature.c_zero")?),
                        responses: s
                            .responses
                            .iter()
                            .map(|r| Ok(ScalarBytes(arr32(r, "tx.ring_signature.response")?)))
                            .collect::<Result<_, DecodeError>>()?,
                        key_image: KeyImage(CompressedPoint(arr32(
                            &s.key_image,
                            "tx.ring_signature.key_image",
                        )?)),
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
            pseudo_output_commitments: sig
                .pseudo_output_commitments
                .iter()
                .map(|c| Ok(CompressedPoint(arr32(c, "tx.pseudo_output")?)))
                .collect::<Result<_, DecodeError>>()?,
            range_proof: sig.range_proof.clone(),
        },
    })
}

macro_rules! codec {
    ($ty:ty, $enc:ident, $dec:ident, $to:ident, $from:ident, $pb:ty, $name:literal) => {
        impl From<&$ty> for $pb {
            fn from(v: &$ty) -> Self {
                $to(v)
            }
        }
        impl TryFrom<&$pb> for $ty {
            type Error = DecodeError;
            fn try_from(p: &$pb) -> Result<Self, DecodeError> {
                $from(p)
            }
        }
        #[doc = concat!("Encodes a ", $name, ".")]
        pub fn $enc(v: &$ty) -> Vec<u8> {
            $to(v).encode_to_vec()
        }
        #[doc = concat!("Decodes a ", $name, ".")]
        pub fn $dec(bytes: &[u8]) -> Result<$ty, DecodeError> {
            $from(&decode_pb::<$pb>(bytes, $name)?)
        }
    };
}

codec!(
    TxOut,
    encode_tx_out,
    decode_tx_out,
    tx_out_to_pb,
    tx_out_from_pb,
    pb::TxOut,
    "TxOut"
);
codec!(
    Block,
    encode_block,
    decode_block,
    block_to_pb,
    block_from_pb,
    pb::Block,
    "Block"
);
codec!(
    BlockContents,
    encode_contents,
    decode_contents,
    contents_to_pb,
    contents_from_pb,
    pb::BlockContents,
    "BlockContents"
);
codec!(
    BlockSignature,
    encode_signature,
    decode_signature,
    signature_to_pb,
    signature_from_pb,
    pb::BlockSignature,
    "BlockSignature"
);
codec!(
    BlockMetadata,
    encode_metadata,
    decode_metadata,
    metadata_to_pb,
    metadata_from_pb,
    pb::BlockMetadata,
    "BlockMetadata"
);

codec!(Tx, encode_tx, decode_tx, tx_to_pb, tx_from_pb, pb::Tx, "Tx");

impl From<&ArchiveBlock> for pb::ArchiveBlock {
    fn from(a: &ArchiveBlock) -> Self {
        pb::ArchiveBlock {
            format_version: ARCHIVE_FORMAT_VERSION,
            block: Some(block_to_pb(&a.block)),
            contents: Some(contents_to_pb(&a.contents)),
            signature: a.signature.as_ref().map(signature_to_pb),
            metadata: a.metadata.as_ref().map(metadata_to_pb),
        }
    }
}

impl TryFrom<&pb::ArchiveBlock> for ArchiveBlock {
    type Error = DecodeError;

    /// Shape only: linkage and signatures are the reader's to check.
    fn try_from(a: &pb::ArchiveBlock) -> Result<Self, DecodeError> {
        archive_block_from_pb(a)
    }
}

/// Encodes an archive record.
pub fn encode_archive_block(a: &ArchiveBlock) -> Vec<u8> {
    pb::ArchiveBlock::from(a).encode_to_vec()
}

/// Decodes an archive record (shape only: linkage and signatures are the reader's to check).
pub fn decode_archive_block(bytes: &[u8]) -> Result<ArchiveBlock, DecodeError> {
    archive_block_from_pb(&decode_pb(bytes, "ArchiveBlock")?)
}

fn archive_block_from_pb(a: &pb::ArchiveBlock) -> Result<ArchiveBlock, DecodeError> {
    if a.format_version != ARCHIVE_FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(a.format_version));
    }
    Ok(ArchiveBlock {
        block: block_from_pb(
            a.block
                .as_ref()
                .ok_or(DecodeError::BadField("archive.block"))?,
        )?,
        contents: contents_from_pb(
            a.contents
                .as_ref()
                .ok_or(DecodeError::BadField("archive.contents"))?,
        )?,
        signature: a.signature.as_ref().map(signature_from_pb).transpose()?,
        metadata: a.metadata.as_ref().map(metadata_from_pb).transpose()?,
    })
}
