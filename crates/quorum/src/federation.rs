//! The known quorum sets of a federation, and where each came from.

use std::collections::{BTreeMap, BTreeSet};

use mcnode_blockchain::{BlockMetadata, QuorumMemberRecord, QuorumSetRecord};
use mcnode_crypto::Ed25519Public;
use mcnode_scp::{NodeId, QuorumSet};
use serde::Serialize;

use crate::QuorumError;

/// Where a node's quorum set comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A configuration file (`network.toml`), named by the caller.
    Configured {
        /// The file, as the caller names it.
        file: String,
    },
    /// Signed block metadata.
    Published {
        /// The block whose metadata carried it (the newest one seen).
        block_index: u64,
        /// Where the caller read it (a ledger path, a node URI, an archive URL).
        from: String,
    },
}

/// A quorum set a node published in signed block metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The quorum set, validated and normalised.
    pub quorum_set: QuorumSet,
    /// The block whose metadata carried it.
    pub block_index: u64,
    /// Where the caller read it.
    pub from: String,
}

/// What the federation knows of one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeEntry {
    /// The quorum set of its configuration file, when one was given, and the file.
    pub configured: Option<(QuorumSet, String)>,
    /// The newest quorum set it published.
    pub published: Option<Published>,
}

impl NodeEntry {
    /// The quorum set the analysis uses: the configured one when there is one (it is what
    /// the node runs with after its next start), else the published one.
    pub fn effective(&self) -> Option<(&QuorumSet, Source)> {
        if let Some((qs, file)) = &self.configured {
            return Some((qs, Source::Configured { file: file.clone() }));
        }
        self.published.as_ref().map(|p| {
            (
                &p.quorum_set,
                Source::Published {
                    block_index: p.block_index,
                    from: p.from.clone(),
                },
            )
        })
    }

    /// True when both are known and differ: the node runs (or ran) with another quorum
    /// set than its file says.
    pub fn published_differs(&self) -> bool {
        matches!((&self.configured, &self.published), (Some((c, _)), Some(p)) if *c != p.quorum_set)
    }
}

/// Every node whose quorum set is known, by name (its peer responder id).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Federation {
    nodes: BTreeMap<NodeId, NodeEntry>,
}

/// Converts a quorum set as block metadata records it into a validated, normalised
/// [`QuorumSet`].
pub(crate) fn from_record(
    record: &QuorumSetRecord,
) -> Result<QuorumSet, mcnode_scp::QuorumSetError> {
    fn raw(record: &QuorumSetRecord) -> Result<QuorumSet, mcnode_scp::QuorumSetError> {
        let mut members = Vec::new();
        let mut inner_sets = Vec::new();
        for m in &record.members {
            match m {
                QuorumMemberRecord::Node(id) => members.push(NodeId::new(id.clone())?),
                QuorumMemberRecord::InnerSet(inner) => inner_sets.push(raw(inner)?),
            }
        }
        Ok(QuorumSet {
            threshold: record.threshold,
            members,
            inner_sets,
        })
    }
    let qs = raw(record)?;
    QuorumSet::new(qs.threshold, qs.members, qs.inner_sets)
}

impl Federation {
    /// An empty federation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `node`'s configured quorum set (from the file named `file`), replacing an
    /// earlier one. `quorum_set` is validated already ([`QuorumSet::new`]).
    pub fn configure(&mut self, node: NodeId, quorum_set: QuorumSet, file: impl Into<String>) {
        self.nodes.entry(node).or_default().configured = Some((quorum_set, file.into()));
    }

    /// Takes the quorum set carried by one block's metadata, after checking its signature
    /// and, when `expected_key` is given (the key `network.toml` gives that node), that the
    /// node's own key signed it. A newer block replaces an older one's; an older one is
    /// ignored. Returns whether it was taken.
    pub fn add_metadata(
        &mut self,
        metadata: &BlockMetadata,
        block_index: u64,
        expected_key: Option<&Ed25519Public>,
        from: impl Into<String>,
    ) -> Result<bool, QuorumError> {
        let responder_id = metadata.contents.responder_id.clone();
        if metadata.verify().is_err() {
            return Err(QuorumError::BadMetadataSignature {
                responder_id,
                block_index,
            });
        }
        if let Some(expected) = expected_key {
            if *expected != metadata.node_key {
                return Err(QuorumError::MetadataKeyMismatch {
                    responder_id,
                    block_index,
                    expected: expected.to_base64url_der(),
                    found: metadata.node_key.to_base64url_der(),
                });
            }
        }
        let quorum_set = from_record(&metadata.contents.quorum_set).map_err(|error| {
            QuorumError::BadPublishedQuorumSet {
                responder_id: responder_id.clone(),
                block_index,
                error,
            }
        })?;
        let node = NodeId::new(responder_id.clone()).map_err(|error| QuorumError::BadNodeId {
            id: responder_id,
            error,
        })?;
        let entry = self.nodes.entry(node).or_default();
        if entry
            .published
            .as_ref()
            .is_some_and(|p| p.block_index >= block_index)
        {
            return Ok(false);
        }
        entry.published = Some(Published {
            quorum_set,
            block_index,
            from: from.into(),
        });
        Ok(true)
    }

    /// What is known of `node`.
    pub fn get(&self, node: &NodeId) -> Option<&NodeEntry> {
        self.nodes.get(node)
    }

    /// Every node with a known quorum set, and what is known.
    pub fn entries(&self) -> impl Iterator<Item = (&NodeId, &NodeEntry)> {
        self.nodes.iter()
    }

    /// The quorum set each node is analysed with.
    pub fn effective(&self) -> BTreeMap<NodeId, QuorumSet> {
        self.nodes
            .iter()
            .filter_map(|(id, e)| e.effective().map(|(qs, _)| (id.clone(), qs.clone())))
            .collect()
    }

    /// Nodes named in some quorum set whose own quorum set is unknown.
    pub fn unknown(&self) -> BTreeSet<NodeId> {
        let known = self.effective();
        known
            .values()
            .flat_map(QuorumSet::nodes)
            .filter(|n| !known.contains_key(n))
            .collect()
    }

    /// The same federation with `node`'s configured quorum set replaced by `proposed`
    /// (from the file `file`): the input of [`compare`](crate::compare).
    pub fn with_proposed(
        &self,
        node: &NodeId,
        proposed: QuorumSet,
        file: impl Into<String>,
    ) -> Self {
        let mut next = self.clone();
        next.configure(node.clone(), proposed, file);
        next
    }
}
