//! Protocol constants. Changing one is a consensus change.

/// Members in every input's ring: the real output and ten decoys.
pub const RING_SIZE: usize = 11;
/// Most inputs a transaction may have.
pub const MAX_INPUTS: usize = 16;
/// Most outputs a transaction may have.
pub const MAX_OUTPUTS: usize = 16;
/// Furthest a tombstone block may lie beyond the block being formed.
pub const MAX_TOMBSTONE_BLOCKS: u64 = 20_160;
/// Default minimum fee, in the smallest unit (the node's `--minimum-fee` overrides it).
pub const DEFAULT_MINIMUM_FEE: u64 = 400_000_000;
/// Version of the transaction format this crate writes and validates.
pub const TX_VERSION: u32 = 1;
