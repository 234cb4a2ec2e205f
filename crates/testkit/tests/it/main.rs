//! Integration tests of the simulator: the CI batch, the broken variant, determinism and
//! the Byzantine tolerance of each topology.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod node_sim;
mod simulation;
mod soak;
mod topology;
