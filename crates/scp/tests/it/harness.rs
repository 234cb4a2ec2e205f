//! A local node under test plus builders for its peers' messages.

use std::collections::BTreeSet;

use mcnode_scp::{
    Ballot, BallotStatement, Config, Confirm, Externalize, Msg, Node, NodeId, Nominate, Prepare,
    QuorumSet, SlotIndex, SlotPhase, SlotSnapshot, Topic, Validity, ValuePolicy,
};

/// Values are numbers; `>= 1000` is Invalid; those in `unknown` are MaybeValid (the node
/// has not learned them yet, see [`NumPolicy::learn`]); the rest Valid. Combine takes the
/// largest candidate.
#[derive(Clone, Debug, Default)]
pub struct NumPolicy {
    pub unknown: BTreeSet<u64>,
}

impl NumPolicy {
    /// A policy that does not know `values` yet.
    pub fn not_knowing(values: &[u64]) -> Self {
        Self {
            unknown: values.iter().copied().collect(),
        }
    }

    /// Learns `value`: from now on it is Valid.
    pub fn learn(&mut self, value: u64) {
        self.unknown.remove(&value);
    }
}

impl ValuePolicy<u64> for NumPolicy {
    fn validity(&self, _slot: SlotIndex, value: &u64) -> Validity {
        if *value >= 1000 {
            Validity::Invalid
        } else if self.unknown.contains(value) {
            Validity::MaybeValid
        } else {
            Validity::Valid
        }
    }
    fn combine(&self, _slot: SlotIndex, candidates: &[u64]) -> u64 {
        candidates.iter().max().copied().unwrap_or_default()
    }
}

pub const SLOT: SlotIndex = 1;

pub fn id(i: usize) -> NodeId {
    NodeId::new(format!("v{i}")).unwrap()
}

/// `threshold` of `v0..v{n-1}`.
pub fn mesh(n: usize, threshold: u32) -> QuorumSet {
    QuorumSet::flat(threshold, (0..n).map(id).collect()).unwrap()
}

pub fn ballot(n: u32, x: u64) -> Ballot<u64> {
    Ballot::new(n, x)
}

pub struct Harness {
    pub node: Node<u64, NumPolicy>,
    pub qset: QuorumSet,
    pub now: u64,
    /// Everything the node emitted, in order.
    pub sent: Vec<Msg<u64>>,
}

impl Harness {
    /// Local node `v0` with `qset`; every peer uses `qset` too.
    pub fn new(qset: QuorumSet) -> Self {
        Self::with_id(id(0), qset)
    }

    pub fn with_id(local: NodeId, qset: QuorumSet) -> Self {
        let config = Config {
            rebroadcast_interval_ms: None,
            ..Config::default()
        };
        let node = Node::new(local, qset.clone(), NumPolicy::default(), config).unwrap();
        Self {
            node,
            qset,
            now: 0,
            sent: Vec::new(),
        }
    }

    pub fn msg(&self, from: usize, topic: Topic<u64>) -> Msg<u64> {
        Msg {
            sender: id(from),
            slot: SLOT,
            quorum_set: self.qset.clone(),
            topic,
        }
    }

    pub fn recv(&mut self, from: usize, topic: Topic<u64>) {
        let msg = self.msg(from, topic);
        let out = self.node.handle_message(&msg, self.now).unwrap();
        self.sent.extend(out);
    }

    pub fn recv_from(&mut self, from: &[usize], topic: Topic<u64>) {
        for &f in from {
            self.recv(f, topic.clone());
        }
    }

    pub fn propose(&mut self, x: u64) {
        let out = self.node.propose_values(SLOT, vec![x], self.now).unwrap();
        self.sent.extend(out);
    }

    pub fn advance_to(&mut self, now: u64) {
        self.now = now;
        let out = self.node.process_timeouts(now);
        self.sent.extend(out);
    }

    pub fn snap(&self) -> SlotSnapshot<u64> {
        self.node.snapshot(SLOT).expect("slot exists")
    }

    pub fn phase(&self) -> SlotPhase {
        self.snap().phase
    }

    /// The node's latest ballot statement.
    pub fn last_ballot(&self) -> Option<BallotStatement<u64>> {
        self.sent.iter().rev().find_map(|m| match &m.topic {
            Topic::Ballot(b) => Some(b.clone()),
            Topic::Nominate(_) => None,
        })
    }

    pub fn last_nomination(&self) -> Option<Nominate<u64>> {
        self.sent.iter().rev().find_map(|m| match &m.topic {
            Topic::Nominate(n) => Some(n.clone()),
            Topic::Ballot(_) => None,
        })
    }

    /// Starts the ballot protocol on `<1, x>`: the node proposes `x` and a v-blocking
    /// set plus a quorum confirm `x` nominated (paper section 6.1, then 6.2 step 1).
    pub fn start_ballot(&mut self, x: u64, others: &[usize]) {
        self.propose(x);
        self.recv_from(others, nominate(&[x], &[x]));
        assert_eq!(self.snap().ballot.b, Some(ballot(1, x)), "ballot started");
    }
}

pub fn nominate(voted: &[u64], accepted: &[u64]) -> Topic<u64> {
    Topic::Nominate(Nominate {
        voted: voted.to_vec(),
        accepted: accepted.to_vec(),
    })
}

pub fn prepare(
    b: Ballot<u64>,
    p: Option<Ballot<u64>>,
    p_prime: Option<Ballot<u64>>,
    c: u32,
    h: u32,
) -> Topic<u64> {
    Topic::Ballot(BallotStatement::Prepare(Prepare {
        ballot: b,
        prepared: p,
        prepared_prime: p_prime,
        commit_counter: c,
        high_counter: h,
    }))
}

pub fn confirm(b: Ballot<u64>, p: u32, c: u32, h: u32) -> Topic<u64> {
    Topic::Ballot(BallotStatement::Confirm(Confirm {
        ballot: b,
        prepared_counter: p,
        commit_counter: c,
        high_counter: h,
    }))
}

pub fn externalize(c: Ballot<u64>, h: u32) -> Topic<u64> {
    Topic::Ballot(BallotStatement::Externalize(Externalize {
        commit: c,
        high_counter: h,
    }))
}

pub fn as_prepare(st: &BallotStatement<u64>) -> &Prepare<u64> {
    match st {
        BallotStatement::Prepare(p) => p,
        other => panic!("expected prepare, got {other:?}"),
    }
}
