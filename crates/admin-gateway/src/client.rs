//! The gateway's view of consensus-service's admin API: the [`AdminClient`] trait the
//! routes call, its gRPC implementation [`GrpcAdminClient`], and [`AdminError`].

use std::future::Future;

use axum::http::StatusCode;
use mcnode_api::pb::{self, admin_api_client::AdminApiClient};
use mcnode_peers::{client::EndpointError, NodeUri};
use tonic::transport::Channel;

/// Why a call to the admin API failed. [`AdminError::http_status`] maps it to HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// consensus-service could not be reached: not running, wrong address or port, TLS
    /// refused, or it did not answer in time.
    #[error("consensus-service not reachable at {uri}: {reason}")]
    Unreachable {
        /// The admin URI.
        uri: String,
        /// What failed.
        reason: String,
    },
    /// consensus-service answered that it cannot serve the call now (busy, stopping).
    #[error("consensus-service is unavailable: {0}")]
    Unavailable(String),
    /// consensus-service refused the request as invalid (e.g. a filter that does not parse).
    #[error("consensus-service refused the request: {0}")]
    InvalidArgument(String),
    /// consensus-service cannot do it in its current state.
    #[error("consensus-service cannot do that now: {0}")]
    FailedPrecondition(String),
    /// consensus-service does not implement the call (it is older than this gateway).
    #[error("consensus-service does not implement {method}: {message}")]
    Unimplemented {
        /// The gRPC method.
        method: &'static str,
        /// What it said.
        message: String,
    },
    /// Any other gRPC failure.
    #[error("consensus-service failed {method}: {code:?}: {message}")]
    Rpc {
        /// The gRPC method.
        method: &'static str,
        /// The gRPC status code.
        code: tonic::Code,
        /// What it said.
        message: String,
    },
    /// consensus-service answered a document this gateway cannot read.
    #[error("consensus-service answered a malformed {what}: {reason}")]
    Malformed {
        /// Which document.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
}

impl AdminError {
    /// The error for a failed gRPC call to `method` on `uri`.
    pub fn from_status(uri: &str, method: &'static str, status: &tonic::Status) -> Self {
        // A status with a source was made on this side: the connection, TLS or the
        // deadline failed, the node never answered.
        if std::error::Error::source(status).is_some() {
            return Self::Unreachable {
                uri: uri.to_string(),
                reason: error_chain(status),
            };
        }
        let message = status.message().to_string();
        match status.code() {
            tonic::Code::Unavailable => Self::Unavailable(message),
            tonic::Code::InvalidArgument => Self::InvalidArgument(message),
            tonic::Code::FailedPrecondition => Self::FailedPrecondition(message),
            tonic::Code::Unimplemented => Self::Unimplemented { method, message },
            code => Self::Rpc {
                method,
                code,
                message,
            },
        }
    }

    /// True when consensus-service could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// The HTTP status that reports this error: 400 for a refused argument, 409 for a
    /// refused state, 501 for a missing call, 503 when the node says it is unavailable,
    /// 502 otherwise.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            Self::FailedPrecondition(_) => StatusCode::CONFLICT,
            Self::Unimplemented { .. } => StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unreachable { .. } | Self::Rpc { .. } | Self::Malformed { .. } => {
                StatusCode::BAD_GATEWAY
            }
        }
    }
}

/// The status message and its sources, each once: "tcp connect error: Connection refused".
fn error_chain(status: &tonic::Status) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !status.message().is_empty() {
        parts.push(status.message().to_string());
    }
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    if parts.is_empty() {
        parts.push(format!("{:?}", status.code()));
    }
    parts.join(": ")
}

/// The calls the gateway makes. Implemented over gRPC by [`GrpcAdminClient`]; tests may
/// implement it directly.
pub trait AdminClient: Clone + Send + Sync + 'static {
    /// Where consensus-service is expected, for messages (e.g. `insecure-mca://host:9091/`).
    fn target(&self) -> String;
    /// `GetInfo`: the `NodeInfo` JSON document as the node wrote it.
    fn get_info(&self) -> impl Future<Output = Result<String, AdminError>> + Send;
    /// `GetPrometheusMetrics`: the node's metrics text.
    fn get_prometheus_metrics(&self) -> impl Future<Output = Result<String, AdminError>> + Send;
    /// `SetRustLog`: sets the tracing filter; answers the filter now in force.
    fn set_rust_log(
        &self,
        filter: String,
    ) -> impl Future<Output = Result<String, AdminError>> + Send;
    /// `SetMaintenance`: turns maintenance mode on or off; answers the mode afterwards.
    fn set_maintenance(
        &self,
        enabled: bool,
    ) -> impl Future<Output = Result<String, AdminError>> + Send;
    /// `GetScpState`: the SCP state JSON document as the node wrote it.
    fn get_scp_state(&self) -> impl Future<Output = Result<String, AdminError>> + Send;
    /// `GetHistory`: the node's recent history JSON document as the node wrote it.
    fn get_history(&self) -> impl Future<Output = Result<String, AdminError>> + Send;
}

/// [`AdminClient`] over a lazily connected tonic channel: nothing is dialled until the
/// first call, and a channel that failed reconnects by itself, so the gateway may start
/// before consensus-service does.
#[derive(Clone, Debug)]
pub struct GrpcAdminClient {
    uri: String,
    client: AdminApiClient<Channel>,
}

impl GrpcAdminClient {
    /// A client of the admin API at `uri` (an `mca://` or `insecure-mca://` URI), with
    /// the timeouts of [`mcnode_peers::client::endpoint_channel`]. Fails only when the
    /// URI's TLS files are unusable. Call it within a Tokio runtime, after
    /// [`mcnode_peers::tls::install_crypto_provider`].
    pub fn connect_lazy(uri: &NodeUri) -> Result<Self, EndpointError> {
        let channel = mcnode_peers::client::endpoint_channel(uri)?;
        Ok(Self {
            uri: uri.to_string(),
            client: AdminApiClient::new(channel),
        })
    }

    fn error(&self, method: &'static str) -> impl Fn(tonic::Status) -> AdminError + '_ {
        move |status| AdminError::from_status(&self.uri, method, &status)
    }
}

impl AdminClient for GrpcAdminClient {
    fn target(&self) -> String {
        self.uri.clone()
    }

    async fn get_info(&self) -> Result<String, AdminError> {
        let resp = self
            .client
            .clone()
            .get_info(pb::GetInfoRequest {})
            .await
            .map_err(self.error("GetInfo"))?;
        Ok(resp.into_inner().info_json)
    }

    async fn get_prometheus_metrics(&self) -> Result<String, AdminError> {
        let resp = self
            .client
            .clone()
            .get_prometheus_metrics(pb::GetPrometheusMetricsRequest {})
            .await
            .map_err(self.error("GetPrometheusMetrics"))?;
        Ok(resp.into_inner().text)
    }

    async fn set_rust_log(&self, filter: String) -> Result<String, AdminError> {
        let resp = self
            .client
            .clone()
            .set_rust_log(pb::SetRustLogRequest { filter })
            .await
            .map_err(self.error("SetRustLog"))?;
        Ok(resp.into_inner().filter)
    }

    async fn set_maintenance(&self, enabled: bool) -> Result<String, AdminError> {
        let resp = self
            .client
            .clone()
            .set_maintenance(pb::SetMaintenanceRequest { enabled })
            .await
            .map_err(self.error("SetMaintenance"))?;
        Ok(resp.into_inner().mode)
    }

    async fn get_scp_state(&self) -> Result<String, AdminError> {
        let resp = self
            .client
            .clone()
            .get_scp_state(pb::GetScpStateRequest {})
            .await
            .map_err(self.error("GetScpState"))?;
        Ok(resp.into_inner().state_json)
    }

    async fn get_history(&self) -> Result<String, AdminError> {
        let resp = self
            .client
            .clone()
            .get_history(pb::GetHistoryRequest {})
            .await
            .map_err(self.error("GetHistory"))?;
        Ok(resp.into_inner().history_json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_table() {
        let uri = "insecure-mca://127.0.0.1:9091/";
        let transport = tonic::Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        let cases = [
            (transport, StatusCode::BAD_GATEWAY, true),
            (
                tonic::Status::unavailable("the SCP driver is busy"),
                StatusCode::SERVICE_UNAVAILABLE,
                false,
            ),
            (
                tonic::Status::invalid_argument("bad filter"),
                StatusCode::BAD_REQUEST,
                false,
            ),
            (
                tonic::Status::failed_precondition("cannot"),
                StatusCode::CONFLICT,
                false,
            ),
            (
                tonic::Status::unimplemented("no"),
                StatusCode::NOT_IMPLEMENTED,
                false,
            ),
            (
                tonic::Status::internal("ledger"),
                StatusCode::BAD_GATEWAY,
                false,
            ),
        ];
        for (status, http, unreachable) in cases {
            let e = AdminError::from_status(uri, "GetInfo", &status);
            assert_eq!(e.http_status(), http, "{status:?}");
            assert_eq!(e.is_unreachable(), unreachable, "{status:?}");
        }
    }

    #[test]
    fn unreachable_message_names_the_uri_and_the_cause() {
        let status = tonic::Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        let e = AdminError::from_status("insecure-mca://127.0.0.1:9091/", "GetInfo", &status);
        assert_eq!(
            e.to_string(),
            "consensus-service not reachable at insecure-mca://127.0.0.1:9091/: connection refused"
        );
    }
}
