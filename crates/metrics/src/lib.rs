//! Prometheus text for every mcnode process.
//!
//! prometheus-client encodes OpenMetrics 1.0. Prometheus scrapes that too, but the classic
//! text format (0.0.4) is what `promtool check metrics`, curl users and older scrapers
//! expect, and the two disagree on counter names: OpenMetrics names the family
//! `x` (samples `x_total`), the classic format names it `x_total`, and promtool's lint
//! asks counters to end in `_total`. [`encode`] writes the classic format
//! ([`openmetrics_to_classic`] says what changes).

use prometheus_client::registry::Registry;

/// The HTTP `Content-Type` of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Encodes `registry` in the classic Prometheus text format.
pub fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut open = String::new();
    prometheus_client::encoding::text::encode(&mut open, registry)?;
    Ok(openmetrics_to_classic(&open))
}

/// Converts OpenMetrics text (as `prometheus_client::encoding::text::encode` writes it) to
/// the classic Prometheus text format 0.0.4.
///
/// - `# EOF` and `# UNIT` lines are dropped (classic text has neither).
/// - A counter family `foo` whose samples are `foo_total` is announced as `foo_total` in
///   its `# HELP` and `# TYPE` lines, which is the name classic parsers match samples
///   against; a counter without samples gets `_total` too, as its samples would.
/// - `_created` samples of counters, histograms and summaries are dropped.
/// - Exemplars (`… # {trace_id="…"} 1.0`) are dropped.
/// - `info` and `stateset` families become `gauge`, `unknown` becomes `untyped`, and
///   `gaugehistogram` loses its `# TYPE` line (its samples stay, untyped).
/// - `\"` in `# HELP` text becomes `"` (classic text escapes only `\\` and `\n` there).
///
/// Classic text goes through unchanged, so calling this on text that may be either is
/// safe. Sample timestamps are left as they are (prometheus-client writes none).
pub fn openmetrics_to_classic(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // The family whose HELP/TYPE lines were read but not yet written: its final name
    // depends on its first sample.
    let mut pending: Option<Header> = None;
    // The family the samples being read belong to (its name as announced in the input).
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let keyword = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            match keyword {
                "HELP" | "TYPE" | "UNIT" => {
                    if pending.as_ref().is_some_and(|h| h.name != name) {
                        if let Some(h) = pending.take() {
                            h.write(&mut out, None);
                        }
                    }
                    let header = pending.get_or_insert_with(|| Header::new(name));
                    match keyword {
                        "HELP" => header.help = Some(unescape_help(value)),
                        "TYPE" => header.kind = Some(value.to_string()),
                        _ => {}
                    }
                    current = None;
                    continue;
                }
                _ => {}
            }
        }
        if line.starts_with('#') {
            if let Some(h) = pending.take() {
                h.write(&mut out, None);
            }
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let sample = sample_name(line);
        if let Some(h) = pending.take() {
            current = Some((h.name.clone(), h.kind.clone().unwrap_or_default()));
            h.write(&mut out, Some(sample));
        }
        if let Some((family, kind)) = &current {
            let created = sample
                .strip_suffix("_created")
                .is_some_and(|base| base == family || base == format!("{family}_total"));
            if created && matches!(kind.as_str(), "counter" | "histogram" | "summary") {
                continue;
            }
        }
        out.push_str(strip_exemplar(line));
        out.push('\n');
    }
    if let Some(h) = pending.take() {
        h.write(&mut out, None);
    }
    out
}

/// A family's `# HELP` and `# TYPE`, held until its first sample names it.
struct Header {
    name: String,
    help: Option<String>,
    kind: Option<String>,
}

impl Header {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            help: None,
            kind: None,
        }
    }

    /// Writes the header in classic form; `first_sample` is the name of the family's
    /// first sample, if it has one.
    fn write(&self, out: &mut String, first_sample: Option<&str>) {
        let name = self.name.as_str();
        let (name, kind) = match self.kind.as_deref() {
            Some("counter") if !name.ends_with("_total") && first_sample != Some(name) => {
                (format!("{name}_total"), Some("counter"))
            }
            Some("info") if !name.ends_with("_info") => (format!("{name}_info"), Some("gauge")),
            Some("info" | "stateset") => (name.to_string(), Some("gauge")),
            Some("unknown") => (name.to_string(), Some("untyped")),
            Some("gaugehistogram") => (name.to_string(), None),
            other => (name.to_string(), other),
        };
        if let Some(help) = &self.help {
            out.push_str(&format!("# HELP {name} {help}\n"));
        }
        if let Some(kind) = kind {
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        }
    }
}

/// `\"` becomes `"`; `\\` and `\n` stay escaped.
fn unescape_help(help: &str) -> String {
    let mut out = String::with_capacity(help.len());
    let mut chars = help.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The metric name a sample line starts with.
fn sample_name(line: &str) -> &str {
    let end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    &line[..end]
}

/// The sample without its exemplar: whatever follows ` # ` after the label set.
fn strip_exemplar(line: &str) -> &str {
    // Skip the label set, whose quoted values may hold anything, " # " included.
    let mut after_labels = 0;
    if let Some(open) = line.find('{').filter(|&i| i == sample_name(line).len()) {
        let mut in_quotes = false;
        let mut escaped = false;
        for (i, c) in line[open..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_quotes => escaped = true,
                '"' => in_quotes = !in_quotes,
                '}' if !in_quotes => {
                    after_labels = open + i + 1;
                    break;
                }
                _ => {}
            }
        }
    }
    match line[after_labels..].find(" # ") {
        Some(i) => line[..after_labels + i].trim_end(),
        None => line,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use prometheus_client::metrics::{counter::Counter, gauge::Gauge, histogram::Histogram};
    use prometheus_client::registry::Unit;

    use super::*;

    #[test]
    fn counters_are_named_by_their_samples_and_openmetrics_lines_go() {
        let mut registry = Registry::default();
        let c = Counter::<u64>::default();
        c.inc_by(3);
        registry.register("node_blocks_written", "Blocks written", c);
        let g = Gauge::<i64>::default();
        g.set(7);
        registry.register("node_height", "Height", g);
        let h = Histogram::new([0.5, 1.0]);
        h.observe(0.7);
        registry.register_with_unit("node_latency", "Latency", Unit::Seconds, h);
        let text = encode(&registry).unwrap();
        assert_eq!(
            text,
            "# HELP node_blocks_written_total Blocks written.\n\
             # TYPE node_blocks_written_total counter\n\
             node_blocks_written_total 3\n\
             # HELP node_height Height.\n\
             # TYPE node_height gauge\n\
             node_height 7\n\
             # HELP node_latency_seconds Latency.\n\
             # TYPE node_latency_seconds histogram\n\
             node_latency_seconds_sum 0.7\n\
             node_latency_seconds_count 1\n\
             node_latency_seconds_bucket{le=\"0.5\"} 0\n\
             node_latency_seconds_bucket{le=\"1.0\"} 1\n\
             node_latency_seconds_bucket{le=\"+Inf\"} 1\n"
        );
    }

    #[test]
    fn conversion_table() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "counter is announced with _total, EOF dropped",
                "# HELP a_requests Requests.\n# TYPE a_requests counter\na_requests_total{route=\"/\"} 3\n# EOF\n",
                "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\na_requests_total{route=\"/\"} 3\n",
            ),
            (
                "counter without samples gets _total",
                "# HELP a_requests Requests.\n# TYPE a_requests counter\n# EOF\n",
                "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\n",
            ),
            (
                "classic counter unchanged",
                "# HELP b_total B.\n# TYPE b_total counter\nb_total 1\n",
                "# HELP b_total B.\n# TYPE b_total counter\nb_total 1\n",
            ),
            (
                "old-style classic counter without _total unchanged",
                "# TYPE c counter\nc 1\n",
                "# TYPE c counter\nc 1\n",
            ),
            (
                "unit dropped, histogram unchanged, _created dropped",
                "# HELP d_seconds D.\n# TYPE d_seconds histogram\n# UNIT d_seconds seconds\nd_seconds_sum 0.5\nd_seconds_count 1\nd_seconds_bucket{le=\"+Inf\"} 1\nd_seconds_created 1700000000.0\n",
                "# HELP d_seconds D.\n# TYPE d_seconds histogram\nd_seconds_sum 0.5\nd_seconds_count 1\nd_seconds_bucket{le=\"+Inf\"} 1\n",
            ),
            (
                "counter _created dropped, exemplar dropped",
                "# TYPE e counter\ne_total 2 # {trace_id=\"x\"} 1.0\ne_created 1.0\n",
                "# TYPE e_total counter\ne_total 2\n",
            ),
            (
                "' # ' inside a label value is not an exemplar",
                "# TYPE f gauge\nf{m=\"a # b\"} 1\n",
                "# TYPE f gauge\nf{m=\"a # b\"} 1\n",
            ),
            (
                "info becomes a gauge named _info",
                "# HELP g Build.\n# TYPE g info\ng_info{version=\"1\"} 1\n",
                "# HELP g_info Build.\n# TYPE g_info gauge\ng_info{version=\"1\"} 1\n",
            ),
            (
                "unknown becomes untyped",
                "# TYPE h unknown\nh 1\n",
                "# TYPE h untyped\nh 1\n",
            ),
            (
                "HELP quote unescaped, backslash and newline kept",
                "# HELP i say \\\"hi\\\" \\\\ \\n\n# TYPE i gauge\ni 1\n",
                "# HELP i say \"hi\" \\\\ \\n\n# TYPE i gauge\ni 1\n",
            ),
            (
                "two families in a row",
                "# HELP j J.\n# TYPE j counter\n# HELP k K.\n# TYPE k gauge\nk 1\n# EOF\n",
                "# HELP j_total J.\n# TYPE j_total counter\n# HELP k K.\n# TYPE k gauge\nk 1\n",
            ),
            ("empty", "", ""),
        ];
        for (what, input, want) in cases {
            assert_eq!(openmetrics_to_classic(input), *want, "{what}");
            // Idempotent: classic text goes through unchanged.
            assert_eq!(openmetrics_to_classic(want), *want, "{what} (again)");
        }
    }

    #[test]
    fn unknown_is_untyped_and_other_lines_pass_through() {
        let text =
            openmetrics_to_classic("# HELP a An a.\n# TYPE a unknown\na{x=\"1\"} 2\n# EOF\n");
        assert_eq!(text, "# HELP a An a.\n# TYPE a untyped\na{x=\"1\"} 2\n");
    }
}
