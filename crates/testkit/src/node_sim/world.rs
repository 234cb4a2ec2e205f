//! The event loop of the whole-node simulation.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use mcnode_node_core::{
    Action, AppendedBlock, BlockId, Checked, ClientVerdict, Envelope, NodeCore, Notice, Refusal,
    Tip, TxHash, TxSet,
};
use mcnode_scp::{Msg, NodeId, Nominate, QuorumSet, Topic};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::model::{NodeFault, Plan, SimBlock, SimLedger, SimTxId, Universe};
use super::{NodeRunOutcome, NodeSimOptions, Scenario};
use crate::SimError;

/// Envelope ids a node remembers (as the real shell's de-duplicator).
const DEDUP_WINDOW: usize = 16_384;
/// Blocks one catch-up answer carries.
const BLOCKS_PER_ANSWER: usize = 100;
/// A catch-up request unanswered this long is given up, ms.
const CATCH_UP_TIMEOUT_MS: u64 = 3_000;
/// Periodic tick of every core, ms.
const TICK_MS: u64 = 200;

#[derive(Debug)]
enum Net {
    Scp {
        msg: Arc<Msg<TxSet>>,
        prev: BlockId,
    },
    Relay(Arc<Vec<SimTxId>>),
    FetchReq {
        id: u64,
        hashes: Vec<TxHash>,
    },
    FetchAnswer {
        id: u64,
        txs: Vec<SimTxId>,
        lacking: Vec<TxHash>,
        deferred: Vec<TxHash>,
    },
    FetchRefused {
        id: u64,
    },
    HeightReq,
    HeightAnswer {
        height: u64,
    },
    BlocksReq {
        req: u64,
        from: u64,
    },
    BlocksAnswer {
        req: u64,
        blocks: Vec<SimBlock>,
    },
}

#[derive(Debug)]
enum Ev {
    Deliver {
        from: usize,
        to: usize,
        msg: Net,
    },
    Timer {
        node: usize,
        gen: u64,
    },
    Tick {
        node: usize,
        inc: u64,
    },
    /// A validation starts: the verdict is taken against the ledger now.
    ValidationStart {
        node: usize,
        inc: u64,
        txs: Vec<SimTxId>,
        client: bool,
    },
    ValidationDone {
        node: usize,
        inc: u64,
        checked: Vec<(SimTxId, u64, bool)>,
        client: bool,
    },
    FormDone {
        node: usize,
        inc: u64,
        index: u64,
        txs: Vec<SimTxId>,
    },
    CatchUpTimeout {
        node: usize,
        inc: u64,
        req: u64,
    },
    Submit {
        tx: SimTxId,
        to: Option<usize>,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    ByzTick {
        node: usize,
    },
}

struct Event {
    at: u64,
    seq: u64,
    ev: Ev,
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
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Honest,
    Byzantine(NodeFault),
}

struct Node {
    id: NodeId,
    qset: QuorumSet,
    role: Role,
    up: bool,
    inc: u64,
    core: Option<NodeCore<SimTxId>>,
    ledger: SimLedger,
    persisted: Option<(BlockId, Vec<Msg<TxSet>>)>,
    timer_gen: u64,
    timer_at: Option<u64>,
    validate_ms: u64,
    /// Validation time of a client's transaction (the client service validates on its own
    /// threads), ms.
    client_validate_ms: u64,
    lane_free: u64,
    client_lane_free: u64,
    /// Legacy transport: when each outgoing link is free again.
    link_free: Vec<u64>,
    catch_up: Option<u64>,
    seen: HashSet<u64>,
    seen_order: VecDeque<u64>,
    /// Transactions this node acknowledged and holds no block of yet.
    acked_open: BTreeSet<SimTxId>,
}

pub(super) struct World<'a> {
    opts: &'a NodeSimOptions,
    rng: ChaCha8Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Event>,
    nodes: Vec<Node>,
    index_of: BTreeMap<NodeId, usize>,
    base: Vec<Vec<u64>>,
    plan: Plan,
    u: Universe,
    digest: Sha256,
    out: NodeRunOutcome,
    /// Acknowledged transactions that must commit (those whose node crashed before they
    /// reached its ledger are dropped from here).
    must: BTreeSet<SimTxId>,
    /// Which honest nodes acknowledged each transaction (and did not crash since).
    acked_by: BTreeMap<SimTxId, BTreeSet<usize>>,
    /// Since when acknowledged transactions have been waiting for a block.
    wait_started: Option<u64>,
    submitted: BTreeSet<SimTxId>,
    /// Submissions the client has no answer to yet, and the node they went to.
    outstanding: BTreeMap<SimTxId, usize>,
    agreed: BTreeMap<u64, BlockId>,
    highest: u64,
    last_new_block_at: u64,
    next_req: u64,
    last_submit_ms: u64,
    /// Scenario: extra windows of loss on particular kinds of messages.
    relay_blocked: Vec<(usize, Option<usize>, u64)>,
    fetch_answers_blocked: Vec<(usize, u64)>,
}

fn envelope_id(prev: &BlockId, msg: &Msg<TxSet>) -> u64 {
    // SipHash with fixed keys: deterministic within one build.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    prev.hash(&mut h);
    msg.hash(&mut h);
    h.finish()
}

impl<'a> World<'a> {
    pub(super) fn new(opts: &'a NodeSimOptions, seed: u64) -> Result<Self, SimError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let members = opts.topology.build()?;
        let n = members.len();
        let kinds = if opts.scenario == Scenario::Random {
            opts.faults.clone()
        } else {
            Vec::new()
        };
        let mut plan = Plan::draw(
            &mut rng,
            n,
            &kinds,
            opts.topology.max_byzantine(),
            &opts.topology.byzantine_groups(),
            opts.max_fault_window_ms,
        );
        if kinds.is_empty() {
            plan = Plan {
                end_ms: 0,
                ..Plan::default()
            };
        }
        let u = Universe::new(&mut rng, opts.txs, opts.double_spends, opts.invalid_txs);
        let (lo, hi) = opts.base_delay_ms;
        let base = (0..n)
            .map(|_| (0..n).map(|_| rng.gen_range(lo..=hi)).collect())
            .collect();
        let mut fault_events = BTreeMap::new();
        for k in plan.byzantine.values() {
            *fault_events.entry(*k).or_default() += 1;
        }
        if !plan.crashes.is_empty() {
            fault_events.insert(NodeFault::Crash, plan.crashes.len() as u64);
        }
        if !plan.partitions.is_empty() {
            fault_events.insert(NodeFault::Partition, plan.partitions.len() as u64);
        }
        let out = NodeRunOutcome {
            seed,
            topology: opts.topology.to_string(),
            scenario: opts.scenario,
            faults_used: plan.kinds.clone(),
            fault_events,
            fault_end_ms: plan.end_ms,
            simulated_ms: 0,
            submitted: 0,
            acknowledged: 0,
            committed: 0,
            blocks: 0,
            max_block_gap_ms: 0,
            messages: 0,
            stall_reports: 0,
            safety_violations: Vec::new(),
            liveness_failure: None,
            digest: String::new(),
            stuck: Vec::new(),
        };
        let mut index_of = BTreeMap::new();
        let mut nodes = Vec::new();
        for (i, (id, qset)) in members.into_iter().enumerate() {
            index_of.insert(id.clone(), i);
            let (vlo, vhi) = opts.validate_ms;
            let slow = plan.slow.get(&i).copied().unwrap_or(1);
            nodes.push(Node {
                id,
                qset,
                role: plan
                    .byzantine
                    .get(&i)
                    .map_or(Role::Honest, |k| Role::Byzantine(*k)),
                up: true,
                inc: 0,
                core: None,
                ledger: SimLedger::default(),
                persisted: None,
                timer_gen: 0,
                timer_at: None,
                validate_ms: rng.gen_range(vlo..=vhi) * slow,
                client_validate_ms: 0,
                lane_free: 0,
                client_lane_free: 0,
                link_free: vec![0; n],
                catch_up: None,
                seen: HashSet::new(),
                seen_order: VecDeque::new(),
                acked_open: BTreeSet::new(),
            });
        }
        let mut w = Self {
            opts,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            index_of,
            base,
            plan,
            u,
            digest: Sha256::new(),
            out,
            must: BTreeSet::new(),
            acked_by: BTreeMap::new(),
            wait_started: None,
            submitted: BTreeSet::new(),
            outstanding: BTreeMap::new(),
            agreed: BTreeMap::new(),
            highest: 1,
            last_new_block_at: 0,
            next_req: 1,
            last_submit_ms: 0,
            relay_blocked: Vec::new(),
            fetch_answers_blocked: Vec::new(),
        };
        for n in &mut w.nodes {
            n.client_validate_ms = n.validate_ms;
        }
        w.set_up_scenario();
        for i in 0..n {
            if w.nodes[i].role != Role::Byzantine(NodeFault::Silent) {
                w.start_core(i, &[]);
            }
        }
        for c in w.plan.crashes.clone() {
            w.push(c.at, Ev::Crash { node: c.node });
            w.push(c.restart, Ev::Restart { node: c.node });
        }
        for (i, r) in w.plan.byzantine.clone() {
            if r == NodeFault::Garbage {
                let at = w.rng.gen_range(50..300);
                w.push(at, Ev::ByzTick { node: i });
            }
        }
        Ok(w)
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Event {
            at,
            seq: self.seq,
            ev,
        });
    }

    fn log(&mut self, words: &[u64]) {
        for w in words {
            self.digest.update(w.to_le_bytes());
        }
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].role == Role::Honest
    }

    fn set_up_scenario(&mut self) {
        let n = self.nodes.len();
        let all: Vec<SimTxId> = (0..self.u.txs.len() as u32).collect();
        let window = self.opts.submit_window_ms.max(1);
        match self.opts.scenario {
            Scenario::Random => {
                for tx in all {
                    let at = self.rng.gen_range(0..window);
                    self.push(at, Ev::Submit { tx, to: None });
                    self.last_submit_ms = self.last_submit_ms.max(at);
                }
            }
            Scenario::LateTx => {
                // Node 3 is down: nodes 0, 1, 2 are all needed. Node 2's fetches are never
                // answered, and it gets no relays for the first 4 s: it learns the
                // transactions its peers ballot on only when they relay them again.
                self.nodes[n - 1].role = Role::Byzantine(NodeFault::Silent);
                self.relay_blocked.push((usize::MAX, Some(2), 4_000));
                self.fetch_answers_blocked.push((2, u64::MAX));
                for tx in all {
                    let at = self.rng.gen_range(0..window);
                    let to = self.rng.gen_range(0..2);
                    self.push(at, Ev::Submit { tx, to: Some(to) });
                    self.last_submit_ms = self.last_submit_ms.max(at);
                }
            }
            Scenario::OnlyOneHasTx => {
                // Node 0's relays are lost for the first 5 s.
                self.relay_blocked.push((0, None, 5_000));
                self.push(0, Ev::Submit { tx: 0, to: Some(0) });
            }
            Scenario::BigValue => {
                // Node 1 is down, node 3 gets no relays: it must fetch all 600 in chunks.
                self.nodes[1].role = Role::Byzantine(NodeFault::Silent);
                self.relay_blocked.push((usize::MAX, Some(3), u64::MAX));
                for tx in all {
                    self.push(0, Ev::Submit { tx, to: Some(0) });
                }
            }
            Scenario::SlowPeer => {
                // Node 2 is down, node 3 (needed) validates 5 times slower than the others.
                self.nodes[2].role = Role::Byzantine(NodeFault::Silent);
                self.nodes[3].validate_ms *= 5;
                for tx in all {
                    let at = self.rng.gen_range(0..window);
                    let to = [0, 1, 3][self.rng.gen_range(0..3)];
                    self.push(at, Ev::Submit { tx, to: Some(to) });
                    self.last_submit_ms = self.last_submit_ms.max(at);
                }
            }
            Scenario::AcceptAppendRace => {
                // Each payment goes to node 0, then again to node 1 a little later (a wallet
                // retrying). Node 1 validates clients' transactions slowly (300 ms), so the
                // copy it checked may reach its core after the block that holds the relayed
                // copy.
                self.nodes[1].client_validate_ms = 300;
                for tx in all {
                    let at = self.rng.gen_range(0..window);
                    self.push(at, Ev::Submit { tx, to: Some(0) });
                    let again = at + self.rng.gen_range(0..300);
                    self.push(again, Ev::Submit { tx, to: Some(1) });
                    self.last_submit_ms = self.last_submit_ms.max(again);
                }
            }
        }
    }

    fn start_core(&mut self, i: usize, restored: &[Msg<TxSet>]) {
        let node = &self.nodes[i];
        let tip = node.ledger.tip();
        let peers: Vec<NodeId> = self
            .nodes
            .iter()
            .map(|n| n.id.clone())
            .filter(|p| *p != node.id)
            .collect();
        let core = NodeCore::new(
            self.opts.core,
            node.id.clone(),
            node.qset.clone(),
            peers,
            Tip {
                index: tip.index,
                id: tip.id,
            },
            restored,
            self.now,
        );
        match core {
            Ok(mut c) => {
                c.emulate_legacy(self.opts.legacy);
                self.nodes[i].core = Some(c);
            }
            Err(e) => {
                self.violation(format!("node {i} cannot start its core: {e}"));
                return;
            }
        }
        let inc = self.nodes[i].inc;
        self.push(self.now + TICK_MS, Ev::Tick { node: i, inc });
        self.perform(i);
    }

    fn violation(&mut self, v: String) {
        if self.out.safety_violations.len() < 20 {
            self.out.safety_violations.push(v);
        }
    }

    pub(super) fn run(mut self) -> NodeRunOutcome {
        let deadline = self
            .plan
            .end_ms
            .max(self.last_submit_ms)
            .saturating_add(self.opts.liveness_bound_ms);
        let mut events = 0u64;
        while let Some(e) = self.queue.pop() {
            if e.at > deadline {
                self.now = deadline;
                break;
            }
            self.now = e.at;
            events += 1;

            if events > self.opts.max_events {
                self.out.liveness_failure = Some(format!(
                    "event budget of {} exhausted at {} ms",
                    self.opts.max_events, self.now
                ));
                break;
            }
            self.handle(e.ev);
            if self.now >= self.plan.end_ms.max(self.last_submit_ms) && self.done() {
                break;
            }
        }
        self.finish()
    }

    /// Every transaction that must commit is in every honest node's ledger (or its twin).
    fn done(&self) -> bool {
        if !self.outstanding.is_empty() {
            return false;
        }
        self.nodes
            .iter()
            .filter(|n| n.role == Role::Honest)
            .all(|n| self.must.iter().all(|t| self.settled(n, *t)))
    }

    fn settled(&self, n: &Node, t: SimTxId) -> bool {
        n.ledger.holds.contains_key(&t)
            || self.u.txs[t as usize]
                .twin
                .is_some_and(|tw| n.ledger.holds.contains_key(&tw))
    }

    fn waiting(&self) -> bool {
        self.nodes
            .iter()
            .filter(|n| n.role == Role::Honest)
            .any(|n| self.must.iter().any(|t| !self.settled(n, *t)))
    }

    fn finish(mut self) -> NodeRunOutcome {
        self.out.simulated_ms = self.now;
        let honest: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| n.role == Role::Honest)
            .collect();
        self.out.blocks = honest.iter().map(|n| n.ledger.height()).min().unwrap_or(0);
        self.out.committed = (0..self.u.txs.len() as u32)
            .filter(|t| honest.iter().all(|n| n.ledger.holds.contains_key(t)))
            .count() as u64;
        self.out.submitted = self.submitted.len() as u64;
        if self.waiting() {
            self.note_gap();
        }
        if self.out.liveness_failure.is_none() {
            let missing: Vec<String> = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.role == Role::Honest)
                .filter_map(|(i, n)| {
                    let m = self.must.iter().filter(|t| !self.settled(n, **t)).count();
                    (m > 0).then(|| format!("node {i} lacks {m} (height {})", n.ledger.height()))
                })
                .collect();
            if !missing.is_empty() {
                self.out.liveness_failure = Some(format!(
                    "not every acknowledged transaction committed within {} ms after faults \
                     ended at {} ms: {}",
                    self.opts.liveness_bound_ms,
                    self.plan.end_ms,
                    missing.join(", ")
                ));
            } else if self.out.max_block_gap_ms > self.opts.gap_bound_ms {
                self.out.liveness_failure = Some(format!(
                    "a gap of {} ms between blocks while transactions waited (bound {} ms)",
                    self.out.max_block_gap_ms, self.opts.gap_bound_ms
                ));
            }
        }
        if self.out.liveness_failure.is_some() {
            for (i, n) in self.nodes.iter().enumerate() {
                let Some(c) = n.core.as_ref().filter(|_| n.role == Role::Honest) else {
                    continue;
                };
                let lacking: Vec<SimTxId> = self
                    .must
                    .iter()
                    .copied()
                    .filter(|t| !self.settled(n, *t))
                    .take(10)
                    .collect();
                let held: Vec<bool> = lacking
                    .iter()
                    .map(|t| c.store().contains(&self.u.txs[*t as usize].facts.hash))
                    .collect();
                self.out.stuck.push(serde_json::json!({
                    "node": i,
                    "up": n.up,
                    "height": n.ledger.height(),
                    "status": c.status(),
                    "stats": c.stats(),
                    "lacking": lacking,
                    "lacking_held_here": held,
                    "acked_by": lacking.iter().map(|t| self.acked_by.get(t).cloned().unwrap_or_default()).collect::<Vec<_>>(),
                    "scp": c.scp().snapshot(c.slot()).map(|s| serde_json::json!({
                        "phase": s.phase,
                        "round": s.nomination.round,
                        "leaders": s.nomination.leaders,
                        "voted": s.nomination.voted.len(),
                        "candidates": s.nomination.candidates.len(),
                        "b": s.ballot.b.as_ref().map(|b| b.counter),
                        "nominations_from": s.latest_nominations.keys().collect::<Vec<_>>(),
                        "ballots_from": s.latest_ballots.keys().collect::<Vec<_>>(),
                    })),
                }));
            }
        }
        self.digest.update(self.now.to_le_bytes());
        self.out.digest = hex::encode(self.digest.finalize());
        self.out
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { from, to, msg } => {
                if !self.nodes[to].up {
                    return;
                }
                self.log(&[1, from as u64, to as u64]);
                self.deliver(from, to, msg);
            }
            Ev::Timer { node, gen } => {
                let n = &mut self.nodes[node];
                if !n.up || n.timer_gen != gen {
                    return;
                }
                n.timer_at = None;
                self.log(&[2, node as u64]);
                if let Some(c) = self.nodes[node].core.as_mut() {
                    c.tick(self.now);
                }
                self.perform(node);
            }
            Ev::Tick { node, inc } => {
                if !self.nodes[node].up || self.nodes[node].inc != inc {
                    return;
                }
                if let Some(c) = self.nodes[node].core.as_mut() {
                    c.tick(self.now);
                }
                self.perform(node);
                self.push(self.now + TICK_MS, Ev::Tick { node, inc });
            }
            Ev::ValidationStart {
                node,
                inc,
                txs,
                client,
            } => {
                if !self.nodes[node].up || self.nodes[node].inc != inc {
                    return;
                }
                let ledger = &self.nodes[node].ledger;
                let h = ledger.height();
                let checked: Vec<(SimTxId, u64, bool)> = txs
                    .iter()
                    .map(|t| (*t, h, ledger.admits(&self.u, *t)))
                    .collect();
                let per = if client {
                    self.nodes[node].client_validate_ms
                } else {
                    self.nodes[node].validate_ms
                };
                let cost = per * txs.len() as u64;
                self.push(
                    self.now + cost,
                    Ev::ValidationDone {
                        node,
                        inc,
                        checked,
                        client,
                    },
                );
            }
            Ev::ValidationDone {
                node,
                inc,
                checked,
                client,
            } => {
                if !self.nodes[node].up || self.nodes[node].inc != inc {
                    return;
                }
                self.log(&[3, node as u64, checked.len() as u64]);
                if client {
                    for (t, checked_for, ok) in checked {
                        self.client_checked(node, t, checked_for, ok);
                    }
                } else {
                    let results = checked
                        .into_iter()
                        .map(|(t, checked_for, ok)| Checked {
                            tx: self.u.core_tx(t),
                            checked_for,
                            outcome: if ok {
                                Ok(())
                            } else {
                                Err(Refusal {
                                    code: 7,
                                    message: "invalid here".into(),
                                    permanent: true,
                                })
                            },
                        })
                        .collect::<Vec<_>>();
                    let txs: Vec<SimTxId> = results.iter().map(|c| c.tx.body).collect();
                    if let Some(c) = self.nodes[node].core.as_mut() {
                        c.on_validated(results, self.now);
                    }
                    self.check_stale(node, &txs);
                }
                self.perform(node);
            }
            Ev::FormDone {
                node,
                inc,
                index,
                txs,
            } => {
                if !self.nodes[node].up || self.nodes[node].inc != inc {
                    return;
                }
                self.formed(node, index, &txs);
            }
            Ev::CatchUpTimeout { node, inc, req } => {
                if !self.nodes[node].up || self.nodes[node].inc != inc {
                    return;
                }
                if self.nodes[node].catch_up == Some(req) {
                    self.nodes[node].catch_up = None;
                    if let Some(c) = self.nodes[node].core.as_mut() {
                        c.on_catch_up_done(self.now);
                    }
                    self.perform(node);
                }
            }
            Ev::Submit { tx, to } => self.submit(tx, to),
            Ev::Crash { node } => {
                self.log(&[4, node as u64]);
                let n = &mut self.nodes[node];
                n.up = false;
                n.core = None;
                n.inc += 1;
                n.timer_gen += 1;
                n.timer_at = None;
                n.catch_up = None;
                n.lane_free = 0;
                n.client_lane_free = 0;
                n.seen.clear();
                n.seen_order.clear();
                // The client gets no answer from a crashed node.
                self.outstanding.retain(|_, to| *to != node);
                // What it acknowledged and held only in memory may be lost: no longer
                // required unless another node acknowledged it too.
                let open = std::mem::take(&mut n.acked_open);
                for t in open {
                    if let Some(by) = self.acked_by.get_mut(&t) {
                        by.remove(&node);
                        if by.is_empty() {
                            self.must.remove(&t);
                        }
                    }
                }
            }
            Ev::Restart { node } => {
                if self.nodes[node].up {
                    return;
                }
                self.log(&[5, node as u64]);
                self.nodes[node].up = true;
                let tip = self.nodes[node].ledger.tip().id;
                let restored = match &self.nodes[node].persisted {
                    Some((prev, msgs)) if *prev == tip => msgs.clone(),
                    _ => Vec::new(),
                };
                self.start_core(node, &restored);
            }
            Ev::ByzTick { node } => {
                self.garbage(node);
                let at = self.now + self.rng.gen_range(100..400);
                self.push(at, Ev::ByzTick { node });
            }
        }
    }

    fn submit(&mut self, tx: SimTxId, to: Option<usize>) {
        self.submitted.insert(tx);
        let target = match to {
            Some(t) => t,
            None => {
                let up: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| self.nodes[*i].up && self.honest(*i))
                    .collect();
                if up.is_empty() {
                    self.push(self.now + 500, Ev::Submit { tx, to: None });
                    return;
                }
                up[self.rng.gen_range(0..up.len())]
            }
        };
        if !self.nodes[target].up {
            self.push(self.now + 500, Ev::Submit { tx, to: None });
            return;
        }
        self.log(&[6, tx as u64, target as u64]);
        self.outstanding.insert(tx, target);
        self.schedule_validation(target, vec![tx], true);
    }

    fn schedule_validation(&mut self, node: usize, txs: Vec<SimTxId>, client: bool) {
        let n = &mut self.nodes[node];
        let (lane, per) = if client {
            (&mut n.client_lane_free, n.client_validate_ms)
        } else {
            (&mut n.lane_free, n.validate_ms)
        };
        let start = self.now.max(*lane);
        *lane = start + per * txs.len() as u64;
        let inc = n.inc;
        self.push(
            start,
            Ev::ValidationStart {
                node,
                inc,
                txs,
                client,
            },
        );
    }

    fn client_checked(&mut self, node: usize, tx: SimTxId, checked_for: u64, ok: bool) {
        if self.outstanding.get(&tx) == Some(&node) {
            self.outstanding.remove(&tx);
        }
        if !ok {
            return;
        }
        let Some(core) = self.nodes[node].core.as_mut() else {
            return;
        };
        match core.on_client_tx(self.u.core_tx(tx), checked_for, self.now) {
            ClientVerdict::Accepted => {
                if self.nodes[node].role == Role::Honest {
                    self.out.acknowledged += u64::from(self.must.insert(tx));
                    self.acked_by.entry(tx).or_default().insert(node);
                    if !self.nodes[node].ledger.holds.contains_key(&tx) {
                        self.nodes[node].acked_open.insert(tx);
                    }
                    self.wait_started.get_or_insert(self.now);
                }
                self.check_stale(node, &[tx]);
            }
            ClientVerdict::Recheck => {
                self.outstanding.insert(tx, node);
                self.schedule_validation(node, vec![tx], true)
            }
            ClientVerdict::Refused(_) => {}
        }
    }

    /// No honest node holds as pending a transaction its ledger already holds.
    fn check_stale(&mut self, node: usize, txs: &[SimTxId]) {
        if !self.honest(node) {
            return;
        }
        let Some(core) = self.nodes[node].core.as_ref() else {
            return;
        };
        let stale: Vec<SimTxId> = txs
            .iter()
            .copied()
            .filter(|t| {
                self.nodes[node].ledger.holds.contains_key(t)
                    && core.store().contains(&self.u.txs[*t as usize].facts.hash)
            })
            .collect();
        for t in stale {
            let block = self.nodes[node].ledger.holds.get(&t).copied().unwrap_or(0);
            self.violation(format!(
                "node {node} holds tx {t} as pending after block {block} took it"
            ));
        }
    }

    fn formed(&mut self, node: usize, index: u64, txs: &[SimTxId]) {
        if self.nodes[node].ledger.height() != index {
            if let Some(c) = self.nodes[node].core.as_mut() {
                c.on_form_failed(index, self.now);
            }
            self.perform(node);
            return;
        }
        let (block, dropped) = self.nodes[node].ledger.form(&self.u, txs);
        let appended = self.appended(&block, dropped);
        self.append(node, block);
        if let Some(c) = self.nodes[node].core.as_mut() {
            if let Err(e) = c.on_block_appended(appended, self.now) {
                let msg = format!("node {node}: {e}");
                self.violation(msg);
            }
        }
        self.perform(node);
    }

    fn appended(&self, b: &SimBlock, dropped: Vec<SimTxId>) -> AppendedBlock {
        let facts = |t: &SimTxId| &self.u.txs[*t as usize].facts;
        AppendedBlock {
            index: b.index,
            id: b.id,
            parent_id: b.parent,
            key_images: b
                .txs
                .iter()
                .flat_map(|t| facts(t).key_images.clone())
                .collect(),
            output_keys: b
                .txs
                .iter()
                .flat_map(|t| facts(t).output_keys.clone())
                .collect(),
            included: b.txs.iter().map(|t| facts(t).hash).collect(),
            dropped: dropped.iter().map(|t| facts(t).hash).collect(),
        }
    }

    /// Appends `b` to node `i`'s ledger and checks agreement and spends.
    fn append(&mut self, i: usize, b: SimBlock) {
        self.log(&[7, i as u64, b.index]);
        if self.honest(i) {
            match self.agreed.get(&b.index) {
                Some(id) if *id != b.id => {
                    let msg = format!("node {i} appended another block {} than agreed", b.index);
                    self.violation(msg);
                }
                Some(_) => {}
                None => {
                    self.agreed.insert(b.index, b.id);
                }
            }
            for t in &b.txs {
                if self.nodes[i].ledger.holds.contains_key(t) {
                    self.violation(format!("node {i} appended tx {t} twice"));
                }
                let coin = self.u.txs[*t as usize].facts.key_images[0];
                if self.nodes[i].ledger.spent.contains(&coin) {
                    self.violation(format!("node {i} spent the coin of tx {t} twice"));
                }
                if self.u.txs[*t as usize].invalid {
                    self.violation(format!("node {i} appended invalid tx {t}"));
                }
                self.nodes[i].acked_open.remove(t);
            }
            let new_height = b.index + 1 > self.highest;
            if new_height {
                self.note_gap();
                self.highest = b.index + 1;
                self.last_new_block_at = self.now;
            }
            let u = &self.u;
            self.nodes[i].ledger.append(u, b);
            if new_height && !self.waiting() {
                self.wait_started = None;
            }
            return;
        }
        let u = &self.u;
        self.nodes[i].ledger.append(u, b);
    }

    /// Records the gap since the last new block, counted from when faults ended and from
    /// when transactions started waiting.
    fn note_gap(&mut self) {
        let Some(waiting_since) = self.wait_started else {
            return;
        };
        if self.now < self.plan.end_ms {
            return;
        }
        let from = self
            .last_new_block_at
            .max(self.plan.end_ms)
            .max(waiting_since);
        self.out.max_block_gap_ms = self.out.max_block_gap_ms.max(self.now.saturating_sub(from));
    }

    fn perform(&mut self, i: usize) {
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        let actions = core.take_actions();
        let next = core.next_wakeup();
        for a in actions {
            match a {
                Action::Persist { slot, msgs } => {
                    let tip = self.nodes[i].ledger.tip();
                    if slot == tip.index + 1 {
                        self.nodes[i].persisted = Some((tip.id, msgs));
                    }
                }
                Action::Broadcast { msg, prev_block_id } => {
                    let msg = Arc::new(msg);
                    for j in 0..self.nodes.len() {
                        if j != i {
                            self.send(
                                i,
                                j,
                                Net::Scp {
                                    msg: msg.clone(),
                                    prev: prev_block_id,
                                },
                            );
                        }
                    }
                }
                Action::Fetch(req) => {
                    if let Some(&j) = self.index_of.get(&req.peer) {
                        self.send(
                            i,
                            j,
                            Net::FetchReq {
                                id: req.id,
                                hashes: req.hashes,
                            },
                        );
                    }
                }
                Action::Validate { txs, .. } => {
                    let ids = txs.into_iter().map(|t| t.body).collect();
                    self.schedule_validation(i, ids, false);
                }
                Action::Relay(bodies) => {
                    let txs = Arc::new(bodies);
                    for j in 0..self.nodes.len() {
                        if j != i {
                            self.send(i, j, Net::Relay(txs.clone()));
                        }
                    }
                }
                Action::FormBlock { index, txs, .. } => {
                    let (lo, hi) = self.opts.form_ms;
                    let at = self.now + self.rng.gen_range(lo..=hi);
                    let inc = self.nodes[i].inc;
                    self.push(
                        at,
                        Ev::FormDone {
                            node: i,
                            inc,
                            index,
                            txs,
                        },
                    );
                }
                Action::CatchUp { tip } => {
                    // As the real shell: ask every peer (the first answer with blocks is
                    // used; a peer that lies or is away is skipped).
                    let req = self.next_req;
                    self.next_req += 1;
                    self.nodes[i].catch_up = Some(req);
                    for target in (0..self.nodes.len()).filter(|j| *j != i) {
                        self.send(
                            i,
                            target,
                            Net::BlocksReq {
                                req,
                                from: tip.index + 1,
                            },
                        );
                    }
                    let inc = self.nodes[i].inc;
                    self.push(
                        self.now + CATCH_UP_TIMEOUT_MS,
                        Ev::CatchUpTimeout { node: i, inc, req },
                    );
                }
                Action::ProbeHeights => {
                    for j in 0..self.nodes.len() {
                        if j != i {
                            self.send(i, j, Net::HeightReq);
                        }
                    }
                }
                Action::Notice(Notice::Stalled(_)) => self.out.stall_reports += 1,
                Action::Notice(_) => {}
            }
        }
        if let Some(t) = next {
            let n = &mut self.nodes[i];
            if n.timer_at.is_none_or(|cur| t < cur) {
                n.timer_gen += 1;
                n.timer_at = Some(t);
                let gen = n.timer_gen;
                // A wakeup due now runs after this instant's other events.
                self.push(t.max(self.now + 1), Ev::Timer { node: i, gen });
            }
        }
    }

    fn blocked(&self, from: usize, to: usize, msg: &Net) -> bool {
        match msg {
            Net::Relay(_) => self.relay_blocked.iter().any(|(f, t, until)| {
                (*f == usize::MAX || *f == from) && t.is_none_or(|t| t == to) && self.now < *until
            }),
            Net::FetchAnswer { .. } => self
                .fetch_answers_blocked
                .iter()
                .any(|(t, until)| *t == to && self.now < *until),
            _ => false,
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: Net) {
        if self.nodes[from].role == Role::Byzantine(NodeFault::Silent) {
            return;
        }
        if self.blocked(from, to, &msg) {
            return;
        }
        let in_window = self.now < self.plan.end_ms;
        if in_window {
            if self.plan.cut(self.now, from, to) {
                return;
            }
            if matches!(msg, Net::Relay(_))
                && self.plan.relay_loss > 0.0
                && self.rng.gen_bool(self.plan.relay_loss)
            {
                *self
                    .out
                    .fault_events
                    .entry(NodeFault::RelayLoss)
                    .or_default() += 1;
                return;
            }
            if self.plan.loss > 0.0 && self.rng.gen_bool(self.plan.loss) {
                *self.out.fault_events.entry(NodeFault::Loss).or_default() += 1;
                return;
            }
        }
        let mut delay = self.base[from][to] + self.rng.gen_range(0..=self.base[from][to] / 2);
        if in_window && self.plan.delay_p > 0.0 && self.rng.gen_bool(self.plan.delay_p) {
            delay += self.rng.gen_range(0..=self.plan.delay_max_ms);
            *self.out.fault_events.entry(NodeFault::Delay).or_default() += 1;
        }
        let mut at = self.now + delay;
        if self.opts.legacy_relay_fifo {
            // One FIFO per link with one call in flight: a message waits for the call before
            // it, and a relay holds the link until the receiver validated it.
            let free = self.nodes[from].link_free[to].max(self.now);
            at = free + delay;
            let busy_until = match &msg {
                Net::Relay(txs) => {
                    let r = &self.nodes[to];
                    at.max(r.lane_free) + r.validate_ms * txs.len() as u64 + delay
                }
                _ => at + delay,
            };
            self.nodes[from].link_free[to] = busy_until;
        }
        let dup = in_window && self.plan.dup > 0.0 && self.rng.gen_bool(self.plan.dup);
        if dup {
            *self.out.fault_events.entry(NodeFault::Dup).or_default() += 1;
            let copy = match &msg {
                Net::Scp { msg, prev } => Some(Net::Scp {
                    msg: msg.clone(),
                    prev: *prev,
                }),
                Net::Relay(t) => Some(Net::Relay(t.clone())),
                _ => None,
            };
            if let Some(copy) = copy {
                let extra = self.rng.gen_range(0..=50);
                self.push(
                    at + extra,
                    Ev::Deliver {
                        from,
                        to,
                        msg: copy,
                    },
                );
            }
        }
        self.push(at, Ev::Deliver { from, to, msg });
    }

    fn deliver(&mut self, from: usize, to: usize, msg: Net) {
        if self.nodes[to].core.is_none() {
            return;
        }
        let byz = self.nodes[to].role;
        match msg {
            Net::Scp { msg, prev } => {
                self.out.messages += 1;
                let id = envelope_id(&prev, &msg);
                let n = &mut self.nodes[to];
                if n.seen.contains(&id) {
                    return;
                }
                n.seen.insert(id);
                n.seen_order.push_back(id);
                while n.seen_order.len() > DEDUP_WINDOW {
                    if let Some(old) = n.seen_order.pop_front() {
                        n.seen.remove(&old);
                    }
                }
                if let Some(c) = n.core.as_mut() {
                    c.on_envelope(
                        Envelope {
                            msg: (*msg).clone(),
                            prev_block_id: prev,
                        },
                        self.now,
                    );
                }
            }
            Net::Relay(txs) => {
                let core_txs = txs.iter().map(|t| self.u.core_tx(*t)).collect();
                if let Some(c) = self.nodes[to].core.as_mut() {
                    c.on_peer_txs(core_txs, self.now);
                }
            }
            Net::FetchReq { id, hashes } => {
                if hashes.len() > self.opts.fetch_server_limit {
                    self.send(to, from, Net::FetchRefused { id });
                    return;
                }
                if byz == Role::Byzantine(NodeFault::Garbage) {
                    // Lies: says it holds everything, sends nothing.
                    self.send(
                        to,
                        from,
                        Net::FetchAnswer {
                            id,
                            txs: Vec::new(),
                            lacking: Vec::new(),
                            deferred: hashes,
                        },
                    );
                    return;
                }
                let Some(c) = self.nodes[to].core.as_ref() else {
                    return;
                };
                let (found, lacking) = c.lookup(&hashes);
                let limit = self.opts.fetch_answer_limit;
                let deferred: Vec<TxHash> = found.iter().skip(limit).map(|(h, _)| *h).collect();
                let txs: Vec<SimTxId> = found.into_iter().take(limit).map(|(_, b)| b).collect();
                self.send(
                    to,
                    from,
                    Net::FetchAnswer {
                        id,
                        txs,
                        lacking,
                        deferred,
                    },
                );
            }
            Net::FetchAnswer {
                id,
                txs,
                lacking,
                deferred,
            } => {
                let core_txs = txs.iter().map(|t| self.u.core_tx(*t)).collect();
                if let Some(c) = self.nodes[to].core.as_mut() {
                    c.on_fetch_answer(id, core_txs, &lacking, &deferred, self.now);
                }
            }
            Net::FetchRefused { id } => {
                if let Some(c) = self.nodes[to].core.as_mut() {
                    c.on_fetch_failed(id, self.now);
                }
            }
            Net::HeightReq => {
                let height = self.nodes[to].ledger.height();
                self.send(to, from, Net::HeightAnswer { height });
            }
            Net::HeightAnswer { height } => {
                let peer = self.nodes[from].id.clone();
                if let Some(c) = self.nodes[to].core.as_mut() {
                    c.on_peer_heights(&[(peer, height)], self.now);
                }
            }
            Net::BlocksReq { req, from: start } => {
                if byz != Role::Honest {
                    return;
                }
                let blocks: Vec<SimBlock> = self.nodes[to]
                    .ledger
                    .blocks
                    .iter()
                    .skip(start as usize)
                    .take(BLOCKS_PER_ANSWER)
                    .cloned()
                    .collect();
                self.send(to, from, Net::BlocksAnswer { req, blocks });
            }
            Net::BlocksAnswer { req, blocks } => {
                if self.nodes[to].catch_up != Some(req) || blocks.is_empty() {
                    return;
                }
                self.nodes[to].catch_up = None;
                for b in blocks {
                    let tip = self.nodes[to].ledger.tip();
                    if b.index != tip.index + 1 || b.parent != tip.id {
                        break;
                    }
                    let mut appended = self.appended(&b, Vec::new());
                    appended.included.clear();
                    self.append(to, b);
                    if let Some(c) = self.nodes[to].core.as_mut() {
                        if let Err(e) = c.on_block_appended(appended, self.now) {
                            let msg = format!("node {to}: {e}");
                            self.violation(msg);
                            break;
                        }
                    }
                }
                if let Some(c) = self.nodes[to].core.as_mut() {
                    c.on_catch_up_done(self.now);
                }
            }
        }
        self.perform(to);
    }

    /// A Byzantine node names transactions nobody has, in nominations and ballots for its
    /// current slot.
    fn garbage(&mut self, i: usize) {
        let Some(core) = self.nodes[i].core.as_ref() else {
            return;
        };
        let slot = core.slot();
        let prev = core.tip().id;
        let bogus: Vec<TxHash> = (0..self.rng.gen_range(1..4))
            .map(|_| {
                let mut h = [0u8; 32];
                self.rng.fill(&mut h[..]);
                h
            })
            .collect();
        let value = TxSet::new(bogus);
        let topic = if self.rng.gen_bool(0.5) {
            Topic::Nominate(Nominate {
                voted: vec![value],
                accepted: Vec::new(),
            })
        } else {
            let b = mcnode_scp::Ballot::new(self.rng.gen_range(1..5), value);
            Topic::Ballot(mcnode_scp::BallotStatement::Prepare(mcnode_scp::Prepare {
                ballot: b.clone(),
                prepared: Some(b),
                prepared_prime: None,
                commit_counter: 0,
                high_counter: 0,
            }))
        };
        let msg = Arc::new(Msg {
            sender: self.nodes[i].id.clone(),
            slot,
            quorum_set: self.nodes[i].qset.clone(),
            topic,
        });
        for j in 0..self.nodes.len() {
            if j != i {
                self.send(
                    i,
                    j,
                    Net::Scp {
                        msg: msg.clone(),
                        prev,
                    },
                );
            }
        }
    }
}
