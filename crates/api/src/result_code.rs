//! The stable result codes of `ProposeTxResponse.result`. Never renumber; only add.
//!
//! | range | meaning |
//! |---|---|
//! | 0 | accepted |
//! | 1-99 | the transaction is invalid: `mcnode_transaction::ValidationError::code()` |
//! | 100-199 | the transaction conflicts with the ledger |
//! | 200-299 | the node cannot take it now (retry later or elsewhere); sent with gRPC `UNAVAILABLE` |
//! | 300-399 | the request itself is malformed |

/// Accepted for consensus.
pub const OK: u32 = 0;
/// A key image is already spent in the ledger (a double spend).
pub const KEY_IMAGE_SPENT: u32 = 100;
/// An output's target key is already in the ledger.
pub const OUTPUT_KEY_EXISTS: u32 = 101;
/// The node's pending-value or tx-cache limit is reached.
pub const OVER_CAPACITY: u32 = 200;
/// Reserved: the node is in maintenance mode. mcnode answers gRPC `UNAVAILABLE` in
/// maintenance instead (clients retry another node), so it never sends this code.
pub const MAINTENANCE: u32 = 201;
/// The node is catching up with the network.
pub const CATCHING_UP: u32 = 202;
/// The payload is not an encrypted transaction the enclave can read.
pub const UNDECODABLE: u32 = 300;
/// The attested channel is unknown, replayed or does not decrypt: re-authenticate.
pub const CHANNEL_ERROR: u32 = 301;

/// The code of an invalid transaction (1-99).
pub fn invalid(e: &mcnode_transaction::ValidationError) -> u32 {
    e.code()
}
