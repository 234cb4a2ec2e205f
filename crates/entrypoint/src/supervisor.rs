//! Running the node's processes: the origin ledger, the migration, then the supervised
//! children until a shutdown signal or a child that keeps failing.
//!
//! Each child runs in its own process group (a terminal's Ctrl-C reaches only the
//! entrypoint, which then stops the children in order), with stdin closed and its stdout
//! and stderr read line by line into [`Logger::child_line`]. A child's exit is reported
//! only after its output is drained, so its last lines come before the entrypoint's
//! comment on them.

use std::{
    fs,
    future::Future,
    io,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::mpsc,
    time::Instant,
};

use crate::{
    env::Config,
    logline::{emit, Level, Logger, Stream},
    policy::{Decision, Exit, RestartPolicy, RestartState},
};

/// The consensus service binary.
pub const CONSENSUS_SERVICE: &str = "consensus-service";
/// The archive writer binary.
pub const LEDGER_DISTRIBUTION: &str = "ledger-distribution";
/// The admin HTTP gateway binary.
pub const ADMIN_GATEWAY: &str = "mc-admin-http-gateway";
/// The ledger migration binary.
pub const LEDGER_MIGRATION: &str = "mc-ledger-migration";

/// Why the entrypoint could not run the node.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The ledger directory could not be prepared.
    #[error("{0}")]
    Ledger(String),
    /// A binary the node needs is not in the bin directory.
    #[error("{name} is not in {dir} (MCNODE_BIN_DIR); is this the mcnode image?")]
    MissingBinary {
        /// The binary.
        name: &'static str,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// A process could not be started.
    #[error("cannot start {name}: {error}")]
    Spawn {
        /// The binary.
        name: &'static str,
        /// Why.
        error: io::Error,
    },
    /// `mc-ledger-migration` failed: the node must not start on a ledger it could not
    /// migrate.
    #[error("mc-ledger-migration failed ({exit}); the node is not started: see its lines above, restore the ledger from a snapshot or fix the cause, then start again")]
    Migration {
        /// How it ended.
        exit: Exit,
    },
    /// A child kept failing; the others were stopped.
    #[error("{name} is not restarted: {reason}")]
    GaveUp {
        /// The child.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

/// How long children get between SIGTERM and SIGKILL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grace {
    /// consensus-service, stopped first (default 20 s).
    pub consensus: Duration,
    /// The others, stopped together after it (default 10 s).
    pub others: Duration,
}

impl Default for Grace {
    fn default() -> Self {
        Self {
            consensus: Duration::from_secs(20),
            others: Duration::from_secs(10),
        }
    }
}

/// A process to supervise.
#[derive(Clone, Debug)]
struct Spec {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

fn exit_of(status: ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        (None, None) => Exit::Code(-1),
    }
}

/// Whether `dir` has no entries (a missing directory counts as empty), ignoring (and
/// removing) what an interrupted origin copy left behind.
fn is_empty_dir(dir: &Path) -> io::Result<bool> {
    mcnode_util::fs::dir_is_empty(dir)
}

/// Copies the origin ledger into an empty ledger directory, durably and atomically
/// ([`mcnode_util::fs::copy_atomic`]: a kill mid-copy leaves no `data.mdb`, and the next
/// start copies again). Returns whether it copied.
pub fn prepare_ledger(cfg: &Config) -> Result<bool, SupervisorError> {
    let dir = &cfg.ledger_dir;
    let err = |what: String| SupervisorError::Ledger(what);
    let empty = is_empty_dir(dir).map_err(|e| {
        err(format!(
            "NODE_LEDGER_DIR {}: cannot read it: {e}",
            dir.display()
        ))
    })?;
    if !empty {
        if dir.join("data.mdb").is_file() {
            return Ok(false);
        }
        return Err(err(format!(
            "NODE_LEDGER_DIR {} is not empty but holds no data.mdb: is it the right directory? \
             Point NODE_LEDGER_DIR at the ledger, or at an empty directory to start from the origin ledger",
            dir.display()
        )));
    }
    let origin = &cfg.origin_block_path;
    let src = if origin.is_dir() {
        origin.join("data.mdb")
    } else {
        origin.clone()
    };
    if !src.is_file() {
        return Err(err(format!(
            "NODE_LEDGER_DIR {} is empty and there is no origin ledger at {} (ORIGIN_BLOCK_PATH, \
             or --origin-block-path): mount the network's origin ledger there, or a ledger into NODE_LEDGER_DIR",
            dir.display(),
            origin.display()
        )));
    }
    mcnode_util::fs::copy_atomic(&src, &dir.join("data.mdb"), mcnode_util::fs::Mode::Public)
        .map_err(|e| {
            err(format!(
                "cannot copy the origin ledger {} into NODE_LEDGER_DIR {}: {e}",
                src.display(),
                dir.display()
            ))
        })?;
    Ok(true)
}

/// Reads `reader` line by line (lossy UTF-8, so a stray byte cannot stop the flow) and
/// prints each as a log line of `name`.
async fn forward(reader: impl AsyncRead + Unpin, log: Logger, name: &'static str, stream: Stream) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => emit(&log.child_line(name, stream, &String::from_utf8_lossy(&buf))),
        }
    }
}

/// Starts `spec` with the entrypoint's environment plus `env`, its output forwarded.
/// Returns the child (to wait for) and a future that ends when its output is drained.
fn spawn(
    spec: &Spec,
    env: &[(String, String)],
    log: &Logger,
) -> Result<(Child, impl Future<Output = ()>), SupervisorError> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|error| SupervisorError::Spawn {
        name: spec.name,
        error,
    })?;
    let out = child
        .stdout
        .take()
        .map(|o| tokio::spawn(forward(o, log.clone(), spec.name, Stream::Stdout)));
    let err = child
        .stderr
        .take()
        .map(|e| tokio::spawn(forward(e, log.clone(), spec.name, Stream::Stderr)));
    let drained = async move {
        for h in [out, err].into_iter().flatten() {
            let _ = h.await;
        }
    };
    Ok((child, drained))
}

/// How long to wait for a child's output to end after it exited (a grandchild could
/// hold the pipe).
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

fn signal(pid: Option<u32>, sig: rustix::process::Signal) {
    if let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// A supervised child's state.
enum State {
    Running { pid: Option<u32>, started: Instant },
    Waiting { until: Instant },
    Done,
}

struct Slot {
    spec: Spec,
    state: State,
    restarts: RestartState,
    /// Bumped per start, so a late exit report of an older run is ignored.
    generation: u64,
}

/// An exit report: slot, generation, how it ended.
type Report = (usize, u64, Exit);

/// The supervisor of one node's processes.
pub struct Supervisor {
    cfg: Config,
    log: Logger,
    /// Restart rules.
    pub policy: RestartPolicy,
    /// Stop timeouts.
    pub grace: Grace,
}

impl Supervisor {
    /// A supervisor for `cfg` with the default policy and grace periods.
    pub fn new(cfg: Config, log: Logger) -> Self {
        Self {
            cfg,
            log,
            policy: RestartPolicy::default(),
            grace: Grace::default(),
        }
    }

    fn bin(&self, name: &'static str) -> PathBuf {
        self.cfg.bin_dir.join(name)
    }

    fn required_bin(&self, name: &'static str) -> Result<PathBuf, SupervisorError> {
        let p = self.bin(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(SupervisorError::MissingBinary {
                name,
                dir: self.cfg.bin_dir.clone(),
            })
        }
    }

    /// The supervised processes, in start order (the spec's: ledger-distribution, the
    /// gateway, consensus-service). Logs the ones left out and why.
    fn specs(&self) -> Result<Vec<Spec>, SupervisorError> {
        let mut specs = Vec::new();
        match &self.cfg.archive {
            Some(archive) => {
                let mut args = vec![
                    "--ledger-path".into(),
                    self.cfg.ledger_dir.display().to_string(),
                    "--dest".into(),
                    archive.url().to_string(),
                    "--state-file".into(),
                    self.cfg.distribution_state_file().display().to_string(),
                    "--start-from".into(),
                    "next".into(),
                ];
                if let Some(addr) = self.cfg.distribution_metrics {
                    args.extend(["--metrics-listen".into(), addr.to_string()]);
                }
                specs.push(Spec {
                    name: LEDGER_DISTRIBUTION,
                    program: self.required_bin(LEDGER_DISTRIBUTION)?,
                    args,
                });
            }
            None => self.log.log(
                Level::Warn,
                "AWS_PATH is not set: ledger-distribution is not started and this node publishes no archive",
                &[],
            ),
        }
        let gateway = self.bin(ADMIN_GATEWAY);
        if gateway.is_file() {
            specs.push(Spec {
                name: ADMIN_GATEWAY,
                program: gateway,
                args: vec!["--admin-uri".into(), self.cfg.admin_uri.clone()],
            });
        } else {
            self.log.log(
                Level::Warn,
                "mc-admin-http-gateway is not in this image: no admin HTTP panel or /metrics",
                &[("looked_for", json!(gateway.display().to_string()))],
            );
        }
        specs.push(Spec {
            name: CONSENSUS_SERVICE,
            program: self.required_bin(CONSENSUS_SERVICE)?,
            args: self.cfg.consensus_args.clone(),
        });
        Ok(specs)
    }

    /// Prepares the ledger, runs the migration, then supervises the node's processes until
    /// `shutdown` completes (then stops them in order and returns `Ok`) or a child keeps
    /// failing (then stops the others and returns [`SupervisorError::GaveUp`]).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), SupervisorError> {
        tokio::pin!(shutdown);
        let copied = prepare_ledger(&self.cfg)?;
        if copied {
            self.log.log(
                Level::Info,
                "NODE_LEDGER_DIR was empty: copied the origin ledger into it",
                &[
                    (
                        "from",
                        json!(self.cfg.origin_block_path.display().to_string()),
                    ),
                    ("to", json!(self.cfg.ledger_dir.display().to_string())),
                ],
            );
        }
        fs::create_dir_all(&self.cfg.state_dir).map_err(|e| {
            SupervisorError::Ledger(format!(
                "NODE_STATE_DIR {}: cannot create it: {e}",
                self.cfg.state_dir.display()
            ))
        })?;

        // The migration, to its end (it is safe to interrupt, but short: let it finish).
        let migration = Spec {
            name: LEDGER_MIGRATION,
            program: self.required_bin(LEDGER_MIGRATION)?,
            args: vec![
                "--ledger-db".into(),
                self.cfg.ledger_dir.display().to_string(),
            ],
        };
        let specs = self.specs()?;
        self.log
            .log(Level::Info, "running mc-ledger-migration", &[]);
        let (mut child, drained) = spawn(&migration, &self.cfg.child_env, &self.log)?;
        let status = tokio::select! {
            s = child.wait() => s,
            () = &mut shutdown => {
                self.log.log(Level::Info, "shutdown signal during the migration: waiting for it to finish", &[]);
                let s = child.wait().await;
                let _ = tokio::time::timeout(DRAIN_LIMIT, drained).await;
                s.map_err(|error| SupervisorError::Spawn { name: LEDGER_MIGRATION, error })?;
                return Ok(());
            }
        };
        let _ = tokio::time::timeout(DRAIN_LIMIT, drained).await;
        let exit = exit_of(status.map_err(|error| SupervisorError::Spawn {
            name: LEDGER_MIGRATION,
            error,
        })?);
        if exit != Exit::Code(0) {
            return Err(SupervisorError::Migration { exit });
        }

        let (tx, mut rx) = mpsc::unbounded_channel::<Report>();
        let mut slots: Vec<Slot> = specs
            .into_iter()
            .map(|spec| Slot {
                spec,
                state: State::Done,
                restarts: RestartState::default(),
                generation: 0,
            })
            .collect();
        for i in 0..slots.len() {
            self.start(&mut slots, i, &tx)?;
        }
        loop {
            let next_restart = slots
                .iter()
                .filter_map(|s| match s.state {
                    State::Waiting { until } => Some(until),
                    _ => None,
                })
                .min();
            tokio::select! {
                () = &mut shutdown => {
                    self.log.log(Level::Info, "shutdown signal: stopping consensus-service first, then the others", &[]);
                    self.stop_all(&mut slots, &mut rx).await;
                    self.log.log(Level::Info, "all processes stopped", &[]);
                    return Ok(());
                }
                Some((i, generation, exit)) = rx.recv() => {
                    let slot = &mut slots[i];
                    let State::Running { started, .. } = slot.state else { continue };
                    if generation != slot.generation {
                        continue;
                    }
                    let ran_for = started.elapsed();
                    let name = slot.spec.name;
                    match slot.restarts.on_exit(&self.policy, ran_for, exit) {
                        Decision::Restart { after, failures } => {
                            self.log.log(
                                Level::Error,
                                &format!("{name} exited ({exit}) after {:.1} s; restarting it in {:.1} s", ran_for.as_secs_f64(), after.as_secs_f64()),
                                &[("child", json!(name)), ("failures_in_a_row", json!(failures))],
                            );
                            slot.state = State::Waiting { until: Instant::now() + after };
                        }
                        Decision::GiveUp { reason } => {
                            slot.state = State::Done;
                            self.log.log(
                                Level::Error,
                                &format!("{name} exited ({exit}) and is not restarted: {reason}; stopping the others"),
                                &[("child", json!(name))],
                            );
                            self.stop_all(&mut slots, &mut rx).await;
                            return Err(SupervisorError::GaveUp { name, reason });
                        }
                    }
                }
                () = async {
                    match next_restart {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                } => {
                    let now = Instant::now();
                    for i in 0..slots.len() {
                        if matches!(slots[i].state, State::Waiting { until } if until <= now) {
                            if let Err(e) = self.start(&mut slots, i, &tx) {
                                self.log.log(Level::Error, &e.to_string(), &[]);
                                self.stop_all(&mut slots, &mut rx).await;
                                return Err(e);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Starts slot `i` and a task that reports its exit (after its output is drained).
    fn start(
        &self,
        slots: &mut [Slot],
        i: usize,
        tx: &mpsc::UnboundedSender<Report>,
    ) -> Result<(), SupervisorError> {
        let slot = &mut slots[i];
        let (mut child, drained) = spawn(&slot.spec, &self.cfg.child_env, &self.log)?;
        slot.generation += 1;
        let pid = child.id();
        slot.state = State::Running {
            pid,
            started: Instant::now(),
        };
        self.log.log(
            Level::Info,
            &format!("started {}", slot.spec.name),
            &[
                ("child", json!(slot.spec.name)),
                ("pid", json!(pid)),
                ("args", json!(slot.spec.args)),
            ],
        );
        let (tx, generation) = (tx.clone(), slot.generation);
        tokio::spawn(async move {
            let exit = match child.wait().await {
                Ok(s) => exit_of(s),
                Err(_) => Exit::Code(-1),
            };
            let _ = tokio::time::timeout(DRAIN_LIMIT, drained).await;
            let _ = tx.send((i, generation, exit));
        });
        Ok(())
    }

    /// Stops consensus-service (SIGTERM, SIGKILL after its grace), then every other
    /// running child the same way together. Pending restarts are dropped.
    async fn stop_all(&self, slots: &mut [Slot], rx: &mut mpsc::UnboundedReceiver<Report>) {
        for slot in slots.iter_mut() {
            if matches!(slot.state, State::Waiting { .. }) {
                slot.state = State::Done;
            }
        }
        let consensus: Vec<usize> = (0..slots.len())
            .filter(|i| slots[*i].spec.name == CONSENSUS_SERVICE)
            .collect();
        let others: Vec<usize> = (0..slots.len())
            .filter(|i| slots[*i].spec.name != CONSENSUS_SERVICE)
            .collect();
        self.stop_group(slots, rx, &consensus, self.grace.consensus)
            .await;
        self.stop_group(slots, rx, &others, self.grace.others).await;
    }

    async fn stop_group(
        &self,
        slots: &mut [Slot],
        rx: &mut mpsc::UnboundedReceiver<Report>,
        group: &[usize],
        grace: Duration,
    ) {
        let running = |slots: &[Slot]| {
            group
                .iter()
                .copied()
                .filter(|i| matches!(slots[*i].state, State::Running { .. }))
                .collect::<Vec<_>>()
        };
        for i in running(slots) {
            if let State::Running { pid, .. } = slots[i].state {
                self.log.log(
                    Level::Info,
                    &format!("stopping {} (SIGTERM)", slots[i].spec.name),
                    &[("child", json!(slots[i].spec.name))],
                );
                signal(pid, rustix::process::Signal::TERM);
            }
        }
        let mut deadline = Instant::now() + grace;
        let mut killed = false;
        while !running(slots).is_empty() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((i, generation, exit))) => {
                    let slot = &mut slots[i];
                    if generation == slot.generation && matches!(slot.state, State::Running { .. })
                    {
                        slot.state = State::Done;
                        self.log.log(
                            Level::Info,
                            &format!("{} stopped ({exit})", slot.spec.name),
                            &[("child", json!(slot.spec.name))],
                        );
                    }
                }
                Ok(None) => break,
                Err(_) if !killed => {
                    for i in running(slots) {
                        if let State::Running { pid, .. } = slots[i].state {
                            self.log.log(
                                Level::Warn,
                                &format!(
                                    "{} did not stop within {grace:?} of SIGTERM: SIGKILL",
                                    slots[i].spec.name
                                ),
                                &[("child", json!(slots[i].spec.name))],
                            );
                            signal(pid, rustix::process::Signal::KILL);
                        }
                    }
                    killed = true;
                    deadline = Instant::now() + Duration::from_secs(5);
                }
                Err(_) => break,
            }
        }
    }
}
