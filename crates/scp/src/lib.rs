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
//! and does not know what a value means (a [`ValuePolicy`] decides validity and how to
//! combine candidates).
//!
//! # Entry points
//! - [`QuorumSet`] with [`QuorumSet::is_quorum_slice`], [`QuorumSet::is_v_blocking`],
//!   [`QuorumSet::weight`] and [`is_quorum`]: the pure predicates, with typed
//!   [`QuorumSetError`]s.
//! - [`Node`]: `propose_values`, `handle_message`, `process_timeouts` (each returns the
//!   messages to broadcast), `next_timeout`, `externalized`, per-slot [`SlotMetrics`] and a
//!   serialisable [`SlotSnapshot`], `restore` after a crash.
//! - [`Msg`]: what nodes exchange (serde), validated structurally on receipt
//!   ([`MsgError`]).
//!
//! # Example
//!
//! Three nodes (any two form a quorum) agree on slot 1 over an instant network:
//!
//! ```
//! use mcnode_scp::{Config, Msg, Node, NodeId, QuorumSet, SlotIndex, ValuePolicy};
//!
//! struct AnyNumber;
//! impl ValuePolicy<u64> for AnyNumber {
//!     fn is_valid(&self, _slot: SlotIndex, _value: &u64) -> bool {
//!         true
//!     }
//!     fn combine(&self, _slot: SlotIndex, candidates: &[u64]) -> Option<u64> {
//!         candidates.iter().max().copied()
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
//! # Deviations from the paper
//! As in stellar-core: the second ballot phase is called "confirm"; nomination stops
//! voting for new values once a candidate is confirmed; the local node's quorum check
//! prunes nodes transitively and then requires the local quorum set to be satisfied.
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

pub use error::{Error, MsgError, QuorumSetError};
pub use metrics::{BallotSnapshot, NominationSnapshot, SlotMetrics, SlotPhase, SlotSnapshot};
pub use msg::{
    Ballot, BallotStatement, Confirm, Externalize, Millis, Msg, Nominate, Prepare, SlotIndex,
    Topic, Value, INFINITE_COUNTER,
};
pub use node::{Config, Node, ValuePolicy};
pub use quorum_set::{
    find_quorum, is_quorum, NodeId, QuorumSet, MAX_NESTING_DEPTH, MAX_NODE_ID_LEN,
    MAX_QUORUM_SET_NODES,
};
