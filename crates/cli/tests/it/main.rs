//! The `mcnode` and `mc-ledger-migration` binaries, run as an operator would.
#![allow(clippy::unwrap_used, missing_docs)]

mod admin;
pub mod archive;
mod chain;
mod durability;
mod localnet;
mod node;
mod quorum;

use std::{path::Path, process::Command};

use mcnode_crypto::Ed25519Signer;
use mcnode_transaction::{AccountKey, AccountKeyFile, PublicAddress};
use serde_json::Value;

fn mcnode(args: &[&str]) -> (bool, Value, String) {
    run(env!("CARGO_BIN_EXE_mcnode"), args)
}

fn run(bin: &str, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(bin)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn keygen_msg_signer_prints_usable_keys() {
    let (ok, j, _) = mcnode(&["keygen", "msg-signer"]);
    assert!(ok);
    let key = Ed25519Signer::from_base64_pkcs8(j["msg_signer_key"].as_str().unwrap()).unwrap();
    assert_eq!(j["public_key_hex"], key.public().to_hex());
    assert_eq!(
        j["public_key_der_base64url"],
        key.public().to_base64url_der()
    );
}

#[test]
fn keygen_account_writes_a_key_file_and_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alice.json");
    let (ok, _, err) = mcnode(&["keygen", "account", "--out", path(&out)]);
    assert!(ok, "{err}");
    let file: AccountKeyFile =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let account = AccountKey::from_key_file(&file).unwrap();
    let address: PublicAddress = std::fs::read_to_string(dir.path().join("alice.json.pub"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(address, account.default_address());
    // Never overwrites a key.
    let (ok, _, err) = mcnode(&["keygen", "account", "--out", path(&out)]);
    assert!(!ok && err.starts_with("error: "), "{err}");
}

#[test]
fn origin_ledger_info_verify_snapshot_and_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("origin");
    let (ok, j, err) = mcnode(&[
        "origin-block",
        "--accounts",
        "3",
        "--amount",
        "1000",
        "--out",
        path(&out),
    ]);
    assert!(ok, "{err}");
    assert_eq!(j["outputs"], 3);
    let ledger = out.join("ledger");
    // The sample accounts own the outputs.
    let file: AccountKeyFile = serde_json::from_str(
        &std::fs::read_to_string(out.join("keys/account_keys_1.json")).unwrap(),
    )
    .unwrap();
    assert!(AccountKey::from_key_file(&file).is_ok());

    let (ok, info, _) = mcnode(&["ledger", "info", "--ledger-path", path(&ledger)]);
    assert!(ok);
    assert_eq!(info["height"], 1);
    assert_eq!(info["num_txos"], 3);
    assert_eq!(info["last_block_id"], j["origin_block_id"]);

    let (ok, v, _) = mcnode(&["ledger", "verify", "--ledger-path", path(&ledger)]);
    assert!(ok && v["ok"] == true);

    let snap = dir.path().join("snap");
    let (ok, _, err) = mcnode(&[
        "ledger",
        "snapshot",
        "--ledger-path",
        path(&ledger),
        "--out",
        path(&snap),
    ]);
    assert!(ok, "{err}");
    let (ok, v, _) = mcnode(&["ledger", "verify", "--ledger-path", path(&snap)]);
    assert!(ok && v["ok"] == true);

    let (ok, _, err) = mcnode(&[
        "ledger",
        "rollback",
        "--ledger-path",
        path(&ledger),
        "--to",
        "0",
    ]);
    assert!(!ok);
    assert!(err.contains("origin stays"), "{err}");
}

#[test]
fn bad_paths_and_old_schemas_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = mcnode(&[
        "ledger",
        "info",
        "--ledger-path",
        path(&dir.path().join("none")),
    ]);
    assert!(!ok);
    assert!(err.contains("mcnode origin-block"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");

    let out = dir.path().join("v1");
    let (ok, _, err) = mcnode(&[
        "origin-block",
        "--accounts",
        "1",
        "--amount",
        "5",
        "--out",
        path(&out),
        "--schema",
        "1",
    ]);
    assert!(ok, "{err}");
    let ledger = out.join("ledger");
    let (ok, _, err) = mcnode(&["ledger", "info", "--ledger-path", path(&ledger)]);
    assert!(!ok);
    assert!(err.contains("mc-ledger-migration"), "{err}");

    let migrate = env!("CARGO_BIN_EXE_mc-ledger-migration");
    let (ok, _, err) = run(migrate, &["--ledger-db", path(&ledger)]);
    assert!(ok, "{err}");
    let (ok, info, _) = mcnode(&["ledger", "info", "--ledger-path", path(&ledger)]);
    assert!(ok);
    assert_eq!(info["schema_version"], 2);
    // And back (the reverse-DB migration).
    let (ok, _, err) = run(migrate, &["--ledger-db", path(&ledger), "--to", "1"]);
    assert!(ok, "{err}");
    let (ok, _, _) = mcnode(&["ledger", "info", "--ledger-path", path(&ledger)]);
    assert!(!ok);
}

#[test]
fn tls_cert_writes_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = mcnode(&[
        "tls-cert",
        "--host",
        "node1.test",
        "--out",
        path(dir.path()),
    ]);
    assert!(ok, "{err}");
    let cert = std::fs::read_to_string(dir.path().join("node1.test.crt.pem")).unwrap();
    let key = std::fs::read_to_string(dir.path().join("node1.test.key.pem")).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(key.contains("PRIVATE KEY-----"));
}

/// `mcnode sim --node` runs whole-node simulations and prints one report per topology;
/// an unknown scenario is an error naming it.
#[test]
fn sim_node_prints_a_report_per_topology() {
    let (ok, reports, err) = mcnode(&["sim", "--node", "--seeds", "6", "--topology", "core3"]);
    assert!(ok, "{err}");
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["runs"], 6);
    assert_eq!(reports[0]["topology"], "core3");
    assert_eq!(reports[0]["safety_failures"], 0);
    let (ok, _, err) = mcnode(&["sim", "--node", "--scenario", "nope"]);
    assert!(!ok);
    assert!(err.contains("nope"), "{err}");
}
