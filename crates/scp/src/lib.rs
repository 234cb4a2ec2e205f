//! The Stellar Consensus Protocol (SCP) as a sans-IO state machine, generic over the value
//! type.
//!
//! This crate implements federated Byzantine agreement as described in David Mazières,
//! *The Stellar Consensus Protocol* (2016): quorum sets and their predicates (section 3),
//! federated voting (section 5), nomination (section 6.1) and the ballot protocol
//! (section 6.2). It does **no IO**: inputs are peer messages, proposed values and the
//! current time (milliseconds the caller chooses); outputs are messages to broadcast and
//! externalized values. No clock, thread, channel or socket is touched, so a simulator
//! (`mcnode-testkit`) can drive thousands of node-seconds per second reproducibly.
//!
//! It does not sign or send messages (the transport authenticates `Msg::sender`), does
//! not persist anything (callers persist the messages returned, see [`Node::restore`]),
//! and does not know what a value means (a [`ValuePolicy`] decides validity levels and
//! how to combine candidates).
//!
//! # Entry points
//! - [`QuorumSet`] with [`QuorumSet::is_quorum_slice`], [`QuorumSet::is_v_blocking`],
//!   [`QuorumSet::weight`] and [`is_quorum`]: the pure predicates, with typed
//!   [`QuorumSetError`]s.
//! - [`Node`]: `propose_values`, `handle_message`, `process_timeouts`, `revalidate`
//!   (each returns the messages to broadcast), `next_timeout`, `externalized`, per-slot
//!   [`SlotMetrics`] and a serialisable [`SlotSnapshot`], `restore` after a crash.
//! - [`Msg`]: what nodes exchange (serde), validated structurally on receipt
//!   ([`MsgError`]).
//!
//! # Example
//!
//! Three nodes (any two form a quorum) agree on slot 1 over an instant network:
//!
//! ```
//! use mcnode_scp::{Config, Msg, Node, NodeId, QuorumSet, SlotIndex, Validity, ValuePolicy};
//!
//! struct AnyNumber;
//! impl ValuePolicy<u64> for AnyNumber {
//!     fn validity(&self, _slot: SlotIndex, _value: &u64) -> Validity {
//!         Validity::Valid
//!     }
//!     fn combine(&self, _slot: SlotIndex, candidates: &[u64]) -> u64 {
//!         candidates.iter().copied().max().unwrap_or_default()
//!     }
//! }
//!
//! let ids: Vec<NodeId> = ["a:8443", "b:8443", "c:8443"].map(NodeId::from).to_vec();
//! let qset = QuorumSet::flat(2, ids.clone())?;
//! let mut nodes = ids
//!     .iter()
//!     .map(|id| Node::new(id.clone(), qset.clone(), AnyNumber, Config::default()))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let mut in_flight: Vec<Msg<u64>> = Vec::new();
//! for (i, node) in nodes.iter_mut().enumerate() {
//!     in_flight.extend(node.propose_values(1, vec![i as u64 + 1], 0)?);
//! }
//! let mut now = 0;
//! while nodes.iter().any(|n| n.externalized(1).is_none()) {
//!     let mut next = Vec::new();
//!     for msg in in_flight.drain(..) {
//!         for node in nodes.iter_mut() {
//!             next.extend(node.handle_message(&msg, now)?); // a node ignores its own
//!         }
//!     }
//!     if next.is_empty() {
//!         // Nothing in flight: jump to the next timer.
//!         now = nodes.iter().filter_map(|n| n.next_timeout()).min().unwrap_or(now);
//!         for node in nodes.iter_mut() {
//!             next.extend(node.process_timeouts(now));
//!         }
//!     }
//!     in_flight = next;
//! }
//! assert_eq!(nodes[0].externalized(1), nodes[1].externalized(1));
//! assert_eq!(nodes[1].externalized(1), nodes[2].externalized(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Validity levels
//! The paper (section 6.1) lets nodes nominate and vote only for "valid" values. Like
//! stellar-core, validity here has three levels ([`Validity`], from
//! [`ValuePolicy::validity`]): `Invalid` (never acceptable in the slot; it depends only
//! on the value, the slot and the ledger the slot builds on), `MaybeValid` (not decidable
//! yet, e.g. the value names transactions this node does not hold yet) and `Valid`. A
//! value may move from MaybeValid to Valid or Invalid, never back. The rules:
//!
//! - **Receiving.** A ballot statement (section 6.2) naming an Invalid value is refused
//!   with [`Error::InvalidValue`] and not recorded. One naming a MaybeValid value (and no
//!   Invalid one) is recorded as any statement (latest per sender) and `handle_message`
//!   returns `Ok`. Nomination statements are recorded whatever their values' validity.
//! - **Voting.** The local node never votes for, accepts or confirms a value that is not
//!   Valid: not when voting for its round leaders' values or accepting / confirming
//!   `nominate x` (section 6.1), not when accepting or confirming `prepare`, accepting
//!   commit or confirming commit (section 6.2, steps 2-8). Other nodes' recorded
//!   statements still count in federated voting (section 5) as usual for values that are
//!   Valid here, so a MaybeValid value never blocks progress on a Valid one.
//! - **Re-evaluation.** When the application learned something (e.g. the missing
//!   transactions arrived) it calls [`Node::revalidate`]: the slot re-runs everything a
//!   MaybeValid value may have blocked, including voting for leaders' values that became
//!   Valid, and returns the messages to send.
//! - **Proposing.** [`Node::propose_values`] drops values that are not Valid;
//!   [`ValuePolicy::combine`] gets Valid candidates and must return a (Valid) value.
//! - **Restoring.** Restored statements are kept as they were (the node vouched for them
//!   before it stopped, and statements only grow), but a restored accepted value that is
//!   not Valid any more does not become a candidate.
//! - **Observing.** [`SlotMetrics`] counts peers whose latest statements name values
//!   that are not Valid here; [`SlotSnapshot`] lists those peers and the MaybeValid
//!   values, so an operator can see a slot that waits on missing transactions.
//!
//! # Taking part without a value, and restarts
//! Every node takes part in the nomination of a slot whether or not it has a value of
//! its own: a nomination statement for a slot in which the node has not started
//! nominating starts round 1 (leaders, round timer) without an own value, and the node
//! votes for its leaders' Valid values as usual. A later `propose_values` for that slot
//! adds the node's own value without starting a new round (it votes for it at once if it
//! leads itself). [`Node::restore`] arms the timers at once: a restored nomination starts
//! round 1, a restored ballot its ballot timer, and the rebroadcast timer runs, so a
//! restored node moves on and a network restored as a whole speaks again, without the
//! application proposing.
//!
//! A node that accepts a ballot prepared before it has a ballot of its own (pulled in by
//! its peers) records its acceptance as a statement at counter 0, which counts in
//! federated voting (so it confirms prepared as soon as a quorum including itself
//! accepted) but is never sent, as stellar-core does.
//!
//! # Deviations from the paper
//! As in stellar-core: the second ballot phase is called "confirm"; nomination stops
//! voting for new values once a candidate is confirmed; the local node's quorum check
//! prunes nodes transitively and then requires the local quorum set to be satisfied;
//! validity has the three levels above (the paper has valid and invalid only).
//!
//! Where mcnode differs from stellar-core: stellar-core marks a whole slot "not fully
//! validated" once it sees a MaybeValid value and then stops emitting for that slot;
//! here the check is per value (the node keeps voting for Valid values and only holds
//! back on the MaybeValid ones), and [`Node::revalidate`] re-evaluates the slot in
//! place. In stellar-core every validator always nominates a value (its herder proposes
//! at least an empty transaction set), so no node needs to join nomination without one;
//! here a node with nothing pending joins on the first nomination it hears.
//!
//! Leaders (section 6.1): a node is always its own neighbour, so a node that fails the
//! neighbour hash in every other node's view but has the highest priority leads in its
//! own view only, and votes for its own value while the others follow the
//! highest-priority neighbour. In a 4-node network at threshold 3, two such nodes leave
//! every value one vote short of a quorum and the round times out (measured on a
//! localnet under load: about 4 % of slots took a second round, a few a third, 1-3 s
//! each). With `Config::follow_others_leader` (the default) a node also counts that
//! highest-priority neighbour other than itself among its leaders, so every node votes
//! for its value in round 1. Nomination votes only decide how fast candidates appear;
//! safety comes from the ballot protocol, which is unchanged.
//! Nodes also re-send their latest messages every `Config::rebroadcast_interval_ms` (for
//! open slots, the newest externalized slot, and recent externalized slots some peer has
//! not said it externalized), and answer a peer that is behind on an externalized slot
//! with the externalize message, so that lost messages and restarts do not stall a network
//! once it heals (stellar-core's herder does the same outside its SCP library).
//!
//! # Features
//! - `fault-injection`: compiles in a hidden switch that breaks federated voting, used
//!   only by the simulator to prove its invariants can fail. Nothing changes unless the
//!   switch is called.

mod error;
pub mod hash;
mod metrics;
mod msg;
mod node;
mod quorum_set;
mod slot;
mod voting;

pub use error::{Error, MsgError, QuorumSetError};
pub use metrics::{BallotSnapshot, NominationSnapshot, SlotMetrics, SlotPhase, SlotSnapshot};
pub use msg::{
    Ballot, BallotStatement, Confirm, Externalize, Millis, Msg, Nominate, Prepare, SlotIndex,
    Topic, Value, INFINITE_COUNTER,
};
pub use node::{Config, Node, Validity, ValuePolicy};
pub use quorum_set::{
    find_quorum, is_quorum, NodeId, QuorumSet, MAX_NESTING_DEPTH, MAX_NODE_ID_LEN,
    MAX_QUORUM_SET_NODES,
};
