//! `mcnode archive rollback` and `mcnode ledger from-archive`: the operator's tools over
//! ledger archives (`mcnode-archive`).

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use mcnode_archive::{
    rollback,
    state::{read_state, write_state, State},
    AnyStore, ArchiveMetrics, ArchiveReader, ArchiveStore, ArchiveUrl, S3Config,
};
use mcnode_ledger::{Ledger, LmdbLedger};
use serde_json::json;

use crate::progress;

/// `mcnode archive` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ArchiveCommand {
    /// Delete the published blocks (and the bundles holding them) from height `--to` on,
    /// after `mcnode ledger rollback --to` the same height. Stop `ledger-distribution`
    /// first.
    Rollback(ArchiveRollbackArgs),
}

/// Arguments of `mcnode archive rollback`.
#[derive(Debug, clap::Args)]
pub struct ArchiveRollbackArgs {
    /// The height to go back to: the number of blocks kept (blocks `0..HEIGHT`).
    #[arg(long, env = "MC_ARCHIVE_ROLLBACK_TO")]
    to: u64,
    /// The archive: `s3://bucket/prefix` or `file:///dir`. Default: `AWS_PATH`.
    #[arg(long, env = "MC_DEST")]
    dest: Option<String>,
    /// The S3 location when `--dest` is not given.
    #[arg(long = "aws-path", env = "AWS_PATH")]
    aws_path: Option<String>,
    /// `ledger-distribution`'s state file: lowered to `--to` when it is above.
    #[arg(long, env = "MC_STATE_FILE")]
    state_file: Option<PathBuf>,
}

/// Arguments of `mcnode ledger from-archive`.
#[derive(Debug, clap::Args)]
pub struct FromArchiveArgs {
    /// The archive: `s3://bucket/prefix`, `file:///dir` or `https://host/path/`.
    #[arg(long, env = "MC_ARCHIVE_URL")]
    url: String,
    /// The ledger directory to build (created) or extend (an existing ledger).
    #[arg(long, env = "MC_LEDGER_OUT")]
    out: PathBuf,
    /// Stop at this height (default: everything the archive has).
    #[arg(long, env = "MC_FROM_ARCHIVE_TO")]
    to: Option<u64>,
    /// Bundle sizes to look for (comma-separated; `0`: single blocks only).
    #[arg(
        long,
        env = "MC_MERGE_BUCKETS",
        value_delimiter = ',',
        default_value = "100,1000,10000"
    )]
    merge_buckets: Vec<u64>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn open_store(url: &str) -> anyhow::Result<(ArchiveUrl, AnyStore)> {
    mcnode_archive::install_crypto_provider();
    let url: ArchiveUrl = url.parse()?;
    let store = AnyStore::open(&url, &S3Config::from_env())?;
    Ok((url, store))
}

/// Runs `mcnode archive ...`.
pub fn run(cmd: ArchiveCommand) -> anyhow::Result<()> {
    match cmd {
        ArchiveCommand::Rollback(args) => archive_rollback(args),
    }
}

fn archive_rollback(args: ArchiveRollbackArgs) -> anyhow::Result<()> {
    if args.to == 0 {
        anyhow::bail!("--to must be at least 1 (the origin block stays)");
    }
    let dest = args
        .dest
        .or(args.aws_path)
        .context("no archive: give --dest (MC_DEST) or set AWS_PATH")?;
    let (url, store) = open_store(&dest)?;
    if matches!(url, ArchiveUrl::Http(_)) {
        anyhow::bail!("{url} is read-only; roll back the bucket or directory behind it");
    }
    let report = runtime()?.block_on(async {
        store.probe(false).await?;
        rollback(&store, args.to).await
    })?;
    let mut state_note = serde_json::Value::Null;
    if let Some(path) = &args.state_file {
        match read_state(path)? {
            Some(s) if s.next_block > args.to => {
                write_state(
                    path,
                    State {
                        next_block: args.to,
                    },
                )?;
                state_note = json!({"from": s.next_block, "to": args.to});
            }
            _ => {}
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "archive": url.to_string(),
            "kept_blocks": args.to,
            "blocks_deleted": report.blocks_deleted,
            "bundles_deleted": report.bundles_deleted,
            "other_keys_left": report.foreign_keys,
            "state_file_lowered": state_note,
        }))?
    );
    Ok(())
}

/// Runs `mcnode ledger from-archive`.
pub fn from_archive(args: FromArchiveArgs) -> anyhow::Result<()> {
    let buckets = mcnode_archive::layout::validate_buckets(&args.merge_buckets)
        .map_err(|e| anyhow::anyhow!("--merge-buckets: {e}"))?;
    let (url, store) = open_store(&args.url)?;
    let dir_existed = args.out.exists();
    let created = !args.out.join("data.mdb").exists();
    let ledger = if !created {
        LmdbLedger::open(&args.out)
    } else {
        LmdbLedger::create(&args.out)
    }
    .with_context(|| format!("cannot open or create the ledger {}", args.out.display()))?;
    let ledger = Arc::new(ledger);
    let reader = ArchiveReader::new(store, &buckets, ArchiveMetrics::default());
    let start = ledger.num_blocks()?;
    let report = runtime()?.block_on(async {
        reader.store().probe(false).await?;
        let height = reader
            .height(mcnode_archive::writer::MAX_IN_FLIGHT as u64)
            .await?;
        let target = args.to.map_or(height, |t| t.min(height));
        let pb = progress::bar(target.saturating_sub(start), "blocks");
        let r = reader
            .sync_ledger(Arc::clone(&ledger), args.to, |h| {
                pb.set_position(h.saturating_sub(start));
            })
            .await;
        pb.finish_and_clear();
        r
    });
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            // A ledger this command created and could not put a block in is removed, so
            // that a failed first try leaves nothing that looks like a ledger behind.
            if created && ledger.num_blocks().unwrap_or(1) == 0 {
                drop(ledger);
                for file in ["data.mdb", "lock.mdb"] {
                    let _ = std::fs::remove_file(args.out.join(file));
                }
                if !dir_existed {
                    let _ = std::fs::remove_dir(&args.out);
                }
            }
            return Err(e).with_context(|| format!("catching up from {url}"));
        }
    };
    let last = ledger.last_block().ok();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "archive": url.to_string(),
            "ledger": args.out.display().to_string(),
            "from_height": report.from,
            "height": report.to,
            "blocks_appended": report.to - report.from,
            "last_block_id": last.map(|b| b.id.to_string()),
        }))?
    );
    Ok(())
}
