//! Quorum-set predicates as tables over growing node sets, nested sets, and validation.
//!
//! Paper: section 3 (definitions 2, 3 and 13: slices, quorums, v-blocking sets).

use std::collections::BTreeMap;

use mcnode_scp::{is_quorum, NodeId, QuorumSet, QuorumSetError, MAX_NESTING_DEPTH};

use crate::harness::{id, mesh};

fn first(k: usize) -> impl Fn(&NodeId) -> bool {
    let ids: Vec<NodeId> = (0..k).map(id).collect();
    move |n| ids.contains(n)
}

/// For `T` of `N`, the first `k` nodes are v-blocking iff `k >= N - T + 1`, and satisfy
/// a slice iff `k >= T`; checked for every N up to 12 and every T and k.
#[test]
fn sec_3_flat_sets_growing_node_sets() {
    for n in 1..=12usize {
        for t in 1..=n as u32 {
            let qs = mesh(n, t);
            let qsets: BTreeMap<NodeId, QuorumSet> = (0..n).map(|i| (id(i), qs.clone())).collect();
            for k in 0..=n {
                let f = first(k);
                assert_eq!(
                    qs.is_v_blocking(&f),
                    k > n - t as usize,
                    "v-blocking n={n} t={t} k={k}"
                );
                assert_eq!(
                    qs.is_quorum_slice(&f),
                    k >= t as usize,
                    "slice n={n} t={t} k={k}"
                );
                assert_eq!(
                    is_quorum(&qs, &qsets, &f),
                    k >= t as usize,
                    "quorum n={n} t={t} k={k}"
                );
            }
        }
    }
}

/// Nested: 2 of { v0, {2 of v1 v2 v3}, {1 of v4 v5} }.
#[test]
fn sec_3_nested_sets_table() {
    let qs = QuorumSet::new(
        2,
        vec![id(0)],
        vec![
            QuorumSet::flat(2, vec![id(1), id(2), id(3)]).unwrap(),
            QuorumSet::flat(1, vec![id(4), id(5)]).unwrap(),
        ],
    )
    .unwrap();
    let table: &[(&[usize], bool, bool)] = &[
        // (set, is slice, is v-blocking)
        (&[], false, false),
        (&[0], false, false),
        (&[0, 4], true, false),
        (&[1, 2, 4], true, false),
        (&[1, 4], false, false),
        (&[0, 1, 2], true, true),
        (&[4, 5], false, false),
        (&[0, 4, 5], true, true),
        (&[2, 3, 4, 5], true, true),
        (&[0, 2, 3], true, true),
    ];
    for (set, slice, blocking) in table {
        let ids: Vec<NodeId> = set.iter().map(|&i| id(i)).collect();
        let f = |n: &NodeId| ids.contains(n);
        assert_eq!(qs.is_quorum_slice(&f), *slice, "slice {set:?}");
        assert_eq!(qs.is_v_blocking(&f), *blocking, "v-blocking {set:?}");
    }
}

/// Quorums are found transitively: nodes whose own slices are not inside the set are
/// pruned (paper definition 3).
#[test]
fn sec_3_quorum_prunes_transitively() {
    // v0 and v1 trust each other; v2 trusts only v3, which is absent.
    let pair = QuorumSet::flat(2, vec![id(0), id(1)]).unwrap();
    let mut qsets = BTreeMap::new();
    qsets.insert(id(0), pair.clone());
    qsets.insert(id(1), QuorumSet::flat(2, vec![id(1), id(2)]).unwrap());
    qsets.insert(id(2), QuorumSet::flat(2, vec![id(2), id(3)]).unwrap());
    let all = |_: &NodeId| true;
    // v1 needs v2, v2 needs v3 (no qset known): everything collapses.
    assert!(!is_quorum(&pair, &qsets, &all));
    qsets.insert(id(3), QuorumSet::flat(1, vec![id(3)]).unwrap());
    assert!(is_quorum(&pair, &qsets, &all));
}

#[test]
fn quorum_set_validation_errors_are_typed() {
    assert_eq!(
        QuorumSet::flat(0, vec![id(0)]),
        Err(QuorumSetError::ZeroThreshold)
    );
    assert_eq!(
        QuorumSet::flat(3, vec![id(0), id(1)]),
        Err(QuorumSetError::ThresholdAboveMembers {
            threshold: 3,
            members: 2
        })
    );
    assert_eq!(
        QuorumSet::flat(1, vec![id(0), id(0)]),
        Err(QuorumSetError::DuplicateNode(id(0)))
    );
    assert!(matches!(
        NodeId::new(""),
        Err(QuorumSetError::InvalidNodeId { len: 0, .. })
    ));
    // Depth 4 is fine, depth 5 is not.
    let mut qs = QuorumSet::flat(1, vec![id(0), id(1)]).unwrap();
    for level in 0..MAX_NESTING_DEPTH {
        qs = QuorumSet {
            threshold: 1,
            members: vec![id(10 + level)],
            inner_sets: vec![qs],
        };
    }
    assert_eq!(qs.validate(), Ok(()));
    let deeper = QuorumSet {
        threshold: 1,
        members: vec![id(99)],
        inner_sets: vec![qs],
    };
    assert_eq!(
        deeper.validate(),
        Err(QuorumSetError::TooDeep {
            depth: MAX_NESTING_DEPTH + 1,
            max: MAX_NESTING_DEPTH
        })
    );
    let many = QuorumSet {
        threshold: 1,
        members: (0..1001).map(id).collect(),
        inner_sets: vec![],
    };
    assert!(matches!(
        many.validate(),
        Err(QuorumSetError::TooManyNodes { count: 1001, .. })
    ));
    let empty_inner = QuorumSet {
        threshold: 1,
        members: vec![id(0)],
        inner_sets: vec![QuorumSet {
            threshold: 1,
            members: vec![],
            inner_sets: vec![],
        }],
    };
    assert!(matches!(
        empty_inner.validate(),
        Err(QuorumSetError::ThresholdAboveMembers { .. })
    ));
}

/// Normalisation keeps the predicates and collapses singleton chains.
#[test]
fn normalisation_preserves_predicates() {
    let raw = QuorumSet {
        threshold: 2,
        members: vec![id(2), id(0)],
        inner_sets: vec![QuorumSet {
            threshold: 1,
            members: vec![],
            inner_sets: vec![QuorumSet {
                threshold: 1,
                members: vec![id(1)],
                inner_sets: vec![],
            }],
        }],
    };
    let norm = raw.clone().normalized();
    assert_eq!(norm, mesh(3, 2));
    for mask in 0u32..8 {
        let f = |n: &NodeId| (0..3).any(|i| mask & (1 << i) != 0 && *n == id(i));
        assert_eq!(raw.is_quorum_slice(&f), norm.is_quorum_slice(&f));
        assert_eq!(raw.is_v_blocking(&f), norm.is_v_blocking(&f));
    }
}
