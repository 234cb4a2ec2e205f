//! Log lines: every line the container prints is one JSON object, shaped like
//! `tracing-subscriber`'s JSON output (`timestamp`, `level`, `fields.message`, `target`),
//! plus `process` (which program said it) and `node_id` (`LOCAL_NODE_ID`).
//!
//! A child's line that already is a JSON object gets `process` and `node_id` added; any
//! other line (plain text, a panic message, clap's usage text) is wrapped whole into
//! `fields.message`, with `stream` saying where it came from.

use std::{
    io::Write,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::{json, Map, Value};

/// The entrypoint's own `process` name.
pub const SELF_NAME: &str = "mcnode-entrypoint";

/// Log levels the entrypoint writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Normal operation.
    Info,
    /// Something an operator may want to look at.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }
}

/// Where a child's line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for `t` (UTC).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Writes log lines for one node.
#[derive(Clone, Debug)]
pub struct Logger {
    node_id: String,
}

impl Logger {
    /// A logger whose lines carry `node_id`.
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
        }
    }

    /// The entrypoint's own line: `message` and `fields` under `fields`.
    pub fn own_line(&self, level: Level, message: &str, fields: &[(&str, Value)]) -> String {
        let mut f = Map::new();
        f.insert("message".into(), Value::String(message.into()));
        for (k, v) in fields {
            f.insert((*k).into(), v.clone());
        }
        let mut line = json!({
            "timestamp": rfc3339(SystemTime::now()),
            "level": level.as_str(),
            "fields": f,
            "target": "mcnode_entrypoint",
            "process": SELF_NAME,
        });
        if !self.node_id.is_empty() {
            line["node_id"] = Value::String(self.node_id.clone());
        }
        line.to_string()
    }

    /// A child's line, as printed: a JSON object gains `process` and `node_id`; anything
    /// else is wrapped.
    pub fn child_line(&self, process: &str, stream: Stream, raw: &str) -> String {
        let raw = raw.trim_end_matches(['\n', '\r']);
        if raw.starts_with('{') {
            if let Ok(mut obj) = serde_json::from_str::<Map<String, Value>>(raw) {
                obj.insert("process".into(), Value::String(process.into()));
                if !self.node_id.is_empty() {
                    obj.entry("node_id")
                        .or_insert_with(|| Value::String(self.node_id.clone()));
                }
                return Value::Object(obj).to_string();
            }
        }
        let lower = raw.trim_start().to_ascii_lowercase();
        let level = if lower.starts_with("error")
            || lower.contains(": error:")
            || lower.starts_with("thread '") && lower.contains("panicked")
        {
            Level::Error
        } else {
            Level::Info
        };
        let mut line = json!({
            "timestamp": rfc3339(SystemTime::now()),
            "level": level.as_str(),
            "fields": { "message": raw },
            "target": process,
            "process": process,
            "stream": match stream { Stream::Stdout => "stdout", Stream::Stderr => "stderr" },
        });
        if !self.node_id.is_empty() {
            line["node_id"] = Value::String(self.node_id.clone());
        }
        line.to_string()
    }

    /// Prints the entrypoint's own line on stdout.
    pub fn log(&self, level: Level, message: &str, fields: &[(&str, Value)]) {
        emit(&self.own_line(level, message, fields));
    }
}

/// Prints one line on stdout, whole (one write under the lock). A closed stdout is
/// ignored: the processes keep running.
pub fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let _ = out.write_all(&buf);
    let _ = out.flush();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = |s: u64, us: u64| {
            rfc3339(UNIX_EPOCH + Duration::from_secs(s) + Duration::from_micros(us))
        };
        assert_eq!(t(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(t(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
        assert_eq!(t(1_709_251_199, 999_999), "2024-02-29T23:59:59.999999Z");
        assert_eq!(t(4_102_444_800, 0), "2100-01-01T00:00:00.000000Z");
    }

    #[test]
    fn json_lines_of_children_gain_process_and_node() {
        let l = Logger::new("node0:8443");
        let raw = r#"{"timestamp":"t","level":"INFO","fields":{"message":"hi"},"target":"x"}"#;
        let v: Value =
            serde_json::from_str(&l.child_line("consensus-service", Stream::Stderr, raw)).unwrap();
        assert_eq!(v["process"], "consensus-service");
        assert_eq!(v["node_id"], "node0:8443");
        assert_eq!(v["fields"]["message"], "hi");
        assert_eq!(v["timestamp"], "t");
    }

    #[test]
    fn other_lines_are_wrapped_whole() {
        let l = Logger::new("node0:8443");
        for (raw, level) in [
            ("error: --network: no such file\n", "ERROR"),
            (
                "ledger-distribution: error: bucket x does not exist",
                "ERROR",
            ),
            ("thread 'main' panicked at src/x.rs:1:1:", "ERROR"),
            ("listening on 0.0.0.0:8000", "INFO"),
            ("{not json", "INFO"),
            ("", "INFO"),
        ] {
            let v: Value =
                serde_json::from_str(&l.child_line("mc-admin-http-gateway", Stream::Stderr, raw))
                    .unwrap();
            assert_eq!(v["fields"]["message"], raw.trim_end(), "{raw}");
            assert_eq!(v["level"], level, "{raw}");
            assert_eq!(v["stream"], "stderr");
            assert_eq!(v["process"], "mc-admin-http-gateway");
            assert_eq!(v["node_id"], "node0:8443");
        }
    }

    #[test]
    fn own_lines_carry_fields() {
        let l = Logger::new("");
        let v: Value = serde_json::from_str(&l.own_line(
            Level::Warn,
            "restarting",
            &[("after_ms", json!(1000))],
        ))
        .unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["process"], SELF_NAME);
        assert_eq!(v["fields"]["message"], "restarting");
        assert_eq!(v["fields"]["after_ms"], 1000);
        assert!(v.get("node_id").is_none());
    }
}
