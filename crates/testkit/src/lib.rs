//! Dev-only test infrastructure: the deterministic multi-node SCP simulator.
//!
//! A [`Simulation`] runs N [`mcnode_scp::Node`]s over a virtual clock and simulated links,
//! every random choice drawn from one seed (ChaCha8): per-link delay and jitter, message
//! loss, duplication and reordering, partitions that form and heal, crashes with restart
//! from the last emitted messages, and Byzantine nodes (silent, equivocating, garbage).
//! Topologies ([`Topology`]): full mesh `T`-of-`N`, directed cycles, tiered organisations,
//! and stellar-core's core5 and core3.
//!
//! Invariants, checked as the run goes: **agreement** (no two honest nodes externalize
//! different values in a slot), **validity** (externalized values pass the policy and
//! consist of proposed transactions), well-formed honest messages; at the end
//! **liveness** (after faults stop, every honest node externalizes every slot within a
//! bound); and **determinism** (a seed run twice gives the same digest of all events).
//!
//! Entry points: [`run_seed`] for one run, [`run_batch`] for many in parallel (what
//! `mcnode sim` prints), [`bench::run`] for `mcnode bench scp`.
//!
//! This crate enables `mcnode-scp`'s `fault-injection` feature so that `--broken` can
//! prove the invariants catch a broken protocol. It is never a dependency of the node.

pub mod bench;
pub mod faults;
pub mod node_sim;
pub mod runner;
pub mod sim;
pub mod topology;

pub use faults::{FaultKind, FaultPlan, FaultSet, LateValues};
pub use runner::{run_batch, Batch, Failure, FaultTally, SimReport, TopologyChoice};
pub use sim::{run_seed, RunOutcome, SimOptions, SimPolicy, SimValue, Simulation};
pub use topology::Topology;

/// Errors from setting up simulations (runs themselves report violations, not errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// A topology string or shape is invalid.
    #[error("invalid topology {0}")]
    Topology(String),
    /// A fault list is invalid.
    #[error("invalid faults: {0}")]
    Faults(String),
    /// Options are out of range.
    #[error("invalid simulation options: {0}")]
    Options(String),
}
