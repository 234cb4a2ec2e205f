//! `localnet.json`: parsing, unknown fields, version refusal, lookups, round trip.

use std::path::{Path, PathBuf};

use mcnode_wallet::localnet::{Manifest, ManifestError, MANIFEST_FILE, MANIFEST_VERSION};

const EXAMPLE: &str = r#"{
  "version": 1,
  "nodes": [
    { "name": "node0",
      "peer_responder_id": "127.0.0.1:3201", "client_responder_id": "127.0.0.1:3200",
      "client_uri": "mc://127.0.0.1:3200/?ca-bundle=/abs/DIR/tls/ca.pem&tls-hostname=localhost",
      "peer_uri": "mcp://127.0.0.1:3201/?x=y", "admin_uri": "insecure-mca://127.0.0.1:3202/",
      "dir": "/abs/DIR/node0", "ledger_path": "/abs/DIR/node0/ledger",
      "archive": "file:///abs/DIR/node0/archive",
      "some_future_field": {"nested": [1, 2, 3]} },
    { "name": "node1",
      "peer_responder_id": "127.0.0.1:3211", "client_responder_id": "127.0.0.1:3210",
      "client_uri": "insecure-mc://127.0.0.1:3210/",
      "peer_uri": "insecure-mcp://127.0.0.1:3211/", "admin_uri": "insecure-mca://127.0.0.1:3212/",
      "dir": "/abs/DIR/node1", "ledger_path": "/abs/DIR/node1/ledger",
      "archive": "file:///abs/DIR/node1/archive" }
  ],
  "wallets": ["/abs/DIR/wallets/account_keys_0.json", "wallets/account_keys_1.json"],
  "started_at": "2025-01-01T00:00:00Z"
}"#;

#[test]
fn the_documented_example_parses_and_unknown_fields_are_ignored() {
    let m = Manifest::parse(EXAMPLE, Path::new("localnet.json")).unwrap();
    assert_eq!(m.version, MANIFEST_VERSION);
    assert_eq!(m.nodes.len(), 2);
    let n0 = m.node(0).unwrap();
    assert_eq!(n0.name, "node0");
    assert_eq!(n0.client_responder_id, "127.0.0.1:3200");
    assert_eq!(n0.peer_responder_id, "127.0.0.1:3201");
    assert!(n0.client_uri.starts_with("mc://127.0.0.1:3200/?ca-bundle="));
    assert_eq!(n0.ledger_path, PathBuf::from("/abs/DIR/node0/ledger"));
    assert_eq!(n0.archive, "file:///abs/DIR/node0/archive");
    assert_eq!(n0.ports().unwrap(), [3200, 3201, 3202]);
    assert_eq!(n0.file("tls.crt"), PathBuf::from("/abs/DIR/node0/tls.crt"));
    assert!(matches!(
        m.node(2),
        Err(ManifestError::NoSuchNode { index: 2, count: 2 })
    ));
    // Absolute wallet paths stay; relative ones are under the localnet directory.
    assert_eq!(
        m.wallet_path("/x", 0).unwrap(),
        PathBuf::from("/abs/DIR/wallets/account_keys_0.json")
    );
    assert_eq!(
        m.wallet_path("/x", 1).unwrap(),
        PathBuf::from("/x/wallets/account_keys_1.json")
    );
    assert!(matches!(
        m.wallet_path("/x", 5),
        Err(ManifestError::NoSuchWallet { index: 5, count: 2 })
    ));
}

#[test]
fn another_version_or_a_broken_file_is_refused() {
    let v2 = EXAMPLE.replacen("\"version\": 1", "\"version\": 2", 1);
    match Manifest::parse(&v2, Path::new("m.json")) {
        Err(ManifestError::UnsupportedVersion {
            found, supported, ..
        }) => assert_eq!((found, supported), (2, 1)),
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    // A future version is refused even if its shape changed completely.
    let future = r#"{"version": 7, "nodes": "elsewhere"}"#;
    assert!(matches!(
        Manifest::parse(future, Path::new("m.json")),
        Err(ManifestError::UnsupportedVersion { found: 7, .. })
    ));
    for broken in [
        r#"{"nodes": [], "wallets": []}"#,
        r#"{"version": 1, "nodes": [{"name": "n"}], "wallets": []}"#,
        "not json",
    ] {
        assert!(
            matches!(
                Manifest::parse(broken, Path::new("m.json")),
                Err(ManifestError::Parse { .. })
            ),
            "{broken}"
        );
    }
    let missing = tempfile::tempdir().unwrap();
    let err = Manifest::load(missing.path()).unwrap_err();
    assert!(matches!(err, ManifestError::Io { .. }));
    assert!(err.to_string().contains(MANIFEST_FILE), "{err}");
}

#[test]
fn save_then_load_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::parse(EXAMPLE, Path::new("x")).unwrap();
    m.save(dir.path()).unwrap();
    assert_eq!(Manifest::path(dir.path()), dir.path().join(MANIFEST_FILE));
    assert_eq!(Manifest::load(dir.path()).unwrap(), m);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from(MANIFEST_FILE)]);
}
