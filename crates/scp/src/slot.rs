//! One slot: the nomination protocol feeding the ballot protocol.
//!
//! Paper: section 6.1 (nomination), section 6.2 (ballot protocol), section 5 (federated
//! voting, used by both). The structure follows the paper's step numbering where noted;
//! like stellar-core, statements are kept per sender ("latest statement wins") and every
//! rule is re-evaluated over all of them until nothing changes.
//!
//! Deviations from the paper, all shared with stellar-core:
//! - the ballot counter is bumped to the lowest counter that no v-blocking set exceeds
//!   (paper step 9), and on timeout to `b.n + 1`, with the timer armed only once a quorum
//!   is at a counter at least ours (and, here, at restore);
//! - "quorum" means "satisfies the local quorum set after transitively pruning nodes
//!   whose own quorum set is not satisfied" (the local node need not have voted itself);
//! - nomination stops adding votes once a candidate is confirmed;
//! - validity has three levels, and only Valid values get the local node's votes,
//!   acceptances and confirmations (see the crate docs, "Validity levels").

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;
use crate::hash::{node_hash, value_hash, HashKind};
use crate::metrics::{BallotSnapshot, NominationSnapshot, SlotMetrics, SlotPhase, SlotSnapshot};
use crate::msg::{
    Ballot, BallotRef, BallotStatement, Confirm, Externalize, Millis, Msg, Nominate, Prepare,
    SlotIndex, Topic, Value,
};
use crate::node::{Config, Validity, ValuePolicy};
use crate::quorum_set::{NodeId, QuorumSet};
use crate::voting::{
    Compiled, Interner, Ix, Latest, QuorumSets, Voting, MAX_DISTINCT_QSETS, MAX_INTERNED,
};

/// The local node's index in a slot's [`Interner`].
const LOCAL: Ix = 0;

/// Ballot protocol phase. Paper: section 6.2, "phi".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Prepare,
    Confirm,
    Externalize,
}

/// Paper: section 6.1, the nomination state `X, Y, Z, N`.
#[derive(Debug)]
struct Nomination<V> {
    started: bool,
    stopped: bool,
    round: u32,
    own_value: Option<V>,
    /// Paper: `X`, values voted nominated.
    votes: BTreeSet<V>,
    /// Paper: `Y`, values accepted nominated.
    accepted: BTreeSet<V>,
    /// Paper: `Z`, confirmed nominated values (candidates).
    candidates: BTreeSet<V>,
    leaders: BTreeSet<NodeId>,
    /// Paper: `N`, the latest nomination statement of each node.
    latest: Latest<Nominate<V>>,
    /// The combination of the candidates, the value the ballot protocol starts with.
    composite: Option<V>,
    timer: Option<Millis>,
}

/// Paper: section 6.2, the ballot state `phi, b, p, p', h, c, z, M`.
#[derive(Debug)]
struct BallotState<V> {
    phase: Phase,
    /// Paper: `b`, the current ballot.
    b: Option<Ballot<V>>,
    /// Paper: `p`, the highest accepted-prepared ballot.
    p: Option<Ballot<V>>,
    /// Paper: `p'`, the highest accepted-prepared ballot incompatible with `p`.
    p_prime: Option<Ballot<V>>,
    /// Paper: `h`, the highest confirmed-prepared ballot (confirm phase: accepted commit).
    h: Option<Ballot<V>>,
    /// Paper: `c`, the lowest ballot we vote (or accepted, or confirmed) to commit.
    c: Option<Ballot<V>>,
    /// Paper: `z`, the value to use when bumping the counter.
    value_override: Option<V>,
    heard_from_quorum: bool,
    timer: Option<Millis>,
    /// Paper: `M`, the latest ballot statement of each node.
    latest: Latest<BallotStatement<V>>,
    /// Every ballot the statements in `latest` name (what could be accepted or
    /// confirmed prepared), with how many statements name it; kept up to date as
    /// statements are recorded, so a step does not collect and sort them again.
    candidates: BTreeMap<Ballot<V>, u32>,
}

/// One slot's protocol state.
#[derive(Debug)]
pub(crate) struct Slot<V> {
    index: SlotIndex,
    local: NodeId,
    qset: QuorumSet,
    config: Config,
    broken: bool,
    /// Every node id the slot met (the local node is [`LOCAL`]).
    peers: Interner,
    /// The local quorum set, compiled.
    local_qset: Compiled,
    /// Each node's latest quorum set.
    qsets: QuorumSets,
    nom: Nomination<V>,
    bal: BallotState<V>,
    last_nomination: Option<Msg<V>>,
    last_ballot: Option<Msg<V>>,
    help_replies: BTreeMap<NodeId, Millis>,
    received: u64,
    emitted: u64,
    /// Final verdicts (Valid or Invalid) of the policy on values of this slot; MaybeValid
    /// is asked again each time. Cleared when it reaches [`MAX_VERDICTS`].
    verdicts: RefCell<BTreeMap<V, Validity>>,
    /// Peers whose latest nomination names a value that was not Valid here when it
    /// was last evaluated (on receipt or by `revalidate`).
    nominations_not_valid: BTreeSet<Ix>,
    /// Peers whose latest ballot statement names a value that was not Valid here when
    /// it was last evaluated.
    ballots_not_valid: BTreeSet<Ix>,
}

/// Most validity verdicts a slot caches.
const MAX_VERDICTS: usize = 4096;

fn timeout(base: u64, max: u64, round: u32) -> Millis {
    base.saturating_mul(round.max(1) as u64).min(max)
}

/// Finds the widest interval `[lo, hi]` of boundaries (scanning from the top) for which
/// `pred` holds. Paper: section 6.2, step 6 and step 8 ("the highest h ... lowest c").
fn find_extended_interval(bounds: &[u32], pred: impl Fn(u32, u32) -> bool) -> Option<(u32, u32)> {
    let mut found: Option<(u32, u32)> = None;
    for &b in bounds.iter().rev() {
        let cur = match found {
            None => (b, b),
            Some((_, hi)) if b > hi => continue,
            Some((_, hi)) => (b, hi),
        };
        if pred(cur.0, cur.1) {
            found = Some(cur);
        } else if found.is_some() {
            break;
        }
    }
    found
}

impl<V: Value> Slot<V> {
    pub(crate) fn new(
        index: SlotIndex,
        local: NodeId,
        qset: QuorumSet,
        config: Config,
        broken: bool,
    ) -> Self {
        let mut peers = Interner::default();
        peers.intern(&local);
        let local_qset = Compiled::compile(&qset, &mut peers);
        let qsets = QuorumSets::new(LOCAL, &qset, &mut peers);
        Self {
            index,
            local,
            config,
            broken,
            peers,
            qsets,
            local_qset,
            qset,
            nom: Nomination {
                started: false,
                stopped: false,
                round: 0,
                own_value: None,
                votes: BTreeSet::new(),
                accepted: BTreeSet::new(),
                candidates: BTreeSet::new(),
                leaders: BTreeSet::new(),
                latest: Latest::default(),
                composite: None,
                timer: None,
            },
            bal: BallotState {
                phase: Phase::Prepare,
                b: None,
                p: None,
                p_prime: None,
                h: None,
                c: None,
                value_override: None,
                heard_from_quorum: false,
                timer: None,
                latest: Latest::default(),
                candidates: BTreeMap::new(),
            },
            last_nomination: None,
            last_ballot: None,
            help_replies: BTreeMap::new(),
            received: 0,
            emitted: 0,
            verdicts: RefCell::new(BTreeMap::new()),
            nominations_not_valid: BTreeSet::new(),
            ballots_not_valid: BTreeSet::new(),
        }
    }

    #[cfg(feature = "fault-injection")]
    pub(crate) fn set_broken(&mut self) {
        self.broken = true;
    }

    fn voting(&self) -> Voting<'_> {
        Voting {
            local: &self.local_qset,
            qsets: &self.qsets,
            broken: self.broken,
        }
    }

    /// Records `qs` as the quorum set of node `ix` (compiled only when it changed).
    fn learn_qset(&mut self, ix: Ix, qs: &QuorumSet) -> Result<(), Error> {
        if self.qsets.learn(ix, qs, &mut self.peers) {
            Ok(())
        } else {
            Err(Error::SlotFull {
                slot: self.index,
                what: "quorum sets",
                max: MAX_DISTINCT_QSETS,
            })
        }
    }

    pub(crate) fn externalized(&self) -> Option<&V> {
        match self.bal.phase {
            Phase::Externalize => self.bal.c.as_ref().map(|c| &c.value),
            _ => None,
        }
    }

    pub(crate) fn next_timeout(&self) -> Option<Millis> {
        match (self.nom.timer, self.bal.timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn last_messages(&self) -> impl Iterator<Item = &Msg<V>> {
        self.last_nomination.iter().chain(self.last_ballot.iter())
    }

    // ------------------------------------------------------------------ inputs

    /// The local node proposes `value` (already Valid and combined). Starts nomination
    /// (round 1) if it has not started; otherwise adds the value to the current round
    /// without starting a new one (voting for it if the node leads itself).
    pub(crate) fn propose(&mut self, value: V, policy: &dyn ValuePolicy<V>, now: Millis) {
        if self.bal.phase == Phase::Externalize {
            return;
        }
        self.nom.own_value = Some(value.clone());
        if !self.nom.started {
            self.nominate(false, policy, now);
        } else if !self.nom.stopped
            && self.nom.candidates.is_empty()
            && self.nom.leaders.contains(&self.local)
            && self.nom.votes.insert(value)
        {
            self.record_own_nomination();
        }
        self.step(policy, now);
    }

    /// Paper: section 6.1 ("valid" values), through the policy, with final verdicts
    /// cached for the slot.
    fn validity(&self, policy: &dyn ValuePolicy<V>, value: &V) -> Validity {
        if let Some(v) = self.verdicts.borrow().get(value) {
            return *v;
        }
        let verdict = policy.validity(self.index, value);
        if verdict != Validity::MaybeValid {
            let mut verdicts = self.verdicts.borrow_mut();
            if verdicts.len() >= MAX_VERDICTS {
                verdicts.clear();
            }
            verdicts.insert(value.clone(), verdict);
        }
        verdict
    }

    fn is_valid(&self, policy: &dyn ValuePolicy<V>, value: &V) -> bool {
        self.validity(policy, value) == Validity::Valid
    }

    /// The lowest validity among `values` (Valid for none).
    fn worst<'a>(
        &self,
        policy: &dyn ValuePolicy<V>,
        values: impl IntoIterator<Item = &'a V>,
    ) -> Validity {
        let mut worst = Validity::Valid;
        for v in values {
            worst = worst.min(self.validity(policy, v));
            if worst == Validity::Invalid {
                break;
            }
        }
        worst
    }

    /// A peer's statement (already structurally validated, not from us).
    pub(crate) fn handle(
        &mut self,
        msg: &Msg<V>,
        policy: &dyn ValuePolicy<V>,
        now: Millis,
    ) -> Result<(), Error> {
        self.received += 1;
        let Some(ix) = self.peers.intern(&msg.sender) else {
            return Err(Error::SlotFull {
                slot: self.index,
                what: "node ids",
                max: MAX_INTERNED,
            });
        };
        match &msg.topic {
            Topic::Nominate(n) => {
                if let Some(old) = self.nom.latest.get(ix) {
                    if !n.is_newer_than(old) {
                        return Ok(());
                    }
                }
                self.learn_qset(ix, &msg.quorum_set)?;
                self.nom.latest.insert(ix, n.clone());
                let worst = self.worst(policy, n.voted.iter().chain(&n.accepted));
                mark(
                    &mut self.nominations_not_valid,
                    ix,
                    worst != Validity::Valid,
                );
                if !self.nom.started {
                    // Every node takes part in nomination, with or without a value of its
                    // own: start round 1 now (this votes for the leaders' Valid values).
                    if self.bal.phase != Phase::Externalize && !self.nom.stopped {
                        self.nominate(false, policy, now);
                    }
                } else if !self.nom.stopped
                    && self.nom.candidates.is_empty()
                    && self.nom.leaders.contains(&msg.sender)
                {
                    if let Some(v) = self.new_value_from(&msg.sender, policy) {
                        self.nom.votes.insert(v);
                        self.record_own_nomination();
                    }
                }
            }
            Topic::Ballot(st) => {
                let worst = self.worst(policy, st.values());
                if worst == Validity::Invalid {
                    return Err(Error::InvalidValue {
                        sender: msg.sender.clone(),
                        slot: self.index,
                    });
                }
                if let Some(old) = self.bal.latest.get(ix) {
                    if !st.is_newer_than(old) {
                        return Ok(());
                    }
                }
                if self.bal.phase == Phase::Externalize {
                    // Only keep statements that agree with what we externalized.
                    if self.externalized() == Some(st.value()) {
                        self.put_ballot(ix, st.clone());
                    }
                    return Ok(());
                }
                self.learn_qset(ix, &msg.quorum_set)?;
                self.put_ballot(ix, st.clone());
                mark(&mut self.ballots_not_valid, ix, worst != Validity::Valid);
            }
        }
        // A ballot statement changes nothing nomination depends on.
        let nomination = matches!(msg.topic, Topic::Nominate(_));
        self.step_with(policy, now, nomination);
        Ok(())
    }

    /// Re-evaluates the slot after the policy may have turned MaybeValid values Valid:
    /// votes for the round leaders' values that are Valid now, then runs nomination and
    /// the ballot protocol to a fixpoint.
    pub(crate) fn revalidate(&mut self, policy: &dyn ValuePolicy<V>, now: Millis) {
        let noms: Vec<(Ix, Vec<V>)> = self
            .nom
            .latest
            .iter()
            .filter(|(n, _)| self.nominations_not_valid.contains(n))
            .map(|(n, st)| (n, st.voted.iter().chain(&st.accepted).cloned().collect()))
            .collect();
        for (sender, values) in noms {
            let worst = self.worst(policy, &values);
            mark(
                &mut self.nominations_not_valid,
                sender,
                worst != Validity::Valid,
            );
        }
        let bals: Vec<(Ix, Vec<V>)> = self
            .bal
            .latest
            .iter()
            .filter(|(n, _)| self.ballots_not_valid.contains(n))
            .map(|(n, st)| (n, st.values().into_iter().cloned().collect()))
            .collect();
        for (sender, values) in bals {
            let worst = self.worst(policy, &values);
            mark(
                &mut self.ballots_not_valid,
                sender,
                worst != Validity::Valid,
            );
        }
        if self.nom.started && !self.nom.stopped && self.nom.candidates.is_empty() {
            let leaders: Vec<NodeId> = self
                .nom
                .leaders
                .iter()
                .filter(|l| **l != self.local)
                .cloned()
                .collect();
            let mut voted = false;
            for leader in &leaders {
                if let Some(v) = self.new_value_from(leader, policy) {
                    voted |= self.nom.votes.insert(v);
                }
            }
            if voted {
                self.record_own_nomination();
            }
        }
        self.step(policy, now);
    }

    /// Fires due timers. Paper: section 6.1 (nomination rounds) and 6.2 step 10 (a ballot
    /// timer expiring makes the node bump its counter).
    pub(crate) fn fire_timers(&mut self, policy: &dyn ValuePolicy<V>, now: Millis) {
        if self.nom.timer.is_some_and(|t| t <= now) {
            self.nom.timer = None;
            self.nominate(true, policy, now);
        }
        if self.bal.timer.is_some_and(|t| t <= now) {
            self.bal.timer = None;
            if self.abandon_ballot(0) {
                self.record_own_ballot();
            }
        }
        self.step(policy, now);
    }

    /// Restores from a message this node emitted before a crash, arming the timers at
    /// `now`: a restored nomination starts round 1 (leaders and round timer), a restored
    /// ballot runs its ballot timer (as if a quorum had been heard at its counter, so a
    /// node that hears nobody still moves on once).
    pub(crate) fn restore(&mut self, msg: &Msg<V>, now: Millis) {
        match &msg.topic {
            Topic::Nominate(n) => {
                self.nom.votes.extend(n.voted.iter().cloned());
                self.nom.votes.extend(n.accepted.iter().cloned());
                self.nom.accepted.extend(n.accepted.iter().cloned());
                self.nom.started = true;
                self.record_own_nomination();
                self.last_nomination = Some(msg.clone());
                if self.nom.round == 0 && !self.nom.stopped && self.bal.phase != Phase::Externalize
                {
                    self.nom.round = 1;
                    self.update_leaders();
                    self.nom.timer = Some(now.saturating_add(timeout(
                        self.config.nomination_timeout_ms,
                        self.config.max_timeout_ms,
                        1,
                    )));
                }
            }
            Topic::Ballot(st) => {
                let bal = &mut self.bal;
                match st {
                    BallotStatement::Prepare(p) => {
                        let x = &p.ballot.value;
                        bal.phase = Phase::Prepare;
                        bal.b = Some(p.ballot.clone());
                        bal.p = p.prepared.clone();
                        bal.p_prime = p.prepared_prime.clone();
                        bal.h =
                            (p.high_counter != 0).then(|| Ballot::new(p.high_counter, x.clone()));
                        bal.c = (p.commit_counter != 0)
                            .then(|| Ballot::new(p.commit_counter, x.clone()));
                        bal.value_override = bal.h.as_ref().map(|h| h.value.clone());
                    }
                    BallotStatement::Confirm(c) => {
                        let x = &c.ballot.value;
                        bal.phase = Phase::Confirm;
                        bal.b = Some(c.ballot.clone());
                        bal.p = (c.prepared_counter != 0)
                            .then(|| Ballot::new(c.prepared_counter, x.clone()));
                        bal.p_prime = None;
                        bal.h = Some(Ballot::new(c.high_counter, x.clone()));
                        bal.c = Some(Ballot::new(c.commit_counter, x.clone()));
                        bal.value_override = Some(x.clone());
                    }
                    BallotStatement::Externalize(e) => {
                        let h = Ballot::new(e.high_counter, e.commit.value.clone());
                        bal.phase = Phase::Externalize;
                        bal.b = Some(h.clone());
                        bal.p = Some(h.clone());
                        bal.p_prime = None;
                        bal.h = Some(h);
                        bal.c = Some(e.commit.clone());
                        bal.value_override = Some(e.commit.value.clone());
                        self.nom.stopped = true;
                        self.nom.timer = None;
                    }
                }
                bal.heard_from_quorum = false;
                bal.timer = match bal.phase {
                    Phase::Externalize => None,
                    _ => Some(now.saturating_add(timeout(
                        self.config.ballot_timeout_ms,
                        self.config.max_timeout_ms,
                        st.counter(),
                    ))),
                };
                self.put_ballot(LOCAL, st.clone());
                self.last_ballot = Some(msg.clone());
            }
        }
    }

    /// Pushes our statements that changed since last emitted.
    pub(crate) fn take_outgoing(&mut self, out: &mut Vec<Msg<V>>) {
        if let Some(n) = self.nom.latest.get(LOCAL) {
            let topic = Topic::Nominate(n.clone());
            if self.last_nomination.as_ref().map(|m| &m.topic) != Some(&topic) {
                let msg = self.message(topic);
                self.last_nomination = Some(msg.clone());
                self.emitted += 1;
                out.push(msg);
            }
        }
        // A statement at counter 0 (accepted prepared, no ballot yet) is only counted
        // locally, never sent (it is not a well-formed message).
        if let Some(st) = self.bal.latest.get(LOCAL).filter(|s| s.counter() != 0) {
            let topic = Topic::Ballot(st.clone());
            if self.last_ballot.as_ref().map(|m| &m.topic) != Some(&topic) {
                let msg = self.message(topic);
                self.last_ballot = Some(msg.clone());
                self.emitted += 1;
                out.push(msg);
            }
        }
    }

    /// Whether to help `sender`, who is behind on this externalized slot: at most once
    /// per `interval` per sender.
    pub(crate) fn help_reply(
        &mut self,
        sender: &NodeId,
        now: Millis,
        interval: Millis,
    ) -> Option<Msg<V>> {
        self.externalized()?;
        if self
            .help_replies
            .get(sender)
            .is_some_and(|&t| now < t.saturating_add(interval))
        {
            return None;
        }
        self.help_replies.insert(sender.clone(), now);
        self.last_ballot.clone()
    }

    fn message(&self, topic: Topic<V>) -> Msg<V> {
        Msg {
            sender: self.local.clone(),
            slot: self.index,
            quorum_set: self.qset.clone(),
            topic,
        }
    }

    /// Runs nomination and the ballot protocol to a fixpoint.
    fn step(&mut self, policy: &dyn ValuePolicy<V>, now: Millis) {
        self.step_with(policy, now, true);
    }

    /// [`Slot::step`], skipping nomination when nothing it depends on changed.
    fn step_with(&mut self, policy: &dyn ValuePolicy<V>, now: Millis, nomination: bool) {
        if nomination && self.nomination_advance(policy) {
            if let Some(v) = self.nom.composite.clone() {
                // Paper: section 6.2, step 1: start the ballot protocol at <1, composite>.
                if self.bump_state(v, false) {
                    self.record_own_ballot();
                }
            }
        }
        let mut guard = 0u32;
        loop {
            let did = self.attempt_accept_prepared(policy)
                || self.attempt_confirm_prepared(policy)
                || self.attempt_accept_commit(policy)
                || self.attempt_confirm_commit(policy)
                || self.attempt_bump();
            if !did {
                break;
            }
            self.record_own_ballot();
            guard += 1;
            assert!(
                guard < 100_000,
                "ballot protocol failed to reach a fixpoint"
            );
        }
        self.check_heard_from_quorum(now);
    }

    // ------------------------------------------------------------------ nomination

    /// Paper: section 6.1, a nomination round: update leaders, copy their values, vote
    /// for our own value if we lead, and arm the round timer (linear in the round).
    fn nominate(&mut self, timed_out: bool, policy: &dyn ValuePolicy<V>, now: Millis) {
        if self.bal.phase == Phase::Externalize || self.nom.stopped {
            return;
        }
        if timed_out && !self.nom.started {
            return;
        }
        if !self.nom.candidates.is_empty() {
            // Paper: stop voting for new values once a candidate is confirmed.
            self.nom.timer = None;
            return;
        }
        self.nom.started = true;
        self.nom.round = self.nom.round.saturating_add(1);
        self.update_leaders();
        let leaders: Vec<NodeId> = self.nom.leaders.iter().cloned().collect();
        for leader in &leaders {
            if *leader == self.local {
                if let Some(v) = self.nom.own_value.clone() {
                    self.nom.votes.insert(v);
                }
            } else if let Some(v) = self.new_value_from(leader, policy) {
                self.nom.votes.insert(v);
            }
        }
        self.nom.timer = Some(now.saturating_add(timeout(
            self.config.nomination_timeout_ms,
            self.config.max_timeout_ms,
            self.nom.round,
        )));
        self.record_own_nomination();
    }

    /// Paper: section 6.1, leader selection: among the neighbours (nodes whose `G_1` is
    /// below their weight; always ourselves) the one with the highest `G_2` priority is
    /// added to the leaders. Leaders accumulate over rounds.
    ///
    /// mcnode adds one more leader: the highest-priority neighbour other than ourselves.
    /// A node is always its own neighbour, so a node that fails the neighbour hash in
    /// everyone else's view but has the highest priority leads only in its own view: it
    /// votes for its value while the others follow someone else, and with two such nodes
    /// in a 4-node network no value reaches a quorum of votes and the round times out
    /// (about 6 % of slots at 3 of 4). Following the leader the others see as well makes
    /// every node vote for that leader's value in the first round. Nomination's safety
    /// does not depend on which Valid values a node votes for (the ballot protocol
    /// decides), only its speed does.
    fn update_leaders(&mut self) {
        let round = self.nom.round;
        let mut best: Option<(u64, NodeId)> = None;
        let mut best_other: Option<(u64, NodeId)> = None;
        let mut nodes = self.qset.nodes();
        nodes.insert(self.local.clone());
        for node in nodes {
            let is_local = node == self.local;
            if !is_local {
                let weight = self.qset.weight(&node);
                if node_hash(HashKind::Neighbor, self.index, round, &node) >= weight {
                    continue;
                }
            }
            let prio = node_hash(HashKind::Priority, self.index, round, &node);
            if !is_local && best_other.as_ref().is_none_or(|(p, _)| prio > *p) {
                best_other = Some((prio, node.clone()));
            }
            if best.as_ref().is_none_or(|(p, _)| prio > *p) {
                best = Some((prio, node));
            }
        }
        if !self.config.follow_others_leader {
            best_other = None;
        }
        for (_, leader) in best.into_iter().chain(best_other) {
            self.nom.leaders.insert(leader);
        }
    }

    /// The Valid value from `leader`'s latest statement that we have not voted for yet,
    /// with the highest value hash. Paper: section 6.1 (a node votes only for valid
    /// values it hears from its leaders).
    fn new_value_from(&self, leader: &NodeId, policy: &dyn ValuePolicy<V>) -> Option<V> {
        let st = self.nom.latest.get(self.peers.get(leader)?)?;
        let mut best: Option<(u64, &V)> = None;
        for v in st.voted.iter().chain(st.accepted.iter()) {
            if self.nom.votes.contains(v) || !self.is_valid(policy, v) {
                continue;
            }
            let h = value_hash(self.index, self.nom.round, v);
            if best.is_none_or(|(b, _)| h >= b) {
                best = Some((h, v));
            }
        }
        best.map(|(_, v)| v.clone())
    }

    fn record_own_nomination(&mut self) {
        if self.nom.votes.is_empty() && self.nom.accepted.is_empty() {
            return;
        }
        let st = Nominate {
            voted: self.nom.votes.iter().cloned().collect(),
            accepted: self.nom.accepted.iter().cloned().collect(),
        };
        self.nom.latest.insert(LOCAL, st);
    }

    /// Paper: section 6.1: accept `nominate x` by federated voting, confirm it when a
    /// quorum accepted it. Returns whether new candidates were confirmed.
    fn nomination_advance(&mut self, policy: &dyn ValuePolicy<V>) -> bool {
        if !self.nom.started || self.nom.stopped {
            return false;
        }
        let mut new_candidates = false;
        loop {
            let accepted: Vec<V> = {
                let mut values: Vec<&V> = self
                    .nom
                    .latest
                    .values()
                    .flat_map(|s| s.voted.iter().chain(s.accepted.iter()))
                    .filter(|v| !self.nom.accepted.contains(*v))
                    .collect();
                values.sort_unstable();
                values.dedup();
                values
                    .into_iter()
                    .filter(|v| {
                        self.voting().accept(
                            &self.nom.latest,
                            |s| s.voted.binary_search(v).is_ok(),
                            |s| s.accepted.binary_search(v).is_ok(),
                        ) && self.is_valid(policy, v)
                    })
                    .cloned()
                    .collect()
            };
            let mut changed = !accepted.is_empty();
            for v in accepted {
                self.nom.votes.insert(v.clone());
                self.nom.accepted.insert(v);
            }
            // A restored accepted value may not be Valid here any more: never a
            // candidate then (combine gets Valid values only).
            let confirmed: Vec<V> = self
                .nom
                .accepted
                .iter()
                .filter(|v| {
                    !self.nom.candidates.contains(*v)
                        && self
                            .voting()
                            .ratify(&self.nom.latest, |s| s.accepted.binary_search(v).is_ok())
                        && self.is_valid(policy, v)
                })
                .cloned()
                .collect();
            if !confirmed.is_empty() {
                changed = true;
                new_candidates = true;
                self.nom.candidates.extend(confirmed);
            }
            if !changed {
                break;
            }
            self.record_own_nomination();
        }
        if new_candidates {
            let cands: Vec<V> = self.nom.candidates.iter().cloned().collect();
            self.nom.composite = Some(policy.combine(self.index, &cands));
            self.nom.timer = None;
        }
        new_candidates
    }

    // ------------------------------------------------------------------ ballot protocol

    /// Records node `ix`'s ballot statement, keeping the candidate ballots up to date.
    fn put_ballot(&mut self, ix: Ix, st: BallotStatement<V>) {
        // The distinct ballots a statement names, at counters above 0 (our own counter-0
        // statement, accepted prepared without a ballot, names no ballot anyone voted
        // for).
        fn named<'a, V: Value>(st: &'a BallotStatement<V>) -> Vec<BallotRef<'a, V>> {
            let mut out = Vec::new();
            st.prepare_candidates(&mut out);
            out.retain(|b| b.counter != 0);
            out.sort_unstable();
            out.dedup();
            out
        }
        if let Some(old) = self.bal.latest.get(ix) {
            for b in named(old) {
                let key = b.to_ballot();
                if let Some(n) = self.bal.candidates.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        self.bal.candidates.remove(&key);
                    }
                }
            }
        }
        for b in named(&st) {
            *self.bal.candidates.entry(b.to_ballot()).or_insert(0) += 1;
        }
        self.bal.latest.insert(ix, st);
    }

    /// Every ballot a statement names (borrowed), ascending, without repeats.
    fn prepare_candidates(&self) -> Vec<BallotRef<'_, V>> {
        self.bal.candidates.keys().map(Ballot::as_ref).collect()
    }

    /// Paper: section 6.2, steps 2-3 (accept prepared): raise `p` (and `p'`) to the
    /// highest ballot we can accept as prepared.
    fn attempt_accept_prepared(&mut self, policy: &dyn ValuePolicy<V>) -> bool {
        let phase = self.bal.phase;
        if phase == Phase::Externalize {
            return false;
        }
        let found = {
            let candidates = self.prepare_candidates();
            let p = self.bal.p.as_ref().map(Ballot::as_ref);
            let pp = self.bal.p_prime.as_ref().map(Ballot::as_ref);
            let h = self.bal.h.as_ref().map(Ballot::as_ref);
            candidates
                .into_iter()
                .rev()
                .find(|&ballot| {
                    if phase == Phase::Confirm {
                        // Only ballots that raise p along the committed value matter now.
                        let raises = match (p, h) {
                            (Some(p), _) => p < ballot && p.value == ballot.value,
                            (None, Some(h)) => h.value == ballot.value,
                            (None, None) => false,
                        };
                        if !raises {
                            return false;
                        }
                    } else {
                        if pp.is_some_and(|pp| ballot <= pp) {
                            return false;
                        }
                        if p.is_some_and(|p| ballot.is_less_and_compatible(p)) {
                            return false;
                        }
                    }
                    // Never accept a value that is not Valid here (paper section 6.1: only
                    // valid values); a lower ballot may still be acceptable.
                    self.voting().accept(
                        &self.bal.latest,
                        |s| s.votes_prepare(ballot),
                        |s| s.accepted_prepare(ballot),
                    ) && self.is_valid(policy, ballot.value)
                })
                .map(BallotRef::to_ballot)
        };
        found.is_some_and(|b| self.set_accept_prepared(b))
    }

    fn set_accept_prepared(&mut self, ballot: Ballot<V>) -> bool {
        let mut did = self.set_prepared(ballot);
        // Paper: step 3: accepting an incompatible prepared ballot above h aborts the
        // commit votes (c is cleared).
        if self.bal.phase == Phase::Prepare && self.bal.c.is_some() {
            if let Some(h) = &self.bal.h {
                let aborted = self
                    .bal
                    .p
                    .as_ref()
                    .is_some_and(|p| h.is_less_and_incompatible(p))
                    || self
                        .bal
                        .p_prime
                        .as_ref()
                        .is_some_and(|pp| h.is_less_and_incompatible(pp));
                if aborted {
                    self.bal.c = None;
                    did = true;
                }
            }
        }
        did
    }

    fn set_prepared(&mut self, ballot: Ballot<V>) -> bool {
        let bal = &mut self.bal;
        match &bal.p {
            None => {
                bal.p = Some(ballot);
                true
            }
            Some(p) if *p < ballot => {
                if !p.is_compatible(&ballot) {
                    bal.p_prime = bal.p.take();
                }
                bal.p = Some(ballot);
                true
            }
            Some(p) if *p > ballot => {
                let raise =
                    !p.is_compatible(&ballot) && bal.p_prime.as_ref().is_none_or(|pp| *pp < ballot);
                if raise {
                    bal.p_prime = Some(ballot);
                }
                raise
            }
            Some(_) => false,
        }
    }

    /// Paper: section 6.2, steps 4-5 (confirm prepared): set `h` to the highest ballot
    /// confirmed prepared and, if we are not committed elsewhere, `c` to the lowest
    /// ballot such that every ballot from it to `h` is confirmed prepared.
    fn attempt_confirm_prepared(&mut self, policy: &dyn ValuePolicy<V>) -> bool {
        if self.bal.phase != Phase::Prepare || self.bal.p.is_none() {
            return false;
        }
        let found = {
            let candidates = self.prepare_candidates();
            let h = self.bal.h.as_ref().map(Ballot::as_ref);
            let mut idx = None;
            for (i, &ballot) in candidates.iter().enumerate().rev() {
                if h.is_some_and(|h| ballot <= h) {
                    break;
                }
                if self
                    .voting()
                    .ratify(&self.bal.latest, |s| s.accepted_prepare(ballot))
                    && self.is_valid(policy, ballot.value)
                {
                    idx = Some(i);
                    break;
                }
            }
            idx.map(|idx| {
                let new_h = candidates[idx];
                let mut new_c = None;
                let not_aborted = |b: &Option<Ballot<V>>| {
                    b.as_ref()
                        .is_none_or(|x| !(new_h <= x.as_ref() && *new_h.value != x.value))
                };
                let b = self.bal.b.as_ref().map(Ballot::as_ref);
                if self.bal.c.is_none()
                    && not_aborted(&self.bal.p)
                    && not_aborted(&self.bal.p_prime)
                {
                    for &ballot in candidates[..=idx].iter().rev() {
                        if b.is_some_and(|b| ballot < b) {
                            break;
                        }
                        if !ballot.is_less_and_compatible(new_h) {
                            continue;
                        }
                        if self
                            .voting()
                            .ratify(&self.bal.latest, |s| s.accepted_prepare(ballot))
                        {
                            new_c = Some(ballot);
                        } else {
                            break;
                        }
                    }
                }
                (new_c.map(BallotRef::to_ballot), new_h.to_ballot())
            })
        };
        match found {
            Some((new_c, new_h)) => self.set_confirm_prepared(new_c, new_h),
            None => false,
        }
    }

    fn set_confirm_prepared(&mut self, new_c: Option<Ballot<V>>, new_h: Ballot<V>) -> bool {
        let mut did = false;
        self.bal.value_override = Some(new_h.value.clone());
        if self.bal.b.as_ref().is_none_or(|b| b.is_compatible(&new_h)) {
            if self.bal.h.as_ref().is_none_or(|h| new_h > *h) {
                self.bal.h = Some(new_h.clone());
                did = true;
            }
            if let Some(c) = new_c {
                self.bal.c = Some(c);
                did = true;
            }
        }
        // Paper: step 8 with the computed h: raise b to h if it is below.
        self.update_current_if_needed(&new_h) || did
    }

    /// Paper: section 6.2, step 6 (accept commit): accept `commit` for the widest
    /// counter range with one value, by federated voting.
    fn attempt_accept_commit(&mut self, policy: &dyn ValuePolicy<V>) -> bool {
        let found = {
            let values: Vec<&V> = match self.bal.phase {
                Phase::Externalize => return false,
                Phase::Confirm => match &self.bal.h {
                    Some(h) => vec![&h.value],
                    None => return false,
                },
                Phase::Prepare => {
                    let mut v: Vec<&V> = self
                        .bal
                        .latest
                        .values()
                        .filter(|s| match s {
                            BallotStatement::Prepare(p) => p.commit_counter != 0,
                            _ => true,
                        })
                        .map(BallotStatement::value)
                        .collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                }
            };
            let mut found = None;
            for x in values {
                let mut bounds = Vec::new();
                for st in self.bal.latest.values() {
                    st.commit_boundaries(x, &mut bounds);
                }
                bounds.sort_unstable();
                bounds.dedup();
                let interval = find_extended_interval(&bounds, |lo, hi| {
                    self.voting().accept(
                        &self.bal.latest,
                        |s| s.votes_commit(x, lo, hi),
                        |s| s.accepted_commit(x, lo, hi),
                    )
                });
                if let Some((lo, hi)) = interval {
                    if !self.is_valid(policy, x) {
                        continue;
                    }
                    let improves = self.bal.phase == Phase::Prepare
                        || self.bal.h.as_ref().is_none_or(|h| hi > h.counter);
                    if improves {
                        found = Some((lo, hi, x.clone()));
                        break;
                    }
                }
            }
            found
        };
        match found {
            Some((lo, hi, x)) => {
                self.set_accept_commit(Ballot::new(lo, x.clone()), Ballot::new(hi, x))
            }
            None => false,
        }
    }

    fn set_accept_commit(&mut self, c: Ballot<V>, h: Ballot<V>) -> bool {
        let mut did = false;
        self.bal.value_override = Some(h.value.clone());
        if self.bal.c.as_ref() != Some(&c) || self.bal.h.as_ref() != Some(&h) {
            self.bal.c = Some(c);
            self.bal.h = Some(h.clone());
            did = true;
        }
        if self.bal.phase == Phase::Prepare {
            self.bal.phase = Phase::Confirm;
            if self
                .bal
                .b
                .as_ref()
                .is_some_and(|b| !h.is_less_and_compatible(b))
            {
                self.bump_to_ballot(h.clone());
            }
            self.bal.p_prime = None;
            did = true;
        }
        if did {
            self.update_current_if_needed(&h);
        }
        did
    }

    /// Paper: section 6.2, step 7-8 (confirm commit): a quorum accepted the commit range;
    /// externalize.
    fn attempt_confirm_commit(&mut self, policy: &dyn ValuePolicy<V>) -> bool {
        if self.bal.phase != Phase::Confirm || self.bal.c.is_none() {
            return false;
        }
        let found = {
            let Some(x) = self.bal.h.as_ref().map(|h| &h.value) else {
                return false;
            };
            let mut bounds = Vec::new();
            for st in self.bal.latest.values() {
                st.commit_boundaries(x, &mut bounds);
            }
            bounds.sort_unstable();
            bounds.dedup();
            let interval = find_extended_interval(&bounds, |lo, hi| {
                self.voting()
                    .ratify(&self.bal.latest, |s| s.accepted_commit(x, lo, hi))
            });
            match interval {
                Some((lo, hi)) if self.is_valid(policy, x) => (lo, hi, x.clone()),
                _ => return false,
            }
        };
        let (lo, hi, x) = found;
        let h = Ballot::new(hi, x.clone());
        self.bal.c = Some(Ballot::new(lo, x));
        self.bal.h = Some(h.clone());
        self.update_current_if_needed(&h);
        self.bal.phase = Phase::Externalize;
        self.bal.timer = None;
        self.nom.timer = None;
        self.nom.stopped = true;
        true
    }

    /// Paper: section 6.2, step 9: if a v-blocking set is at a higher counter, move to the
    /// lowest counter that no v-blocking set exceeds.
    fn attempt_bump(&mut self) -> bool {
        if self.bal.phase == Phase::Externalize {
            return false;
        }
        let local = self.bal.b.as_ref().map_or(0, |b| b.counter);
        let ahead = |n: u32| {
            self.voting()
                .v_blocking(&self.bal.latest, |s| s.counter() > n)
        };
        if !ahead(local) {
            return false;
        }
        let counters: BTreeSet<u32> = self
            .bal
            .latest
            .values()
            .map(|s| s.counter())
            .filter(|&n| n > local)
            .collect();
        for n in counters {
            if !ahead(n) {
                return self.abandon_ballot(n);
            }
        }
        false
    }

    /// Moves to counter `n` (or `b.n + 1` when `n == 0`) with the best value we have:
    /// `z`, else the nomination composite, else `b.x`.
    fn abandon_ballot(&mut self, n: u32) -> bool {
        let value = self
            .bal
            .value_override
            .clone()
            .or_else(|| self.nom.composite.clone())
            .or_else(|| self.bal.b.as_ref().map(|b| b.value.clone()));
        let Some(value) = value else {
            return false;
        };
        if n == 0 {
            self.bump_state(value, true)
        } else {
            self.bump_state_to(value, n)
        }
    }

    fn bump_state(&mut self, value: V, force: bool) -> bool {
        if !force && self.bal.b.is_some() {
            return false;
        }
        let n = match &self.bal.b {
            None => 1,
            Some(b) => match b.counter.checked_add(1) {
                Some(n) => n,
                None => return false,
            },
        };
        self.bump_state_to(value, n)
    }

    fn bump_state_to(&mut self, value: V, n: u32) -> bool {
        if self.bal.phase == Phase::Externalize {
            return false;
        }
        let value = self.bal.value_override.clone().unwrap_or(value);
        let ballot = Ballot::new(n, value);
        if let Some(c) = &self.bal.c {
            if !c.is_compatible(&ballot) {
                return false;
            }
        }
        if self.bal.b.as_ref().is_some_and(|b| *b >= ballot) {
            return false;
        }
        self.bump_to_ballot(ballot);
        true
    }

    fn update_current_if_needed(&mut self, h: &Ballot<V>) -> bool {
        if self.bal.b.as_ref().is_none_or(|b| b < h) {
            self.bump_to_ballot(h.clone());
            true
        } else {
            false
        }
    }

    fn bump_to_ballot(&mut self, ballot: Ballot<V>) {
        assert!(
            self.bal.phase != Phase::Externalize,
            "ballot changed after externalize"
        );
        let bumped = self
            .bal
            .b
            .as_ref()
            .is_none_or(|b| b.counter != ballot.counter);
        if self
            .bal
            .h
            .as_ref()
            .is_some_and(|h| !h.is_compatible(&ballot))
        {
            self.bal.h = None;
            self.bal.c = None;
        }
        self.bal.b = Some(ballot);
        if bumped {
            self.bal.heard_from_quorum = false;
        }
    }

    /// Paper: section 6.2, step 10: arm the ballot timer once a quorum is at our counter
    /// or above; disarm it when that stops being true.
    fn check_heard_from_quorum(&mut self, now: Millis) {
        if self.bal.phase == Phase::Externalize {
            self.bal.timer = None;
            return;
        }
        let Some(n) = self.bal.b.as_ref().map(|b| b.counter) else {
            return;
        };
        let heard = self.voting().ratify(&self.bal.latest, |s| s.counter() >= n);
        if heard {
            if !self.bal.heard_from_quorum {
                self.bal.heard_from_quorum = true;
                self.bal.timer = Some(now.saturating_add(timeout(
                    self.config.ballot_timeout_ms,
                    self.config.max_timeout_ms,
                    n,
                )));
            }
        } else {
            self.bal.heard_from_quorum = false;
            self.bal.timer = None;
        }
    }

    /// Our current ballot statement, from the state. Paper: section 6.2, the message of
    /// each phase.
    fn own_ballot_statement(&self) -> Option<BallotStatement<V>> {
        let bal = &self.bal;
        let Some(b) = bal.b.as_ref() else {
            // No ballot yet, but accepted prepared (pulled in by peers): a statement at
            // counter 0 that counts our acceptance in federated voting without voting
            // for any ballot. It is recorded, never sent (as stellar-core does).
            let p = bal.p.clone()?;
            return Some(BallotStatement::Prepare(Prepare {
                ballot: Ballot::new(0, p.value.clone()),
                prepared: Some(p),
                prepared_prime: bal.p_prime.clone(),
                commit_counter: 0,
                high_counter: 0,
            }));
        };
        let counter_if_compatible = |x: &Option<Ballot<V>>| {
            x.as_ref()
                .filter(|x| x.is_compatible(b))
                .map_or(0, |x| x.counter)
        };
        Some(match bal.phase {
            Phase::Prepare => BallotStatement::Prepare(Prepare {
                ballot: b.clone(),
                prepared: bal.p.clone(),
                prepared_prime: bal.p_prime.clone(),
                commit_counter: counter_if_compatible(&bal.c),
                high_counter: counter_if_compatible(&bal.h),
            }),
            Phase::Confirm => BallotStatement::Confirm(Confirm {
                ballot: b.clone(),
                prepared_counter: bal.p.as_ref().map_or(0, |p| p.counter),
                commit_counter: bal.c.as_ref()?.counter,
                high_counter: bal.h.as_ref()?.counter,
            }),
            Phase::Externalize => BallotStatement::Externalize(Externalize {
                commit: bal.c.clone()?,
                high_counter: bal.h.as_ref()?.counter,
            }),
        })
    }

    fn record_own_ballot(&mut self) {
        if let Some(st) = self.own_ballot_statement() {
            self.put_ballot(LOCAL, st);
        }
    }

    // ------------------------------------------------------------------ observability

    pub(crate) fn metrics(&self) -> SlotMetrics {
        SlotMetrics {
            slot: self.index,
            phase: self.phase(),
            ballot_counter: self.bal.b.as_ref().map_or(0, |b| b.counter),
            nomination_round: self.nom.round,
            voted: self.nom.votes.len(),
            accepted: self.nom.accepted.len(),
            confirmed: self.nom.candidates.len(),
            heard_from_quorum: self.bal.heard_from_quorum,
            messages_received: self.received,
            messages_emitted: self.emitted,
            nominations_not_valid: self.nominations_not_valid.len(),
            ballots_not_valid: self.ballots_not_valid.len(),
        }
    }

    fn phase(&self) -> SlotPhase {
        match (self.bal.phase, &self.bal.b) {
            (Phase::Prepare, None) => SlotPhase::Nominate,
            (Phase::Prepare, Some(_)) => SlotPhase::Prepare,
            (Phase::Confirm, _) => SlotPhase::Confirm,
            (Phase::Externalize, _) => SlotPhase::Externalize,
        }
    }

    pub(crate) fn snapshot(&self, policy: &dyn ValuePolicy<V>) -> SlotSnapshot<V> {
        let named: BTreeSet<&V> = self
            .nom
            .latest
            .values()
            .flat_map(|n| n.voted.iter().chain(&n.accepted))
            .chain(self.bal.latest.values().flat_map(|b| b.values()))
            .collect();
        let maybe_valid_values = named
            .into_iter()
            .filter(|v| self.validity(policy, v) == Validity::MaybeValid)
            .cloned()
            .collect();
        let statements_not_valid = self
            .nominations_not_valid
            .union(&self.ballots_not_valid)
            .map(|&ix| self.peers.id(ix).clone())
            .collect();
        SlotSnapshot {
            slot: self.index,
            local: self.local.clone(),
            phase: self.phase(),
            nomination: NominationSnapshot {
                started: self.nom.started,
                round: self.nom.round,
                leaders: self.nom.leaders.iter().cloned().collect(),
                voted: self.nom.votes.iter().cloned().collect(),
                accepted: self.nom.accepted.iter().cloned().collect(),
                candidates: self.nom.candidates.iter().cloned().collect(),
                composite: self.nom.composite.clone(),
                timer_deadline_ms: self.nom.timer,
            },
            ballot: BallotSnapshot {
                b: self.bal.b.clone(),
                p: self.bal.p.clone(),
                p_prime: self.bal.p_prime.clone(),
                h: self.bal.h.clone(),
                c: self.bal.c.clone(),
                value_override: self.bal.value_override.clone(),
                heard_from_quorum: self.bal.heard_from_quorum,
                timer_deadline_ms: self.bal.timer,
            },
            latest_nominations: self.nom.latest.to_map(&self.peers),
            latest_ballots: self.bal.latest.to_map(&self.peers),
            externalized: self.externalized().cloned(),
            maybe_valid_values,
            statements_not_valid,
        }
    }
}

/// Adds `sender` to `set` when `flag`, removes it otherwise.
fn mark(set: &mut BTreeSet<Ix>, sender: Ix, flag: bool) {
    if flag {
        set.insert(sender);
    } else {
        set.remove(&sender);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct AllValid;
    impl ValuePolicy<u64> for AllValid {
        fn validity(&self, _slot: SlotIndex, _value: &u64) -> Validity {
            Validity::Valid
        }
        fn combine(&self, _slot: SlotIndex, candidates: &[u64]) -> u64 {
            candidates.iter().copied().max().unwrap_or_default()
        }
    }

    /// The candidate ballots kept up to date as statements arrive are exactly those the
    /// recorded statements name, each counted once per statement.
    #[test]
    fn candidate_ballots_follow_the_statements() {
        let ids: Vec<NodeId> = (0..5)
            .map(|i| NodeId::from(format!("v{i}").as_str()))
            .collect();
        let qset = QuorumSet::flat(4, ids.clone()).unwrap();
        let mut slot = Slot::new(1, ids[0].clone(), qset.clone(), Config::default(), false);
        slot.propose(3, &AllValid, 0);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for i in 0..3000u64 {
            let b = Ballot::new(1 + rnd(4) as u32, rnd(3));
            let st = match rnd(3) {
                0 => {
                    let p = (rnd(2) == 0).then(|| Ballot::new(b.counter, b.value));
                    BallotStatement::Prepare(Prepare {
                        ballot: b,
                        prepared: p,
                        prepared_prime: None,
                        commit_counter: 0,
                        high_counter: 0,
                    })
                }
                1 => BallotStatement::Confirm(Confirm {
                    prepared_counter: b.counter,
                    commit_counter: 1,
                    high_counter: b.counter,
                    ballot: b,
                }),
                _ => BallotStatement::Externalize(Externalize {
                    high_counter: b.counter,
                    commit: b,
                }),
            };
            let msg = Msg {
                sender: ids[1 + rnd(4) as usize].clone(),
                slot: 1,
                quorum_set: qset.clone(),
                topic: Topic::Ballot(st),
            };
            let _ = slot.handle(&msg, &AllValid, i);
            let mut want: BTreeMap<Ballot<u64>, u32> = BTreeMap::new();
            for st in slot.bal.latest.values() {
                let mut named = Vec::new();
                st.prepare_candidates(&mut named);
                let named: BTreeSet<Ballot<u64>> = named
                    .into_iter()
                    .filter(|b| b.counter != 0)
                    .map(BallotRef::to_ballot)
                    .collect();
                for b in named {
                    *want.entry(b).or_default() += 1;
                }
            }
            assert_eq!(slot.bal.candidates, want, "after message {i}");
            if slot.externalized().is_some() {
                slot = Slot::new(1, ids[0].clone(), qset.clone(), Config::default(), false);
                slot.propose(3, &AllValid, i);
            }
        }
    }

    #[test]
    fn extended_interval_scans_from_the_top() {
        let bounds = [1, 2, 4, 7];
        // Everything at or below 4 holds: widest interval is [1, 4].
        assert_eq!(
            find_extended_interval(&bounds, |_, hi| hi <= 4),
            Some((1, 4))
        );
        // Only [2, 4]... holds when lo >= 2.
        assert_eq!(
            find_extended_interval(&bounds, |lo, hi| lo >= 2 && hi <= 4),
            Some((2, 4))
        );
        assert_eq!(find_extended_interval(&bounds, |_, _| false), None);
    }

    #[test]
    fn timeouts_grow_linearly_and_are_capped() {
        assert_eq!(timeout(1000, 5000, 1), 1000);
        assert_eq!(timeout(1000, 5000, 3), 3000);
        assert_eq!(timeout(1000, 5000, 9), 5000);
    }
}
