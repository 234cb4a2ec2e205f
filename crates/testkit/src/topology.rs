//! Network topologies: who trusts whom, and how many Byzantine nodes each tolerates.

use std::fmt;
use std::str::FromStr;

use mcnode_scp::{NodeId, QuorumSet};

use crate::SimError;

/// A network shape: every node's id and quorum set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// `nodes` nodes, each trusting `threshold` of all of them (`mesh:N:T`).
    Mesh {
        /// Number of nodes.
        nodes: usize,
        /// Threshold of every node's flat quorum set.
        threshold: u32,
    },
    /// Node `i` trusts `{i, i+1 mod N}` with threshold 2 (`cycle:N`): the only quorum is
    /// everyone, so it is safe but tolerates no fault for liveness.
    Cycle {
        /// Number of nodes.
        nodes: usize,
    },
    /// `orgs` organisations of `servers` servers (`tiered:O:S`); every node trusts
    /// `floor(2 O / 3) + 1` organisations, each satisfied by a majority of its servers.
    Tiered {
        /// Number of organisations.
        orgs: usize,
        /// Servers per organisation.
        servers: usize,
    },
    /// stellar-core's classic test network: 5 nodes, threshold 4.
    Core5,
    /// stellar-core's 3-node network, threshold 2: v-blocking sets and quorums coincide
    /// in size.
    Core3,
}

impl Topology {
    /// Mesh, cycle and tiered topologies the `mix` option rotates through.
    pub fn mix() -> Vec<Topology> {
        vec![
            Topology::Mesh {
                nodes: 4,
                threshold: 3,
            },
            Topology::Core5,
            Topology::Core3,
            Topology::Mesh {
                nodes: 7,
                threshold: 5,
            },
            Topology::Cycle { nodes: 4 },
            Topology::Tiered {
                orgs: 4,
                servers: 2,
            },
        ]
    }

    /// Node id of node `i`.
    pub fn node_id(i: usize) -> NodeId {
        NodeId::from(format!("node{i}.sim:8443").as_str())
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        match *self {
            Topology::Mesh { nodes, .. } | Topology::Cycle { nodes } => nodes,
            Topology::Tiered { orgs, servers } => orgs * servers,
            Topology::Core5 => 5,
            Topology::Core3 => 3,
        }
    }

    /// Whether the topology has no node (never true for a parsed topology).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn mesh_params(&self) -> Option<(usize, u32)> {
        match *self {
            Topology::Mesh { nodes, threshold } => Some((nodes, threshold)),
            Topology::Core5 => Some((5, 4)),
            Topology::Core3 => Some((3, 2)),
            _ => None,
        }
    }

    fn tiered_thresholds(orgs: usize, servers: usize) -> (u32, u32) {
        ((2 * orgs / 3 + 1) as u32, (servers / 2 + 1) as u32)
    }

    /// Every node's id and quorum set, in node order.
    pub fn build(&self) -> Result<Vec<(NodeId, QuorumSet)>, SimError> {
        let n = self.len();
        let ids: Vec<NodeId> = (0..n).map(Self::node_id).collect();
        let bad = |e| SimError::Topology(format!("{self}: {e}"));
        match *self {
            Topology::Cycle { nodes } => (0..nodes)
                .map(|i| {
                    let qs = QuorumSet::flat(2, vec![ids[i].clone(), ids[(i + 1) % nodes].clone()])
                        .map_err(bad)?;
                    Ok((ids[i].clone(), qs))
                })
                .collect(),
            Topology::Tiered { orgs, servers } => {
                let (top, inner) = Self::tiered_thresholds(orgs, servers);
                let inner_sets = (0..orgs)
                    .map(|o| QuorumSet::flat(inner, ids[o * servers..(o + 1) * servers].to_vec()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(bad)?;
                let qs = QuorumSet::new(top, vec![], inner_sets).map_err(bad)?;
                Ok(ids.into_iter().map(|id| (id, qs.clone())).collect())
            }
            _ => {
                let (_, t) = self
                    .mesh_params()
                    .ok_or_else(|| SimError::Topology(self.to_string()))?;
                let qs = QuorumSet::flat(t, ids.clone()).map_err(bad)?;
                Ok(ids.into_iter().map(|id| (id, qs.clone())).collect())
            }
        }
    }

    /// How many nodes may be Byzantine while the honest nodes stay intertwined (any two
    /// quorums share an honest node) and form a quorum on their own (so they stay live).
    ///
    /// Mesh `T` of `N`: two quorums share `2T - N` nodes, so `f <= 2T - N - 1`, and the
    /// honest nodes must still meet the threshold, so `f <= N - T`. Tiered: Byzantine
    /// nodes confined to one organisation (see [`Topology::byzantine_groups`]). Cycle: 0.
    pub fn max_byzantine(&self) -> usize {
        if let Some((n, t)) = self.mesh_params() {
            let t = t as i64;
            let n = n as i64;
            return (2 * t - n - 1).min(n - t).max(0) as usize;
        }
        match *self {
            Topology::Tiered { orgs, servers } => {
                let (top, inner) = Self::tiered_thresholds(orgs, servers);
                let (top, inner) = (top as usize, inner as usize);
                // Quorums overlap in >= 2 top - orgs organisations, one may be the faulty
                // one; inside any other common one they share >= 2 inner - servers nodes.
                let safe = 2 * top >= orgs + 2 && 2 * inner > servers;
                if !safe {
                    0
                } else if orgs > top {
                    servers // the other organisations alone are a quorum
                } else {
                    servers - inner
                }
            }
            _ => 0,
        }
    }

    /// Groups of node indexes that Byzantine nodes are drawn from (all from one group).
    pub fn byzantine_groups(&self) -> Vec<Vec<usize>> {
        match *self {
            Topology::Tiered { orgs, servers } => (0..orgs)
                .map(|o| (o * servers..(o + 1) * servers).collect())
                .collect(),
            _ => vec![(0..self.len()).collect()],
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Topology::Mesh { nodes, threshold } => write!(f, "mesh:{nodes}:{threshold}"),
            Topology::Cycle { nodes } => write!(f, "cycle:{nodes}"),
            Topology::Tiered { orgs, servers } => write!(f, "tiered:{orgs}:{servers}"),
            Topology::Core5 => f.write_str("core5"),
            Topology::Core3 => f.write_str("core3"),
        }
    }
}

impl FromStr for Topology {
    type Err = SimError;

    /// Parses `mesh:N:T`, `cycle:N`, `tiered:ORGS:SERVERS`, `core5`, `core3`.
    fn from_str(s: &str) -> Result<Self, SimError> {
        let err = || {
            SimError::Topology(format!(
                "{s}: expected mesh:N:T, cycle:N, tiered:ORGS:SERVERS, core5 or core3"
            ))
        };
        let parts: Vec<&str> = s.split(':').collect();
        let num = |i: usize| -> Result<usize, SimError> {
            parts
                .get(i)
                .and_then(|p| p.parse::<usize>().ok())
                .ok_or_else(err)
        };
        let topo = match parts.first().copied() {
            Some("core5") if parts.len() == 1 => Topology::Core5,
            Some("core3") if parts.len() == 1 => Topology::Core3,
            Some("mesh") if parts.len() == 3 => Topology::Mesh {
                nodes: num(1)?,
                threshold: num(2)? as u32,
            },
            Some("cycle") if parts.len() == 2 => Topology::Cycle { nodes: num(1)? },
            Some("tiered") if parts.len() == 3 => Topology::Tiered {
                orgs: num(1)?,
                servers: num(2)?,
            },
            _ => return Err(err()),
        };
        if topo.len() < 2 || topo.len() > 200 {
            return Err(SimError::Topology(format!("{s}: needs 2 to 200 nodes")));
        }
        if let Topology::Cycle { nodes } = topo {
            if nodes < 2 {
                return Err(err());
            }
        }
        topo.build()?;
        Ok(topo)
    }
}
