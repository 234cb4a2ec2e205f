//! The ledger's chain rules end to end (issue 14): block versions, tokens and the fee
//! map, fee outputs, minting, memos; real `consensus-service` processes started by
//! `mcnode localnet`, driven by the `mcnode` commands and the wallet library.

use std::{process::Command, time::Duration};

use super::{
    localnet::Localnet,
    mcnode,
    node::{wait_for_log, NodeProcess},
    path,
};

/// A node never writes a block of a lower version than its ledger's last block: started
/// with a lower `--block-version` it exits with status 2 (a configuration error) and says
/// which flag to give; `mcnode localnet` refuses to go back too.
#[test]
fn a_node_refuses_a_block_version_below_its_ledgers() {
    let net = Localnet::start_with(1, &["--block-version", "2"]);
    let node = NodeProcess::find(&net, 0);
    let (ok, status, err) = mcnode(&["status", "--dir", path(net.dir.path())]);
    assert!(ok, "{err}");
    assert_eq!(status["nodes"][0]["block_version"], 2, "{status}");
    let (dir, _) = net.stop();

    let log = dir.path().join("lower.log");
    let mut argv = node.argv().to_vec();
    let at = argv.iter().position(|a| a == "--block-version").unwrap();
    argv[at + 1] = "1".into();
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(node.env().iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    std::fs::write(&log, &out.stderr).unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for_log(
        &log,
        &["block version 2", "--block-version 1", "lower"],
        Duration::from_secs(1),
    );

    let (ok, _, err) = mcnode(&[
        "localnet",
        "--dir",
        path(dir.path()),
        "--block-version",
        "1",
        "--generate-only",
    ]);
    assert!(!ok && err.contains("never go back"), "{err}");
}
