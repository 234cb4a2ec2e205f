//! Quorum sets and the pure predicates of federated Byzantine agreement.
//!
//! Paper: section 3 (quorum slices, quorums, v-blocking sets) and section 6.2 (the
//! nested "quorum set" representation of slices: a threshold over nodes and inner sets).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::QuorumSetError;

/// Inner sets may be nested at most this deep (a set without inner sets has depth 0).
pub const MAX_NESTING_DEPTH: usize = 4;
/// A quorum set may name at most this many distinct nodes.
pub const MAX_QUORUM_SET_NODES: usize = 1000;
/// A node id has at most this many bytes.
pub const MAX_NODE_ID_LEN: usize = 256;

/// The identity of a node: its peer responder id, e.g. `"node1.example.com:8443"`.
///
/// Paper: a node `v` of the set `V`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(String);

impl NodeId {
    /// Builds a node id, checking its length.
    pub fn new(id: impl Into<String>) -> Result<Self, QuorumSetError> {
        let id = Self(id.into());
        id.validate()?;
        Ok(id)
    }

    /// Checks that the id has 1 to [`MAX_NODE_ID_LEN`] bytes.
    pub fn validate(&self) -> Result<(), QuorumSetError> {
        let len = self.0.len();
        if len == 0 || len > MAX_NODE_ID_LEN {
            return Err(QuorumSetError::InvalidNodeId {
                len,
                max: MAX_NODE_ID_LEN,
            });
        }
        Ok(())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for NodeId {
    /// Unchecked conversion, for tests and literals; [`Node`](crate::Node) and message
    /// validation check ids anyway.
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A node's quorum set: it is satisfied by any set of nodes that contains `threshold`
/// of its members, where a member is a node or an inner set (satisfied recursively).
///
/// Paper: the slices `Q(v)` of a node, in the threshold representation of section 6.2.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QuorumSet {
    /// How many members must be satisfied; 1 to `members.len() + inner_sets.len()`.
    pub threshold: u32,
    /// Member nodes.
    pub members: Vec<NodeId>,
    /// Member inner sets.
    pub inner_sets: Vec<QuorumSet>,
}

impl QuorumSet {
    /// Builds a validated, normalised quorum set.
    pub fn new(
        threshold: u32,
        members: Vec<NodeId>,
        inner_sets: Vec<QuorumSet>,
    ) -> Result<Self, QuorumSetError> {
        let qs = Self {
            threshold,
            members,
            inner_sets,
        };
        qs.validate()?;
        Ok(qs.normalized())
    }

    /// A flat `threshold`-of-`members` set, validated and normalised.
    pub fn flat(threshold: u32, members: Vec<NodeId>) -> Result<Self, QuorumSetError> {
        Self::new(threshold, members, Vec::new())
    }

    /// Checks thresholds at every level, the nesting depth, the number of distinct nodes,
    /// node ids, and that no node appears twice.
    pub fn validate(&self) -> Result<(), QuorumSetError> {
        let depth = self.depth_checked(0)?;
        debug_assert!(depth <= MAX_NESTING_DEPTH);
        let mut seen = BTreeSet::new();
        self.check_nodes(&mut seen)
    }

    fn depth_checked(&self, depth: usize) -> Result<usize, QuorumSetError> {
        if depth > MAX_NESTING_DEPTH {
            return Err(QuorumSetError::TooDeep {
                depth,
                max: MAX_NESTING_DEPTH,
            });
        }
        if self.threshold == 0 {
            return Err(QuorumSetError::ZeroThreshold);
        }
        let members = self.members.len() + self.inner_sets.len();
        if self.threshold as usize > members {
            return Err(QuorumSetError::ThresholdAboveMembers {
                threshold: self.threshold,
                members,
            });
        }
        let mut max = depth;
        for inner in &self.inner_sets {
            max = max.max(inner.depth_checked(depth + 1)?);
        }
        Ok(max)
    }

    fn check_nodes<'a>(&'a self, seen: &mut BTreeSet<&'a NodeId>) -> Result<(), QuorumSetError> {
        for node in &self.members {
            node.validate()?;
            if !seen.insert(node) {
                return Err(QuorumSetError::DuplicateNode(node.clone()));
            }
            if seen.len() > MAX_QUORUM_SET_NODES {
                return Err(QuorumSetError::TooManyNodes {
                    count: seen.len(),
                    max: MAX_QUORUM_SET_NODES,
                });
            }
        }
        for inner in &self.inner_sets {
            inner.check_nodes(seen)?;
        }
        Ok(())
    }

    /// The same set in canonical form: singleton chains (`1-of-{x}` inner sets, or a
    /// `1-of-{inner}` top level) collapse to their single member, and members and inner
    /// sets are sorted. Satisfaction and v-blocking are unchanged.
    pub fn normalized(self) -> Self {
        let mut members = self.members;
        let mut inner_sets = Vec::with_capacity(self.inner_sets.len());
        for inner in self.inner_sets.into_iter().map(Self::normalized) {
            if inner.threshold == 1 && inner.members.len() == 1 && inner.inner_sets.is_empty() {
                members.extend(inner.members);
            } else {
                inner_sets.push(inner);
            }
        }
        members.sort();
        inner_sets.sort();
        if self.threshold == 1 && members.is_empty() && inner_sets.len() == 1 {
            if let Some(only) = inner_sets.pop() {
                return only;
            }
        }
        Self {
            threshold: self.threshold,
            members,
            inner_sets,
        }
    }

    /// Every distinct node named at any level.
    pub fn nodes(&self) -> BTreeSet<NodeId> {
        let mut out = BTreeSet::new();
        self.collect_nodes(&mut out);
        out
    }

    fn collect_nodes(&self, out: &mut BTreeSet<NodeId>) {
        out.extend(self.members.iter().cloned());
        for inner in &self.inner_sets {
            inner.collect_nodes(out);
        }
    }

    /// Whether the nodes for which `contains` holds include one of this set's slices.
    ///
    /// Paper: "`U` contains a slice of `v`", definition 2 (section 3).
    pub fn is_quorum_slice(&self, contains: &dyn Fn(&NodeId) -> bool) -> bool {
        let mut left = self.threshold as usize;
        for node in &self.members {
            if contains(node) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        for inner in &self.inner_sets {
            if inner.is_quorum_slice(contains) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        false
    }

    /// Whether the nodes for which `contains` holds intersect every slice of this set.
    ///
    /// Paper: "`B` is v-blocking", definition 13 (section 3).
    pub fn is_v_blocking(&self, contains: &dyn Fn(&NodeId) -> bool) -> bool {
        // Blocked once more than `members - threshold` members are blocked.
        let total = self.members.len() + self.inner_sets.len();
        let Some(mut left) = (total + 1).checked_sub(self.threshold as usize) else {
            return false;
        };
        if self.threshold == 0 {
            return false;
        }
        for node in &self.members {
            if contains(node) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        for inner in &self.inner_sets {
            if inner.is_v_blocking(contains) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        false
    }

    /// The weight of `node` in this set: the fraction of slices that contain it, scaled
    /// to `u64::MAX`. 0 when the node is not named.
    ///
    /// Paper: `weight(v, v')`, section 6.1 (nomination, leader selection).
    pub fn weight(&self, node: &NodeId) -> u64 {
        let total = (self.members.len() + self.inner_sets.len()) as u128;
        if total == 0 {
            return 0;
        }
        let scale = |w: u64| ((w as u128 * self.threshold as u128) / total) as u64;
        if self.members.contains(node) {
            return scale(u64::MAX);
        }
        for inner in &self.inner_sets {
            let w = inner.weight(node);
            if w > 0 {
                return scale(w);
            }
        }
        0
    }
}

/// Whether the nodes that satisfy `member` contain a quorum that satisfies `local`:
/// nodes whose own quorum set (from `quorum_sets`) is not satisfied by the remaining
/// nodes are removed until a fixpoint, then `local` must be satisfied by what remains.
/// Nodes without a known quorum set are never part of a quorum.
///
/// Paper: definition 3 (quorum), applied "from the local node's point of view" as in
/// section 5 (federated voting: a quorum containing `v`).
pub fn is_quorum(
    local: &QuorumSet,
    quorum_sets: &BTreeMap<NodeId, QuorumSet>,
    member: &dyn Fn(&NodeId) -> bool,
) -> bool {
    find_quorum(local, quorum_sets, member).is_some()
}

/// Like [`is_quorum`], but returns the largest such quorum.
pub fn find_quorum(
    local: &QuorumSet,
    quorum_sets: &BTreeMap<NodeId, QuorumSet>,
    member: &dyn Fn(&NodeId) -> bool,
) -> Option<BTreeSet<NodeId>> {
    let mut set: BTreeSet<&NodeId> = quorum_sets.keys().filter(|n| member(n)).collect();
    loop {
        let drop: Vec<&NodeId> = set
            .iter()
            .copied()
            .filter(|n| match quorum_sets.get(*n) {
                Some(qs) => !qs.is_quorum_slice(&|m| set.contains(m)),
                None => true,
            })
            .collect();
        if drop.is_empty() {
            break;
        }
        for n in drop {
            set.remove(n);
        }
    }
    if local.is_quorum_slice(&|m| set.contains(m)) {
        Some(set.into_iter().cloned().collect())
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<NodeId> {
        names.iter().map(|n| NodeId::from(*n)).collect()
    }

    #[test]
    fn normalisation_collapses_singleton_chains() {
        let inner = QuorumSet {
            threshold: 1,
            members: ids(&["c"]),
            inner_sets: vec![],
        };
        let wrapped = QuorumSet {
            threshold: 1,
            members: vec![],
            inner_sets: vec![QuorumSet {
                threshold: 2,
                members: ids(&["b", "a"]),
                inner_sets: vec![inner],
            }],
        };
        let n = wrapped.normalized();
        assert_eq!(n, QuorumSet::flat(2, ids(&["a", "b", "c"])).unwrap());
    }

    #[test]
    fn weight_of_direct_and_nested_members() {
        let qs = QuorumSet::new(
            2,
            ids(&["a"]),
            vec![QuorumSet::flat(1, ids(&["b", "c"])).unwrap()],
        )
        .unwrap();
        let half = u64::MAX / 2;
        assert!(qs.weight(&"a".into()).abs_diff(u64::MAX) <= 1);
        assert!(qs.weight(&"b".into()).abs_diff(half) <= 1);
        assert_eq!(qs.weight(&"z".into()), 0);
    }
}
