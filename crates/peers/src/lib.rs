//! How a node finds and trusts its peers: node URIs ([`uri`]), and (with the node) the
//! `network.toml` quorum configuration, peer connections and signed consensus envelopes.

pub mod network;
pub mod uri;

pub use network::{NetworkConfig, NetworkError, Peer};
pub use uri::{NodeUri, ResponderId, Service, UriError};
