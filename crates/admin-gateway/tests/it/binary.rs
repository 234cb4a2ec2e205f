//! The `mc-admin-http-gateway` binary as a process: exit codes, messages, SIGTERM; and
//! `promtool check metrics`.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::{http, node::FakeNode};

const BIN: &str = env!("CARGO_BIN_EXE_mc-admin-http-gateway");

/// The gateway binary with a clean environment for its own variables.
fn gateway() -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "CONSENSUS_ADMIN_URI",
        "MC_ADMIN_GATEWAY_LISTEN",
        "MC_ADMIN_GATEWAY_METRICS_LISTEN",
        "MC_LOG_FORMAT",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

fn run_to_end(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_admin_uri_exits_1_with_one_line() {
    for (uri, why) in [
        ("not a uri", "is not a URI"),
        ("insecure-mcp://127.0.0.1:9091/", "scheme \"insecure-mcp\""),
        (
            "insecure-mca://127.0.0.1:9091/?bogus=1",
            "unknown parameter",
        ),
        (
            "mca://127.0.0.1:9091/?ca-bundle=/nonexistent/ca.pem",
            "cannot read /nonexistent/ca.pem",
        ),
    ] {
        let (code, stderr) = run_to_end(gateway().args(["--admin-uri", uri]));
        assert_eq!(code, 1, "{uri}: {stderr}");
        let want = format!("error: --admin-uri {uri}: ");
        let line = stderr.lines().last().unwrap_or_default();
        assert!(line.starts_with(&want), "{uri}: {stderr}");
        assert!(line.contains(why), "{uri}: {stderr}");
    }
}

#[test]
fn bad_flags_exit_1() {
    let (code, stderr) = run_to_end(&mut gateway());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--admin-uri"), "{stderr}");
    let (code, stderr) = run_to_end(gateway().args([
        "--admin-uri",
        "insecure-mca://127.0.0.1:9091/",
        "--log-format",
        "xml",
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[test]
fn a_taken_port_exits_1_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (code, stderr) = run_to_end(gateway().args([
        "--admin-uri",
        "insecure-mca://127.0.0.1:9091/",
        "--listen",
        &addr.to_string(),
        "--metrics-listen",
        "127.0.0.1:0",
    ]));
    assert_eq!(code, 1, "{stderr}");
    let line = stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with(&format!("error: --listen {addr}: cannot listen")),
        "{stderr}"
    );
}

/// Waits for the JSON log line whose message is `message`; answers its `addr`.
fn logged_addr(lines: &mpsc::Receiver<String>, message: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no {message:?} log line: {e}"));
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if json["fields"]["message"] == message {
            return json["fields"]["addr"].as_str().unwrap().to_string();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_metrics_then_exits_0_on_sigterm() {
    let (_node, uri) = FakeNode::start().await;
    let mut child = gateway()
        .args([
            "--admin-uri",
            &uri,
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let panel = logged_addr(&lines, "serving the admin panel");
    let metrics = logged_addr(&lines, "serving metrics on /metrics");

    for addr in [&panel, &metrics] {
        let resp = http()
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), reqwest::StatusCode::OK, "{addr}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("mcnode_ledger_height 7"), "{text}");
        assert!(text.contains("mc_admin_gateway_admin_up 1"), "{text}");
    }

    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// Runs `promtool check metrics` on `text` and asserts it finds no problem.
pub fn promtool_check_metrics(text: &str) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "promtool not found: install it with `apt-get install prometheus` \
             (scripts/setup.sh does)"
        ),
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {:?}\n{report}\n--- metrics ---\n{text}",
        out.status
    );
}
