//! The block chain's data: what a block is, how its id and signatures are made, the origin
//! block, and the encoding shared by the ledger and the archive.
//!
//! * [`Block`] (header with id, parent, index, cumulative output count, TxOut root and
//!   contents hash), [`BlockContents`] (sorted key images and outputs), [`BlockId`].
//! * [`BlockSignature`]: the enclave's signature; [`BlockMetadata`]: the node's signed
//!   statement of quorum set, attestation evidence and responder id.
//! * [`origin`]: block 0.
//! * [`encoding`]: protobuf encoding of every type here and the [`ArchiveBlock`] record;
//!   [`pb`]: the messages, generated from the one `.proto` of the ledger schema.
//!
//! No IO: storage is `mcnode-ledger`'s, transport is `mcnode-archive`'s and `mcnode-api`'s.

pub mod block;
pub mod encoding;
pub mod origin;
pub mod signature;

/// The ledger schema's protobuf messages, generated from `proto/mcnode/ledger/v1/ledger.proto`
/// (the one source of the schema; `mcnode-api` uses these types in its services).
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::unwrap_used)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/mcnode.ledger.v1.rs"));
}

pub use block::{
    compute_block_id, Block, BlockContents, BlockContentsHash, BlockId, MAX_BLOCK_VERSION,
};
pub use encoding::{ArchiveBlock, DecodeError};
pub use mcnode_transaction::{BlockVersion, Feature};
pub use origin::{
    origin_block, origin_block_at, origin_block_paying, origin_block_paying_at, OriginError,
};
pub use signature::{
    BlockMetadata, BlockMetadataContents, BlockSignature, QuorumMemberRecord, QuorumSetRecord,
};
