//! The validator node's decisions as a sans-IO state machine.
//!
//! [`NodeCore`] holds everything `consensus-service` decides above SCP: the transactions
//! it holds and nominates ([`store`]), the SCP value and its validity levels ([`value`]),
//! which missing transactions to fetch from whom and when to retry ([`fetch`]), envelopes
//! held for later slots ([`held`]), how much clients may add ([`admit`]), when to form a
//! block, when to catch up, and when a slot looks stalled. Inputs carry `now`; outputs
//! are [`Action`]s the caller performs (sign and broadcast, fetch, validate, relay, form
//! and append a block, catch up, probe peers' heights, persist SCP state, log a notice). It reads no clock, spawns nothing and
//! does no IO, so the same code runs under the tokio shell of `mcnode-consensus` and in
//! the deterministic whole-node simulator of `mcnode-testkit`.
//!
//! It does not validate transactions itself (the shell does, with the ledger and the
//! enclave, and reports [`Checked`] results), does not sign or verify envelopes, and does
//! not know what a transaction body is (`B` is opaque).
//!
//! # Entry points
//! - [`NodeCore::new`], then the inputs `on_envelope`, `on_client_tx`, `on_peer_txs`,
//!   `on_validated`, `on_fetch_answer`, `on_fetch_failed`, `on_block_appended`,
//!   `on_form_failed`, `on_catch_up_done`, `on_peer_heights` and `tick`; after each,
//!   [`NodeCore::take_actions`].
//! - [`NodeCore::status`] and [`NodeCore::stats`] for gauges and counters,
//!   [`NodeCore::quorum_health`] for each quorum member's state ([`health`]),
//!   [`NodeCore::lookup`] to answer a peer's `GetTxs`.
//! - [`CoreConfig`] (plain data with `validate`).
//!
//! # Limits
//! Every collection is bounded: the store by [`StoreLimits`], remembered invalid hashes by
//! [`store::MAX_INVALID`], wanted hashes and open fetches by [`FetchConfig`], held
//! envelopes by senders x [`CoreConfig::max_slots_ahead`] x 2, validation requests by
//! [`CoreConfig::validate_batch`] transactions each.

pub mod admit;
pub mod config;
mod core;
pub mod fetch;
pub mod health;
pub mod held;
pub mod store;
pub mod types;
pub mod value;

pub use crate::core::{
    validity_at, Action, ClientVerdict, CoreError, CoreStats, CoreStatus, HeardMember, Legacy,
    NodeCore, Notice, StallReport,
};
pub use admit::{Admission, AdmitConfig};
pub use config::{ConfigError, CoreConfig};
pub use fetch::{FetchConfig, FetchRequest, FetchStats};
pub use health::{
    v_blocking_distance, MemberHealth, MemberState, QuorumHealth, QuorumHealthReport, SlotState,
};
pub use store::{StoreLimits, TxStore};
pub use types::{
    codes, AppendedBlock, BlockId, Checked, CoreTx, Disposition, Envelope, FetchId, Refusal,
    SyncMode, Tip, TxFacts, TxHash, TxOrigin,
};
pub use value::{TxSet, TxSetPolicy, DEFAULT_MAX_BLOCK_TXS};
