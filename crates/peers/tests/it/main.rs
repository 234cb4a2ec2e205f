//! Integration tests of mcnode-peers.
#![allow(clippy::unwrap_used, missing_docs)]

mod envelope;
mod network;
mod tls;

use mcnode_crypto::Ed25519Signer;
use mcnode_peers::{NodeUri, ResponderId, Service, UriError};

fn key() -> String {
    Ed25519Signer::from_seed(&[1; 32])
        .public()
        .to_base64url_der()
}

#[test]
fn the_spec_examples_parse() {
    let listen = NodeUri::parse(
        "mcp://0.0.0.0:8443/?tls-chain=/certs/your-tls.crt&tls-key=/certs/your-tls.key",
        Service::Peer,
    )
    .unwrap();
    assert!(listen.tls);
    assert_eq!(listen.address(), "0.0.0.0:8443");
    assert_eq!(
        listen.tls_chain.as_deref(),
        Some(std::path::Path::new("/certs/your-tls.crt"))
    );
    assert_eq!(listen.check_listen(), Ok(()));

    let admin = NodeUri::parse("insecure-mca://127.0.0.1:9091/", Service::Admin).unwrap();
    assert!(!admin.tls);
    assert_eq!(admin.address(), "127.0.0.1:9091");
    assert_eq!(admin.check_listen(), Ok(()));
}

#[test]
fn peer_uris_carry_key_and_responder_id() {
    let text = format!("mcp://peer1.example.com:443/?consensus-msg-key={}&responder-id=peer1.example.com:8443&ca-bundle=/ca.pem&tls-hostname=peer1.internal", key());
    let u = NodeUri::parse(&text, Service::Peer).unwrap();
    assert_eq!(u.check_peer(), Ok(()));
    assert_eq!(u.responder_id().as_str(), "peer1.example.com:8443");
    assert_eq!(u.tls_name(), "peer1.internal");
    assert_eq!(
        u.consensus_msg_key,
        Some(Ed25519Signer::from_seed(&[1; 32]).public())
    );
    // Display round-trips.
    assert_eq!(NodeUri::parse(&u.to_string(), Service::Peer).unwrap(), u);
    // Hex keys work too; default port and responder id.
    let hex_key = Ed25519Signer::from_seed(&[1; 32]).public().to_hex();
    let u = NodeUri::parse(
        &format!("insecure-mcp://node2?consensus-msg-key={hex_key}"),
        Service::Peer,
    )
    .unwrap();
    assert_eq!(u.responder_id().as_str(), "node2:8443");
}

#[test]
fn each_mistake_has_its_error() {
    let p = |s: &str| NodeUri::parse(s, Service::Peer).unwrap_err();
    assert!(matches!(p("not a uri"), UriError::Parse { .. }));
    assert_eq!(
        p("mc://a:1/"),
        UriError::WrongScheme {
            got: "mc".into(),
            expected: "mcp"
        }
    );
    assert_eq!(
        p("https://a:1/"),
        UriError::WrongScheme {
            got: "https".into(),
            expected: "mcp"
        }
    );
    assert_eq!(p("mcp://a:1/x"), UriError::Unexpected("path"));
    assert_eq!(p("mcp://u@a:1/"), UriError::Unexpected("user name"));
    assert_eq!(p("mcp://a:1/#f"), UriError::Unexpected("fragment"));
    assert_eq!(
        p("mcp://a:1/?tls-chian=x"),
        UriError::UnknownParameter("tls-chian".into())
    );
    assert_eq!(
        p("mcp://a:1/?tls-key=x&tls-key=y"),
        UriError::DuplicateParameter("tls-key".into())
    );
    assert_eq!(
        p("mcp://a:1/?tls-key="),
        UriError::EmptyParameter("tls-key".into())
    );
    assert!(matches!(
        p("mcp://a:1/?consensus-msg-key=zz"),
        UriError::BadConsensusMsgKey(_)
    ));
    assert_eq!(
        p("mcp://a:1/?responder-id=nohost"),
        UriError::BadResponderId("nohost".into())
    );
    assert_eq!(
        p("insecure-mcp://a:1/?tls-chain=/c"),
        UriError::TlsParameterOnInsecure("tls-chain")
    );
    assert_eq!(
        NodeUri::parse("mcp://a:1/", Service::Peer)
            .unwrap()
            .check_listen(),
        Err(UriError::ListenNeedsCertificate)
    );
    assert_eq!(
        NodeUri::parse("mcp://a:1/?tls-chain=/c", Service::Peer)
            .unwrap()
            .check_listen(),
        Err(UriError::ListenNeedsCertificate)
    );
    assert_eq!(
        NodeUri::parse("mcp://a:1/", Service::Peer)
            .unwrap()
            .check_peer(),
        Err(UriError::PeerNeedsMsgKey)
    );
}

#[test]
fn responder_ids() {
    assert!("node1.test:8443".parse::<ResponderId>().is_ok());
    assert!("10.0.0.1:1".parse::<ResponderId>().is_ok());
    for bad in ["", "a", "a:", ":1", "a:0", "a:99999", "a b:1", "a/b:1"] {
        assert!(bad.parse::<ResponderId>().is_err(), "{bad}");
    }
}
