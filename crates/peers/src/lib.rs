//! How a node finds and trusts its peers: node URIs ([`uri`]), and (with the node) the
//! `network.toml` quorum configuration, peer connections and signed consensus envelopes.

pub mod envelope;
pub mod network;
pub mod tls;
pub mod uri;

pub use envelope::{Deduplicator, EnvelopeError, SignedConsensusMsg};
pub use network::{NetworkConfig, NetworkError, Peer};
pub use uri::{NodeUri, ResponderId, Service, UriError};
