//! The durable write helpers under SIGKILL.
#![allow(clippy::unwrap_used, missing_docs)]

mod kill;
mod supervise;
