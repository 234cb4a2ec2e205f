//! The deterministic network simulator: one seed drives everything.
//!
//! Nodes are [`mcnode_scp::Node`]s exchanging messages over simulated links with delay
//! and jitter; faults come from a [`FaultPlan`] drawn from the same seed. Time is virtual
//! (an event queue), so a run costs only the CPU its events need. After every event the
//! invariants are checked: agreement and validity at each externalization, every honest
//! message well-formed; liveness at the end; determinism by comparing the digest of all
//! events of two runs of one seed.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcnode_scp::{
    Ballot, BallotStatement, Config, Confirm, Externalize, Msg, Node, NodeId, Nominate, Prepare,
    QuorumSet, SlotIndex, Topic, Validity, ValuePolicy,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::faults::{FaultKind, FaultPlan, FaultSet, LateValues};
use crate::topology::Topology;
use crate::SimError;

/// The value the simulated nodes agree on: a set of "transaction" numbers. Transaction
/// `e` belongs to slot `e / 1024`; `e % 1024` is the proposer (0..1000 honest nodes,
/// 1000..1023 Byzantine proposals); `e % 1024 == 1023` marks a poisoned, invalid one.
pub type SimValue = BTreeSet<u32>;

/// Transactions per slot in [`SimValue`] numbering.
pub const TX_PER_SLOT: u32 = 1024;
/// Most transactions in one [`SimValue`].
pub const MAX_TX_PER_VALUE: usize = 64;

/// Validity and combination for [`SimValue`], at one node.
///
/// Invalid unless non-empty, at most [`MAX_TX_PER_VALUE`] transactions, all of this slot
/// and none poisoned (that depends on the value and slot only); MaybeValid while it
/// names a transaction this node has not learned yet (the `late` fault); Valid
/// otherwise. Combine is the union (smallest [`MAX_TX_PER_VALUE`] kept).
#[derive(Clone, Debug, Default)]
pub struct SimPolicy {
    /// Transactions this node has not learned yet.
    unknown: BTreeSet<u32>,
}

impl SimPolicy {
    /// A policy that does not know `unknown` yet.
    pub fn not_knowing(unknown: BTreeSet<u32>) -> Self {
        Self { unknown }
    }

    /// Learns transaction `t`.
    pub fn learn(&mut self, t: u32) {
        self.unknown.remove(&t);
    }

    /// Whether `value` could ever be valid in `slot` (the Invalid test alone).
    pub fn well_formed(slot: SlotIndex, value: &SimValue) -> bool {
        !value.is_empty()
            && value.len() <= MAX_TX_PER_VALUE
            && value
                .iter()
                .all(|e| (e / TX_PER_SLOT) as u64 == slot && e % TX_PER_SLOT != TX_PER_SLOT - 1)
    }
}

impl ValuePolicy<SimValue> for SimPolicy {
    fn validity(&self, slot: SlotIndex, value: &SimValue) -> Validity {
        if !Self::well_formed(slot, value) {
            Validity::Invalid
        } else if value.iter().any(|t| self.unknown.contains(t)) {
            Validity::MaybeValid
        } else {
            Validity::Valid
        }
    }

    fn combine(&self, _slot: SlotIndex, candidates: &[SimValue]) -> SimValue {
        let all: SimValue = candidates.iter().flatten().copied().collect();
        all.into_iter().take(MAX_TX_PER_VALUE).collect()
    }
}

/// The transaction honest node `node` proposes in `slot` (or a Byzantine tag >= 1000).
pub fn tx(slot: SlotIndex, tag: u32) -> u32 {
    (slot as u32).wrapping_mul(TX_PER_SLOT).wrapping_add(tag)
}

/// Options of one simulation run (everything but the seed).
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// The network.
    pub topology: Topology,
    /// Fault kinds runs may use.
    pub faults: FaultSet,
    /// Slots (blocks) every honest node must externalize.
    pub slots: u64,
    /// Use the deliberately broken protocol (a v-blocking set counts as a quorum).
    pub broken: bool,
    /// Protocol timing given to every node.
    pub scp: Config,
    /// Network and crash faults end at a random time up to this (simulated ms).
    pub max_fault_window_ms: u64,
    /// After faults end, every honest node must finish within this (simulated ms).
    pub liveness_bound_ms: u64,
    /// Base link delay range in ms (drawn per link).
    pub base_delay_ms: (u64, u64),
    /// Stop a run after this many events (a guard against livelock; counted as a
    /// liveness failure).
    pub max_events: u64,
    /// Late learning of transactions for the whole run (not only the fault window),
    /// whatever the fault plan says; for benchmarks of validity levels.
    pub late: Option<LateValues>,
}

impl SimOptions {
    /// Defaults for a topology: all faults, 3 slots, 1 s timeouts, faults for up to 15 s,
    /// liveness within 60 s + 20 s per slot after they end.
    pub fn new(topology: Topology) -> Self {
        let slots = 3;
        Self {
            topology,
            faults: FaultSet::all(),
            slots,
            broken: false,
            scp: Config::default(),
            max_fault_window_ms: 15_000,
            liveness_bound_ms: 60_000 + 20_000 * slots,
            base_delay_ms: (5, 60),
            max_events: 2_000_000,
            late: None,
        }
    }

    /// Sets the number of slots (and scales the liveness bound).
    pub fn with_slots(mut self, slots: u64) -> Self {
        self.slots = slots;
        self.liveness_bound_ms = 60_000 + 20_000 * slots;
        self
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.slots == 0 || self.slots > 100_000 {
            return Err(SimError::Options("slots must be 1 to 100000".into()));
        }
        if self.base_delay_ms.0 == 0 || self.base_delay_ms.0 > self.base_delay_ms.1 {
            return Err(SimError::Options(
                "base delay range must be 1 <= lo <= hi".into(),
            ));
        }
        self.scp
            .validate()
            .map_err(|e| SimError::Options(e.to_string()))?;
        self.topology.build()?;
        Ok(())
    }
}

/// What one run found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The seed.
    pub seed: u64,
    /// The topology.
    pub topology: String,
    /// Fault kinds this run used.
    pub faults_used: Vec<FaultKind>,
    /// Fault events by kind (messages dropped, duplicated, delayed or jittered; partitions;
    /// crashes; Byzantine nodes).
    pub fault_events: BTreeMap<FaultKind, u64>,
    /// Slots every honest node externalized.
    pub slots_externalized: u64,
    /// Simulated time at the end of the run, ms.
    pub simulated_ms: u64,
    /// When network and crash faults stopped, ms.
    pub fault_end_ms: u64,
    /// Messages broadcast by all nodes (one per broadcast, not per receiver).
    pub messages_sent: u64,
    /// Messages delivered to a live node.
    pub deliveries: u64,
    /// Messages honest nodes refused with a typed error.
    pub rejected: u64,
    /// Restarts that did not propose again for the slot they restored.
    #[serde(default)]
    pub restore_only_restarts: u64,
    /// Whether the whole network (every honest node) crashed at once.
    #[serde(default)]
    pub network_crash: bool,
    /// Agreement, validity or well-formedness violations (empty when safe).
    pub safety_violations: Vec<String>,
    /// Why liveness failed, if it did.
    pub liveness_failure: Option<String>,
    /// SHA-256 over every event of the run, hex.
    pub digest: String,
    /// Debug snapshots of the open slot of each honest node that did not finish.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stuck: Vec<serde_json::Value>,
    /// CPU time spent inside honest nodes' SCP calls.
    #[serde(skip)]
    pub scp_cpu: Duration,
}

#[derive(Debug)]
enum EventKind {
    Deliver {
        from: usize,
        to: usize,
        msg: Arc<Msg<SimValue>>,
        id: u64,
    },
    Timer {
        node: usize,
        generation: u64,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
        repropose: bool,
    },
    Learn {
        node: usize,
        tx: u32,
    },
    GarbageTick {
        node: usize,
    },
}

#[derive(Debug)]
struct Event {
    at: u64,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on (time, sequence).
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// An SCP instance plus the driver that moves it from slot to slot.
struct Engine {
    node: Node<SimValue, SimPolicy>,
    /// Lowest slot this engine has not externalized yet.
    current: SlotIndex,
    /// Transaction tag this engine proposes.
    tag: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Honest,
    Byzantine(FaultKind),
}

struct SimNode {
    id: NodeId,
    qset: QuorumSet,
    role: Role,
    up: bool,
    engines: Vec<Engine>,
    /// Equivocators: which peers get engine 0's messages (the rest get engine 1's).
    first_half: Vec<bool>,
    /// Latest emitted messages per slot (what a node persists to restart).
    persisted: BTreeMap<SlotIndex, Vec<Msg<SimValue>>>,
    /// Externalized values (the node's ledger).
    ledger: BTreeMap<SlotIndex, SimValue>,
    timer_at: Option<u64>,
    timer_generation: u64,
    /// Transactions of other nodes this node has not learned yet (what its policy says
    /// MaybeValid about); survives crashes.
    unknown: BTreeSet<u32>,
}

/// One simulation run.
pub struct Simulation {
    opts: SimOptions,
    rng: ChaCha8Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Event>,
    nodes: Vec<SimNode>,
    base_delay: Vec<Vec<u64>>,
    plan: FaultPlan,
    digest: Sha256,
    next_msg_id: u64,
    /// Valid transactions any node proposed, per slot.
    proposed: BTreeMap<SlotIndex, BTreeSet<u32>>,
    /// The first value an honest node externalized, per slot.
    agreed: BTreeMap<SlotIndex, SimValue>,
    honest_done: usize,
    honest_count: usize,
    out: RunOutcome,
}

impl Simulation {
    /// Sets up a run of `seed`: draws link delays and the fault plan, creates the nodes.
    pub fn new(opts: SimOptions, seed: u64) -> Result<Self, SimError> {
        opts.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let members = opts.topology.build()?;
        let n = members.len();
        let plan = FaultPlan::draw(
            &mut rng,
            &opts.topology,
            &opts.faults,
            opts.max_fault_window_ms,
        );
        let (lo, hi) = opts.base_delay_ms;
        let base_delay = (0..n)
            .map(|_| (0..n).map(|_| rng.gen_range(lo..=hi)).collect())
            .collect();
        let mut out = RunOutcome {
            seed,
            topology: opts.topology.to_string(),
            faults_used: plan.kinds.clone(),
            fault_events: BTreeMap::new(),
            slots_externalized: 0,
            simulated_ms: 0,
            fault_end_ms: plan.fault_end_ms,
            messages_sent: 0,
            deliveries: 0,
            rejected: 0,
            restore_only_restarts: 0,
            network_crash: plan.network_crash,
            safety_violations: Vec::new(),
            liveness_failure: None,
            digest: String::new(),
            stuck: Vec::new(),
            scp_cpu: Duration::ZERO,
        };
        for kind in plan.byzantine.values() {
            *out.fault_events.entry(*kind).or_default() += 1;
        }
        let mut nodes = Vec::with_capacity(n);
        for (i, (id, qset)) in members.into_iter().enumerate() {
            let role = plan
                .byzantine
                .get(&i)
                .map_or(Role::Honest, |k| Role::Byzantine(*k));
            let first_half = (0..n).map(|_| rng.gen_bool(0.5)).collect();
            nodes.push(SimNode {
                id,
                qset,
                role,
                up: true,
                engines: Vec::new(),
                first_half,
                persisted: BTreeMap::new(),
                ledger: BTreeMap::new(),
                timer_at: None,
                timer_generation: 0,
                unknown: BTreeSet::new(),
            });
        }
        let honest_count = nodes.iter().filter(|n| n.role == Role::Honest).count();
        let mut sim = Self {
            opts,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            base_delay,
            plan,
            digest: Sha256::new(),
            next_msg_id: 0,
            proposed: BTreeMap::new(),
            agreed: BTreeMap::new(),
            honest_done: 0,
            honest_count,
            out,
        };
        for i in 0..n {
            sim.build_engines(i)?;
        }
        for c in sim.plan.crashes.clone() {
            sim.push(c.at_ms, EventKind::Crash { node: c.node });
            sim.push(
                c.restart_ms,
                EventKind::Restart {
                    node: c.node,
                    repropose: c.repropose,
                },
            );
            *sim.out.fault_events.entry(FaultKind::Crash).or_default() += 1;
        }
        let partitions = sim.plan.partitions.len() as u64;
        if partitions > 0 {
            sim.out
                .fault_events
                .insert(FaultKind::Partition, partitions);
        }
        Ok(sim)
    }

    fn push(&mut self, at: u64, kind: EventKind) {
        self.seq += 1;
        self.queue.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    fn new_engine(&self, i: usize, tag: u32) -> Result<Engine, SimError> {
        let node = &self.nodes[i];
        let policy = SimPolicy::not_knowing(node.unknown.clone());
        let mut scp = Node::new(node.id.clone(), node.qset.clone(), policy, self.opts.scp)
            .map_err(|e| SimError::Options(e.to_string()))?;
        if self.opts.broken {
            scp.break_quorum_check_for_fault_injection();
        }
        Ok(Engine {
            node: scp,
            current: 1,
            tag,
        })
    }

    fn build_engines(&mut self, i: usize) -> Result<(), SimError> {
        match self.nodes[i].role {
            Role::Honest => {
                let e = self.new_engine(i, i as u32)?;
                self.nodes[i].engines = vec![e];
            }
            Role::Byzantine(FaultKind::Equivocate) => {
                let a = self.new_engine(i, i as u32)?;
                let b = self.new_engine(i, 1000 + (i as u32 % 23))?;
                self.nodes[i].engines = vec![a, b];
            }
            Role::Byzantine(FaultKind::Garbage) => {
                let at = self.rng.gen_range(10..200);
                self.push(at, EventKind::GarbageTick { node: i });
            }
            Role::Byzantine(_) => {}
        }
        Ok(())
    }

    /// Runs to completion (every honest node externalized every slot) or to the liveness
    /// deadline, and returns what it found.
    pub fn run(mut self) -> RunOutcome {
        for i in 0..self.nodes.len() {
            for e in 0..self.nodes[i].engines.len() {
                self.propose_current(i, e);
            }
            self.reschedule(i);
        }
        let deadline = self.plan.fault_end_ms + self.opts.liveness_bound_ms;
        let mut events = 0u64;
        while let Some(ev) = self.queue.pop() {
            if ev.at > deadline {
                self.now = deadline;
                break;
            }
            self.now = ev.at;
            events += 1;
            if events > self.opts.max_events {
                self.out.liveness_failure = Some(format!(
                    "event budget of {} exhausted at {} ms",
                    self.opts.max_events, self.now
                ));
                break;
            }
            self.handle_event(ev.kind);
            if self.honest_done == self.honest_count {
                break;
            }
        }
        self.finish()
    }

    fn finish(mut self) -> RunOutcome {
        self.out.simulated_ms = self.now;
        let slots = self.opts.slots;
        self.out.slots_externalized = (1..=slots)
            .filter(|s| {
                self.nodes
                    .iter()
                    .filter(|n| n.role == Role::Honest)
                    .all(|n| n.ledger.contains_key(s))
            })
            .count() as u64;
        if self.out.liveness_failure.is_none() && self.honest_done < self.honest_count {
            let stuck: Vec<String> = self
                .nodes
                .iter()
                .filter(|n| n.role == Role::Honest && (n.ledger.len() as u64) < slots)
                .map(|n| format!("{} at slot {}", n.id, n.ledger.len() + 1))
                .collect();
            for n in self.nodes.iter().filter(|n| n.role == Role::Honest) {
                if let Some(e) = n.engines.first() {
                    if let Some(snap) = e.node.snapshot(e.current) {
                        self.out
                            .stuck
                            .push(serde_json::to_value(snap).unwrap_or_default());
                    }
                }
            }
            self.out.liveness_failure = Some(format!(
                "not all honest nodes externalized {slots} slots within {} ms after faults \
                 ended at {} ms: {}",
                self.opts.liveness_bound_ms,
                self.plan.fault_end_ms,
                stuck.join(", ")
            ));
        }
        self.digest.update(self.now.to_le_bytes());
        self.out.digest = hex::encode(self.digest.finalize());
        self.out
    }

    fn in_window(&self) -> bool {
        self.now < self.plan.fault_end_ms
    }

    fn handle_event(&mut self, kind: EventKind) {
        match kind {
            EventKind::Deliver { from, to, msg, id } => {
                if !self.nodes[to].up {
                    return;
                }
                self.out.deliveries += 1;
                self.log(&[1, from as u64, to as u64, id]);
                self.deliver(to, &msg);
            }
            EventKind::Timer { node, generation } => {
                let n = &mut self.nodes[node];
                if !n.up || n.timer_generation != generation {
                    return;
                }
                n.timer_at = None;
                self.log(&[2, node as u64]);
                for e in 0..self.nodes[node].engines.len() {
                    let started = Instant::now();
                    let msgs = self.nodes[node].engines[e].node.process_timeouts(self.now);
                    self.account(node, started);
                    self.emit(node, e, msgs);
                    self.drive(node, e);
                }
                self.reschedule(node);
            }
            EventKind::Crash { node } => {
                self.log(&[3, node as u64]);
                let n = &mut self.nodes[node];
                n.up = false;
                n.engines.clear();
                n.timer_at = None;
                n.timer_generation += 1;
            }
            EventKind::Restart { node, repropose } => {
                if self.nodes[node].up {
                    return;
                }
                self.log(&[4, node as u64, u64::from(repropose)]);
                self.restart(node, repropose);
            }
            EventKind::Learn { node, tx } => {
                self.log(&[6, node as u64, tx as u64]);
                self.learn(node, tx);
            }
            EventKind::GarbageTick { node } => {
                self.log(&[5, node as u64]);
                self.send_garbage(node);
                let next = self.now + self.rng.gen_range(50..400);
                self.push(next, EventKind::GarbageTick { node });
            }
        }
    }

    /// Node `node` learns transaction `t`: its policy may find values Valid now, so every
    /// engine re-evaluates the transaction's slot.
    fn learn(&mut self, node: usize, t: u32) {
        self.nodes[node].unknown.remove(&t);
        let slot = (t / TX_PER_SLOT) as SlotIndex;
        let up = self.nodes[node].up;
        for e in 0..self.nodes[node].engines.len() {
            self.nodes[node].engines[e].node.policy_mut().learn(t);
            if up {
                let started = Instant::now();
                let msgs = self.nodes[node].engines[e].node.revalidate(slot, self.now);
                self.account(node, started);
                self.emit(node, e, msgs);
                self.drive(node, e);
            }
        }
        self.reschedule(node);
    }

    /// A transaction enters the run (an honest proposal, an equivocator's, or one a
    /// garbage node made up): with the `late` fault, other nodes learn it after a delay;
    /// a made-up one (`made_up`) may be known to nobody, ever (its values stay
    /// MaybeValid at every honest node).
    fn register_tx(&mut self, slot: SlotIndex, t: u32, by: Option<usize>, made_up: bool) {
        if !self.proposed.entry(slot).or_default().insert(t) {
            return;
        }
        let late = self
            .opts
            .late
            .or_else(|| self.plan.late.filter(|_| self.in_window()));
        let Some(late) = late else {
            return;
        };
        let nobody = made_up && late.never_prob > 0.0 && self.rng.gen_bool(late.never_prob);
        for q in 0..self.nodes.len() {
            if Some(q) == by || !(nobody || self.rng.gen_bool(late.prob)) {
                continue;
            }
            *self.out.fault_events.entry(FaultKind::Late).or_default() += 1;
            self.nodes[q].unknown.insert(t);
            for engine in &mut self.nodes[q].engines {
                engine.node.policy_mut().unknown.insert(t);
            }
            if !nobody {
                let at = self.now + self.rng.gen_range(1..=late.max_delay_ms.max(1));
                self.push(at, EventKind::Learn { node: q, tx: t });
            }
        }
    }

    fn restart(&mut self, node: usize, repropose: bool) {
        let engine = match self.new_engine(node, node as u32) {
            Ok(e) => e,
            Err(e) => {
                self.violation(format!("restart of node {node} failed: {e}"));
                return;
            }
        };
        self.nodes[node].engines = vec![engine];
        self.nodes[node].up = true;
        let persisted: Vec<Msg<SimValue>> = self.nodes[node]
            .persisted
            .values()
            .flatten()
            .cloned()
            .collect();
        for msg in &persisted {
            let now = self.now;
            if let Err(e) = self.nodes[node].engines[0].node.restore(msg, now) {
                self.violation(format!("node {node} cannot restore its own message: {e}"));
            }
        }
        let first_open = (1..=self.opts.slots + 1)
            .find(|s| !self.nodes[node].ledger.contains_key(s))
            .unwrap_or(self.opts.slots + 1);
        self.nodes[node].engines[0].current = first_open;
        // Without proposing again, the node carries on from what it restored alone; it
        // proposes only for a slot it had said nothing about (it would have no other
        // way to contribute a value there).
        let restored = self.nodes[node].persisted.contains_key(&first_open);
        if repropose || !restored {
            self.propose_current(node, 0);
        } else {
            self.out.restore_only_restarts += 1;
        }
        self.drive(node, 0);
        self.reschedule(node);
    }

    fn deliver(&mut self, to: usize, msg: &Msg<SimValue>) {
        let honest = self.nodes[to].role == Role::Honest;
        for e in 0..self.nodes[to].engines.len() {
            let started = Instant::now();
            let result = self.nodes[to].engines[e].node.handle_message(msg, self.now);
            self.account(to, started);
            match result {
                Ok(msgs) => self.emit(to, e, msgs),
                Err(_) => {
                    if honest {
                        self.out.rejected += 1;
                    }
                }
            }
            self.drive(to, e);
        }
        self.reschedule(to);
    }

    fn account(&mut self, node: usize, started: Instant) {
        if self.nodes[node].role == Role::Honest {
            self.out.scp_cpu += started.elapsed();
        }
    }

    /// Proposes the engine's value for its current slot.
    fn propose_current(&mut self, node: usize, e: usize) {
        let engine = &self.nodes[node].engines[e];
        let slot = engine.current;
        if slot > self.opts.slots {
            return;
        }
        let t = tx(slot, engine.tag);
        self.register_tx(slot, t, Some(node), false);
        // A node knows its own transaction (even if a garbage node named it first).
        self.nodes[node].unknown.remove(&t);
        self.nodes[node].engines[e].node.policy_mut().learn(t);
        let value: SimValue = [t].into_iter().collect();
        let started = Instant::now();
        let result = self.nodes[node].engines[e]
            .node
            .propose_values(slot, vec![value], self.now);
        self.account(node, started);
        match result {
            Ok(msgs) => self.emit(node, e, msgs),
            Err(err) => self.violation(format!("node {node} cannot propose: {err}")),
        }
    }

    /// Records new externalizations, checks agreement and validity, moves to next slots.
    fn drive(&mut self, node: usize, e: usize) {
        loop {
            let engine = &self.nodes[node].engines[e];
            let slot = engine.current;
            if slot > self.opts.slots {
                return;
            }
            let Some(value) = engine.node.externalized(slot).cloned() else {
                return;
            };
            self.nodes[node].engines[e].current += 1;
            if self.nodes[node].role == Role::Honest {
                self.record_externalized(node, slot, value);
            }
            self.propose_current(node, e);
        }
    }

    fn record_externalized(&mut self, node: usize, slot: SlotIndex, value: SimValue) {
        let mut h = Sha256::new();
        for t in &value {
            h.update(t.to_le_bytes());
        }
        let vh = h.finalize();
        self.digest.update([9u8]);
        self.digest.update(self.now.to_le_bytes());
        self.digest.update((node as u64).to_le_bytes());
        self.digest.update(slot.to_le_bytes());
        self.digest.update(vh);
        // Validity: the value is well-formed, every transaction was proposed, and the
        // node itself holds it Valid (it never confirms what it cannot vouch for).
        let proposed = self.proposed.get(&slot);
        let valid = SimPolicy::well_formed(slot, &value)
            && value
                .iter()
                .all(|t| proposed.is_some_and(|p| p.contains(t)));
        if !valid {
            self.violation(format!(
                "validity: node {node} externalized {value:?} in slot {slot}, not a valid proposed value"
            ));
        }
        let here = self.nodes[node]
            .engines
            .first()
            .map(|e| e.node.policy().validity(slot, &value));
        if here != Some(Validity::Valid) {
            self.violation(format!(
                "validity: node {node} externalized {value:?} in slot {slot} while it is {here:?} there"
            ));
        }
        // Agreement.
        match self.agreed.get(&slot) {
            Some(first) if *first != value => {
                let msg = format!(
                    "agreement: node {node} externalized {value:?} in slot {slot}, another honest node {first:?}"
                );
                self.violation(msg);
            }
            Some(_) => {}
            None => {
                self.agreed.insert(slot, value.clone());
            }
        }
        self.nodes[node].ledger.insert(slot, value);
        if self.nodes[node].ledger.len() as u64 == self.opts.slots {
            self.honest_done += 1;
        }
    }

    fn violation(&mut self, what: String) {
        if self.out.safety_violations.len() < 20 {
            self.out
                .safety_violations
                .push(format!("t={}ms: {what}", self.now));
        }
    }

    fn reschedule(&mut self, node: usize) {
        let n = &self.nodes[node];
        if !n.up {
            return;
        }
        let next = n.engines.iter().filter_map(|e| e.node.next_timeout()).min();
        if next.is_some() && next != n.timer_at {
            let at = next.unwrap_or(self.now).max(self.now);
            let n = &mut self.nodes[node];
            n.timer_at = next;
            n.timer_generation += 1;
            let generation = n.timer_generation;
            self.push(at, EventKind::Timer { node, generation });
        }
    }

    fn log(&mut self, words: &[u64]) {
        self.digest.update(self.now.to_le_bytes());
        for w in words {
            self.digest.update(w.to_le_bytes());
        }
    }

    /// Sends what engine `e` of `node` emitted: honest nodes persist it and send to all;
    /// an equivocator sends each engine's messages to its half of the peers.
    fn emit(&mut self, node: usize, e: usize, msgs: Vec<Msg<SimValue>>) {
        for msg in msgs {
            if self.nodes[node].role == Role::Honest {
                if let Err(err) = msg.validate(self.opts.scp.max_nomination_values) {
                    self.violation(format!("node {node} emitted a malformed message: {err}"));
                }
                let kept = self.nodes[node].persisted.entry(msg.slot).or_default();
                let is_nom = matches!(msg.topic, Topic::Nominate(_));
                kept.retain(|m| matches!(m.topic, Topic::Nominate(_)) != is_nom);
                kept.push(msg.clone());
            }
            let mask: Option<Vec<bool>> = match self.nodes[node].role {
                Role::Byzantine(FaultKind::Equivocate) => Some(
                    self.nodes[node]
                        .first_half
                        .iter()
                        .map(|&first| first == (e == 0))
                        .collect(),
                ),
                _ => None,
            };
            self.broadcast(node, Arc::new(msg), mask.as_deref());
        }
    }

    fn broadcast(&mut self, from: usize, msg: Arc<Msg<SimValue>>, mask: Option<&[bool]>) {
        self.out.messages_sent += 1;
        self.next_msg_id += 1;
        let id = self.next_msg_id;
        self.digest.update([7u8]);
        self.digest.update(id.to_le_bytes());
        self.digest.update((from as u64).to_le_bytes());
        self.digest.update(msg.slot.to_le_bytes());
        let n = self.nodes.len();
        for to in 0..n {
            if to == from || mask.is_some_and(|m| !m[to]) {
                continue;
            }
            self.send(from, to, msg.clone(), id);
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: Arc<Msg<SimValue>>, id: u64) {
        let window = self.in_window();
        if self.plan.partitioned(self.now, from, to) {
            return;
        }
        if window && self.plan.loss > 0.0 && self.rng.gen_bool(self.plan.loss) {
            *self.out.fault_events.entry(FaultKind::Loss).or_default() += 1;
            return;
        }
        let copies = if window && self.plan.dup > 0.0 && self.rng.gen_bool(self.plan.dup) {
            *self.out.fault_events.entry(FaultKind::Dup).or_default() += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let base = self.base_delay[from][to];
            let mut delay = base + self.rng.gen_range(0..=base / 2);
            if window {
                if let Some(extra) = self.plan.slow_links.get(&(from, to)) {
                    delay += extra;
                    *self.out.fault_events.entry(FaultKind::Delay).or_default() += 1;
                }
                if self.plan.reorder_jitter_ms > 0 {
                    delay += self.rng.gen_range(0..=self.plan.reorder_jitter_ms);
                    *self.out.fault_events.entry(FaultKind::Reorder).or_default() += 1;
                }
            }
            let at = self.now + delay;
            self.push(
                at,
                EventKind::Deliver {
                    from,
                    to,
                    msg: msg.clone(),
                    id,
                },
            );
        }
    }

    // ------------------------------------------------------------------ garbage

    fn send_garbage(&mut self, node: usize) {
        let high = self
            .nodes
            .iter()
            .filter(|n| n.role == Role::Honest)
            .flat_map(|n| n.engines.first().map(|e| e.current))
            .max()
            .unwrap_or(1);
        let slot = match self.rng.gen_range(0..20) {
            0 => 0,
            1 => u64::MAX - self.rng.gen_range(0..3),
            _ => (high + self.rng.gen_range(0..3)).saturating_sub(1).max(1),
        };
        let qset = if self.rng.gen_bool(0.9) {
            self.nodes[node].qset.clone()
        } else {
            QuorumSet {
                threshold: self.rng.gen_range(0..4),
                members: (0..self.rng.gen_range(0..3))
                    .map(|i| Topology::node_id(node + i))
                    .collect(),
                inner_sets: Vec::new(),
            }
        };
        let topic = match self.rng.gen_range(0..4) {
            0 => {
                let mut voted: Vec<SimValue> = (0..self.rng.gen_range(0..3))
                    .map(|_| self.garbage_value(slot))
                    .collect();
                let mut accepted: Vec<SimValue> = (0..self.rng.gen_range(0..2))
                    .map(|_| self.garbage_value(slot))
                    .collect();
                if self.rng.gen_bool(0.7) {
                    voted.sort();
                    voted.dedup();
                    accepted.sort();
                    accepted.dedup();
                }
                Topic::Nominate(Nominate { voted, accepted })
            }
            1 => {
                let ballot = self.garbage_ballot(slot);
                let prepared = self.rng.gen_bool(0.5).then(|| self.garbage_ballot(slot));
                let prepared_prime = self.rng.gen_bool(0.3).then(|| self.garbage_ballot(slot));
                Topic::Ballot(BallotStatement::Prepare(Prepare {
                    ballot,
                    prepared,
                    prepared_prime,
                    commit_counter: self.rng.gen_range(0..4),
                    high_counter: self.rng.gen_range(0..4),
                }))
            }
            2 => Topic::Ballot(BallotStatement::Confirm(Confirm {
                ballot: self.garbage_ballot(slot),
                prepared_counter: self.rng.gen_range(0..5),
                commit_counter: self.rng.gen_range(0..4),
                high_counter: self.rng.gen_range(0..5),
            })),
            _ => Topic::Ballot(BallotStatement::Externalize(Externalize {
                commit: self.garbage_ballot(slot),
                high_counter: self.rng.gen_range(0..5),
            })),
        };
        let msg = Msg {
            sender: self.nodes[node].id.clone(),
            slot,
            quorum_set: qset,
            topic,
        };
        let n = self.nodes.len();
        let mask: Vec<bool> = (0..n).map(|_| self.rng.gen_bool(0.7)).collect();
        self.broadcast(node, Arc::new(msg), Some(&mask));
    }

    fn garbage_ballot(&mut self, slot: SlotIndex) -> Ballot<SimValue> {
        let counter = match self.rng.gen_range(0..10) {
            0 => 0,
            1 => u32::MAX,
            _ => self.rng.gen_range(1..6),
        };
        Ballot::new(counter, self.garbage_value(slot))
    }

    fn garbage_value(&mut self, slot: SlotIndex) -> SimValue {
        let n = self.nodes.len() as u32;
        let count = self.rng.gen_range(0..4);
        let mut value = SimValue::new();
        for _ in 0..count {
            let tag = match self.rng.gen_range(0..4) {
                0 => self.rng.gen_range(0..n),
                1 => TX_PER_SLOT - 1, // poisoned
                _ => self.rng.gen_range(1000..TX_PER_SLOT - 1),
            };
            let s = if self.rng.gen_bool(0.9) {
                slot
            } else {
                slot.wrapping_add(1)
            };
            let t = tx(s, tag);
            if SimPolicy::well_formed(slot, &[t].into_iter().collect()) {
                // A Byzantine node proposes this transaction: externalizing it is valid.
                // Tags from 1000 are made up (tags below name honest proposals).
                let made_up = t % TX_PER_SLOT >= 1000;
                self.register_tx(slot, t, None, made_up);
            }
            value.insert(t);
        }
        value
    }
}

/// Runs `seed` once.
pub fn run_seed(opts: &SimOptions, seed: u64) -> Result<RunOutcome, SimError> {
    Ok(Simulation::new(opts.clone(), seed)?.run())
}
