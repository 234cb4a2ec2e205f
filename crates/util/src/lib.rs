//! Small pieces shared by mcnode's binaries, with no heavy dependencies.
//!
//! * [`fs`]: durable atomic file replacement (temporary file, fsync, rename, fsync of the
//!   directory), used for every file the node must not lose.

pub mod fs;
