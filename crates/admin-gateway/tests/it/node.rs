//! A small `AdminApi` server with state: the ledger height, the mode (toggled by
//! `SetMaintenance`), the log filter (set by `SetRustLog`, refused when it holds `[`), and
//! metrics from a prometheus-client registry sent as OpenMetrics.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use mcnode_api::{
    admin::{
        BuildInfo, LedgerInfo, NodeInfo, PeerInfo, QuorumMemberInfo, QuorumSetInfo, ScpSummary,
        TxCacheInfo, INFO_FORMAT,
    },
    pb::{self, admin_api_server::AdminApiServer},
};
use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};
use tonic::{Request, Response, Status};

struct State {
    height: u64,
    maintenance: bool,
    filter: String,
}

/// The in-test node. Cloning shares the state.
#[derive(Clone)]
pub struct FakeNode {
    state: Arc<Mutex<State>>,
    registry: Arc<Registry>,
}

/// The node's name; a peer's URI holds markup the panel must escape.
pub const NAME: &str = "node0:8443";
/// A string with markup, sent as a peer URI.
pub const HOSTILE: &str = "mcp://x/<script>alert(1)</script>";

impl FakeNode {
    fn new() -> Self {
        let mut registry = Registry::default();
        let height = Gauge::<i64>::default();
        height.set(7);
        registry.register("mcnode_ledger_height", "Blocks in the ledger", height);
        let txs = Counter::<u64>::default();
        txs.inc_by(3);
        registry.register("mcnode_client_txs", "Client transactions submitted", txs);
        Self {
            state: Arc::new(Mutex::new(State {
                height: 7,
                maintenance: false,
                filter: "info".into(),
            })),
            registry: Arc::new(registry),
        }
    }

    /// Starts a node on 127.0.0.1:0; answers it and its admin URI.
    pub async fn start() -> (Self, String) {
        let node = Self::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let service = AdminApiServer::new(node.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        (node, format!("insecure-mca://{addr}/"))
    }

    /// The filter in force.
    pub fn filter(&self) -> String {
        self.state.lock().unwrap().filter.clone()
    }

    /// What `GetInfo` answers now.
    pub fn info(&self) -> NodeInfo {
        let s = self.state.lock().unwrap();
        NodeInfo {
            format: INFO_FORMAT,
            name: NAME.into(),
            peer_responder_id: NAME.into(),
            client_responder_id: "node0:3223".into(),
            build: BuildInfo {
                version: "0.1.0".into(),
                measurement: "ab".into(),
                block_signer: "cd".into(),
                sgx_mode: "SW".into(),
            },
            config: serde_json::json!({"minimum_fee": 400, "msg_signer_key": "<redacted>"}),
            ledger: LedgerInfo {
                block_height: s.height,
                last_block_id: "ef01".into(),
                last_block_unix_time: None,
                mode: if s.maintenance {
                    "maintenance"
                } else {
                    "running"
                }
                .into(),
                highest_peer_height: s.height,
                blocks_behind: 0,
            },
            tx_cache: TxCacheInfo {
                txs: 2,
                pending_values: 1,
                max_txs: 50_000,
                max_pending_values: 10_000,
            },
            peers: vec![
                PeerInfo {
                    responder_id: "node1:8443".into(),
                    uri: "mcp://node1:8443/".into(),
                    broadcast: true,
                    in_quorum_set: true,
                    connection: "up".into(),
                    attested: true,
                    last_message_age_seconds: Some(0.5),
                    consecutive_failures: 0,
                    queued: 0,
                    block_height: Some(s.height),
                },
                PeerInfo {
                    responder_id: "node2:8443".into(),
                    uri: HOSTILE.into(),
                    broadcast: true,
                    in_quorum_set: true,
                    connection: "down".into(),
                    attested: false,
                    last_message_age_seconds: None,
                    consecutive_failures: 4,
                    queued: 3,
                    block_height: None,
                },
            ],
            quorum_set: QuorumSetInfo {
                threshold: 2,
                members: vec![
                    QuorumMemberInfo::Node {
                        responder_id: "node1:8443".into(),
                        heard: true,
                    },
                    QuorumMemberInfo::Node {
                        responder_id: "node2:8443".into(),
                        heard: false,
                    },
                ],
                satisfied: true,
            },
            scp: ScpSummary {
                slot: s.height,
                phase: "nominate".into(),
                ballot_counter: 0,
                nomination_round: 1,
            },
            rust_log: s.filter.clone(),
            uptime_seconds: 12,
            quorum_health: Some(mcnode_api::admin::QuorumHealthInfo {
                slot: s.height,
                v_blocking_distance: Some(0),
                members: vec![
                    mcnode_api::admin::QuorumMemberHealth {
                        responder_id: "node1:8443".into(),
                        state: Some(mcnode_api::admin::QuorumMemberState::Agree),
                        state_slot: Some(s.height - 1),
                        up: true,
                        last_slot: Some(s.height),
                        last_message_age_seconds: Some(0.5),
                        recent: vec![mcnode_api::admin::SlotStateInfo {
                            slot: s.height - 1,
                            state: mcnode_api::admin::QuorumMemberState::Agree,
                        }],
                    },
                    mcnode_api::admin::QuorumMemberHealth {
                        responder_id: HOSTILE.into(),
                        state: Some(mcnode_api::admin::QuorumMemberState::Missing),
                        state_slot: Some(s.height - 1),
                        up: false,
                        last_slot: None,
                        last_message_age_seconds: None,
                        recent: vec![mcnode_api::admin::SlotStateInfo {
                            slot: s.height - 1,
                            state: mcnode_api::admin::QuorumMemberState::Missing,
                        }],
                    },
                ],
            }),
        }
    }

    /// What `GetInfo` answers now, as JSON.
    pub fn info_json(&self) -> String {
        serde_json::to_string(&self.info()).unwrap()
    }

    /// What `GetHistory` answers: an hour of samples, a block every other one.
    pub fn history_json(&self) -> String {
        let samples = (0..360u64)
            .map(|i| mcnode_api::admin::HistorySample {
                start_unix: 1_800_000_000 + i * 10,
                blocks: i % 2,
                txs: i % 2,
                latency_count: i % 2,
                latency_sum_seconds: (i % 2) as f64 * 0.8,
                latency_max_seconds: (i % 2) as f64 * 0.8,
                pending_values: i % 5,
                peers_heard: 3,
            })
            .collect();
        serde_json::to_string(&mcnode_api::admin::History {
            format: mcnode_api::admin::HISTORY_FORMAT,
            interval_seconds: 10,
            samples,
        })
        .unwrap()
    }

    /// What `GetScpState` answers.
    pub fn scp_json(&self) -> String {
        let height = self.state.lock().unwrap().height;
        serde_json::json!({"slot": height, "phase": "nominate", "round": 1}).to_string()
    }
}

#[tonic::async_trait]
impl pb::admin_api_server::AdminApi for FakeNode {
    async fn get_info(
        &self,
        _request: Request<pb::GetInfoRequest>,
    ) -> Result<Response<pb::GetInfoResponse>, Status> {
        Ok(Response::new(pb::GetInfoResponse {
            info_json: self.info_json(),
        }))
    }

    async fn get_prometheus_metrics(
        &self,
        _request: Request<pb::GetPrometheusMetricsRequest>,
    ) -> Result<Response<pb::GetPrometheusMetricsResponse>, Status> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).unwrap();
        Ok(Response::new(pb::GetPrometheusMetricsResponse { text }))
    }

    async fn set_rust_log(
        &self,
        request: Request<pb::SetRustLogRequest>,
    ) -> Result<Response<pb::SetRustLogResponse>, Status> {
        let filter = request.into_inner().filter;
        if filter.contains('[') {
            return Err(Status::invalid_argument(format!(
                "{filter:?} is not a RUST_LOG filter"
            )));
        }
        self.state.lock().unwrap().filter = filter.clone();
        Ok(Response::new(pb::SetRustLogResponse { filter }))
    }

    async fn set_maintenance(
        &self,
        request: Request<pb::SetMaintenanceRequest>,
    ) -> Result<Response<pb::SetMaintenanceResponse>, Status> {
        let enabled = request.into_inner().enabled;
        self.state.lock().unwrap().maintenance = enabled;
        let mode = if enabled { "maintenance" } else { "running" };
        Ok(Response::new(pb::SetMaintenanceResponse {
            mode: mode.into(),
        }))
    }

    async fn get_scp_state(
        &self,
        _request: Request<pb::GetScpStateRequest>,
    ) -> Result<Response<pb::GetScpStateResponse>, Status> {
        Ok(Response::new(pb::GetScpStateResponse {
            state_json: self.scp_json(),
        }))
    }

    async fn get_history(
        &self,
        _request: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::GetHistoryResponse>, Status> {
        Ok(Response::new(pb::GetHistoryResponse {
            history_json: self.history_json(),
        }))
    }
}
