//! The process supervisor shared by `mcnode localnet` and `mcnode-entrypoint`.
//!
//! Each child runs in its own process group (a terminal's Ctrl-C reaches only the
//! supervisor, which then stops the children in order), with stdin closed and its output
//! either appended to a log file or read line by line into a callback. A child that
//! exits is started again after the [`RestartPolicy`]'s backoff; one that keeps failing
//! (or rejects its arguments) makes the supervisor stop the others and give up. On
//! shutdown the children stop by rank, lowest first, each rank finished before the next
//! is asked: `consensus-service` (rank 0), then `ledger-distribution` (1), then the
//! gateway (2), so no archive ends behind its ledger. A child's exit is reported only
//! after its output is drained, so its last lines come before the supervisor's comment.

use std::{
    ffi::OsString,
    future::Future,
    io,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    sync::Arc,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::mpsc,
    time::Instant,
};

use crate::policy::{Decision, Exit, RestartPolicy, RestartState};

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Receives each line a child prints: `(child name, stream, line)`.
pub type LineSink = Arc<dyn Fn(&str, Stream, &str) + Send + Sync>;

/// Where a child's output goes.
#[derive(Clone)]
pub enum Output {
    /// Appended to this file, after a header line `--- <header> <program> at unix time
    /// <secs> ---` per start.
    File {
        /// The log file.
        path: PathBuf,
        /// The header's prefix.
        header: String,
    },
    /// Read line by line (lossy UTF-8) into the sink.
    Lines(LineSink),
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { path, .. } => write!(f, "File({})", path.display()),
            Self::Lines(_) => f.write_str("Lines"),
        }
    }
}

/// A process to supervise.
#[derive(Clone, Debug)]
pub struct ChildSpec {
    /// Its name in events (`consensus-service`, `node0 consensus-service`).
    pub name: String,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables set for it (on top of the supervisor's environment).
    pub env: Vec<(String, String)>,
    /// Variables of the supervisor's environment not passed on.
    pub env_remove: Vec<OsString>,
    /// Where its output goes.
    pub output: Output,
    /// Its place in the stop order (lower stops first).
    pub stop_rank: u32,
    /// Time between SIGTERM and SIGKILL when it is stopped.
    pub grace: Duration,
    /// Whether it is started again when it exits (false: its exit is only reported, for
    /// a harness that restarts processes itself).
    pub restart: bool,
}

/// What the supervisor did, for the caller to log.
#[derive(Debug)]
pub enum Event<'a> {
    /// A child was started.
    Started {
        /// The child.
        spec: &'a ChildSpec,
        /// Its process id.
        pid: Option<u32>,
    },
    /// A child exited by itself and is restarted after `after`.
    Restarting {
        /// The child.
        spec: &'a ChildSpec,
        /// How it ended.
        exit: Exit,
        /// How long it ran.
        ran_for: Duration,
        /// The wait before the restart.
        after: Duration,
        /// Short runs in a row.
        failures: u32,
    },
    /// A child that is not to be restarted ([`ChildSpec::restart`]) exited; the others
    /// keep running.
    Exited {
        /// The child.
        spec: &'a ChildSpec,
        /// How it ended.
        exit: Exit,
    },
    /// A child exited by itself and is not restarted: the others are stopped.
    GivingUp {
        /// The child.
        spec: &'a ChildSpec,
        /// How it ended.
        exit: Exit,
        /// Why it is not restarted.
        reason: &'a str,
    },
    /// Shutdown: the children are being stopped in order.
    Stopping,
    /// SIGTERM was sent to a child.
    Terminating {
        /// The child.
        spec: &'a ChildSpec,
    },
    /// A child stopped after SIGTERM (or SIGKILL).
    Stopped {
        /// The child.
        spec: &'a ChildSpec,
        /// How it ended.
        exit: Exit,
    },
    /// A child did not stop within its grace and got SIGKILL.
    Killing {
        /// The child.
        spec: &'a ChildSpec,
    },
    /// A child could not be restarted.
    RestartFailed {
        /// The child.
        spec: &'a ChildSpec,
        /// Why.
        error: &'a SuperviseError,
    },
}

/// Receives the supervisor's [`Event`]s.
pub type EventSink = Arc<dyn Fn(&Event<'_>) + Send + Sync>;

/// Why supervision ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    /// A process could not be started.
    #[error("cannot start {name} ({program}): {error}")]
    Spawn {
        /// The child.
        name: String,
        /// The program.
        program: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// Every child exited (none of them to be restarted).
    #[error("every supervised process has exited")]
    AllExited,
    /// A child kept failing (or rejected its arguments); the others were stopped.
    #[error("{name} is not restarted: {reason}")]
    GaveUp {
        /// The child.
        name: String,
        /// How it ended last.
        exit: Exit,
        /// Why.
        reason: String,
    },
}

/// How a process ended, from its status.
pub fn exit_of(status: ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        (None, None) => Exit::Code(-1),
    }
}

/// How long to wait for a child's output to end after it exited (a grandchild could
/// hold the pipe).
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Sends `sig` to process `pid`.
pub fn signal(pid: Option<u32>, sig: rustix::process::Signal) {
    if let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

async fn forward(reader: impl AsyncRead + Unpin, sink: LineSink, name: String, stream: Stream) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                sink(&name, stream, line.trim_end_matches(['\n', '\r']));
            }
        }
    }
}

/// Starts `spec`; returns the child and a future that ends when its output is drained.
pub fn spawn(spec: &ChildSpec) -> Result<(Child, impl Future<Output = ()>), SuperviseError> {
    let err = |error| SuperviseError::Spawn {
        name: spec.name.clone(),
        program: spec.program.clone(),
        error,
    };
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args);
    for k in &spec.env_remove {
        cmd.env_remove(k);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(false);
    match &spec.output {
        Output::File { path, header } => {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(err)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            writeln!(
                file,
                "{header} {} at unix time {now} ---",
                spec.program.display()
            )
            .map_err(err)?;
            cmd.stdout(file.try_clone().map_err(err)?).stderr(file);
        }
        Output::Lines(_) => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }
    let mut child = cmd.spawn().map_err(err)?;
    let mut tasks = Vec::new();
    if let Output::Lines(sink) = &spec.output {
        if let Some(o) = child.stdout.take() {
            tasks.push(tokio::spawn(forward(
                o,
                Arc::clone(sink),
                spec.name.clone(),
                Stream::Stdout,
            )));
        }
        if let Some(e) = child.stderr.take() {
            tasks.push(tokio::spawn(forward(
                e,
                Arc::clone(sink),
                spec.name.clone(),
                Stream::Stderr,
            )));
        }
    }
    let drained = async move {
        for h in tasks {
            let _ = h.await;
        }
    };
    Ok((child, drained))
}

/// A supervised child's state.
#[derive(Clone, Copy, Debug)]
enum State {
    Running { pid: Option<u32>, started: Instant },
    Waiting { until: Instant },
    Done,
}

struct Slot {
    spec: ChildSpec,
    state: State,
    restarts: RestartState,
    /// Bumped per start, so a late exit report of an older run is ignored.
    generation: u64,
}

/// An exit report: slot, generation, how it ended.
type Report = (usize, u64, Exit);

/// Supervises a set of children; see the module docs.
pub struct Supervisor {
    policy: RestartPolicy,
    events: EventSink,
    slots: Vec<Slot>,
    tx: mpsc::UnboundedSender<Report>,
    rx: mpsc::UnboundedReceiver<Report>,
}

impl Supervisor {
    /// A supervisor restarting by `policy` and telling `events` what it does.
    pub fn new(policy: RestartPolicy, events: EventSink) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            policy,
            events,
            slots: Vec::new(),
            tx,
            rx,
        }
    }

    /// Starts a child now (it is supervised from then on).
    pub fn start(&mut self, spec: ChildSpec) -> Result<(), SuperviseError> {
        self.slots.push(Slot {
            spec,
            state: State::Done,
            restarts: RestartState::default(),
            generation: 0,
        });
        let i = self.slots.len() - 1;
        self.start_slot(i).inspect_err(|_| {
            self.slots.pop();
        })
    }

    /// The process id of the running child named `name`.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.slots.iter().find_map(|s| match s.state {
            State::Running { pid, .. } if s.spec.name == name => pid,
            _ => None,
        })
    }

    /// The first child that exited since the last call, without restarting it (for a
    /// start-up phase that treats an early exit as fatal); it counts as stopped.
    pub fn take_exit(&mut self) -> Option<(String, Exit)> {
        while let Ok((i, generation, exit)) = self.rx.try_recv() {
            let slot = &mut self.slots[i];
            if generation == slot.generation && matches!(slot.state, State::Running { .. }) {
                slot.state = State::Done;
                return Some((slot.spec.name.clone(), exit));
            }
        }
        None
    }

    fn start_slot(&mut self, i: usize) -> Result<(), SuperviseError> {
        let slot = &mut self.slots[i];
        let (mut child, drained) = spawn(&slot.spec)?;
        slot.generation += 1;
        let pid = child.id();
        slot.state = State::Running {
            pid,
            started: Instant::now(),
        };
        (self.events)(&Event::Started {
            spec: &slot.spec,
            pid,
        });
        let (tx, generation) = (self.tx.clone(), slot.generation);
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

    /// Supervises until `shutdown` completes (then stops every child in order and
    /// returns `Ok`) or a child keeps failing (then stops the others and returns
    /// [`SuperviseError::GaveUp`]).
    pub async fn run(&mut self, shutdown: impl Future<Output = ()>) -> Result<(), SuperviseError> {
        tokio::pin!(shutdown);
        loop {
            let next_restart = self
                .slots
                .iter()
                .filter_map(|s| match s.state {
                    State::Waiting { until } => Some(until),
                    _ => None,
                })
                .min();
            tokio::select! {
                () = &mut shutdown => {
                    (self.events)(&Event::Stopping);
                    self.stop_all().await;
                    return Ok(());
                }
                Some((i, generation, exit)) = self.rx.recv() => {
                    let slot = &mut self.slots[i];
                    let State::Running { started, .. } = slot.state else { continue };
                    if generation != slot.generation {
                        continue;
                    }
                    let ran_for = started.elapsed();
                    if !slot.spec.restart {
                        slot.state = State::Done;
                        (self.events)(&Event::Exited { spec: &slot.spec, exit });
                        if self.slots.iter().all(|s| matches!(s.state, State::Done)) {
                            return Err(SuperviseError::AllExited);
                        }
                        continue;
                    }
                    match slot.restarts.on_exit(&self.policy, ran_for, exit) {
                        Decision::Restart { after, failures } => {
                            (self.events)(&Event::Restarting { spec: &slot.spec, exit, ran_for, after, failures });
                            slot.state = State::Waiting { until: Instant::now() + after };
                        }
                        Decision::GiveUp { reason } => {
                            slot.state = State::Done;
                            (self.events)(&Event::GivingUp { spec: &slot.spec, exit, reason: &reason });
                            let name = slot.spec.name.clone();
                            self.stop_all().await;
                            return Err(SuperviseError::GaveUp { name, exit, reason });
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
                    for i in 0..self.slots.len() {
                        if matches!(self.slots[i].state, State::Waiting { until } if until <= now) {
                            if let Err(e) = self.start_slot(i) {
                                (self.events)(&Event::RestartFailed { spec: &self.slots[i].spec, error: &e });
                                self.stop_all().await;
                                return Err(e);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Stops every child by rank, lowest first: SIGTERM to the rank's running children,
    /// SIGKILL to those still running after their grace, and the next rank only when
    /// this one has stopped. Pending restarts are dropped.
    pub async fn stop_all(&mut self) {
        for slot in &mut self.slots {
            if matches!(slot.state, State::Waiting { .. }) {
                slot.state = State::Done;
            }
        }
        let mut ranks: Vec<u32> = self.slots.iter().map(|s| s.spec.stop_rank).collect();
        ranks.sort_unstable();
        ranks.dedup();
        for rank in ranks {
            let group: Vec<usize> = (0..self.slots.len())
                .filter(|i| self.slots[*i].spec.stop_rank == rank)
                .collect();
            self.stop_group(&group).await;
        }
    }

    fn running(&self, group: &[usize]) -> Vec<usize> {
        group
            .iter()
            .copied()
            .filter(|i| matches!(self.slots[*i].state, State::Running { .. }))
            .collect()
    }

    async fn stop_group(&mut self, group: &[usize]) {
        let grace = group
            .iter()
            .map(|i| self.slots[*i].spec.grace)
            .max()
            .unwrap_or_default();
        for i in self.running(group) {
            if let State::Running { pid, .. } = self.slots[i].state {
                (self.events)(&Event::Terminating {
                    spec: &self.slots[i].spec,
                });
                signal(pid, rustix::process::Signal::TERM);
            }
        }
        let mut deadline = Instant::now() + grace;
        let mut killed = false;
        while !self.running(group).is_empty() {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((i, generation, exit))) => {
                    let slot = &mut self.slots[i];
                    if generation == slot.generation && matches!(slot.state, State::Running { .. })
                    {
                        slot.state = State::Done;
                        (self.events)(&Event::Stopped {
                            spec: &slot.spec,
                            exit,
                        });
                    }
                }
                Ok(None) => break,
                Err(_) if !killed => {
                    for i in self.running(group) {
                        if let State::Running { pid, .. } = self.slots[i].state {
                            (self.events)(&Event::Killing {
                                spec: &self.slots[i].spec,
                            });
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
