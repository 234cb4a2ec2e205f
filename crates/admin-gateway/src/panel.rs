//! The admin panel: one self-contained HTML page (inline CSS, no external assets) that
//! works without JavaScript. A small inline script refreshes the elements marked
//! `data-live` every few seconds when JavaScript is on; the forms post without it.
//!
//! Every string that comes from the node goes through [`escape`].

use std::fmt::Write as _;

use mcnode_api::admin::{
    History, NodeInfo, PeerInfo, QuorumHealthInfo, QuorumMemberInfo, QuorumMemberState,
    QuorumSetInfo, HEARD_WITHIN_SECONDS, INFO_FORMAT,
};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How a peer looks on the panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerHealth {
    /// Its last call succeeded and it attested to us, or it sent a consensus message in
    /// the last [`HEARD_WITHIN_SECONDS`] (green). An idle network sends no consensus
    /// messages, so silence alone is not ill health.
    Up,
    /// Not called yet, or not attested, and silent (amber).
    Stale,
    /// Its last call failed (red).
    Down,
}

impl PeerHealth {
    /// The health of `peer`.
    pub fn of(peer: &PeerInfo) -> Self {
        let heard = peer
            .last_message_age_seconds
            .is_some_and(|age| age <= HEARD_WITHIN_SECONDS as f64);
        match peer.connection.as_str() {
            "down" => Self::Down,
            "up" if heard || peer.attested => Self::Up,
            _ if heard => Self::Up,
            _ => Self::Stale,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Up => "ok",
            Self::Stale => "stale",
            Self::Down => "down",
        }
    }
}

const STYLE: &str = r#"
:root { --ok: #1a7f37; --ok-bg: #e6f4ea; --warn: #9a6700; --warn-bg: #fff4d6;
  --bad: #c62828; --bad-bg: #fdecea; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
  color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: .8rem 1.2rem; display: flex;
  flex-wrap: wrap; gap: .4rem 1.5rem; align-items: baseline; }
header h1 { font-size: 1.15rem; margin: 0; }
header a { color: #c9d1d9; }
main, .after { padding: 1rem 1.2rem; max-width: 80rem; }
.after { padding-top: 0; }
section { margin-bottom: 1.2rem; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.mono, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; }
th { background: #eaeef2; }
tr.health-up td:first-child { border-left: 6px solid var(--ok); }
tr.health-stale td:first-child { border-left: 6px solid var(--warn); }
tr.health-down td:first-child { border-left: 6px solid var(--bad); }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-weight: 600; }
.badge.ok { background: var(--ok-bg); } .badge.warn { background: var(--warn-bg); }
.badge.bad { background: var(--bad-bg); }
.banner { border: 2px solid var(--bad); background: var(--bad-bg); color: var(--bad);
  padding: .8rem 1rem; border-radius: 6px; font-weight: 600; overflow-wrap: anywhere; }
.notice { border: 1px solid var(--warn); background: var(--warn-bg); padding: .5rem 1rem;
  border-radius: 6px; }
ul.qset { list-style: none; padding-left: 1.2rem; margin: .2rem 0; }
form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
input[type=text] { font: inherit; padding: .3rem .5rem; min-width: 24rem; max-width: 100%; }
button { font: inherit; padding: .3rem .9rem; cursor: pointer; }
footer { color: var(--muted); padding: 0 1.2rem 1rem; font-size: .85rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); gap: 1rem; }
.chart h3 { font-size: .9rem; margin: 0 0 .2rem; display: flex; justify-content: space-between;
  gap: .6rem; }
.chart h3 .now { font-weight: 700; white-space: nowrap; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .axis { stroke: var(--line); stroke-width: 1; }
.chart .grid { stroke: #eaeef2; stroke-width: 1; }
.chart .bar { fill: #0969da; }
.chart .line { fill: none; stroke: #0969da; stroke-width: 1.6; stroke-linejoin: round; }
.chart .max { fill: none; stroke: #bf8700; stroke-width: 1; stroke-dasharray: 3 2; }
.chart .dot { fill: #0969da; stroke: none; } .chart .dot.max { fill: #bf8700; }
.chart text { font-size: 9px; fill: var(--muted); font-family: system-ui, sans-serif; }
.chart .legend { font-size: .75rem; color: var(--muted); margin: .1rem 0 0; }
.slots { display: flex; gap: 2px; }
.slot { width: .9rem; height: .9rem; border-radius: 2px; display: inline-block; }
.slot.agree { background: var(--ok); } .slot.delayed { background: #d4a72c; }
.slot.disagree { background: var(--bad); } .slot.missing { background: #8c959f; }
"#;

/// Refreshes the `data-live` elements from `/` every 5 s; everything works without it.
const SCRIPT: &str = r#"
(function () {
  setInterval(function () {
    if (document.hidden) return;
    fetch('/', { headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        document.querySelectorAll('[data-live]').forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh) el.replaceWith(fresh);
        });
      })
      .catch(function () {});
  }, 5000);
})();
"#;

fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>mcnode admin</h1><span>{subtitle}</span>\
         <nav><a href=\"/\">refresh</a> · <a href=\"/info\">/info</a> · \
         <a href=\"/scp\">/scp</a> · <a href=\"/history\">/history</a> · \
         <a href=\"/metrics\">/metrics</a></nav></header>\n\
         {body}\n<footer>Reload the page to refresh; with JavaScript on, the data refreshes \
         itself every 5 s.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
}

/// The panel of a node that answered: `now_unix` (seconds) dates its last block;
/// `history` feeds the charts (or says why there are none).
pub fn render_node(info: &NodeInfo, history: Result<&History, &String>, now_unix: u64) -> String {
    let name = escape(&info.name);
    let mut live = String::new();
    if info.format != INFO_FORMAT {
        let _ = write!(
            live,
            "<p class=\"notice\">The node reports info format {}; this gateway reads \
             format {INFO_FORMAT}, so some fields may be missing or wrong.</p>",
            info.format
        );
    }
    live.push_str("<section class=\"cards\">");
    live.push_str(&ledger_card(info, now_unix));
    live.push_str(&tx_cache_card(info));
    live.push_str(&scp_card(info));
    live.push_str("</section>");
    live.push_str(&charts_section(history));
    live.push_str(&quorum_health_section(info.quorum_health.as_ref()));
    live.push_str(&peers_section(&info.peers));
    let _ = write!(
        live,
        "<section><h2>Quorum set</h2>{}</section>",
        quorum_set(&info.quorum_set)
    );
    live.push_str(&maintenance_section(&info.ledger.mode));
    live.push_str(&build_section(info));

    let body = format!(
        "<main id=\"live\" data-live>{live}</main>\n<div class=\"after\">{}</div>",
        rust_log_section(&info.rust_log)
    );
    let subtitle = format!(
        "node <b>{name}</b> · v{} · up {}",
        escape(&info.build.version),
        human_seconds(info.uptime_seconds as f64)
    );
    page(&format!("mcnode admin – {name}"), &subtitle, &body)
}

/// The panel when the node could not be asked: a red banner saying why.
pub fn render_unreachable(message: &str) -> String {
    let body = format!(
        "<main id=\"live\" data-live><p class=\"banner\" id=\"error\" role=\"alert\">{}</p>\
         <p>The panel shows the node's state again as soon as it answers: \
         <a href=\"/\">reload</a>.</p></main>",
        escape(message)
    );
    page("mcnode admin – not reachable", "node not reachable", &body)
}

/// A small page reporting the failure of a form post, with a link back to the panel.
pub fn render_form_error(status: u16, message: &str) -> String {
    let body = format!(
        "<main><p class=\"banner\" id=\"error\" role=\"alert\">{status}: {}</p>\
         <p><a href=\"/\">Back to the panel</a></p></main>",
        escape(message)
    );
    page("mcnode admin – error", "request failed", &body)
}

fn ledger_card(info: &NodeInfo, now_unix: u64) -> String {
    let l = &info.ledger;
    let mode_class = match l.mode.as_str() {
        "running" => "ok",
        "catching_up" => "warn",
        _ => "bad",
    };
    let behind_class = if l.blocks_behind == 0 { "ok" } else { "warn" };
    let appended = match l.last_block_unix_time {
        Some(t) => format!("{} ago", human_seconds(now_unix.saturating_sub(t) as f64)),
        None => "not since start".to_string(),
    };
    format!(
        "<div class=\"card\"><h2>Ledger</h2><dl>\
         <dt>Block height</dt><dd id=\"block-height\">{}</dd>\
         <dt>Last block id</dt><dd class=\"mono\" id=\"last-block-id\">{}</dd>\
         <dt>Last block appended</dt><dd>{appended}</dd>\
         <dt>Mode</dt><dd><span class=\"badge {mode_class}\" id=\"mode\">{}</span></dd>\
         <dt>Blocks behind</dt><dd class=\"{behind_class}\" id=\"blocks-behind\">{}</dd>\
         <dt>Highest peer height</dt><dd>{}</dd>\
         </dl></div>",
        l.block_height,
        escape(&l.last_block_id),
        escape(&l.mode),
        l.blocks_behind,
        l.highest_peer_height,
    )
}

fn tx_cache_card(info: &NodeInfo) -> String {
    let t = &info.tx_cache;
    format!(
        "<div class=\"card\"><h2>Transaction cache</h2><dl>\
         <dt>Transactions</dt><dd id=\"tx-cache-size\">{} <small>of {}</small></dd>\
         <dt>Pending values</dt><dd id=\"pending-values\">{} <small>of {}</small></dd>\
         </dl></div>",
        t.txs, t.max_txs, t.pending_values, t.max_pending_values
    )
}

fn scp_card(info: &NodeInfo) -> String {
    let s = &info.scp;
    format!(
        "<div class=\"card\"><h2>SCP</h2><dl>\
         <dt>Slot</dt><dd id=\"scp-slot\">{}</dd>\
         <dt>Phase</dt><dd id=\"scp-phase\">{}</dd>\
         <dt>Ballot counter</dt><dd>{}</dd>\
         <dt>Nomination round</dt><dd>{}</dd>\
         </dl><p><a href=\"/scp\">Full SCP state (JSON)</a></p></div>",
        s.slot,
        escape(&s.phase),
        s.ballot_counter,
        s.nomination_round
    )
}

fn peers_section(peers: &[PeerInfo]) -> String {
    let mut out = String::from("<section><h2>Peers</h2>");
    if peers.is_empty() {
        out.push_str("<p>No peers configured.</p></section>");
        return out;
    }
    out.push_str(
        "<table id=\"peers\"><thead><tr><th>Responder id</th><th>Health</th>\
         <th>Connection</th><th>Attested</th><th>Last message</th><th>Height</th>\
         <th>Failures</th><th>Queued</th><th>Role</th></tr></thead><tbody>",
    );
    for p in peers {
        let health = PeerHealth::of(p);
        let (class, badge) = match health {
            PeerHealth::Up => ("health-up", "ok"),
            PeerHealth::Stale => ("health-stale", "warn"),
            PeerHealth::Down => ("health-down", "bad"),
        };
        let age = p
            .last_message_age_seconds
            .map(|a| format!("{} ago", human_seconds(a)))
            .unwrap_or_else(|| "never".to_string());
        let height = p
            .block_height
            .map(|h| h.to_string())
            .unwrap_or_else(|| "?".to_string());
        let mut role = Vec::new();
        if p.in_quorum_set {
            role.push("quorum");
        }
        if p.broadcast {
            role.push("broadcast");
        }
        let _ = write!(
            out,
            "<tr class=\"{class}\"><td class=\"mono\" title=\"{}\">{}</td>\
             <td><span class=\"badge {badge}\">{}</span></td><td>{}</td><td>{}</td>\
             <td>{age}</td><td>{height}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&p.uri),
            escape(&p.responder_id),
            health.label(),
            escape(&p.connection),
            if p.attested { "yes" } else { "no" },
            p.consecutive_failures,
            p.queued,
            role.join(", "),
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

fn state_badge(s: QuorumMemberState) -> &'static str {
    match s {
        QuorumMemberState::Agree => "ok",
        QuorumMemberState::Delayed => "warn",
        QuorumMemberState::Disagree | QuorumMemberState::Missing => "bad",
    }
}

fn quorum_health_section(health: Option<&QuorumHealthInfo>) -> String {
    let mut out = String::from("<section><h2>Quorum health</h2>");
    let Some(h) = health else {
        out.push_str("<p>This node does not report its quorum's health.</p></section>");
        return out;
    };
    let (class, words) = match h.v_blocking_distance {
        None => (
            "ok",
            "no failure of other nodes can block this node".to_string(),
        ),
        Some(0) => (
            "bad",
            "blocked: the members up cannot form a quorum slice".to_string(),
        ),
        Some(1) => ("warn", "one more failure blocks this node".to_string()),
        Some(d) => ("ok", format!("{d} more failures block this node")),
    };
    let distance = h
        .v_blocking_distance
        .map_or_else(|| "∞".to_string(), |d| d.to_string());
    let up = h.members.iter().filter(|m| m.up).count();
    let _ = write!(
        out,
        "<p>V-blocking distance <span class=\"badge {class}\" id=\"v-blocking-distance\">{distance}</span> \
         {words}; {up} of {} members up in slot {}.</p>",
        h.members.len(),
        h.slot
    );
    if h.members.is_empty() {
        out.push_str("<p>The quorum set names no other node.</p></section>");
        return out;
    }
    out.push_str(
        "<table id=\"quorum-health\"><thead><tr><th>Member</th><th>State</th>\
         <th>Up</th><th>In slot</th><th>Last message</th><th>Recent slots (newest first)</th>\
         </tr></thead><tbody>",
    );
    for m in &h.members {
        let (badge, state) = match m.state {
            Some(s) => (state_badge(s), s.as_str()),
            None => ("warn", "no slot yet"),
        };
        let row = match badge {
            "ok" => "health-up",
            "warn" => "health-stale",
            _ => "health-down",
        };
        let last = match (m.last_slot, m.last_message_age_seconds) {
            (Some(s), Some(a)) => format!("slot {s}, {} ago", human_seconds(a)),
            _ => "never".to_string(),
        };
        let mut recent = String::from("<span class=\"slots\">");
        for s in &m.recent {
            let _ = write!(
                recent,
                "<span class=\"slot {0}\" title=\"slot {1}: {0}\"></span>",
                s.state.as_str(),
                s.slot
            );
        }
        recent.push_str("</span>");
        let _ = write!(
            out,
            "<tr class=\"{row}\" data-node=\"{node}\"><td class=\"mono\">{node}</td>\
             <td><span class=\"badge {badge}\">{state}</span></td><td>{up}</td>\
             <td>{slot}</td><td>{last}</td><td>{recent}</td></tr>",
            node = escape(&m.responder_id),
            up = if m.up { "yes" } else { "no" },
            slot = m
                .state_slot
                .map_or_else(|| "–".to_string(), |s| s.to_string()),
        );
    }
    out.push_str(
        "</tbody></table><p class=\"legend\">agree: sent messages for the slot in time and \
         confirmed this node's value · delayed: heard only after this node decided, or \
         only about an older slot · disagree: another value or another block · missing: \
         nothing heard. Up: sent messages for the slot being agreed.</p></section>",
    );
    out
}

/// One minute of the charts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Minute {
    blocks: f64,
    latency_sum: f64,
    latency_count: f64,
    latency_max: f64,
    pending: f64,
    peers: f64,
}

/// Minutes drawn (the last hour).
const CHART_MINUTES: usize = 60;

/// The history folded into the last [`CHART_MINUTES`] minutes, oldest first, ending with
/// the minute of the newest sample; `None` for minutes before the history begins.
fn per_minute(h: &History) -> Vec<Option<Minute>> {
    let mut out = vec![None; CHART_MINUTES];
    let Some(newest) = h.samples.last().map(|s| s.start_unix / 60) else {
        return out;
    };
    for s in &h.samples {
        let minute = s.start_unix / 60;
        let Some(back) = newest.checked_sub(minute) else {
            continue;
        };
        let Some(i) = (CHART_MINUTES as u64 - 1).checked_sub(back) else {
            continue;
        };
        let m: &mut Minute = out[i as usize].get_or_insert_with(Minute::default);
        m.blocks += s.blocks as f64;
        m.latency_sum += s.latency_sum_seconds;
        m.latency_count += s.latency_count as f64;
        m.latency_max = m.latency_max.max(s.latency_max_seconds);
        m.pending = m.pending.max(s.pending_values as f64);
        m.peers = m.peers.max(s.peers_heard as f64);
    }
    out
}

/// The smallest of 1, 2, 5 x 10^k at or above `v` (1 for nothing to show).
fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let mut step = 10f64.powf(v.log10().floor());
    while step < v {
        for f in [2.0, 5.0, 10.0] {
            if step * f >= v {
                return step * f;
            }
        }
        step *= 10.0;
    }
    step
}

/// How a chart draws its points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Bars,
    Line,
}

/// `3 blocks`, `1 block`, `0.80 s`.
fn with_unit(v: f64, unit: &str) -> String {
    let unit = match unit.strip_suffix('s') {
        Some(one) if v == 1.0 && !one.is_empty() => one,
        _ => unit,
    };
    format!("{} {unit}", fmt_value(v))
}

fn fmt_value(v: f64) -> String {
    if v == 0.0 || v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One small chart as inline SVG: `points` (one per minute, oldest first) drawn as bars
/// or a line; `dashed` names the first series and draws a second one as a dashed line
/// (e.g. the mean and the maximum).
fn chart(
    id: &str,
    title: &str,
    unit: &str,
    shape: Shape,
    points: &[Option<f64>],
    dashed: Option<(&str, &str, &[Option<f64>])>,
) -> String {
    const W: f64 = 300.0;
    const H: f64 = 90.0;
    const LEFT: f64 = 26.0;
    const TOP: f64 = 6.0;
    const BOTTOM: f64 = 14.0;
    let plot_w = W - LEFT - 4.0;
    let plot_h = H - TOP - BOTTOM;
    let all = points
        .iter()
        .chain(dashed.map_or(&[][..], |(_, _, d)| d).iter())
        .flatten()
        .copied()
        .filter(|v| v.is_finite());
    let top = nice_ceiling(all.fold(0.0, f64::max));
    let n = points.len().max(1) as f64;
    let step = plot_w / n;
    let x = |i: usize| LEFT + step * i as f64;
    let y = |v: f64| TOP + plot_h - (v / top).clamp(0.0, 1.0) * plot_h;
    let now = points.iter().rev().flatten().next().copied();
    let mut svg = format!(
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{title} over the last hour\">\
         <line class=\"grid\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{r}\" y2=\"{TOP}\"/>\
         <line class=\"grid\" x1=\"{LEFT}\" y1=\"{mid}\" x2=\"{r}\" y2=\"{mid}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{base}\" x2=\"{r}\" y2=\"{base}\"/>\
         <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{tv}</text>\
         <text x=\"{lx}\" y=\"{by}\" text-anchor=\"end\">0</text>\
         <text x=\"{LEFT}\" y=\"{H}\" dy=\"-2\">−60 min</text>\
         <text x=\"{LEFT2}\" y=\"{H}\" dy=\"-2\" text-anchor=\"middle\">−30 min</text>\
         <text x=\"{r}\" y=\"{H}\" dy=\"-2\" text-anchor=\"end\">now</text>",
        r = W - 4.0,
        mid = TOP + plot_h / 2.0,
        base = TOP + plot_h,
        lx = LEFT - 3.0,
        ty = TOP + 7.0,
        by = TOP + plot_h,
        tv = fmt_value(top),
        LEFT2 = LEFT + plot_w / 2.0,
    );
    let polyline = |values: &[Option<f64>], class: &str| {
        // One polyline per run of minutes with data.
        let mut out = String::new();
        let mut run: Vec<(f64, f64)> = Vec::new();
        let flush = |run: &mut Vec<(f64, f64)>, out: &mut String| {
            if let [(px, py)] = run[..] {
                // A lone point: a dot, so it shows.
                let _ = write!(
                    out,
                    "<circle class=\"dot {class}\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"2\"/>"
                );
            } else if !run.is_empty() {
                let points: Vec<String> =
                    run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    out,
                    "<polyline class=\"{class}\" points=\"{}\"/>",
                    points.join(" ")
                );
            }
            run.clear();
        };
        for (i, v) in values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => run.push((x(i) + step / 2.0, y(v))),
                None => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
        out
    };
    match shape {
        Shape::Bars => {
            for (i, v) in points.iter().enumerate() {
                if let Some(v) = v.filter(|v| *v > 0.0 && v.is_finite()) {
                    let _ = write!(
                        svg,
                        "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
                        x(i) + 0.5,
                        y(v),
                        (step - 1.0).max(0.5),
                        TOP + plot_h - y(v),
                        with_unit(v, unit)
                    );
                }
            }
        }
        Shape::Line => svg.push_str(&polyline(points, "line")),
    }
    if let Some((_, _, d)) = dashed {
        svg.push_str(&polyline(d, "max"));
    }
    svg.push_str("</svg>");
    let legend = match dashed {
        Some((solid, label, _)) => {
            format!("<p class=\"legend\">solid: {solid}; dashed: {label}</p>")
        }
        None => String::new(),
    };
    format!(
        "<div class=\"card chart\" id=\"{id}\"><h3><span>{title}</span>\
         <span class=\"now\">{}</span></h3>{svg}{legend}</div>",
        now.map_or_else(|| "–".to_string(), |v| with_unit(v, unit))
    )
}

fn charts_section(history: Result<&History, &String>) -> String {
    let mut out = String::from("<section><h2>Last hour</h2>");
    let h = match history {
        Ok(h) => h,
        Err(why) => {
            let _ = write!(
                out,
                "<p class=\"notice\" id=\"charts-unavailable\">No history: {}</p></section>",
                escape(why)
            );
            return out;
        }
    };
    let minutes = per_minute(h);
    let col = |f: fn(&Minute) -> Option<f64>| -> Vec<Option<f64>> {
        minutes.iter().map(|m| m.as_ref().and_then(f)).collect()
    };
    let blocks = col(|m| Some(m.blocks));
    let latency = col(|m| (m.latency_count > 0.0).then(|| m.latency_sum / m.latency_count));
    let latency_max = col(|m| (m.latency_count > 0.0).then_some(m.latency_max));
    let pending = col(|m| Some(m.pending));
    let peers = col(|m| Some(m.peers));
    out.push_str("<div class=\"charts\" id=\"charts\">");
    out.push_str(&chart(
        "chart-blocks",
        "Blocks per minute",
        "blocks",
        Shape::Bars,
        &blocks,
        None,
    ));
    out.push_str(&chart(
        "chart-latency",
        "Submit-to-commit latency",
        "s",
        Shape::Line,
        &latency,
        Some(("mean", "slowest", &latency_max)),
    ));
    out.push_str(&chart(
        "chart-pending",
        "Pending values",
        "txs",
        Shape::Line,
        &pending,
        None,
    ));
    out.push_str(&chart(
        "chart-peers",
        "Peers heard",
        "peers",
        Shape::Line,
        &peers,
        None,
    ));
    out.push_str(
        "</div><p class=\"legend\">From the node's own history (<a href=\"/history\">/history</a>), \
         one point per minute: blocks appended; mean latency of this node's client \
         transactions committed; the most transactions pending; the most peers heard \
         in a 10-s interval.</p></section>",
    );
    out
}

fn quorum_set(q: &QuorumSetInfo) -> String {
    let (class, word) = if q.satisfied {
        ("ok", "satisfied")
    } else {
        ("bad", "not satisfied")
    };
    let mut out = format!(
        "<span>threshold {} of {}: <span class=\"badge {class}\">{word}</span></span>\
         <ul class=\"qset\">",
        q.threshold,
        q.members.len()
    );
    for m in &q.members {
        match m {
            QuorumMemberInfo::Node {
                responder_id,
                heard,
            } => {
                let (class, mark, word) = if *heard {
                    ("ok", "✔", "heard")
                } else {
                    ("bad", "✘", "not heard")
                };
                let _ = write!(
                    out,
                    "<li class=\"{class}\">{mark} <span class=\"mono\">{}</span> ({word})</li>",
                    escape(responder_id)
                );
            }
            QuorumMemberInfo::InnerSet(inner) => {
                let _ = write!(out, "<li>inner set, {}</li>", quorum_set(inner));
            }
        }
    }
    out.push_str("</ul>");
    out
}

fn maintenance_section(mode: &str) -> String {
    let (enabled, label) = if mode == "maintenance" {
        (
            "false",
            "Leave maintenance mode (accept transactions again)",
        )
    } else {
        ("true", "Enter maintenance mode (refuse new transactions)")
    };
    format!(
        "<section><h2>Maintenance</h2>\
         <form method=\"post\" action=\"/maintenance\">\
         <input type=\"hidden\" name=\"enabled\" value=\"{enabled}\">\
         <button type=\"submit\" id=\"maintenance-toggle\">{label}</button>\
         <span>In maintenance mode the node refuses new client transactions and goes on \
         with consensus.</span></form></section>"
    )
}

fn rust_log_section(filter: &str) -> String {
    let filter = escape(filter);
    format!(
        "<section><h2>Logging</h2><p>RUST_LOG filter in force: \
         <code id=\"rust-log\" data-live>{filter}</code></p>\
         <form method=\"post\" action=\"/set-rust-log\">\
         <input type=\"text\" name=\"filter\" id=\"rust-log-input\" value=\"{filter}\" \
         aria-label=\"RUST_LOG filter\" placeholder=\"info,mcnode_scp=debug\" required>\
         <button type=\"submit\" id=\"rust-log-submit\">Set filter</button></form></section>"
    )
}

fn build_section(info: &NodeInfo) -> String {
    let config = serde_json::to_string_pretty(&info.config).unwrap_or_default();
    format!(
        "<section><details><summary>Build and configuration</summary><dl>\
         <dt>Version</dt><dd>{}</dd><dt>SGX mode</dt><dd>{}</dd>\
         <dt>Measurement</dt><dd class=\"mono\">{}</dd>\
         <dt>Block signer</dt><dd class=\"mono\">{}</dd>\
         <dt>Peer responder id</dt><dd class=\"mono\">{}</dd>\
         <dt>Client responder id</dt><dd class=\"mono\">{}</dd>\
         </dl><pre class=\"mono\">{}</pre></details></section>",
        escape(&info.build.version),
        escape(&info.build.sgx_mode),
        escape(&info.build.measurement),
        escape(&info.build.block_signer),
        escape(&info.peer_responder_id),
        escape(&info.client_responder_id),
        escape(&config),
    )
}

/// `0.5 s`, `42 s`, `3 min 4 s`, `2 h 5 min`, `3 d 4 h`.
fn human_seconds(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".to_string();
    }
    if seconds < 10.0 {
        return format!("{seconds:.1} s");
    }
    let s = seconds as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escape_table() {
        for (input, want) in [
            ("plain", "plain"),
            ("<script>", "&lt;script&gt;"),
            ("a&b", "a&amp;b"),
            ("\"q\" 'a'", "&quot;q&quot; &#39;a&#39;"),
            ("", ""),
        ] {
            assert_eq!(escape(input), want, "{input}");
        }
    }

    fn peer(connection: &str, attested: bool, age: Option<f64>) -> PeerInfo {
        PeerInfo {
            responder_id: "n:1".into(),
            uri: "mcp://n:1/".into(),
            broadcast: true,
            in_quorum_set: true,
            connection: connection.into(),
            attested,
            last_message_age_seconds: age,
            consecutive_failures: 0,
            queued: 0,
            block_height: None,
        }
    }

    #[test]
    fn peer_health_table() {
        let recent = Some(1.0);
        let old = Some(HEARD_WITHIN_SECONDS as f64 + 1.0);
        for (connection, attested, age, want) in [
            ("up", true, recent, PeerHealth::Up),
            // A quiet network: up and attested is healthy without messages.
            ("up", true, None, PeerHealth::Up),
            ("up", false, recent, PeerHealth::Up),
            ("up", false, old, PeerHealth::Stale),
            ("up", false, None, PeerHealth::Stale),
            ("unknown", false, recent, PeerHealth::Up),
            ("unknown", true, None, PeerHealth::Stale),
            ("down", true, recent, PeerHealth::Down),
            ("down", true, None, PeerHealth::Down),
        ] {
            assert_eq!(
                PeerHealth::of(&peer(connection, attested, age)),
                want,
                "{connection} {attested} {age:?}"
            );
        }
    }

    #[test]
    fn human_seconds_table() {
        for (s, want) in [
            (0.5, "0.5 s"),
            (42.0, "42 s"),
            (184.0, "3 min 4 s"),
            (7500.0, "2 h 5 min"),
            (273_600.0, "3 d 4 h"),
            (-1.0, "?"),
        ] {
            assert_eq!(human_seconds(s), want, "{s}");
        }
    }

    #[test]
    fn nice_ceiling_table() {
        for (v, want) in [
            (0.0, 1.0),
            (f64::NAN, 1.0),
            (0.3, 0.5),
            (1.0, 1.0),
            (1.2, 2.0),
            (3.0, 5.0),
            (7.0, 10.0),
            (42.0, 50.0),
            (180.0, 200.0),
        ] {
            assert!(
                (nice_ceiling(v) - want).abs() < 1e-9,
                "{v}: {}",
                nice_ceiling(v)
            );
        }
    }

    #[test]
    fn history_folds_into_the_last_sixty_minutes() {
        use mcnode_api::admin::HistorySample;
        // 90 minutes of samples, one block per 10 s: the first 30 minutes fall off.
        let samples = (0..540u64)
            .map(|i| HistorySample {
                start_unix: 1_800_000_000 + i * 10,
                blocks: 1,
                latency_count: 1,
                latency_sum_seconds: 0.5,
                latency_max_seconds: 0.5 + (i % 6) as f64,
                pending_values: i % 6,
                peers_heard: 2 + i % 2,
                ..HistorySample::default()
            })
            .collect();
        let h = History {
            format: 1,
            interval_seconds: 10,
            samples,
        };
        let m = per_minute(&h);
        assert_eq!(m.len(), CHART_MINUTES);
        let last = m[CHART_MINUTES - 1].unwrap();
        assert_eq!(last.blocks, 6.0);
        assert_eq!(last.latency_count, 6.0);
        assert_eq!(last.latency_max, 5.5);
        assert_eq!(last.pending, 5.0);
        assert_eq!(last.peers, 3.0);
        assert!(m.iter().all(Option::is_some));
        // A young node: only the last minutes have data.
        let h = History {
            format: 1,
            interval_seconds: 10,
            samples: h.samples[..12].to_vec(),
        };
        let m = per_minute(&h);
        assert_eq!(m.iter().filter(|x| x.is_some()).count(), 2);
        assert!(m[CHART_MINUTES - 1].is_some() && m[0].is_none());
        let svg = chart("c", "t", "u", Shape::Line, &[None, Some(1.0), None], None);
        assert!(svg.contains("<circle class=\"dot line\""), "{svg}");
        let html = charts_section(Err(&"GetHistory not served".to_string()));
        assert!(html.contains("No history: GetHistory not served"), "{html}");
    }

    #[test]
    fn quorum_set_marks_heard_members() {
        let q = QuorumSetInfo {
            threshold: 2,
            members: vec![
                QuorumMemberInfo::Node {
                    responder_id: "a:1".into(),
                    heard: true,
                },
                QuorumMemberInfo::InnerSet(QuorumSetInfo {
                    threshold: 1,
                    members: vec![QuorumMemberInfo::Node {
                        responder_id: "<b>:1".into(),
                        heard: false,
                    }],
                    satisfied: false,
                }),
            ],
            satisfied: true,
        };
        let html = quorum_set(&q);
        assert!(html.contains("threshold 2 of 2"), "{html}");
        assert!(html.contains("a:1</span> (heard)"), "{html}");
        assert!(html.contains("&lt;b&gt;:1</span> (not heard)"), "{html}");
        assert!(html.contains(">not satisfied<"), "{html}");
    }
}
