//! The mcnode ledger: a blockchain of blocks holding outputs and key images, stored in
//! LMDB, with the TxOut Merkle tree that membership proofs are made against.
//!
//! * [`Ledger`]: the trait the node and the tools see: append a block (checked, atomic),
//!   look up blocks, contents, signatures, metadata, key images and outputs, make
//!   membership proofs in O(log n) reads. Every `Ledger` is a
//!   [`LedgerView`](mcnode_transaction::LedgerView), so `validate()` runs against it.
//! * [`LmdbLedger`]: the LMDB implementation (heed 0.23). Table layout in
//!   [`lmdb::tables`]; one write transaction per block; `verify`, `rollback`, `snapshot`
//!   and `info` for the operator tools.
//! * [`migrations`]: schema versions and the steps between them, run by
//!   `mc-ledger-migration`. Opening a ledger of another schema fails with
//!   [`LedgerError::SchemaMismatch`], which names the tool.
//! * `MockLedger` and `test_utils` (feature `test-utils`): the same rules in memory, and
//!   block builders for tests and benchmarks.
//!
//! Errors are [`LedgerError`] (refusals are [`AppendError`]); [`LedgerError::is_fatal`]
//! tells the node when to stop (a failed write leaves the last committed block intact).
//!
//! Not here: forming blocks from transactions (the enclave), signing them, fetching them
//! from peers or archives, and networking.

mod checks;
mod error;
pub mod lmdb;
pub mod migrations;
#[cfg(feature = "test-utils")]
mod mock;
#[cfg(feature = "test-utils")]
pub mod test_utils;
mod traits;
mod tree;

pub use error::{AppendError, LedgerError, MigrationError, VerifyError};
pub use lmdb::{LedgerInfo, LmdbLedger, VerifyReport};
#[cfg(feature = "test-utils")]
pub use mock::MockLedger;
pub use traits::{Ledger, StateAnswer, StateQuery};

/// Re-exported so tools and tests can open an environment with the same heed.
pub use heed;

/// The schema version this build reads and writes (see [`migrations`]).
pub const CURRENT_SCHEMA_VERSION: u32 = 2;
