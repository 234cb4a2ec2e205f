//! Ballot protocol scenarios on stellar-core's core5 network (5 nodes, threshold 4: a
//! quorum is 4 nodes, a v-blocking set 2). `v0` is the node under test.
//!
//! Paper: section 6.2 (ballot protocol), section 5 (federated voting).

use mcnode_scp::{BallotStatement, Config, Node, SlotPhase, Topic};

use crate::harness::*;

const X: u64 = 10;
const Y: u64 = 20;

fn core5() -> Harness {
    Harness::new(mesh(5, 4))
}

/// Paper 6.2 step 2-3: a quorum voting `prepare(b)` makes the node accept it prepared.
#[test]
fn sec_6_2_accept_prepared_by_quorum() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(&[1, 2], prepare(ballot(1, X), None, None, 0, 0));
    assert_eq!(h.snap().ballot.p, None, "v0 + 2 peers is not a quorum");
    h.recv(3, prepare(ballot(1, X), None, None, 0, 0));
    let last = h.last_ballot().unwrap();
    assert_eq!(as_prepare(&last).prepared, Some(ballot(1, X)));
}

/// Paper 5.3: a v-blocking set that accepted `prepare(b)` makes the node accept it, even
/// before a quorum votes.
#[test]
fn sec_5_3_accept_prepared_by_v_blocking_set() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv(1, prepare(ballot(1, X), Some(ballot(1, X)), None, 0, 0));
    assert_eq!(h.snap().ballot.p, None, "one node is not v-blocking");
    h.recv(2, prepare(ballot(1, X), Some(ballot(1, X)), None, 0, 0));
    assert_eq!(h.snap().ballot.p, Some(ballot(1, X)));
}

/// Paper 6.2 steps 4-5: a quorum accepting `prepare(b)` confirms it: `h` and `c` are set
/// and the node votes to commit.
#[test]
fn sec_6_2_confirm_prepared_sets_h_and_c() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(
        &[1, 2, 3],
        prepare(ballot(1, X), Some(ballot(1, X)), None, 0, 0),
    );
    let last = h.last_ballot().unwrap();
    let p = as_prepare(&last);
    assert_eq!((p.commit_counter, p.high_counter), (1, 1));
    assert_eq!(h.snap().ballot.c, Some(ballot(1, X)));
}

/// Paper 6.2 step 6: a quorum voting `commit` makes the node accept commit and move to
/// the confirm phase; step 7-8: a quorum accepting it externalizes.
#[test]
fn sec_6_2_accept_commit_by_quorum_then_externalize() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(
        &[1, 2, 3],
        prepare(ballot(1, X), Some(ballot(1, X)), None, 1, 1),
    );
    assert_eq!(h.phase(), SlotPhase::Confirm);
    assert_eq!(
        h.last_ballot().unwrap(),
        BallotStatement::Confirm(mcnode_scp::Confirm {
            ballot: ballot(1, X),
            prepared_counter: 1,
            commit_counter: 1,
            high_counter: 1,
        })
    );
    assert_eq!(h.node.externalized(SLOT), None);
    h.recv_from(&[1, 2], confirm(ballot(1, X), 1, 1, 1));
    assert_eq!(h.node.externalized(SLOT), None, "v0 + 2 is not a quorum");
    h.recv(3, confirm(ballot(1, X), 1, 1, 1));
    assert_eq!(h.node.externalized(SLOT), Some(&X));
    assert_eq!(h.phase(), SlotPhase::Externalize);
    assert!(matches!(
        h.last_ballot().unwrap(),
        BallotStatement::Externalize(e) if e.commit == ballot(1, X) && e.high_counter == 1
    ));
}

/// Paper 5.3 applied to commit: two nodes (v-blocking) in the confirm phase make the node
/// accept commit without having voted for it.
#[test]
fn sec_5_3_accept_commit_by_v_blocking_set() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(&[1, 2], confirm(ballot(1, X), 1, 1, 1));
    assert_eq!(h.phase(), SlotPhase::Confirm);
    let snap = h.snap();
    assert_eq!(snap.ballot.c, Some(ballot(1, X)));
    assert_eq!(snap.ballot.h, Some(ballot(1, X)));
}

/// Paper 6.2 step 6: the accepted commit range is the widest interval the statements
/// support, and it widens upwards as peers accept more: `[2, 4]`, then `[2, 6]`.
#[test]
fn sec_6_2_widening_commit_range() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(&[1, 2], confirm(ballot(4, X), 4, 2, 4));
    let snap = h.snap();
    assert_eq!(snap.phase, SlotPhase::Confirm);
    assert_eq!(snap.ballot.c, Some(ballot(2, X)));
    assert_eq!(snap.ballot.h, Some(ballot(4, X)));
    assert_eq!(snap.ballot.b, Some(ballot(4, X)));
    h.recv_from(&[1, 2], confirm(ballot(6, X), 6, 2, 6));
    let snap = h.snap();
    assert_eq!(snap.ballot.c, Some(ballot(2, X)));
    assert_eq!(
        snap.ballot.h,
        Some(ballot(6, X)),
        "v-blocking accepted up to 6"
    );
    h.recv(3, confirm(ballot(6, X), 6, 2, 6));
    assert_eq!(h.node.externalized(SLOT), Some(&X));
    assert!(matches!(
        h.last_ballot().unwrap(),
        BallotStatement::Externalize(e) if e.commit == ballot(2, X) && e.high_counter == 6
    ));
}

/// Paper 6.2 (p and p'): accepting an incompatible ballot at the same counter keeps both:
/// the higher one as `p`, the other as `p'`.
#[test]
fn sec_6_2_conflicting_ballots_same_counter() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(&[1, 2, 3], prepare(ballot(1, X), None, None, 0, 0));
    assert_eq!(h.snap().ballot.p, Some(ballot(1, X)));
    // v-blocking set accepted <1, Y> (Y > X, so it orders higher).
    h.recv_from(
        &[3, 4],
        prepare(ballot(1, Y), Some(ballot(1, Y)), None, 0, 0),
    );
    let snap = h.snap();
    assert_eq!(snap.ballot.p, Some(ballot(1, Y)));
    assert_eq!(snap.ballot.p_prime, Some(ballot(1, X)));
    let last = h.last_ballot().unwrap();
    let p = as_prepare(&last);
    assert_eq!(p.prepared_prime, Some(ballot(1, X)));
}

/// Paper 6.2 step 3: having voted to commit `<1, X>`, accepting an incompatible higher
/// prepared ballot aborts that vote (`c` is cleared).
#[test]
fn sec_6_2_conflicting_higher_ballot_clears_commit_vote() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(
        &[1, 2, 3],
        prepare(ballot(1, X), Some(ballot(1, X)), None, 0, 0),
    );
    assert_eq!(h.snap().ballot.c, Some(ballot(1, X)));
    h.recv_from(
        &[3, 4],
        prepare(ballot(2, Y), Some(ballot(2, Y)), None, 0, 0),
    );
    let snap = h.snap();
    assert_eq!(snap.ballot.p, Some(ballot(2, Y)));
    assert_eq!(snap.ballot.c, None, "commit vote aborted");
}

/// Paper 6.2 step 9: a v-blocking set at a higher counter makes the node jump to the
/// lowest counter no v-blocking set exceeds, keeping its value.
#[test]
fn sec_6_2_bump_to_v_blocking_counter() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv(1, prepare(ballot(5, Y), None, None, 0, 0));
    assert_eq!(
        h.snap().ballot.b,
        Some(ballot(1, X)),
        "one node is not v-blocking"
    );
    h.recv(2, prepare(ballot(3, Y), None, None, 0, 0));
    // {v1, v2} are above 1; only v1 is above 3: jump to 3.
    assert_eq!(h.snap().ballot.b, Some(ballot(3, X)));
}

/// Paper 6.2 step 5/8 (switching values): confirming `<2, Y>` prepared makes `Y` the value
/// for every later ballot (z), and b moves to it.
#[test]
fn sec_6_2_switching_value_after_confirm_prepared() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(
        &[1, 2, 3],
        prepare(ballot(2, Y), Some(ballot(2, Y)), None, 0, 0),
    );
    let snap = h.snap();
    assert_eq!(snap.ballot.h, Some(ballot(2, Y)));
    assert_eq!(snap.ballot.b, Some(ballot(2, Y)));
    assert_eq!(snap.ballot.value_override, Some(Y));
}

/// Paper 6.2 step 10 without h: once a quorum is at our counter the timer runs (linear:
/// counter 1 -> 1 s); on expiry the counter goes up by one with the same value.
#[test]
fn sec_6_2_timeout_without_h() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    assert_eq!(
        h.snap().ballot.timer_deadline_ms,
        None,
        "no quorum at counter 1 yet"
    );
    h.recv_from(&[1, 2, 3], prepare(ballot(1, Y), None, None, 0, 0));
    let deadline = h.snap().ballot.timer_deadline_ms.expect("timer armed");
    assert_eq!(deadline, 1000);
    h.advance_to(999);
    assert_eq!(h.snap().ballot.b, Some(ballot(1, X)));
    h.advance_to(1000);
    assert_eq!(h.snap().ballot.b, Some(ballot(2, X)));
    // Counter 2 times out after 2 s once a quorum is there again.
    h.recv_from(&[1, 2, 3], prepare(ballot(2, Y), None, None, 0, 0));
    assert_eq!(h.snap().ballot.timer_deadline_ms, Some(3000));
}

/// Paper 6.2 step 10 with h: after confirming `<1, Y>` prepared, a timeout moves to
/// `<2, Y>` (the confirmed value), not the node's own.
#[test]
fn sec_6_2_timeout_with_h() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(
        &[1, 2, 3],
        prepare(ballot(1, Y), Some(ballot(1, Y)), None, 0, 0),
    );
    assert_eq!(h.snap().ballot.h, Some(ballot(1, Y)));
    let deadline = h.snap().ballot.timer_deadline_ms.expect("timer armed");
    h.advance_to(deadline);
    assert_eq!(h.snap().ballot.b, Some(ballot(2, Y)));
}

/// A watcher (its quorum set does not name itself, it never proposes) follows the network
/// and externalizes from the others' messages. Paper 6.2: EXTERNALIZE messages count as
/// accepted and confirmed commit for every later counter.
#[test]
fn watcher_externalizes_from_peers() {
    let qset = mesh(5, 4); // v0..v4; the watcher is "w".
    let mut h = Harness::with_id(mcnode_scp::NodeId::new("w").unwrap(), qset);
    h.recv_from(&[0, 1], externalize(ballot(1, X), 1));
    assert_eq!(
        h.phase(),
        SlotPhase::Confirm,
        "v-blocking externalized: accept commit"
    );
    h.recv_from(&[2, 3], externalize(ballot(1, X), 1));
    assert_eq!(h.node.externalized(SLOT), Some(&X));
}

/// Restoring from the last emitted messages after a crash gives back the same
/// `b, p, p', h, c` and the node carries on to externalize.
#[test]
fn restore_state_after_crash() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(
        &[1, 2, 3],
        prepare(ballot(1, X), Some(ballot(1, X)), None, 0, 0),
    );
    let before = h.snap();
    let persisted = h.node.latest_messages(SLOT);
    assert_eq!(persisted.len(), 2, "one nomination and one ballot message");

    let config = Config {
        rebroadcast_interval_ms: None,
        ..Config::default()
    };
    let mut restored = Node::new(id(0), mesh(5, 4), NumPolicy::default(), config).unwrap();
    for m in &persisted {
        restored.restore(m, 0).unwrap();
    }
    let after = restored.snapshot(SLOT).unwrap();
    assert_eq!(after.ballot.b, before.ballot.b);
    assert_eq!(after.ballot.p, before.ballot.p);
    assert_eq!(after.ballot.p_prime, before.ballot.p_prime);
    assert_eq!(after.ballot.h, before.ballot.h);
    assert_eq!(after.ballot.c, before.ballot.c);
    assert_eq!(after.nomination.voted, before.nomination.voted);
    assert_eq!(after.nomination.accepted, before.nomination.accepted);

    h.node = restored;
    h.recv_from(&[1, 2, 3], confirm(ballot(1, X), 1, 1, 1));
    assert_eq!(h.node.externalized(SLOT), Some(&X));
    // A node cannot restore from someone else's message.
    let foreign = h.msg(1, confirm(ballot(1, X), 1, 1, 1));
    assert!(matches!(
        h.node.restore(&foreign, 0),
        Err(mcnode_scp::Error::NotOwnMessage { .. })
    ));
}

/// Stale statements (older than what a peer already said) are ignored, as reordered
/// network delivery requires.
#[test]
fn older_statements_are_ignored() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv(1, confirm(ballot(1, X), 1, 1, 1));
    h.recv(1, prepare(ballot(1, X), None, None, 0, 0));
    let snap = h.snap();
    assert!(matches!(
        snap.latest_ballots.get(&id(1)),
        Some(BallotStatement::Confirm(_))
    ));
}

/// After externalizing, a peer that is still preparing gets our externalize message.
#[test]
fn externalized_node_helps_a_lagging_peer() {
    let mut h = core5();
    h.start_ballot(X, &[1, 2, 3]);
    h.recv_from(&[1, 2, 3], confirm(ballot(1, X), 1, 1, 1));
    assert_eq!(h.node.externalized(SLOT), Some(&X));
    let before = h.sent.len();
    h.recv(4, prepare(ballot(1, X), None, None, 0, 0));
    let reply = &h.sent[before..];
    assert_eq!(reply.len(), 1);
    assert!(matches!(
        reply[0].topic,
        Topic::Ballot(BallotStatement::Externalize(_))
    ));
}

/// Issue 13, defect 4 (core5, pulled in from pristine state): peers prepare `<2, X>`; the
/// node, with no ballot of its own, accepts it prepared when a quorum of peers voted for
/// it. Then three peers accept it too: with the node's own acceptance that is a quorum
/// (v0, v1, v2, v3), so the node confirms `<2, X>` prepared at once (votes to commit it)
/// instead of waiting for the fourth peer.
#[test]
fn pristine_node_counts_its_own_acceptance() {
    let mut h = core5();
    h.recv_from(&[1, 2, 3, 4], prepare(ballot(2, X), None, None, 0, 0));
    assert_eq!(h.snap().ballot.p, Some(ballot(2, X)), "accepted prepared");
    assert_eq!(h.snap().ballot.b, None, "no ballot of its own yet");
    assert!(h.last_ballot().is_none(), "nothing to say without a ballot");
    h.recv_from(
        &[1, 2, 3],
        prepare(ballot(2, X), Some(ballot(2, X)), None, 0, 0),
    );
    let snap = h.snap();
    assert_eq!(snap.ballot.h, Some(ballot(2, X)), "confirmed prepared");
    assert_eq!(snap.ballot.b, Some(ballot(2, X)));
    let last = h.last_ballot().expect("the node speaks now");
    let p = as_prepare(&last);
    assert_eq!(p.prepared, Some(ballot(2, X)));
    assert_eq!((p.commit_counter, p.high_counter), (2, 2));
    // Its statement is well-formed, and the next step (peers accept commit) externalizes.
    h.recv_from(&[1, 2, 3], confirm(ballot(2, X), 2, 2, 2));
    assert_eq!(h.node.externalized(SLOT), Some(&X));
}
