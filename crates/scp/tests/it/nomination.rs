//! Nomination (paper section 6.1): leaders by priority hash, copying the leader's value,
//! timeouts adding leaders, federated accept and confirm of `nominate x`.

use mcnode_scp::{Config, Node, NodeId};

use crate::harness::*;

/// A slot where `v0`'s first-round leader (in a 4-of-5 mesh) is not itself.
fn slot_with_foreign_leader() -> (u64, NodeId) {
    for slot in 1..200 {
        let config = Config::default();
        let mut node = Node::new(id(0), mesh(5, 4), NumPolicy::default(), config).unwrap();
        node.propose_values(slot, vec![1], 0).unwrap();
        let leaders = node.snapshot(slot).unwrap().nomination.leaders;
        assert!(!leaders.is_empty() && leaders.len() <= 2, "{leaders:?}");
        if leaders.len() == 1 && leaders[0] != id(0) {
            return (slot, leaders[0].clone());
        }
    }
    panic!("no slot with a foreign leader");
}

/// Every node of a 4-of-3 mesh counts among its first-round leaders the leader the
/// others see (the highest-priority neighbour), so all four vote for that leader's value
/// in round 1; only when no node passes the neighbour hash (about 0.4 % of slots) do the
/// leader sets not meet.
#[test]
fn first_round_leader_sets_of_all_nodes_meet() {
    let mut apart = 0;
    for slot in 1..=1000 {
        let sets: Vec<Vec<NodeId>> = (0..4)
            .map(|i| {
                let mut node =
                    Node::new(id(i), mesh(4, 3), NumPolicy::default(), Config::default()).unwrap();
                node.propose_values(slot, vec![i as u64 + 1], 0).unwrap();
                node.snapshot(slot).unwrap().nomination.leaders
            })
            .collect();
        let common = sets[0]
            .iter()
            .filter(|l| sets[1..].iter().all(|s| s.contains(l)))
            .count();
        if common == 0 {
            apart += 1;
        }
    }
    assert!(apart <= 15, "{apart} of 1000 slots without a common leader");
}

/// Leader selection is a pure function of slot, round and quorum set: every run agrees.
#[test]
fn sec_6_1_leader_selection_is_deterministic() {
    let (slot, leader) = slot_with_foreign_leader();
    let (slot2, leader2) = slot_with_foreign_leader();
    assert_eq!((slot, leader), (slot2, leader2));
}

/// With a live leader, the node votes for the leader's value as soon as it hears it, and
/// not for values of non-leaders.
#[test]
fn sec_6_1_live_leader_value_is_copied() {
    let (slot, leader) = slot_with_foreign_leader();
    let leader_ix: usize = leader.as_str()[1..].parse().unwrap();
    let other = (1..5).find(|&i| i != leader_ix).unwrap();
    let mut h = Harness::new(mesh(5, 4));
    h.node = Node::new(id(0), mesh(5, 4), NumPolicy::default(), Config::default()).unwrap();
    h.node.propose_values(slot, vec![1], 0).unwrap();
    let mut msg = h.msg(other, nominate(&[3], &[]));
    msg.slot = slot;
    h.node.handle_message(&msg, 10).unwrap();
    let voted = h.node.snapshot(slot).unwrap().nomination.voted;
    assert!(!voted.contains(&3), "non-leader value not copied");
    let mut msg = h.msg(leader_ix, nominate(&[2], &[]));
    msg.slot = slot;
    let out = h.node.handle_message(&msg, 20).unwrap();
    let voted = h.node.snapshot(slot).unwrap().nomination.voted;
    assert!(voted.contains(&2), "leader value copied: {voted:?}");
    assert!(!out.is_empty(), "new vote is sent");
}

/// With a dead leader, the round times out (round r lasts r seconds) and a leader is
/// added each round until the node's leaders include a live node or itself.
#[test]
fn sec_6_1_dead_leader_timeouts_add_leaders() {
    let (slot, _leader) = slot_with_foreign_leader();
    let mut node = Node::new(id(0), mesh(5, 4), NumPolicy::default(), Config::default()).unwrap();
    node.propose_values(slot, vec![1], 0).unwrap();
    let s = node.snapshot(slot).unwrap().nomination;
    assert_eq!((s.round, s.timer_deadline_ms), (1, Some(1000)));
    assert!(
        s.voted.is_empty(),
        "not a leader, leader silent: no vote yet"
    );
    node.process_timeouts(1000);
    let s = node.snapshot(slot).unwrap().nomination;
    assert_eq!(s.round, 2);
    assert_eq!(s.timer_deadline_ms, Some(3000), "round 2 lasts 2 s");
    node.process_timeouts(3000);
    let s = node.snapshot(slot).unwrap().nomination;
    assert_eq!(s.timer_deadline_ms, Some(6000), "round 3 lasts 3 s");
    // Leaders accumulate; within a few rounds the node leads itself and votes its value.
    let mut now = 6000;
    for _ in 0..30 {
        if node.snapshot(slot).unwrap().nomination.voted.contains(&1) {
            break;
        }
        node.process_timeouts(now);
        now = node.next_timeout().unwrap();
    }
    let s = node.snapshot(slot).unwrap().nomination;
    assert!(s.voted.contains(&1), "eventually votes its own value");
    assert!(s.leaders.len() >= 2);
}

/// Paper 6.1 with 5.3-5.4: a v-blocking set accepting `x` makes the node accept it; a
/// quorum accepting it confirms it (a candidate), which starts the ballot protocol and
/// stops the nomination timer.
#[test]
fn sec_6_1_accept_and_confirm_nominated() {
    let mut h = Harness::new(mesh(5, 4));
    h.propose(5);
    h.recv(1, nominate(&[9], &[9]));
    assert!(!h.snap().nomination.accepted.contains(&9));
    h.recv(2, nominate(&[9], &[9]));
    assert!(
        h.snap().nomination.accepted.contains(&9),
        "v-blocking accepted"
    );
    assert!(h.snap().nomination.candidates.is_empty());
    h.recv(3, nominate(&[9], &[9]));
    let s = h.snap();
    assert_eq!(s.nomination.candidates, vec![9]);
    assert_eq!(s.nomination.timer_deadline_ms, None);
    assert_eq!(s.ballot.b, Some(ballot(1, 9)));
    let nom = h.last_nomination().unwrap();
    assert!(nom.accepted.contains(&9));
}

/// Invalid values are never accepted, whatever the peers say.
#[test]
fn sec_6_1_invalid_values_are_not_accepted() {
    let mut h = Harness::new(mesh(5, 4));
    h.propose(5);
    h.recv_from(&[1, 2, 3, 4], nominate(&[5000], &[5000]));
    assert!(h.snap().nomination.accepted.is_empty());
}

/// Every node takes part in nomination whether or not it has a value: in a 4-of-3 mesh
/// only `v0` proposes; the others join nomination when they hear it (round 1, their
/// leaders, the round timer), vote for its value once a round makes `v0` a leader, and
/// all four externalize it.
#[test]
fn sec_6_1_network_where_only_one_node_proposes_externalizes() {
    let mut net = crate::net::Net::mesh(4, 3, &[], |_| NumPolicy::default());
    let now = net.now;
    let out = net.node(0).propose_values(SLOT, vec![42], now).unwrap();
    net.broadcast(out);
    assert!(
        net.run_until(SLOT, 10 * 60 * 1000),
        "stuck: {:?}",
        net.node(1).snapshot(SLOT)
    );
    assert_eq!(net.externalized(SLOT), vec![Some(42); 4]);
}

/// Issue 13, defect 3: `combine` must return a value (the type says so: there is no
/// "wait for more"). The first combination starts the ballot protocol; candidates
/// confirmed later are combined again, and the new composite is the value of the next
/// ballot counter (paper 6.2 step 10: a timed-out ballot moves to `<n+1, z>`, `z` being
/// the composite when nothing is confirmed prepared).
#[test]
fn sec_6_1_later_candidates_update_the_composite() {
    let mut h = Harness::new(mesh(5, 4));
    h.start_ballot(5, &[1, 2, 3]);
    assert_eq!(h.snap().nomination.composite, Some(5));
    h.recv_from(&[1, 2, 3, 4], nominate(&[5, 9], &[5, 9]));
    let snap = h.snap();
    assert_eq!(snap.nomination.candidates, vec![5, 9]);
    assert_eq!(snap.nomination.composite, Some(9), "combine: the largest");
    assert_eq!(
        snap.ballot.b,
        Some(ballot(1, 5)),
        "the running ballot stays"
    );
    // A quorum at counter 1 arms the ballot timer; on expiry the counter moves on with
    // the new composite.
    h.recv_from(&[1, 2, 3], prepare(ballot(1, 7), None, None, 0, 0));
    let deadline = h.snap().ballot.timer_deadline_ms.expect("ballot timer");
    h.advance_to(deadline);
    assert_eq!(h.snap().ballot.b, Some(ballot(2, 9)));
}
