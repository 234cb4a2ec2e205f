//! One node's own view: which failures among its quorum set block it.
//!
//! Paper: a set `B` is v-blocking for `v` when it intersects every slice of `v`
//! (definition 13); once `B` has failed, `v` cannot confirm anything. For a quorum set of
//! threshold `t` over `n` members, `B` is v-blocking when it blocks `n - t + 1` members
//! (a node member by containing it, an inner set recursively). Nodes appear once in a
//! valid quorum set, so the union of blocking sets of distinct members is minimal.

use std::collections::BTreeSet;

use mcnode_scp::{NodeId, QuorumSet};
use serde::Serialize;

/// One node's v-blocking facts, for reports and the node's metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalView {
    /// The node.
    pub node: String,
    /// The fewest failed members of its quorum set that block it.
    pub blocking_distance: usize,
    /// Its minimal v-blocking sets, smallest first (at most the cap asked for).
    pub minimal_v_blocking_sets: Vec<Vec<String>>,
    /// True when there were more than the cap.
    pub truncated: bool,
}

impl LocalView {
    /// The view of `node`, whose quorum set is `qs`, listing at most `cap` sets.
    pub fn of(node: &NodeId, qs: &QuorumSet, cap: usize) -> Self {
        let (sets, truncated) = minimal_v_blocking_sets(qs, cap);
        Self {
            node: node.to_string(),
            blocking_distance: blocking_distance(qs),
            minimal_v_blocking_sets: sets
                .into_iter()
                .map(|s| s.into_iter().map(|n| n.to_string()).collect())
                .collect(),
            truncated,
        }
    }
}

fn member_count(qs: &QuorumSet) -> usize {
    qs.members.len() + qs.inner_sets.len()
}

/// How many members must be blocked to block `qs`: `n - t + 1` (0 for a set that can
/// never be satisfied, which is blocked already).
fn needed(qs: &QuorumSet) -> usize {
    (member_count(qs) + 1).saturating_sub(qs.threshold as usize)
}

/// The size of the smallest v-blocking set of `qs`: how many more failures (among the
/// nodes it names) block a node with this quorum set.
pub fn blocking_distance(qs: &QuorumSet) -> usize {
    let mut costs: Vec<usize> = qs
        .members
        .iter()
        .map(|_| 1)
        .chain(qs.inner_sets.iter().map(blocking_distance))
        .collect();
    costs.sort_unstable();
    costs.iter().take(needed(qs)).sum()
}

/// The minimal v-blocking sets of `qs`, smallest first, at most `cap` of them; the flag
/// says whether there were more.
pub fn minimal_v_blocking_sets(qs: &QuorumSet, cap: usize) -> (Vec<BTreeSet<NodeId>>, bool) {
    let mut out = Vec::new();
    // Enumerate one more than asked, to know whether the list is complete.
    blocking_sets_of(qs, cap.saturating_add(1), &mut out);
    out.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    let truncated = out.len() > cap;
    out.truncate(cap);
    (out, truncated)
}

/// Appends up to `limit` minimal blocking sets of `qs` to `out`.
fn blocking_sets_of(qs: &QuorumSet, limit: usize, out: &mut Vec<BTreeSet<NodeId>>) {
    // Each member's own minimal blocking sets, cheapest members first.
    let mut members: Vec<Vec<BTreeSet<NodeId>>> = qs
        .members
        .iter()
        .map(|n| vec![BTreeSet::from([n.clone()])])
        .collect();
    for inner in &qs.inner_sets {
        let mut sets = Vec::new();
        blocking_sets_of(inner, limit, &mut sets);
        members.push(sets);
    }
    members.sort_by_key(|sets| sets.iter().map(BTreeSet::len).min().unwrap_or(0));
    let k = needed(qs);
    if k == 0 {
        out.push(BTreeSet::new());
        return;
    }
    let mut chosen = Vec::with_capacity(k);
    choose(&members, 0, k, &mut chosen, limit, out);
}

/// Every way to pick `k` members from `members[from..]` (indexes in `chosen`), and for
/// each, every union of one blocking set per chosen member.
fn choose(
    members: &[Vec<BTreeSet<NodeId>>],
    from: usize,
    k: usize,
    chosen: &mut Vec<usize>,
    limit: usize,
    out: &mut Vec<BTreeSet<NodeId>>,
) {
    if out.len() >= limit {
        return;
    }
    if chosen.len() == k {
        product(members, chosen, 0, BTreeSet::new(), limit, out);
        return;
    }
    let left = k - chosen.len();
    for i in from..members.len() {
        if members.len() - i < left {
            break;
        }
        chosen.push(i);
        choose(members, i + 1, k, chosen, limit, out);
        chosen.pop();
        if out.len() >= limit {
            return;
        }
    }
}

fn product(
    members: &[Vec<BTreeSet<NodeId>>],
    chosen: &[usize],
    at: usize,
    acc: BTreeSet<NodeId>,
    limit: usize,
    out: &mut Vec<BTreeSet<NodeId>>,
) {
    if out.len() >= limit {
        return;
    }
    let Some(&member) = chosen.get(at) else {
        out.push(acc);
        return;
    };
    for set in &members[member] {
        let mut next = acc.clone();
        next.extend(set.iter().cloned());
        product(members, chosen, at + 1, next, limit, out);
        if out.len() >= limit {
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<NodeId> {
        names.iter().map(|n| NodeId::from(*n)).collect()
    }

    fn names(sets: &[BTreeSet<NodeId>]) -> Vec<Vec<&str>> {
        sets.iter()
            .map(|s| s.iter().map(NodeId::as_str).collect())
            .collect()
    }

    #[test]
    fn flat_sets_are_blocked_by_n_minus_t_plus_one() {
        let qs = QuorumSet::flat(3, ids(&["a", "b", "c", "d"])).unwrap();
        assert_eq!(blocking_distance(&qs), 2);
        let (sets, truncated) = minimal_v_blocking_sets(&qs, 100);
        assert!(!truncated);
        assert_eq!(sets.len(), 6);
        for s in &sets {
            assert!(qs.is_v_blocking(&|n| s.contains(n)), "{s:?}");
            // Minimal: removing any node makes it not v-blocking.
            for n in s {
                let smaller: BTreeSet<_> = s.iter().filter(|m| *m != n).cloned().collect();
                assert!(!qs.is_v_blocking(&|m| smaller.contains(m)));
            }
        }
        let (two, truncated) = minimal_v_blocking_sets(&qs, 2);
        assert!(truncated);
        assert_eq!(two.len(), 2);
    }

    #[test]
    fn nested_sets_combine_their_members_blocking_sets() {
        // 2 of { a, 2-of{b, c, d}, 1-of{e, f} }
        let qs = QuorumSet::new(
            2,
            ids(&["a"]),
            vec![
                QuorumSet::flat(2, ids(&["b", "c", "d"])).unwrap(),
                QuorumSet::flat(1, ids(&["e", "f"])).unwrap(),
            ],
        )
        .unwrap();
        // Blocking two of the three members: cheapest is a + one of the inner sets, which
        // costs 2 (either {b,c}-like pair or {e, f}).
        assert_eq!(blocking_distance(&qs), 3);
        let (sets, _) = minimal_v_blocking_sets(&qs, 1000);
        assert_eq!(
            names(&sets[..4]),
            vec![
                vec!["a", "b", "c"],
                vec!["a", "b", "d"],
                vec!["a", "c", "d"],
                vec!["a", "e", "f"],
            ]
        );
        // a + inner(2 ways... 3 pairs) + {e,f}; inner pair + {e,f}: 3 + 1 + 3 = 7 sets.
        assert_eq!(sets.len(), 7);
        for s in &sets {
            assert!(qs.is_v_blocking(&|n| s.contains(n)), "{s:?}");
        }
    }
}
