//! Integration tests of mcnode-wallet that need no running node: scanning, balances,
//! payments validated against a local LMDB ledger, verified sync (tampered blocks
//! refused), the localnet manifest, and the gRPC client against an in-process fake node
//! (a real software enclave behind the client API).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod fake_node;
mod faults;
mod manifest;
mod node;
mod payment;
mod scan;
mod sync;
