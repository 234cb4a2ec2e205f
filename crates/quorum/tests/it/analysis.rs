//! The analyses by name on small federations whose answers are known by hand.

use mcnode_quorum::{compare, Federation, Options};
use mcnode_scp::{NodeId, QuorumSet};

fn ids(names: &[&str]) -> Vec<NodeId> {
    names.iter().map(|n| NodeId::from(*n)).collect()
}

const CORE: [&str; 4] = ["core1:8443", "core2:8443", "core3:8443", "core4:8443"];
const LEAVES: [&str; 3] = ["leaf1:8443", "leaf2:8443", "leaf3:8443"];

/// Seven nodes in two tiers: four core nodes, each 3 of the four; three leaves, each
/// itself plus 3 of the core.
fn tiered(core_threshold: u32) -> Federation {
    let mut f = Federation::new();
    for c in CORE {
        f.configure(
            c.into(),
            QuorumSet::flat(core_threshold, ids(&CORE)).unwrap(),
            format!("{c}.toml"),
        );
    }
    for l in LEAVES {
        let qs = QuorumSet::new(
            2,
            ids(&[l]),
            vec![QuorumSet::flat(core_threshold, ids(&CORE)).unwrap()],
        )
        .unwrap();
        f.configure(l.into(), qs, format!("{l}.toml"));
    }
    f
}

fn all(sizes: &[Vec<String>]) -> Vec<usize> {
    sizes.iter().map(Vec::len).collect()
}

#[test]
fn the_tiered_example_is_safe_and_its_sets_are_named() {
    let a = tiered(3).analyze(&Options::default()).unwrap();
    assert!(a.quorum_intersection);
    assert_eq!(a.disjoint_quorums, None);
    assert_eq!(a.nodes.len(), 7);
    assert!(a.unknown.is_empty() && a.unsatisfiable.is_empty());
    assert_eq!(a.top_tier, CORE.map(String::from).to_vec());
    // Any two core nodes failing halt everyone: C(4, 2) sets of two.
    let mbs = a.minimal_blocking_sets.clone().unwrap();
    assert_eq!(all(&mbs), vec![2; 6]);
    assert_eq!(mbs[0], vec!["core1:8443", "core2:8443"]);
    // Two lying core nodes can split (two 3-quorums share exactly two).
    let mss = a.minimal_splitting_sets.clone().unwrap();
    assert_eq!(all(&mss), vec![2; 6]);
    assert!(mss.iter().flatten().all(|n| n.starts_with("core")));
    assert_eq!(a.smallest_blocking_set(), Some(2));
    assert_eq!(a.smallest_splitting_set(), Some(2));
    // A leaf needs both of its two members (itself and 3 of the core): its own failure
    // blocks it (distance 1), and so do any two core nodes.
    let leaf = a.local.iter().find(|l| l.node == "leaf1:8443").unwrap();
    assert_eq!(leaf.blocking_distance, 1);
    assert_eq!(leaf.minimal_v_blocking_sets[0], vec!["leaf1:8443"]);
    let core = a.local.iter().find(|l| l.node == "core1:8443").unwrap();
    assert_eq!(core.blocking_distance, 2);
    assert_eq!(core.minimal_v_blocking_sets.len(), 6);
}

#[test]
fn the_broken_example_is_split_in_two_named_halves() {
    // The same seven nodes with the core threshold lowered to 2 of 4.
    let a = tiered(2).analyze(&Options::default()).unwrap();
    assert!(!a.quorum_intersection);
    let [x, y] = a.disjoint_quorums.clone().unwrap();
    assert!(!x.is_empty() && !y.is_empty());
    assert!(x.iter().all(|n| !y.contains(n)), "{x:?} {y:?}");
    // Each half is a real quorum of the core: two core nodes at least.
    for half in [&x, &y] {
        assert!(
            half.iter().filter(|n| n.starts_with("core")).count() >= 2,
            "{half:?}"
        );
    }
    // No node has to lie: the empty set splits.
    assert_eq!(a.minimal_splitting_sets, Some(vec![vec![]]));
    assert_eq!(a.smallest_splitting_set(), Some(0));
}

#[test]
fn a_proposed_quorum_set_that_splits_the_network_is_flagged() {
    let current = tiered(3);
    let before = current.analyze(&Options::default()).unwrap();
    // core4 proposes to trust only itself.
    let proposed = current.with_proposed(
        &"core4:8443".into(),
        QuorumSet::flat(1, ids(&["core4:8443"])).unwrap(),
        "proposed.toml",
    );
    let after = proposed.analyze(&Options::default()).unwrap();
    let change = compare(&before, &after);
    assert!(change.intersection_before && !change.intersection_after);
    assert!(!change.is_safe());
    assert!(
        change.worse[0].starts_with("quorum intersection is lost: {"),
        "{:?}",
        change.worse
    );
    assert!(change.worse[0].contains("core4:8443"), "{:?}", change.worse);

    // A harmless proposal: a leaf raises its own requirement to all four core nodes.
    let stricter = current.with_proposed(
        &"leaf1:8443".into(),
        QuorumSet::new(
            2,
            ids(&["leaf1:8443"]),
            vec![QuorumSet::flat(4, ids(&CORE)).unwrap()],
        )
        .unwrap(),
        "proposed.toml",
    );
    let change = compare(&before, &stricter.analyze(&Options::default()).unwrap());
    assert!(change.intersection_after);
    assert_eq!(change.splitting_sets.smallest_after, Some(2));
    // The leaf's own distance does not change (itself still blocks it) and nothing
    // global changes.
    assert!(change.is_safe(), "{:?}", change.worse);
    // A core node lowering its threshold to 2 of 4 shrinks its v-blocking distance.
    let weaker = current.with_proposed(
        &"core1:8443".into(),
        QuorumSet::flat(4, ids(&CORE)).unwrap(),
        "proposed.toml",
    );
    let change = compare(&before, &weaker.analyze(&Options::default()).unwrap());
    assert!(
        change
            .blocking_distance
            .contains(&("core1:8443".to_string(), 2, 1)),
        "{change:?}"
    );
    assert!(!change.is_safe());
}

#[test]
fn unknown_nodes_are_reported_and_never_in_a_quorum() {
    let mut f = Federation::new();
    f.configure(
        "a:1".into(),
        QuorumSet::flat(2, ids(&["a:1", "b:1", "c:1"])).unwrap(),
        "a.toml",
    );
    f.configure(
        "b:1".into(),
        QuorumSet::flat(2, ids(&["a:1", "b:1", "c:1"])).unwrap(),
        "b.toml",
    );
    let a = f.analyze(&Options::default()).unwrap();
    assert_eq!(a.unknown, vec!["c:1"]);
    assert!(a.quorum_intersection);
    // a and b make the only quorum: either failing halts the network.
    assert_eq!(
        a.minimal_blocking_sets.unwrap(),
        vec![vec!["a:1".to_string()], vec!["b:1".to_string()]]
    );
}

#[test]
fn no_quorum_at_all_is_reported_not_a_crash() {
    let mut f = Federation::new();
    f.configure(
        "a:1".into(),
        QuorumSet::flat(2, ids(&["a:1", "b:1"])).unwrap(),
        "a.toml",
    );
    let a = f.analyze(&Options::default()).unwrap();
    assert!(!a.has_quorum);
    assert_eq!(a.unknown, vec!["b:1"]);
    assert_eq!(a.unsatisfiable, vec!["a:1"]);
    assert_eq!(a.minimal_blocking_sets, Some(vec![vec![]]));
    assert_eq!(a.smallest_blocking_set(), Some(0));
}
