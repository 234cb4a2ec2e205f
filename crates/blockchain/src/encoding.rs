//! The binary encoding of blocks and outputs: protobuf (prost), format version 1.
//!
//! One encoding serves the ledger's LMDB values and the archive's objects. Every field has
//! a fixed tag that is never reused; decoding checks lengths and key validity and returns a
//! [`DecodeError`] that names the field, never panics. The messages, in `.proto` terms:
//!
//! ```text
//! message TxOut { bytes target_key = 1; bytes public_key = 2; bytes commitment = 3; fixed64 masked_value = 4; }
//! message Range { fixed64 from = 1; fixed64 to = 2; }
//! message TreeElement { Range range = 1; bytes hash = 2; }
//! message Block { bytes id = 1; uint32 version = 2; bytes parent_id = 3; uint64 index = 4;
//!                 uint64 cumulative_txo_count = 5; TreeElement root_element = 6; bytes contents_hash = 7; }
//! message BlockContents { repeated bytes key_images = 1; repeated TxOut outputs = 2; }
//! message BlockSignature { bytes signature = 1; bytes signer = 2; uint64 signed_at = 3; }
//! message QuorumSet { uint32 threshold = 1; repeated QuorumMember members = 2; }
//! message QuorumMember { oneof member { string node = 1; QuorumSet inner_set = 2; } }
//! message BlockMetadata { bytes block_id = 1; QuorumSet quorum_set = 2; bytes attestation_evidence = 3;
//!                         string responder_id = 4; bytes node_key = 5; bytes signature = 6; }
//! message MembershipProof { fixed64 index = 1; fixed64 highest_index = 2; repeated TreeElement elements = 3; }
//! message TxIn { repeated TxOut ring = 1; repeated MembershipProof proofs = 2; }
//! message TxPrefix { repeated TxIn inputs = 1; repeated TxOut outputs = 2; uint64 fee = 3; uint64 tombstone_block = 4; }
//! message RingMlsag { bytes c_zero = 1; repeated bytes responses = 2; bytes key_image = 3; }
//! message SignatureRct { repeated RingMlsag ring_signatures = 1; repeated bytes pseudo_output_commitments = 2;
//!                        bytes range_proof = 3; }
//! message Tx { TxPrefix prefix = 1; SignatureRct signature = 2; }
//! message ArchiveBlock { uint32 format_version = 1; Block block = 2; BlockContents contents = 3;
//!                        BlockSignature signature = 4; BlockMetadata metadata = 5; }
//! ```

use mcnode_crypto::{
    CompressedPoint, Ed25519Public, Ed25519Signature, KeyImage, RingMlsag, ScalarBytes,
};
use mcnode_transaction::{
    membership::{Range, TreeElement},
    MaskedAmount, SignatureRct, Tx, TxIn, TxOut, TxOutMembershipProof, TxPrefix,
};
use prost::Message;

use crate::{
    Block, BlockContents, BlockContentsHash, BlockId, BlockMetadata, BlockMetadataContents,
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

mod pb {
    #![allow(missing_docs)]

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TxOut {
        #[prost(bytes = "vec", tag = "1")]
        pub target_key: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub public_key: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        pub commitment: Vec<u8>,
        #[prost(fixed64, tag = "4")]
        pub masked_value: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Range {
        #[prost(fixed64, tag = "1")]
        pub from: u64,
        #[prost(fixed64, tag = "2")]
        pub to: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TreeElement {
        #[prost(message, optional, tag = "1")]
        pub range: Option<Range>,
        #[prost(bytes = "vec", tag = "2")]
        pub hash: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Block {
        #[prost(bytes = "vec", tag = "1")]
        pub id: Vec<u8>,
        #[prost(uint32, tag = "2")]
        pub version: u32,
        #[prost(bytes = "vec", tag = "3")]
        pub parent_id: Vec<u8>,
        #[prost(uint64, tag = "4")]
        pub index: u64,
        #[prost(uint64, tag = "5")]
        pub cumulative_txo_count: u64,
        #[prost(message, optional, tag = "6")]
        pub root_element: Option<TreeElement>,
        #[prost(bytes = "vec", tag = "7")]
        pub contents_hash: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BlockContents {
        #[prost(bytes = "vec", repeated, tag = "1")]
        pub key_images: Vec<Vec<u8>>,
        #[prost(message, repeated, tag = "2")]
        pub outputs: Vec<TxOut>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BlockSignature {
        #[prost(bytes = "vec", tag = "1")]
        pub signature: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub signer: Vec<u8>,
        #[prost(uint64, tag = "3")]
        pub signed_at: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct QuorumSet {
        #[prost(uint32, tag = "1")]
        pub threshold: u32,
        #[prost(message, repeated, tag = "2")]
        pub members: Vec<QuorumMember>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct QuorumMember {
        #[prost(oneof = "Member", tags = "1, 2")]
        pub member: Option<Member>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Member {
        #[prost(string, tag = "1")]
        Node(String),
        #[prost(message, tag = "2")]
        InnerSet(QuorumSet),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BlockMetadata {
        #[prost(bytes = "vec", tag = "1")]
        pub block_id: Vec<u8>,
        #[prost(message, optional, tag = "2")]
        pub quorum_set: Option<QuorumSet>,
        #[prost(bytes = "vec", tag = "3")]
        pub attestation_evidence: Vec<u8>,
        #[prost(string, tag = "4")]
        pub responder_id: String,
        #[prost(bytes = "vec", tag = "5")]
        pub node_key: Vec<u8>,
        #[prost(bytes = "vec", tag = "6")]
        pub signature: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MembershipProof {
        #[prost(fixed64, tag = "1")]
        pub index: u64,
        #[prost(fixed64, tag = "2")]
        pub highest_index: u64,
        #[prost(message, repeated, tag = "3")]
        pub elements: Vec<TreeElement>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TxIn {
        #[prost(message, repeated, tag = "1")]
        pub ring: Vec<TxOut>,
        #[prost(message, repeated, tag = "2")]
        pub proofs: Vec<MembershipProof>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TxPrefix {
        #[prost(message, repeated, tag = "1")]
        pub inputs: Vec<TxIn>,
        #[prost(message, repeated, tag = "2")]
        pub outputs: Vec<TxOut>,
        #[prost(uint64, tag = "3")]
        pub fee: u64,
        #[prost(uint64, tag = "4")]
        pub tombstone_block: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RingMlsag {
        #[prost(bytes = "vec", tag = "1")]
        pub c_zero: Vec<u8>,
        #[prost(bytes = "vec", repeated, tag = "2")]
        pub responses: Vec<Vec<u8>>,
        #[prost(bytes = "vec", tag = "3")]
        pub key_image: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SignatureRct {
        #[prost(message, repeated, tag = "1")]
        pub ring_signatures: Vec<RingMlsag>,
        #[prost(bytes = "vec", repeated, tag = "2")]
        pub pseudo_output_commitments: Vec<Vec<u8>>,
        #[prost(bytes = "vec", tag = "3")]
        pub range_proof: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tx {
        #[prost(message, optional, tag = "1")]
        pub prefix: Option<TxPrefix>,
        #[prost(message, optional, tag = "2")]
        pub signature: Option<SignatureRct>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ArchiveBlock {
        #[prost(uint32, tag = "1")]
        pub format_version: u32,
        #[prost(message, optional, tag = "2")]
        pub block: Option<Block>,
        #[prost(message, optional, tag = "3")]
        pub contents: Option<BlockContents>,
        #[prost(message, optional, tag = "4")]
        pub signature: Option<BlockSignature>,
        #[prost(message, optional, tag = "5")]
        pub metadata: Option<BlockMetadata>,
    }
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
                    QuorumMemberRecord::Node(id) => pb::Member::Node(id.clone()),
                    QuorumMemberRecord::InnerSet(inner) => {
                        pb::Member::InnerSet(quorum_to_pb(inner))
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
                Some(pb::Member::Node(id)) => Ok(QuorumMemberRecord::Node(id.clone())),
                Some(pb::Member::InnerSet(inner)) => Ok(QuorumMemberRecord::InnerSet(
                    quorum_from_pb(inner, depth + 1)?,
                )),
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

/// Encodes an archive record.
pub fn encode_archive_block(a: &ArchiveBlock) -> Vec<u8> {
    pb::ArchiveBlock {
        format_version: ARCHIVE_FORMAT_VERSION,
        block: Some(block_to_pb(&a.block)),
        contents: Some(contents_to_pb(&a.contents)),
        signature: a.signature.as_ref().map(signature_to_pb),
        metadata: a.metadata.as_ref().map(metadata_to_pb),
    }
    .encode_to_vec()
}

/// Decodes an archive record (shape only: linkage and signatures are the reader's to check).
pub fn decode_archive_block(bytes: &[u8]) -> Result<ArchiveBlock, DecodeError> {
    let a: pb::ArchiveBlock = decode_pb(bytes, "ArchiveBlock")?;
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
