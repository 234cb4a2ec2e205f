//! The federation-wide analyses (through `fbas_analyzer`) and the comparison of two
//! configurations.

use std::collections::{BTreeMap, BTreeSet};

use fbas_analyzer::Fbas;
use mcnode_scp::{NodeId, QuorumSet};
use serde::Serialize;

use crate::{local::LocalView, Federation, QuorumError, Source};

/// Which analyses to run. Quorum intersection, the top tier and the per-node views are
/// always computed; the enumerations below can be costly on a large top tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Enumerate the minimal blocking sets (global liveness).
    pub blocking_sets: bool,
    /// Enumerate the minimal splitting sets (safety).
    pub splitting_sets: bool,
    /// Enumerate the minimal quorums.
    pub minimal_quorums: bool,
    /// Look for splitting sets among the core nodes only (the strongly connected nodes
    /// that hold every quorum): sets made only of nodes nobody depends on, that split
    /// no core nodes, are missed. Many times faster with many leaf nodes.
    pub core_only_splitting: bool,
    /// Per node, list at most this many minimal v-blocking sets.
    pub local_sets_cap: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            blocking_sets: true,
            splitting_sets: true,
            minimal_quorums: false,
            core_only_splitting: true,
            local_sets_cap: 20,
        }
    }
}

/// What [`Federation::analyze`] found. Every set is a sorted list of node names; lists of
/// sets are sorted by size, then by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// Every node analysed (those with a known quorum set).
    pub nodes: Vec<String>,
    /// Where each node's quorum set came from.
    pub sources: BTreeMap<String, Source>,
    /// Nodes named in a quorum set whose own is unknown: never part of a quorum here.
    pub unknown: Vec<String>,
    /// Nodes that can never be in a quorum (their slices need unknown or unsatisfiable
    /// nodes).
    pub unsatisfiable: Vec<String>,
    /// Nodes whose published quorum set differs from their configuration file (the file
    /// is analysed; the node has not restarted with it, or the file is not what it runs).
    pub published_differs: Vec<String>,
    /// Whether any quorum exists at all: without one, no node can externalize anything
    /// (often because the quorum sets of the nodes it needs are unknown here).
    pub has_quorum: bool,
    /// Whether every two quorums share a node (true when there is no quorum).
    pub quorum_intersection: bool,
    /// Two quorums without a common node, when there are.
    pub disjoint_quorums: Option<[Vec<String>; 2]>,
    /// The nodes every minimal quorum is made of.
    pub top_tier: Vec<String>,
    /// Minimal sets of nodes whose failure leaves no quorum (when asked for).
    pub minimal_blocking_sets: Option<Vec<Vec<String>>>,
    /// Minimal sets of nodes that, lying, can split the network (when asked for). With no
    /// quorum intersection this is one empty set: no node needs to lie.
    pub minimal_splitting_sets: Option<Vec<Vec<String>>>,
    /// Minimal quorums (when asked for).
    pub minimal_quorums: Option<Vec<Vec<String>>>,
    /// Each node's own v-blocking view.
    pub local: Vec<LocalView>,
}

impl Analysis {
    /// The size of the smallest minimal blocking set: how many failures halt the
    /// network (`None` when not computed or there is none).
    pub fn smallest_blocking_set(&self) -> Option<usize> {
        smallest(&self.minimal_blocking_sets)
    }

    /// The size of the smallest minimal splitting set: how many lying nodes can split the
    /// network (0 without quorum intersection).
    pub fn smallest_splitting_set(&self) -> Option<usize> {
        smallest(&self.minimal_splitting_sets)
    }
}

fn smallest(sets: &Option<Vec<Vec<String>>>) -> Option<usize> {
    sets.as_ref()?.iter().map(Vec::len).min()
}

/// Node names by the analyser's dense indexes, and back.
struct Index {
    names: Vec<NodeId>,
    by_name: BTreeMap<NodeId, usize>,
}

impl Index {
    fn name_sets(&self, sets: Vec<Vec<usize>>) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = sets.into_iter().map(|s| self.names_of(s)).collect();
        out.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        out
    }

    fn names_of(&self, set: impl IntoIterator<Item = usize>) -> Vec<String> {
        let mut v: Vec<String> = set
            .into_iter()
            .filter_map(|i| self.names.get(i).map(|n| n.to_string()))
            .collect();
        v.sort();
        v
    }
}

fn to_fbas_set(qs: &QuorumSet, index: &Index) -> fbas_analyzer::QuorumSet {
    fbas_analyzer::QuorumSet {
        threshold: qs.threshold as usize,
        validators: qs
            .members
            .iter()
            .filter_map(|n| index.by_name.get(n).copied())
            .collect(),
        inner_quorum_sets: qs
            .inner_sets
            .iter()
            .map(|i| to_fbas_set(i, index))
            .collect(),
    }
}

impl Federation {
    /// Runs the analyses. Deterministic; no IO.
    pub fn analyze(&self, options: &Options) -> Result<Analysis, QuorumError> {
        let effective = self.effective();
        let unknown = self.unknown();
        // Every named node gets an index: known ones with their quorum set, unknown ones
        // with a set that is never satisfied.
        let names: Vec<NodeId> = effective.keys().chain(unknown.iter()).cloned().collect();
        let index = Index {
            by_name: names
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, n)| (n, i))
                .collect(),
            names,
        };
        // The analyser names nodes by index (`n0`, `n1`, ...): ours are mapped back.
        let mut fbas = Fbas::new();
        for name in &index.names {
            let qs = match effective.get(name) {
                Some(qs) => to_fbas_set(qs, &index),
                None => fbas_analyzer::QuorumSet::new_unsatisfiable(),
            };
            fbas.add_generic_node(qs);
        }

        // The analyser asserts its own invariants (and that some quorum exists); a failure
        // there must not take the node down with it.
        let has_quorum = !fbas_analyzer::Analysis::new(&fbas)
            .satisfiable_nodes()
            .is_empty();
        let run = || {
            let mut analysis = fbas_analyzer::Analysis::new(&fbas);
            if !has_quorum {
                // Nothing to enumerate: the empty set already blocks everyone.
                let all_unsat = analysis.unsatisfiable_nodes().into_vec();
                return (
                    true,
                    None,
                    Vec::new(),
                    all_unsat,
                    options.blocking_sets.then(|| vec![Vec::new()]),
                    options.splitting_sets.then(Vec::new),
                    options.minimal_quorums.then(Vec::new),
                );
            }
            let (intersect, pair) = analysis.has_quorum_intersection_via_alternative_check();
            let disjoint = pair.map(|p| p.into_vec_vec());
            let top_tier = analysis.top_tier().into_vec();
            let unsatisfiable = analysis.unsatisfiable_nodes().into_vec();
            let mbs = options
                .blocking_sets
                .then(|| analysis.minimal_blocking_sets().into_vec_vec());
            let mq = options
                .minimal_quorums
                .then(|| analysis.minimal_quorums().into_vec_vec());
            let mss = options.splitting_sets.then(|| {
                if intersect {
                    if options.core_only_splitting {
                        analysis.shrink_to_core_nodes();
                    }
                    analysis.minimal_splitting_sets().into_vec_vec()
                } else {
                    vec![Vec::new()]
                }
            });
            (intersect, disjoint, top_tier, unsatisfiable, mbs, mss, mq)
        };
        let (intersect, disjoint, top_tier, unsatisfiable, mbs, mss, mq) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|panic| {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panicked".into());
                QuorumError::AnalysisFailed(why)
            })?;

        let disjoint_quorums = disjoint.and_then(|mut pair| {
            let b = pair.pop()?;
            let a = pair.pop()?;
            let (a, b) = (index.names_of(a), index.names_of(b));
            Some(if a <= b { [a, b] } else { [b, a] })
        });
        let unknown_names: BTreeSet<usize> = unknown
            .iter()
            .filter_map(|n| index.by_name.get(n).copied())
            .collect();
        Ok(Analysis {
            nodes: effective.keys().map(|n| n.to_string()).collect(),
            sources: self
                .entries()
                .filter_map(|(id, e)| e.effective().map(|(_, s)| (id.to_string(), s)))
                .collect(),
            unknown: unknown.iter().map(|n| n.to_string()).collect(),
            unsatisfiable: index.names_of(
                unsatisfiable
                    .into_iter()
                    .filter(|i| !unknown_names.contains(i)),
            ),
            published_differs: self
                .entries()
                .filter(|(_, e)| e.published_differs())
                .map(|(id, _)| id.to_string())
                .collect(),
            has_quorum,
            quorum_intersection: intersect,
            disjoint_quorums,
            top_tier: index.names_of(top_tier),
            minimal_blocking_sets: mbs.map(|s| index.name_sets(s)),
            minimal_splitting_sets: mss.map(|s| index.name_sets(s)),
            minimal_quorums: mq.map(|s| index.name_sets(s)),
            local: effective
                .iter()
                .map(|(id, qs)| LocalView::of(id, qs, options.local_sets_cap))
                .collect(),
        })
    }
}

/// How one list of minimal sets changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SetChange {
    /// The smallest set's size before.
    pub smallest_before: Option<usize>,
    /// The smallest set's size after.
    pub smallest_after: Option<usize>,
    /// Sets that are minimal after but not before.
    pub added: Vec<Vec<String>>,
    /// Sets that were minimal before but are not after.
    pub removed: Vec<Vec<String>>,
}

fn set_change(before: &Option<Vec<Vec<String>>>, after: &Option<Vec<Vec<String>>>) -> SetChange {
    let b: BTreeSet<&Vec<String>> = before.iter().flatten().collect();
    let a: BTreeSet<&Vec<String>> = after.iter().flatten().collect();
    let sorted = |s: Vec<&Vec<String>>| {
        let mut v: Vec<Vec<String>> = s.into_iter().cloned().collect();
        v.sort_by(|x, y| x.len().cmp(&y.len()).then_with(|| x.cmp(y)));
        v
    };
    SetChange {
        smallest_before: smallest(before),
        smallest_after: smallest(after),
        added: sorted(a.difference(&b).copied().collect()),
        removed: sorted(b.difference(&a).copied().collect()),
    }
}

/// What replacing a configuration changes ([`compare`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Quorum intersection before.
    pub intersection_before: bool,
    /// Quorum intersection after.
    pub intersection_after: bool,
    /// The minimal blocking sets.
    pub blocking_sets: SetChange,
    /// The minimal splitting sets.
    pub splitting_sets: SetChange,
    /// Nodes that join the top tier.
    pub top_tier_added: Vec<String>,
    /// Nodes that leave the top tier.
    pub top_tier_removed: Vec<String>,
    /// Nodes whose v-blocking distance changes: (node, before, after).
    pub blocking_distance: Vec<(String, usize, usize)>,
    /// Nodes that can no longer be in any quorum.
    pub newly_unsatisfiable: Vec<String>,
    /// One line per way the network gets less safe or less live; empty when none.
    pub worse: Vec<String>,
}

impl Change {
    /// True when the change makes nothing worse.
    pub fn is_safe(&self) -> bool {
        self.worse.is_empty()
    }
}

/// What changes from `before` to `after` (two analyses of the same federation, e.g. the
/// current configuration and [`Federation::with_proposed`]).
pub fn compare(before: &Analysis, after: &Analysis) -> Change {
    let blocking_sets = set_change(&before.minimal_blocking_sets, &after.minimal_blocking_sets);
    let splitting_sets = set_change(
        &before.minimal_splitting_sets,
        &after.minimal_splitting_sets,
    );
    let tt_b: BTreeSet<&String> = before.top_tier.iter().collect();
    let tt_a: BTreeSet<&String> = after.top_tier.iter().collect();
    let local_b: BTreeMap<&str, usize> = before
        .local
        .iter()
        .map(|l| (l.node.as_str(), l.blocking_distance))
        .collect();
    let blocking_distance: Vec<(String, usize, usize)> = after
        .local
        .iter()
        .filter_map(|l| {
            let b = *local_b.get(l.node.as_str())?;
            (b != l.blocking_distance).then(|| (l.node.clone(), b, l.blocking_distance))
        })
        .collect();
    let unsat_b: BTreeSet<&String> = before.unsatisfiable.iter().collect();
    let newly_unsatisfiable: Vec<String> = after
        .unsatisfiable
        .iter()
        .filter(|n| !unsat_b.contains(n))
        .cloned()
        .collect();

    let mut worse = Vec::new();
    if before.quorum_intersection && !after.quorum_intersection {
        match &after.disjoint_quorums {
            Some([a, b]) => worse.push(format!(
                "quorum intersection is lost: {{{}}} and {{{}}} would be disjoint quorums",
                a.join(", "),
                b.join(", ")
            )),
            None => worse.push("quorum intersection is lost".into()),
        }
    }
    if let (Some(b), Some(a)) = (
        splitting_sets.smallest_before,
        splitting_sets.smallest_after,
    ) {
        if a < b && after.quorum_intersection {
            worse.push(format!(
                "the smallest splitting set shrinks from {b} to {a} nodes: {} lying nodes could split the network",
                a
            ));
        }
    }
    if let (Some(b), Some(a)) = (blocking_sets.smallest_before, blocking_sets.smallest_after) {
        if a < b {
            worse.push(format!(
                "the smallest blocking set shrinks from {b} to {a} nodes: {a} failures could halt the network"
            ));
        }
    }
    for (node, b, a) in &blocking_distance {
        if a < b {
            worse.push(format!(
                "{node} is blocked by {a} failures among its quorum set instead of {b}"
            ));
        }
    }
    for node in &newly_unsatisfiable {
        worse.push(format!("{node} can no longer be part of any quorum"));
    }
    Change {
        intersection_before: before.quorum_intersection,
        intersection_after: after.quorum_intersection,
        blocking_sets,
        splitting_sets,
        top_tier_added: tt_a.difference(&tt_b).map(|s| s.to_string()).collect(),
        top_tier_removed: tt_b.difference(&tt_a).map(|s| s.to_string()).collect(),
        blocking_distance,
        newly_unsatisfiable,
        worse,
    }
}
