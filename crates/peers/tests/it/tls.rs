//! Real TLS between a server and a client on loopback, configured from node URIs.

use mcnode_peers::{tls, NodeUri, Service};
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new(host: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let c = rcgen::generate_simple_self_signed(vec![host.to_string()]).unwrap();
        std::fs::write(dir.path().join("crt.pem"), c.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), c.signing_key.serialize_pem()).unwrap();
        Self { dir }
    }
    fn path(&self, f: &str) -> String {
        self.dir.path().join(f).display().to_string()
    }
}

async fn serve(certs: &Certs) -> std::net::SocketAddr {
    let listen = NodeUri::parse(
        &format!(
            "mcp://127.0.0.1:0/?tls-chain={}&tls-key={}",
            certs.path("crt.pem"),
            certs.path("key.pem")
        ),
        Service::Peer,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let server = tonic::transport::Server::builder()
        .tls_config(tls::server_tls(&listen).unwrap().unwrap())
        .unwrap()
        .add_service(health)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(async move {
        let _reporter = _reporter;
        server.await
    });
    addr
}

async fn check(addr: std::net::SocketAddr, uri: &str) -> Result<(), String> {
    let uri = NodeUri::parse(uri, Service::Peer).map_err(|e| e.to_string())?;
    let mut endpoint = tonic::transport::Endpoint::from_shared(format!("https://{addr}")).unwrap();
    if let Some(tls) = tls::client_tls(&uri).map_err(|e| e.to_string())? {
        endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
    }
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn tls_from_uris_connects_only_with_the_right_ca_and_name() {
    tls::install_crypto_provider();
    let certs = Certs::new("node1.test");
    let addr = serve(&certs).await;
    let ca = certs.path("crt.pem");
    // The right CA and the certificate's name.
    check(
        addr,
        &format!("mcp://127.0.0.1/?ca-bundle={ca}&tls-hostname=node1.test"),
    )
    .await
    .unwrap();
    // The right CA, the wrong name.
    assert!(check(
        addr,
        &format!("mcp://127.0.0.1/?ca-bundle={ca}&tls-hostname=node2.test")
    )
    .await
    .is_err());
    // Another CA.
    let other = Certs::new("node1.test");
    let other_ca = other.path("crt.pem");
    assert!(check(
        addr,
        &format!("mcp://127.0.0.1/?ca-bundle={other_ca}&tls-hostname=node1.test")
    )
    .await
    .is_err());
}

#[test]
fn bad_tls_files_are_named() {
    let certs = Certs::new("node1.test");
    let missing = NodeUri::parse(
        "mcp://0.0.0.0:1/?tls-chain=/nonexistent/c.pem&tls-key=/nonexistent/k.pem",
        Service::Peer,
    )
    .unwrap();
    let e = tls::server_tls(&missing).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/c.pem"), "{e}");
    // Key and chain swapped: the chain file holds no certificate.
    let swapped = NodeUri::parse(
        &format!(
            "mcp://0.0.0.0:1/?tls-chain={}&tls-key={}",
            certs.path("key.pem"),
            certs.path("crt.pem")
        ),
        Service::Peer,
    )
    .unwrap();
    assert!(matches!(
        tls::server_tls(&swapped),
        Err(tls::TlsError::NotPem {
            what: "certificate",
            ..
        })
    ));
    let no_key = NodeUri::parse(
        &format!("mcp://0.0.0.0:1/?tls-chain={}", certs.path("crt.pem")),
        Service::Peer,
    )
    .unwrap();
    assert!(matches!(
        tls::server_tls(&no_key),
        Err(tls::TlsError::Uri(_))
    ));
    let insecure = NodeUri::parse("insecure-mcp://0.0.0.0:1/", Service::Peer).unwrap();
    assert!(tls::server_tls(&insecure).unwrap().is_none());
    assert!(tls::client_tls(&insecure).unwrap().is_none());
}
