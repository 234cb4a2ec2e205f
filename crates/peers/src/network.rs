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
//! The file of the network this project reimplements loads too, into the same
//! [`NetworkConfig`]: its members are tagged tables, `{ type = "Node", args = "host:port" }`
//! and `{ type = "InnerSet", args = { threshold = 1, members = [...] } }`, usually with
//! `quorum_set = { threshold = ..., members = [...] }` as an inline table; the two
//! spellings may even be mixed. Its JSON form (`network.json`: the same keys, members
//! `{"type": "Node", "args": "host:port"}`) is [`NetworkConfig::parse_json`];
//! [`NetworkFormat::from_path`] picks the format from the file name.
//!
//! [`NetworkConfig::parse`] checks everything and reports the first problem as a
//! [`NetworkError`] that names the entry and its line, the same error in either format:
//! thresholds (1..=members, nesting at most 4 deep, at most 1000 nodes), every quorum
//! member resolvable to a message-signing key through the peer lists, no peer listed
//! twice, this node not among its own peers, peer URIs valid and carrying
//! `consensus-msg-key`, and archive URLs present when there are peers. Messages name the
//! line but not the file: callers say which file (`--network PATH: line 3: ...`).

use std::collections::BTreeMap;

use mcnode_crypto::Ed25519Public;
use mcnode_scp::{NodeId, QuorumSet, QuorumSetError};
use serde::Deserialize;
use serde_json::value::RawValue;
use toml::Spanned;

use crate::{NodeUri, ResponderId, Service, UriError};

/// Why `network.toml` was refused. Every variant says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// Not TOML, or not the expected shape.
    #[error("{0}")]
    Syntax(String),
    /// A peer URI is invalid.
    #[error("line {line}: {list}[{index}]: {error}")]
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
    #[error("line {line}: peer {responder_id} is listed twice")]
    DuplicatePeer {
        /// 1-based line of the second entry.
        line: usize,
        /// The repeated id.
        responder_id: String,
    },
    /// This node is among its own peers.
    #[error("line {line}: {responder_id} is this node itself; remove it from the peer lists")]
    SelfInPeers {
        /// 1-based line.
        line: usize,
        /// This node's id.
        responder_id: String,
    },
    /// A quorum member is not a `host:port` responder id.
    #[error("line {line}: quorum member {member:?} is not host:port")]
    BadQuorumMember {
        /// 1-based line.
        line: usize,
        /// The text.
        member: String,
    },
    /// A quorum member table is neither `{ threshold, members }` nor `{ type, args }`.
    #[error("line {line}: quorum member: {reason}")]
    BadQuorumMemberForm {
        /// 1-based line (of the top-level member holding it).
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A quorum member's key is unknown: it is in no peer list.
    #[error("line {line}: quorum member {member} is in neither broadcast_peers nor known_peers, so its messages cannot be verified")]
    UnresolvableQuorumMember {
        /// 1-based line.
        line: usize,
        /// The member.
        member: String,
    },
    /// The quorum set breaks a rule (threshold, depth, size, repeats).
    #[error("line {line}: quorum_set: {error}")]
    BadQuorumSet {
        /// 1-based line of the `[quorum_set]` table.
        line: usize,
        /// The rule broken.
        error: QuorumSetError,
    },
    /// Peers are configured but no archive to catch up from.
    #[error("tx_source_urls is empty but there are peers; a node needs archives to catch up from")]
    NoTxSources,
    /// An archive URL does not parse.
    #[error("line {line}: tx_source_urls[{index}]: {reason}")]
    BadTxSource {
        /// 1-based line.
        line: usize,
        /// Position in the list.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The file's format: our TOML (which also takes the `{ type = ..., args = ... }` members
/// of the network this project reimplements), or the JSON form of the same document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkFormat {
    /// TOML (`network.toml`).
    Toml,
    /// JSON (`network.json`): the same keys and member forms.
    Json,
}

impl NetworkFormat {
    /// JSON for a path ending in `.json` (any case), TOML otherwise.
    pub fn from_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Toml,
        }
    }
}

/// A value and the byte offset where it starts in the file (for line numbers).
struct At<T> {
    offset: usize,
    value: T,
}

/// The document once read, whatever the format: the values with their offsets.
struct RawDoc {
    quorum_set: At<RawQuorumSet>,
    broadcast_peers: Vec<At<String>>,
    known_peers: Vec<At<String>>,
    tx_source_urls: Vec<At<String>>,
}

struct RawQuorumSet {
    threshold: u32,
    members: Vec<At<RawMember>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlDoc {
    quorum_set: Spanned<TomlQuorumSet>,
    #[serde(default)]
    broadcast_peers: Vec<Spanned<String>>,
    #[serde(default)]
    known_peers: Vec<Spanned<String>>,
    #[serde(default)]
    tx_source_urls: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlQuorumSet {
    threshold: u32,
    members: Vec<Spanned<RawMember>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDoc<'a> {
    #[serde(borrow)]
    quorum_set: &'a RawValue,
    #[serde(default, borrow)]
    broadcast_peers: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    known_peers: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    tx_source_urls: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonQuorumSet<'a> {
    threshold: u32,
    #[serde(borrow)]
    members: Vec<&'a RawValue>,
}

/// A quorum-set member in any of the accepted spellings. Members of the top-level set
/// carry their position for error messages; nested members (inside serde's untagged
/// buffering, where positions are lost) report their top-level member's line.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawMember {
    /// `"host:port"` (ours).
    Node(String),
    /// `{ threshold = T, members = [...] }` (ours) or `{ type = "Node", args = "host:port" }`
    /// / `{ type = "InnerSet", args = { threshold = T, members = [...] } }` (theirs).
    Table(RawMemberTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMemberTable {
    threshold: Option<u32>,
    members: Option<Vec<RawMember>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    args: Option<RawArgs>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawArgs {
    Node(String),
    Set(RawInnerSet),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInnerSet {
    threshold: u32,
    members: Vec<RawMember>,
}

/// What a member table means once its spelling is checked.
enum Member<'a> {
    Node(&'a str),
    Set(u32, &'a [RawMember]),
}

impl RawMemberTable {
    fn meaning(&self) -> Result<Member<'_>, String> {
        match (&self.kind, &self.args, self.threshold, &self.members) {
            (None, None, Some(t), Some(m)) => Ok(Member::Set(t, m)),
            (None, None, None, _) => Err("an inner set needs a threshold".into()),
            (None, None, _, None) => Err("an inner set needs members".into()),
            (Some(kind), Some(args), None, None) => match (kind.as_str(), args) {
                ("Node", RawArgs::Node(id)) => Ok(Member::Node(id)),
                ("InnerSet", RawArgs::Set(set)) => Ok(Member::Set(set.threshold, &set.members)),
                ("Node", RawArgs::Set(_)) => {
                    Err("type \"Node\" takes args = \"host:port\", not a set".into())
                }
                ("InnerSet", RawArgs::Node(_)) => Err(
                    "type \"InnerSet\" takes args = { threshold = ..., members = [...] }".into(),
                ),
                (other, _) => Err(format!(
                    "type {other:?} is neither \"Node\" nor \"InnerSet\""
                )),
            },
            (Some(_), None, None, None) => Err("a member with a type needs args".into()),
            (None, Some(_), None, None) => {
                Err("a member with args needs type = \"Node\" or \"InnerSet\"".into())
            }
            _ => Err(
                "mixes the two forms: write { threshold, members } or { type, args }, not both"
                    .into(),
            ),
        }
    }
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

/// A checked `network.toml` (or `network.json`).
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

/// Where `part` (a slice of `text`) starts in `text`.
fn offset_in(text: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
}

impl RawDoc {
    fn from_toml(text: &str) -> Result<Self, NetworkError> {
        let doc: TomlDoc = toml::from_str(text)
            .map_err(|e| NetworkError::Syntax(format!("not valid TOML: {e}")))?;
        let at = |s: Spanned<String>| At {
            offset: s.span().start,
            value: s.into_inner(),
        };
        let offset = doc.quorum_set.span().start;
        let qs = doc.quorum_set.into_inner();
        Ok(Self {
            quorum_set: At {
                offset,
                value: RawQuorumSet {
                    threshold: qs.threshold,
                    members: qs
                        .members
                        .into_iter()
                        .map(|m| At {
                            offset: m.span().start,
                            value: m.into_inner(),
                        })
                        .collect(),
                },
            },
            broadcast_peers: doc.broadcast_peers.into_iter().map(at).collect(),
            known_peers: doc.known_peers.into_iter().map(at).collect(),
            tx_source_urls: doc.tx_source_urls.into_iter().map(at).collect(),
        })
    }

    fn from_json(text: &str) -> Result<Self, NetworkError> {
        let syntax = |e: serde_json::Error| NetworkError::Syntax(format!("not valid JSON: {e}"));
        let doc: JsonDoc<'_> = serde_json::from_str(text).map_err(syntax)?;
        let strings = |list: &[&RawValue]| -> Result<Vec<At<String>>, NetworkError> {
            list.iter()
                .map(|raw| {
                    Ok(At {
                        offset: offset_in(text, raw.get()),
                        value: serde_json::from_str(raw.get()).map_err(|e| {
                            NetworkError::Syntax(format!(
                                "not valid JSON: line {}: {e}",
                                line_of(text, offset_in(text, raw.get()))
                            ))
                        })?,
                    })
                })
                .collect()
        };
        let qs_offset = offset_in(text, doc.quorum_set.get());
        let in_place = |raw: &RawValue, e: serde_json::Error| {
            NetworkError::Syntax(format!(
                "not valid JSON: line {}: {e}",
                line_of(text, offset_in(text, raw.get()))
            ))
        };
        let qs: JsonQuorumSet<'_> =
            serde_json::from_str(doc.quorum_set.get()).map_err(|e| in_place(doc.quorum_set, e))?;
        let members = qs
            .members
            .iter()
            .map(|raw| {
                Ok(At {
                    offset: offset_in(text, raw.get()),
                    value: serde_json::from_str(raw.get()).map_err(|e| in_place(raw, e))?,
                })
            })
            .collect::<Result<_, NetworkError>>()?;
        Ok(Self {
            quorum_set: At {
                offset: qs_offset,
                value: RawQuorumSet {
                    threshold: qs.threshold,
                    members,
                },
            },
            broadcast_peers: strings(&doc.broadcast_peers)?,
            known_peers: strings(&doc.known_peers)?,
            tx_source_urls: strings(&doc.tx_source_urls)?,
        })
    }
}

impl NetworkConfig {
    /// Parses and checks a TOML `network.toml` for the node whose peer responder id is
    /// `me`.
    pub fn parse(text: &str, me: &ResponderId) -> Result<Self, NetworkError> {
        Self::parse_as(text, NetworkFormat::Toml, me)
    }

    /// Parses and checks the JSON form of the file.
    pub fn parse_json(text: &str, me: &ResponderId) -> Result<Self, NetworkError> {
        Self::parse_as(text, NetworkFormat::Json, me)
    }

    /// Parses and checks the file in `format`; both formats go through the same checks and
    /// give the same errors.
    pub fn parse_as(
        text: &str,
        format: NetworkFormat,
        me: &ResponderId,
    ) -> Result<Self, NetworkError> {
        let raw = match format {
            NetworkFormat::Toml => RawDoc::from_toml(text)?,
            NetworkFormat::Json => RawDoc::from_json(text)?,
        };
        Self::check(raw, text, me)
    }

    fn check(raw: RawDoc, text: &str, me: &ResponderId) -> Result<Self, NetworkError> {
        let line = |offset: usize| line_of(text, offset);

        let mut peers = BTreeMap::new();
        for (list, entries, broadcast) in [
            ("broadcast_peers", &raw.broadcast_peers, true),
            ("known_peers", &raw.known_peers, false),
        ] {
            for (index, entry) in entries.iter().enumerate() {
                let at = line(entry.offset);
                let bad = |error| NetworkError::BadPeerUri {
                    line: at,
                    list,
                    index,
                    error,
                };
                let uri = NodeUri::parse(&entry.value, Service::Peer).map_err(bad)?;
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

        let qs_line = line(raw.quorum_set.offset);
        let mut members = Vec::new();
        let mut inner_sets = Vec::new();
        for m in &raw.quorum_set.value.members {
            let at = line(m.offset);
            convert_member(&m.value, at, me, &peers, &mut members, &mut inner_sets)?;
        }
        let quorum_set = QuorumSet::new(raw.quorum_set.value.threshold, members, inner_sets)
            .map_err(|error| NetworkError::BadQuorumSet {
                line: qs_line,
                error,
            })?;

        let mut tx_source_urls = Vec::new();
        for (index, entry) in raw.tx_source_urls.iter().enumerate() {
            let bad = |reason: String| NetworkError::BadTxSource {
                line: line(entry.offset),
                index,
                reason,
            };
            let url = url::Url::parse(&entry.value).map_err(|e| bad(e.to_string()))?;
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

/// Converts one member without validating the thresholds (validation happens once, on
/// the whole set), resolving every node to a known key.
fn convert_member(
    m: &RawMember,
    at: usize,
    me: &ResponderId,
    peers: &BTreeMap<ResponderId, Peer>,
    members: &mut Vec<NodeId>,
    inner_sets: &mut Vec<QuorumSet>,
) -> Result<(), NetworkError> {
    let meaning = match m {
        RawMember::Node(id) => Member::Node(id),
        RawMember::Table(t) => t
            .meaning()
            .map_err(|reason| NetworkError::BadQuorumMemberForm { line: at, reason })?,
    };
    match meaning {
        Member::Node(id) => {
            let bad = || NetworkError::BadQuorumMember {
                line: at,
                member: id.to_string(),
            };
            let rid: ResponderId = id.parse().map_err(|_| bad())?;
            if rid != *me && !peers.contains_key(&rid) {
                return Err(NetworkError::UnresolvableQuorumMember {
                    line: at,
                    member: id.to_string(),
                });
            }
            members.push(NodeId::new(id).map_err(|_| bad())?);
        }
        Member::Set(threshold, inner) => {
            let (mut m2, mut i2) = (Vec::new(), Vec::new());
            for member in inner {
                convert_member(member, at, me, peers, &mut m2, &mut i2)?;
            }
            inner_sets.push(QuorumSet {
                threshold,
                members: m2,
                inner_sets: i2,
            });
        }
    }
    Ok(())
}
