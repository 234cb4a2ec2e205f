//! The validator node behind `consensus-service`.
//!
//! Built so far, the pure parts the SCP driver stands on:
//! * [`tx_cache`]: the cache of accepted transactions (host side: contexts and
//!   enclave-encrypted bodies only) and the pending values awaiting nomination, both with
//!   documented limits; over a limit the node answers `UNAVAILABLE`.
//! * [`value`]: the SCP value ([`TxSet`]: the sorted set of transaction hashes a node
//!   proposes for a block) and its [`value::TxSetPolicy`]: validity (every hash known and
//!   not expired) and the deterministic combine (fee priority, then hash; conflicting key
//!   images or output keys dropped; block size capped).
//!
//! To come with the node work: the SCP driver, block formation through the enclave,
//! catch-up, the gRPC services and the binary.

pub mod tx_cache;
pub mod value;

pub use tx_cache::{CacheError, CacheLimits, TxCache};
pub use value::{TxHash, TxSet, TxSetPolicy};
