//! A tiny deterministic network of real `Node`s for multi-node scenarios: every message
//! reaches every live node after a fixed delay; timers fire when they are due. Dead nodes
//! are `None` (they neither receive nor send).

use std::collections::VecDeque;

use mcnode_scp::{Config, Msg, Node, QuorumSet, SlotIndex, ValuePolicy};

use crate::harness::{id, mesh};

/// One-way delay of every message, ms.
pub const DELAY_MS: u64 = 10;

pub struct Net<P> {
    pub nodes: Vec<Option<Node<u64, P>>>,
    /// `(deliver at, recipient, message)`, in send order.
    queue: VecDeque<(u64, usize, Msg<u64>)>,
    pub now: u64,
    /// Every message any node emitted.
    pub sent: Vec<Msg<u64>>,
}

impl<P: ValuePolicy<u64>> Net<P> {
    /// `n` nodes `v0..`, all with `qset`, built by `policy(i)`; nodes listed in `dead`
    /// do not exist.
    pub fn new(
        n: usize,
        qset: &QuorumSet,
        dead: &[usize],
        config: Config,
        policy: impl Fn(usize) -> P,
    ) -> Self {
        let nodes = (0..n)
            .map(|i| {
                (!dead.contains(&i))
                    .then(|| Node::new(id(i), qset.clone(), policy(i), config).unwrap())
            })
            .collect();
        Self {
            nodes,
            queue: VecDeque::new(),
            now: 0,
            sent: Vec::new(),
        }
    }

    /// A `threshold`-of-`n` mesh.
    pub fn mesh(n: usize, threshold: u32, dead: &[usize], policy: impl Fn(usize) -> P) -> Self {
        Self::new(n, &mesh(n, threshold), dead, Config::default(), policy)
    }

    pub fn node(&mut self, i: usize) -> &mut Node<u64, P> {
        self.nodes[i].as_mut().expect("live node")
    }

    /// Queues `msgs` (emitted by some node) for every other live node.
    pub fn broadcast(&mut self, msgs: Vec<Msg<u64>>) {
        for msg in msgs {
            for to in 0..self.nodes.len() {
                if self.nodes[to].is_some() && msg.sender != id(to) {
                    self.queue.push_back((self.now + DELAY_MS, to, msg.clone()));
                }
            }
            self.sent.push(msg);
        }
    }

    /// Delivers due messages and fires due timers until `until` (simulated ms) or until
    /// every live node externalized `slot`. Returns whether they all did.
    pub fn run_until(&mut self, slot: SlotIndex, until: u64) -> bool {
        loop {
            if self.all_externalized(slot) {
                return true;
            }
            let next_msg = self.queue.front().map(|m| m.0);
            let next_timer = self
                .nodes
                .iter()
                .flatten()
                .filter_map(Node::next_timeout)
                .min();
            let Some(next) = [next_msg, next_timer].into_iter().flatten().min() else {
                return false; // nobody will ever speak again
            };
            if next > until {
                self.now = until;
                return false;
            }
            self.now = self.now.max(next);
            if next_msg == Some(next) {
                while self.queue.front().is_some_and(|m| m.0 <= self.now) {
                    let (_, to, msg) = self.queue.pop_front().unwrap();
                    let now = self.now;
                    if let Some(node) = self.nodes[to].as_mut() {
                        if let Ok(out) = node.handle_message(&msg, now) {
                            self.broadcast(out);
                        }
                    }
                }
            }
            let now = self.now;
            for i in 0..self.nodes.len() {
                let due = self.nodes[i]
                    .as_ref()
                    .and_then(Node::next_timeout)
                    .is_some_and(|t| t <= now);
                if due {
                    let out = self.node(i).process_timeouts(now);
                    self.broadcast(out);
                }
            }
        }
    }

    pub fn all_externalized(&self, slot: SlotIndex) -> bool {
        self.nodes
            .iter()
            .flatten()
            .all(|n| n.externalized(slot).is_some())
    }

    /// The values the live nodes externalized in `slot` (one entry per live node).
    pub fn externalized(&self, slot: SlotIndex) -> Vec<Option<u64>> {
        self.nodes
            .iter()
            .flatten()
            .map(|n| n.externalized(slot).copied())
            .collect()
    }
}
