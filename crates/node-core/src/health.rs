//! Quorum health: what each member of this node's quorum set did in the recent slots,
//! and how many more failures would block this node.
//!
//! [`QuorumHealth`] is fed every SCP message the node receives (by its authenticated
//! sender), the node's own messages, and the slots it decides; [`QuorumHealth::report`]
//! classifies each member of the quorum set, for each of the last [`HEALTH_SLOTS`] slots
//! this node decided, as one of the [`MemberState`]s:
//!
//! * **agree**: it sent SCP messages for the slot before this node decided it, and every
//!   value it confirmed or externalized there is the one this node externalized;
//! * **delayed**: heard for the slot only after this node decided it, or, for a slot it
//!   was not heard about, it was still sending messages about an older slot once the slot
//!   had begun (it is behind);
//! * **disagree**: it confirmed or externalized another value for the slot, or its
//!   messages for the next slot build on another block;
//! * **missing**: nothing heard for the slot (and nothing since the slot began).
//!
//! A member is **up** when it sent SCP messages for the current slot (the one being
//! agreed). SCP is silent between transactions, so until the current slot begins (no
//! message about it from anyone, this node included), and for [`UP_GRACE_MS`] after it
//! begins, a member that agreed on the last decided slot counts as up as well; before
//! this node decided any slot since it started, one that answered a height probe in the
//! last [`ANSWERED_WITHIN_MS`] does.
//!
//! The **v-blocking distance** ([`v_blocking_distance`]) is how many more quorum members
//! must fail for the rest to be unable to form one of this node's slices, counting the
//! members that are not up as failed already. This node never counts as failed (its own
//! failure does not block it; it stops it). `None` means no failure of other nodes can
//! block it (its quorum set is satisfied by itself alone).
//!
//! Bounded: one record per slot for the last [`HEALTH_SLOTS`] decided slots and the
//! slots up to [`AHEAD_SLOTS`] past the current one, each with one entry per member of the
//! quorum set; messages from nodes outside the quorum set are ignored.

use std::collections::{BTreeMap, BTreeSet};

use mcnode_scp::{hash::digest_of, BallotStatement, Msg, QuorumSet, Topic};
use serde::{Deserialize, Serialize};

use crate::{
    types::{Millis, NodeId, SlotIndex},
    value::TxSet,
};

/// Before this node decided any slot since it started, how recent a member's answer to
/// a height probe must be for it to count as up on a quiet network, ms.
pub const ANSWERED_WITHIN_MS: Millis = 10_000;
/// Decided slots reported (and remembered).
pub const HEALTH_SLOTS: usize = 10;
/// Slots past the current one recorded (messages for later ones only date the member).
pub const AHEAD_SLOTS: u64 = 8;
/// How long after the current slot begins a member that agreed on the last slot still
/// counts as up without a message for the current slot, ms.
pub const UP_GRACE_MS: Millis = 2_000;

/// What a quorum member did in one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    /// Sent messages for the slot in time, and confirmed nothing but this node's value.
    Agree,
    /// Heard late for the slot, or only about an older slot.
    Delayed,
    /// Confirmed or externalized another value, or built on another block.
    Disagree,
    /// Nothing heard.
    Missing,
}

impl MemberState {
    /// Every state, for metric labels.
    pub const ALL: [MemberState; 4] = [Self::Agree, Self::Delayed, Self::Disagree, Self::Missing];

    /// The label: `agree`, `delayed`, `disagree`, `missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agree => "agree",
            Self::Delayed => "delayed",
            Self::Disagree => "disagree",
            Self::Missing => "missing",
        }
    }
}

/// One member's state in one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotState {
    /// The slot.
    pub slot: SlotIndex,
    /// The member's state in it.
    pub state: MemberState,
}

/// One quorum member, as [`QuorumHealth::report`] sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberHealth {
    /// The member (its responder id, as the quorum set names it).
    pub node: String,
    /// Its state in the last slot this node decided (`None` before this node decided
    /// any slot since it started).
    pub state: Option<MemberState>,
    /// The slot `state` is about (`None` before this node decided any slot).
    pub state_slot: Option<SlotIndex>,
    /// Whether it sent SCP messages for the current slot (see the module docs).
    pub up: bool,
    /// The slot of its last SCP message, if one arrived since start.
    pub last_slot: Option<SlotIndex>,
    /// How long ago that message arrived, ms.
    pub last_message_age_ms: Option<u64>,
    /// Its state in each decided slot remembered, newest first.
    pub recent: Vec<SlotState>,
}

/// The quorum's health as seen from this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumHealthReport {
    /// The slot being agreed.
    pub slot: SlotIndex,
    /// Every member of the quorum set but this node, in the set's order of names.
    pub members: Vec<MemberHealth>,
    /// How many more member failures block this node (`None`: none can).
    pub v_blocking_distance: Option<usize>,
}

/// A value's identity (a digest, so records stay small whatever the value's size).
type Digest = [u8; 32];

#[derive(Clone, Copy, Debug)]
struct Heard {
    first: Millis,
    /// The value of its latest confirm or externalize statement.
    committed: Option<Digest>,
    /// Its messages for the next slot build on another block than ours.
    forked: bool,
}

#[derive(Clone, Debug, Default)]
struct SlotRecord {
    /// The first message about the slot from anyone, this node included.
    begun: Option<Millis>,
    /// When this node decided it (externalized, or appended a caught-up block).
    decided: Option<Millis>,
    /// The value it externalized (unknown for a caught-up block).
    value: Option<Digest>,
    heard: BTreeMap<NodeId, Heard>,
}

/// The per-member tracker (see the module docs).
#[derive(Clone, Debug)]
pub struct QuorumHealth {
    local: NodeId,
    quorum_set: QuorumSet,
    members: BTreeSet<NodeId>,
    current: SlotIndex,
    slots: BTreeMap<SlotIndex, SlotRecord>,
    /// Each member's latest message: its slot and when.
    last: BTreeMap<NodeId, (SlotIndex, Millis)>,
    /// When each member last answered a height probe.
    answered: BTreeMap<NodeId, Millis>,
}

impl QuorumHealth {
    /// A tracker for node `local` with `quorum_set`, agreeing on `current`.
    pub fn new(local: NodeId, quorum_set: QuorumSet, current: SlotIndex) -> Self {
        let members = quorum_set
            .nodes()
            .into_iter()
            .filter(|n| *n != local)
            .collect();
        Self {
            local,
            quorum_set,
            members,
            current,
            slots: BTreeMap::new(),
            last: BTreeMap::new(),
            answered: BTreeMap::new(),
        }
    }

    fn in_window(&self, slot: SlotIndex) -> bool {
        slot.saturating_add(HEALTH_SLOTS as u64) >= self.current
            && slot <= self.current.saturating_add(AHEAD_SLOTS)
    }

    /// A message from a peer, signature verified. `parent_matches` says whether the
    /// block its slot builds on is ours at that height (`None`: not known here).
    pub fn on_message(&mut self, msg: &Msg<TxSet>, parent_matches: Option<bool>, now: Millis) {
        let sender = &msg.sender;
        if *sender == self.local || !self.members.contains(sender) {
            return;
        }
        let last = self.last.entry(sender.clone()).or_insert((msg.slot, now));
        *last = (msg.slot.max(last.0), now);
        if parent_matches == Some(false) {
            if let Some(prev) = msg.slot.checked_sub(1).filter(|s| self.in_window(*s)) {
                let rec = self.slots.entry(prev).or_default();
                rec.heard
                    .entry(sender.clone())
                    .or_insert(Heard {
                        first: now,
                        committed: None,
                        forked: false,
                    })
                    .forked = true;
            }
        }
        if !self.in_window(msg.slot) {
            return;
        }
        let committed = match &msg.topic {
            Topic::Ballot(b @ (BallotStatement::Confirm(_) | BallotStatement::Externalize(_))) => {
                Some(digest_of(b.value()))
            }
            _ => None,
        };
        let rec = self.slots.entry(msg.slot).or_default();
        rec.begun.get_or_insert(now);
        let heard = rec.heard.entry(sender.clone()).or_insert(Heard {
            first: now,
            committed: None,
            forked: false,
        });
        if committed.is_some() {
            heard.committed = committed;
        }
    }

    /// `member` answered a height probe (it is running, whatever its SCP messages say).
    pub fn on_answered(&mut self, member: &NodeId, now: Millis) {
        if self.members.contains(member) {
            self.answered.insert(member.clone(), now);
        }
    }

    /// This node spoke about `slot` (its own message, sent to every peer).
    pub fn on_own_message(&mut self, slot: SlotIndex, now: Millis) {
        if self.in_window(slot) {
            self.slots.entry(slot).or_default().begun.get_or_insert(now);
        }
    }

    /// Whether this node decided `slot` already (as far as the tracker knows).
    pub fn is_decided(&self, slot: SlotIndex) -> bool {
        self.slots.get(&slot).is_some_and(|r| r.decided.is_some())
    }

    /// This node externalized `value` in `slot` (`None`: it appended the slot's block by
    /// catch-up, without knowing the value).
    pub fn on_decided(&mut self, slot: SlotIndex, value: Option<&TxSet>, now: Millis) {
        if !self.in_window(slot) {
            return;
        }
        let rec = self.slots.entry(slot).or_default();
        rec.decided.get_or_insert(now);
        if rec.value.is_none() {
            rec.value = value.map(digest_of);
        }
    }

    /// The ledger moved on: `current` is the slot being agreed now.
    pub fn on_slot(&mut self, current: SlotIndex) {
        self.current = current;
        let oldest = current.saturating_sub(HEALTH_SLOTS as u64);
        self.slots = self.slots.split_off(&oldest);
    }

    /// The state of `member` in `slot`.
    fn state_in(&self, member: &NodeId, slot: SlotIndex) -> MemberState {
        let Some(rec) = self.slots.get(&slot) else {
            return MemberState::Missing;
        };
        match rec.heard.get(member) {
            Some(h) if h.forked => MemberState::Disagree,
            Some(h) if h.committed.is_some() && rec.value.is_some() && h.committed != rec.value => {
                MemberState::Disagree
            }
            Some(h) => match rec.decided {
                Some(decided) if h.first > decided => MemberState::Delayed,
                _ => MemberState::Agree,
            },
            None => {
                let behind = self.last.get(member).is_some_and(|(s, at)| {
                    *s < slot && rec.begun.is_some_and(|begun| *at >= begun)
                });
                if behind {
                    MemberState::Delayed
                } else {
                    MemberState::Missing
                }
            }
        }
    }

    /// Whether `member` counts as up for the current slot.
    fn is_up(&self, member: &NodeId, last_decided: Option<SlotIndex>, now: Millis) -> bool {
        let forked = self
            .current
            .checked_sub(1)
            .and_then(|prev| self.slots.get(&prev))
            .and_then(|r| r.heard.get(member))
            .is_some_and(|h| h.forked);
        if forked {
            return false;
        }
        let current = self.slots.get(&self.current);
        if current.is_some_and(|r| r.heard.contains_key(member)) {
            return true;
        }
        let quiet = current
            .and_then(|r| r.begun)
            .is_none_or(|begun| now.saturating_sub(begun) < UP_GRACE_MS);
        quiet
            && match last_decided {
                Some(s) => self.state_in(member, s) == MemberState::Agree,
                // Nothing decided since start (a restart on a quiet network): a member
                // that answers height probes is taken as up until a slot says more.
                None => self
                    .answered
                    .get(member)
                    .is_some_and(|at| now.saturating_sub(*at) <= ANSWERED_WITHIN_MS),
            }
    }

    /// Every member's state, and the v-blocking distance, at `now`.
    pub fn report(&self, now: Millis) -> QuorumHealthReport {
        let decided: Vec<SlotIndex> = self
            .slots
            .iter()
            .rev()
            .filter(|(s, r)| r.decided.is_some() && **s <= self.current)
            .map(|(s, _)| *s)
            .take(HEALTH_SLOTS)
            .collect();
        let last_decided = decided.first().copied();
        let members: Vec<MemberHealth> = self
            .members
            .iter()
            .map(|m| {
                let recent: Vec<SlotState> = decided
                    .iter()
                    .map(|s| SlotState {
                        slot: *s,
                        state: self.state_in(m, *s),
                    })
                    .collect();
                let last = self.last.get(m);
                MemberHealth {
                    node: m.to_string(),
                    state: recent.first().map(|s| s.state),
                    state_slot: last_decided,
                    up: self.is_up(m, last_decided, now),
                    last_slot: last.map(|(s, _)| *s),
                    last_message_age_ms: last.map(|(_, at)| now.saturating_sub(*at)),
                    recent,
                }
            })
            .collect();
        let down: BTreeSet<&str> = members
            .iter()
            .filter(|m| !m.up)
            .map(|m| m.node.as_str())
            .collect();
        let distance = v_blocking_distance(&self.quorum_set, &self.local, &|n| {
            down.contains(n.as_str())
        });
        QuorumHealthReport {
            slot: self.current,
            members,
            v_blocking_distance: distance,
        }
    }
}

/// How many more nodes of `qs` must fail to block `local`, when the nodes for which
/// `failed` holds have failed already: the size of the smallest set of nodes that, with
/// the failed ones, meets every slice of `qs`. `local` never fails; `None` when no
/// failure of other nodes blocks it.
///
/// Paper: v-blocking sets, definition 13 (section 3). A set of threshold `t` over `n`
/// members is blocked once `n - t + 1` members are: a node by failing, an inner set
/// recursively. Nodes appear once in a valid quorum set, so the cheapest members add up.
pub fn v_blocking_distance(
    qs: &QuorumSet,
    local: &NodeId,
    failed: &dyn Fn(&NodeId) -> bool,
) -> Option<usize> {
    let members = qs.members.len() + qs.inner_sets.len();
    let needed = (members + 1).saturating_sub(qs.threshold as usize);
    let mut costs: Vec<usize> = qs
        .members
        .iter()
        .filter(|n| *n != local)
        .map(|n| usize::from(!failed(n)))
        .chain(
            qs.inner_sets
                .iter()
                .filter_map(|inner| v_blocking_distance(inner, local, failed)),
        )
        .collect();
    if costs.len() < needed {
        return None;
    }
    costs.sort_unstable();
    Some(costs.iter().take(needed).sum())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mcnode_scp::{Ballot, Confirm, Externalize, Nominate, Prepare};

    fn id(s: &str) -> NodeId {
        NodeId::from(s)
    }

    fn ids(names: &[&str]) -> Vec<NodeId> {
        names.iter().map(|n| id(n)).collect()
    }

    fn flat(t: u32, names: &[&str]) -> QuorumSet {
        QuorumSet::flat(t, ids(names)).unwrap()
    }

    fn none(_: &NodeId) -> bool {
        false
    }

    #[test]
    fn distance_of_flat_sets_counts_failed_members_as_spent() {
        // 4 nodes, threshold 3 over the 3 others (this node not listed): blocking needs
        // 3 - 3 + 1 = 1 of {a, b, c}.
        let others = flat(3, &["a", "b", "c"]);
        assert_eq!(v_blocking_distance(&others, &id("me"), &none), Some(1));
        assert_eq!(
            v_blocking_distance(&others, &id("me"), &|n| n.as_str() == "a"),
            Some(0)
        );
        // The localnet's form: 3 of the 4 nodes, this one included. 2 of the 3 others.
        let all = flat(3, &["me", "a", "b", "c"]);
        assert_eq!(v_blocking_distance(&all, &id("me"), &none), Some(2));
        assert_eq!(
            v_blocking_distance(&all, &id("me"), &|n| n.as_str() == "c"),
            Some(1)
        );
        assert_eq!(
            v_blocking_distance(&all, &id("me"), &|n| n.as_str() != "me"),
            Some(0)
        );
        // A set this node satisfies alone cannot be blocked by others.
        let alone = flat(1, &["me", "a"]);
        assert_eq!(v_blocking_distance(&alone, &id("me"), &none), None);
        // 2 of {me, a}: a alone blocks it.
        assert_eq!(
            v_blocking_distance(&flat(2, &["me", "a"]), &id("me"), &none),
            Some(1)
        );
    }

    #[test]
    fn distance_of_nested_sets_takes_the_cheapest_members() {
        // 2 of { me, 2-of{b, c, d}, 1-of{e, f} }: block two of the three members; `me`
        // cannot be, so both inner sets: 2 (b, c) + 2 (e, f) = 4.
        let qs = QuorumSet::new(
            2,
            ids(&["me"]),
            vec![flat(2, &["b", "c", "d"]), flat(1, &["e", "f"])],
        )
        .unwrap();
        assert_eq!(v_blocking_distance(&qs, &id("me"), &none), Some(4));
        // With e down the 1-of-{e, f} set costs 1 more, so 3.
        assert_eq!(
            v_blocking_distance(&qs, &id("me"), &|n| n.as_str() == "e"),
            Some(3)
        );
        // With b and e down: 1 (c or d) + 1 (f) = 2.
        assert_eq!(
            v_blocking_distance(&qs, &id("me"), &|n| matches!(n.as_str(), "b" | "e")),
            Some(2)
        );
        // Agrees with the quorum crate's count when this node is not in the set:
        // 2 of { a, 2-of{b,c,d}, 1-of{e,f} } is blocked by a + the cheaper inner set = 3.
        let qs = QuorumSet::new(
            2,
            ids(&["a"]),
            vec![flat(2, &["b", "c", "d"]), flat(1, &["e", "f"])],
        )
        .unwrap();
        assert_eq!(v_blocking_distance(&qs, &id("me"), &none), Some(3));
        // Every blocking set found is v-blocking by the SCP predicate.
        assert!(qs.is_v_blocking(&|n| matches!(n.as_str(), "a" | "b" | "c")));
    }

    fn value(n: u8) -> TxSet {
        TxSet::new(vec![[n; 32]])
    }

    fn msg(from: &str, slot: SlotIndex, topic: Topic<TxSet>) -> Msg<TxSet> {
        Msg {
            sender: id(from),
            slot,
            quorum_set: flat(3, &["me", "a", "b", "c"]),
            topic,
        }
    }

    fn nominate(v: u8) -> Topic<TxSet> {
        Topic::Nominate(Nominate {
            voted: vec![value(v)],
            accepted: vec![],
        })
    }

    fn prepare(v: u8) -> Topic<TxSet> {
        Topic::Ballot(BallotStatement::Prepare(Prepare {
            ballot: Ballot::new(1, value(v)),
            prepared: None,
            prepared_prime: None,
            commit_counter: 0,
            high_counter: 0,
        }))
    }

    fn confirm(v: u8) -> Topic<TxSet> {
        Topic::Ballot(BallotStatement::Confirm(Confirm {
            ballot: Ballot::new(1, value(v)),
            prepared_counter: 1,
            commit_counter: 1,
            high_counter: 1,
        }))
    }

    fn externalize(v: u8) -> Topic<TxSet> {
        Topic::Ballot(BallotStatement::Externalize(Externalize {
            commit: Ballot::new(1, value(v)),
            high_counter: 1,
        }))
    }

    fn tracker() -> QuorumHealth {
        QuorumHealth::new(id("me"), flat(3, &["me", "a", "b", "c"]), 5)
    }

    fn states(r: &QuorumHealthReport) -> Vec<(&str, MemberState, bool)> {
        r.members
            .iter()
            .map(|m| (m.node.as_str(), m.state.unwrap(), m.up))
            .collect()
    }

    #[test]
    fn members_are_classified_per_slot() {
        use MemberState::*;
        let mut h = tracker();
        // Slot 5: a confirms our value in time, b confirms another, c is silent.
        h.on_own_message(5, 100);
        h.on_message(&msg("a", 5, nominate(1)), Some(true), 110);
        h.on_message(&msg("a", 5, confirm(1)), Some(true), 150);
        h.on_message(&msg("b", 5, prepare(1)), Some(true), 120);
        h.on_message(&msg("b", 5, externalize(2)), Some(true), 160);
        h.on_decided(5, Some(&value(1)), 200);
        h.on_slot(6);
        let r = h.report(250);
        assert_eq!(r.slot, 6);
        assert_eq!(
            states(&r),
            vec![
                ("a", Agree, true),
                ("b", Disagree, false),
                ("c", Missing, false)
            ]
        );
        assert_eq!(r.members[0].state_slot, Some(5));
        assert_eq!(r.members[0].last_slot, Some(5));
        assert_eq!(r.members[0].last_message_age_ms, Some(100));
        assert_eq!(r.members[2].last_slot, None);
        // a is up (quiet slot, agreed last), b and c are not: 2 of {a, b, c} block this
        // node, b and c count as failed.
        assert_eq!(r.v_blocking_distance, Some(0));

        // Slot 6: c's first message comes after we decided: delayed. b is still
        // sending about slot 5 after slot 6 began: delayed (behind).
        h.on_message(&msg("a", 6, prepare(3)), Some(true), 300);
        h.on_message(&msg("b", 5, externalize(2)), Some(true), 320);
        h.on_decided(6, Some(&value(3)), 400);
        h.on_message(&msg("c", 6, externalize(3)), Some(true), 450);
        h.on_slot(7);
        let r = h.report(460);
        assert_eq!(
            states(&r),
            vec![
                ("a", Agree, true),
                ("b", Delayed, false),
                ("c", Delayed, false)
            ]
        );
        assert_eq!(
            r.members[1].recent,
            vec![
                SlotState {
                    slot: 6,
                    state: Delayed
                },
                SlotState {
                    slot: 5,
                    state: Disagree
                }
            ]
        );
        assert_eq!(r.v_blocking_distance, Some(0));
    }

    #[test]
    fn up_means_heard_for_the_current_slot() {
        let mut h = tracker();
        for m in ["a", "b", "c"] {
            h.on_message(&msg(m, 5, prepare(1)), Some(true), 100);
        }
        h.on_decided(5, Some(&value(1)), 200);
        h.on_slot(6);
        // Quiet network: everyone agreed on slot 5, the current slot has not begun.
        let r = h.report(60_000);
        assert!(r.members.iter().all(|m| m.up), "{r:?}");
        assert_eq!(r.v_blocking_distance, Some(2));
        // Slot 6 begins (this node nominates); within the grace everyone is still up.
        h.on_own_message(6, 61_000);
        h.on_message(&msg("a", 6, nominate(2)), Some(true), 61_100);
        h.on_message(&msg("b", 6, nominate(2)), Some(true), 61_200);
        assert_eq!(h.report(61_500).v_blocking_distance, Some(2));
        // After the grace, c, silent in slot 6, is down: one more failure blocks us.
        let r = h.report(61_000 + UP_GRACE_MS);
        assert_eq!(
            r.members.iter().map(|m| m.up).collect::<Vec<_>>(),
            vec![true, true, false]
        );
        assert_eq!(r.v_blocking_distance, Some(1));
        // Slot 6 decided without c: missing there; it comes back in slot 7: agree.
        h.on_decided(6, Some(&value(2)), 62_000);
        h.on_slot(7);
        h.on_own_message(7, 62_100);
        for m in ["a", "b", "c"] {
            h.on_message(&msg(m, 7, prepare(4)), Some(true), 62_200);
        }
        let r = h.report(70_000);
        assert_eq!(r.members[2].state, Some(MemberState::Missing));
        assert!(r.members[2].up);
        assert_eq!(r.v_blocking_distance, Some(2));
        h.on_decided(7, Some(&value(4)), 70_100);
        h.on_slot(8);
        assert_eq!(h.report(70_200).members[2].state, Some(MemberState::Agree));
    }

    #[test]
    fn a_member_on_another_block_disagrees_and_strangers_are_ignored() {
        let mut h = tracker();
        h.on_message(&msg("a", 5, prepare(1)), Some(true), 100);
        h.on_decided(5, None, 200);
        h.on_slot(6);
        // a's slot-6 messages build on another block 5.
        h.on_message(&msg("a", 6, nominate(1)), Some(false), 300);
        h.on_message(&msg("stranger", 6, nominate(1)), Some(true), 300);
        let r = h.report(400);
        assert_eq!(r.members.len(), 3);
        assert_eq!(r.members[0].state, Some(MemberState::Disagree));
        assert!(!r.members[0].up);
    }

    #[test]
    fn before_any_slot_members_answering_probes_are_up() {
        let mut h = tracker();
        let r = h.report(0);
        assert!(r.members.iter().all(|m| m.state.is_none() && !m.up));
        assert_eq!(r.v_blocking_distance, Some(0));
        // A restart on a quiet network: a and b answer height probes.
        h.on_answered(&id("a"), 1_000);
        h.on_answered(&id("b"), 1_000);
        h.on_answered(&id("stranger"), 1_000);
        let r = h.report(2_000);
        assert_eq!(
            r.members.iter().map(|m| m.up).collect::<Vec<_>>(),
            vec![true, true, false]
        );
        assert_eq!(r.v_blocking_distance, Some(1));
        // Answers too old count no more.
        let r = h.report(1_000 + ANSWERED_WITHIN_MS + 1);
        assert_eq!(r.v_blocking_distance, Some(0));
    }

    #[test]
    fn records_stay_within_the_window() {
        let mut h = tracker();
        for slot in 5..100 {
            h.on_message(&msg("a", slot, prepare(1)), Some(true), slot * 10);
            // Far ahead: only dates the member.
            h.on_message(&msg("b", slot + 50, prepare(1)), Some(true), slot * 10);
            h.on_decided(slot, Some(&value(1)), slot * 10 + 5);
            h.on_slot(slot + 1);
        }
        assert!(h.slots.len() <= HEALTH_SLOTS + 1, "{}", h.slots.len());
        let r = h.report(1_000);
        assert_eq!(r.members[0].recent.len(), HEALTH_SLOTS);
        assert_eq!(r.members[0].recent[0].slot, 99);
        assert_eq!(r.members[1].last_slot, Some(149));
        assert_eq!(r.members[1].state, Some(MemberState::Missing));
    }
}
