//! Conversions between wire messages and domain types.
//!
//! Ledger types are `mcnode_blockchain::pb` messages, converted by the blockchain crate
//! (`From` / `TryFrom`): all validation lives there, never duplicated here.

use mcnode_blockchain::{pb as ledger_pb, ArchiveBlock, Block, DecodeError};
use mcnode_enclave::{ChannelId, EncryptedMessage};

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

/// A block on the wire.
pub fn block_to_pb(b: &Block) -> ledger_pb::Block {
    b.into()
}

/// A block from the wire.
pub fn block_from_pb(p: &ledger_pb::Block) -> Result<Block, ConvertError> {
    Ok(p.try_into()?)
}

/// An archive block on the wire.
pub fn archive_block_to_pb(a: &ArchiveBlock) -> ledger_pb::ArchiveBlock {
    a.into()
}

/// An archive block from the wire (shape checked; linkage and signatures are the
/// caller's).
pub fn archive_block_from_pb(p: &ledger_pb::ArchiveBlock) -> Result<ArchiveBlock, ConvertError> {
    Ok(p.try_into()?)
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
