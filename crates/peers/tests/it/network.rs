//! network.toml: the good case and one test per refusal, each naming its line.

use mcnode_crypto::Ed25519Signer;
use mcnode_peers::{NetworkConfig, NetworkError, ResponderId, UriError};

fn key(n: u8) -> String {
    Ed25519Signer::from_seed(&[n; 32])
        .public()
        .to_base64url_der()
}

fn me() -> ResponderId {
    "node1.test:8443".parse().unwrap()
}

fn good() -> String {
    format!(
        r#"broadcast_peers = [
  "mcp://node2.test:8443/?consensus-msg-key={k2}",
  "mcp://node3.test:8443/?consensus-msg-key={k3}",
]
known_peers = [
  "insecure-mcp://node4.test:8443/?consensus-msg-key={k4}",
]
tx_source_urls = ["https://archive.test/node2/", "file:///var/archive/node3"]

[quorum_set]
threshold = 2
members = [
  "node2.test:8443",
  {{ threshold = 1, members = ["node3.test:8443", "node4.test:8443"] }},
]
"#,
        k2 = key(2),
        k3 = key(3),
        k4 = key(4)
    )
}

#[test]
fn a_good_file_parses() {
    let c = NetworkConfig::parse(&good(), &me()).unwrap();
    assert_eq!(c.peers.len(), 3);
    assert_eq!(c.broadcast_peers().count(), 2);
    assert_eq!(c.quorum_set.threshold, 2);
    assert_eq!(c.quorum_set.nodes().len(), 3);
    assert_eq!(c.tx_source_urls.len(), 2);
    let p3 = &c.peers[&"node3.test:8443".parse().unwrap()];
    assert_eq!(p3.msg_key, Ed25519Signer::from_seed(&[3; 32]).public());
}

fn err(text: &str) -> NetworkError {
    NetworkConfig::parse(text, &me()).unwrap_err()
}

#[test]
fn each_problem_names_its_line() {
    let g = good();
    // A typo'd key in a peer URI (line 2).
    let t = g.replacen("consensus-msg-key", "consensus-msg-kee", 1);
    assert!(matches!(
        err(&t),
        NetworkError::BadPeerUri {
            line: 2,
            list: "broadcast_peers",
            index: 0,
            error: UriError::UnknownParameter(_)
        }
    ));
    // A peer without a key (line 6).
    let t = g.replace(
        &format!(
            "insecure-mcp://node4.test:8443/?consensus-msg-key={}",
            key(4)
        ),
        "insecure-mcp://node4.test:8443/",
    );
    assert!(matches!(
        err(&t),
        NetworkError::BadPeerUri {
            line: 6,
            list: "known_peers",
            index: 0,
            error: UriError::PeerNeedsMsgKey
        }
    ));
    // The same peer twice.
    let t = g.replace("node3.test:8443/?", "node2.test:8443/?");
    assert_eq!(
        err(&t),
        NetworkError::DuplicatePeer {
            line: 3,
            responder_id: "node2.test:8443".into()
        }
    );
    // This node among its own peers.
    let t = g.replace("node3.test:8443/?", "node1.test:8443/?");
    assert_eq!(
        err(&t),
        NetworkError::SelfInPeers {
            line: 3,
            responder_id: "node1.test:8443".into()
        }
    );
    // A quorum member no peer list knows (line 13).
    let t = g.replace("\"node2.test:8443\",\n  {", "\"node9.test:8443\",\n  {");
    assert_eq!(
        err(&t),
        NetworkError::UnresolvableQuorumMember {
            line: 13,
            member: "node9.test:8443".into()
        }
    );
    // Not host:port (in the inner set, line 14).
    let t = g.replace("\"node4.test:8443\"] }", "\"node4\"] }");
    assert_eq!(
        err(&t),
        NetworkError::BadQuorumMember {
            line: 14,
            member: "node4".into()
        }
    );
    // Threshold above members.
    let t = g.replace("threshold = 2", "threshold = 3");
    let e = err(&t);
    assert!(
        matches!(e, NetworkError::BadQuorumSet { line: 10 | 11, .. }),
        "{e:?}"
    );
    let t = g.replace("threshold = 2", "threshold = 0");
    assert!(matches!(err(&t), NetworkError::BadQuorumSet { .. }));
    // No archives but peers.
    let t = g.replace(
        "tx_source_urls = [\"https://archive.test/node2/\", \"file:///var/archive/node3\"]",
        "tx_source_urls = []",
    );
    assert_eq!(err(&t), NetworkError::NoTxSources);
    let t = g.replace("file:///var/archive/node3", "ftp://x/");
    assert!(matches!(
        err(&t),
        NetworkError::BadTxSource {
            line: 8,
            index: 1,
            ..
        }
    ));
    // Unknown top-level key, and not TOML at all.
    assert!(matches!(
        err(&format!("quorum_sett = 1\n{g}")),
        NetworkError::Syntax(_)
    ));
    assert!(matches!(err("[[[["), NetworkError::Syntax(_)));
    assert!(err("[[[[").to_string().starts_with("network.toml"));
}

#[test]
fn deep_nesting_is_refused() {
    let mut inner = "\"node2.test:8443\"".to_string();
    for _ in 0..6 {
        inner = format!("{{ threshold = 1, members = [{inner}] }}");
    }
    let text = format!(
        "broadcast_peers = [\"mcp://node2.test:8443/?consensus-msg-key={}\"]\ntx_source_urls = [\"file:///a\"]\n[quorum_set]\nthreshold = 1\nmembers = [{inner}]\n",
        key(2)
    );
    assert!(matches!(
        err(&text),
        NetworkError::BadQuorumSet {
            error: mcnode_scp::QuorumSetError::TooDeep { .. },
            ..
        }
    ));
}
