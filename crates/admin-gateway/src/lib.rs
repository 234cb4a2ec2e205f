//! `mc-admin-http-gateway`: the operator's admin panel over HTTP, in front of
//! consensus-service's admin gRPC API (`admin.proto`, `AdminApi`).
//!
//! [`router`] serves, for a [`Gateway`] over any [`AdminClient`]:
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the panel (HTML, works without JavaScript); a red banner when the node is not reachable |
//! | `GET /info` | the node's `NodeInfo` JSON, as the node wrote it |
//! | `GET /scp` | the SCP state JSON |
//! | `GET /history` | the node's last hour in 10-s samples (JSON), drawn by the panel's charts |
//! | `GET /metrics` | the node's metrics and the gateway's own, classic Prometheus text |
//! | `POST /set-rust-log` | `filter=…` (form: 303 to `/`) or `{"filter": "…"}` (JSON answer) |
//! | `POST /maintenance` | `enabled=true\|false` (form: 303 to `/`) or `{"enabled": true}` (JSON answer) |
//!
//! [`metrics_router`] serves `GET /metrics` alone, for a separate metrics port; [`serve`]
//! runs both until a shutdown signal. The gateway keeps no state of its own beyond its
//! metrics: every request asks the node. It does not authenticate anyone: bind it to
//! loopback or a private network, like the admin API itself. POSTs a browser sends from
//! another site are refused (403), so a page elsewhere cannot drive the forms.
//!
//! Modules: [`client`] (the admin API client and its errors), [`panel`] (HTML),
//! [`prom`] (Prometheus text and the gateway's metrics).

pub mod client;
pub mod panel;
pub mod prom;

use std::{
    future::{Future, IntoFuture},
    sync::{
        atomic::{AtomicU8, Ordering},
        Arc,
    },
    time::SystemTime,
};

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, DefaultBodyLimit, MatchedPath, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde::Deserialize;
use tokio::net::TcpListener;

pub use client::{AdminClient, AdminError, GrpcAdminClient};
pub use prom::{openmetrics_to_classic, GatewayMetrics, PROMETHEUS_TEXT_CONTENT_TYPE};

/// Largest request body accepted (bytes); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the routes share: the admin client and the gateway's metrics. Cloning shares them.
#[derive(Clone, Debug)]
pub struct Gateway<C> {
    client: C,
    metrics: GatewayMetrics,
    /// [`UNKNOWN`], [`UP`] or [`DOWN`]: logs say when the node goes away or comes
    /// back, not at every request.
    reachable: Arc<AtomicU8>,
}

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

impl<C: AdminClient> Gateway<C> {
    /// A gateway in front of `client`.
    pub fn new(client: C) -> Self {
        Self {
            client,
            metrics: GatewayMetrics::default(),
            reachable: Arc::new(AtomicU8::new(UNKNOWN)),
        }
    }

    /// The admin client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The gateway's own metrics.
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.metrics
    }

    /// Asks the node for its info once, and logs whether it answered (at start, so the
    /// log tells at once whether the admin URI is right).
    pub async fn probe(&self) -> Result<(), AdminError> {
        self.call(self.client.get_info()).await?;
        tracing::info!(admin_uri = %self.client.target(), "consensus-service answers");
        Ok(())
    }

    /// Runs one admin call, keeping `mc_admin_gateway_admin_up` in step with its outcome.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, AdminError>>,
    ) -> Result<T, AdminError> {
        let result = call.await;
        let up = !matches!(&result, Err(e) if e.is_unreachable());
        self.metrics.set_admin_up(up);
        let before = self
            .reachable
            .swap(if up { UP } else { DOWN }, Ordering::Relaxed);
        match &result {
            Ok(_) if before == DOWN => tracing::info!(
                admin_uri = %self.client.target(),
                "consensus-service answers again"
            ),
            Ok(_) => {}
            Err(e) if !up && before != DOWN => tracing::warn!(error = %e, "admin call failed"),
            Err(e) if !up => tracing::debug!(error = %e, "admin call failed"),
            // It answered, with an error.
            Err(e) => tracing::warn!(error = %e, "admin call failed"),
        }
        result
    }
}

/// Why a request failed: the gateway's own checks or the node's answer.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The admin call failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The request body is malformed or misses a field.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request body is neither a form nor JSON.
    #[error("unsupported content type {0:?}: send application/x-www-form-urlencoded or application/json")]
    UnsupportedMediaType(String),
    /// A browser posted from another site: cross-site request forgery, refused.
    #[error("refused: {0}")]
    CrossOrigin(String),
    /// The body could not be read (too large, cut off).
    #[error("cannot read the request body: {message}")]
    Body {
        /// The HTTP status to answer.
        status: StatusCode,
        /// What went wrong.
        message: String,
    },
}

impl GatewayError {
    /// The HTTP status that reports this error.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::Admin(e) => e.http_status(),
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::CrossOrigin(_) => StatusCode::FORBIDDEN,
            Self::Body { status, .. } => *status,
        }
    }
}

impl From<BytesRejection> for GatewayError {
    fn from(r: BytesRejection) -> Self {
        Self::Body {
            status: r.status(),
            message: r.body_text(),
        }
    }
}

/// Plain text errors: one line.
impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        text_response(self.http_status(), format!("{self}\n"))
    }
}

/// The router of the panel and its API (see the crate docs), with the body limit and
/// the request counter.
pub fn router<C: AdminClient>(gateway: Gateway<C>) -> Router {
    Router::new()
        .route("/", get(panel::<C>))
        .route("/info", get(info::<C>))
        .route("/scp", get(scp::<C>))
        .route("/history", get(history::<C>))
        .route("/metrics", get(metrics::<C>))
        .route("/set-rust-log", post(set_rust_log::<C>))
        .route("/maintenance", post(set_maintenance::<C>))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            gateway.clone(),
            count_requests::<C>,
        ))
        .with_state(gateway)
}

/// The router of the metrics port: `GET /metrics` only.
pub fn metrics_router<C: AdminClient>(gateway: Gateway<C>) -> Router {
    Router::new()
        .route("/metrics", get(metrics::<C>))
        .layer(middleware::from_fn_with_state(
            gateway.clone(),
            count_requests::<C>,
        ))
        .with_state(gateway)
}

/// Serves [`router`] on `listener` and, if given, [`metrics_router`] on
/// `metrics_listener`, until `shutdown` completes; then stops accepting, lets the requests
/// in flight finish, and returns.
pub async fn serve<C: AdminClient>(
    gateway: Gateway<C>,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(());
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move {
        // Either the signal or the sender gone: stop both ways.
        let _ = rx.changed().await;
    };
    let panel = axum::serve(listener, router(gateway.clone()))
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    match metrics_listener {
        Some(m) => {
            let metrics =
                axum::serve(m, metrics_router(gateway)).with_graceful_shutdown(stopped(stop_rx));
            tokio::try_join!(panel.into_future(), metrics.into_future())?;
        }
        None => panel.await?,
    }
    Ok(())
}

async fn count_requests<C: AdminClient>(
    State(gateway): State<Gateway<C>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    gateway
        .metrics
        .record_request(&route, response.status().as_u16());
    response
}

fn text_response(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn json_response(status: StatusCode, json: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json).into_response()
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

async fn panel<C: AdminClient>(State(gateway): State<Gateway<C>>) -> Response {
    let (info, history) = tokio::join!(
        gateway.call(gateway.client.get_info()),
        gateway.client.get_history()
    );
    // The charts are optional: a node older than `GetHistory`, or a busy one, still gets
    // its panel, with the reason where the charts would be.
    let history = history
        .and_then(|json| {
            serde_json::from_str::<mcnode_api::admin::History>(&json).map_err(|e| {
                AdminError::Malformed {
                    what: "history document",
                    reason: e.to_string(),
                }
            })
        })
        .map_err(|e| e.to_string());
    let html = match info {
        Ok(json) => match serde_json::from_str::<mcnode_api::admin::NodeInfo>(&json) {
            Ok(info) => {
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                panel::render_node(&info, history.as_ref(), now)
            }
            Err(e) => panel::render_unreachable(
                &AdminError::Malformed {
                    what: "info document",
                    reason: e.to_string(),
                }
                .to_string(),
            ),
        },
        Err(e) => panel::render_unreachable(&e.to_string()),
    };
    // 200 even when the node is down: the page itself says so.
    html_response(StatusCode::OK, html)
}

async fn info<C: AdminClient>(State(gateway): State<Gateway<C>>) -> Result<Response, GatewayError> {
    let json = gateway.call(gateway.client.get_info()).await?;
    Ok(json_response(StatusCode::OK, json))
}

async fn scp<C: AdminClient>(State(gateway): State<Gateway<C>>) -> Result<Response, GatewayError> {
    let json = gateway.call(gateway.client.get_scp_state()).await?;
    Ok(json_response(StatusCode::OK, json))
}

async fn history<C: AdminClient>(
    State(gateway): State<Gateway<C>>,
) -> Result<Response, GatewayError> {
    let json = gateway.call(gateway.client.get_history()).await?;
    Ok(json_response(StatusCode::OK, json))
}

async fn metrics<C: AdminClient>(
    State(gateway): State<Gateway<C>>,
) -> Result<Response, GatewayError> {
    let node = gateway
        .call(gateway.client.get_prometheus_metrics())
        .await?;
    let mut text = openmetrics_to_classic(&node);
    text.push_str(&gateway.metrics.encode());
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE)],
        text,
    )
        .into_response())
}

/// How a POST came and how to answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    /// An HTML form or `curl -d`: 303 to `/`; errors as HTML for browsers, else text.
    Form {
        /// The client accepts HTML (a browser).
        html: bool,
    },
    /// JSON in, JSON out.
    Json,
}

impl Reply {
    fn of(headers: &HeaderMap) -> Result<Self, GatewayError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?"))
            .unwrap_or("application/x-www-form-urlencoded");
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json" => Ok(Self::Json),
            "application/x-www-form-urlencoded" => Ok(Self::Form {
                html: headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|a| a.contains("text/html")),
            }),
            _ => Err(GatewayError::UnsupportedMediaType(content_type.to_string())),
        }
    }

    /// Success: 303 to the panel (with a line for `curl`), or the JSON answer.
    fn done(self, line: String, json: serde_json::Value) -> Response {
        match self {
            Self::Form { .. } => {
                let mut r = text_response(StatusCode::SEE_OTHER, format!("{line}\n"));
                r.headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("/"));
                r
            }
            Self::Json => json_response(StatusCode::OK, json.to_string()),
        }
    }

    fn error(self, e: GatewayError) -> Response {
        let status = e.http_status();
        match self {
            Self::Form { html: true } => html_response(
                status,
                panel::render_form_error(status.as_u16(), &e.to_string()),
            ),
            Self::Form { html: false } => e.into_response(),
            Self::Json => json_response(
                status,
                serde_json::json!({ "error": e.to_string() }).to_string(),
            ),
        }
    }
}

/// Refuses a POST a browser sent from another site (`Sec-Fetch-Site`, else `Origin`
/// against `Host`), so a page elsewhere cannot drive the panel's forms. Clients that send
/// neither header (curl, scripts) pass.
fn check_same_origin(headers: &HeaderMap) -> Result<(), GatewayError> {
    let value = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site @ ("cross-site" | "same-site")) = value("sec-fetch-site") {
        return Err(GatewayError::CrossOrigin(format!(
            "a {site} request (Sec-Fetch-Site): use the panel's own forms"
        )));
    }
    let Some(origin) = value(header::ORIGIN.as_str()) else {
        return Ok(());
    };
    let host = value(header::HOST.as_str()).unwrap_or_default();
    let same = url::Url::parse(origin)
        .ok()
        .zip(url::Url::parse(&format!("http://{host}")).ok())
        .is_some_and(|(o, h)| o.host_str() == h.host_str() && o.port() == h.port());
    if same {
        Ok(())
    } else {
        Err(GatewayError::CrossOrigin(format!(
            "Origin {origin} is not this gateway ({host})"
        )))
    }
}

/// The checks every POST starts with: how to answer, same origin, the body read. A
/// failure comes with its answer.
fn post_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Reply, Bytes), Box<Response>> {
    let reply = Reply::of(headers).map_err(|e| Box::new(e.into_response()))?;
    check_same_origin(headers).map_err(|e| Box::new(reply.error(e)))?;
    let body = body.map_err(|e| Box::new(reply.error(e.into())))?;
    Ok((reply, body))
}

/// The one value of `field` in a form body.
fn form_field(body: &[u8], field: &str) -> Result<String, GatewayError> {
    let mut values = url::form_urlencoded::parse(body).filter(|(k, _)| k == field);
    let value = values
        .next()
        .ok_or_else(|| GatewayError::BadRequest(format!("the form has no field {field:?}")))?;
    if values.next().is_some() {
        return Err(GatewayError::BadRequest(format!(
            "the form has field {field:?} more than once"
        )));
    }
    Ok(value.1.into_owned())
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    serde_json::from_slice(body)
        .map_err(|e| GatewayError::BadRequest(format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRustLogBody {
    filter: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenanceBody {
    enabled: bool,
}

async fn set_rust_log<C: AdminClient>(
    State(gateway): State<Gateway<C>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (reply, body) = match post_body(&headers, body) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let result = async {
        let filter = match reply {
            Reply::Json => json_body::<SetRustLogBody>(&body)?.filter,
            Reply::Form { .. } => form_field(&body, "filter")?,
        };
        let filter = filter.trim().to_string();
        if filter.is_empty() {
            return Err(GatewayError::BadRequest(
                "the filter is empty: give one in RUST_LOG syntax, e.g. info,mcnode_scp=debug"
                    .into(),
            ));
        }
        Ok(gateway.call(gateway.client.set_rust_log(filter)).await?)
    }
    .await;
    match result {
        Ok(now) => {
            tracing::info!(filter = %now, "RUST_LOG filter set");
            reply.done(
                format!("RUST_LOG filter now {now:?}"),
                serde_json::json!({ "filter": now }),
            )
        }
        Err(e) => reply.error(e),
    }
}

async fn set_maintenance<C: AdminClient>(
    State(gateway): State<Gateway<C>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (reply, body) = match post_body(&headers, body) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let result = async {
        let enabled = match reply {
            Reply::Json => json_body::<MaintenanceBody>(&body)?.enabled,
            Reply::Form { .. } => match form_field(&body, "enabled")?.as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(GatewayError::BadRequest(format!(
                        "enabled={other:?}: expected true or false"
                    )))
                }
            },
        };
        Ok(gateway
            .call(gateway.client.set_maintenance(enabled))
            .await?)
    }
    .await;
    match result {
        Ok(mode) => {
            tracing::info!(%mode, "maintenance mode set");
            reply.done(
                format!("mode now {mode:?}"),
                serde_json::json!({ "mode": mode }),
            )
        }
        Err(e) => reply.error(e),
    }
}
