//! The admin gateway's HTTP inputs: request line (path and query), headers and body, as
//! `mc-admin-http-gateway`'s router receives them from anyone who can reach its port, and
//! the documents the node answers with (which the panel parses and renders).
//!
//! Input: one flags byte, then the request as text: the request target (`/path?query`)
//! on the first line, `Name: value` header lines up to an empty line, then the body.
//! Flags: bits 0-1 the method (GET, POST, HEAD, PUT); bits 2-3 the fake node's behaviour
//! ([`NodeBehaviour`]). Requests the `http` crate refuses to build (as hyper would refuse
//! to parse them) stop there.

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use http::{HeaderName, HeaderValue, Method, Request};
use mcnode_admin_gateway::{router, AdminClient, AdminError, Gateway};
use tower_service::Service;

/// What the fake node answers, by bits 2-3 of the flags byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeBehaviour {
    /// Well-formed documents ([`SAMPLE_INFO`], [`SAMPLE_METRICS`]).
    Healthy,
    /// Every call fails as if the node were down.
    Down,
    /// Every call answers with the request body as the document (info JSON, SCP JSON,
    /// metrics text): the node's answers fuzzed.
    EchoBody,
}

/// A `NodeInfo` document as consensus-service writes it.
pub const SAMPLE_INFO: &str = r#"{"format":1,"name":"node0.test:8443","peer_responder_id":"node0.test:8443","client_responder_id":"node0.test:3223","build":{"version":"0.1.0","measurement":"ab","block_signer":"cd","sgx_mode":"SW"},"config":{"minimum_fee":400000000,"msg_signer_key":"<redacted>"},"ledger":{"block_height":7,"last_block_id":"ef01","last_block_unix_time":1800000000,"mode":"running","highest_peer_height":7,"blocks_behind":0},"tx_cache":{"txs":2,"pending_values":1,"max_txs":50000,"max_pending_values":10000},"peers":[{"responder_id":"node1.test:8443","uri":"mcp://node1.test:8443/","broadcast":true,"in_quorum_set":true,"connection":"up","attested":true,"last_message_age_seconds":0.5,"consecutive_failures":0,"queued":0,"block_height":7},{"responder_id":"node2.test:8443","uri":"mcp://<b>node2</b>:8443/","broadcast":true,"in_quorum_set":true,"connection":"down","attested":false,"last_message_age_seconds":null,"consecutive_failures":4,"queued":3,"block_height":null}],"quorum_set":{"threshold":2,"members":[{"kind":"node","responder_id":"node1.test:8443","heard":true},{"kind":"inner_set","threshold":1,"members":[{"kind":"node","responder_id":"node2.test:8443","heard":false}],"satisfied":false}],"satisfied":true},"scp":{"slot":8,"phase":"nominate","ballot_counter":0,"nomination_round":1},"rust_log":"info","uptime_seconds":12}"#;

/// Node metrics as consensus-service serves them (OpenMetrics text).
pub const SAMPLE_METRICS: &str = "# HELP mc_ledger_height Blocks in the ledger.\n# TYPE mc_ledger_height gauge\nmc_ledger_height 7\n# HELP mc_txs_total Transactions.\n# TYPE mc_txs_total counter\nmc_txs_total{result=\"ok\"} 3\n# EOF\n";

#[derive(Clone)]
struct FakeNode {
    behaviour: NodeBehaviour,
    body: Arc<String>,
}

impl FakeNode {
    fn answer(&self, healthy: &str) -> Result<String, AdminError> {
        match self.behaviour {
            NodeBehaviour::Healthy => Ok(healthy.to_string()),
            NodeBehaviour::Down => Err(AdminError::Unreachable {
                uri: self.target(),
                reason: "connection refused".into(),
            }),
            NodeBehaviour::EchoBody => Ok(self.body.to_string()),
        }
    }
}

impl AdminClient for FakeNode {
    fn target(&self) -> String {
        "insecure-mca://127.0.0.1:9091/".into()
    }

    async fn get_info(&self) -> Result<String, AdminError> {
        self.answer(SAMPLE_INFO)
    }

    async fn get_prometheus_metrics(&self) -> Result<String, AdminError> {
        self.answer(SAMPLE_METRICS)
    }

    async fn set_rust_log(&self, filter: String) -> Result<String, AdminError> {
        self.answer(&filter)
    }

    async fn set_maintenance(&self, enabled: bool) -> Result<String, AdminError> {
        self.answer(if enabled { "maintenance" } else { "running" })
    }

    async fn get_scp_state(&self) -> Result<String, AdminError> {
        self.answer(r#"{"slot":8,"phase":"nominate"}"#)
    }

    async fn get_history(&self) -> Result<String, AdminError> {
        self.answer(
            r#"[{"start_unix":1796320530,"blocks":1,"txs":1,"latency_count":1,"latency_sum_seconds":0.68,"latency_max_seconds":0.68,"pending_values":1,"peers_heard":3}]"#,
        )
    }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("a tokio runtime starts: {e}"))
});

fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|b| *b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

/// The request the input describes, if the `http` crate builds it.
fn request(method: Method, rest: &[u8]) -> Option<Request<Body>> {
    let (target, mut rest) = split_line(rest);
    let target = std::str::from_utf8(target).ok()?.trim_end_matches('\r');
    let mut builder = Request::builder().method(method).uri(target);
    loop {
        let (line, after) = split_line(rest);
        rest = after;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = HeaderName::from_bytes(line[..colon].trim_ascii()).ok()?;
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
        builder = builder.header(name, value);
    }
    builder.body(Body::from(rest.to_vec())).ok()
}

/// Fuzz target: one HTTP request to the admin gateway's router.
pub fn admin_http(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let method = match flags & 3 {
        0 => Method::GET,
        1 => Method::POST,
        2 => Method::HEAD,
        _ => Method::PUT,
    };
    let behaviour = match (flags >> 2) & 3 {
        0 | 3 => NodeBehaviour::Healthy,
        1 => NodeBehaviour::Down,
        _ => NodeBehaviour::EchoBody,
    };
    let Some(req) = request(method, rest) else {
        return;
    };
    let body = String::from_utf8_lossy(&split_headers(rest)).into_owned();
    let gateway = Gateway::new(FakeNode {
        behaviour,
        body: Arc::new(body),
    });
    RUNTIME.block_on(async move {
        let mut app = router(gateway);
        // The router is always ready (its error type is `Infallible`).
        let _ = std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut app, cx)).await;
        let Ok(response) = app.call(req).await;
        let _ = axum::body::to_bytes(response.into_body(), 1 << 24).await;
    });
}

/// The body part of the input (after the first empty line).
fn split_headers(rest: &[u8]) -> Vec<u8> {
    let (_, mut rest) = split_line(rest);
    loop {
        let (line, after) = split_line(rest);
        rest = after;
        if line.strip_suffix(b"\r").unwrap_or(line).is_empty() {
            return rest.to_vec();
        }
    }
}
