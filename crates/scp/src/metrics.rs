//! Per-slot metrics and a serialisable debug snapshot of a slot's whole state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::msg::{Ballot, BallotStatement, Millis, Nominate, SlotIndex};
use crate::quorum_set::NodeId;

/// Where a slot stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotPhase {
    /// Nominating; no ballot yet. Paper: section 6.1.
    Nominate,
    /// Ballot protocol, prepare phase. Paper: section 6.2.
    Prepare,
    /// Ballot protocol, confirm (paper: commit) phase.
    Confirm,
    /// The value is externalized. Final.
    Externalize,
}

/// Counters and gauges for one slot, for dashboards and tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotMetrics {
    /// The slot.
    pub slot: SlotIndex,
    /// Current phase.
    pub phase: SlotPhase,
    /// Paper: `b.n` (0 before the ballot protocol starts).
    pub ballot_counter: u32,
    /// Nomination round (0 before nomination starts).
    pub nomination_round: u32,
    /// Paper: `|X|`, values voted nominated.
    pub voted: usize,
    /// Paper: `|Y|`, values accepted nominated.
    pub accepted: usize,
    /// Paper: `|Z|`, values confirmed nominated (candidates).
    pub confirmed: usize,
    /// Whether a quorum is at our ballot counter or above (the ballot timer runs).
    pub heard_from_quorum: bool,
    /// Peer messages handed to this slot.
    pub messages_received: u64,
    /// Messages this slot emitted (rebroadcasts not counted).
    pub messages_emitted: u64,
    /// Peers whose latest nomination names a value that is not Valid here (as of its
    /// receipt or the last `revalidate`): their values get no vote from this node yet.
    #[serde(default)]
    pub nominations_not_valid: usize,
    /// Peers whose latest ballot statement names a value that is not Valid here (as
    /// of its receipt or the last `revalidate`). A slot that waits on missing
    /// transactions shows a non-zero count here while its phase stays put.
    #[serde(default)]
    pub ballots_not_valid: usize,
}

/// Nomination part of a [`SlotSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NominationSnapshot<V> {
    /// Whether the local node started nominating.
    pub started: bool,
    /// Current round.
    pub round: u32,
    /// Leaders accumulated over the rounds.
    pub leaders: Vec<NodeId>,
    /// Paper: `X`.
    pub voted: Vec<V>,
    /// Paper: `Y`.
    pub accepted: Vec<V>,
    /// Paper: `Z`.
    pub candidates: Vec<V>,
    /// The combined candidates.
    pub composite: Option<V>,
    /// When the nomination timer fires.
    pub timer_deadline_ms: Option<Millis>,
}

/// Ballot part of a [`SlotSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotSnapshot<V> {
    /// Paper: `b`.
    pub b: Option<Ballot<V>>,
    /// Paper: `p`.
    pub p: Option<Ballot<V>>,
    /// Paper: `p'`.
    pub p_prime: Option<Ballot<V>>,
    /// Paper: `h`.
    pub h: Option<Ballot<V>>,
    /// Paper: `c`.
    pub c: Option<Ballot<V>>,
    /// Paper: `z`.
    pub value_override: Option<V>,
    /// Whether a quorum is at our counter or above.
    pub heard_from_quorum: bool,
    /// When the ballot timer fires.
    pub timer_deadline_ms: Option<Millis>,
}

/// Everything a slot knows, for debugging (serialise it to JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSnapshot<V> {
    /// The slot.
    pub slot: SlotIndex,
    /// The local node.
    pub local: NodeId,
    /// Current phase.
    pub phase: SlotPhase,
    /// Nomination state.
    pub nomination: NominationSnapshot<V>,
    /// Ballot state.
    pub ballot: BallotSnapshot<V>,
    /// Paper: `N`, latest nomination statement per node (ours included).
    pub latest_nominations: BTreeMap<NodeId, Nominate<V>>,
    /// Paper: `M`, latest ballot statement per node (ours included). Ours is at counter
    /// 0 when we accepted a ballot prepared before having one of our own (it counts our
    /// acceptance and is never sent).
    pub latest_ballots: BTreeMap<NodeId, BallotStatement<V>>,
    /// The externalized value, once there is one.
    pub externalized: Option<V>,
    /// Values named by the recorded statements that are MaybeValid here (the node
    /// waits to learn more about them; see `Node::revalidate`).
    #[serde(default = "Vec::new")]
    pub maybe_valid_values: Vec<V>,
    /// Peers whose latest nomination or ballot statement names a value that is not
    /// Valid here.
    #[serde(default)]
    pub statements_not_valid: Vec<NodeId>,
}
