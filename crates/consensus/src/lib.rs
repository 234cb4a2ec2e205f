//! The validator node behind `consensus-service`.
//!
//! The pure parts the SCP driver stands on:
//! * [`tx_cache`]: the cache of accepted transactions (host side: contexts and
//!   enclave-encrypted bodies only) and the pending values awaiting nomination, both with
//!   documented limits; over a limit the node answers `UNAVAILABLE`.
//! * [`value`]: the SCP value ([`TxSet`]: the sorted set of transaction hashes a node
//!   proposes for a block) and its [`value::TxSetPolicy`]: validity (every hash known and
//!   not expired) and the deterministic combine (fee priority, then hash; conflicting key
//!   images or output keys dropped; block size capped).
//!
//! And the node itself (binary `consensus-service`):
//! * [`config`]: the command line (every flag also an `MC_` environment variable);
//! * [`intake`]: checking a transaction against the ledger and in the enclave;
//! * [`services`]: the gRPC services of the client and peer ports;
//! * [`driver`]: the SCP driver, the only writer of the ledger; [`fetch`] gets unknown
//!   transactions from peers, [`catchup`] missing blocks from peers or archives;
//! * [`state`]: what the tasks share, and the metrics; [`service`]: assembly, shutdown;
//! * [`admin`]: the admin API (node info, metrics, log filter, maintenance, SCP state),
//!   the reloadable log filter and the gRPC request counter.

pub mod admin;
pub mod catchup;
pub mod config;
pub mod driver;
pub mod fetch;
pub mod intake;
pub mod service;
pub mod services;
pub mod state;
pub mod tx_cache;
pub mod value;

pub use tx_cache::{CacheError, CacheLimits, TxCache};
pub use value::{TxHash, TxSet, TxSetPolicy};
