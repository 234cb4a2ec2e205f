//! The node: the slots of one local node, behind a raft-rs style API.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::metrics::{SlotMetrics, SlotSnapshot};
use crate::msg::{BallotStatement, Millis, Msg, SlotIndex, Topic, Value};
use crate::quorum_set::{NodeId, QuorumSet};
use crate::slot::Slot;

/// How far the local node can vouch for a value. Paper: section 6.1 ("valid" values);
/// stellar-core's validation levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// Never acceptable in this slot (must depend only on the value, the slot and the
    /// ledger the slot builds on, never on what one node happens to hold).
    Invalid,
    /// Not decidable yet (e.g. it names transactions this node does not hold yet).
    MaybeValid,
    /// Fully validated.
    Valid,
}

/// What the application decides about values: how far the local node can vouch for a
/// value, and how to combine confirmed nomination candidates into the one value the
/// ballot protocol works on.
///
/// Paper: section 6.1, "valid" values and the `combine` function of candidates.
pub trait ValuePolicy<V> {
    /// The validity of `value` in `slot`. Deterministic for a given slot, value and
    /// application state; may move from MaybeValid to Valid or Invalid as the
    /// application learns more, never away from Valid/Invalid. After it learned
    /// something that may turn a MaybeValid value into a Valid one, the application calls
    /// [`Node::revalidate`].
    fn validity(&self, slot: SlotIndex, value: &V) -> Validity;
    /// Combines the confirmed candidates (non-empty, sorted, each Valid) into the value
    /// the ballot protocol starts with. Must return a value, and one that is Valid here
    /// (the local node votes for it at once).
    fn combine(&self, slot: SlotIndex, candidates: &[V]) -> V;
}

/// Protocol timing and limits. Plain data; check with [`Config::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Nomination round `r` lasts `r` times this, in milliseconds. Default 1000.
    pub nomination_timeout_ms: u64,
    /// Ballot counter `n` times out after `n` times this, in milliseconds. Default 1000.
    pub ballot_timeout_ms: u64,
    /// Upper bound on any timeout, in milliseconds. Default 30 minutes.
    pub max_timeout_ms: u64,
    /// Every this many milliseconds the node re-sends its latest messages for open slots,
    /// the newest externalized slot, and externalized slots (up to `max_slots_ahead` back)
    /// that some peer it heard from has not said it externalized (peers drop duplicates);
    /// `None` never re-sends. Also the minimum gap between two replies helping the same
    /// peer that is behind on a slot. Default 2000.
    pub rebroadcast_interval_ms: Option<u64>,
    /// Messages for slots more than this beyond the highest slot proposed or externalized
    /// locally are refused. Default 8.
    pub max_slots_ahead: u64,
    /// Most values a nomination message may carry (voted plus accepted). Default 1000.
    pub max_nomination_values: usize,
    /// Also count among a round's leaders the highest-priority neighbour other than this
    /// node (see the nomination section of the crate docs): all nodes then vote for one
    /// leader's value in the first round. `false` is the paper's rule alone. Default true.
    pub follow_others_leader: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            nomination_timeout_ms: 1000,
            ballot_timeout_ms: 1000,
            max_timeout_ms: 30 * 60 * 1000,
            rebroadcast_interval_ms: Some(2000),
            max_slots_ahead: 8,
            max_nomination_values: 1000,
            follow_others_leader: true,
        }
    }
}

impl Config {
    /// Checks that timeouts are positive and ordered and limits non-zero.
    pub fn validate(&self) -> Result<(), Error> {
        if self.nomination_timeout_ms == 0 || self.ballot_timeout_ms == 0 {
            return Err(Error::Config("timeouts must be positive"));
        }
        if self.max_timeout_ms < self.nomination_timeout_ms.max(self.ballot_timeout_ms) {
            return Err(Error::Config(
                "max_timeout_ms must be at least the base timeouts",
            ));
        }
        if self.rebroadcast_interval_ms == Some(0) {
            return Err(Error::Config("rebroadcast_interval_ms must be positive"));
        }
        if self.max_slots_ahead == 0 || self.max_nomination_values == 0 {
            return Err(Error::Config(
                "max_slots_ahead and max_nomination_values must be positive",
            ));
        }
        Ok(())
    }
}

/// One local node running SCP over any number of slots.
///
/// Every input returns the messages to broadcast to all peers; the caller also calls
/// [`Node::process_timeouts`] at [`Node::next_timeout`]. Nothing here reads a clock.
#[derive(Debug)]
pub struct Node<V, P> {
    id: NodeId,
    quorum_set: QuorumSet,
    config: Config,
    policy: P,
    slots: BTreeMap<SlotIndex, Slot<V>>,
    highest_slot: SlotIndex,
    purge_floor: SlotIndex,
    rebroadcast_at: Option<Millis>,
    /// Recent slots each peer told us it externalized (within `max_slots_ahead` of our
    /// newest); at most [`MAX_TRACKED_PEERS`] peers.
    peer_externalized: BTreeMap<NodeId, BTreeSet<SlotIndex>>,
    /// The latest quorum set each peer sent that passed validation (so the same set is
    /// compared, not validated again); at most [`MAX_TRACKED_PEERS`] peers.
    valid_qsets: BTreeMap<NodeId, QuorumSet>,
    broken: bool,
}

/// Most peers whose progress a node tracks (to re-send externalize messages to laggards).
pub const MAX_TRACKED_PEERS: usize = crate::quorum_set::MAX_QUORUM_SET_NODES;

impl<V: Value, P: ValuePolicy<V>> Node<V, P> {
    /// A node with identity `id` and local quorum set `quorum_set` (validated and
    /// normalised here).
    pub fn new(
        id: NodeId,
        quorum_set: QuorumSet,
        policy: P,
        config: Config,
    ) -> Result<Self, Error> {
        id.validate().map_err(Error::LocalNodeId)?;
        quorum_set.validate().map_err(Error::LocalQuorumSet)?;
        config.validate()?;
        Ok(Self {
            id,
            quorum_set: quorum_set.normalized(),
            config,
            policy,
            slots: BTreeMap::new(),
            highest_slot: 0,
            purge_floor: 0,
            rebroadcast_at: None,
            peer_externalized: BTreeMap::new(),
            valid_qsets: BTreeMap::new(),
            broken: false,
        })
    }

    /// Deliberately breaks federated voting: any v-blocking set counts as a quorum.
    /// Exists only to prove that the simulator's invariants catch a broken protocol.
    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn break_quorum_check_for_fault_injection(&mut self) {
        self.broken = true;
        for slot in self.slots.values_mut() {
            slot.set_broken();
        }
    }

    /// The local node's id.
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// The local quorum set (normalised).
    pub fn quorum_set(&self) -> &QuorumSet {
        &self.quorum_set
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The value policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The value policy, to change what it knows (then call [`Node::revalidate`] for the
    /// slots whose values it may have made Valid).
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    fn slot_mut(&mut self, index: SlotIndex) -> &mut Slot<V> {
        let (id, qs, config, broken) = (&self.id, &self.quorum_set, self.config, self.broken);
        self.slots
            .entry(index)
            .or_insert_with(|| Slot::new(index, id.clone(), qs.clone(), config, broken))
    }

    fn arm_rebroadcast(&mut self, now: Millis) {
        if self.rebroadcast_at.is_none() {
            self.rebroadcast_at = self
                .config
                .rebroadcast_interval_ms
                .map(|i| now.saturating_add(i));
        }
    }

    fn check_window(&self, slot: SlotIndex) -> Result<(), Error> {
        if slot < self.purge_floor {
            return Err(Error::SlotPurged {
                slot,
                floor: self.purge_floor,
            });
        }
        if slot
            > self
                .highest_slot
                .saturating_add(self.config.max_slots_ahead)
        {
            return Err(Error::SlotTooFarAhead {
                slot,
                highest: self.highest_slot,
                max_ahead: self.config.max_slots_ahead,
            });
        }
        Ok(())
    }

    /// Proposes `values` for `slot`: those that are not [`Validity::Valid`] are dropped,
    /// the rest combined with the policy into the value this node nominates. Paper:
    /// section 6.1.
    ///
    /// If the node already takes part in the slot's nomination (it heard a peer nominate,
    /// or it was restored), the value is added without starting a new round: the node
    /// votes for it at once if it is among its own round leaders.
    pub fn propose_values(
        &mut self,
        slot: SlotIndex,
        values: Vec<V>,
        now: Millis,
    ) -> Result<Vec<Msg<V>>, Error> {
        if slot == 0 || slot < self.purge_floor {
            return Err(Error::SlotPurged {
                slot,
                floor: self.purge_floor.max(1),
            });
        }
        let mut valid: Vec<V> = values
            .into_iter()
            .filter(|v| self.policy.validity(slot, v) == Validity::Valid)
            .collect();
        valid.sort();
        valid.dedup();
        let value = match valid.len() {
            0 => return Err(Error::NoValidValue { slot }),
            1 => valid.swap_remove(0),
            _ => self.policy.combine(slot, &valid),
        };
        self.highest_slot = self.highest_slot.max(slot);
        self.arm_rebroadcast(now);
        let mut out = Vec::new();
        self.slot_mut(slot);
        let policy = &self.policy;
        if let Some(entry) = self.slots.get_mut(&slot) {
            entry.propose(value, policy, now);
            entry.take_outgoing(&mut out);
        }
        Ok(out)
    }

    /// Re-evaluates `slot` after the application's view of values changed (e.g. missing
    /// transactions arrived, so a MaybeValid value may be Valid now): runs nomination and
    /// the ballot protocol over the statements recorded, and returns the messages to
    /// broadcast. A no-op for slots not held or already externalized.
    ///
    /// Everything a MaybeValid value may have blocked is retried: voting for the round
    /// leaders' values (paper section 6.1), accepting and confirming `nominate x`, and
    /// every step of the ballot protocol (section 6.2).
    pub fn revalidate(&mut self, slot: SlotIndex, now: Millis) -> Vec<Msg<V>> {
        let mut out = Vec::new();
        let policy = &self.policy;
        if let Some(entry) = self.slots.get_mut(&slot) {
            if entry.externalized().is_none() {
                entry.revalidate(policy, now);
                entry.take_outgoing(&mut out);
            }
        }
        out
    }

    /// Handles a peer's message. Malformed messages, ballot statements naming an
    /// [`Validity::Invalid`] value and slots outside the window give an error and change
    /// nothing. A ballot statement naming a MaybeValid value (and no Invalid one) is
    /// recorded like any other (`Ok`); the node just does not vote for, accept or
    /// confirm that value until [`Node::revalidate`] finds it Valid. Nomination
    /// statements are recorded whatever their values' validity. A nomination for a slot
    /// in which this node has not started nominating makes it join the slot's nomination
    /// (round 1, without a value of its own).
    pub fn handle_message(&mut self, msg: &Msg<V>, now: Millis) -> Result<Vec<Msg<V>>, Error> {
        let known = self.valid_qsets.get(&msg.sender) == Some(&msg.quorum_set);
        msg.validate_with(self.config.max_nomination_values, known)
            .map_err(|source| Error::Malformed {
                sender: msg.sender.clone(),
                slot: msg.slot,
                source,
            })?;
        if !known
            && msg.sender != self.id
            && (self.valid_qsets.len() < MAX_TRACKED_PEERS
                || self.valid_qsets.contains_key(&msg.sender))
        {
            self.valid_qsets
                .insert(msg.sender.clone(), msg.quorum_set.clone());
        }
        if msg.sender == self.id {
            return Ok(Vec::new());
        }
        self.track_peer(msg);
        self.check_window(msg.slot)?;
        self.arm_rebroadcast(now);
        self.slot_mut(msg.slot);
        let interval = self
            .config
            .rebroadcast_interval_ms
            .unwrap_or(self.config.ballot_timeout_ms);
        let mut out = Vec::new();
        let policy = &self.policy;
        let Some(slot) = self.slots.get_mut(&msg.slot) else {
            return Ok(out);
        };
        let was_externalized = slot.externalized().is_some();
        slot.handle(msg, policy, now)?;
        slot.take_outgoing(&mut out);
        let behind = !matches!(msg.topic, Topic::Ballot(BallotStatement::Externalize(_)));
        if was_externalized && behind {
            out.extend(slot.help_reply(&msg.sender, now, interval));
        }
        if slot.externalized().is_some() {
            self.highest_slot = self.highest_slot.max(msg.slot);
        }
        Ok(out)
    }

    fn track_peer(&mut self, msg: &Msg<V>) {
        let done = matches!(msg.topic, Topic::Ballot(BallotStatement::Externalize(_)));
        if !self.peer_externalized.contains_key(&msg.sender) {
            if self.peer_externalized.len() >= MAX_TRACKED_PEERS {
                return;
            }
            self.peer_externalized
                .insert(msg.sender.clone(), BTreeSet::new());
        }
        if let (true, Some(set)) = (done, self.peer_externalized.get_mut(&msg.sender)) {
            set.insert(msg.slot);
        }
    }

    /// When [`Node::process_timeouts`] next has work, if ever.
    pub fn next_timeout(&self) -> Option<Millis> {
        self.slots
            .values()
            .filter_map(Slot::next_timeout)
            .chain(self.rebroadcast_at)
            .min()
    }

    /// Fires every timer due at `now`: nomination rounds, ballot timeouts, rebroadcast.
    pub fn process_timeouts(&mut self, now: Millis) -> Vec<Msg<V>> {
        let mut out = Vec::new();
        let policy = &self.policy;
        for slot in self.slots.values_mut() {
            if slot.next_timeout().is_some_and(|t| t <= now) {
                slot.fire_timers(policy, now);
                slot.take_outgoing(&mut out);
            }
        }
        if self.rebroadcast_at.is_some_and(|t| t <= now) {
            self.rebroadcast_at = None;
            let newest = self
                .slots
                .iter()
                .rev()
                .find(|(_, s)| s.externalized().is_some())
                .map_or(0, |(i, _)| *i);
            // Externalized slots (within the window a lagging peer accepts) that some
            // known peer has not told us it externalized are re-sent too.
            let floor = newest.saturating_sub(self.config.max_slots_ahead);
            for set in self.peer_externalized.values_mut() {
                *set = set.split_off(&floor);
            }
            for (index, slot) in &self.slots {
                let resend = match slot.externalized() {
                    None => true,
                    Some(_) => {
                        *index == newest
                            || (*index >= floor
                                && self
                                    .peer_externalized
                                    .values()
                                    .any(|done| !done.contains(index)))
                    }
                };
                if resend {
                    out.extend(slot.last_messages().cloned());
                }
            }
            self.arm_rebroadcast(now);
        }
        out
    }

    /// The value externalized in `slot`, once there is one.
    pub fn externalized(&self, slot: SlotIndex) -> Option<&V> {
        self.slots.get(&slot).and_then(Slot::externalized)
    }

    /// The slots this node holds state for, ascending.
    pub fn slots(&self) -> impl Iterator<Item = SlotIndex> + '_ {
        self.slots.keys().copied()
    }

    /// Metrics of `slot`, if the node holds it.
    pub fn metrics(&self, slot: SlotIndex) -> Option<SlotMetrics> {
        self.slots.get(&slot).map(Slot::metrics)
    }

    /// A serialisable snapshot of everything `slot` knows, if the node holds it.
    pub fn snapshot(&self, slot: SlotIndex) -> Option<SlotSnapshot<V>> {
        self.slots.get(&slot).map(|s| s.snapshot(&self.policy))
    }

    /// The latest messages this node emitted for `slot` (what to persist to restart).
    pub fn latest_messages(&self, slot: SlotIndex) -> Vec<Msg<V>> {
        self.slots
            .get(&slot)
            .map(|s| s.last_messages().cloned().collect())
            .unwrap_or_default()
    }

    /// Restores a slot from a message this node emitted before it stopped (its latest
    /// nomination and/or ballot message), as a real node restores from its ledger and
    /// latest message. Restoring never emits, but arms the timers at once (`now`): a
    /// restored nomination starts round 1 with its leaders and round timer, a restored
    /// ballot its ballot timer, and the node re-sends its latest messages after
    /// `Config::rebroadcast_interval_ms`. So a restored node moves on by itself, and a
    /// network restored as a whole speaks again, without the application proposing.
    pub fn restore(&mut self, msg: &Msg<V>, now: Millis) -> Result<(), Error> {
        if msg.sender != self.id {
            return Err(Error::NotOwnMessage {
                sender: msg.sender.clone(),
            });
        }
        msg.validate(self.config.max_nomination_values)
            .map_err(|source| Error::Malformed {
                sender: msg.sender.clone(),
                slot: msg.slot,
                source,
            })?;
        if msg.slot < self.purge_floor {
            return Err(Error::SlotPurged {
                slot: msg.slot,
                floor: self.purge_floor,
            });
        }
        self.highest_slot = self.highest_slot.max(msg.slot);
        self.slot_mut(msg.slot).restore(msg, now);
        self.arm_rebroadcast(now);
        Ok(())
    }

    /// Forgets every slot below `slot` (after the ledger holds them); messages for them
    /// are refused from now on.
    pub fn purge_slots_below(&mut self, slot: SlotIndex) {
        self.purge_floor = self.purge_floor.max(slot);
        self.slots = self.slots.split_off(&self.purge_floor);
    }
}
