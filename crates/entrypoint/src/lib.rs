//! The container entrypoint of mcnode (`mcnode-entrypoint`): what the spec's "Entrypoint
//! and Container Processes" section asks, as one small static program (the image is
//! built `FROM scratch`, with no shell).
//!
//! In order, it
//! 1. checks the environment ([`env::Config`]): a missing or bad variable is one log
//!    line naming it, and exit status 2;
//! 2. copies the origin ledger into an empty `NODE_LEDGER_DIR`
//!    ([`supervisor::prepare_ledger`]);
//! 3. runs `mc-ledger-migration` and stops if it fails;
//! 4. starts and supervises `ledger-distribution` (only when `AWS_PATH` is set),
//!    `mc-admin-http-gateway` (when the image has it) and `consensus-service` with the
//!    `docker run` arguments ([`supervisor::Supervisor`]), restarting a crashed one with
//!    backoff and giving up on one that keeps failing ([`policy`], the supervisor shared
//!    with `mcnode localnet`: [`mcnode_util::supervise`]);
//! 5. on SIGTERM or SIGINT stops consensus-service first, then the others, and exits 0.
//!
//! Every line it and its children print goes to stdout as one JSON object
//! ([`logline`]). It does not: read config files, talk to the node's APIs, or reap
//! processes it did not start.

pub mod env;
pub mod logline;
pub mod supervisor;

/// The restart rules, shared with `mcnode localnet` ([`mcnode_util::policy`]).
pub use mcnode_util::policy;

pub use env::{Config, EnvError};
pub use policy::{Decision, Exit, RestartPolicy, RestartState};
pub use supervisor::{Grace, Supervisor, SupervisorError};
