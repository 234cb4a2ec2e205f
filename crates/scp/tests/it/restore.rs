//! Restarting from persisted messages (`Node::restore`): a restored node must carry on by
//! itself, without the application proposing again, and a network restored as a whole
//! must speak again. Issue 13, defects 1 and 2.

use mcnode_scp::{Ballot, Msg, Nominate, Topic};

use crate::harness::*;
use crate::net::Net;

/// A message of node `i` (for restoring node `i`), in slot 1 of a 4-of-3 mesh.
fn own(i: usize, topic: Topic<u64>) -> Msg<u64> {
    Msg {
        sender: id(i),
        slot: SLOT,
        quorum_set: mesh(4, 3),
        topic,
    }
}

fn votes(v: &[u64]) -> Topic<u64> {
    Topic::Nominate(Nominate {
        voted: v.to_vec(),
        accepted: vec![],
    })
}

/// Defect 1: a node restored from a NOMINATE starts a round at once (round 1, its
/// leaders, the round timer), so that it moves on by itself.
#[test]
fn restored_nominator_has_a_round_leaders_and_a_timer() {
    let mut net = Net::mesh(4, 3, &[1, 2, 3], |_| NumPolicy::default());
    net.node(0).restore(&own(0, votes(&[10])), 5_000).unwrap();
    let nom = net.node(0).snapshot(SLOT).unwrap().nomination;
    assert!(nom.started);
    assert_eq!(nom.round, 1);
    assert!(!nom.leaders.is_empty(), "round 1 leaders chosen");
    assert_eq!(nom.timer_deadline_ms, Some(6_000), "round 1 lasts 1 s");
    assert_eq!(nom.voted, vec![10]);
}

/// Defect 1, on a network: node 3 is dead; nodes 0-2 are restored from NOMINATE
/// messages that voted different values and nobody proposes again. The round timers
/// add leaders until the three vote alike, so they externalize.
#[test]
fn restored_nominators_with_different_votes_converge() {
    let mut net = Net::mesh(4, 3, &[3], |_| NumPolicy::default());
    for i in 0..3 {
        let msg = own(i, votes(&[10 + i as u64]));
        net.node(i).restore(&msg, 0).unwrap();
        // What a peer re-sends after a restart reaches the others.
        net.broadcast(vec![msg]);
    }
    assert!(
        net.run_until(SLOT, 30 * 60 * 1000),
        "nothing externalized in 30 simulated minutes: {:?}",
        net.node(0).snapshot(SLOT)
    );
    let ext = net.externalized(SLOT);
    assert!(ext.windows(2).all(|w| w[0] == w[1]), "{ext:?}");
}

/// Defect 2: four nodes all restored from their last PREPARE, nobody proposing and
/// nothing in flight. The rebroadcast timer armed by `restore` makes them speak again,
/// and they externalize.
#[test]
fn whole_network_restored_from_prepare_speaks_again() {
    let mut net = Net::mesh(4, 3, &[], |_| NumPolicy::default());
    for i in 0..4 {
        let st = prepare(Ballot::new(1, 7), None, None, 0, 0);
        net.node(i).restore(&own(i, st), 0).unwrap();
    }
    assert!(
        net.node(0).next_timeout().is_some(),
        "a restored node has a timer"
    );
    assert!(net.run_until(SLOT, 5 * 60 * 1000), "nobody spoke again");
    assert_eq!(net.externalized(SLOT), vec![Some(7); 4]);
}

/// Defect 2, the confirm phase: restored from CONFIRM (they had accepted commit), the
/// nodes externalize without any new input.
#[test]
fn whole_network_restored_from_confirm_externalizes() {
    let mut net = Net::mesh(4, 3, &[], |_| NumPolicy::default());
    for i in 0..4 {
        let st = confirm(Ballot::new(2, 7), 2, 1, 2);
        net.node(i).restore(&own(i, st), 0).unwrap();
    }
    assert!(net.run_until(SLOT, 5 * 60 * 1000), "nobody spoke again");
    assert_eq!(net.externalized(SLOT), vec![Some(7); 4]);
}

/// With re-sending switched off, a restored node's ballot timer still makes it speak (it
/// bumps its counter), so a restored network cannot stay silent.
#[test]
fn restored_ballot_timer_runs_without_rebroadcast() {
    let config = mcnode_scp::Config {
        rebroadcast_interval_ms: None,
        ..mcnode_scp::Config::default()
    };
    let mut net = Net::new(4, &mesh(4, 3), &[], config, |_| NumPolicy::default());
    for i in 0..4 {
        let st = prepare(Ballot::new(1, 7), None, None, 0, 0);
        net.node(i).restore(&own(i, st), 0).unwrap();
    }
    assert!(net.run_until(SLOT, 5 * 60 * 1000), "nobody spoke again");
    assert_eq!(net.externalized(SLOT), vec![Some(7); 4]);
}
