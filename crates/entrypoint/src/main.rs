//! `mcnode-entrypoint`: the container's PID 1. Checks the environment, prepares the
//! ledger, runs the migration and supervises the node's processes; the arguments are
//! consensus-service's. See the crate docs and `docs/running-the-node.md`.

use std::process::ExitCode;

use mcnode_entrypoint::{
    logline::{Level, Logger},
    Config, Supervisor,
};
use tokio::signal::unix::{signal, SignalKind};

/// Exit status for a bad environment.
const CONFIG_ERROR: u8 = 2;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("--entrypoint-help")) {
        println!("{}", include_str!("usage.txt"));
        return ExitCode::SUCCESS;
    }
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(ToOwned::to_owned))
        .unwrap_or_else(|| "/usr/local/bin".into());
    let node_id = std::env::var("LOCAL_NODE_ID").unwrap_or_default();
    let log = Logger::new(node_id);
    let cfg = match Config::from_lookup(|k| std::env::var(k).ok(), args, &bin_dir) {
        Ok(cfg) => cfg,
        Err(errors) => {
            for e in &errors {
                log.log(Level::Error, &format!("bad environment: {e}"), &[]);
            }
            return ExitCode::from(CONFIG_ERROR);
        }
    };
    log.log(
        Level::Info,
        "starting",
        &[
            ("version", env!("CARGO_PKG_VERSION").into()),
            ("ledger_dir", cfg.ledger_dir.display().to_string().into()),
            ("state_dir", cfg.state_dir.display().to_string().into()),
            ("admin_uri", cfg.admin_uri.clone().into()),
            (
                "archive",
                cfg.archive.as_ref().map(|a| a.url().to_string()).into(),
            ),
        ],
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log.log(
                Level::Error,
                &format!("cannot start the async runtime: {e}"),
                &[],
            );
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            (Err(e), _) | (_, Err(e)) => {
                log.log(Level::Error, &format!("cannot handle signals: {e}"), &[]);
                return Err(());
            }
        };
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        Supervisor::new(cfg, log.clone())
            .run(shutdown)
            .await
            .map_err(|e| log.log(Level::Error, &e.to_string(), &[]))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(()) => ExitCode::FAILURE,
    }
}
