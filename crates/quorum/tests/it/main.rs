//! Quorum analysis: the 7-node tiered example, the broken one, proposals, published
//! metadata.

#![allow(clippy::unwrap_used)]

mod analysis;
mod metadata;
