//! What the simulated world is made of: the transactions clients submit, the blocks nodes
//! append, and the faults a run draws from its seed.

use std::collections::{BTreeMap, BTreeSet};

use mcnode_node_core::{BlockId, CoreTx, TxFacts, TxHash};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A transaction of the simulation (its index in [`Universe::txs`]).
pub type SimTxId = u32;

/// What a client submits.
#[derive(Clone, Debug)]
pub struct SimTx {
    /// Its facts (hash, fee, tombstone, the coin it spends, the output it creates).
    pub facts: TxFacts,
    /// Refused by every node's validation (a bad proof).
    pub invalid: bool,
    /// The other half of a double spend (same coin), if it is one.
    pub twin: Option<SimTxId>,
}

/// Every transaction of a run.
#[derive(Clone, Debug, Default)]
pub struct Universe {
    /// By id.
    pub txs: Vec<SimTx>,
    /// Hash to id.
    pub by_hash: BTreeMap<TxHash, SimTxId>,
}

fn h32(tag: &str, n: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(tag.as_bytes());
    h.update(n.to_le_bytes());
    h.finalize().into()
}

impl Universe {
    /// `valid` payments (of which `double_spends` pairs share a coin) and `invalid` ones,
    /// all with tombstones far ahead.
    pub fn new(rng: &mut ChaCha8Rng, valid: u32, double_spends: u32, invalid: u32) -> Self {
        let mut u = Self::default();
        for i in 0..valid + invalid {
            let id = i as u64;
            let facts = TxFacts {
                hash: h32("tx", id),
                fee: rng.gen_range(1..=1000),
                tombstone_block: 10_000,
                key_images: vec![h32("coin", id)],
                output_keys: vec![h32("out", id)],
            };
            u.by_hash.insert(facts.hash, i);
            u.txs.push(SimTx {
                facts,
                invalid: i >= valid,
                twin: None,
            });
        }
        // Pairs (0,1), (2,3), ...: the second spends the first's coin.
        for p in 0..double_spends.min(valid / 2) {
            let (a, b) = (2 * p, 2 * p + 1);
            let coin = u.txs[a as usize].facts.key_images[0];
            u.txs[b as usize].facts.key_images = vec![coin];
            u.txs[a as usize].twin = Some(b);
            u.txs[b as usize].twin = Some(a);
        }
        u
    }

    /// The core's view of transaction `id`.
    pub fn core_tx(&self, id: SimTxId) -> CoreTx<SimTxId> {
        CoreTx {
            facts: self.txs[id as usize].facts.clone(),
            body: id,
        }
    }

    /// Adds `n` more valid, independent transactions (returns their ids).
    pub fn extend(&mut self, rng: &mut ChaCha8Rng, n: u32) -> Vec<SimTxId> {
        let base = self.txs.len() as u32;
        let mut out = Vec::new();
        for i in base..base + n {
            let id = i as u64 + 1_000_000;
            let facts = TxFacts {
                hash: h32("tx", id),
                fee: rng.gen_range(1..=1000),
                tombstone_block: 10_000,
                key_images: vec![h32("coin", id)],
                output_keys: vec![h32("out", id)],
            };
            self.by_hash.insert(facts.hash, i);
            self.txs.push(SimTx {
                facts,
                invalid: false,
                twin: None,
            });
            out.push(i);
        }
        out
    }
}

/// A block in a simulated ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimBlock {
    /// Index.
    pub index: u64,
    /// Id: hash of the parent id and the transactions.
    pub id: BlockId,
    /// Parent id.
    pub parent: BlockId,
    /// The transactions it holds, in the value's order.
    pub txs: Vec<SimTxId>,
}

/// The origin block every node starts from.
pub fn origin() -> SimBlock {
    SimBlock {
        index: 0,
        id: h32("origin", 0),
        parent: [0; 32],
        txs: Vec::new(),
    }
}

/// A node's ledger.
#[derive(Clone, Debug)]
pub struct SimLedger {
    /// Blocks from the origin.
    pub blocks: Vec<SimBlock>,
    /// Coins spent.
    pub spent: BTreeSet<[u8; 32]>,
    /// Output keys created.
    pub outputs: BTreeSet<[u8; 32]>,
    /// Where each transaction is.
    pub holds: BTreeMap<SimTxId, u64>,
}

impl Default for SimLedger {
    fn default() -> Self {
        Self {
            blocks: vec![origin()],
            spent: BTreeSet::new(),
            outputs: BTreeSet::new(),
            holds: BTreeMap::new(),
        }
    }
}

impl SimLedger {
    /// The last block.
    pub fn tip(&self) -> &SimBlock {
        // The origin is always there.
        &self.blocks[self.blocks.len() - 1]
    }

    /// Number of blocks (the next block's index).
    pub fn height(&self) -> u64 {
        self.blocks.len() as u64
    }

    /// Whether `tx` may enter the next block (the node's validation).
    pub fn admits(&self, u: &Universe, tx: SimTxId) -> bool {
        let t = &u.txs[tx as usize];
        !t.invalid
            && t.facts.tombstone_block > self.height()
            && !t.facts.key_images.iter().any(|k| self.spent.contains(k))
            && !t.facts.output_keys.iter().any(|k| self.outputs.contains(k))
    }

    /// Forms the next block from `txs` as the enclave does: in order, dropping what the
    /// ledger or an earlier transaction of the block already spends or creates. Returns
    /// the block and the dropped transactions.
    pub fn form(&self, u: &Universe, txs: &[SimTxId]) -> (SimBlock, Vec<SimTxId>) {
        let mut spent = BTreeSet::new();
        let mut outs = BTreeSet::new();
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        for &t in txs {
            let f = &u.txs[t as usize].facts;
            let ok = self.admits(u, t)
                && !f.key_images.iter().any(|k| spent.contains(k))
                && !f.output_keys.iter().any(|k| outs.contains(k));
            if ok {
                spent.extend(f.key_images.iter().copied());
                outs.extend(f.output_keys.iter().copied());
                kept.push(t);
            } else {
                dropped.push(t);
            }
        }
        let parent = self.tip().id;
        let mut h = Sha256::new();
        h.update(parent);
        for t in &kept {
            h.update(u.txs[*t as usize].facts.hash);
        }
        (
            SimBlock {
                index: self.height(),
                id: h.finalize().into(),
                parent,
                txs: kept,
            },
            dropped,
        )
    }

    /// Appends `b` (which must follow the tip).
    pub fn append(&mut self, u: &Universe, b: SimBlock) {
        for &t in &b.txs {
            let f = &u.txs[t as usize].facts;
            self.spent.extend(f.key_images.iter().copied());
            self.outputs.extend(f.output_keys.iter().copied());
            self.holds.insert(t, b.index);
        }
        self.blocks.push(b);
    }
}

/// Kinds of fault a random run may draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeFault {
    /// Messages lost with some probability.
    Loss,
    /// Extra delay on some messages.
    Delay,
    /// Messages delivered twice.
    Dup,
    /// A minority of nodes cut off for a while.
    Partition,
    /// A node killed and restarted from its ledger and persisted SCP state.
    Crash,
    /// Relayed transactions lost, so they spread by fetch only.
    RelayLoss,
    /// Validation that takes many times longer on some nodes.
    SlowValidation,
    /// A Byzantine node that sends nothing.
    Silent,
    /// A Byzantine node that names transactions nobody has and lies about holding
    /// transactions.
    Garbage,
}

impl NodeFault {
    /// Every kind.
    pub const ALL: [NodeFault; 9] = [
        Self::Loss,
        Self::Delay,
        Self::Dup,
        Self::Partition,
        Self::Crash,
        Self::RelayLoss,
        Self::SlowValidation,
        Self::Silent,
        Self::Garbage,
    ];

    /// The kind's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Loss => "loss",
            Self::Delay => "delay",
            Self::Dup => "dup",
            Self::Partition => "partition",
            Self::Crash => "crash",
            Self::RelayLoss => "relay_loss",
            Self::SlowValidation => "slow_validation",
            Self::Silent => "silent",
            Self::Garbage => "garbage",
        }
    }

    /// Parses a comma list (`all`, `none`, or names).
    pub fn parse_list(s: &str) -> Result<Vec<NodeFault>, String> {
        match s {
            "all" => return Ok(Self::ALL.to_vec()),
            "none" | "" => return Ok(Vec::new()),
            _ => {}
        }
        s.split(',')
            .map(|n| {
                Self::ALL
                    .into_iter()
                    .find(|k| k.name() == n.trim())
                    .ok_or_else(|| format!("unknown node fault {n:?}"))
            })
            .collect()
    }
}

/// A crash of `node` at `at`, restarted at `restart`.
#[derive(Clone, Copy, Debug)]
pub struct Crash {
    /// The node.
    pub node: usize,
    /// When it stops, ms.
    pub at: u64,
    /// When it starts again, ms.
    pub restart: u64,
}

/// The faults of one run.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Kinds drawn.
    pub kinds: Vec<NodeFault>,
    /// When every network and crash fault has ended, ms.
    pub end_ms: u64,
    /// Loss probability during the window.
    pub loss: f64,
    /// Duplication probability during the window.
    pub dup: f64,
    /// Probability of an extra delay of up to `delay_max_ms` during the window.
    pub delay_p: f64,
    /// Largest extra delay, ms.
    pub delay_max_ms: u64,
    /// Probability that a relay message is lost during the window.
    pub relay_loss: f64,
    /// Nodes cut off from the rest, and when.
    pub partitions: Vec<(u64, u64, BTreeSet<usize>)>,
    /// Crashes.
    pub crashes: Vec<Crash>,
    /// Byzantine nodes and their kind.
    pub byzantine: BTreeMap<usize, NodeFault>,
    /// Validation slowdown per node (1 = normal).
    pub slow: BTreeMap<usize, u64>,
}

impl Plan {
    /// Draws a plan over `n` nodes from `kinds`, with at most `max_faulty` nodes faulty at
    /// once (drawn from one of `groups`), faults within `window_ms`.
    pub fn draw(
        rng: &mut ChaCha8Rng,
        n: usize,
        kinds: &[NodeFault],
        max_faulty: usize,
        groups: &[Vec<usize>],
        window_ms: u64,
    ) -> Self {
        let mut plan = Plan::default();
        let mut chosen: Vec<NodeFault> = kinds
            .iter()
            .copied()
            .filter(|_| rng.gen_bool(0.5))
            .collect();
        if chosen.is_empty() {
            if let Some(k) = kinds.choose(rng) {
                chosen.push(*k);
            }
        }
        chosen.sort();
        let end = rng.gen_range(window_ms / 2..=window_ms.max(1));
        plan.end_ms = end;
        let group: Vec<usize> = groups
            .choose(rng)
            .cloned()
            .unwrap_or_else(|| (0..n).collect());
        let mut faulty: Vec<usize> = group.clone();
        faulty.shuffle(rng);
        faulty.truncate(max_faulty);
        let byz_kinds: Vec<NodeFault> = chosen
            .iter()
            .copied()
            .filter(|k| matches!(k, NodeFault::Silent | NodeFault::Garbage))
            .collect();
        // Byzantine nodes take the faulty budget first; crashes and partitions use what
        // is left, so the honest nodes up and connected always form a quorum.
        let mut budget = faulty.clone();
        for k in &byz_kinds {
            if let Some(node) = budget.pop() {
                plan.byzantine.insert(node, *k);
            }
        }
        for k in &chosen {
            match k {
                NodeFault::Loss => plan.loss = rng.gen_range(0.02..0.3),
                NodeFault::Dup => plan.dup = rng.gen_range(0.02..0.2),
                NodeFault::Delay => {
                    plan.delay_p = rng.gen_range(0.05..0.3);
                    plan.delay_max_ms = rng.gen_range(100..2_000);
                }
                NodeFault::RelayLoss => plan.relay_loss = rng.gen_range(0.3..1.0),
                NodeFault::SlowValidation => {
                    for node in 0..n {
                        if rng.gen_bool(0.5) {
                            plan.slow.insert(node, rng.gen_range(2..20));
                        }
                    }
                }
                NodeFault::Partition if !budget.is_empty() => {
                    for _ in 0..rng.gen_range(1..=3) {
                        let a = rng.gen_range(0..end.max(1));
                        let b = rng.gen_range(a..=end);
                        let k = rng.gen_range(1..=budget.len());
                        plan.partitions
                            .push((a, b, budget.iter().take(k).copied().collect()));
                    }
                }
                NodeFault::Crash if !budget.is_empty() => {
                    // One at a time, so at most the budget is down.
                    let mut t = rng.gen_range(0..end.max(1) / 2 + 1);
                    for _ in 0..rng.gen_range(1..=4) {
                        let node = budget[rng.gen_range(0..budget.len())];
                        let restart = (t + rng.gen_range(100..5_000)).min(end);
                        if restart <= t {
                            break;
                        }
                        plan.crashes.push(Crash {
                            node,
                            at: t,
                            restart,
                        });
                        t = restart + rng.gen_range(1..1_000);
                        if t >= end {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        plan.kinds = chosen;
        plan
    }

    /// Whether `a` and `b` are cut off from each other at `now`.
    pub fn cut(&self, now: u64, a: usize, b: usize) -> bool {
        self.partitions.iter().any(|(from, to, side)| {
            now >= *from && now < *to && side.contains(&a) != side.contains(&b)
        })
    }
}
