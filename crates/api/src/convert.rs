//! Conversions between wire messages and domain types.
//!
//! Ledger types: `types.proto` is wire-identical to `mcnode_blockchain::encoding`, so a
//! conversion encodes with one and decodes with the other; all validation lives in one
//! place (the blockchain decoder), never duplicated here.

use mcnode_blockchain::{encoding, ArchiveBlock, Block, DecodeError};
use mcnode_enclave::{ChannelId, EncryptedMessage};
use prost::Message;

use crate::pb;

/// Why a wire message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A ledger message does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A channel id is not 16 bytes.
    #[error("channel id must be 16 bytes, got {0}")]
    ChannelId(usize),
}

/// Decodes bytes our own blockchain encoder wrote into the generated type. The schemas are
/// one (tests hold them to it), so a failure is a broken invariant, not bad input.
fn from_our_bytes<B: Message + Default>(bytes: &[u8]) -> B {
    B::decode(bytes).expect("types.proto and mcnode-blockchain's encoding have diverged")
}

/// A block on the wire.
pub fn block_to_pb(b: &Block) -> pb::Block {
    from_our_bytes(&encoding::encode_block(b))
}

/// A block from the wire.
pub fn block_from_pb(p: &pb::Block) -> Result<Block, ConvertError> {
    Ok(encoding::decode_block(&p.encode_to_vec())?)
}

/// An archive block on the wire.
pub fn archive_block_to_pb(a: &ArchiveBlock) -> pb::ArchiveBlock {
    from_our_bytes(&encoding::encode_archive_block(a))
}

/// An archive block from the wire (shape checked; linkage and signatures are the
/// caller's).
pub fn archive_block_from_pb(p: &pb::ArchiveBlock) -> Result<ArchiveBlock, ConvertError> {
    Ok(encoding::decode_archive_block(&p.encode_to_vec())?)
}

/// An encrypted frame on the wire.
pub fn encrypted_to_pb(m: &EncryptedMessage) -> pb::EncryptedMessage {
    pb::EncryptedMessage {
        channel_id: m.channel_id.0.to_vec(),
        nonce: m.nonce,
        ciphertext: m.ciphertext.clone(),
    }
}

/// An encrypted frame from the wire.
pub fn encrypted_from_pb(p: &pb::EncryptedMessage) -> Result<EncryptedMessage, ConvertError> {
    let id: [u8; 16] = p
        .channel_id
        .as_slice()
        .try_into()
        .map_err(|_| ConvertError::ChannelId(p.channel_id.len()))?;
    Ok(EncryptedMessage {
        channel_id: ChannelId(id),
        nonce: p.nonce,
        ciphertext: p.ciphertext.clone(),
    })
}
