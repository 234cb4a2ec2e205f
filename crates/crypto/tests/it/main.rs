//! Integration tests of mcnode-crypto.
#![allow(clippy::unwrap_used, missing_docs)]

mod mlsag;
