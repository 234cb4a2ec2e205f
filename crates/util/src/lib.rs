//! Small pieces shared by mcnode's binaries, with no heavy dependencies.
//!
//! * [`fs`]: durable atomic file replacement (temporary file, fsync, rename, fsync of the
//!   directory), used for every file the node must not lose.
//! * [`supervise`] and [`policy`]: the process supervisor of `mcnode localnet` and
//!   `mcnode-entrypoint` (restart with backoff, give up on a child that keeps failing,
//!   stop in order: consensus first, then ledger-distribution, then the gateway).

pub mod fs;
pub mod policy;
pub mod supervise;
