//! Fault kinds and the per-run fault plan drawn from the seed.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::topology::Topology;
use crate::SimError;

/// One kind of fault the simulator can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Messages are dropped with some probability during the fault window.
    Loss,
    /// Some links get a large extra delay (hundreds of ms to seconds) during the window.
    Delay,
    /// Messages are delivered twice with some probability during the window.
    Dup,
    /// Large random jitter on every message during the window, so messages on one link
    /// overtake each other.
    Reorder,
    /// The nodes split into two sides that cannot talk, then heal (within the window).
    Partition,
    /// An honest node stops (losing in-flight messages and timers) and restarts later from
    /// its ledger and the last messages it emitted (`Node::restore`), proposing again or
    /// not; in some runs the whole network (every honest node) stops at once.
    Crash,
    /// Nodes learn other nodes' transactions late: a value naming one is MaybeValid at
    /// such a node until it learns it, after a random delay (then the simulator calls
    /// `Node::revalidate`).
    Late,
    /// A Byzantine node that never sends anything.
    Silent,
    /// A Byzantine node that runs two honest instances with different values and sends
    /// each instance's messages to a different half of its peers (conflicting votes).
    Equivocate,
    /// A Byzantine node that sends random messages: malformed ones, invalid values,
    /// random ballots and quorum sets.
    Garbage,
}

impl FaultKind {
    /// Every kind, in report order.
    pub const ALL: [FaultKind; 10] = [
        FaultKind::Loss,
        FaultKind::Delay,
        FaultKind::Dup,
        FaultKind::Reorder,
        FaultKind::Partition,
        FaultKind::Crash,
        FaultKind::Late,
        FaultKind::Silent,
        FaultKind::Equivocate,
        FaultKind::Garbage,
    ];

    /// The kind's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Loss => "loss",
            FaultKind::Delay => "delay",
            FaultKind::Dup => "dup",
            FaultKind::Reorder => "reorder",
            FaultKind::Partition => "partition",
            FaultKind::Crash => "crash",
            FaultKind::Late => "late",
            FaultKind::Silent => "silent",
            FaultKind::Equivocate => "equivocate",
            FaultKind::Garbage => "garbage",
        }
    }

    /// Whether the kind is a Byzantine node (it stays faulty for the whole run).
    pub fn is_byzantine(self) -> bool {
        matches!(
            self,
            FaultKind::Silent | FaultKind::Equivocate | FaultKind::Garbage
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fault kinds a batch of runs may use (`all`, `none`, or a comma list).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FaultSet(pub Vec<FaultKind>);

impl FaultSet {
    /// Every kind.
    pub fn all() -> Self {
        Self(FaultKind::ALL.to_vec())
    }

    /// No fault.
    pub fn none() -> Self {
        Self(Vec::new())
    }
}

impl fmt::Display for FaultSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        if self.0.len() == FaultKind::ALL.len() {
            return f.write_str("all");
        }
        let names: Vec<&str> = self.0.iter().map(|k| k.name()).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for FaultSet {
    type Err = SimError;

    fn from_str(s: &str) -> Result<Self, SimError> {
        match s {
            "all" => return Ok(Self::all()),
            "none" | "" => return Ok(Self::none()),
            _ => {}
        }
        let mut kinds = Vec::new();
        for part in s.split(',') {
            let kind = FaultKind::ALL
                .into_iter()
                .find(|k| k.name() == part.trim())
                .ok_or_else(|| {
                    SimError::Faults(format!(
                        "unknown fault {part:?}: use all, none, or a comma list of \
                         loss,delay,dup,reorder,partition,crash,late,silent,equivocate,garbage"
                    ))
                })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        kinds.sort();
        Ok(Self(kinds))
    }
}

/// A partition interval: nodes on different sides cannot exchange messages.
#[derive(Clone, Debug)]
pub struct Partition {
    /// Start, simulated ms.
    pub from_ms: u64,
    /// Heal time, simulated ms.
    pub until_ms: u64,
    /// Side of each node.
    pub side: Vec<bool>,
}

/// A crash and restart of an honest node.
#[derive(Clone, Debug)]
pub struct Crash {
    /// The node.
    pub node: usize,
    /// Crash time, simulated ms.
    pub at_ms: u64,
    /// Restart time, simulated ms.
    pub restart_ms: u64,
    /// Whether the restarted node proposes its value again for the slot it restored.
    /// When not, it carries on from `Node::restore` alone (it still proposes for a slot
    /// it had said nothing about, and for every later slot).
    pub repropose: bool,
}

/// Late learning of transactions (the `late` fault kind).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LateValues {
    /// Probability that a node learns a given transaction of another node late.
    pub prob: f64,
    /// A late transaction is learned after 1 ms to this many ms.
    pub max_delay_ms: u64,
    /// Probability that nobody ever learns a transaction a Byzantine node made up (its
    /// values stay MaybeValid at every honest node for good).
    pub never_prob: f64,
}

/// Everything that goes wrong in one run, drawn from its seed.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// Kinds actually used by this run.
    pub kinds: Vec<FaultKind>,
    /// Network and crash faults stop at this simulated time; Byzantine nodes never stop.
    pub fault_end_ms: u64,
    /// Probability of dropping a message (during the window).
    pub loss: f64,
    /// Probability of duplicating a message (during the window).
    pub dup: f64,
    /// Maximum extra jitter in ms (during the window).
    pub reorder_jitter_ms: u64,
    /// Extra delay in ms per slow link `(from, to)` (during the window).
    pub slow_links: BTreeMap<(usize, usize), u64>,
    /// Partitions.
    pub partitions: Vec<Partition>,
    /// Crashes.
    pub crashes: Vec<Crash>,
    /// Whether the crashes are one whole-network crash (every honest node at once).
    pub network_crash: bool,
    /// Late learning of transactions proposed during the window.
    pub late: Option<LateValues>,
    /// Byzantine nodes and their behaviour.
    pub byzantine: BTreeMap<usize, FaultKind>,
}

impl FaultPlan {
    /// Draws a plan for `topology` from the enabled `set`. Each run uses a random subset
    /// of the enabled kinds (every kind at once in about a quarter of the runs).
    pub fn draw(
        rng: &mut ChaCha8Rng,
        topology: &Topology,
        set: &FaultSet,
        max_window_ms: u64,
    ) -> FaultPlan {
        let n = topology.len();
        let mut plan = FaultPlan::default();
        let mut enabled: Vec<FaultKind> = set.0.clone();
        if topology.max_byzantine() == 0 {
            enabled.retain(|k| !k.is_byzantine());
        }
        let all_at_once = rng.gen_bool(0.25);
        let mut kinds: Vec<FaultKind> = enabled
            .iter()
            .copied()
            .filter(|_| all_at_once || rng.gen_bool(0.5))
            .collect();
        if kinds.is_empty() {
            if let Some(k) = enabled.choose(rng) {
                kinds.push(*k);
            }
        }
        let has = |k: FaultKind| kinds.contains(&k);
        let window_faults = kinds.iter().any(|k| !k.is_byzantine());
        if window_faults {
            plan.fault_end_ms = rng.gen_range(2_000..=max_window_ms.max(2_001));
        }
        let end = plan.fault_end_ms;
        if has(FaultKind::Loss) {
            plan.loss = rng.gen_range(0.05..0.4);
        }
        if has(FaultKind::Dup) {
            plan.dup = rng.gen_range(0.05..0.3);
        }
        if has(FaultKind::Reorder) {
            plan.reorder_jitter_ms = rng.gen_range(100..=1_000);
        }
        if has(FaultKind::Delay) {
            for from in 0..n {
                for to in 0..n {
                    if from != to && rng.gen_bool(0.3) {
                        plan.slow_links
                            .insert((from, to), rng.gen_range(200..=2_000));
                    }
                }
            }
        }
        if has(FaultKind::Partition) {
            for _ in 0..rng.gen_range(1..=2) {
                let from_ms = rng.gen_range(0..end / 2);
                let until_ms = rng.gen_range(from_ms + 200..=end);
                let mut side: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.5)).collect();
                let pick = rng.gen_range(0..n);
                let all_same = side.iter().all(|&s| s == side[0]);
                if all_same {
                    side[pick] = !side[pick];
                }
                plan.partitions.push(Partition {
                    from_ms,
                    until_ms,
                    side,
                });
            }
        }
        // Byzantine nodes first, so crashes pick honest nodes.
        let mut byz_kinds: Vec<FaultKind> =
            kinds.iter().copied().filter(|k| k.is_byzantine()).collect();
        byz_kinds.shuffle(rng);
        if !byz_kinds.is_empty() {
            let groups = topology.byzantine_groups();
            let max = topology.max_byzantine();
            if let Some(group) = groups.choose(rng) {
                let count = rng.gen_range(1..=max.min(group.len()).max(1));
                let mut members = group.clone();
                members.shuffle(rng);
                for (i, node) in members.into_iter().take(count).enumerate() {
                    // Make sure every chosen kind appears at least once.
                    let kind = byz_kinds
                        .get(i)
                        .copied()
                        .unwrap_or_else(|| *byz_kinds.choose(rng).unwrap_or(&FaultKind::Silent));
                    plan.byzantine.insert(node, kind);
                }
            }
        }
        if has(FaultKind::Crash) {
            let honest: Vec<usize> = (0..n).filter(|i| !plan.byzantine.contains_key(i)).collect();
            // Restart with or without proposing again: chosen per run (in a third of
            // the runs, per crash).
            let mode = rng.gen_range(0..3);
            let repropose = |rng: &mut ChaCha8Rng| match mode {
                0 => true,
                1 => false,
                _ => rng.gen_bool(0.5),
            };
            if rng.gen_bool(0.3) {
                // The whole network stops at once and restarts from its last messages.
                plan.network_crash = true;
                let at_ms = rng.gen_range(0..end.saturating_sub(100).max(1));
                let together = rng.gen_bool(0.5);
                let restart_all = rng.gen_range(at_ms + 50..=end.max(at_ms + 50));
                for &node in &honest {
                    let restart_ms = if together {
                        restart_all
                    } else {
                        rng.gen_range(at_ms + 50..=end.max(at_ms + 50))
                    };
                    let repropose = repropose(rng);
                    plan.crashes.push(Crash {
                        node,
                        at_ms,
                        restart_ms,
                        repropose,
                    });
                }
            } else {
                for _ in 0..rng.gen_range(1..=2) {
                    if let Some(&node) = honest.choose(rng) {
                        let at_ms = rng.gen_range(0..end.saturating_sub(100).max(1));
                        let restart_ms = rng.gen_range(at_ms + 50..=end.max(at_ms + 50));
                        let repropose = repropose(rng);
                        plan.crashes.push(Crash {
                            node,
                            at_ms,
                            restart_ms,
                            repropose,
                        });
                    }
                }
            }
        }
        if has(FaultKind::Late) {
            plan.late = Some(LateValues {
                prob: rng.gen_range(0.2..0.9),
                max_delay_ms: rng.gen_range(100..=4_000),
                never_prob: rng.gen_range(0.0..0.5),
            });
        }
        let used_byz: Vec<FaultKind> = plan.byzantine.values().copied().collect();
        kinds.retain(|k| !k.is_byzantine() || used_byz.contains(k));
        plan.kinds = kinds;
        plan
    }

    /// Whether `from` and `to` are on different sides of a partition at `now`.
    pub fn partitioned(&self, now: u64, from: usize, to: usize) -> bool {
        self.partitions
            .iter()
            .any(|p| now >= p.from_ms && now < p.until_ms && p.side[from] != p.side[to])
    }
}
