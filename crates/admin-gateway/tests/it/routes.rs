//! The routes, through a real HTTP client, in front of a real gRPC node.

use reqwest::{header, StatusCode};

use crate::{closed_addr, http, node::FakeNode, start_gateway};

const FORM: &str = "application/x-www-form-urlencoded";

async fn get(url: &str) -> (StatusCode, String, String) {
    let resp = http().get(url).send().await.unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, resp.text().await.unwrap())
}

async fn post(url: &str, content_type: &str, body: &str) -> reqwest::Response {
    http()
        .post(url)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn panel_shows_the_node() {
    let (_node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    let (status, content_type, html) = get(&format!("{}/", gw.panel)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(html.contains(crate::node::NAME), "{html}");
    assert!(html.contains("id=\"block-height\">7<"), "{html}");
    assert!(html.contains("id=\"mode\">running<"), "{html}");
    assert!(html.contains("id=\"rust-log\" data-live>info<"), "{html}");
    assert!(
        html.contains("<form method=\"post\" action=\"/set-rust-log\">"),
        "{html}"
    );
    assert!(html.contains("id=\"rust-log-input\""), "{html}");
    assert!(html.contains("id=\"rust-log-submit\""), "{html}");
    assert!(
        html.contains("<form method=\"post\" action=\"/maintenance\">"),
        "{html}"
    );
    // Peers: one healthy, one down; the quorum set with who was heard.
    assert!(
        html.contains("<tr class=\"health-up\"><td class=\"mono\" title=\"mcp://node1:8443/\">node1:8443</td>"),
        "{html}"
    );
    assert!(html.contains("<tr class=\"health-down\">"), "{html}");
    assert!(html.contains("node2:8443</span> (not heard)"), "{html}");
    assert!(html.contains(">satisfied<"), "{html}");
    // Whatever the node sends is escaped.
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    // Quorum health: a table by member, the v-blocking distance.
    assert!(html.contains("id=\"v-blocking-distance\">0<"), "{html}");
    assert!(
        html.contains("<td class=\"mono\">node1:8443</td><td><span class=\"badge ok\">agree</span></td><td>yes</td>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"badge bad\">missing</span></td><td>no</td>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"slot missing\" title=\"slot 6: missing\">"),
        "{html}"
    );
    // The last hour as four inline SVG charts.
    for id in [
        "chart-blocks",
        "chart-latency",
        "chart-pending",
        "chart-peers",
    ] {
        let start = html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id}: {html}"));
        let rest = &html[start..];
        let end = rest.find("</svg>").unwrap();
        assert!(rest[..end].contains("<svg viewBox="), "{id}: {rest}");
        assert!(
            rest[..end].contains("<rect") || rest[..end].contains("<polyline"),
            "{id}: {rest}"
        );
    }
    // 3 blocks per minute (every other 10-s sample), 0.8 s latency, 3 peers.
    assert!(
        html.contains("<span class=\"now\">3 blocks</span>"),
        "{html}"
    );
    assert!(html.contains("<span class=\"now\">0.80 s</span>"), "{html}");
    assert!(
        html.contains("<span class=\"now\">3 peers</span>"),
        "{html}"
    );
    // No external assets.
    assert!(!html.contains("src=\"http"), "{html}");
    assert!(!html.contains("href=\"http"), "{html}");
}

#[tokio::test]
async fn form_sets_the_rust_log_filter() {
    let (node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    let resp = post(
        &format!("{}/set-rust-log", gw.panel),
        FORM,
        "filter=info%2Cmcnode_scp%3Ddebug",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[header::LOCATION], "/");
    assert_eq!(node.filter(), "info,mcnode_scp=debug");
    let (_, _, html) = get(&format!("{}/", gw.panel)).await;
    assert!(
        html.contains("id=\"rust-log\" data-live>info,mcnode_scp=debug<"),
        "{html}"
    );
}

#[tokio::test]
async fn json_sets_the_rust_log_filter() {
    let (node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    let resp = post(
        &format!("{}/set-rust-log", gw.panel),
        "application/json",
        r#"{"filter": "debug"}"#,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(resp.text().await.unwrap(), r#"{"filter":"debug"}"#);
    assert_eq!(node.filter(), "debug");
}

#[tokio::test]
async fn a_filter_the_node_refuses_is_400() {
    let (node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    let url = format!("{}/set-rust-log", gw.panel);
    let resp = post(&url, FORM, "filter=bad%5B").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text = resp.text().await.unwrap();
    assert!(text.contains("is not a RUST_LOG filter"), "{text}");
    let resp = post(&url, "application/json", r#"{"filter": "bad["}"#).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json_value().await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("is not a RUST_LOG filter"),
        "{body}"
    );
    // A browser gets a page with a way back.
    let resp = http()
        .post(&url)
        .header(header::CONTENT_TYPE, FORM)
        .header(header::ACCEPT, "text/html")
        .body("filter=bad%5B")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("<a href=\"/\">Back to the panel</a>"),
        "{html}"
    );
    assert_eq!(node.filter(), "info");
}

#[tokio::test]
async fn maintenance_toggle_flips_the_mode() {
    let (_node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    let (_, _, html) = get(&format!("{}/", gw.panel)).await;
    assert!(
        html.contains("name=\"enabled\" value=\"true\""),
        "the button offers to enter: {html}"
    );
    assert!(html.contains(">Enter maintenance mode"), "{html}");

    let resp = post(&format!("{}/maintenance", gw.panel), FORM, "enabled=true").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[header::LOCATION], "/");
    let (_, _, html) = get(&format!("{}/", gw.panel)).await;
    assert!(html.contains("id=\"mode\">maintenance<"), "{html}");
    assert!(html.contains("name=\"enabled\" value=\"false\""), "{html}");
    assert!(html.contains(">Leave maintenance mode"), "{html}");

    let resp = post(
        &format!("{}/maintenance", gw.panel),
        "application/json",
        r#"{"enabled": false}"#,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), r#"{"mode":"running"}"#);
    let (_, _, html) = get(&format!("{}/", gw.panel)).await;
    assert!(html.contains("id=\"mode\">running<"), "{html}");
}

#[tokio::test]
async fn info_and_scp_are_the_nodes_json() {
    let (node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    let (status, content_type, body) = get(&format!("{}/info", gw.panel)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, node.info_json());
    let (status, content_type, body) = get(&format!("{}/scp", gw.panel)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, node.scp_json());
    let (status, content_type, body) = get(&format!("{}/history", gw.panel)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, node.history_json());
}

#[tokio::test]
async fn metrics_on_both_ports() {
    let (_node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    // One request first, so the counter has a sample.
    get(&format!("{}/", gw.panel)).await;
    for base in [&gw.panel, &gw.metrics] {
        let (status, content_type, text) = get(&format!("{base}/metrics")).await;
        assert_eq!(status, StatusCode::OK, "{base}: {text}");
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        assert!(text.contains("\nmcnode_ledger_height 7\n"), "{text}");
        assert!(
            text.contains("# TYPE mcnode_client_txs_total counter\nmcnode_client_txs_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("mc_admin_gateway_requests_total{route=\"/\",status=\"200\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("\nmc_admin_gateway_admin_up 1\n"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
        assert!(!text.contains("# UNIT"), "{text}");
    }
    // The metrics port serves nothing else.
    let (status, _, _) = get(&format!("{}/", gw.metrics)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unreachable_node_banner_and_502() {
    let uri = format!("insecure-mca://{}/", closed_addr());
    let gw = start_gateway(&uri).await;
    let (status, _, html) = get(&format!("{}/", gw.panel)).await;
    assert_eq!(status, StatusCode::OK, "operators see the page");
    let banner = format!("consensus-service not reachable at {uri}: ");
    assert!(html.contains("class=\"banner\""), "{html}");
    assert!(html.contains(&banner), "{html}");
    for url in [
        format!("{}/metrics", gw.panel),
        format!("{}/metrics", gw.metrics),
        format!("{}/info", gw.panel),
        format!("{}/scp", gw.panel),
    ] {
        let (status, content_type, text) = get(&url).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{url}");
        assert_eq!(content_type, "text/plain; charset=utf-8", "{url}");
        assert!(text.starts_with(&banner), "{url}: {text}");
        assert_eq!(text.lines().count(), 1, "{url}: {text}");
    }
    let resp = post(&format!("{}/maintenance", gw.panel), FORM, "enabled=true").await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn bad_bodies_are_refused() {
    let (node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    let rust_log = format!("{}/set-rust-log", gw.panel);
    let maintenance = format!("{}/maintenance", gw.panel);
    let cases: &[(&str, &str, &str, StatusCode, &str)] = &[
        (
            &rust_log,
            FORM,
            "nofilter=1",
            StatusCode::BAD_REQUEST,
            "no field \"filter\"",
        ),
        (
            &rust_log,
            FORM,
            "filter=a&filter=b",
            StatusCode::BAD_REQUEST,
            "more than once",
        ),
        (
            &rust_log,
            FORM,
            "filter=%20",
            StatusCode::BAD_REQUEST,
            "filter is empty",
        ),
        (
            &rust_log,
            "application/json",
            "{not json",
            StatusCode::BAD_REQUEST,
            "invalid JSON body",
        ),
        (
            &rust_log,
            "application/json",
            r#"{"filter": "x", "other": 1}"#,
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            &rust_log,
            "text/plain",
            "debug",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type",
        ),
        (
            &maintenance,
            FORM,
            "enabled=maybe",
            StatusCode::BAD_REQUEST,
            "expected true or false",
        ),
        (
            &maintenance,
            "application/json",
            r#"{"enabled": "yes"}"#,
            StatusCode::BAD_REQUEST,
            "invalid JSON body",
        ),
    ];
    for (url, content_type, body, want_status, want_text) in cases {
        let resp = post(url, content_type, body).await;
        assert_eq!(resp.status(), *want_status, "{url} {body}");
        let text = resp.text().await.unwrap();
        assert!(text.contains(want_text), "{url} {body}: {text}");
    }
    let big = format!(
        "filter={}",
        "a".repeat(mcnode_admin_gateway::MAX_BODY_BYTES + 1)
    );
    let resp = post(&rust_log, FORM, &big).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, _) = get(&rust_log).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(node.filter(), "info", "nothing reached the node");
}

#[tokio::test]
async fn posts_from_other_sites_are_refused() {
    let (node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    let url = format!("{}/maintenance", gw.panel);
    let own_origin = gw.panel.clone();
    let cases: &[(&str, &str, StatusCode)] = &[
        ("origin", "http://evil.example", StatusCode::FORBIDDEN),
        ("origin", "null", StatusCode::FORBIDDEN),
        ("sec-fetch-site", "cross-site", StatusCode::FORBIDDEN),
        ("sec-fetch-site", "same-site", StatusCode::FORBIDDEN),
        ("origin", &own_origin, StatusCode::SEE_OTHER),
        ("sec-fetch-site", "same-origin", StatusCode::SEE_OTHER),
    ];
    for (name, value, want) in cases {
        let resp = http()
            .post(&url)
            .header(header::CONTENT_TYPE, FORM)
            .header(*name, *value)
            .body("enabled=false")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), *want, "{name}: {value}");
    }
    let resp = http()
        .post(&url)
        .header(header::CONTENT_TYPE, FORM)
        .header(header::ORIGIN, "http://evil.example")
        .body("enabled=true")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("Origin http://evil.example is not this gateway"),
        "{text}"
    );
    assert_eq!(
        node.info().ledger.mode,
        "running",
        "nothing reached the node"
    );
}

#[tokio::test]
async fn promtool_accepts_the_metrics() {
    let (_node, uri) = FakeNode::start().await;
    let gw = start_gateway(&uri).await;
    get(&format!("{}/", gw.panel)).await;
    get(&format!("{}/nowhere", gw.panel)).await;
    let (status, _, text) = get(&format!("{}/metrics", gw.metrics)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("route=\"unmatched\",status=\"404\""),
        "{text}"
    );
    crate::binary::promtool_check_metrics(&text);
}

trait JsonValue {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        serde_json::from_str(&self.text().await.unwrap()).unwrap()
    }
}
