//! mcnode's gRPC surface: the `.proto` files under `proto/`, the tonic code generated
//! from them, the stable result codes of `ClientTxPropose`, and conversions between wire
//! and domain types.
//!
//! Services (package `mcnode.v1`): `AttestedApi` (Noise handshakes), `ConsensusClientApi`
//! (wallets), `BlockchainApi` (ledger reads and catch-up), `ConsensusPeerApi` (between
//! validators), `AdminApi` (the node's operator, through `mc-admin-http-gateway`). [`FILE_DESCRIPTOR_SET`] feeds gRPC reflection, so `grpcurl list` works.
//!
//! The ledger's messages (blocks, outputs, transactions) are not defined here: the services
//! import `mcnode/ledger/v1/ledger.proto`, the one source of the ledger schema, from
//! `mcnode-blockchain`, and use its generated types (`mcnode_blockchain::pb`, re-exported
//! as [`ledger_pb`]).

pub mod admin;
pub mod convert;
pub mod result_code;

/// Generated messages, clients and servers.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::unwrap_used)]
pub mod pb {
    tonic::include_proto!("mcnode.v1");
}

pub use mcnode_blockchain::pb as ledger_pb;

/// The encoded descriptor set of every proto here, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mcnode_descriptor.bin"));
