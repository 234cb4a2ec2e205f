//! The admin API (`AdminApi` on `--admin-listen-uri`): the node's state as JSON, its
//! metrics as Prometheus text, the log filter changed at run time, maintenance mode, and
//! the SCP state of the current slot, and the last hour's history for the panel's charts.
//! `mc-admin-http-gateway` turns it into a web panel.
//!
//! Also here: the run-time-reloadable log filter ([`init_logging`]) and the tower layer
//! that counts gRPC requests by method and status ([`GrpcMetricsLayer`]).

use std::{
    collections::HashSet,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, OnceLock},
    task::{Context, Poll},
    time::Duration,
};

use mcnode_api::{
    admin::{
        BuildInfo, LedgerInfo, NodeInfo, PeerInfo, QuorumHealthInfo, QuorumMemberHealth,
        QuorumMemberInfo, QuorumMemberState, QuorumSetInfo, ScpSummary, SlotStateInfo, TxCacheInfo,
        HEARD_WITHIN_SECONDS, INFO_FORMAT,
    },
    pb,
};
use mcnode_node_core::{MemberState, QuorumHealthReport};
use mcnode_peers::ResponderId;
use mcnode_scp::QuorumSet;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};
use tracing_subscriber::{layer::SubscriberExt, reload, util::SubscriberInitExt, EnvFilter};

use crate::{config::LogFormat, node::Input, state::Shared};

/// The log filter, reloadable while the process runs.
pub struct LogControl {
    handle: reload::Handle<EnvFilter, tracing_subscriber::Registry>,
    current: Mutex<String>,
}

impl LogControl {
    /// The filter in force.
    pub fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the filter (`RUST_LOG` syntax); a filter that does not parse is refused
    /// and the old one stays.
    pub fn set(&self, filter: &str) -> Result<String, String> {
        let filter = filter.trim();
        if filter.is_empty() {
            return Err("the filter is empty".into());
        }
        let parsed = EnvFilter::builder()
            .parse(filter)
            .map_err(|e| format!("{filter:?} is not a RUST_LOG filter: {e}"))?;
        self.handle
            .reload(parsed)
            .map_err(|e| format!("cannot change the filter: {e}"))?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = filter.to_string();
        Ok(filter.to_string())
    }
}

static LOG_CONTROL: OnceLock<LogControl> = OnceLock::new();

/// The process's log control, when [`init_logging`] installed it.
pub fn log_control() -> Option<&'static LogControl> {
    LOG_CONTROL.get()
}

/// Sets up logging from `RUST_LOG` (default `info`; an unparsable value falls back to
/// `info` with a warning) in the chosen format, with a filter the admin API can change.
pub fn init_logging(format: LogFormat) {
    let wanted = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "info".to_string());
    let (filter, spec, bad) = match EnvFilter::builder().parse(&wanted) {
        Ok(f) => (f, wanted, None),
        Err(e) => (
            EnvFilter::new("info"),
            "info".to_string(),
            Some((wanted, e)),
        ),
    };
    let (filter_layer, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter_layer);
    let installed = match format {
        LogFormat::Json => registry.with(fmt.json()).try_init(),
        LogFormat::Text => registry.with(fmt).try_init(),
    };
    if installed.is_ok() {
        let _ = LOG_CONTROL.set(LogControl {
            handle,
            current: Mutex::new(spec),
        });
    }
    if let Some((wanted, e)) = bad {
        tracing::warn!(rust_log = %wanted, error = %e, "RUST_LOG does not parse; logging at info");
    }
}

/// `AdminApi`.
#[derive(Clone)]
pub struct AdminApi(pub Arc<Shared>);

fn json<T: serde::Serialize>(value: &T) -> Result<String, Status> {
    serde_json::to_string(value).map_err(|e| Status::internal(format!("cannot encode: {e}")))
}

#[tonic::async_trait]
impl pb::admin_api_server::AdminApi for AdminApi {
    async fn get_info(
        &self,
        _request: Request<pb::GetInfoRequest>,
    ) -> Result<Response<pb::GetInfoResponse>, Status> {
        let shared = self.0.clone();
        let info = tokio::task::spawn_blocking(move || node_info(&shared))
            .await
            .map_err(|e| Status::internal(format!("task failed: {e}")))??;
        Ok(Response::new(pb::GetInfoResponse {
            info_json: json(&info)?,
        }))
    }

    async fn get_prometheus_metrics(
        &self,
        _request: Request<pb::GetPrometheusMetricsRequest>,
    ) -> Result<Response<pb::GetPrometheusMetricsResponse>, Status> {
        self.0.refresh_scrape_gauges();
        let text = mcnode_metrics::encode(&self.0.registry)
            .map_err(|e| Status::internal(format!("cannot encode metrics: {e}")))?;
        Ok(Response::new(pb::GetPrometheusMetricsResponse { text }))
    }

    async fn set_rust_log(
        &self,
        request: Request<pb::SetRustLogRequest>,
    ) -> Result<Response<pb::SetRustLogResponse>, Status> {
        let control = log_control().ok_or_else(|| {
            Status::failed_precondition("this process's logging cannot be changed at run time")
        })?;
        let filter = control
            .set(&request.into_inner().filter)
            .map_err(Status::invalid_argument)?;
        tracing::info!(%filter, "log filter changed through the admin API");
        Ok(Response::new(pb::SetRustLogResponse { filter }))
    }

    async fn set_maintenance(
        &self,
        request: Request<pb::SetMaintenanceRequest>,
    ) -> Result<Response<pb::SetMaintenanceResponse>, Status> {
        self.0.set_maintenance(request.into_inner().enabled);
        Ok(Response::new(pb::SetMaintenanceResponse {
            mode: self.0.mode().as_str().to_string(),
        }))
    }

    async fn get_scp_state(
        &self,
        _request: Request<pb::GetScpStateRequest>,
    ) -> Result<Response<pb::GetScpStateResponse>, Status> {
        let (tx, rx) = oneshot::channel();
        self.0
            .node
            .inbox
            .try_send(Input::DumpScp(tx))
            .map_err(|_| Status::unavailable("the node is busy; try again"))?;
        let state_json = tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .map_err(|_| Status::unavailable("the node did not answer in 5 s"))?
            .map_err(|_| Status::unavailable("the node stopped"))?;
        Ok(Response::new(pb::GetScpStateResponse { state_json }))
    }

    async fn get_history(
        &self,
        _request: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::GetHistoryResponse>, Status> {
        let (tx, rx) = oneshot::channel();
        self.0
            .node
            .inbox
            .try_send(Input::DumpHistory(tx))
            .map_err(|_| Status::unavailable("the node is busy; try again"))?;
        let history_json = tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .map_err(|_| Status::unavailable("the node did not answer in 5 s"))?
            .map_err(|_| Status::unavailable("the node stopped"))?;
        Ok(Response::new(pb::GetHistoryResponse { history_json }))
    }
}

fn member_state(s: MemberState) -> QuorumMemberState {
    match s {
        MemberState::Agree => QuorumMemberState::Agree,
        MemberState::Delayed => QuorumMemberState::Delayed,
        MemberState::Disagree => QuorumMemberState::Disagree,
        MemberState::Missing => QuorumMemberState::Missing,
    }
}

/// The quorum health as `NodeInfo` reports it (ages as of the node task's last step, at
/// most a few hundred milliseconds ago).
pub fn quorum_health_info(r: &QuorumHealthReport) -> QuorumHealthInfo {
    QuorumHealthInfo {
        slot: r.slot,
        v_blocking_distance: r.v_blocking_distance.map(|d| d as u64),
        members: r
            .members
            .iter()
            .map(|m| QuorumMemberHealth {
                responder_id: m.node.clone(),
                state: m.state.map(member_state),
                state_slot: m.state_slot,
                up: m.up,
                last_slot: m.last_slot,
                last_message_age_seconds: m.last_message_age_ms.map(|ms| ms as f64 / 1000.0),
                recent: m
                    .recent
                    .iter()
                    .map(|s| SlotStateInfo {
                        slot: s.slot,
                        state: member_state(s.state),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Builds what `GetInfo` reports (reads the ledger: call from a blocking task).
pub fn node_info(shared: &Shared) -> Result<NodeInfo, Status> {
    let last = shared
        .ledger
        .last_block()
        .map_err(|e| Status::internal(format!("ledger: {e}")))?;
    let height = last.index + 1;
    let published = shared.published();
    let highest = published.status.highest_peer_height.max(height);
    let (txs, pending) = (published.status.pending, published.status.pending);
    let health: std::collections::HashMap<_, _> = shared.broadcaster.health().into_iter().collect();
    let members = quorum_members(&shared.quorum_set);
    let heard_within = Duration::from_secs(HEARD_WITHIN_SECONDS);
    // Heard: ourselves; a message in the last 30 s; or, on a quiet network (SCP sends
    // nothing between transactions), a peer whose last call succeeded and that attested.
    let heard = |node: &str| {
        let Ok(id) = node.parse::<ResponderId>() else {
            return false;
        };
        id == shared.responder_id
            || shared
                .last_heard(&id)
                .is_some_and(|age| age <= heard_within)
            || (health.get(&id).is_some_and(|h| h.connected) && shared.has_attested(&id))
    };
    let peers = shared
        .peers
        .iter()
        .map(|client| {
            let peer = client.peer();
            let id = &peer.responder_id;
            let h = health.get(id);
            let connection = match h {
                Some(h) if h.connected => "up",
                Some(h) if h.consecutive_failures > 0 => "down",
                _ => "unknown",
            };
            PeerInfo {
                responder_id: id.to_string(),
                uri: format!(
                    "{}{}://{}/",
                    if peer.uri.tls { "" } else { "insecure-" },
                    peer.uri.service.scheme(),
                    peer.uri.address()
                ),
                broadcast: peer.broadcast,
                in_quorum_set: members.contains(id.as_str()),
                connection: connection.to_string(),
                attested: shared.has_attested(id),
                last_message_age_seconds: shared.last_heard(id).map(|d| d.as_secs_f64()),
                consecutive_failures: h.map_or(0, |h| h.consecutive_failures),
                queued: h.map_or(0, |h| h.queued as u64),
                block_height: shared.reported_height(id),
            }
        })
        .collect();
    let scp = published.status.scp.as_ref();
    Ok(NodeInfo {
        format: INFO_FORMAT,
        name: shared.responder_id.to_string(),
        peer_responder_id: shared.responder_id.to_string(),
        client_responder_id: shared.about.client_responder_id.clone(),
        build: BuildInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            measurement: shared.enclave.measurement().to_string(),
            block_signer: shared.enclave.block_signer().to_hex(),
            sgx_mode: shared.about.sgx_mode.clone(),
        },
        config: shared.about.config.clone(),
        ledger: LedgerInfo {
            block_height: height,
            last_block_id: last.id.to_string(),
            last_block_unix_time: published.last_block_unix,
            mode: shared.mode().as_str().to_string(),
            highest_peer_height: highest,
            blocks_behind: highest.saturating_sub(height),
        },
        tx_cache: TxCacheInfo {
            txs: txs as u64,
            pending_values: pending as u64,
            max_txs: shared.about.max_txs as u64,
            max_pending_values: shared.about.max_pending as u64,
        },
        peers,
        quorum_set: quorum_info(&shared.quorum_set, &heard),
        scp: ScpSummary {
            slot: published.status.slot,
            phase: scp.map_or_else(
                || "idle".to_string(),
                |m| {
                    serde_json::to_value(m.phase)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                },
            ),
            ballot_counter: scp.map_or(0, |m| m.ballot_counter),
            nomination_round: scp.map_or(0, |m| m.nomination_round),
        },
        rust_log: log_control().map_or_else(
            || std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            LogControl::current,
        ),
        uptime_seconds: shared.started.elapsed().as_secs(),
        quorum_health: published
            .quorum_health
            .as_ref()
            .map(|r| quorum_health_info(r)),
    })
}

fn quorum_members(q: &QuorumSet) -> HashSet<String> {
    let mut out: HashSet<String> = q.members.iter().map(|m| m.to_string()).collect();
    for inner in &q.inner_sets {
        out.extend(quorum_members(inner));
    }
    out
}

/// The quorum set with which members count as heard, and whether those meet each
/// threshold.
pub fn quorum_info(q: &QuorumSet, heard: &dyn Fn(&str) -> bool) -> QuorumSetInfo {
    let mut members = Vec::new();
    let mut satisfied = 0u32;
    for m in &q.members {
        let h = heard(&m.to_string());
        satisfied += u32::from(h);
        members.push(QuorumMemberInfo::Node {
            responder_id: m.to_string(),
            heard: h,
        });
    }
    for inner in &q.inner_sets {
        let info = quorum_info(inner, heard);
        satisfied += u32::from(info.satisfied);
        members.push(QuorumMemberInfo::InnerSet(info));
    }
    QuorumSetInfo {
        threshold: q.threshold,
        members,
        satisfied: satisfied >= q.threshold,
    }
}

/// The method paths this process serves, read from the descriptor sets, so request
/// counts carry a bounded set of labels whatever paths clients send.
#[derive(Clone, Debug, Default)]
pub struct KnownMethods(Arc<HashSet<String>>);

impl KnownMethods {
    /// Every method of every service in `sets` (encoded `FileDescriptorSet`s).
    pub fn from_descriptor_sets(sets: &[&[u8]]) -> Self {
        let mut out = HashSet::new();
        for bytes in sets {
            let Ok(set) = <prost_types::FileDescriptorSet as prost::Message>::decode(*bytes) else {
                continue;
            };
            for file in set.file {
                let package = file.package.unwrap_or_default();
                for service in file.service {
                    let name = service.name.unwrap_or_default();
                    for method in service.method {
                        out.insert(format!(
                            "/{package}.{name}/{}",
                            method.name.unwrap_or_default()
                        ));
                    }
                }
            }
        }
        Self(Arc::new(out))
    }

    /// `path` if served here, `other` if not.
    pub fn label<'a>(&self, path: &'a str) -> &'a str {
        if self.0.contains(path) {
            path
        } else {
            "other"
        }
    }
}

/// A tower layer counting gRPC requests (`consensus_grpc_requests_total{method,code}`).
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    metrics: crate::metrics::Metrics,
    known: KnownMethods,
}

impl GrpcMetricsLayer {
    /// Counts into `metrics`, labelling methods not in `known` as `other`.
    pub fn new(metrics: crate::metrics::Metrics, known: KnownMethods) -> Self {
        Self { metrics, known }
    }
}

impl<S> tower_layer::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around a server.
#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    layer: GrpcMetricsLayer,
}

impl<S, B, RB> tower_service::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = self.layer.known.label(req.uri().path()).to_string();
        let metrics = self.layer.metrics.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            // tonic answers an error "trailers-only": its status is in the headers. A
            // success carries its status in the trailers, after the body, and is OK for
            // the unary methods served here.
            let code = match &result {
                Ok(resp) => resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from_i32),
                Err(_) => tonic::Code::Internal,
            };
            metrics.grpc_request(&method, code);
            result
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mcnode_scp::NodeId;

    fn node(s: &str) -> NodeId {
        NodeId::new(s.to_string()).unwrap()
    }

    #[test]
    fn quorum_health_follows_thresholds_at_every_depth() {
        let inner = QuorumSet::new(2, vec![node("c:1"), node("d:1")], vec![]).unwrap();
        let q = QuorumSet::new(2, vec![node("a:1"), node("b:1")], vec![inner]).unwrap();
        let heard = |n: &str| n == "a:1" || n == "c:1";
        let info = quorum_info(&q, &heard);
        // a heard, b not, inner set has 1 of 2: 1 < 2.
        assert!(!info.satisfied);
        let heard = |n: &str| n == "a:1" || n == "c:1" || n == "d:1";
        assert!(quorum_info(&q, &heard).satisfied);
        let heard = |n: &str| n == "a:1" || n == "b:1";
        let info = quorum_info(&q, &heard);
        assert!(info.satisfied);
        let QuorumMemberInfo::InnerSet(inner) = &info.members[2] else {
            panic!("the inner set comes after the nodes: {info:?}");
        };
        assert!(!inner.satisfied);
    }

    #[test]
    fn known_methods_come_from_the_descriptor_sets() {
        let known = KnownMethods::from_descriptor_sets(&[mcnode_api::FILE_DESCRIPTOR_SET]);
        for path in [
            "/mcnode.v1.ConsensusClientApi/ClientTxPropose",
            "/mcnode.v1.AdminApi/GetInfo",
            "/mcnode.v1.ConsensusPeerApi/SendConsensusMsg",
            "/mcnode.v1.BlockchainApi/GetLastBlockInfo",
        ] {
            assert_eq!(known.label(path), path);
        }
        assert_eq!(known.label("/mcnode.v1.Nope/Nothing"), "other");
        assert_eq!(known.label("/etc/passwd"), "other");
    }
}
