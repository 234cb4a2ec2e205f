//! network.toml: the good case and one test per refusal, each naming its line.

use mcnode_crypto::Ed25519Signer;
use mcnode_peers::{NetworkConfig, NetworkError, NetworkFormat, ResponderId, UriError};

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
    assert!(err("[[[[").to_string().starts_with("not valid TOML"));
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

// The three spellings of one network: ours, theirs in TOML, theirs in JSON.
const OURS: &str = include_str!("fixtures/network/ours.toml");
const THEIRS_TOML: &str = include_str!("fixtures/network/theirs.toml");
const THEIRS_JSON: &str = include_str!("fixtures/network/theirs.json");
const EXPECTED: &str = include_str!("fixtures/network/expected.txt");

fn forms() -> [(&'static str, NetworkFormat, &'static str); 3] {
    [
        ("ours.toml", NetworkFormat::Toml, OURS),
        ("theirs.toml", NetworkFormat::Toml, THEIRS_TOML),
        ("theirs.json", NetworkFormat::Json, THEIRS_JSON),
    ]
}

/// The configuration as text: everything the node uses from it.
fn render(c: &NetworkConfig) -> String {
    let mut out = format!(
        "quorum_set {}\n",
        serde_json::to_string(&c.quorum_set).unwrap()
    );
    for p in c.peers.values() {
        out.push_str(&format!(
            "peer {} broadcast={} key={} uri={}\n",
            p.responder_id,
            p.broadcast,
            p.msg_key.to_base64url_der(),
            p.uri
        ));
    }
    for u in &c.tx_source_urls {
        out.push_str(&format!("tx_source {u}\n"));
    }
    out
}

#[test]
fn golden_each_form_loads_into_the_same_configuration() {
    for (name, format, text) in forms() {
        let c =
            NetworkConfig::parse_as(text, format, &me()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            render(&c),
            EXPECTED,
            "{name} (fixtures/network/expected.txt)"
        );
    }
    // The format follows the file name.
    assert_eq!(
        NetworkFormat::from_path("a/network.JSON".as_ref()),
        NetworkFormat::Json
    );
    assert_eq!(
        NetworkFormat::from_path("a/network.toml".as_ref()),
        NetworkFormat::Toml
    );
    assert_eq!(
        NetworkFormat::from_path("a/network".as_ref()),
        NetworkFormat::Toml
    );
    // parse is TOML, parse_json JSON.
    assert_eq!(
        NetworkConfig::parse(THEIRS_TOML, &me()).unwrap(),
        NetworkConfig::parse_json(THEIRS_JSON, &me()).unwrap()
    );
    // Either member spelling inside the other's file.
    let mixed = OURS.replace(
        "\"node2.test:8443\",\n  {",
        "{ type = \"Node\", args = \"node2.test:8443\" },\n  {",
    );
    assert_eq!(
        render(&NetworkConfig::parse(&mixed, &me()).unwrap()),
        EXPECTED
    );
}

/// The error with its line set to 0, to compare errors across formats.
fn lineless(e: NetworkError) -> NetworkError {
    use NetworkError::*;
    match e {
        BadPeerUri {
            list, index, error, ..
        } => BadPeerUri {
            line: 0,
            list,
            index,
            error,
        },
        DuplicatePeer { responder_id, .. } => DuplicatePeer {
            line: 0,
            responder_id,
        },
        SelfInPeers { responder_id, .. } => SelfInPeers {
            line: 0,
            responder_id,
        },
        BadQuorumMember { member, .. } => BadQuorumMember { line: 0, member },
        BadQuorumMemberForm { reason, .. } => BadQuorumMemberForm { line: 0, reason },
        UnresolvableQuorumMember { member, .. } => UnresolvableQuorumMember { line: 0, member },
        BadQuorumSet { error, .. } => BadQuorumSet { line: 0, error },
        BadTxSource { index, reason, .. } => BadTxSource {
            line: 0,
            index,
            reason,
        },
        other => other,
    }
}

fn line_of_error(e: &NetworkError) -> Option<usize> {
    use NetworkError::*;
    match e {
        BadPeerUri { line, .. }
        | DuplicatePeer { line, .. }
        | SelfInPeers { line, .. }
        | BadQuorumMember { line, .. }
        | BadQuorumMemberForm { line, .. }
        | UnresolvableQuorumMember { line, .. }
        | BadQuorumSet { line, .. }
        | BadTxSource { line, .. } => Some(*line),
        _ => None,
    }
}

/// 1-based line of the first line of `text` containing `marker` (after `from`, a marker
/// that must come first).
fn line_with(text: &str, from: &str, marker: &str) -> usize {
    let start = text.find(from).unwrap_or(0);
    let at = start
        + text[start..]
            .find(marker)
            .unwrap_or_else(|| panic!("{marker:?}"));
    text[..at].matches('\n').count() + 1
}

#[test]
fn the_same_mistake_gives_the_same_error_in_every_form() {
    // (what, replace, with, the line's marker: (after, containing))
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        (&'static str, &'static str),
    );
    let cases: [Case; 8] = [
        (
            "unknown member",
            "\"node2.test:8443\"",
            "\"node9.test:8443\"",
            ("quorum_set", "node9.test"),
        ),
        // A nested member names the line of its top-level member: the inner set.
        (
            "not host:port",
            "\"node4.test:8443\"",
            "\"node4\"",
            ("quorum_set", "@inner"),
        ),
        (
            "self in peers",
            "node3.test:8443",
            "node1.test:8443",
            ("broadcast_peers", "node1.test"),
        ),
        (
            "a peer twice",
            "node3.test:8443",
            "node2.test:8443",
            ("mcp://node2", "mcp://node2"),
        ),
        (
            "bad archive",
            "file:///var/archive/node3",
            "ftp://x/",
            ("tx_source_urls", "ftp://"),
        ),
        (
            "bad uri",
            "consensus-msg-key",
            "consensus-msg-kee",
            ("broadcast_peers", "msg-kee"),
        ),
        (
            "threshold",
            "threshold = 2",
            "threshold = 4",
            ("quorum_set", "threshold"),
        ),
        (
            "threshold 0",
            "threshold = 1",
            "threshold = 0",
            ("quorum_set", "threshold"),
        ),
    ];
    for (what, from, to, (after, marker)) in cases {
        let mut errors = Vec::new();
        for (name, format, text) in forms() {
            let (from, to) = if format == NetworkFormat::Json {
                (
                    from.replace("threshold = ", "\"threshold\": "),
                    to.replace("threshold = ", "\"threshold\": "),
                )
            } else {
                (from.to_string(), to.to_string())
            };
            assert!(text.contains(&from), "{what}: {name} lacks {from:?}");
            // The peer-list mutations change only the first occurrence.
            let broken = if what == "bad uri" || what == "self in peers" || what == "a peer twice" {
                text.replacen(&from, &to, 1)
            } else {
                text.replace(&from, &to)
            };
            let e = NetworkConfig::parse_as(&broken, format, &me())
                .err()
                .unwrap_or_else(|| panic!("{what}: {name} was accepted"));
            let expected_line = if what == "a peer twice" {
                // The second entry with that id.
                let first = line_with(&broken, "broadcast_peers", "mcp://node2");
                let rest: String = broken.lines().skip(first).collect::<Vec<_>>().join("\n");
                first + line_with(&rest, "", "mcp://node2")
            } else if what == "threshold" || what == "threshold 0" {
                line_with(
                    &broken,
                    after,
                    if format == NetworkFormat::Json {
                        "\"threshold\""
                    } else {
                        "threshold"
                    },
                )
            } else if marker == "@inner" {
                let m = if broken.contains("InnerSet") {
                    "InnerSet"
                } else {
                    "{ threshold = 1"
                };
                line_with(&broken, after, m)
            } else {
                line_with(&broken, after, marker)
            };
            if what != "threshold" && what != "threshold 0" {
                assert_eq!(
                    line_of_error(&e),
                    Some(expected_line),
                    "{what}: {name}: {e}"
                );
            } else {
                assert!(line_of_error(&e).is_some(), "{what}: {name}: {e}");
            }
            assert!(e.to_string().starts_with("line "), "{what}: {name}: {e}");
            errors.push((name, lineless(e)));
        }
        for (name, e) in &errors[1..] {
            assert_eq!(e, &errors[0].1, "{what}: {name} vs {}", errors[0].0);
        }
    }
}

#[test]
fn their_member_form_mistakes_are_named() {
    let cases = [
        (
            "type = \"Node\", args = \"node2.test:8443\"",
            "type = \"Nod\", args = \"node2.test:8443\"",
            "neither \"Node\" nor \"InnerSet\"",
        ),
        (
            "type = \"Node\", args = \"node2.test:8443\"",
            "type = \"InnerSet\", args = \"node2.test:8443\"",
            "takes args = { threshold",
        ),
        (
            "type = \"Node\", args = \"node2.test:8443\"",
            "args = \"node2.test:8443\"",
            "needs type",
        ),
        (
            "type = \"Node\", args = \"node2.test:8443\"",
            "type = \"Node\"",
            "needs args",
        ),
        (
            "type = \"Node\", args = \"node2.test:8443\"",
            "type = \"Node\", args = \"node2.test:8443\", threshold = 1, members = []",
            "mixes the two forms",
        ),
    ];
    for (from, to, says) in cases {
        let toml = THEIRS_TOML.replace(from, to);
        let json_from = from
            .replace("type = ", "\"type\": ")
            .replace("args = ", "\"args\": ");
        let json_to = to
            .replace("type = ", "\"type\": ")
            .replace("args = ", "\"args\": ")
            .replace("threshold = ", "\"threshold\": ")
            .replace("members = ", "\"members\": ");
        let json = THEIRS_JSON.replace(&json_from, &json_to);
        let e1 = NetworkConfig::parse(&toml, &me()).unwrap_err();
        let e2 = NetworkConfig::parse_json(&json, &me()).unwrap_err();
        assert!(
            matches!(&e1, NetworkError::BadQuorumMemberForm { line, reason } if reason.contains(says) && *line == line_with(THEIRS_TOML, "quorum_set = {", "node2.test:8443")),
            "{to}: {e1}"
        );
        assert!(
            matches!(&e2, NetworkError::BadQuorumMemberForm { line, reason } if reason.contains(says) && *line == line_with(THEIRS_JSON, "\"quorum_set\"", "node2.test:8443")),
            "{to}: {e2}"
        );
        assert_eq!(lineless(e1), lineless(e2));
    }
    // Not JSON, or the wrong shape: a syntax error that says which format and where.
    let e = NetworkConfig::parse_json("{", &me()).unwrap_err();
    assert!(
        matches!(&e, NetworkError::Syntax(m) if m.starts_with("not valid JSON")),
        "{e}"
    );
    let e = NetworkConfig::parse_json(
        &THEIRS_JSON.replace("\"threshold\": 2", "\"threshold\": \"2\""),
        &me(),
    )
    .unwrap_err();
    let line = line_with(THEIRS_JSON, "", "\"quorum_set\"");
    assert!(
        matches!(&e, NetworkError::Syntax(m) if m.contains(&format!("line {line}:"))),
        "{e}"
    );
    let e = NetworkConfig::parse_json(
        &THEIRS_JSON.replace("\"known_peers\"", "\"known_peer\""),
        &me(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, NetworkError::Syntax(m) if m.contains("known_peer")),
        "{e}"
    );
    let e =
        NetworkConfig::parse(&THEIRS_TOML.replace("known_peers", "known_peer"), &me()).unwrap_err();
    assert!(
        matches!(&e, NetworkError::Syntax(m) if m.starts_with("not valid TOML")),
        "{e}"
    );
    // No archives while there are peers, in JSON too.
    let e = NetworkConfig::parse_json(
        &THEIRS_JSON.replace(
            "\"https://archive.test/node2.test/\",\n        \"file:///var/archive/node3\"",
            "",
        ),
        &me(),
    )
    .unwrap_err();
    assert_eq!(e, NetworkError::NoTxSources);
}
