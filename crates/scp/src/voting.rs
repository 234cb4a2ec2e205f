//! Federated voting over interned node ids: the quorum and v-blocking predicates on
//! bitsets, and the per-sender statement store of a slot.
//!
//! Paper: section 3 (quorum slices, quorums, v-blocking sets) and section 5 (federated
//! voting). Same predicates as [`crate::QuorumSet`] and [`crate::is_quorum`], but a slot
//! interns every node id it meets once, compiles quorum sets to indexes, and evaluates
//! a statement predicate into a bitset once per vote, so a vote over `n` nodes costs
//! `O(n)` predicate calls plus `O(n * |quorum set|)` bit tests, without looking up or
//! comparing a single node id.

use std::collections::BTreeMap;

use crate::quorum_set::{NodeId, QuorumSet, MAX_QUORUM_SET_NODES};

/// An interned node id (an index into [`Interner`]).
pub(crate) type Ix = u32;

/// Stands for a node the interner had no room for; never a member of any set.
const ABSENT: Ix = Ix::MAX;

/// Most node ids one slot interns: its own quorum set, its peers and the nodes their
/// quorum sets name. Peers can only name nodes beyond this (hostile quorum sets): those
/// count as absent from every set, and messages from such senders are refused.
pub(crate) const MAX_INTERNED: usize = 4 * MAX_QUORUM_SET_NODES;

/// Node ids of one slot, in the order first seen (the local node is 0).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: Vec<NodeId>,
    index: BTreeMap<NodeId, Ix>,
}

impl Interner {
    /// The index of `id`, if interned.
    pub(crate) fn get(&self, id: &NodeId) -> Option<Ix> {
        self.index.get(id).copied()
    }

    /// The index of `id`, interning it if there is room.
    pub(crate) fn intern(&mut self, id: &NodeId) -> Option<Ix> {
        if let Some(ix) = self.index.get(id) {
            return Some(*ix);
        }
        if self.ids.len() >= MAX_INTERNED {
            return None;
        }
        let ix = self.ids.len() as Ix;
        self.ids.push(id.clone());
        self.index.insert(id.clone(), ix);
        Some(ix)
    }

    /// The id of an interned index.
    pub(crate) fn id(&self, ix: Ix) -> &NodeId {
        &self.ids[ix as usize]
    }

    /// Number of interned ids.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

/// A set of interned nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }

    pub(crate) fn insert(&mut self, ix: Ix) {
        let (w, b) = (ix as usize / 64, ix % 64);
        if w >= self.0.len() {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }

    fn remove(&mut self, ix: Ix) {
        if let Some(w) = self.0.get_mut(ix as usize / 64) {
            *w &= !(1 << (ix % 64));
        }
    }

    pub(crate) fn contains(&self, ix: Ix) -> bool {
        self.0
            .get(ix as usize / 64)
            .is_some_and(|w| w & (1 << (ix % 64)) != 0)
    }

    fn ones(&self) -> impl Iterator<Item = Ix> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut word = word;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let b = word.trailing_zeros();
                word &= word - 1;
                Some((w * 64) as Ix + b)
            })
        })
    }
}

/// Most distinct quorum sets one slot tracks (honest networks have a handful; a hostile
/// peer changing its set with every message is refused beyond this).
pub(crate) const MAX_DISTINCT_QSETS: usize = 1024;

/// The quorum set of each node of a slot, compiled once per distinct set (nodes of one
/// organisation usually share theirs, so a quorum check evaluates each distinct set once).
#[derive(Debug)]
pub(crate) struct QuorumSets {
    of: Vec<Option<u32>>,
    distinct: Vec<(QuorumSet, Compiled)>,
    index: BTreeMap<QuorumSet, u32>,
}

impl QuorumSets {
    /// The sets of a slot whose local node is `local` with quorum set `qs`.
    pub(crate) fn new(local: Ix, qs: &QuorumSet, interner: &mut Interner) -> Self {
        let mut sets = Self {
            of: Vec::new(),
            distinct: Vec::new(),
            index: BTreeMap::new(),
        };
        sets.learn(local, qs, interner);
        sets
    }

    /// Records `qs` as node `ix`'s quorum set. False (nothing changed) when it would be
    /// one distinct set too many.
    pub(crate) fn learn(&mut self, ix: Ix, qs: &QuorumSet, interner: &mut Interner) -> bool {
        let i = ix as usize;
        if let Some(Some(d)) = self.of.get(i) {
            if self.distinct[*d as usize].0 == *qs {
                return true;
            }
        }
        let d = match self.index.get(qs) {
            Some(d) => *d,
            None => {
                if self.distinct.len() >= MAX_DISTINCT_QSETS {
                    return false;
                }
                let d = self.distinct.len() as u32;
                let compiled = Compiled::compile(qs, interner);
                self.distinct.push((qs.clone(), compiled));
                self.index.insert(qs.clone(), d);
                d
            }
        };
        if i >= self.of.len() {
            self.of.resize(i + 1, None);
        }
        self.of[i] = Some(d);
        true
    }

    /// Node `ix`'s compiled quorum set, if known.
    #[cfg(test)]
    pub(crate) fn of(&self, ix: Ix) -> Option<&Compiled> {
        let d = (*self.of.get(ix as usize)?)?;
        Some(&self.distinct[d as usize].1)
    }
}

/// A quorum set over interned ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Compiled {
    threshold: usize,
    members: Vec<Ix>,
    inner: Vec<Compiled>,
}

impl Compiled {
    /// Compiles a (validated) quorum set, interning the nodes it names.
    pub(crate) fn compile(qs: &QuorumSet, interner: &mut Interner) -> Self {
        Self {
            threshold: qs.threshold as usize,
            members: qs
                .members
                .iter()
                .map(|m| interner.intern(m).unwrap_or(ABSENT))
                .collect(),
            inner: qs
                .inner_sets
                .iter()
                .map(|i| Self::compile(i, interner))
                .collect(),
        }
    }

    /// Paper: definition 2, `set` contains a slice of this set.
    pub(crate) fn is_slice(&self, set: &Bits) -> bool {
        if self.threshold == 0 {
            return true;
        }
        let mut left = self.threshold;
        for &m in &self.members {
            if set.contains(m) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        for inner in &self.inner {
            if inner.is_slice(set) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        false
    }

    /// Paper: definition 13, `set` intersects every slice of this set.
    pub(crate) fn is_v_blocking(&self, set: &Bits) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let total = self.members.len() + self.inner.len();
        let Some(mut left) = (total + 1).checked_sub(self.threshold) else {
            return false;
        };
        for &m in &self.members {
            if set.contains(m) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        for inner in &self.inner {
            if inner.is_v_blocking(set) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        false
    }
}

/// The latest statement of each node, by interned index. Paper: `N` (section 6.1) and
/// `M` (section 6.2).
#[derive(Debug)]
pub(crate) struct Latest<S> {
    entries: Vec<Option<S>>,
}

impl<S> Default for Latest<S> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<S> Latest<S> {
    pub(crate) fn get(&self, ix: Ix) -> Option<&S> {
        self.entries.get(ix as usize).and_then(Option::as_ref)
    }

    pub(crate) fn insert(&mut self, ix: Ix, st: S) {
        let i = ix as usize;
        if i >= self.entries.len() {
            self.entries.resize_with(i + 1, || None);
        }
        self.entries[i] = Some(st);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (Ix, &S)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as Ix, s)))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &S> {
        self.entries.iter().flatten()
    }

    /// The nodes whose statement satisfies `pred`.
    pub(crate) fn select(&self, pred: impl Fn(&S) -> bool) -> Bits {
        let mut bits = Bits::with_capacity(self.entries.len());
        for (i, s) in self.iter() {
            if pred(s) {
                bits.insert(i);
            }
        }
        bits
    }

    /// As a map by node id (for snapshots).
    pub(crate) fn to_map(&self, interner: &Interner) -> BTreeMap<NodeId, S>
    where
        S: Clone,
    {
        self.iter()
            .map(|(i, s)| (interner.id(i).clone(), s.clone()))
            .collect()
    }
}

/// Federated voting from the local node's point of view. Paper: section 5.
pub(crate) struct Voting<'a> {
    /// The local quorum set.
    pub(crate) local: &'a Compiled,
    /// Known quorum sets.
    pub(crate) qsets: &'a QuorumSets,
    /// Fault injection: a v-blocking set counts as a quorum.
    pub(crate) broken: bool,
}

impl Voting<'_> {
    /// Whether `set` contains a quorum that satisfies the local quorum set: nodes whose
    /// own quorum set is unknown or not satisfied by the rest are removed until a
    /// fixpoint (paper definition 3), then the local set must still be satisfied.
    pub(crate) fn quorum(&self, mut set: Bits) -> bool {
        if self.broken {
            // Deliberately wrong (fault injection): a v-blocking set is not a quorum.
            return self.local.is_v_blocking(&set);
        }
        // Pruning only removes nodes: if the local set fails now, it fails after.
        if !self.local.is_slice(&set) {
            return false;
        }
        // Whether each distinct quorum set is satisfied by the current set (2: not
        // evaluated yet in this round).
        let mut memo = vec![2u8; self.qsets.distinct.len()];
        loop {
            memo.fill(2);
            let drop: Vec<Ix> = set
                .ones()
                .filter(|&n| match self.qsets.of.get(n as usize) {
                    Some(Some(d)) => {
                        let d = *d as usize;
                        if memo[d] == 2 {
                            memo[d] = u8::from(self.qsets.distinct[d].1.is_slice(&set));
                        }
                        memo[d] == 0
                    }
                    _ => true,
                })
                .collect();
            if drop.is_empty() {
                break;
            }
            for n in drop {
                set.remove(n);
            }
            if !self.local.is_slice(&set) {
                return false;
            }
        }
        true
    }

    /// Paper: section 5.3, accept `a` when a v-blocking set accepted `a`, or a quorum
    /// each voted for or accepted `a`.
    pub(crate) fn accept<S>(
        &self,
        stmts: &Latest<S>,
        voted: impl Fn(&S) -> bool,
        accepted: impl Fn(&S) -> bool,
    ) -> bool {
        let mut acc = Bits::with_capacity(stmts.entries.len());
        let mut any = Bits::with_capacity(stmts.entries.len());
        for (i, s) in stmts.iter() {
            if accepted(s) {
                acc.insert(i);
                any.insert(i);
            } else if voted(s) {
                any.insert(i);
            }
        }
        self.local.is_v_blocking(&acc) || self.quorum(any)
    }

    /// Paper: section 5.4, confirm `a` when a quorum accepted `a` (more generally: a
    /// quorum satisfies `pred`).
    pub(crate) fn ratify<S>(&self, stmts: &Latest<S>, pred: impl Fn(&S) -> bool) -> bool {
        self.quorum(stmts.select(pred))
    }

    /// Whether the nodes whose statement satisfies `pred` are v-blocking for us.
    pub(crate) fn v_blocking<S>(&self, stmts: &Latest<S>, pred: impl Fn(&S) -> bool) -> bool {
        self.local.is_v_blocking(&stmts.select(pred))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::quorum_set::is_quorum;

    fn id(i: usize) -> NodeId {
        NodeId::from(format!("n{i}").as_str())
    }

    /// The compiled predicates agree with `QuorumSet`'s and `is_quorum` on every subset
    /// of a nested 7-node network where some nodes trust others' subsets.
    #[test]
    fn compiled_predicates_match_the_reference() {
        let inner =
            |a: usize, b: usize, c: usize| QuorumSet::flat(2, vec![id(a), id(b), id(c)]).unwrap();
        let qsets: Vec<QuorumSet> = vec![
            QuorumSet::new(2, vec![id(0)], vec![inner(1, 2, 3), inner(4, 5, 6)]).unwrap(),
            QuorumSet::flat(3, (0..5).map(id).collect()).unwrap(),
            QuorumSet::new(1, vec![], vec![inner(0, 1, 2), inner(3, 4, 5)]).unwrap(),
            QuorumSet::flat(2, vec![id(3), id(6)]).unwrap(),
            QuorumSet::flat(4, (0..7).map(id).collect()).unwrap(),
            QuorumSet::flat(1, vec![id(5)]).unwrap(),
            QuorumSet::new(2, vec![id(6), id(1)], vec![inner(2, 3, 4)]).unwrap(),
        ];
        let mut interner = Interner::default();
        for i in 0..7 {
            interner.intern(&id(i));
        }
        let compiled: Vec<Option<Compiled>> = qsets
            .iter()
            .map(|q| Some(Compiled::compile(q, &mut interner)))
            .collect();
        let mut sets = QuorumSets::new(0, &qsets[0], &mut interner);
        for (i, q) in qsets.iter().enumerate() {
            assert!(sets.learn(i as Ix, q, &mut interner));
        }
        // Node 7 shares node 4's set: one more node, no more distinct sets.
        assert!(sets.learn(7, &qsets[4], &mut interner));
        assert_eq!(sets.distinct.len(), 7);
        assert_eq!(sets.of(7), compiled[4].as_ref());
        assert_eq!(sets.of(8), None);
        let by_id: BTreeMap<NodeId, QuorumSet> =
            (0..7).map(|i| (id(i), qsets[i].clone())).collect();
        for mask in 0u32..128 {
            let mut bits = Bits::default();
            for i in 0..7 {
                if mask & (1 << i) != 0 {
                    bits.insert(i);
                }
            }
            let f = |n: &NodeId| (0..7).any(|i| mask & (1 << i) != 0 && *n == id(i));
            for (q, c) in qsets.iter().zip(&compiled) {
                let c = c.as_ref().unwrap();
                assert_eq!(q.is_quorum_slice(&f), c.is_slice(&bits), "slice {mask:b}");
                assert_eq!(q.is_v_blocking(&f), c.is_v_blocking(&bits), "v-bl {mask:b}");
            }
            for local in 0..7 {
                let voting = Voting {
                    local: compiled[local].as_ref().unwrap(),
                    qsets: &sets,
                    broken: false,
                };
                assert_eq!(
                    is_quorum(&qsets[local], &by_id, &f),
                    voting.quorum(bits.clone()),
                    "quorum of {local} in {mask:b}"
                );
            }
        }
    }

    #[test]
    fn interner_is_bounded_and_bits_iterate_in_order() {
        let mut interner = Interner::default();
        for i in 0..MAX_INTERNED {
            assert_eq!(interner.intern(&id(i)), Some(i as Ix));
        }
        assert_eq!(interner.intern(&id(MAX_INTERNED)), None);
        assert_eq!(interner.intern(&id(3)), Some(3));
        assert_eq!(interner.len(), MAX_INTERNED);
        let mut bits = Bits::default();
        for i in [130, 0, 64, 5] {
            bits.insert(i);
        }
        assert_eq!(bits.ones().collect::<Vec<_>>(), vec![0, 5, 64, 130]);
        bits.remove(64);
        assert!(!bits.contains(64) && bits.contains(130));
        assert!(!bits.contains(ABSENT));
    }
}
