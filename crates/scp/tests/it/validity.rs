//! Validity levels (paper section 6.1, "valid" values; stellar-core's validation levels):
//! statements naming MaybeValid values are recorded, the local node never votes for,
//! accepts or confirms a value that is not Valid, `revalidate` picks up what became
//! Valid, Invalid ballot statements are refused.

use mcnode_scp::{BallotStatement, Error, Node, SlotPhase, Topic, Validity, ValuePolicy};

use crate::harness::*;
use crate::net::Net;

const X: u64 = 5;
/// The value the node under test does not know at first.
const Y: u64 = 9;

fn core5_not_knowing(values: &[u64]) -> Harness {
    let mut h = Harness::new(mesh(5, 4));
    *h.node.policy_mut() = NumPolicy::not_knowing(values);
    h
}

/// Learns `value` and re-evaluates the slot, recording what the node sends.
fn learn(h: &mut Harness, value: u64) {
    h.node.policy_mut().learn(value);
    let out = h.node.revalidate(SLOT, h.now);
    h.sent.extend(out);
}

/// A ballot statement naming a MaybeValid value is recorded (not refused), but the node
/// does not accept it prepared; once the value is Valid, `revalidate` accepts it and
/// the node says so.
#[test]
fn maybe_valid_prepare_is_recorded_then_revalidated() {
    let mut h = core5_not_knowing(&[Y]);
    h.start_ballot(X, &[1, 2, 3]);
    for i in 1..=4 {
        let msg = h.msg(i, prepare(ballot(1, Y), None, None, 0, 0));
        let out = h.node.handle_message(&msg, h.now);
        assert!(
            out.is_ok(),
            "a MaybeValid statement is not refused: {out:?}"
        );
    }
    let snap = h.snap();
    assert_eq!(snap.latest_ballots.len(), 5, "recorded, latest per sender");
    assert_eq!(snap.ballot.p, None, "Y is not Valid here: not accepted");
    assert_eq!(snap.maybe_valid_values, vec![Y]);
    assert_eq!(snap.statements_not_valid.len(), 4);
    let m = h.node.metrics(SLOT).unwrap();
    assert_eq!((m.ballots_not_valid, m.nominations_not_valid), (4, 0));

    let before = h.sent.len();
    learn(&mut h, Y);
    let snap = h.snap();
    assert_eq!(snap.ballot.p, Some(ballot(1, Y)), "accepted once Valid");
    assert!(snap.maybe_valid_values.is_empty());
    assert_eq!(h.node.metrics(SLOT).unwrap().ballots_not_valid, 0);
    let said = h.sent[before..].iter().any(|m| {
        matches!(&m.topic, Topic::Ballot(BallotStatement::Prepare(p))
            if p.prepared == Some(ballot(1, Y)))
    });
    assert!(said, "the new acceptance is sent");
}

/// A v-blocking set (even a whole quorum) that accepted commit of a MaybeValid value
/// neither makes the node accept commit nor externalize; learning the value does both.
#[test]
fn never_accepts_or_confirms_a_maybe_valid_value() {
    let mut h = core5_not_knowing(&[Y]);
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(&[1, 2, 3, 4], confirm(ballot(1, Y), 1, 1, 1));
    let snap = h.snap();
    assert_eq!(snap.phase, SlotPhase::Prepare, "no accepted commit of Y");
    assert_eq!(snap.ballot.p, None);
    assert_eq!(snap.ballot.h, None);
    assert_eq!(h.node.externalized(SLOT), None);
    assert!(
        h.sent.iter().all(|m| !m.values().contains(&&Y)),
        "no statement of ours names Y"
    );
    learn(&mut h, Y);
    assert_eq!(h.node.externalized(SLOT), Some(&Y));
}

/// Nomination: peers accepting a MaybeValid value do not make the node accept it; after
/// learning it, `revalidate` accepts and confirms it, which starts the ballot protocol.
#[test]
fn maybe_valid_nomination_is_accepted_after_revalidate() {
    let mut h = core5_not_knowing(&[Y]);
    h.propose(X);
    h.recv_from(&[1, 2, 3, 4], nominate(&[Y], &[Y]));
    let snap = h.snap();
    assert!(snap.nomination.accepted.is_empty(), "{:?}", snap.nomination);
    assert!(snap.nomination.candidates.is_empty());
    assert_eq!(h.node.metrics(SLOT).unwrap().nominations_not_valid, 4);
    learn(&mut h, Y);
    let snap = h.snap();
    assert_eq!(snap.nomination.candidates, vec![Y]);
    assert_eq!(snap.ballot.b, Some(ballot(1, Y)));
    assert_eq!(h.node.metrics(SLOT).unwrap().nominations_not_valid, 0);
}

/// Invalid beats MaybeValid: a ballot statement naming an Invalid value anywhere is
/// refused and not recorded. Nomination statements are recorded whatever their values,
/// but Invalid values never get a vote.
#[test]
fn invalid_ballot_statements_are_refused_nominations_recorded() {
    let mut h = core5_not_knowing(&[Y]);
    h.propose(X);
    let bad = h.msg(1, prepare(ballot(2, Y), Some(ballot(1, 5000)), None, 0, 0));
    assert!(matches!(
        h.node.handle_message(&bad, h.now),
        Err(Error::InvalidValue { slot: SLOT, .. })
    ));
    assert!(!h.snap().latest_ballots.contains_key(&id(1)));
    h.recv_from(&[1, 2, 3, 4], nominate(&[5000], &[5000]));
    let snap = h.snap();
    assert!(
        (1..=4).all(|i| snap.latest_nominations.contains_key(&id(i))),
        "recorded"
    );
    assert!(!snap.nomination.voted.contains(&5000));
    assert!(snap.nomination.accepted.is_empty());
    assert!(
        snap.maybe_valid_values.is_empty(),
        "Invalid is not MaybeValid"
    );
}

/// Values that are not Valid cannot be proposed.
#[test]
fn propose_drops_values_that_are_not_valid() {
    let mut h = core5_not_knowing(&[Y]);
    assert!(matches!(
        h.node.propose_values(SLOT, vec![Y, 5000], 0),
        Err(Error::NoValidValue { slot: SLOT })
    ));
    let out = h.node.propose_values(SLOT, vec![Y, X], 0).unwrap();
    assert!(out.iter().all(|m| !m.values().contains(&&Y)));
}

/// A slot where `v0`'s first-round leader in a 4-of-5 mesh is another node.
fn slot_led_by_peer() -> (u64, usize) {
    for slot in 1..200 {
        let mut node =
            Node::new(id(0), mesh(5, 4), NumPolicy::default(), Default::default()).unwrap();
        let mut msg = Harness::new(mesh(5, 4)).msg(1, nominate(&[1], &[]));
        msg.slot = slot;
        node.handle_message(&msg, 0).unwrap();
        let leaders = node.snapshot(slot).unwrap().nomination.leaders;
        let leader: usize = leaders[0].as_str()[1..].parse().unwrap();
        if leader != 0 {
            return (slot, leader);
        }
    }
    panic!("no slot led by a peer");
}

/// `revalidate` votes for a round leader's value that became Valid (otherwise that
/// happens only at a round start or when a leader's message arrives).
#[test]
fn revalidate_votes_for_a_leader_value_that_became_valid() {
    let (slot, leader) = slot_led_by_peer();
    let mut h = core5_not_knowing(&[Y]);
    let mut msg = h.msg(leader, nominate(&[Y], &[]));
    msg.slot = slot;
    let out = h.node.handle_message(&msg, 0).unwrap();
    assert!(out.is_empty(), "nothing Valid to vote for yet");
    let nom = h.node.snapshot(slot).unwrap().nomination;
    assert!(nom.started, "joined nomination without a value of its own");
    assert_eq!(nom.round, 1);
    assert!(nom.voted.is_empty());
    h.node.policy_mut().learn(Y);
    let out = h.node.revalidate(slot, 10);
    let nom = h.node.snapshot(slot).unwrap().nomination;
    assert_eq!(nom.voted, vec![Y]);
    assert_eq!(out.len(), 1, "the vote is sent");
    // Not held, or externalized: a no-op.
    assert!(h.node.revalidate(slot + 1, 10).is_empty());
}

/// A node without a value joins on the first nomination it hears (round 1, leaders,
/// timer); proposing later adds its value without starting a new round.
#[test]
fn joining_without_a_value_then_proposing_keeps_the_round() {
    let (slot, leader) = slot_led_by_peer();
    let mut h = Harness::new(mesh(5, 4));
    let mut msg = h.msg(leader, nominate(&[3], &[]));
    msg.slot = slot;
    h.node.handle_message(&msg, 100).unwrap();
    let nom = h.node.snapshot(slot).unwrap().nomination;
    assert_eq!((nom.round, nom.timer_deadline_ms), (1, Some(1100)));
    assert_eq!(nom.voted, vec![3], "voted for its leader's value");
    h.node.propose_values(slot, vec![X], 500).unwrap();
    let nom = h.node.snapshot(slot).unwrap().nomination;
    assert_eq!(
        (nom.round, nom.timer_deadline_ms),
        (1, Some(1100)),
        "same round"
    );
    assert!(!nom.voted.contains(&X), "not its own leader in round 1");
    // Rounds go on; once the node leads itself it votes its own value.
    let mut now = 1100;
    for _ in 0..30 {
        if h.node.snapshot(slot).unwrap().nomination.voted.contains(&X) {
            break;
        }
        h.node.process_timeouts(now);
        now = h.node.next_timeout().unwrap();
    }
    assert!(h.node.snapshot(slot).unwrap().nomination.voted.contains(&X));
}

/// Only `v0` proposes, and the others learn its value only 3 s later (they hold
/// MaybeValid statements meanwhile, and nobody accepts anything); after they learn it and
/// revalidate, all four externalize it.
#[test]
fn late_value_network_externalizes_after_revalidate() {
    let mut net = Net::mesh(4, 3, &[], |i| {
        if i == 0 {
            NumPolicy::default()
        } else {
            NumPolicy::not_knowing(&[42])
        }
    });
    let out = net.node(0).propose_values(SLOT, vec![42], 0).unwrap();
    net.broadcast(out);
    assert!(!net.run_until(SLOT, 3_000));
    for i in 1..4 {
        let snap = net.node(i).snapshot(SLOT).unwrap();
        assert!(snap.nomination.accepted.is_empty(), "node {i} accepted");
        assert_eq!(snap.ballot.b, None);
    }
    assert_eq!(net.node(0).snapshot(SLOT).unwrap().ballot.b, None);
    for i in 1..4 {
        net.node(i).policy_mut().learn(42);
        let now = net.now;
        let out = net.node(i).revalidate(SLOT, now);
        net.broadcast(out);
    }
    assert!(net.run_until(SLOT, 60_000));
    assert_eq!(net.externalized(SLOT), vec![Some(42); 4]);
}

/// Validity is an ordered level (Invalid < MaybeValid < Valid) and serialises by name.
#[test]
fn validity_levels_order_and_serde() {
    assert!(Validity::Invalid < Validity::MaybeValid);
    assert!(Validity::MaybeValid < Validity::Valid);
    assert_eq!(
        serde_json::to_string(&Validity::MaybeValid).unwrap(),
        r#""maybe_valid""#
    );
    let p = NumPolicy::not_knowing(&[7]);
    assert_eq!(p.validity(SLOT, &7), Validity::MaybeValid);
    assert_eq!(p.validity(SLOT, &8), Validity::Valid);
    assert_eq!(p.validity(SLOT, &1000), Validity::Invalid);
}
