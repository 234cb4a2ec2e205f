//! core3: 3 nodes, threshold 2. Any 2 nodes are both a quorum and a v-blocking set, so
//! one peer plus the local node decide everything.
//!
//! Paper: section 3 (quorums and v-blocking sets), section 6.2 (ballot protocol).

use mcnode_scp::SlotPhase;

use crate::harness::*;

const X: u64 = 7;

#[test]
fn sec_3_core3_v_blocking_sets_are_quorums() {
    let qs = mesh(3, 2);
    let set = |ids: &[usize]| {
        let ids: Vec<_> = ids.iter().map(|&i| id(i)).collect();
        move |n: &mcnode_scp::NodeId| ids.contains(n)
    };
    assert!(qs.is_quorum_slice(&set(&[1, 2])));
    assert!(qs.is_v_blocking(&set(&[1, 2])));
    assert!(!qs.is_v_blocking(&set(&[1])));
    assert!(qs.is_quorum_slice(&set(&[0, 1])));
}

/// With one peer, the local node goes from prepare to externalize (paper 6.2 steps 2-8).
#[test]
fn sec_6_2_core3_one_peer_suffices() {
    let mut h = Harness::new(mesh(3, 2));
    h.start_ballot(X, &[1]);
    h.recv(1, prepare(ballot(1, X), None, None, 0, 0));
    assert_eq!(
        h.snap().ballot.p,
        Some(ballot(1, X)),
        "{{v0, v1}} is a quorum"
    );
    h.recv(1, prepare(ballot(1, X), Some(ballot(1, X)), None, 0, 0));
    assert_eq!(h.snap().ballot.h, Some(ballot(1, X)));
    h.recv(1, prepare(ballot(1, X), Some(ballot(1, X)), None, 1, 1));
    assert_eq!(h.phase(), SlotPhase::Confirm);
    h.recv(1, confirm(ballot(1, X), 1, 1, 1));
    assert_eq!(h.node.externalized(SLOT), Some(&X));
}

/// Two peers that externalized are v-blocking and a quorum: the node externalizes at
/// once without having voted (paper 6.2: EXTERNALIZE implies accepted commit).
#[test]
fn sec_6_2_core3_follow_two_externalized_peers() {
    let mut h = Harness::new(mesh(3, 2));
    h.recv_from(&[1, 2], externalize(ballot(3, X), 3));
    assert_eq!(h.node.externalized(SLOT), Some(&X));
}
