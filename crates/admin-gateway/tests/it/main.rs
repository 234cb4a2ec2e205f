//! mc-admin-http-gateway against a real tonic `AdminApi` server ([`node::FakeNode`]) over
//! real sockets: the routes through an HTTP client, and the binary as a process.

#![allow(clippy::unwrap_used)]

mod binary;
mod node;
mod routes;

use std::net::SocketAddr;

use mcnode_admin_gateway::{Gateway, GrpcAdminClient};
use mcnode_peers::{NodeUri, Service};

/// A gateway serving on two ports of 127.0.0.1 until the test ends.
pub struct GatewayUnderTest {
    /// `http://127.0.0.1:PORT` of the panel.
    pub panel: String,
    /// `http://127.0.0.1:PORT` of the metrics port.
    pub metrics: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts the gateway in this runtime, talking to `admin_uri`.
pub async fn start_gateway(admin_uri: &str) -> GatewayUnderTest {
    mcnode_peers::tls::install_crypto_provider();
    let uri = NodeUri::parse(admin_uri, Service::Admin).unwrap();
    let gateway = Gateway::new(GrpcAdminClient::connect_lazy(&uri).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let panel = format!("http://{}", listener.local_addr().unwrap());
    let metrics = format!("http://{}", metrics_listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(mcnode_admin_gateway::serve(
        gateway,
        listener,
        Some(metrics_listener),
        async move {
            let _ = stopped.await;
        },
    ));
    GatewayUnderTest {
        panel,
        metrics,
        _stop: stop,
    }
}

/// An HTTP client that shows redirects instead of following them.
pub fn http() -> reqwest::Client {
    mcnode_peers::tls::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// An address nothing listens on (bound, then released).
pub fn closed_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
