//! Integration tests of the ledger: append rules, membership proofs, rollback, verify,
//! the golden table layout, migrations and crash safety.
#![allow(clippy::unwrap_used)]

mod append;
mod common;
mod crash;
mod golden;
mod migration;
mod proofs;
mod rollback;
mod snapshot;
mod tamper;
