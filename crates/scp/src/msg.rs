//! Ballots and the messages nodes exchange, with their structural validation.
//!
//! Paper: section 6.1 (nomination statements `nominate x`), section 6.2 (ballots and
//! the PREPARE, COMMIT and EXTERNALIZE messages; we call the second phase "confirm",
//! as stellar-core does).

use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::MsgError;
use crate::quorum_set::{NodeId, QuorumSet};

/// A slot: one run of the protocol, which agrees on one value (one block index).
pub type SlotIndex = u64;

/// Time in milliseconds since an epoch the caller chooses. The core never reads a clock.
pub type Millis = u64;

/// The counter standing for "infinity" in the paper (`∞`), as stellar-core encodes it.
pub const INFINITE_COUNTER: u32 = u32::MAX;

/// What SCP agrees on. Blanket-implemented for every type with these bounds.
///
/// `Hash` must be deterministic (it feeds the nomination priority hash through
/// [`crate::hash`]); derived implementations over integers, strings and collections are.
pub trait Value:
    Clone + Debug + Ord + Hash + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

impl<T> Value for T where
    T: Clone + Debug + Ord + Hash + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

/// A ballot: a counter and a value, ordered by counter then value.
///
/// Paper: `b = <n, x>`, section 6.2.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ballot<V> {
    /// Paper: `n`.
    pub counter: u32,
    /// Paper: `x`.
    pub value: V,
}

impl<V: Value> Ballot<V> {
    /// A ballot.
    pub fn new(counter: u32, value: V) -> Self {
        Self { counter, value }
    }

    /// Paper: `b ~ b'`: same value.
    pub fn is_compatible(&self, other: &Self) -> bool {
        self.value == other.value
    }

    /// Paper: `b ≲ b'`: `b <= b'` and compatible.
    pub fn is_less_and_compatible(&self, other: &Self) -> bool {
        self <= other && self.is_compatible(other)
    }

    /// Paper: `b ⋦ b'`: `b <= b'` and incompatible.
    pub fn is_less_and_incompatible(&self, other: &Self) -> bool {
        self <= other && !self.is_compatible(other)
    }

    /// The ballot, borrowed.
    pub(crate) fn as_ref(&self) -> BallotRef<'_, V> {
        BallotRef {
            counter: self.counter,
            value: &self.value,
        }
    }
}

/// A borrowed ballot, ordered like [`Ballot`] (counter, then value): candidates are
/// evaluated without cloning values.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BallotRef<'a, V> {
    pub(crate) counter: u32,
    pub(crate) value: &'a V,
}

impl<V> Clone for BallotRef<'_, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for BallotRef<'_, V> {}

impl<'a, V: Value> BallotRef<'a, V> {
    pub(crate) fn new(counter: u32, value: &'a V) -> Self {
        Self { counter, value }
    }

    pub(crate) fn to_ballot(self) -> Ballot<V> {
        Ballot::new(self.counter, self.value.clone())
    }

    /// Paper: `b ≲ b'`.
    pub(crate) fn is_less_and_compatible(self, other: BallotRef<'_, V>) -> bool {
        (self.counter, self.value) <= (other.counter, other.value) && self.value == other.value
    }
}

/// A message: one statement of `sender` about `slot`, with the sender's quorum set.
///
/// The transport is expected to authenticate `sender` (the node signs envelopes).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Msg<V> {
    /// Who makes the statement.
    pub sender: NodeId,
    /// The slot the statement is about.
    pub slot: SlotIndex,
    /// The sender's quorum set, so receivers can find quorums transitively.
    pub quorum_set: QuorumSet,
    /// The statement.
    pub topic: Topic<V>,
}

/// The two kinds of statement: nomination and ballot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic<V> {
    /// A nomination statement.
    Nominate(Nominate<V>),
    /// A ballot statement.
    Ballot(BallotStatement<V>),
}

/// Paper: `nominate x` for every voted `x` and `accept(nominate x)` for every accepted
/// `x` (section 6.1). Both lists are sorted strictly increasing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nominate<V> {
    /// Paper: values `x` for which the sender voted `nominate x` (the set `X`).
    pub voted: Vec<V>,
    /// Paper: values `x` for which the sender accepted `nominate x` (the set `Y`).
    pub accepted: Vec<V>,
}

/// The ballot statements, one per phase.
///
/// Paper: section 6.2, PREPARE, COMMIT (here `Confirm`) and EXTERNALIZE messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BallotStatement<V> {
    /// Paper: `PREPARE <v, b, p, p', c.n, h.n, D>`.
    Prepare(Prepare<V>),
    /// Paper: `COMMIT <v, b, p.n, c.n, h.n, D>`.
    Confirm(Confirm<V>),
    /// Paper: `EXTERNALIZE <v, x, c.n, h.n, D>`.
    Externalize(Externalize<V>),
}

/// Prepare phase: votes `prepare(b)`, accepted `prepare(p)` and `prepare(p')`, and (when
/// `commit_counter != 0`) votes `commit(<n, b.x>)` for `commit_counter <= n <= high_counter`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Prepare<V> {
    /// Paper: `b`, the current ballot.
    pub ballot: Ballot<V>,
    /// Paper: `p`, the highest accepted-prepared ballot.
    pub prepared: Option<Ballot<V>>,
    /// Paper: `p'`, the highest accepted-prepared ballot incompatible with `p`.
    pub prepared_prime: Option<Ballot<V>>,
    /// Paper: `c.n` (0 for no `c`).
    pub commit_counter: u32,
    /// Paper: `h.n` (0 for no `h`).
    pub high_counter: u32,
}

/// Confirm phase: accepted `commit(<n, b.x>)` for `commit_counter <= n <= high_counter`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Confirm<V> {
    /// Paper: `b`.
    pub ballot: Ballot<V>,
    /// Paper: `p.n`.
    pub prepared_counter: u32,
    /// Paper: `c.n`.
    pub commit_counter: u32,
    /// Paper: `h.n`.
    pub high_counter: u32,
}

/// Externalize phase: confirmed `commit(<n, x>)` for `n >= commit.counter`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Externalize<V> {
    /// Paper: `c` (its value is the externalized `x`).
    pub commit: Ballot<V>,
    /// Paper: `h.n`.
    pub high_counter: u32,
}

impl<V: Value> BallotStatement<V> {
    /// The statement's ballot counter (infinite for externalize).
    pub fn counter(&self) -> u32 {
        match self {
            Self::Prepare(p) => p.ballot.counter,
            Self::Confirm(c) => c.ballot.counter,
            Self::Externalize(_) => INFINITE_COUNTER,
        }
    }

    /// The value the statement works on (`b.x`, or `c.x` for externalize).
    pub fn value(&self) -> &V {
        match self {
            Self::Prepare(p) => &p.ballot.value,
            Self::Confirm(c) => &c.ballot.value,
            Self::Externalize(e) => &e.commit.value,
        }
    }

    /// Every value the statement mentions.
    pub fn values(&self) -> Vec<&V> {
        let mut out = vec![self.value()];
        if let Self::Prepare(p) = self {
            out.extend(p.prepared.iter().map(|b| &b.value));
            out.extend(p.prepared_prime.iter().map(|b| &b.value));
        }
        out
    }

    fn phase_rank(&self) -> u8 {
        match self {
            Self::Prepare(_) => 0,
            Self::Confirm(_) => 1,
            Self::Externalize(_) => 2,
        }
    }

    /// Whether `self` supersedes `old` from the same sender (statements only move
    /// forward; older or equal ones are stale, e.g. reordered by the network).
    pub fn is_newer_than(&self, old: &Self) -> bool {
        if self.phase_rank() != old.phase_rank() {
            return self.phase_rank() > old.phase_rank();
        }
        match (old, self) {
            (Self::Prepare(o), Self::Prepare(n)) => {
                (&o.ballot, &o.prepared, &o.prepared_prime, o.high_counter)
                    < (&n.ballot, &n.prepared, &n.prepared_prime, n.high_counter)
            }
            (Self::Confirm(o), Self::Confirm(n)) => {
                (&o.ballot, o.prepared_counter, o.high_counter)
                    < (&n.ballot, n.prepared_counter, n.high_counter)
            }
            _ => false,
        }
    }

    /// Structural checks (no state, no validity of values).
    pub fn validate(&self) -> Result<(), MsgError> {
        match self {
            Self::Prepare(p) => {
                if p.ballot.counter == 0 {
                    return Err(MsgError::ZeroCounter("prepare"));
                }
                if let Some(pp) = &p.prepared_prime {
                    match &p.prepared {
                        Some(pr) if pp.is_less_and_incompatible(pr) => {}
                        _ => return Err(MsgError::BadPreparedPrime),
                    }
                }
                if p.prepared.as_ref().is_some_and(|b| b.counter == 0)
                    || p.prepared_prime.as_ref().is_some_and(|b| b.counter == 0)
                {
                    return Err(MsgError::ZeroCounter("prepare (p or p')"));
                }
                if p.high_counter != 0 {
                    let prepared = p.prepared.as_ref().map_or(0, |b| b.counter);
                    if p.high_counter > prepared {
                        return Err(MsgError::HighAbovePrepared {
                            high: p.high_counter,
                            prepared,
                        });
                    }
                }
                if p.commit_counter != 0
                    && !(p.high_counter != 0
                        && p.ballot.counter >= p.high_counter
                        && p.high_counter >= p.commit_counter)
                {
                    return Err(MsgError::BadCommitRange {
                        phase: "prepare",
                        commit: p.commit_counter,
                        high: p.high_counter,
                        ballot: p.ballot.counter,
                    });
                }
            }
            Self::Confirm(c) => {
                if c.ballot.counter == 0 {
                    return Err(MsgError::ZeroCounter("confirm"));
                }
                if !(c.commit_counter >= 1
                    && c.commit_counter <= c.high_counter
                    && c.high_counter <= c.ballot.counter)
                {
                    return Err(MsgError::BadCommitRange {
                        phase: "confirm",
                        commit: c.commit_counter,
                        high: c.high_counter,
                        ballot: c.ballot.counter,
                    });
                }
            }
            Self::Externalize(e) => {
                if e.commit.counter == 0 {
                    return Err(MsgError::ZeroCounter("externalize"));
                }
                if e.high_counter < e.commit.counter {
                    return Err(MsgError::BadCommitRange {
                        phase: "externalize",
                        commit: e.commit.counter,
                        high: e.high_counter,
                        ballot: e.commit.counter,
                    });
                }
            }
        }
        Ok(())
    }

    // --- what a statement says, as sets of votes (paper section 6.2, figure of message
    // meanings). `votes_*` include implied votes; `accepted_*` are accepted statements.

    /// Whether the statement votes (or implies a vote for) `prepare(ballot)`.
    pub(crate) fn votes_prepare(&self, ballot: BallotRef<'_, V>) -> bool {
        match self {
            Self::Prepare(p) => ballot.is_less_and_compatible(p.ballot.as_ref()),
            Self::Confirm(c) => *ballot.value == c.ballot.value,
            Self::Externalize(e) => *ballot.value == e.commit.value,
        }
    }

    /// Whether the statement has accepted `prepare(ballot)`.
    pub(crate) fn accepted_prepare(&self, ballot: BallotRef<'_, V>) -> bool {
        match self {
            Self::Prepare(p) => {
                p.prepared
                    .as_ref()
                    .is_some_and(|pr| ballot.is_less_and_compatible(pr.as_ref()))
                    || p.prepared_prime
                        .as_ref()
                        .is_some_and(|pp| ballot.is_less_and_compatible(pp.as_ref()))
            }
            Self::Confirm(c) => {
                *ballot.value == c.ballot.value && ballot.counter <= c.prepared_counter
            }
            Self::Externalize(e) => *ballot.value == e.commit.value,
        }
    }

    /// Whether the statement votes `commit(<n, value>)` for every `lo <= n <= hi`.
    pub(crate) fn votes_commit(&self, value: &V, lo: u32, hi: u32) -> bool {
        match self {
            Self::Prepare(p) => {
                p.ballot.value == *value
                    && p.commit_counter != 0
                    && p.commit_counter <= lo
                    && hi <= p.high_counter
            }
            Self::Confirm(c) => c.ballot.value == *value && c.commit_counter <= lo,
            Self::Externalize(e) => e.commit.value == *value && e.commit.counter <= lo,
        }
    }

    /// Whether the statement has accepted `commit(<n, value>)` for every `lo <= n <= hi`.
    pub(crate) fn accepted_commit(&self, value: &V, lo: u32, hi: u32) -> bool {
        match self {
            Self::Prepare(_) => false,
            Self::Confirm(c) => {
                c.ballot.value == *value && c.commit_counter <= lo && hi <= c.high_counter
            }
            Self::Externalize(e) => e.commit.value == *value && e.commit.counter <= lo,
        }
    }

    /// Ballots this statement could make us accept (or confirm) as prepared.
    pub(crate) fn prepare_candidates<'a>(&'a self, out: &mut Vec<BallotRef<'a, V>>) {
        match self {
            Self::Prepare(p) => {
                out.push(p.ballot.as_ref());
                out.extend(p.prepared.iter().map(Ballot::as_ref));
                out.extend(p.prepared_prime.iter().map(Ballot::as_ref));
            }
            Self::Confirm(c) => {
                if c.prepared_counter != 0 {
                    out.push(BallotRef::new(c.prepared_counter, &c.ballot.value));
                }
                out.push(BallotRef::new(INFINITE_COUNTER, &c.ballot.value));
            }
            Self::Externalize(e) => {
                out.push(BallotRef::new(INFINITE_COUNTER, &e.commit.value));
            }
        }
    }

    /// Counters bounding the commit ranges this statement mentions for `value`.
    pub(crate) fn commit_boundaries(&self, value: &V, out: &mut Vec<u32>) {
        match self {
            Self::Prepare(p) => {
                if p.ballot.value == *value && p.commit_counter != 0 {
                    out.push(p.commit_counter);
                    out.push(p.high_counter);
                }
            }
            Self::Confirm(c) => {
                if c.ballot.value == *value {
                    out.push(c.commit_counter);
                    out.push(c.high_counter);
                }
            }
            Self::Externalize(e) => {
                if e.commit.value == *value {
                    out.push(e.commit.counter);
                    out.push(e.high_counter);
                    out.push(INFINITE_COUNTER);
                }
            }
        }
    }
}

impl<V: Value> Nominate<V> {
    /// Whether `self` supersedes `old` from the same sender: both sets only grow.
    pub fn is_newer_than(&self, old: &Self) -> bool {
        let superset = |new: &[V], old: &[V]| old.iter().all(|v| new.binary_search(v).is_ok());
        superset(&self.voted, &old.voted)
            && superset(&self.accepted, &old.accepted)
            && (self.voted.len() > old.voted.len() || self.accepted.len() > old.accepted.len())
    }

    /// Structural checks: non-empty, sorted, within `max_values`.
    pub fn validate(&self, max_values: usize) -> Result<(), MsgError> {
        if self.voted.is_empty() && self.accepted.is_empty() {
            return Err(MsgError::EmptyNomination);
        }
        let count = self.voted.len() + self.accepted.len();
        if count > max_values {
            return Err(MsgError::TooManyValues {
                count,
                max: max_values,
            });
        }
        if !self.voted.windows(2).all(|w| w[0] < w[1]) {
            return Err(MsgError::ValuesNotSorted { field: "voted" });
        }
        if !self.accepted.windows(2).all(|w| w[0] < w[1]) {
            return Err(MsgError::ValuesNotSorted { field: "accepted" });
        }
        Ok(())
    }
}

impl<V: Value> Msg<V> {
    /// Every value the message mentions (nominated, accepted, or in its ballots).
    pub fn values(&self) -> Vec<&V> {
        match &self.topic {
            Topic::Nominate(n) => n.voted.iter().chain(&n.accepted).collect(),
            Topic::Ballot(b) => b.values(),
        }
    }

    /// Structural validation of a whole message: sender id, quorum set, slot, and the
    /// statement. `max_values` bounds a nomination's values.
    pub fn validate(&self, max_values: usize) -> Result<(), MsgError> {
        self.validate_with(max_values, false)
    }

    /// [`Msg::validate`], skipping the quorum set when the caller knows it is valid
    /// (validating a large quorum set costs more than comparing it).
    pub(crate) fn validate_with(
        &self,
        max_values: usize,
        quorum_set_known_valid: bool,
    ) -> Result<(), MsgError> {
        self.sender.validate().map_err(MsgError::InvalidSender)?;
        if self.slot == 0 {
            return Err(MsgError::ZeroSlot);
        }
        if !quorum_set_known_valid {
            self.quorum_set
                .validate()
                .map_err(MsgError::InvalidQuorumSet)?;
        }
        match &self.topic {
            Topic::Nominate(n) => n.validate(max_values),
            Topic::Ballot(b) => b.validate(),
        }
    }
}
