//! Running a localnet's processes: `consensus-service` per node, then (once the node
//! answers on its client port) `ledger-distribution` and `mc-admin-http-gateway` per
//! node; supervising them; stopping them all on SIGINT / SIGTERM.
//!
//! The supervisor is the container entrypoint's ([`mcnode_util::supervise`]): children
//! in their own process groups (a terminal's Ctrl-C reaches only `mcnode`), a child that
//! dies is reported with its log's last lines and restarted with backoff (1 s doubling
//! to 30 s; five quick failures in a row, or a usage error, stop the localnet), and on
//! shutdown every `consensus-service` stops first, then every `ledger-distribution`
//! (so each archive ends with its ledger), then the gateways (SIGTERM, SIGKILL after
//! [`STOP_GRACE`]).

use std::{
    fs,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use mcnode_peers::{NodeUri, Service};
use mcnode_util::{
    policy::RestartPolicy,
    supervise::{ChildSpec, Event, EventSink, Output, Supervisor},
};
use tokio::signal::unix::{signal, SignalKind};

use super::{Manifest, ManifestNode, HOST};
use crate::node_api;

/// `consensus-service`'s log file in a node's directory.
pub const CONSENSUS_LOG: &str = "consensus-service.log";
/// `ledger-distribution`'s log file in a node's directory.
pub const DISTRIBUTION_LOG: &str = "ledger-distribution.log";
/// `mc-admin-http-gateway`'s log file in a node's directory.
pub const GATEWAY_LOG: &str = "mc-admin-http-gateway.log";
/// How long children get between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Lines of a log quoted when its process fails.
const LOG_TAIL_LINES: usize = 15;

const CONSENSUS_SERVICE: &str = "consensus-service";
const LEDGER_DISTRIBUTION: &str = "ledger-distribution";
const ADMIN_GATEWAY: &str = "mc-admin-http-gateway";

/// Finds a node binary: next to the running `mcnode` first, then on `PATH`.
fn find_binary(name: &str) -> anyhow::Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)));
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    beside
        .into_iter()
        .chain(on_path)
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "cannot find {name} next to this mcnode ({}) or on PATH; build the node \
                 binaries with `cargo build --release --workspace --bins` and run \
                 target/release/mcnode (or run `bash scripts/localnet.sh`, which does both)",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "?".into())
            )
        })
}

/// How each run's part of a log file begins.
const LOG_HEADER: &str = "--- mcnode localnet: starting";

/// The last lines of this run in a log file (from its last 16 KiB), indented, for an error message.
fn log_tail(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut bytes = Vec::new();
    if let Ok(mut f) = fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
        let _ = f.read_to_end(&mut bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    // Only this run's lines: from the last header `spawn` wrote.
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(start) = lines.iter().rposition(|l| l.starts_with(LOG_HEADER)) {
        lines.drain(..start);
    }
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    if tail.is_empty() {
        return String::new();
    }
    format!(
        "\n  last lines of {}:\n    {}",
        path.display(),
        tail.join("\n    ")
    )
}

/// The localnet's children under the shared supervisor.
struct Procs(Supervisor, bool);

impl Procs {
    /// `restart`: whether a child that dies is started again.
    fn new(restart: bool) -> Self {
        let events: EventSink = Arc::new(|e: &Event<'_>| {
            let log_of = |spec: &ChildSpec| match &spec.output {
                Output::File { path, .. } => (path.display().to_string(), log_tail(path)),
                Output::Lines(_) => (String::new(), String::new()),
            };
            match e {
                Event::Restarting {
                    spec,
                    exit,
                    ran_for,
                    after,
                    ..
                } => {
                    let (log, tail) = log_of(spec);
                    eprintln!(
                        "localnet: {} exited unexpectedly ({exit}) after {:.1} s; restarting it in {:.1} s; see {log}{tail}",
                        spec.name,
                        ran_for.as_secs_f64(),
                        after.as_secs_f64()
                    );
                }
                Event::Exited { spec, exit } => {
                    let (log, tail) = log_of(spec);
                    eprintln!(
                        "localnet: {} exited unexpectedly ({exit}); not restarted (--no-restart); the others keep running; see {log}{tail}",
                        spec.name
                    );
                }
                Event::GivingUp { spec, exit, reason } => {
                    let (log, tail) = log_of(spec);
                    eprintln!(
                        "localnet: {} exited ({exit}) and is not restarted: {reason}; stopping the localnet; see {log}{tail}",
                        spec.name
                    );
                }
                Event::Killing { spec } => eprintln!(
                    "localnet: {} did not stop within {:?} of SIGTERM; killing it",
                    spec.name, spec.grace
                ),
                Event::RestartFailed { error, .. } => eprintln!("localnet: {error}"),
                Event::Started { .. }
                | Event::Stopping
                | Event::Terminating { .. }
                | Event::Stopped { .. } => {}
            }
        });
        Self(Supervisor::new(RestartPolicy::default(), events), restart)
    }

    /// Starts `bin` with `args` and `envs` (variables starting with `MC_` are not passed
    /// on: the flags define the node), appending its output to `log`; `rank` is its
    /// place in the stop order.
    fn spawn(
        &mut self,
        label: String,
        bin: &Path,
        args: &[String],
        envs: &[(&str, String)],
        log: PathBuf,
        rank: u32,
    ) -> anyhow::Result<()> {
        let env_remove = std::env::vars_os()
            .map(|(k, _)| k)
            .filter(|k| k.to_string_lossy().starts_with("MC_"))
            .collect();
        let mut env: Vec<(String, String)> = Vec::new();
        if std::env::var_os("RUST_LOG").is_none() {
            env.push(("RUST_LOG".into(), "info".into()));
        }
        // The output goes to a file: no colour codes.
        env.push(("NO_COLOR".into(), "1".into()));
        env.extend(envs.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self.0.start(ChildSpec {
            name: label,
            program: bin.to_path_buf(),
            args: args.to_vec(),
            env,
            env_remove,
            output: Output::File {
                path: log,
                header: LOG_HEADER.into(),
            },
            stop_rank: rank,
            grace: STOP_GRACE,
            restart: self.1,
        })?;
        Ok(())
    }
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

/// The flags of node `node`'s `consensus-service` (the msg-signer key goes in the
/// environment, so it does not show in `ps`).
fn consensus_args(dir: &Path, node: &ManifestNode) -> anyhow::Result<Vec<String>> {
    let [client, peer, admin] = node.ports()?;
    let tls = format!(
        "tls-chain={}&tls-key={}",
        super::query_value(&path_arg(&node.file("tls.crt"))),
        super::query_value(&path_arg(&node.file("tls.key")))
    );
    let mut args: Vec<String> = vec![
        "--peer-responder-id".into(),
        node.peer_responder_id.clone(),
        "--client-responder-id".into(),
        node.client_responder_id.clone(),
        "--peer-listen-uri".into(),
        format!("mcp://{HOST}:{peer}/?{tls}"),
        "--client-listen-uri".into(),
        format!("mc://{HOST}:{client}/?{tls}"),
        "--admin-listen-uri".into(),
        format!("insecure-mca://{HOST}:{admin}/"),
        "--network".into(),
        path_arg(&node.file("network.toml")),
        "--ledger-path".into(),
        path_arg(&node.ledger_path),
        "--origin-block-path".into(),
        path_arg(&dir.join("origin").join("ledger")),
        "--sealed-block-signing-key".into(),
        path_arg(&node.file("sealed-block-signing-key")),
        "--host-secret-path".into(),
        path_arg(&node.file("host-secret")),
    ];
    // The chain settings every node shares (block version, tokens, fee recipient).
    args.extend(super::chain::consensus_args(dir)?);
    Ok(args)
}

fn distribution_args(node: &ManifestNode) -> Vec<String> {
    let mut args = vec![
        "--ledger-path".into(),
        path_arg(&node.ledger_path),
        "--dest".into(),
        node.archive.clone(),
        "--state-file".into(),
        path_arg(&node.file("ledger-distribution.state")),
        "--start-from".into(),
        "next".into(),
    ];
    if let Some(metrics) = &node.distribution_metrics {
        args.extend(["--metrics-listen".into(), metrics.clone()]);
    }
    args
}

/// The gateway's flags, if the manifest gives the node one.
fn gateway_args(node: &ManifestNode) -> Option<Vec<String>> {
    Some(vec![
        "--admin-uri".into(),
        node.admin_uri.clone(),
        "--listen".into(),
        node.admin_http.clone()?,
        "--metrics-listen".into(),
        node.metrics_http.clone()?,
    ])
}

/// Every port of `node` with what it is for.
fn node_ports(node: &ManifestNode) -> anyhow::Result<Vec<(u16, &'static str)>> {
    let mut out: Vec<(u16, &str)> = node
        .ports()?
        .into_iter()
        .zip(["client", "peer", "admin"])
        .collect();
    for (addr, role) in [
        (&node.admin_http, "admin panel"),
        (&node.metrics_http, "metrics"),
        (&node.distribution_metrics, "ledger-distribution metrics"),
    ] {
        if let Some(addr) = addr {
            let port = addr
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse().ok())
                .with_context(|| format!("{}: {role} address {addr:?} has no port", node.name))?;
            out.push((port, role));
        }
    }
    Ok(out)
}

/// Refuses to start when a port is taken (most often: this localnet already runs).
fn check_ports_free(manifest: &Manifest) -> anyhow::Result<()> {
    for node in &manifest.nodes {
        for (port, role) in node_ports(node)? {
            if let Err(e) = std::net::TcpListener::bind((HOST, port)) {
                anyhow::bail!(
                    "{}'s {role} port {HOST}:{port} is taken ({e}): is this localnet \
                     already running? Stop it, or stop whatever holds the port",
                    node.name
                );
            }
        }
    }
    Ok(())
}

/// Starts every process and waits until every node answers on its client port.
async fn start(
    procs: &mut Procs,
    dir: &Path,
    manifest: &Manifest,
    ready_timeout: Duration,
) -> anyhow::Result<()> {
    let consensus = find_binary(CONSENSUS_SERVICE)?;
    let distribution = find_binary(LEDGER_DISTRIBUTION)?;
    let gateway = find_binary(ADMIN_GATEWAY)?;
    check_ports_free(manifest)?;
    for node in &manifest.nodes {
        let key_path = node.file("msg-signer-key");
        let key = fs::read_to_string(&key_path)
            .with_context(|| format!("cannot read {}", key_path.display()))?;
        procs.spawn(
            format!("{} {CONSENSUS_SERVICE}", node.name),
            &consensus,
            &consensus_args(dir, node)?,
            &[
                ("MC_MSG_SIGNER_KEY", key.trim().to_string()),
                ("SGX_MODE", "SW".into()),
                ("IAS_MODE", "DEV".into()),
            ],
            node.file(CONSENSUS_LOG),
            0,
        )?;
    }

    let uris = manifest
        .nodes
        .iter()
        .map(|n| NodeUri::parse(&n.client_uri, Service::Client))
        .collect::<Result<Vec<_>, _>>()?;
    let deadline = Instant::now() + ready_timeout;
    let mut ready = vec![false; manifest.nodes.len()];
    while ready.iter().any(|r| !r) {
        for (i, node) in manifest.nodes.iter().enumerate() {
            if ready[i] {
                continue;
            }
            if let Some((label, status)) = procs.0.take_exit() {
                let log = manifest
                    .nodes
                    .iter()
                    .find(|n| label.starts_with(&format!("{} ", n.name)))
                    .map(|n| n.file(CONSENSUS_LOG))
                    .unwrap_or_else(|| node.file(CONSENSUS_LOG));
                anyhow::bail!(
                    "{label} exited ({status}) before answering; see {}{}",
                    log.display(),
                    log_tail(&log)
                );
            }
            ready[i] = node_api::last_block_info(&uris[i], Duration::from_secs(1))
                .await
                .is_ok();
        }
        if ready.iter().all(|r| *r) {
            break;
        }
        if Instant::now() >= deadline {
            let late: Vec<&ManifestNode> = manifest
                .nodes
                .iter()
                .zip(&ready)
                .filter(|(_, r)| !**r)
                .map(|(n, _)| n)
                .collect();
            let log = late[0].file(CONSENSUS_LOG);
            let late: Vec<String> = late
                .iter()
                .map(|n| format!("{} ({})", n.name, n.client_uri))
                .collect();
            anyhow::bail!(
                "no answer from {} within {ready_timeout:?} (--ready-timeout); see {}{}",
                late.join(", "),
                log.display(),
                log_tail(&log)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The ledgers exist now (each node made its own from the origin).
    for node in &manifest.nodes {
        procs.spawn(
            format!("{} {LEDGER_DISTRIBUTION}", node.name),
            &distribution,
            &distribution_args(node),
            &[],
            node.file(DISTRIBUTION_LOG),
            1,
        )?;
        if let Some(args) = gateway_args(node) {
            procs.spawn(
                format!("{} {ADMIN_GATEWAY}", node.name),
                &gateway,
                &args,
                &[],
                node.file(GATEWAY_LOG),
                2,
            )?;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some((label, status)) = procs.0.take_exit() {
        let log = manifest
            .nodes
            .iter()
            .find_map(|n| {
                let binary = label.strip_prefix(&format!("{} ", n.name))?;
                Some(n.file(&format!("{binary}.log")))
            })
            .unwrap_or_else(|| dir.join("?"));
        anyhow::bail!(
            "{label} exited ({status}) right after starting; see {}{}",
            log.display(),
            log_tail(&log)
        );
    }
    Ok(())
}

/// Starts the localnet of `manifest` in `dir`, prints `summary` (stdout) and `ready`
/// (stderr) once every node answers, and runs until SIGINT / SIGTERM.
pub fn supervise(
    dir: &Path,
    manifest: &Manifest,
    ready_timeout: Duration,
    summary: serde_json::Value,
    restart: bool,
) -> anyhow::Result<()> {
    mcnode_peers::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut procs = Procs::new(restart);
        let started = tokio::select! {
            r = start(&mut procs, dir, manifest, ready_timeout) => Some(r),
            _ = term.recv() => None,
            _ = int.recv() => None,
        };
        match started {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                procs.0.stop_all().await;
                return Err(e);
            }
            None => {
                eprintln!("localnet: stopping before every node was up");
                procs.0.stop_all().await;
                return Ok(());
            }
        }
        println!("{}", serde_json::to_string_pretty(&summary)?);
        eprintln!("ready");
        let shutdown = async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            eprintln!(
                "localnet: stopping (consensus first, then ledger-distribution, then the gateways)"
            );
        };
        procs
            .0
            .run(shutdown)
            .await
            .context("the localnet stopped (see the lines above)")?;
        eprintln!("localnet: stopped");
        Ok(())
    })
}
