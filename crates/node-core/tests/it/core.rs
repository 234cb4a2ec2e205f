//! One node core driven by hand: what it asks the shell to do for each input.

use mcnode_node_core::{
    codes, Action, AppendedBlock, Checked, ClientVerdict, CoreConfig, Disposition, Envelope,
    NodeCore, Notice, Tip, TxSet,
};
use mcnode_scp::{
    Ballot, BallotStatement, Msg, NodeId, Nominate, Prepare, QuorumSet, Topic, Validity,
};

use crate::{h, tx};

fn id(n: usize) -> NodeId {
    NodeId::new(format!("n{n}:1")).unwrap()
}

fn qset() -> QuorumSet {
    QuorumSet::flat(3, (0..4).map(id).collect()).unwrap()
}

const GENESIS: [u8; 32] = [0xaa; 32];

fn core(cfg: CoreConfig) -> NodeCore<u8> {
    NodeCore::new(
        cfg,
        id(0),
        qset(),
        (1..4).map(id).collect(),
        Tip {
            index: 0,
            id: GENESIS,
        },
        &[],
        0,
    )
    .unwrap()
}

fn env(from: usize, slot: u64, topic: Topic<TxSet>) -> Envelope {
    Envelope {
        msg: Msg {
            sender: id(from),
            slot,
            quorum_set: qset(),
            topic,
        },
        prev_block_id: GENESIS,
    }
}

fn accepted_prepare(value: &TxSet) -> Topic<TxSet> {
    let b = Ballot::new(1, value.clone());
    Topic::Ballot(BallotStatement::Prepare(Prepare {
        ballot: b.clone(),
        prepared: Some(b),
        prepared_prime: None,
        commit_counter: 0,
        high_counter: 0,
    }))
}

fn fetches(actions: &[Action<u8>]) -> Vec<mcnode_node_core::FetchRequest> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Fetch(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn validations(actions: &[Action<u8>]) -> Vec<Vec<mcnode_node_core::CoreTx<u8>>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Validate { txs, .. } => Some(txs.clone()),
            _ => None,
        })
        .collect()
}

fn valid(txs: Vec<mcnode_node_core::CoreTx<u8>>) -> Vec<Checked<u8>> {
    txs.into_iter()
        .map(|tx| Checked {
            tx,
            checked_for: 1,
            outcome: Ok(()),
        })
        .collect()
}

#[test]
fn a_ballot_naming_a_missing_tx_is_recorded_fetched_and_acted_on_when_it_arrives() {
    let mut c = core(CoreConfig::default());
    let x = TxSet::new(vec![h(1)]);
    assert_eq!(
        mcnode_node_core::validity_at(&c, 1, &x),
        Validity::MaybeValid
    );
    let mut all = Vec::new();
    for from in 1..4 {
        let d = c.on_envelope(env(from, 1, accepted_prepare(&x)), 10);
        assert_eq!(d, Disposition::Waiting, "recorded while the tx is fetched");
        all.extend(c.take_actions());
    }
    // Not accepted before the transaction is here.
    let snap = c.scp().snapshot(1).unwrap();
    assert!(snap.ballot.p.is_none(), "{snap:?}");
    // One fetch for the hash, from the first peer that named it.
    let f = fetches(&all);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].peer.clone(), f[0].hashes.clone()),
        (id(1), vec![h(1)])
    );
    c.on_fetch_answer(f[0].id, vec![tx(1, 10, &[1], &[1], 50)], &[], &[], 20);
    let v = validations(&c.take_actions());
    assert_eq!(v.len(), 1);
    c.on_validated(valid(v.into_iter().flatten().collect()), 30);
    let out = c.take_actions();
    // Re-evaluated at once: the node accepts and confirms <1, x> and says so.
    let snap = c.scp().snapshot(1).unwrap();
    assert_eq!(snap.ballot.p, Some(Ballot::new(1, x.clone())));
    let said_x = out.iter().any(|a| {
        matches!(a, Action::Broadcast { msg, .. }
            if matches!(&msg.topic, Topic::Ballot(st) if st.value() == &x))
    });
    assert!(said_x, "{out:?}");
}

#[test]
fn a_tx_checked_before_the_block_that_holds_it_does_not_come_back_as_pending() {
    let mut c = core(CoreConfig::default());
    c.on_block_appended(
        AppendedBlock {
            index: 1,
            id: [1; 32],
            parent_id: GENESIS,
            key_images: vec![[7; 32]],
            output_keys: vec![[8; 32]],
            included: vec![h(7)],
            dropped: vec![],
        },
        5,
    )
    .unwrap();
    // Tx 7 was validated while block 1 was next and reaches the core after block 1.
    let v = c.on_client_tx(tx(7, 10, &[7], &[8], 50), 1, 6);
    assert!(
        matches!(&v, ClientVerdict::Refused(r) if r.code == codes::KEY_IMAGE_SPENT),
        "{v:?}"
    );
    assert_eq!(c.status().pending, 0);
    // It is remembered as invalid: a relayed copy is not even validated again.
    c.on_peer_txs(vec![tx(7, 10, &[7], &[8], 50)], 7);
    assert!(validations(&c.take_actions()).is_empty());
    assert_eq!(c.status().pending, 0);
    assert_eq!(
        mcnode_node_core::validity_at(&c, 2, &TxSet::new(vec![h(7)])),
        Validity::Invalid
    );
}

#[test]
fn a_value_larger_than_one_fetch_is_fetched_in_chunks_within_the_limits() {
    let mut c = core(CoreConfig::default());
    let hashes: Vec<[u8; 32]> = (0..600u32)
        .map(|i| {
            let mut x = [0u8; 32];
            x[..4].copy_from_slice(&i.to_be_bytes());
            x
        })
        .collect();
    let value = TxSet::new(hashes.clone());
    c.on_envelope(
        env(
            2,
            1,
            Topic::Nominate(Nominate {
                voted: vec![value],
                accepted: vec![],
            }),
        ),
        1,
    );
    let f = fetches(&c.take_actions());
    let cfg = CoreConfig::default().fetch;
    assert!(f.iter().all(|r| r.hashes.len() <= cfg.max_per_request));
    assert!(f.iter().all(|r| r.peer == id(2)));
    assert_eq!(f.len(), 600usize.div_ceil(cfg.max_per_request));
    let asked: usize = f.iter().map(|r| r.hashes.len()).sum();
    assert_eq!(asked, 600);
}

#[test]
fn relayed_txs_are_validated_once() {
    let mut c = core(CoreConfig::default());
    c.on_peer_txs(
        vec![tx(1, 10, &[1], &[1], 50), tx(1, 10, &[1], &[1], 50)],
        1,
    );
    c.on_peer_txs(vec![tx(1, 10, &[1], &[1], 50)], 2);
    let v = validations(&c.take_actions());
    assert_eq!(v.iter().map(Vec::len).sum::<usize>(), 1);
    c.on_validated(valid(v.into_iter().flatten().collect()), 3);
    c.take_actions();
    c.on_peer_txs(vec![tx(1, 10, &[1], &[1], 50)], 4);
    assert!(validations(&c.take_actions()).is_empty());
    assert_eq!(c.status().pending, 1);
}

#[test]
fn a_node_nominates_what_it_holds_and_persists_what_it_says() {
    let mut c = core(CoreConfig::default());
    assert_eq!(
        c.on_client_tx(tx(1, 10, &[1], &[1], 50), 1, 1),
        ClientVerdict::Accepted
    );
    let out = c.take_actions();
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Relay(b) if b == &vec![1u8])));
    assert!(c.status().proposed);
    // Peers vote for the same value: the node accepts it, says so, and the same batch
    // of actions persists what it said.
    let x = TxSet::new(vec![h(1)]);
    let mut out = Vec::new();
    for from in 1..4 {
        c.on_envelope(
            env(
                from,
                1,
                Topic::Nominate(Nominate {
                    voted: vec![x.clone()],
                    accepted: vec![],
                }),
            ),
            2,
        );
        out.extend(c.take_actions());
    }
    let said = out.iter().any(|a| {
        matches!(a, Action::Broadcast { msg, prev_block_id }
            if *prev_block_id == GENESIS && matches!(&msg.topic, Topic::Nominate(n)
                if n.accepted.contains(&x)))
    });
    assert!(said, "{out:?}");
    let (slot, msgs) = out
        .iter()
        .rev()
        .find_map(|a| match a {
            Action::Persist { slot, msgs } => Some((*slot, msgs.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(slot, 1);
    assert!(!msgs.is_empty() && msgs.iter().all(|m| m.sender == id(0)));
    // A restart from those messages does not nominate again, and fetches what they name.
    let mut again = NodeCore::<u8>::new(
        CoreConfig::default(),
        id(0),
        qset(),
        (1..4).map(id).collect(),
        Tip {
            index: 0,
            id: GENESIS,
        },
        &msgs,
        100,
    )
    .unwrap();
    assert!(again.status().proposed);
    let f = fetches(&again.take_actions());
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].hashes, vec![h(1)]);
}

#[test]
fn a_slot_with_work_that_does_not_move_is_reported() {
    let cfg = CoreConfig {
        stall_warn_ms: 1_000,
        ..CoreConfig::default()
    };
    let mut c = core(cfg);
    c.on_client_tx(tx(1, 10, &[1], &[1], 50), 1, 0);
    c.take_actions();
    c.tick(500);
    assert!(!c
        .take_actions()
        .iter()
        .any(|a| matches!(a, Action::Notice(Notice::Stalled(_)))));
    c.tick(1_200);
    let report = c.take_actions().into_iter().find_map(|a| match a {
        Action::Notice(Notice::Stalled(r)) => Some(r),
        _ => None,
    });
    let r = report.unwrap();
    assert_eq!((r.slot, r.pending, r.phase.as_str()), (1, 1, "nominate"));
    assert_eq!(r.heard.len(), 3);
    assert!(r.heard.iter().all(|m| m.slot.is_none()));
    // Not again until another stall_warn_ms has passed.
    c.tick(1_500);
    assert!(!c
        .take_actions()
        .iter()
        .any(|a| matches!(a, Action::Notice(Notice::Stalled(_)))));
}

#[test]
fn envelopes_for_later_slots_are_held_and_old_ones_are_late() {
    let mut c = core(CoreConfig::default());
    let x = TxSet::new(vec![h(1)]);
    let mut later = env(1, 2, accepted_prepare(&x));
    later.prev_block_id = [1; 32];
    assert_eq!(c.on_envelope(later, 1), Disposition::Held);
    assert_eq!(
        c.on_envelope(env(1, 50, accepted_prepare(&x)), 1),
        Disposition::TooFarAhead
    );
    let mut wrong = env(2, 1, accepted_prepare(&x));
    wrong.prev_block_id = [9; 32];
    assert_eq!(c.on_envelope(wrong, 1), Disposition::OtherParent);
    c.on_block_appended(
        AppendedBlock {
            index: 1,
            id: [1; 32],
            parent_id: GENESIS,
            key_images: vec![],
            output_keys: vec![],
            included: vec![],
            dropped: vec![],
        },
        2,
    )
    .unwrap();
    assert_eq!(
        c.status().held,
        0,
        "fed to SCP when the ledger reached slot 2"
    );
    assert!(c.scp().snapshot(2).is_some());
    c.on_block_appended(
        AppendedBlock {
            index: 2,
            id: [2; 32],
            parent_id: [1; 32],
            key_images: vec![],
            output_keys: vec![],
            included: vec![],
            dropped: vec![],
        },
        3,
    )
    .unwrap();
    assert_eq!(
        c.on_envelope(env(3, 1, accepted_prepare(&x)), 4),
        Disposition::Late
    );
}

fn catch_ups(actions: &[Action<u8>]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::CatchUp { .. }))
        .count()
}

/// A v-blocking set of peers ahead makes the node catch up after `behind_grace_ms`; one
/// peer alone ahead (it may lie, or be the only one up) only after four times as long,
/// and then again only after a fruitless attempt's back-off.
#[test]
fn one_peer_ahead_is_worth_a_later_catch_up_than_a_v_blocking_set() {
    let cfg = CoreConfig::default();
    let grace = cfg.behind_grace_ms;
    let mut c = core(cfg);
    c.on_peer_heights(&[(id(1), 150)], 0);
    c.take_actions();
    c.tick(grace + 100);
    assert_eq!(
        catch_ups(&c.take_actions()),
        0,
        "one peer's word is not enough yet"
    );
    c.tick(4 * grace - 100);
    assert_eq!(catch_ups(&c.take_actions()), 0);
    c.tick(4 * grace + 100);
    assert_eq!(catch_ups(&c.take_actions()), 1);
    // Nothing came (the peer lied): no new attempt before the back-off.
    c.on_catch_up_done(4 * grace + 200);
    c.take_actions();
    c.tick(4 * grace + 300);
    assert_eq!(catch_ups(&c.take_actions()), 0);

    let mut c = core(cfg);
    c.on_peer_heights(&[(id(1), 150), (id(2), 150)], 0);
    c.take_actions();
    c.tick(grace - 100);
    assert_eq!(catch_ups(&c.take_actions()), 0);
    c.tick(grace + 100);
    assert_eq!(catch_ups(&c.take_actions()), 1);
}

/// Clients hear CATCHING_UP only when a v-blocking set is two or more blocks ahead: one
/// block behind is where a node is for a moment after its peers appended the slot's block.
#[test]
fn one_block_behind_still_serves_clients() {
    use mcnode_node_core::SyncMode;
    let mut c = core(CoreConfig::default());
    // This node holds 1 block; two peers (v-blocking for 3 of 4) hold 2.
    c.on_peer_heights(&[(id(1), 2), (id(2), 2)], 0);
    assert_eq!(c.mode(), SyncMode::Running);
    c.on_peer_heights(&[(id(1), 3), (id(2), 3)], 10);
    assert_eq!(c.mode(), SyncMode::CatchingUp);
}

/// Under a backlog of relayed transactions, the ones the current slot's statements name
/// are validated first, and no more than `max_validations_in_flight` are out at once.
#[test]
fn txs_the_slot_waits_for_jump_the_validation_queue() {
    let cfg = CoreConfig {
        validate_batch: 4,
        max_validations_in_flight: 4,
        ..CoreConfig::default()
    };
    let mut c = core(cfg);
    let relayed: Vec<_> = (1..=40).map(|n| tx(n, 10, &[n], &[n], 50)).collect();
    c.on_peer_txs(relayed, 1);
    let first = validations(&c.take_actions());
    assert_eq!(
        first.iter().map(Vec::len).sum::<usize>(),
        4,
        "only one batch out"
    );
    assert_eq!(
        first[0].iter().map(|t| t.body).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    // Three peers ballot on a value naming transaction 30, still queued here.
    let x = TxSet::new(vec![h(30)]);
    for from in 1..4 {
        c.on_envelope(env(from, 1, accepted_prepare(&x)), 2);
    }
    let asked = c.take_actions();
    assert!(fetches(&asked).is_empty(), "queued here: not fetched");
    assert!(validations(&asked).is_empty(), "no lane free yet");
    c.on_validated(valid(first.into_iter().flatten().collect()), 3);
    let next = validations(&c.take_actions());
    assert_eq!(next.len(), 1);
    assert_eq!(
        next[0][0].body,
        30,
        "{:?}",
        next[0].iter().map(|t| t.body).collect::<Vec<_>>()
    );
    assert_eq!(next[0].len(), 4);
}

#[test]
fn clients_are_admitted_up_to_what_the_network_commits_in_the_drain_time() {
    let mut cfg = CoreConfig::default();
    cfg.admit.floor = 10;
    cfg.admit.window_ms = 1_000;
    cfg.admit.drain_ms = 5_000;
    let mut c = core(cfg);
    for n in 1..=9 {
        assert!(c.status().admits_client_tx(), "before tx {n}");
        let v = c.on_client_tx(tx(n, 10, &[n], &[n], 50), 1, 10);
        assert_eq!(v, ClientVerdict::Accepted, "tx {n}");
    }
    // A relayed transaction being validated counts too: 10 held, the floor reached.
    c.on_peer_txs(vec![tx(12, 10, &[12], &[12], 50)], 11);
    assert_eq!(validations(&c.take_actions()).concat().len(), 1);
    assert_eq!(c.status().admit_limit, 10);
    assert!(!c.status().admits_client_tx());
    // One that was validated before the room filled is still taken: refusing it now
    // would only waste its validation.
    assert_eq!(
        c.on_client_tx(tx(11, 10, &[11], &[11], 50), 1, 12),
        ClientVerdict::Accepted
    );
    // The network commits ten in one block within the 1 s window: 10 tx/s, so 50 may be
    // held for the 5 s drain time.
    c.on_block_appended(
        AppendedBlock {
            index: 1,
            id: [1; 32],
            parent_id: GENESIS,
            key_images: (1..=10).map(|n| [n; 32]).collect(),
            output_keys: (1..=10).map(|n| [n; 32]).collect(),
            included: (1..=10).map(h).collect(),
            dropped: vec![],
        },
        500,
    )
    .unwrap();
    assert_eq!(c.status().admit_limit, 50);
    assert!(c.status().admits_client_tx());
    for n in 20..60 {
        let v = c.on_client_tx(tx(n, 10, &[n], &[n], 50), 2, 600);
        assert_eq!(v, ClientVerdict::Accepted, "tx {n}");
    }
    // 40 new, tx 11 and the relayed one being validated: 42 held, below 50.
    assert_eq!(c.status().pending + c.status().validating, 42);
    assert!(c.status().admits_client_tx());
    // Once the block has left the window, the floor is all that is left.
    c.tick(1_600);
    assert_eq!(c.status().admit_limit, 10);
    assert!(!c.status().admits_client_tx());
}

#[test]
fn a_node_nominates_only_what_peers_had_time_to_validate() {
    let mut c = core(CoreConfig::default());
    // Relayed transactions wait 400 ms here before they are validated.
    c.on_peer_txs(
        vec![tx(1, 10, &[1], &[1], 50), tx(2, 10, &[2], &[2], 50)],
        0,
    );
    let v = validations(&c.take_actions()).concat();
    assert_eq!(v.len(), 2);
    c.on_validated(valid(v), 400);
    assert_eq!(c.relay_validation_delay_ms(), 400);
    // Held since 400 ms: not nominated at once, but 400 ms later.
    assert!(!c.status().proposed);
    assert_eq!(c.next_wakeup(), Some(800));
    // A client's transaction at 600 ms waits for its own 400 ms.
    assert_eq!(
        c.on_client_tx(tx(3, 10, &[3], &[3], 50), 1, 600),
        ClientVerdict::Accepted
    );
    assert!(!c.status().proposed);
    c.tick(799);
    assert!(!c.status().proposed);
    c.tick(800);
    assert!(c.status().proposed, "nominated at 800 ms");
    let (old_enough, younger) = c.store().held_since(800 - 400, 10);
    assert_eq!((old_enough, younger), (vec![h(1), h(2)], Some(600)));
}

#[test]
fn with_fast_validation_a_client_tx_is_nominated_at_once() {
    let mut c = core(CoreConfig::default());
    c.on_peer_txs(vec![tx(1, 10, &[1], &[1], 50)], 0);
    let v = validations(&c.take_actions()).concat();
    c.on_validated(valid(v), 0);
    assert!(c.status().proposed);
    assert_eq!(c.relay_validation_delay_ms(), 0);
    assert_eq!(
        c.on_client_tx(tx(2, 10, &[2], &[2], 50), 1, 5),
        ClientVerdict::Accepted
    );
}

#[test]
fn quorum_health_follows_the_members_envelopes_and_the_blocks() {
    use mcnode_node_core::MemberState;
    let mut c = core(CoreConfig::default());
    let v = TxSet::new(vec![h(1)]);
    c.on_envelope(env(1, 1, accepted_prepare(&v)), 10);
    c.on_envelope(env(2, 1, accepted_prepare(&v)), 20);
    // Nothing decided yet: no member has a state, the slot has begun.
    let r = c.quorum_health(30);
    assert_eq!(r.slot, 1);
    assert!(r.members.iter().all(|m| m.state.is_none()));
    assert_eq!(
        r.members.iter().map(|m| m.up).collect::<Vec<_>>(),
        vec![true, true, false]
    );
    // 3 of {n0..n3}: two of the three others block n0; n3 is not up.
    assert_eq!(r.v_blocking_distance, Some(1));
    c.on_block_appended(
        AppendedBlock {
            index: 1,
            id: [1; 32],
            parent_id: GENESIS,
            key_images: vec![],
            output_keys: vec![],
            included: vec![],
            dropped: vec![],
        },
        100,
    )
    .unwrap();
    let r = c.quorum_health(150);
    assert_eq!(r.slot, 2);
    let states: Vec<_> = r
        .members
        .iter()
        .map(|m| (m.node.as_str(), m.state.unwrap()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("n1:1", MemberState::Agree),
            ("n2:1", MemberState::Agree),
            ("n3:1", MemberState::Missing)
        ]
    );
    assert_eq!(r.members[0].last_message_age_ms, Some(140));
    assert_eq!(r.v_blocking_distance, Some(1));
    // n3 speaks about slot 2 on our block 1: up again.
    let mut e = env(3, 2, accepted_prepare(&v));
    e.prev_block_id = [1; 32];
    c.on_envelope(e, 200);
    assert_eq!(c.quorum_health(210).v_blocking_distance, Some(2));
}

/// Fuzzing found it (`fuzz/regressions/consensus_envelope/`): a peer's envelope for slot
/// 0 reached `slot - 1` and panicked on overflow in debug builds (and looked up block
/// `u64::MAX` in release ones). Slot 0 is the origin block: refused, as SCP refuses it,
/// and it does not count as hearing from the peer.
#[test]
fn an_envelope_for_slot_zero_is_refused() {
    let mut c = core(CoreConfig::default());
    let x = TxSet::new(vec![h(1)]);
    let before = c.status();
    assert_eq!(
        c.on_envelope(env(1, 0, accepted_prepare(&x)), 1),
        Disposition::Refused
    );
    assert_eq!(
        c.on_envelope(
            env(
                2,
                0,
                Topic::Nominate(Nominate {
                    voted: vec![x.clone()],
                    accepted: vec![]
                })
            ),
            2
        ),
        Disposition::Refused
    );
    assert_eq!(c.slot(), 1);
    assert_eq!(format!("{:?}", c.status()), format!("{before:?}"));
}

#[test]
fn arrivals_wait_for_a_free_validation_lane_and_go_out_together() {
    let cfg = CoreConfig {
        max_validation_batches: 1,
        ..CoreConfig::default()
    };
    let mut c = core(cfg);
    c.on_peer_txs(vec![tx(1, 10, &[1], &[1], 50)], 0);
    let first = validations(&c.take_actions());
    assert_eq!(first.iter().map(Vec::len).collect::<Vec<_>>(), vec![1]);
    // While the lane is busy, three relays arrive: nothing goes out yet.
    for n in 2..5 {
        c.on_peer_txs(vec![tx(n, 10, &[n], &[n], 50)], u64::from(n));
        assert!(validations(&c.take_actions()).is_empty());
    }
    assert_eq!(c.status().validating, 4);
    // The first answer frees the lane: the three go out as one request.
    c.on_validated(valid(first.concat()), 10);
    let next = validations(&c.take_actions());
    assert_eq!(next.iter().map(Vec::len).collect::<Vec<_>>(), vec![3]);
}
