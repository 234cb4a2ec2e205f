//! Running the node's processes: the origin ledger, the migration, then the supervised
//! children until a shutdown signal or a child that keeps failing.
//!
//! The supervision itself is [`mcnode_util::supervise`], shared with `mcnode localnet`:
//! each child in its own process group, stdin closed, its stdout and stderr read line by
//! line into [`Logger::child_line`], restarted with backoff, stopped consensus-service
//! first, then ledger-distribution, then the gateway.

use std::{
    fs,
    future::Future,
    io,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use mcnode_util::supervise::{self, ChildSpec, Event, Output, SuperviseError};
use serde_json::json;

use crate::{
    env::Config,
    logline::{emit, Level, Logger, Stream},
    policy::{Exit, RestartPolicy},
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

/// How long to wait for the migration's output to end after it exited.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// A process to supervise, before it becomes a [`ChildSpec`].
#[derive(Clone, Debug)]
struct Spec {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

/// The stop rank of each child: consensus first (no half-written block), then the
/// archive writer (so the archive ends with the ledger), then the gateway.
fn stop_rank(name: &str) -> u32 {
    match name {
        CONSENSUS_SERVICE => 0,
        LEDGER_DISTRIBUTION => 1,
        _ => 2,
    }
}

/// The name as one of the known children (for [`SupervisorError::GaveUp`]).
fn known_name(name: &str) -> &'static str {
    [
        CONSENSUS_SERVICE,
        LEDGER_DISTRIBUTION,
        ADMIN_GATEWAY,
        LEDGER_MIGRATION,
    ]
    .into_iter()
    .find(|n| *n == name)
    .unwrap_or("a child")
}

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

    /// The shared supervisor's form of `spec`: output into the JSON log, the children's
    /// environment, the stop order and grace.
    fn child(&self, spec: &Spec) -> ChildSpec {
        let log = self.log.clone();
        let mut env = self.cfg.child_env.clone();
        env.push(("NO_COLOR".into(), "1".into()));
        ChildSpec {
            name: spec.name.to_string(),
            program: spec.program.clone(),
            args: spec.args.clone(),
            env,
            env_remove: Vec::new(),
            output: Output::Lines(Arc::new(move |name, stream, line| {
                let stream = match stream {
                    supervise::Stream::Stdout => Stream::Stdout,
                    supervise::Stream::Stderr => Stream::Stderr,
                };
                emit(&log.child_line(name, stream, line));
            })),
            stop_rank: stop_rank(spec.name),
            restart: true,
            grace: if spec.name == CONSENSUS_SERVICE {
                self.grace.consensus
            } else {
                self.grace.others
            },
        }
    }

    /// The supervisor's events as log lines.
    fn events(&self) -> supervise::EventSink {
        let log = self.log.clone();
        Arc::new(move |e: &Event<'_>| {
            match e {
            Event::Started { spec, pid } => log.log(
                Level::Info,
                &format!("started {}", spec.name),
                &[
                    ("child", json!(spec.name)),
                    ("pid", json!(pid)),
                    ("args", json!(spec.args)),
                ],
            ),
            Event::Restarting { spec, exit, ran_for, after, failures } => log.log(
                Level::Error,
                &format!(
                    "{} exited ({exit}) after {:.1} s; restarting it in {:.1} s",
                    spec.name,
                    ran_for.as_secs_f64(),
                    after.as_secs_f64()
                ),
                &[("child", json!(spec.name)), ("failures_in_a_row", json!(failures))],
            ),
            Event::Exited { spec, exit } => log.log(
                Level::Error,
                &format!("{} exited ({exit})", spec.name),
                &[("child", json!(spec.name))],
            ),
            Event::GivingUp { spec, exit, reason } => log.log(
                Level::Error,
                &format!(
                    "{} exited ({exit}) and is not restarted: {reason}; stopping the others",
                    spec.name
                ),
                &[("child", json!(spec.name))],
            ),
            Event::Stopping => log.log(
                Level::Info,
                "shutdown signal: stopping consensus-service first, then ledger-distribution, then the others",
                &[],
            ),
            Event::Terminating { spec } => log.log(
                Level::Info,
                &format!("stopping {} (SIGTERM)", spec.name),
                &[("child", json!(spec.name))],
            ),
            Event::Stopped { spec, exit } => log.log(
                Level::Info,
                &format!("{} stopped ({exit})", spec.name),
                &[("child", json!(spec.name))],
            ),
            Event::Killing { spec } => log.log(
                Level::Warn,
                &format!(
                    "{} did not stop within {:?} of SIGTERM: SIGKILL",
                    spec.name, spec.grace
                ),
                &[("child", json!(spec.name))],
            ),
            Event::RestartFailed { error, .. } => log.log(Level::Error, &error.to_string(), &[]),
        }
        })
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
        let spawn_err = |e: SuperviseError| match e {
            SuperviseError::Spawn { name, error, .. } => SupervisorError::Spawn {
                name: known_name(&name),
                error,
            },
            other => SupervisorError::Spawn {
                name: LEDGER_MIGRATION,
                error: io::Error::other(other.to_string()),
            },
        };
        let (mut child, drained) = supervise::spawn(&self.child(&migration)).map_err(spawn_err)?;
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
        let exit = supervise::exit_of(status.map_err(|error| SupervisorError::Spawn {
            name: LEDGER_MIGRATION,
            error,
        })?);
        if exit != Exit::Code(0) {
            return Err(SupervisorError::Migration { exit });
        }

        let mut sup = supervise::Supervisor::new(self.policy, self.events());
        for spec in &specs {
            if let Err(e) = sup.start(self.child(spec)) {
                sup.stop_all().await;
                return Err(spawn_err(e));
            }
        }
        match sup.run(shutdown).await {
            Ok(()) => {
                self.log.log(Level::Info, "all processes stopped", &[]);
                Ok(())
            }
            Err(SuperviseError::GaveUp { name, reason, .. }) => Err(SupervisorError::GaveUp {
                name: known_name(&name),
                reason,
            }),
            Err(e) => Err(spawn_err(e)),
        }
    }
}
