//! Quorum analysis of an mcnode federation, by node name.
//!
//! A [`Federation`] holds every node's quorum set that is known: from `network.toml`
//! files (what an operator configured) and from signed block metadata (what a node
//! published: every block a node appends carries its quorum set, signed with its
//! msg-signer key). [`Federation::analyze`] answers the operator's questions:
//!
//! * **Do all quorums intersect?** If not, two disjoint quorums are named: the network
//!   can externalize two different blocks at one height without any node lying.
//! * **Minimal blocking sets** (global liveness): sets of nodes whose failure leaves no
//!   quorum at all; the smallest says how many crashes halt the network.
//! * **Minimal splitting sets** (safety): sets of nodes that, by lying, can make two
//!   quorums externalize different values; the smallest says how many Byzantine nodes
//!   the network survives.
//! * **Per node**, the v-blocking distance (how many failures among its quorum set block
//!   that node) and its minimal v-blocking sets.
//!
//! [`compare`] tells what changes when a proposed quorum set replaces a node's current
//! one (intersection lost or gained, sets that appear or disappear, the smallest sizes).
//!
//! The set analyses are those of the `fbas_analyzer` crate (MIT; Florian, Henningsen,
//! Ndolo, Scheuermann: "The Sum of Its Parts: Analysis of Federated Byzantine Agreement
//! Systems", 2022), which this crate feeds with our quorum sets and whose results it maps
//! back to node names. Semantics match `mcnode_scp`: a node's slices are its quorum set
//! as written (a node counts itself only when it lists itself), and a node whose quorum
//! set is unknown is never part of a quorum (it is reported in
//! [`Analysis::unknown`]).
//!
//! Costs: the enumeration of minimal sets is exponential in the size of the top tier
//! (the nodes every quorum depends on), not in the number of nodes: a 100-node network
//! whose top tier has 7 organisations of 3 nodes takes milliseconds, a top tier of 100
//! nodes with 2/3 thresholds does not finish. `mcnode bench quorum` prints the figures;
//! [`Options`] switches the costly parts off. No IO: callers read the files, ledgers and
//! peers, and measure time.

mod analysis;
mod error;
mod federation;
mod local;

pub use analysis::{compare, Analysis, Change, Options, SetChange};
pub use error::QuorumError;
pub use federation::{Federation, NodeEntry, Published, Source};
pub use local::{blocking_distance, minimal_v_blocking_sets, LocalView};
