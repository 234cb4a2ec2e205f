//! `mc-ledger-migration`: brings a ledger's schema to the current version (or, with
//! `--to`, to an older one), in place, then exits. Each step is one LMDB transaction that
//! also records the new version, so an interrupted run leaves a ledger at a whole version
//! and running again resumes. Stop the node first; take a `mcnode ledger snapshot` before.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use mcnode_ledger::{lmdb, migrations, CURRENT_SCHEMA_VERSION};

/// Migrate an mcnode LMDB ledger between schema versions.
#[derive(Debug, Parser)]
#[command(name = "mc-ledger-migration", version)]
struct Args {
    /// The ledger directory (holding `data.mdb`).
    #[arg(long, env = "MC_LEDGER_DB")]
    ledger_db: PathBuf,
    /// Target schema version (default: this build's current version). Lower than the
    /// ledger's version applies reverse steps.
    #[arg(long, env = "MC_LEDGER_MIGRATION_TO")]
    to: Option<u32>,
}

fn main() -> std::process::ExitCode {
    // Errors print as one line with their causes (`{:#}`), not as a Debug dump with a
    // backtrace: an operator reads these.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let before = lmdb::schema_version(&args.ledger_db)
        .with_context(|| format!("cannot read the ledger at {}", args.ledger_db.display()))?;
    let report = migrations::migrate(&args.ledger_db, args.to, &mut |step, forward| {
        let (from, to) = if forward {
            (step.from, step.to)
        } else {
            (step.to, step.from)
        };
        let what = if forward {
            step.description
        } else {
            step.reverse_description
        };
        eprintln!("migrating {from} -> {to}: {what}");
    })
    .with_context(|| format!("migration of {} failed", args.ledger_db.display()))?;
    if report.applied.is_empty() {
        eprintln!("ledger is at schema {before}: nothing to do");
    }
    println!(
        "{}",
        serde_json::json!({
            "ledger_db": args.ledger_db.display().to_string(),
            "from": report.from,
            "to": report.to,
            "current": CURRENT_SCHEMA_VERSION,
            "applied": report.applied,
        })
    );
    Ok(())
}
