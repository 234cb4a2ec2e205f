//! Running a localnet's processes: `consensus-service` per node, then (once the node
//! answers on its client port) `ledger-distribution` and `mc-admin-http-gateway` per
//! node; watching them; stopping them all on SIGINT / SIGTERM.
//!
//! Children run in their own process groups, so a terminal's Ctrl-C reaches only
//! `mcnode`, which then stops them in order (SIGTERM, SIGKILL after [`STOP_GRACE`]).
//! A child that dies on its own is reported with its log's last lines; the others keep
//! running (the operator decides), until none is left.

use std::{
    fs,
    io::Write,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use mcnode_peers::{NodeUri, Service};
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

/// One child process and where its output goes.
struct Proc {
    /// `node0 consensus-service`.
    label: String,
    log: PathBuf,
    child: Child,
    exited: Option<ExitStatus>,
}

/// Every child started so far.
#[derive(Default)]
struct Procs(Vec<Proc>);

impl Procs {
    /// Starts `bin` with `args` and `envs` (variables starting with `MC_` are not passed
    /// on: the flags define the node), appending its output to `log`.
    fn spawn(
        &mut self,
        label: String,
        bin: &Path,
        args: &[String],
        envs: &[(&str, String)],
        log: PathBuf,
    ) -> anyhow::Result<()> {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        writeln!(
            file,
            "{LOG_HEADER} {} at unix time {now} ---",
            bin.display()
        )?;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .process_group(0);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MC_") {
                cmd.env_remove(key);
            }
        }
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        // The output goes to a file: no colour codes.
        cmd.env("NO_COLOR", "1");
        cmd.envs(envs.iter().map(|(k, v)| (*k, v.as_str())));
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        self.0.push(Proc {
            label,
            log,
            child,
            exited: None,
        });
        Ok(())
    }

    /// Notes children that exited since the last call and returns them.
    fn reap(&mut self) -> Vec<&Proc> {
        let mut newly = Vec::new();
        for (i, p) in self.0.iter_mut().enumerate() {
            if p.exited.is_none() {
                if let Ok(Some(status)) = p.child.try_wait() {
                    p.exited = Some(status);
                    newly.push(i);
                }
            }
        }
        newly.into_iter().map(|i| &self.0[i]).collect()
    }

    fn running(&self) -> usize {
        self.0.iter().filter(|p| p.exited.is_none()).count()
    }

    /// The exit status of the child with `label`, if it exited.
    fn exit_of(&mut self, label: &str) -> Option<(ExitStatus, PathBuf)> {
        self.reap();
        self.0
            .iter()
            .find(|p| p.label == label)
            .and_then(|p| p.exited.map(|s| (s, p.log.clone())))
    }

    /// SIGTERM to every running child, SIGKILL to those still running after
    /// [`STOP_GRACE`]; waits for all.
    async fn stop(&mut self) {
        for p in self.0.iter().filter(|p| p.exited.is_none()) {
            let pid = rustix::process::Pid::from_child(&p.child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while self.running() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.reap();
        }
        for p in self.0.iter_mut().filter(|p| p.exited.is_none()) {
            eprintln!(
                "localnet: {} did not stop within {STOP_GRACE:?} of SIGTERM; killing it",
                p.label
            );
            let _ = p.child.kill();
            p.exited = p.child.wait().ok();
        }
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
            let label = format!("{} {CONSENSUS_SERVICE}", node.name);
            if let Some((status, log)) = procs.exit_of(&label) {
                anyhow::bail!(
                    "{label} exited ({status}) before answering on {}; see {}{}",
                    node.client_uri,
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
        )?;
        if let Some(args) = gateway_args(node) {
            procs.spawn(
                format!("{} {ADMIN_GATEWAY}", node.name),
                &gateway,
                &args,
                &[],
                node.file(GATEWAY_LOG),
            )?;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(p) = procs.reap().first() {
        anyhow::bail!(
            "{} exited ({}) right after starting; see {}{}",
            p.label,
            p.exited.map(|s| s.to_string()).unwrap_or_default(),
            p.log.display(),
            log_tail(&p.log)
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
) -> anyhow::Result<()> {
    mcnode_peers::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut procs = Procs::default();
        let started = tokio::select! {
            r = start(&mut procs, dir, manifest, ready_timeout) => Some(r),
            _ = term.recv() => None,
            _ = int.recv() => None,
        };
        match started {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                procs.stop().await;
                return Err(e);
            }
            None => {
                eprintln!("localnet: stopping before every node was up");
                procs.stop().await;
                return Ok(());
            }
        }
        println!("{}", serde_json::to_string_pretty(&summary)?);
        eprintln!("ready");
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    for p in procs.reap() {
                        eprintln!(
                            "localnet: {} exited unexpectedly ({}); the others keep running; see {}{}",
                            p.label,
                            p.exited.map(|s| s.to_string()).unwrap_or_default(),
                            p.log.display(),
                            log_tail(&p.log),
                        );
                    }
                    if procs.running() == 0 {
                        anyhow::bail!("every localnet process has exited; see the logs above");
                    }
                }
            }
        }
        eprintln!("localnet: stopping");
        procs.stop().await;
        eprintln!("localnet: stopped");
        Ok(())
    })
}
