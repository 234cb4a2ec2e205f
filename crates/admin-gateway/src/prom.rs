//! The gateway's own metrics ([`GatewayMetrics`]), in the classic Prometheus text that
//! `mcnode-metrics` writes for every mcnode process.

use std::sync::Arc;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

pub use mcnode_metrics::{openmetrics_to_classic, CONTENT_TYPE as PROMETHEUS_TEXT_CONTENT_TYPE};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: String,
}

/// The gateway's own metrics, prefixed `mc_admin_gateway_`. Cloning shares the values.
#[derive(Clone, Debug)]
pub struct GatewayMetrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    admin_up: Gauge,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let admin_up = Gauge::default();
        let mut registry = Registry::with_prefix("mc_admin_gateway");
        registry.register(
            "requests",
            "HTTP requests answered by the admin gateway, by route and status",
            requests.clone(),
        );
        registry.register(
            "admin_up",
            "Whether the last call to consensus-service's admin API reached it (1) or not (0)",
            admin_up.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            admin_up,
        }
    }
}

impl GatewayMetrics {
    /// Counts one answered request: `mc_admin_gateway_requests_total{route, status}`.
    pub fn record_request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
    }

    /// Sets `mc_admin_gateway_admin_up`.
    pub fn set_admin_up(&self, up: bool) {
        self.admin_up.set(i64::from(up));
    }

    /// The metrics in classic Prometheus text.
    pub fn encode(&self) -> String {
        // Writing to a String cannot fail.
        mcnode_metrics::encode(&self.registry).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_metrics_encode_classic() {
        let m = GatewayMetrics::default();
        m.record_request("/", 200);
        m.record_request("/", 200);
        m.set_admin_up(true);
        let text = m.encode();
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            text.contains("# TYPE mc_admin_gateway_requests_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("mc_admin_gateway_requests_total{route=\"/\",status=\"200\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("mc_admin_gateway_admin_up 1\n"), "{text}");
    }
}
