//! Why a quorum set could not be taken into a [`Federation`](crate::Federation) or
//! analysed.

use mcnode_scp::QuorumSetError;

/// A refused input or a failed analysis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// Block metadata whose signature does not verify under the key it carries.
    #[error("block {block_index}: the metadata of {responder_id} has a bad signature; ignore this source")]
    BadMetadataSignature {
        /// The node the metadata claims to be from.
        responder_id: String,
        /// The block it came with.
        block_index: u64,
    },
    /// Block metadata signed by another key than the one `network.toml` gives the node.
    #[error("block {block_index}: the metadata of {responder_id} is signed by {found}, but network.toml gives it {expected}: check its consensus-msg-key")]
    MetadataKeyMismatch {
        /// The node.
        responder_id: String,
        /// The block it came with.
        block_index: u64,
        /// The key `network.toml` gives.
        expected: String,
        /// The key that signed.
        found: String,
    },
    /// A published quorum set breaks a rule (threshold, depth, repeats, ids).
    #[error("the quorum set {responder_id} published (block {block_index}) is invalid: {error}")]
    BadPublishedQuorumSet {
        /// The node.
        responder_id: String,
        /// The block it came with.
        block_index: u64,
        /// The rule broken.
        error: QuorumSetError,
    },
    /// A node id that is not usable as a node name (empty or too long).
    #[error("bad node id {id:?}: {error}")]
    BadNodeId {
        /// The text.
        id: String,
        /// Why.
        error: QuorumSetError,
    },
    /// The proposed change names a node the federation does not hold.
    #[error("no quorum set for {0} in the federation: give its network.toml")]
    UnknownNode(String),
    /// The analysis library failed (a bug there, reported instead of crashing the caller).
    #[error("the quorum analysis failed: {0}")]
    AnalysisFailed(String),
}
