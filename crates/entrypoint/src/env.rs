//! The container's environment: which variables the entrypoint reads, what they mean, and
//! how they are checked. Pure: [`Config::from_lookup`] takes a lookup function and the
//! `docker run` arguments, so tests need no process environment.
//!
//! | variable | required | meaning |
//! |---|---|---|
//! | `LOCAL_NODE_ID` | yes | `host:port`, the node's name in logs (ideally its `--peer-responder-id`) |
//! | `NODE_LEDGER_DIR` | yes | absolute path of the LMDB ledger directory; the origin ledger is copied in when it is empty |
//! | `CONSENSUS_ADMIN_URI` | yes | `insecure-mca://127.0.0.1:9091/` or `mca://…`: consensus-service's `--admin-listen-uri` and the gateway's `--admin-uri` |
//! | `AWS_PATH` | no | `s3://bucket/prefix` or `file:///dir`: where `ledger-distribution` publishes; unset: not started |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | with an `s3://` `AWS_PATH` | S3 credentials |
//! | `SGX_MODE` | no | `SW` or `HW`, passed on |
//! | `IAS_MODE` | no | `DEV` or `PROD`, passed on |
//! | `RUST_LOG` | no | log filter, passed on (default `info`) |
//! | `RUST_BACKTRACE` | no | `0`, `1` or `full`, passed on |
//! | `ORIGIN_BLOCK_PATH` | no | the origin ledger (directory with `data.mdb`, or the file); default `/origin`, or `--origin-block-path` when given |
//! | `NODE_STATE_DIR` | no | where the sealed block-signing key, host secret and ledger-distribution state live; default `/var/lib/mcnode` |
//! | `MCNODE_BIN_DIR` | no | where the node binaries are; default the entrypoint's own directory |
//! | `DISTRIBUTION_METRICS_LISTEN` | no | `ledger-distribution`'s `--metrics-listen` address; default `0.0.0.0:9092`, `off` for none |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default of `NODE_STATE_DIR`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/mcnode";
/// Default of `ORIGIN_BLOCK_PATH`.
pub const DEFAULT_ORIGIN_BLOCK_PATH: &str = "/origin";
/// `ledger-distribution`'s state file, in the state directory.
pub const DISTRIBUTION_STATE_FILE: &str = "ledger-distribution-state.json";
/// The sealed block-signing key, in the state directory.
pub const SEALED_KEY_FILE: &str = "sealed-block-signing-key";
/// Default of `DISTRIBUTION_METRICS_LISTEN`.
pub const DEFAULT_DISTRIBUTION_METRICS_LISTEN: &str = "0.0.0.0:9092";
/// The host secret the sealing key derives from, in the state directory.
pub const HOST_SECRET_FILE: &str = "host-secret";

/// One problem with the environment or the arguments. Each names the variable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A required variable is unset or empty.
    #[error("{name} is not set: {hint}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What to set it to.
        hint: &'static str,
    },
    /// A variable's value is not acceptable.
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong and what would be right.
        reason: String,
    },
    /// A consensus-service argument (or its `MC_` variable) says otherwise than the
    /// entrypoint's variable that also feeds the other processes.
    #[error("{given} contradicts {name}={expected:?}: the other processes use {name}, so drop {given} or make it equal")]
    Contradiction {
        /// The argument or variable as given, e.g. `--ledger-path /x`.
        given: String,
        /// The entrypoint's variable.
        name: &'static str,
        /// That variable's value.
        expected: String,
    },
}

/// Where `ledger-distribution` publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Archive {
    /// `s3://bucket/prefix`.
    S3(String),
    /// `file:///dir`.
    Dir(String),
}

impl Archive {
    /// The URL as given.
    pub fn url(&self) -> &str {
        match self {
            Self::S3(u) | Self::Dir(u) => u,
        }
    }
}

/// Everything the entrypoint needs, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `LOCAL_NODE_ID`.
    pub local_node_id: String,
    /// `NODE_LEDGER_DIR`.
    pub ledger_dir: PathBuf,
    /// `CONSENSUS_ADMIN_URI`.
    pub admin_uri: String,
    /// `AWS_PATH`; `None`: ledger-distribution is not started.
    pub archive: Option<Archive>,
    /// `NODE_STATE_DIR`.
    pub state_dir: PathBuf,
    /// `DISTRIBUTION_METRICS_LISTEN`: where ledger-distribution serves `/metrics`;
    /// `None` when set to `off`.
    pub distribution_metrics: Option<SocketAddr>,
    /// The origin ledger copied into an empty ledger directory.
    pub origin_block_path: PathBuf,
    /// `MCNODE_BIN_DIR`.
    pub bin_dir: PathBuf,
    /// The `docker run` arguments, for consensus-service.
    pub consensus_args: Vec<String>,
    /// Variables set for every child on top of the inherited environment.
    pub child_env: Vec<(String, String)>,
}

/// The value of `--flag VALUE` or `--flag=VALUE` in `args` (the last one, as clap takes it).
pub fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let mut found = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == flag {
            found = it.next().map(String::as_str);
        } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            found = Some(v);
        }
    }
    found
}

/// Checks `host:port` (a DNS name, IPv4 address or bracketed IPv6 address, port 1..=65535).
fn check_host_port(s: &str) -> Result<(), String> {
    let expected = "expected host:port, e.g. node1.example.com:8443";
    let (host, port) = s.rsplit_once(':').ok_or_else(|| expected.to_string())?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'));
    if !host_ok {
        return Err(format!("bad host {host:?}; {expected}"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("bad port {port:?}; {expected}")),
    }
}

/// Checks an admin URI: `insecure-mca://HOST:PORT/` or `mca://HOST:PORT/?...`.
fn check_admin_uri(s: &str) -> Result<(), String> {
    let expected = "expected insecure-mca://HOST:PORT/ (e.g. insecure-mca://127.0.0.1:9091/) or mca://HOST:PORT/";
    let url = url::Url::parse(s).map_err(|e| format!("{e}; {expected}"))?;
    if !matches!(url.scheme(), "mca" | "insecure-mca") {
        return Err(format!("scheme {:?}; {expected}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host; {expected}"));
    }
    Ok(())
}

/// Checks `AWS_PATH`.
fn parse_archive(s: &str) -> Result<Archive, String> {
    let expected = "expected s3://BUCKET/PREFIX or file:///ABSOLUTE/DIR";
    if let Some(rest) = s.strip_prefix("s3://") {
        let bucket = rest.split('/').next().unwrap_or_default();
        if bucket.is_empty() {
            return Err(format!("no bucket; {expected}"));
        }
        return Ok(Archive::S3(s.to_string()));
    }
    if let Some(path) = s.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(format!("not an absolute path; {expected}"));
        }
        return Ok(Archive::Dir(s.to_string()));
    }
    Err(expected.to_string())
}

impl Config {
    /// Reads and checks the environment through `get` (unset and empty are the same) and
    /// the `docker run` arguments `args`. Returns every problem found, not just the
    /// first. `default_bin_dir` is used when `MCNODE_BIN_DIR` is unset.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        args: Vec<String>,
        default_bin_dir: &Path,
    ) -> Result<Self, Vec<EnvError>> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut errors = Vec::new();
        let mut required = |name: &'static str, hint: &'static str| {
            let v = get(name);
            if v.is_none() {
                errors.push(EnvError::Missing { name, hint });
            }
            v
        };
        let local_node_id = required(
            "LOCAL_NODE_ID",
            "set it to this node's host:port (its --peer-responder-id), e.g. node1.example.com:8443",
        );
        let ledger_dir = required(
            "NODE_LEDGER_DIR",
            "set it to the ledger directory, a persistent volume, e.g. /var/lib/mcnode/ledger",
        );
        let admin_uri = required(
            "CONSENSUS_ADMIN_URI",
            "set it to consensus-service's admin gRPC address, e.g. insecure-mca://127.0.0.1:9091/",
        );
        let mut invalid = |name: &'static str, value: &str, reason: String| {
            errors.push(EnvError::Invalid {
                name,
                value: value.to_string(),
                reason,
            });
        };

        if let Some(v) = &local_node_id {
            if let Err(reason) = check_host_port(v) {
                invalid("LOCAL_NODE_ID", v, reason);
            }
        }
        if let Some(v) = &ledger_dir {
            if !v.starts_with('/') {
                invalid("NODE_LEDGER_DIR", v, "expected an absolute path".into());
            }
        }
        if let Some(v) = &admin_uri {
            if let Err(reason) = check_admin_uri(v) {
                invalid("CONSENSUS_ADMIN_URI", v, reason);
            }
        }
        let archive = match get("AWS_PATH") {
            None => None,
            Some(v) => match parse_archive(&v) {
                Ok(a) => Some(a),
                Err(reason) => {
                    invalid("AWS_PATH", &v, reason);
                    None
                }
            },
        };
        for (name, allowed) in [
            ("SGX_MODE", &["SW", "HW"][..]),
            ("IAS_MODE", &["DEV", "PROD"][..]),
            ("RUST_BACKTRACE", &["0", "1", "full"][..]),
        ] {
            if let Some(v) = get(name) {
                if !allowed.contains(&v.as_str()) {
                    invalid(name, &v, format!("expected one of {}", allowed.join(", ")));
                }
            }
        }
        let state_dir = get("NODE_STATE_DIR").unwrap_or_else(|| DEFAULT_STATE_DIR.into());
        if !state_dir.starts_with('/') {
            invalid(
                "NODE_STATE_DIR",
                &state_dir,
                "expected an absolute path".into(),
            );
        }
        let metrics_value = get("DISTRIBUTION_METRICS_LISTEN")
            .unwrap_or_else(|| DEFAULT_DISTRIBUTION_METRICS_LISTEN.into());
        let distribution_metrics = if metrics_value.eq_ignore_ascii_case("off") {
            None
        } else {
            match metrics_value.parse::<SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    invalid(
                        "DISTRIBUTION_METRICS_LISTEN",
                        &metrics_value,
                        "expected ip:port (e.g. 0.0.0.0:9092) or off".into(),
                    );
                    None
                }
            }
        };
        let origin_block_path = flag_value(&args, "--origin-block-path")
            .map(str::to_string)
            .or_else(|| get("ORIGIN_BLOCK_PATH"))
            .unwrap_or_else(|| DEFAULT_ORIGIN_BLOCK_PATH.into());
        let bin_dir =
            get("MCNODE_BIN_DIR").map_or_else(|| default_bin_dir.to_path_buf(), PathBuf::from);
        if let Some(Archive::S3(_)) = &archive {
            for (name, hint) in [
                (
                    "AWS_ACCESS_KEY_ID",
                    "AWS_PATH is an s3:// URL: give the credentials of a key that may write to it",
                ),
                (
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_PATH is an s3:// URL: give the credentials of a key that may write to it",
                ),
            ] {
                if get(name).is_none() {
                    errors.push(EnvError::Missing { name, hint });
                }
            }
        }

        // The ledger and admin address feed several processes: one source each.
        if let Some(dir) = &ledger_dir {
            let given = flag_value(&args, "--ledger-path")
                .map(|v| (format!("--ledger-path {v}"), v.to_string()))
                .or_else(|| get("MC_LEDGER_PATH").map(|v| (format!("MC_LEDGER_PATH={v}"), v)));
            if let Some((given, value)) = given {
                if Path::new(&value) != Path::new(dir) {
                    errors.push(EnvError::Contradiction {
                        given,
                        name: "NODE_LEDGER_DIR",
                        expected: dir.clone(),
                    });
                }
            }
        }
        if let Some(uri) = &admin_uri {
            let given = flag_value(&args, "--admin-listen-uri")
                .map(|v| (format!("--admin-listen-uri {v}"), v.to_string()))
                .or_else(|| {
                    get("MC_ADMIN_LISTEN_URI").map(|v| (format!("MC_ADMIN_LISTEN_URI={v}"), v))
                });
            if let Some((given, value)) = given {
                if value.trim_end_matches('/') != uri.trim_end_matches('/') {
                    errors.push(EnvError::Contradiction {
                        given,
                        name: "CONSENSUS_ADMIN_URI",
                        expected: uri.clone(),
                    });
                }
            }
        }

        let (Some(local_node_id), Some(ledger_dir), Some(admin_uri), true) =
            (local_node_id, ledger_dir, admin_uri, errors.is_empty())
        else {
            return Err(errors);
        };
        let state_dir = PathBuf::from(state_dir);
        let mut child_env = vec![
            ("MC_LEDGER_PATH".to_string(), ledger_dir.clone()),
            ("MC_ADMIN_LISTEN_URI".to_string(), admin_uri.clone()),
        ];
        let mut default = |name: &str, value: String| {
            if get(name).is_none() {
                child_env.push((name.to_string(), value));
            }
        };
        default("MC_LOG_FORMAT", "json".into());
        default("RUST_LOG", "info".into());
        if flag_value(&args, "--sealed-block-signing-key").is_none() {
            default(
                "MC_SEALED_BLOCK_SIGNING_KEY",
                state_dir.join(SEALED_KEY_FILE).display().to_string(),
            );
        }
        if flag_value(&args, "--host-secret-path").is_none() {
            default(
                "MC_HOST_SECRET_PATH",
                state_dir.join(HOST_SECRET_FILE).display().to_string(),
            );
        }
        Ok(Self {
            local_node_id,
            ledger_dir: PathBuf::from(ledger_dir),
            admin_uri,
            archive,
            state_dir,
            distribution_metrics,
            origin_block_path: PathBuf::from(origin_block_path),
            bin_dir,
            consensus_args: args,
            child_env,
        })
    }

    /// `ledger-distribution`'s state file.
    pub fn distribution_state_file(&self) -> PathBuf {
        self.state_dir.join(DISTRIBUTION_STATE_FILE)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const GOOD: &[(&str, &str)] = &[
        ("LOCAL_NODE_ID", "node0:8443"),
        ("NODE_LEDGER_DIR", "/var/lib/mcnode/ledger"),
        ("CONSENSUS_ADMIN_URI", "insecure-mca://127.0.0.1:9091/"),
        ("AWS_PATH", "s3://archive/node0"),
        ("AWS_ACCESS_KEY_ID", "id"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

    fn env(pairs: &[(&str, &str)], changes: &[(&str, Option<&str>)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in changes {
            match v {
                Some(v) => m.insert(k.to_string(), v.to_string()),
                None => m.remove(*k),
            };
        }
        m
    }

    fn check(m: &HashMap<String, String>, args: &[&str]) -> Result<Config, Vec<EnvError>> {
        Config::from_lookup(
            |k| m.get(k).cloned(),
            args.iter().map(|s| s.to_string()).collect(),
            Path::new("/usr/local/bin"),
        )
    }

    fn messages(m: &HashMap<String, String>, args: &[&str]) -> Vec<String> {
        check(m, args)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_good_environment_gives_the_children_their_settings() {
        let c = check(&env(GOOD, &[]), &["--network", "/n.toml"]).unwrap();
        assert_eq!(c.local_node_id, "node0:8443");
        assert_eq!(c.archive, Some(Archive::S3("s3://archive/node0".into())));
        assert_eq!(
            c.origin_block_path,
            PathBuf::from(DEFAULT_ORIGIN_BLOCK_PATH)
        );
        assert_eq!(c.bin_dir, PathBuf::from("/usr/local/bin"));
        assert_eq!(c.consensus_args, ["--network", "/n.toml"]);
        let e: HashMap<_, _> = c.child_env.iter().cloned().collect();
        assert_eq!(e["MC_LEDGER_PATH"], "/var/lib/mcnode/ledger");
        assert_eq!(e["MC_ADMIN_LISTEN_URI"], "insecure-mca://127.0.0.1:9091/");
        assert_eq!(e["MC_LOG_FORMAT"], "json");
        assert_eq!(e["RUST_LOG"], "info");
        assert_eq!(
            e["MC_SEALED_BLOCK_SIGNING_KEY"],
            "/var/lib/mcnode/sealed-block-signing-key"
        );
        assert_eq!(e["MC_HOST_SECRET_PATH"], "/var/lib/mcnode/host-secret");
        assert_eq!(
            c.distribution_state_file(),
            PathBuf::from("/var/lib/mcnode/ledger-distribution-state.json")
        );
        assert_eq!(
            c.distribution_metrics,
            Some("0.0.0.0:9092".parse().unwrap())
        );
    }

    #[test]
    fn distribution_metrics_can_move_or_be_turned_off() {
        let at = |v: &str| {
            check(&env(GOOD, &[("DISTRIBUTION_METRICS_LISTEN", Some(v))]), &[])
                .unwrap()
                .distribution_metrics
        };
        assert_eq!(
            at("127.0.0.1:9300"),
            Some("127.0.0.1:9300".parse().unwrap())
        );
        assert_eq!(at("off"), None);
        assert_eq!(
            messages(
                &env(GOOD, &[("DISTRIBUTION_METRICS_LISTEN", Some("9092"))]),
                &[]
            ),
            ["DISTRIBUTION_METRICS_LISTEN=\"9092\" is invalid: expected ip:port (e.g. 0.0.0.0:9092) or off"]
        );
    }

    #[test]
    fn each_missing_required_variable_is_named() {
        for name in ["LOCAL_NODE_ID", "NODE_LEDGER_DIR", "CONSENSUS_ADMIN_URI"] {
            for value in [None, Some(""), Some("  ")] {
                let errs = check(&env(GOOD, &[(name, value)]), &[]).unwrap_err();
                assert_eq!(errs.len(), 1, "{name}: {errs:?}");
                assert!(
                    matches!(&errs[0], EnvError::Missing { name: n, .. } if *n == name),
                    "{errs:?}"
                );
                assert!(errs[0]
                    .to_string()
                    .starts_with(&format!("{name} is not set: ")));
            }
        }
        // All at once: every one reported.
        let m = messages(&HashMap::new(), &[]);
        assert_eq!(m.len(), 3, "{m:?}");
    }

    #[test]
    fn bad_values_are_named_with_what_is_expected() {
        let table: &[(&str, &str, &str)] = &[
            ("LOCAL_NODE_ID", "node0", "expected host:port"),
            ("LOCAL_NODE_ID", "node0:0", "bad port"),
            ("LOCAL_NODE_ID", "node0:99999", "bad port"),
            ("LOCAL_NODE_ID", "no de:1", "bad host"),
            ("NODE_LEDGER_DIR", "ledger", "absolute path"),
            (
                "CONSENSUS_ADMIN_URI",
                "http://127.0.0.1:9091/",
                "scheme \"http\"",
            ),
            ("CONSENSUS_ADMIN_URI", "127.0.0.1:9091", "insecure-mca://"),
            ("AWS_PATH", "bucket/node0", "expected s3://"),
            ("AWS_PATH", "s3:///node0", "no bucket"),
            ("AWS_PATH", "file://relative", "not an absolute path"),
            ("SGX_MODE", "sim", "SW, HW"),
            ("IAS_MODE", "prod", "DEV, PROD"),
            ("RUST_BACKTRACE", "yes", "0, 1, full"),
            ("NODE_STATE_DIR", "state", "absolute path"),
        ];
        for (name, value, want) in table {
            let m = messages(&env(GOOD, &[(name, Some(value))]), &[]);
            assert_eq!(m.len(), 1, "{name}={value}: {m:?}");
            assert!(
                m[0].starts_with(&format!("{name}={value:?} is invalid: ")) && m[0].contains(want),
                "{name}={value}: {m:?}"
            );
        }
    }

    #[test]
    fn s3_needs_credentials_but_a_directory_or_nothing_does_not() {
        let m = messages(
            &env(
                GOOD,
                &[("AWS_ACCESS_KEY_ID", None), ("AWS_SECRET_ACCESS_KEY", None)],
            ),
            &[],
        );
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].starts_with("AWS_ACCESS_KEY_ID is not set"));
        assert!(m[1].starts_with("AWS_SECRET_ACCESS_KEY is not set"));

        let c = check(
            &env(
                GOOD,
                &[
                    ("AWS_PATH", Some("file:///archive")),
                    ("AWS_ACCESS_KEY_ID", None),
                    ("AWS_SECRET_ACCESS_KEY", None),
                ],
            ),
            &[],
        )
        .unwrap();
        assert_eq!(c.archive, Some(Archive::Dir("file:///archive".into())));
        let c = check(&env(GOOD, &[("AWS_PATH", None)]), &[]).unwrap();
        assert_eq!(c.archive, None);
    }

    #[test]
    fn arguments_that_contradict_the_environment_are_refused() {
        for args in [
            &["--ledger-path", "/elsewhere"][..],
            &["--ledger-path=/elsewhere"][..],
        ] {
            let m = messages(&env(GOOD, &[]), args);
            assert_eq!(m.len(), 1, "{m:?}");
            assert!(
                m[0].contains("/elsewhere") && m[0].contains("NODE_LEDGER_DIR"),
                "{m:?}"
            );
        }
        let m = messages(&env(GOOD, &[("MC_LEDGER_PATH", Some("/x"))]), &[]);
        assert!(
            m[0].starts_with("MC_LEDGER_PATH=/x contradicts NODE_LEDGER_DIR"),
            "{m:?}"
        );
        let m = messages(
            &env(GOOD, &[]),
            &["--admin-listen-uri", "insecure-mca://0.0.0.0:1/"],
        );
        assert!(m[0].contains("CONSENSUS_ADMIN_URI"), "{m:?}");
        // The same values are fine.
        check(
            &env(GOOD, &[]),
            &[
                "--ledger-path",
                "/var/lib/mcnode/ledger/",
                "--admin-listen-uri=insecure-mca://127.0.0.1:9091",
            ],
        )
        .unwrap();
    }

    #[test]
    fn given_settings_are_not_overridden() {
        let m = env(
            GOOD,
            &[
                ("MC_LOG_FORMAT", Some("text")),
                ("RUST_LOG", Some("debug")),
                ("ORIGIN_BLOCK_PATH", Some("/o")),
                ("NODE_STATE_DIR", Some("/state")),
            ],
        );
        let c = check(&m, &["--sealed-block-signing-key", "/k"]).unwrap();
        let e: HashMap<_, _> = c.child_env.iter().cloned().collect();
        assert!(!e.contains_key("MC_LOG_FORMAT"));
        assert!(!e.contains_key("RUST_LOG"));
        assert!(!e.contains_key("MC_SEALED_BLOCK_SIGNING_KEY"));
        assert_eq!(e["MC_HOST_SECRET_PATH"], "/state/host-secret");
        assert_eq!(c.origin_block_path, PathBuf::from("/o"));
        // --origin-block-path wins over the variable.
        let c = check(&m, &["--origin-block-path", "/arg"]).unwrap();
        assert_eq!(c.origin_block_path, PathBuf::from("/arg"));
    }

    #[test]
    fn flag_values_take_the_last_of_either_form() {
        let a: Vec<String> = ["--x", "1", "--x=2", "--xy", "3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(flag_value(&a, "--x"), Some("2"));
        assert_eq!(flag_value(&a, "--xy"), Some("3"));
        assert_eq!(flag_value(&a, "--z"), None);
    }
}
