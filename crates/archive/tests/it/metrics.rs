//! `ledger-distribution --metrics-listen`: Prometheus text on `GET /metrics` with the
//! archive's height, uploads and bytes; a taken port is an error at start.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::make_ledger;

fn get_metrics(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn metrics_are_served_and_a_taken_port_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger_dir = tmp.path().join("ledger");
    make_ledger(&ledger_dir, 25, 7);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dest = format!("file://{}", tmp.path().join("archive").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledger-distribution"))
        .args(["--ledger-path", ledger_dir.to_str().unwrap()])
        .args(["--dest", &dest])
        .args(["--state-file", tmp.path().join("state").to_str().unwrap()])
        .args(["--start-from", "zero", "--merge-buckets", "10"])
        .args(["--metrics-listen", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        if let Some(text) = get_metrics(&addr) {
            if text.contains("archive_height 25") {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "no archive_height 25 on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // 25 blocks and 2 bundles of 10.
    assert!(text.contains("archive_uploaded_objects_total 27"), "{text}");
    assert!(
        text.contains("archive_upload_latency_seconds_count 27"),
        "{text}"
    );
    assert!(text.contains("archive_uploaded_bytes_total"), "{text}");
    // The ledger's height beside the archive's, and the difference.
    assert!(text.contains("archive_ledger_height 25"), "{text}");
    assert!(text.contains("archive_lag_blocks 0"), "{text}");

    // A second one on the same port stops at once, naming the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_ledger-distribution"))
        .args(["--ledger-path", ledger_dir.to_str().unwrap()])
        .args(["--dest", &dest])
        .args(["--state-file", tmp.path().join("state2").to_str().unwrap()])
        .args(["--metrics-listen", &addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--metrics-listen"), "{err}");

    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(child.wait().unwrap().success());
}
