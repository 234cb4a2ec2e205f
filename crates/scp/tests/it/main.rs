//! Integration tests of the SCP state machine: quorum predicates, malformed input,
//! and protocol scenarios named after the sections of Mazières' SCP paper.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ballot;
mod core3;
mod harness;
mod malformed;
mod net;
mod nomination;
mod quorum;
mod restore;
mod validity;
