//! The JSON documents of the admin API (`admin.proto`): what `consensus-service` reports
//! about itself and what `mc-admin-http-gateway` shows. Both sides use these types, so the
//! format is defined once; [`INFO_FORMAT`] versions it.

use serde::{Deserialize, Serialize};

/// The version of [`NodeInfo`]'s layout. Adding an optional field keeps it; renaming or
/// removing one bumps it.
pub const INFO_FORMAT: u32 = 1;

/// Everything `GetInfo` reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// [`INFO_FORMAT`].
    pub format: u32,
    /// The node's name: its peer responder id.
    pub name: String,
    /// `--peer-responder-id`.
    pub peer_responder_id: String,
    /// `--client-responder-id`.
    pub client_responder_id: String,
    /// What is running.
    pub build: BuildInfo,
    /// The command line as the node read it, secrets replaced by `"<redacted>"`.
    pub config: serde_json::Value,
    /// The ledger and how the node keeps up with its peers.
    pub ledger: LedgerInfo,
    /// Transactions waiting for consensus.
    pub tx_cache: TxCacheInfo,
    /// One entry per peer in `network.toml`.
    pub peers: Vec<PeerInfo>,
    /// The quorum set, with which members were heard from recently.
    pub quorum_set: QuorumSetInfo,
    /// The SCP slot in progress.
    pub scp: ScpSummary,
    /// The tracing filter in force (`RUST_LOG` syntax).
    pub rust_log: String,
    /// Seconds since the process started.
    pub uptime_seconds: u64,
    /// Each quorum member's state in the recent slots, and the v-blocking distance
    /// (absent from nodes that predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum_health: Option<QuorumHealthInfo>,
}

/// The quorum's health as the node sees it: per member of its quorum set (itself
/// excluded), its state in the last slots the node decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuorumHealthInfo {
    /// The slot being agreed.
    pub slot: u64,
    /// How many more quorum members must fail to block this node, counting the members
    /// that are not up as failed already; `null` when no failure of other nodes can.
    pub v_blocking_distance: Option<u64>,
    /// One entry per member.
    pub members: Vec<QuorumMemberHealth>,
}

/// What a quorum member did in one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuorumMemberState {
    /// It sent SCP messages for the slot before the node decided it, and confirmed or
    /// externalized no other value.
    Agree,
    /// Heard only after the node decided the slot, or only about an older slot since
    /// the slot began (it is behind).
    Delayed,
    /// It confirmed or externalized another value, or built on another block.
    Disagree,
    /// Nothing heard for the slot.
    Missing,
}

impl QuorumMemberState {
    /// Every state.
    pub const ALL: [QuorumMemberState; 4] =
        [Self::Agree, Self::Delayed, Self::Disagree, Self::Missing];

    /// The name as JSON and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agree => "agree",
            Self::Delayed => "delayed",
            Self::Disagree => "disagree",
            Self::Missing => "missing",
        }
    }
}

/// One member of the quorum set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuorumMemberHealth {
    /// Its responder id (its name in `network.toml`).
    pub responder_id: String,
    /// Its state in the last slot the node decided (`null` before the node decided any
    /// slot since it started).
    pub state: Option<QuorumMemberState>,
    /// That slot.
    pub state_slot: Option<u64>,
    /// Whether it sent SCP messages for the slot being agreed (on a quiet network, and
    /// in the first 2 s of a slot, a member that agreed on the last slot counts too;
    /// before the node decided any slot, one that answered a height probe in the last
    /// 10 s).
    pub up: bool,
    /// The slot of its last SCP message.
    pub last_slot: Option<u64>,
    /// Seconds since that message arrived.
    pub last_message_age_seconds: Option<f64>,
    /// Its state in each recent slot the node decided, newest first.
    pub recent: Vec<SlotStateInfo>,
}

/// A member's state in one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotStateInfo {
    /// The slot.
    pub slot: u64,
    /// The state.
    pub state: QuorumMemberState,
}

/// The version of [`History`]'s layout (same rules as [`INFO_FORMAT`]).
pub const HISTORY_FORMAT: u32 = 1;

/// The node's recent history (`GetHistory`): one sample per interval, oldest first, for
/// the panel's charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// [`HISTORY_FORMAT`].
    pub format: u32,
    /// The length of each sample's interval, seconds.
    pub interval_seconds: u64,
    /// The samples, oldest first; the last one is the interval in progress.
    pub samples: Vec<HistorySample>,
}

/// What happened in one interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistorySample {
    /// When the interval began (Unix seconds).
    pub start_unix: u64,
    /// Blocks appended (formed here or caught up).
    pub blocks: u64,
    /// Transactions in the blocks formed here.
    pub txs: u64,
    /// Client transactions of this node committed in the interval, whose
    /// submit-to-commit latency is summed below.
    pub latency_count: u64,
    /// Sum of their latencies, seconds.
    pub latency_sum_seconds: f64,
    /// The longest of them, seconds.
    pub latency_max_seconds: f64,
    /// The most transactions pending at once.
    pub pending_values: u64,
    /// Peers whose consensus messages arrived in the interval.
    pub peers_heard: u64,
}

/// What is running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The crate version.
    pub version: String,
    /// The enclave's measurement (hex).
    pub measurement: String,
    /// The enclave's block-signing public key (hex).
    pub block_signer: String,
    /// `SW` (software enclave) or `HW`.
    pub sgx_mode: String,
}

/// The ledger and the node's sync state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerInfo {
    /// Blocks in the ledger (the next block's index).
    pub block_height: u64,
    /// The last block's id (hex).
    pub last_block_id: String,
    /// When this process appended the last block (Unix seconds), if it did since start.
    pub last_block_unix_time: Option<u64>,
    /// `running`, `catching_up` or `maintenance`.
    pub mode: String,
    /// The highest block height a peer reported.
    pub highest_peer_height: u64,
    /// How far behind that peer the ledger is (0 when level or ahead).
    pub blocks_behind: u64,
}

/// The transaction cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxCacheInfo {
    /// Transactions held.
    pub txs: u64,
    /// Of those, awaiting nomination.
    pub pending_values: u64,
    /// `--max-cached-txs`.
    pub max_txs: u64,
    /// `--max-pending-values`.
    pub max_pending_values: u64,
}

/// A configured peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Its responder id.
    pub responder_id: String,
    /// Its peer URI (without query parameters).
    pub uri: String,
    /// Whether we broadcast to it.
    pub broadcast: bool,
    /// Whether it is in our quorum set (at any depth).
    pub in_quorum_set: bool,
    /// `up` (its last call succeeded), `down` (its last call failed) or `unknown`
    /// (not called yet).
    pub connection: String,
    /// Whether its enclave attested to ours since we started.
    pub attested: bool,
    /// Seconds since its last valid consensus message reached us.
    pub last_message_age_seconds: Option<f64>,
    /// Consecutive failed calls to it.
    pub consecutive_failures: u64,
    /// Messages waiting in its broadcast queue.
    pub queued: u64,
    /// The block height it last reported.
    pub block_height: Option<u64>,
}

/// A quorum set, nested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumSetInfo {
    /// How many members must agree.
    pub threshold: u32,
    /// Its members.
    pub members: Vec<QuorumMemberInfo>,
    /// Whether the members heard from recently (and we ourselves) meet the threshold.
    pub satisfied: bool,
}

/// A member of a quorum set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QuorumMemberInfo {
    /// A node.
    Node {
        /// Its responder id.
        responder_id: String,
        /// Whether it is this node, a consensus message from it arrived in the last
        /// [`HEARD_WITHIN_SECONDS`], or (a quiet network sends no consensus messages) our
        /// last call to it succeeded and it attested to us.
        heard: bool,
    },
    /// A nested set.
    InnerSet(QuorumSetInfo),
}

/// How recent a member's last message must be for it to count as heard.
pub const HEARD_WITHIN_SECONDS: u64 = 30;

/// The SCP slot in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScpSummary {
    /// The slot (the index of the block being agreed).
    pub slot: u64,
    /// `nominate`, `prepare`, `confirm`, `externalize`, or `idle` before the slot starts.
    pub phase: String,
    /// The ballot counter (0 before balloting).
    pub ballot_counter: u32,
    /// The nomination round (0 before nominating).
    pub nomination_round: u32,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> NodeInfo {
        NodeInfo {
            format: INFO_FORMAT,
            name: "node0:8443".into(),
            peer_responder_id: "node0:8443".into(),
            client_responder_id: "node0:3223".into(),
            build: BuildInfo {
                version: "0.1.0".into(),
                measurement: "ab".into(),
                block_signer: "cd".into(),
                sgx_mode: "SW".into(),
            },
            config: serde_json::json!({"minimum_fee": 400}),
            ledger: LedgerInfo {
                block_height: 7,
                last_block_id: "ef".into(),
                last_block_unix_time: Some(1_800_000_000),
                mode: "running".into(),
                highest_peer_height: 7,
                blocks_behind: 0,
            },
            tx_cache: TxCacheInfo {
                txs: 1,
                pending_values: 1,
                max_txs: 50_000,
                max_pending_values: 10_000,
            },
            peers: vec![PeerInfo {
                responder_id: "node1:8443".into(),
                uri: "mcp://node1:8443/".into(),
                broadcast: true,
                in_quorum_set: true,
                connection: "up".into(),
                attested: true,
                last_message_age_seconds: Some(0.5),
                consecutive_failures: 0,
                queued: 0,
                block_height: Some(7),
            }],
            quorum_set: QuorumSetInfo {
                threshold: 2,
                members: vec![
                    QuorumMemberInfo::Node {
                        responder_id: "node0:8443".into(),
                        heard: true,
                    },
                    QuorumMemberInfo::InnerSet(QuorumSetInfo {
                        threshold: 1,
                        members: vec![QuorumMemberInfo::Node {
                            responder_id: "node1:8443".into(),
                            heard: false,
                        }],
                        satisfied: false,
                    }),
                ],
                satisfied: false,
            },
            scp: ScpSummary {
                slot: 7,
                phase: "nominate".into(),
                ballot_counter: 0,
                nomination_round: 1,
            },
            rust_log: "info".into(),
            uptime_seconds: 12,
            quorum_health: None,
        }
    }

    /// Golden: the layout of format 1. A change here is a format change.
    #[test]
    fn node_info_format_1_golden() {
        let json = serde_json::to_string(&sample()).unwrap();
        let golden = r#"{"format":1,"name":"node0:8443","peer_responder_id":"node0:8443","client_responder_id":"node0:3223","build":{"version":"0.1.0","measurement":"ab","block_signer":"cd","sgx_mode":"SW"},"config":{"minimum_fee":400},"ledger":{"block_height":7,"last_block_id":"ef","last_block_unix_time":1800000000,"mode":"running","highest_peer_height":7,"blocks_behind":0},"tx_cache":{"txs":1,"pending_values":1,"max_txs":50000,"max_pending_values":10000},"peers":[{"responder_id":"node1:8443","uri":"mcp://node1:8443/","broadcast":true,"in_quorum_set":true,"connection":"up","attested":true,"last_message_age_seconds":0.5,"consecutive_failures":0,"queued":0,"block_height":7}],"quorum_set":{"threshold":2,"members":[{"kind":"node","responder_id":"node0:8443","heard":true},{"kind":"inner_set","threshold":1,"members":[{"kind":"node","responder_id":"node1:8443","heard":false}],"satisfied":false}],"satisfied":false},"scp":{"slot":7,"phase":"nominate","ballot_counter":0,"nomination_round":1},"rust_log":"info","uptime_seconds":12}"#;
        assert_eq!(json, golden);
        let back: NodeInfo = serde_json::from_str(golden).unwrap();
        assert_eq!(back, sample());
    }

    /// Golden: the optional `quorum_health` field, appended to format 1.
    #[test]
    fn quorum_health_golden() {
        let health = QuorumHealthInfo {
            slot: 8,
            v_blocking_distance: Some(1),
            members: vec![QuorumMemberHealth {
                responder_id: "node1:8443".into(),
                state: Some(QuorumMemberState::Missing),
                state_slot: Some(7),
                up: false,
                last_slot: Some(5),
                last_message_age_seconds: Some(2.5),
                recent: vec![
                    SlotStateInfo {
                        slot: 7,
                        state: QuorumMemberState::Missing,
                    },
                    SlotStateInfo {
                        slot: 6,
                        state: QuorumMemberState::Delayed,
                    },
                ],
            }],
        };
        let json = serde_json::to_string(&health).unwrap();
        let golden = r#"{"slot":8,"v_blocking_distance":1,"members":[{"responder_id":"node1:8443","state":"missing","state_slot":7,"up":false,"last_slot":5,"last_message_age_seconds":2.5,"recent":[{"slot":7,"state":"missing"},{"slot":6,"state":"delayed"}]}]}"#;
        assert_eq!(json, golden);
        let mut info = sample();
        info.quorum_health = Some(health);
        let text = serde_json::to_string(&info).unwrap();
        assert!(
            text.ends_with(&format!(",\"quorum_health\":{golden}}}")),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<NodeInfo>(&text).unwrap(), info);
        for s in QuorumMemberState::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    /// Golden: the layout of history format 1.
    #[test]
    fn history_format_1_golden() {
        let h = History {
            format: HISTORY_FORMAT,
            interval_seconds: 10,
            samples: vec![HistorySample {
                start_unix: 1_800_000_000,
                blocks: 2,
                txs: 3,
                latency_count: 3,
                latency_sum_seconds: 1.5,
                latency_max_seconds: 0.75,
                pending_values: 4,
                peers_heard: 3,
            }],
        };
        let json = serde_json::to_string(&h).unwrap();
        let golden = r#"{"format":1,"interval_seconds":10,"samples":[{"start_unix":1800000000,"blocks":2,"txs":3,"latency_count":3,"latency_sum_seconds":1.5,"latency_max_seconds":0.75,"pending_values":4,"peers_heard":3}]}"#;
        assert_eq!(json, golden);
        assert_eq!(serde_json::from_str::<History>(golden).unwrap(), h);
    }
}
