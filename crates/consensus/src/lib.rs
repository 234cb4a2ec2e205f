//! The validator node behind `consensus-service`: a thin tokio shell around the sans-IO
//! node core of `mcnode-node-core`.
//!
//! * [`config`]: the command line (every flag also an `MC_` environment variable);
//! * [`node`]: the node task, the one owner of the [`mcnode_node_core::NodeCore`]; it
//!   performs the core's actions (sign and broadcast, validate, fetch, form and append
//!   blocks, catch up, persist SCP state) and publishes its state;
//! * [`intake`]: checking a transaction against the ledger and in the enclave;
//! * [`services`]: the gRPC services of the client and peer ports, which verify, decrypt
//!   and validate, then hand over to the node task through bounded queues;
//! * [`catchup`]: fetching and verifying missing blocks from peers or archives;
//! * [`state`]: what the tasks share and the snapshot the node task publishes;
//!   [`metrics`]: the node's metrics; [`service`]: assembly, shutdown;
//! * [`admin`]: the admin API (node info, metrics, log filter, maintenance, SCP state,
//!   history), the reloadable log filter and the gRPC request counter;
//! * [`history`]: the last hour in 10-s samples, for the admin panel's charts.

pub mod admin;
pub mod catchup;
pub mod config;
pub mod history;
pub mod intake;
pub mod metrics;
pub mod node;
pub mod service;
pub mod services;
pub mod state;

pub use mcnode_node_core::{TxHash, TxSet, TxSetPolicy};
