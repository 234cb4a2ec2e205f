//! How a node finds and trusts its peers: node URIs ([`uri`]), and (with the node) the
//! `network.toml` quorum configuration ([`network`]), signed consensus envelopes
//! ([`envelope`]), TLS ([`tls`]), one client per peer ([`client`]) and broadcast with
//! retry and backoff ([`broadcast`]).

pub mod broadcast;
pub mod client;
pub mod envelope;
pub mod network;
pub mod tls;
pub mod uri;

pub use broadcast::{Broadcaster, MsgKey, PeerHealth};
pub use client::{FetchedTxs, PeerClient, PeerError};
pub use envelope::{Deduplicator, EnvelopeError, SignedConsensusMsg};
pub use network::{NetworkConfig, NetworkError, NetworkFormat, Peer};
pub use uri::{NodeUri, ResponderId, Service, UriError};
