//! The Byzantine tolerance each topology claims, checked by brute force: with any allowed
//! Byzantine set, honest nodes form a quorum (liveness) and every two quorums share an
//! honest node (safety). Paper: section 4 (intact sets, quorum intersection).

use std::collections::BTreeMap;

use mcnode_scp::{NodeId, QuorumSet};
use mcnode_testkit::Topology;

fn is_quorum(mask: u32, qsets: &[(NodeId, QuorumSet)]) -> bool {
    if mask == 0 {
        return false;
    }
    let ids: BTreeMap<&NodeId, usize> = qsets
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id, i))
        .collect();
    let inside = |n: &NodeId| ids.get(n).is_some_and(|&i| mask & (1 << i) != 0);
    (0..qsets.len())
        .filter(|i| mask & (1 << i) != 0)
        .all(|i| qsets[i].1.is_quorum_slice(&inside))
}

#[test]
fn sec_4_claimed_byzantine_tolerance_holds() {
    let topologies = [
        "mesh:4:3",
        "core5",
        "core3",
        "mesh:7:5",
        "cycle:4",
        "tiered:4:2",
        "tiered:3:3",
        "mesh:6:4",
    ];
    for t in topologies {
        let topo: Topology = t.parse().unwrap();
        let qsets = topo.build().unwrap();
        let n = qsets.len();
        let quorums: Vec<u32> = (1u32..(1 << n)).filter(|&m| is_quorum(m, &qsets)).collect();
        let f = topo.max_byzantine();
        for group in topo.byzantine_groups() {
            // Every Byzantine set of size <= f inside the group.
            for byz in 0u32..(1 << n) {
                let in_group = (0..n).all(|i| byz & (1 << i) == 0 || group.contains(&i));
                if !in_group || byz.count_ones() as usize > f {
                    continue;
                }
                let honest = ((1u32 << n) - 1) & !byz;
                assert!(
                    is_quorum(honest, &qsets),
                    "{t}: honest nodes {honest:b} not a quorum"
                );
                for &a in &quorums {
                    for &b in &quorums {
                        assert!(
                            a & b & honest != 0,
                            "{t}: quorums {a:b} and {b:b} share no honest node (byz {byz:b})"
                        );
                    }
                }
            }
        }
    }
}
