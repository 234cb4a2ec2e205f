//! The error types of the crate: one enum per concern, every variant documented.

use crate::msg::SlotIndex;
use crate::quorum_set::NodeId;

/// Why a quorum set (or a node id inside one) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumSetError {
    /// A set (top level or inner) has threshold 0, so every empty set would satisfy it.
    #[error("quorum set threshold is 0: set it to at least 1")]
    ZeroThreshold,
    /// A set's threshold is larger than its number of members (nodes plus inner sets),
    /// so it can never be satisfied.
    #[error("quorum set threshold {threshold} exceeds its {members} members: lower the threshold or add members")]
    ThresholdAboveMembers {
        /// The threshold found.
        threshold: u32,
        /// Nodes plus inner sets at that level.
        members: usize,
    },
    /// Inner sets are nested deeper than [`crate::MAX_NESTING_DEPTH`].
    #[error("quorum set nesting depth {depth} exceeds the limit {max}: flatten the inner sets")]
    TooDeep {
        /// The depth found (0 for a set without inner sets).
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// The set names more distinct nodes than [`crate::MAX_QUORUM_SET_NODES`].
    #[error("quorum set names {count} distinct nodes, more than the limit {max}")]
    TooManyNodes {
        /// Distinct nodes found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A node appears more than once anywhere in the set (which would give it extra weight).
    #[error("node {0} appears more than once in the quorum set: list each node once")]
    DuplicateNode(NodeId),
    /// A node id is empty or longer than [`crate::MAX_NODE_ID_LEN`] bytes.
    #[error("node id of {len} bytes is invalid: it must have 1 to {max} bytes")]
    InvalidNodeId {
        /// Length in bytes of the rejected id.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Why a message from a peer was rejected as malformed (before it touched any state).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgError {
    /// The sender's node id is invalid.
    #[error("sender id is invalid: {0}")]
    InvalidSender(QuorumSetError),
    /// The sender's quorum set is invalid.
    #[error("sender quorum set is invalid: {0}")]
    InvalidQuorumSet(QuorumSetError),
    /// Slot 0 is reserved (slots start at 1, like block indexes after the origin block).
    #[error("slot index 0 is reserved")]
    ZeroSlot,
    /// A nomination lists values that are not strictly increasing (unsorted or repeated).
    #[error("nomination {field} values are not sorted strictly increasing")]
    ValuesNotSorted {
        /// `"voted"` or `"accepted"`.
        field: &'static str,
    },
    /// A nomination carries no value at all.
    #[error("nomination carries no value")]
    EmptyNomination,
    /// A nomination carries more values than the configured limit.
    #[error("nomination carries {count} values, more than the limit {max}")]
    TooManyValues {
        /// Values found (voted plus accepted).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A ballot has counter 0, which only the "no ballot" state may have.
    #[error("ballot counter 0 in a {0} statement")]
    ZeroCounter(&'static str),
    /// A prepare statement has `p'` without `p`, or `p'` not below and incompatible with `p`.
    #[error("prepare statement: p' must be below p and hold a different value")]
    BadPreparedPrime,
    /// A prepare statement has `h` above `p`, or `h` without `p`.
    #[error("prepare statement: high counter {high} is above the prepared counter {prepared}")]
    HighAbovePrepared {
        /// `h.counter` as sent.
        high: u32,
        /// `p.counter` as sent (0 when there is no `p`).
        prepared: u32,
    },
    /// The commit range is not `0 < c <= h <= b` (or `c = 0`, prepare only).
    #[error("{phase} statement: commit range c={commit} h={high} b={ballot} is not ordered")]
    BadCommitRange {
        /// The statement kind.
        phase: &'static str,
        /// Commit counter as sent.
        commit: u32,
        /// High counter as sent.
        high: u32,
        /// Ballot counter as sent (the commit counter for externalize).
        ballot: u32,
    },
}

/// Errors returned by [`crate::Node`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A peer message is malformed; it was dropped without changing any state.
    #[error("malformed message from {sender} for slot {slot}: {source}")]
    Malformed {
        /// The claimed sender.
        sender: NodeId,
        /// The claimed slot.
        slot: SlotIndex,
        /// What was wrong.
        source: MsgError,
    },
    /// A message carries a value that fails the caller's validity check; it was dropped.
    #[error("message from {sender} for slot {slot} carries a value that is not valid")]
    InvalidValue {
        /// The sender.
        sender: NodeId,
        /// The slot.
        slot: SlotIndex,
    },
    /// The local quorum set given to [`crate::Node::new`] is invalid.
    #[error("local quorum set is invalid: {0}")]
    LocalQuorumSet(QuorumSetError),
    /// The local node id given to [`crate::Node::new`] is invalid.
    #[error("local node id is invalid: {0}")]
    LocalNodeId(QuorumSetError),
    /// The configuration is invalid.
    #[error("invalid scp configuration: {0}")]
    Config(&'static str),
    /// A message is for a slot too far beyond the highest slot this node works on.
    #[error("slot {slot} is more than {max_ahead} slots ahead of the highest known slot {highest}: catch up first")]
    SlotTooFarAhead {
        /// The slot of the message.
        slot: SlotIndex,
        /// Highest slot proposed or externalized locally.
        highest: SlotIndex,
        /// The configured window.
        max_ahead: u64,
    },
    /// A message is for a slot that was already purged.
    #[error("slot {slot} is below the purge floor {floor}")]
    SlotPurged {
        /// The slot of the message.
        slot: SlotIndex,
        /// Slots below this were purged.
        floor: SlotIndex,
    },
    /// [`crate::Node::propose_values`] got no value that passes the validity check.
    #[error("no valid value to propose for slot {slot}")]
    NoValidValue {
        /// The slot.
        slot: SlotIndex,
    },
    /// A slot reached a bound on what it tracks (distinct node ids: senders and the
    /// nodes their quorum sets name; or distinct quorum sets); the message was refused.
    #[error("slot {slot} already tracks {max} distinct {what}: message refused")]
    SlotFull {
        /// The slot.
        slot: SlotIndex,
        /// `"node ids"` or `"quorum sets"`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// [`crate::Node::restore`] was given a message that another node sent.
    #[error("cannot restore from a message sent by {sender}: only the node's own messages restore its state")]
    NotOwnMessage {
        /// The sender of the rejected message.
        sender: NodeId,
    },
}
