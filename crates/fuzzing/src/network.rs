//! `network.toml` and node URIs: what an operator (or a file someone else wrote) gives
//! the node before it starts, and what peers' URIs say inside it.
//!
//! The first input byte picks the parser ([`Parser`]); the rest is the text (inputs that
//! are not UTF-8 stop here: the node reads the file as UTF-8 first). The node parsing the
//! file is `node1.test:8443`, as in the peers crate's fixtures.

use mcnode_peers::{NetworkConfig, NetworkFormat, NodeUri, ResponderId, Service};

/// The node whose `network.toml` is parsed.
pub const ME: &str = "node1.test:8443";

/// What the text is parsed as, by the first byte (modulo the number of parsers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Parser {
    /// `network.toml`: mcnode's form and the tagged members of the reimplemented network.
    Toml = 0,
    /// `network.json`.
    Json = 1,
    /// A client URI (`mc://`).
    ClientUri = 2,
    /// A peer URI (`mcp://`).
    PeerUri = 3,
    /// An admin URI (`mca://`).
    AdminUri = 4,
    /// A responder id (`host:port`).
    ResponderId = 5,
}

const PARSERS: [Parser; 6] = [
    Parser::Toml,
    Parser::Json,
    Parser::ClientUri,
    Parser::PeerUri,
    Parser::AdminUri,
    Parser::ResponderId,
];

/// Fuzz target: `network.toml`, `network.json`, node URIs and responder ids.
pub fn network_config(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let me: ResponderId = match ME.parse() {
        Ok(me) => me,
        Err(e) => unreachable!("valid responder id: {e}"),
    };
    let uri = |service| {
        if let Ok(u) = NodeUri::parse(text, service) {
            let _ = u.check_listen();
            let _ = u.check_peer();
            let _ = (u.responder_id(), u.address(), u.tls_name(), u.to_string());
        }
    };
    match PARSERS[usize::from(selector) % PARSERS.len()] {
        Parser::Toml | Parser::Json => {
            let format = if PARSERS[usize::from(selector) % PARSERS.len()] == Parser::Json {
                NetworkFormat::Json
            } else {
                NetworkFormat::Toml
            };
            if let Ok(config) = NetworkConfig::parse_as(text, format, &me) {
                let _ = config.broadcast_peers().count();
                let _ = mcnode_peers::envelope::peer_keys(&config);
            }
        }
        Parser::ClientUri => uri(Service::Client),
        Parser::PeerUri => uri(Service::Peer),
        Parser::AdminUri => uri(Service::Admin),
        Parser::ResponderId => {
            let _ = text.parse::<ResponderId>();
        }
    }
}
