//! The admin side of a running localnet: `/metrics` on both gateway ports and on
//! `ledger-distribution`, checked by Prometheus' own `promtool`; the spec's metrics moving
//! as the network takes transactions; the quorum health as a node is stopped and goes on
//! again; and the panel driven in headless Chromium through its WebDriver
//! (`chromedriver`), with a screenshot under `test-output/`.
//!
//! `scripts/setup.sh` installs promtool and Chromium (Debian packages `prometheus`,
//! `chromium`, `chromium-driver`); without them these tests fail and say so.

use std::{
    collections::BTreeMap,
    io::Write,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use mcnode_wallet::{SendOptions, WalletError};
use rand::rngs::OsRng;

use super::{
    localnet::Localnet,
    node::{client, runtime, wallet, LogsOnPanic, NodeProcess},
};

/// GET `url`: status and body.
async fn get(url: &str) -> (u16, String) {
    mcnode_peers::tls::install_crypto_provider();
    let resp = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Parses Prometheus text into `name{labels}` -> value (labels as printed).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn value(s: &BTreeMap<String, f64>, series: &str) -> f64 {
    s.get(series).copied().unwrap_or(0.0)
}

/// Runs `promtool check metrics` on `text`; panics with its complaints.
fn promtool_check(text: &str, what: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}): run scripts/setup.sh (apt-get install prometheus)")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics on {what}: {}\n{said}",
        out.status
    );
}

/// The metrics of node `i` from its gateway's panel port.
async fn node_metrics(net: &Localnet, i: usize) -> BTreeMap<String, f64> {
    let url = format!("http://{}/metrics", net.manifest.nodes[i].admin_http);
    let (status, text) = get(&url).await;
    assert_eq!(status, 200, "{url}: {text}");
    samples(&text)
}

/// Waits until `cond` holds for node `i`'s metrics.
async fn wait_metrics(
    net: &Localnet,
    i: usize,
    what: &str,
    cond: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("http://{}/metrics", net.manifest.nodes[i].admin_http);
    loop {
        // 502 while the node is down (restarting): wait on.
        let (status, text) = get(&url).await;
        let m = samples(&text);
        if status == 200 && cond(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what}: {status} {m:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `/metrics` on both gateway ports and on `ledger-distribution` pass promtool, and every
/// metric of the operator guide's list moves when the network takes transactions.
#[test]
fn metrics_pass_promtool_and_move_with_transactions() {
    let net = Localnet::start(4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    let node = net.manifest.nodes[0].clone();
    let client_propose = "consensus_grpc_requests_total{method=\"/mcnode.v1.ConsensusClientApi/ClientTxPropose\",code=\"OK\"}";
    runtime().block_on(async {
        let before = node_metrics(&net, 0).await;
        let mut c0 = client(&net, 0).await;
        let mut w = wallet(&net, 2, &c0).await;
        let me = w.address();
        w.send(&mut c0, &me, 10_000, &SendOptions::default(), &mut OsRng)
            .await
            .unwrap();
        let garbage = c0.propose_payload(b"not a transaction").await;
        assert!(
            matches!(garbage, Err(WalletError::Rejected { code: 300, .. })),
            "{garbage:?}"
        );
        let after = wait_metrics(&net, 0, "a committed payment", |m| {
            value(m, "consensus_tx_completion_seconds_count") >= 1.0
                && value(m, "consensus_ledger_height") >= 2.0
        })
        .await;

        // Transaction rate, completion time, blocks written rate: counters that moved.
        for series in [
            "consensus_txs_accepted_total",
            "consensus_tx_completion_seconds_count",
            "consensus_blocks_written_total",
            "consensus_txs_committed_total",
            "consensus_block_form_seconds_count",
            client_propose,
            "consensus_enclave_handshakes_total{kind=\"client\",result=\"ok\"}",
        ] {
            assert!(
                value(&after, series) > value(&before, series),
                "{series} did not move: {} -> {}",
                value(&before, series),
                value(&after, series)
            );
        }
        assert!(value(&after, "consensus_tx_completion_seconds_sum") > 0.0);
        // Consensus service errors: the garbage payload, by its result code.
        assert_eq!(
            value(&after, "consensus_txs_rejected_total{code=\"300\"}"),
            1.0
        );
        // SCP state and peers.
        let height = value(&after, "consensus_ledger_height");
        assert!(value(&after, "consensus_scp_slot") >= height);
        assert_eq!(
            ["idle", "nominate", "prepare", "confirm", "externalize"]
                .iter()
                .map(|p| value(
                    &after,
                    &format!("consensus_scp_slot_phase{{phase=\"{p}\"}}")
                ))
                .sum::<f64>(),
            1.0,
            "exactly one phase is current"
        );
        for peer in &net.manifest.nodes[1..] {
            let label = format!("{{peer=\"{}\"}}", peer.peer_responder_id);
            assert_eq!(value(&after, &format!("consensus_peer_up{label}")), 1.0);
            let age = value(
                &after,
                &format!("consensus_peer_last_message_age_seconds{label}"),
            );
            assert!((0.0..30.0).contains(&age), "{label}: age {age}");
        }
        assert_eq!(value(&after, "consensus_maintenance_mode"), 0.0);

        // The same text, promtool-clean, on both gateway ports; and ledger-distribution's.
        for url in [
            format!("http://{}/metrics", node.admin_http),
            format!("http://{}/metrics", node.metrics_http),
            format!("http://{}/metrics", node.distribution_metrics),
        ] {
            let (status, text) = get(&url).await;
            assert_eq!(status, 200, "{url}: {text}");
            promtool_check(&text, &url);
        }
        let (_, panel_text) = get(&format!("http://{}/metrics", node.admin_http)).await;
        let (_, plain_text) = get(&format!("http://{}/metrics", node.metrics_http)).await;
        for text in [&panel_text, &plain_text] {
            assert!(text.contains("# TYPE consensus_blocks_written_total counter"));
        }
        let distribution = wait_for_archive_height(&node.distribution_metrics, height).await;
        assert!(distribution >= height, "archive height {distribution}");
        let (_, archive_text) = get(&format!("http://{}/metrics", node.distribution_metrics)).await;
        check_dashboard(&format!("{plain_text}\n{archive_text}"));
        for config in [
            net.dir.path().join("prometheus.yml"),
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../deploy/prometheus-localnet.yml"),
        ] {
            let out = Command::new("promtool")
                .args(["check", "config"])
                .arg(&config)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}: {out:?}", config.display());
        }
        let written = std::fs::read_to_string(net.dir.path().join("prometheus.yml")).unwrap();
        assert!(
            written.contains(&format!("\"{}\"", node.metrics_http)),
            "{written}"
        );

        // Pending values and the cache size: with the peers stopped nothing is included,
        // so a payment stays pending on node 0.
        for i in 1..4 {
            NodeProcess::find(&net, i).signal(rustix::process::Signal::TERM);
        }
        let tip = c0.last_block_info().await.unwrap();
        w.sync(&c0).await.unwrap();
        let stuck = w
            .build_payment_until(&me, 1_000, tip.minimum_fee, tip.height() + 50, &mut OsRng)
            .unwrap();
        c0.propose_tx(&stuck.tx).await.unwrap();
        wait_metrics(&net, 0, "a pending value", |m| {
            value(m, "consensus_pending_values") >= 1.0
                && value(m, "consensus_tx_cache_size") >= 1.0
        })
        .await;
        let down = wait_metrics(&net, 0, "peers seen down", |m| {
            net.manifest.nodes[1..].iter().all(|p| {
                value(
                    m,
                    &format!("consensus_peer_up{{peer=\"{}\"}}", p.peer_responder_id),
                ) == 0.0
            })
        })
        .await;
        assert!(value(&down, "consensus_pending_values") >= 1.0);
    });
}

/// A node started with `MC_MAINTENANCE=true` (the upgrade's "start the new build, then
/// take transactions again") refuses client transactions until the gateway switches
/// maintenance off; and its height gauge is right from the start, before any new block.
#[test]
fn a_node_started_in_maintenance_refuses_txs_until_switched_off() {
    let net = Localnet::start(4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    runtime().block_on(async {
        let mut c0 = client(&net, 0).await;
        let mut w = wallet(&net, 3, &c0).await;
        let me = w.address();
        w.send(&mut c0, &me, 5_000, &SendOptions::default(), &mut OsRng)
            .await
            .unwrap();
        let h = c0.last_block_info().await.unwrap().height();
        wait_metrics(&net, 3, "node 3 at the network's height", |m| {
            value(m, "consensus_ledger_height") == h as f64
        })
        .await;

        // The upgrade: stop node 3, start it again in maintenance.
        let node3 = NodeProcess::find(&net, 3);
        node3.signal(rustix::process::Signal::TERM);
        let _restarted = node3.respawn(
            None,
            &[("MC_MAINTENANCE", "true".to_string())],
            &super::node::log_of(&net, 3),
        );
        let m = wait_metrics(&net, 3, "node 3 back, in maintenance", |m| {
            value(m, "consensus_maintenance_mode") == 1.0
        })
        .await;
        assert_eq!(value(&m, "consensus_ledger_height"), h as f64, "{m:#?}");
        assert_eq!(value(&m, "consensus_blocks_written_total"), 0.0);
        let panel = format!("http://{}/", net.manifest.nodes[3].admin_http);
        let (_, info) = get(&format!("{panel}info")).await;
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        assert_eq!(info["ledger"]["mode"], "maintenance", "{info}");

        let mut c3 = client(&net, 3).await;
        let tip = c3.last_block_info().await.unwrap();
        let payment = w
            .build_payment_until(&me, 1_000, tip.minimum_fee, tip.height() + 50, &mut OsRng)
            .unwrap();
        match c3.propose_tx(&payment.tx).await {
            Err(WalletError::Rpc { code, message, .. }) => {
                assert_eq!(code, tonic::Code::Unavailable, "{message}")
            }
            other => {
                panic!("expected UNAVAILABLE from a node started in maintenance, got {other:?}")
            }
        }

        // The operator takes transactions again.
        mcnode_peers::tls::install_crypto_provider();
        let resp = reqwest::Client::new()
            .post(format!("{panel}maintenance"))
            .header("content-type", "application/json")
            .body(r#"{"enabled": false}"#)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{:?}", resp.text().await);
        c3.propose_tx(&payment.tx).await.unwrap();
        let block = w
            .wait_for_inclusion(
                &c3,
                &payment,
                Duration::from_secs(60),
                Duration::from_millis(50),
            )
            .await
            .unwrap();
        assert_eq!(block, h);
    });
}

/// The Grafana dashboard in `deploy/grafana`: the shape Grafana imports (title, uid,
/// panels with a position and Prometheus queries) and every metric its queries name
/// present in `text` (what a node and its ledger-distribution serve).
fn check_dashboard(text: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/grafana/mcnode-dashboard.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(dash["title"].is_string() && dash["uid"].is_string());
    assert!(dash["schemaVersion"].as_u64().unwrap() >= 30);
    let panels = dash["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    let mut names = std::collections::BTreeSet::new();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for p in panels {
        assert!(p["title"].is_string(), "{p}");
        for k in ["x", "y", "w", "h"] {
            assert!(p["gridPos"][k].is_u64(), "{p}");
        }
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{p}");
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            // Every query parses as PromQL: promtool checks it as a recording rule, with
            // the dashboard's variables as Grafana would expand "All".
            let promql = expr.replace("$node", ".*").replace("$distribution", ".*");
            rules.push_str(&format!(
                "      - record: dashboard:query{}\n        expr: {}\n",
                rules.matches("record:").count(),
                serde_json::Value::String(promql)
            ));
            let mut rest = expr;
            while let Some(at) = ["consensus_", "archive_"]
                .iter()
                .filter_map(|prefix| rest.find(prefix))
                .min()
            {
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                names.insert(tail[..end].to_string());
                rest = &tail[end..];
            }
        }
    }
    assert!(names.len() >= 20, "{names:?}");
    let dir = tempfile::tempdir().unwrap();
    let rules_file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&rules_file, &rules).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules_file)
        .output()
        .expect("promtool: run scripts/setup.sh");
    assert!(
        out.status.success(),
        "a dashboard query is not valid PromQL: {}{}\n{rules}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A family with no series yet (no errors so far, say) still has its TYPE line.
    let families: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for name in names {
        let family = name.strip_suffix("_bucket").unwrap_or(&name);
        assert!(
            families.contains(name.as_str()) || families.contains(family),
            "the dashboard queries {name}, which no process serves"
        );
    }
}

async fn wait_for_archive_height(addr: &str, at_least: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, text) = get(&format!("http://{addr}/metrics")).await;
        let h = value(&samples(&text), "archive_height");
        if h >= at_least || Instant::now() > deadline {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `chromedriver` on a free loopback port; killed on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run chromedriver ({e}): run scripts/setup.sh \
                     (apt-get install chromium chromium-driver)"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where tests leave files for people to look at: `<workspace>/test-output`.
fn test_output_dir() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

/// Clicks `#id`, finding it again if the panel's refresh replaced it meanwhile.
async fn click(browser: &fantoccini::Client, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let result = match browser.find(fantoccini::Locator::Id(id)).await {
            Ok(e) => e.click().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => return,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot click #{id}: {e}"),
        }
    }
}

/// Waits (10 s at most) until the text of `#id` satisfies `ok`, finding the element
/// afresh each time: a form post loads a new page, and the old one's elements go stale.
async fn wait_text(browser: &fantoccini::Client, id: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    loop {
        if let Ok(e) = browser.find(fantoccini::Locator::Id(id)).await {
            if let Ok(text) = e.text().await {
                last = text.trim().to_string();
                if ok(&last) {
                    return last;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "#{id} on the panel reads {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The panel in a real browser: it shows the block height; the log-level form changes
/// the node's filter; the maintenance toggle makes the node refuse a client transaction
/// (gRPC UNAVAILABLE) and, toggled back, take one again.
#[test]
fn the_panel_works_in_headless_chromium() {
    let net = Localnet::start(4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    let driver = ChromeDriver::start();
    let panel = format!("http://{}/", net.manifest.nodes[0].admin_http);
    runtime().block_on(async {
        let mut c0 = client(&net, 0).await;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1600"],
            }),
        );
        let browser = fantoccini::ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap();

        browser.goto(&panel).await.unwrap();
        let height = c0.last_block_info().await.unwrap().height();
        let shown = wait_text(&browser, "block-height", |t| !t.is_empty()).await;
        assert_eq!(shown, height.to_string());
        wait_text(&browser, "mode", |t| t.contains("running")).await;

        // The log level, through the form: the node starts writing debug lines.
        let log = net.manifest.nodes[0].dir.join("consensus-service.log");
        let debug_lines = || {
            std::fs::read_to_string(&log)
                .unwrap()
                .lines()
                .filter(|l| l.contains("DEBUG") && l.contains("SCP slot state"))
                .count()
        };
        assert_eq!(debug_lines(), 0, "no debug lines at the default level");
        let filter = "info,mcnode_consensus=debug";
        let input = browser
            .find(fantoccini::Locator::Id("rust-log-input"))
            .await
            .unwrap();
        input.clear().await.unwrap();
        input.send_keys(filter).await.unwrap();
        click(&browser, "rust-log-submit").await;
        wait_text(&browser, "rust-log", |t| t == filter).await;
        let (_, info) = get(&format!("{panel}info")).await;
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        assert_eq!(info["rust_log"], filter);

        // Maintenance: a client transaction is refused with UNAVAILABLE.
        click(&browser, "maintenance-toggle").await;
        wait_text(&browser, "mode", |t| t.contains("maintenance")).await;
        let mut w = wallet(&net, 4, &c0).await;
        let me = w.address();
        let tip = c0.last_block_info().await.unwrap();
        let payment = w
            .build_payment_until(&me, 1_000, tip.minimum_fee, tip.height() + 50, &mut OsRng)
            .unwrap();
        match c0.propose_tx(&payment.tx).await {
            Err(WalletError::Rpc { code, message, .. }) => {
                assert_eq!(code, tonic::Code::Unavailable, "{message}");
                assert!(message.contains("maintenance"), "{message}");
            }
            other => panic!("expected UNAVAILABLE in maintenance, got {other:?}"),
        }
        let shot = browser.screenshot().await.unwrap();
        let path = test_output_dir().join("admin-panel.png");
        std::fs::write(&path, &shot).unwrap();
        assert!(shot.starts_with(b"\x89PNG"), "a PNG screenshot");

        // Back to running: the same payment goes through.
        click(&browser, "maintenance-toggle").await;
        wait_text(&browser, "mode", |t| t.contains("running")).await;
        c0.propose_tx(&payment.tx).await.unwrap();
        w.wait_for_inclusion(
            &c0,
            &payment,
            Duration::from_secs(60),
            Duration::from_millis(50),
        )
        .await
        .unwrap();

        // The quorum health table and the last hour's charts (inline SVG, drawn from the
        // node's own history): every member agrees, two more failures block node 0, and
        // the block just appended shows in the blocks chart.
        browser.goto(&panel).await.unwrap();
        wait_text(&browser, "v-blocking-distance", |t| t == "2").await;
        let rows = browser
            .find_all(fantoccini::Locator::Css("#quorum-health tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        for row in rows {
            let text = row.text().await.unwrap();
            assert!(text.contains("agree"), "{text}");
        }
        for id in [
            "chart-blocks",
            "chart-latency",
            "chart-pending",
            "chart-peers",
        ] {
            let svg = browser
                .find(fantoccini::Locator::Css(&format!("#{id} svg")))
                .await
                .unwrap_or_else(|e| panic!("#{id}: {e}"));
            let html = svg.html(false).await.unwrap();
            assert!(html.contains("viewBox"), "{id}: {html}");
        }
        let bars = browser
            .find_all(fantoccini::Locator::Css("#chart-blocks rect.bar"))
            .await
            .unwrap();
        assert!(!bars.is_empty(), "no block in the blocks chart");
        wait_text(&browser, "chart-latency", |t| t.contains(" s")).await;
        let shot = browser.screenshot().await.unwrap();
        std::fs::write(test_output_dir().join("admin-panel-health.png"), &shot).unwrap();
        browser.close().await.unwrap();
    });
}

/// The quorum health seen by node 0, from `/info` and `/metrics` of its gateway: the
/// members' states (by responder id) and the v-blocking distance.
async fn quorum_health(net: &Localnet) -> (Vec<(String, String, bool)>, Option<u64>) {
    let url = format!("http://{}/info", net.manifest.nodes[0].admin_http);
    let (status, text) = get(&url).await;
    assert_eq!(status, 200, "{url}: {text}");
    let info: serde_json::Value = serde_json::from_str(&text).unwrap();
    let h = &info["quorum_health"];
    let members = h["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no quorum_health in {text}"))
        .iter()
        .map(|m| {
            (
                m["responder_id"].as_str().unwrap().to_string(),
                // null before node 0 decided a slot.
                m["state"].as_str().unwrap_or("none").to_string(),
                m["up"].as_bool().unwrap(),
            )
        })
        .collect();
    (members, h["v_blocking_distance"].as_u64())
}

/// Sends payments through node 0 (one at a time) until node 0's quorum health is `want`
/// for node 3 and the distance is `distance`, for 90 s at most.
async fn pay_until(
    net: &Localnet,
    w: &mut mcnode_wallet::Wallet,
    c0: &mut mcnode_wallet::NodeClient,
    want: &str,
    distance: u64,
) -> Vec<(String, String, bool)> {
    let node3 = net.manifest.nodes[3].peer_responder_id.clone();
    let me = w.address();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (members, d) = quorum_health(net).await;
        let state3 = members.iter().find(|m| m.0 == node3).map(|m| m.1.clone());
        if state3.as_deref() == Some(want) && d == Some(distance) {
            return members;
        }
        assert!(
            Instant::now() < deadline,
            "node 3 is not {want} with distance {distance}: {members:?}, distance {d:?}"
        );
        let _ = w
            .send(c0, &me, 1_000, &SendOptions::default(), &mut OsRng)
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Sends SIGCONT on drop, so a failed test leaves no stopped process behind.
struct Continue<'a>(&'a NodeProcess);

impl Drop for Continue<'_> {
    fn drop(&mut self) {
        self.0.send(rustix::process::Signal::CONT);
    }
}

/// Node 3 stopped (SIGSTOP): node 0 sees it missing and the v-blocking distance drop
/// from 2 to 1 (3 of 4, node 0 included: two of the three others block it), in `/info`
/// and `/metrics`; continued (SIGCONT), it catches up and agrees again.
#[test]
fn quorum_health_sees_a_stopped_node_go_missing_and_come_back() {
    let net = Localnet::start(4);
    let _logs = LogsOnPanic(net.dir.path().to_path_buf());
    let node3_id = net.manifest.nodes[3].peer_responder_id.clone();
    let metrics_url = format!("http://{}/metrics", net.manifest.nodes[0].admin_http);
    runtime().block_on(async {
        let mut c0 = client(&net, 0).await;
        let mut w = wallet(&net, 0, &c0).await;
        let members = pay_until(&net, &mut w, &mut c0, "agree", 2).await;
        assert_eq!(members.len(), 3, "{members:?}");
        assert!(members.iter().all(|m| m.1 == "agree" && m.2), "{members:?}");

        let node3 = NodeProcess::find(&net, 3);
        node3.send(rustix::process::Signal::STOP);
        let resume = Continue(&node3);
        let members = pay_until(&net, &mut w, &mut c0, "missing", 1).await;
        for m in &members {
            let want = if m.0 == node3_id {
                ("missing", false)
            } else {
                ("agree", true)
            };
            assert_eq!((m.1.as_str(), m.2), want, "{members:?}");
        }
        let (status, text) = get(&metrics_url).await;
        assert_eq!(status, 200);
        promtool_check(&text, "node 0's metrics with a member missing");
        let m = samples(&text);
        let series = |state: &str| {
            format!("mcnode_quorum_member_state{{node=\"{node3_id}\",state=\"{state}\"}}")
        };
        assert_eq!(value(&m, &series("missing")), 1.0, "{text}");
        assert_eq!(value(&m, &series("agree")), 0.0, "{text}");
        assert_eq!(
            value(&m, "mcnode_quorum_v_blocking_distance"),
            1.0,
            "{text}"
        );
        assert_eq!(value(&m, "mcnode_quorum_members_up"), 2.0, "{text}");
        assert_eq!(
            value(
                &m,
                &format!("mcnode_quorum_member_up{{node=\"{node3_id}\"}}")
            ),
            0.0
        );

        drop(resume);
        let members = pay_until(&net, &mut w, &mut c0, "agree", 2).await;
        assert!(members.iter().all(|m| m.2), "{members:?}");
        let (_, text) = get(&metrics_url).await;
        let m = samples(&text);
        assert_eq!(value(&m, &series("agree")), 1.0, "{text}");
        assert_eq!(
            value(&m, "mcnode_quorum_v_blocking_distance"),
            2.0,
            "{text}"
        );
    });
}
