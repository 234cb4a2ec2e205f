//! `network.toml`: whom a node trusts (its quorum set) and whom it talks to.
//!
//! ```toml
//! # Peers this node sends its consensus messages and transactions to.
//! broadcast_peers = [
//!   "mcp://node2.test:8443/?consensus-msg-key=MCow...&ca-bundle=/certs/ca.pem",
//! ]
//! # Other nodes whose messages this node accepts (their keys), without dialling them.
//! known_peers = []
//! # Archives to catch up from (S3 over HTTPS, file:// or http(s)://).
//! tx_source_urls = ["https://archive.example.com/node2.test/"]
//!
//! [quorum_set]
//! threshold = 2
//! members = [
//!   "node2.test:8443",                                              # a node
//!   { threshold = 1, members = ["node3.test:8443", "node4.test:8443"] }, # an inner set
//! ]
//! ```
//!
//! [`NetworkConfig::parse`] checks everything and reports the first problem as a
//! [`NetworkError`] that names the entry and its line: thresholds (1..=members, nesting
//! at most 4 deep, at most 1000 nodes), every quorum member resolvable to a message-signing
//! key through the peer lists, no peer listed twice, this node not among its own peers,
//! peer URIs valid and carrying `consensus-msg-key`, and archive URLs present when there
//! are peers.

use std::collections::BTreeMap;

use mcnode_crypto::Ed25519Public;
use mcnode_scp::{NodeId, QuorumSet, QuorumSetError};
use serde::Deserialize;
use toml::Spanned;

use crate::{NodeUri, ResponderId, Service, UriError};

/// Why `network.toml` was refused. Every variant says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// Not TOML, or not the expected shape.
    #[error("network.toml: {0}")]
    Syntax(String),
    /// A peer URI is invalid.
    #[error("network.toml line {line}: {list}[{index}]: {error}")]
    BadPeerUri {
        /// 1-based line.
        line: usize,
        /// `broadcast_peers` or `known_peers`.
        list: &'static str,
        /// Position in the list.
        index: usize,
        /// What is wrong.
        error: UriError,
    },
    /// Two peer entries share a responder id.
    #[error("network.toml line {line}: peer {responder_id} is listed twice")]
    DuplicatePeer {
        /// 1-based line of the second entry.
        line: usize,
        /// The repeated id.
        responder_id: String,
    },
    /// This node is among its own peers.
    #[error("network.toml line {line}: {responder_id} is this node itself; remove it from the peer lists")]
    SelfInPeers {
        /// 1-based line.
        line: usize,
        /// This node's id.
        responder_id: String,
    },
    /// A quorum member is not a `host:port` responder id.
    #[error("network.toml line {line}: quorum member {member:?} is not host:port")]
    BadQuorumMember {
        /// 1-based line.
        line: usize,
        /// The text.
        member: String,
    },
    /// A quorum member's key is unknown: it is in no peer list.
    #[error("network.toml line {line}: quorum member {member} is in neither broadcast_peers nor known_peers, so its messages cannot be verified")]
    UnresolvableQuorumMember {
        /// 1-based line.
        line: usize,
        /// The member.
        member: String,
    },
    /// The quorum set breaks a rule (threshold, depth, size, repeats).
    #[error("network.toml line {line}: quorum_set: {error}")]
    BadQuorumSet {
        /// 1-based line of the `[quorum_set]` table.
        line: usize,
        /// The rule broken.
        error: QuorumSetError,
    },
    /// Peers are configured but no archive to catch up from.
    #[error("network.toml: tx_source_urls is empty but there are peers; a node needs archives to catch up from")]
    NoTxSources,
    /// An archive URL does not parse.
    #[error("network.toml line {line}: tx_source_urls[{index}]: {reason}")]
    BadTxSource {
        /// 1-based line.
        line: usize,
        /// Position in the list.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    quorum_set: Spanned<RawQuorumSet>,
    #[serde(default)]
    broadcast_peers: Vec<Spanned<String>>,
    #[serde(default)]
    known_peers: Vec<Spanned<String>>,
    #[serde(default)]
    tx_source_urls: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuorumSet {
    threshold: u32,
    members: Vec<Spanned<RawMember>>,
}

/// A member of the top-level set carries its position for error messages; nested members
/// (inside serde's untagged buffering, where positions are lost) report their top-level
/// member's line.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawMember {
    Node(String),
    Inner(RawInnerSet),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInnerSet {
    threshold: u32,
    members: Vec<RawMember>,
}

/// A peer: how to reach it (broadcast peers) and its message-signing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its URI.
    pub uri: NodeUri,
    /// Its responder id.
    pub responder_id: ResponderId,
    /// Its `consensus-msg-key`.
    pub msg_key: Ed25519Public,
    /// True for `broadcast_peers`, false for `known_peers`.
    pub broadcast: bool,
}

/// A checked `network.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    /// The quorum set, validated and normalised.
    pub quorum_set: QuorumSet,
    /// Every peer, broadcast and known, by responder id.
    pub peers: BTreeMap<ResponderId, Peer>,
    /// Archive URLs to catch up from.
    pub tx_source_urls: Vec<url::Url>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

impl NetworkConfig {
    /// Parses and checks `network.toml` for the node whose peer responder id is `me`.
    pub fn parse(text: &str, me: &ResponderId) -> Result<Self, NetworkError> {
        let raw: RawNetwork =
            toml::from_str(text).map_err(|e| NetworkError::Syntax(e.to_string()))?;
        let line = |span: std::ops::Range<usize>| line_of(text, span.start);

        let mut peers = BTreeMap::new();
        for (list, entries, broadcast) in [
            ("broadcast_peers", &raw.broadcast_peers, true),
            ("known_peers", &raw.known_peers, false),
        ] {
            for (index, entry) in entries.iter().enumerate() {
                let at = line(entry.span());
                let bad = |error| NetworkError::BadPeerUri {
                    line: at,
                    list,
                    index,
                    error,
                };
                let uri = NodeUri::parse(entry.get_ref(), Service::Peer).map_err(bad)?;
                uri.check_peer().map_err(bad)?;
                let responder_id = uri.responder_id();
                if responder_id == *me {
                    return Err(NetworkError::SelfInPeers {
                        line: at,
                        responder_id: me.to_string(),
                    });
                }
                let msg_key = uri
                    .consensus_msg_key
                    .ok_or(bad(UriError::PeerNeedsMsgKey))?;
                let peer = Peer {
                    uri,
                    responder_id: responder_id.clone(),
                    msg_key,
                    broadcast,
                };
                if peers.insert(responder_id.clone(), peer).is_some() {
                    return Err(NetworkError::DuplicatePeer {
                        line: at,
                        responder_id: responder_id.to_string(),
                    });
                }
            }
        }

        let quorum_set = convert(raw.quorum_set.get_ref(), text, me, &peers)?;
        let quorum_set = QuorumSet::new(
            quorum_set.threshold,
            quorum_set.members,
            quorum_set.inner_sets,
        )
        .map_err(|error| NetworkError::BadQuorumSet {
            line: line(raw.quorum_set.span()),
            error,
        })?;

        let mut tx_source_urls = Vec::new();
        for (index, entry) in raw.tx_source_urls.iter().enumerate() {
            let bad = |reason: String| NetworkError::BadTxSource {
                line: line(entry.span()),
                index,
                reason,
            };
            let url = url::Url::parse(entry.get_ref()).map_err(|e| bad(e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https" | "file" | "s3") {
                return Err(bad(format!(
                    "scheme {:?} is not http, https, file or s3",
                    url.scheme()
                )));
            }
            tx_source_urls.push(url);
        }
        if !peers.is_empty() && tx_source_urls.is_empty() {
            return Err(NetworkError::NoTxSources);
        }
        Ok(Self {
            quorum_set,
            peers,
            tx_source_urls,
        })
    }

    /// The peers to dial and broadcast to.
    pub fn broadcast_peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values().filter(|p| p.broadcast)
    }
}

/// Converts without validating (validation happens once, on the whole set), resolving
/// every member to a known key.
fn convert(
    raw: &RawQuorumSet,
    text: &str,
    me: &ResponderId,
    peers: &BTreeMap<ResponderId, Peer>,
) -> Result<QuorumSet, NetworkError> {
    let mut members = Vec::new();
    let mut inner_sets = Vec::new();
    for m in &raw.members {
        let at = line_of(text, m.span().start);
        convert_member(m.get_ref(), at, me, peers, &mut members, &mut inner_sets)?;
    }
    Ok(QuorumSet {
        threshold: raw.threshold,
        members,
        inner_sets,
    })
}

fn convert_member(
    m: &RawMember,
    at: usize,
    me: &ResponderId,
    peers: &BTreeMap<ResponderId, Peer>,
    members: &mut Vec<NodeId>,
    inner_sets: &mut Vec<QuorumSet>,
) -> Result<(), NetworkError> {
    match m {
        RawMember::Node(id) => {
            let bad = || NetworkError::BadQuorumMember {
                line: at,
                member: id.clone(),
            };
            let rid: ResponderId = id.parse().map_err(|_| bad())?;
            if rid != *me && !peers.contains_key(&rid) {
                return Err(NetworkError::UnresolvableQuorumMember {
                    line: at,
                    member: id.clone(),
                });
            }
            members.push(NodeId::new(id.clone()).map_err(|_| bad())?);
        }
        RawMember::Inner(inner) => {
            let (mut m2, mut i2) = (Vec::new(), Vec::new());
            for member in &inner.members {
                convert_member(member, at, me, peers, &mut m2, &mut i2)?;
            }
            inner_sets.push(QuorumSet {
                threshold: inner.threshold,
                members: m2,
                inner_sets: i2,
            });
        }
    }
    Ok(())
}
