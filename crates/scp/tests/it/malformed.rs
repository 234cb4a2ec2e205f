//! Malformed messages and hostile input: typed errors, no state change, never a panic.

use mcnode_scp::{
    Ballot, Error, Msg, MsgError, Nominate, QuorumSet, QuorumSetError, Topic, INFINITE_COUNTER,
};

use crate::harness::*;

fn expect_malformed(h: &mut Harness, msg: Msg<u64>, want: MsgError) {
    let before = h
        .node
        .snapshot(msg.slot)
        .map(|s| serde_json::to_string(&s).unwrap());
    match h.node.handle_message(&msg, h.now) {
        Err(Error::Malformed { source, .. }) => assert_eq!(source, want),
        other => panic!("expected {want:?}, got {other:?}"),
    }
    let after = h
        .node
        .snapshot(msg.slot)
        .map(|s| serde_json::to_string(&s).unwrap());
    assert_eq!(before, after, "a rejected message changes nothing");
}

#[test]
fn malformed_statements_give_typed_errors() {
    let mut h = Harness::new(mesh(5, 4));
    h.propose(1);
    let cases: Vec<(Topic<u64>, MsgError)> = vec![
        (nominate(&[], &[]), MsgError::EmptyNomination),
        (
            nominate(&[3, 2], &[]),
            MsgError::ValuesNotSorted { field: "voted" },
        ),
        (
            nominate(&[2], &[4, 4]),
            MsgError::ValuesNotSorted { field: "accepted" },
        ),
        (
            prepare(ballot(0, 1), None, None, 0, 0),
            MsgError::ZeroCounter("prepare"),
        ),
        (
            prepare(ballot(2, 1), None, Some(ballot(1, 1)), 0, 0),
            MsgError::BadPreparedPrime,
        ),
        (
            prepare(ballot(2, 1), Some(ballot(1, 1)), Some(ballot(1, 2)), 0, 0),
            MsgError::BadPreparedPrime,
        ),
        (
            prepare(ballot(3, 1), Some(ballot(1, 1)), None, 0, 2),
            MsgError::HighAbovePrepared {
                high: 2,
                prepared: 1,
            },
        ),
        (
            prepare(ballot(3, 1), Some(ballot(3, 1)), None, 3, 2),
            MsgError::BadCommitRange {
                phase: "prepare",
                commit: 3,
                high: 2,
                ballot: 3,
            },
        ),
        (
            confirm(ballot(2, 1), 2, 0, 1),
            MsgError::BadCommitRange {
                phase: "confirm",
                commit: 0,
                high: 1,
                ballot: 2,
            },
        ),
        (
            confirm(ballot(2, 1), 2, 1, 3),
            MsgError::BadCommitRange {
                phase: "confirm",
                commit: 1,
                high: 3,
                ballot: 2,
            },
        ),
        (
            externalize(ballot(3, 1), 2),
            MsgError::BadCommitRange {
                phase: "externalize",
                commit: 3,
                high: 2,
                ballot: 3,
            },
        ),
    ];
    for (topic, want) in cases {
        let msg = h.msg(1, topic);
        expect_malformed(&mut h, msg, want);
    }
    let mut msg = h.msg(1, nominate(&[1], &[]));
    msg.slot = 0;
    expect_malformed(&mut h, msg, MsgError::ZeroSlot);
    let mut msg = h.msg(1, nominate(&[1], &[]));
    msg.quorum_set = QuorumSet {
        threshold: 0,
        members: vec![id(1)],
        inner_sets: vec![],
    };
    expect_malformed(
        &mut h,
        msg,
        MsgError::InvalidQuorumSet(QuorumSetError::ZeroThreshold),
    );
    let mut msg = h.msg(1, nominate(&[1], &[]));
    msg.sender = mcnode_scp::NodeId::from("");
    expect_malformed(
        &mut h,
        msg,
        MsgError::InvalidSender(QuorumSetError::InvalidNodeId { len: 0, max: 256 }),
    );
    let big: Vec<u64> = (0..1001).collect();
    let msg = h.msg(1, nominate(&big, &[]));
    expect_malformed(
        &mut h,
        msg,
        MsgError::TooManyValues {
            count: 1001,
            max: 1000,
        },
    );
}

#[test]
fn invalid_values_and_window_errors() {
    let mut h = Harness::new(mesh(5, 4));
    h.propose(1);
    let msg = h.msg(1, prepare(ballot(1, 5000), None, None, 0, 0));
    assert!(matches!(
        h.node.handle_message(&msg, 0),
        Err(Error::InvalidValue { .. })
    ));
    let mut msg = h.msg(1, nominate(&[1], &[]));
    msg.slot = 100;
    assert!(matches!(
        h.node.handle_message(&msg, 0),
        Err(Error::SlotTooFarAhead { slot: 100, .. })
    ));
    h.node.purge_slots_below(2);
    let msg = h.msg(1, nominate(&[1], &[]));
    assert!(matches!(
        h.node.handle_message(&msg, 0),
        Err(Error::SlotPurged { slot: 1, floor: 2 })
    ));
    assert!(matches!(
        h.node.propose_values(3, vec![5000], 0),
        Err(Error::NoValidValue { slot: 3 })
    ));
    assert!(matches!(
        mcnode_scp::Node::new(
            id(0),
            QuorumSet {
                threshold: 9,
                members: vec![id(0)],
                inner_sets: vec![]
            },
            NumPolicy::default(),
            Default::default()
        ),
        Err(Error::LocalQuorumSet(_))
    ));
}

/// A deterministic stream of random, mostly nonsensical messages: every one is either
/// accepted or refused with an error, none panics, and emitted messages stay well-formed.
#[test]
fn random_hostile_messages_never_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut h = Harness::new(mesh(5, 4));
    h.propose(1);
    let (mut ok, mut refused) = (0, 0);
    for i in 0..20_000u64 {
        let val = |rnd: &mut dyn FnMut(u64) -> u64| rnd(6);
        let b = |rnd: &mut dyn FnMut(u64) -> u64| {
            let c = match rnd(8) {
                0 => 0,
                1 => INFINITE_COUNTER,
                _ => rnd(5) as u32,
            };
            Ballot::new(c, rnd(6))
        };
        let topic = match rnd(4) {
            0 => {
                let mut voted: Vec<u64> = (0..rnd(3)).map(|_| val(&mut rnd)).collect();
                let mut accepted: Vec<u64> = (0..rnd(3)).map(|_| val(&mut rnd)).collect();
                if rnd(3) > 0 {
                    voted.sort();
                    voted.dedup();
                    accepted.sort();
                    accepted.dedup();
                }
                Topic::Nominate(Nominate { voted, accepted })
            }
            1 => {
                let bb = b(&mut rnd);
                let p = (rnd(2) == 0).then(|| b(&mut rnd));
                let pp = (rnd(3) == 0).then(|| b(&mut rnd));
                prepare(bb, p, pp, rnd(4) as u32, rnd(5) as u32)
            }
            2 => confirm(b(&mut rnd), rnd(5) as u32, rnd(4) as u32, rnd(5) as u32),
            _ => externalize(b(&mut rnd), rnd(6) as u32),
        };
        let from = 1 + rnd(4) as usize;
        let mut msg = h.msg(from, topic);
        msg.slot = 1 + rnd(3);
        h.now = i * 7;
        match h.node.handle_message(&msg, h.now) {
            Ok(out) => {
                ok += 1;
                for m in out {
                    m.validate(1000).expect("own messages are well-formed");
                }
            }
            Err(_) => refused += 1,
        }
        if i % 97 == 0 {
            for m in h.node.process_timeouts(h.now) {
                m.validate(1000).expect("own messages are well-formed");
            }
        }
    }
    assert!(
        ok > 1000 && refused > 1000,
        "both paths exercised: {ok} ok, {refused} refused"
    );
}

/// The wire format is frozen: this JSON is what peers exchange (the node signs these
/// bytes). Changing it must be deliberate.
#[test]
fn golden_message_json() {
    let h = Harness::new(mesh(3, 2));
    let msg = h.msg(1, prepare(ballot(2, 7), Some(ballot(1, 7)), None, 1, 1));
    let json = serde_json::to_string(&msg).unwrap();
    assert_eq!(
        json,
        r#"{"sender":"v1","slot":1,"quorum_set":{"threshold":2,"members":["v0","v1","v2"],"inner_sets":[]},"topic":{"Ballot":{"Prepare":{"ballot":{"counter":2,"value":7},"prepared":{"counter":1,"value":7},"prepared_prime":null,"commit_counter":1,"high_counter":1}}}}"#
    );
    let back: Msg<u64> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, msg);
}

/// `Msg::values` lists every value a statement names (what a node must know before it
/// can judge the message).
#[test]
fn a_message_lists_every_value_it_names() {
    let h = Harness::new(mesh(5, 4));
    let sorted = |m: &Msg<u64>| {
        let mut v: Vec<u64> = m.values().into_iter().copied().collect();
        v.sort_unstable();
        v
    };
    assert_eq!(sorted(&h.msg(1, nominate(&[2, 5], &[3]))), [2, 3, 5]);
    let p = prepare(ballot(3, 9), Some(ballot(2, 7)), Some(ballot(1, 4)), 0, 0);
    assert_eq!(sorted(&h.msg(1, p)), [4, 7, 9]);
}
