//! The client side of an mcnode network: what a wallet does, talking only to a node's
//! client port.
//!
//! * [`NodeClient`]: connects to a client URI (`mc://…` with TLS, `insecure-mc://…`
//!   without); reads the ledger (`BlockchainApi.GetLastBlockInfo`, `GetBlockData`);
//!   submits transactions over the attested client channel (`AttestedApi.Auth`, Noise NX,
//!   checking the node's enclave measurement, then `ConsensusClientApi.ClientTxPropose`),
//!   opened lazily, cached, and re-opened once when the node no longer knows it.
//! * [`LocalLedger`]: the wallet's own LMDB copy of the ledger. Syncing fetches the missing
//!   blocks in chunks and verifies each against its predecessor
//!   (`mcnode_archive::verify::verify_block`: index, id, parent, cumulative count,
//!   contents hash, signatures) before appending it; the origin block must be the local
//!   copy's (an empty copy takes the node's), and the node's tip must be the local block
//!   at that index. [`LocalLedger::apply_blocks`] is the IO-free core;
//!   [`LocalLedger::sync_from_archive`] reads an archive instead of a node.
//! * [`Wallet`]: one account over a local copy: finds its outputs (default and change
//!   subaddresses) incrementally, computes the balance (spent = key image in the
//!   ledger), builds payments (largest inputs first, rings of
//!   `mcnode_transaction::constants::RING_SIZE` with random decoys and membership proofs
//!   from the copy, change to the change address, validated locally) and sends them,
//!   waiting until a block holds one of their key images.
//! * [`localnet::Manifest`]: `localnet.json`, the map of a local network.
//!
//! Errors are one enum, [`WalletError`]; nothing a node or an archive sends makes the
//! wallet panic. Randomness (decoys, keys, blinding factors) is the caller's RNG.
//!
//! Not here: anything of the node's internals; choosing which node to trust (the caller
//! picks the URI and the expected measurement).

pub mod client;
pub mod error;
pub mod local_ledger;
pub mod localnet;
pub mod wallet;

pub use client::{
    parse_measurement, result_code_name, ConnectOptions, NodeClient, NodeTip, ProposeOutcome,
};
pub use error::WalletError;
pub use local_ledger::{LocalLedger, SyncReport};
pub use wallet::{
    build_spend, load_account_key, Balance, OwnedTxOut, Payment, SendOptions, SendReceipt, Wallet,
    TOMBSTONE_BLOCKS,
};
