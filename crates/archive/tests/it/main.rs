//! Integration tests of the archive: a real S3 API server (s3s-fs, in process), directory
//! archives, the `ledger-distribution` binary under SIGKILL, verification failures.
#![allow(clippy::unwrap_used, missing_docs)]

mod audit;
mod common;
mod dir;
mod kill;
mod metrics;
mod s3;
