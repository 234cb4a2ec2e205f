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
    /// Compare the node's ledger with its archive and the archives in tx_source_urls,
    /// block by block (ids, holes, lag, blocks past the ledger, divergence). Exits 1 on a
    /// problem; --withdraw-list writes the blocks a rolled-back ledger no longer has.
    Audit(ArchiveAuditArgs),
}

/// Arguments of `mcnode archive audit`.
#[derive(Debug, clap::Args)]
pub struct ArchiveAuditArgs {
    /// The node's ledger directory.
    #[arg(long, env = "MC_LEDGER_PATH")]
    ledger_path: PathBuf,
    /// The node's own archive (`s3://bucket/prefix`, `file:///dir`, `https://...`).
    /// Default: `AWS_PATH`.
    #[arg(long, env = "MC_ARCHIVE_URL")]
    archive: Option<String>,
    /// The S3 location when `--archive` is not given.
    #[arg(long = "aws-path", env = "AWS_PATH")]
    aws_path: Option<String>,
    /// The node's network.toml (`[ID=]PATH`, as for `mcnode quorum check`): its
    /// tx_source_urls are audited too.
    #[arg(long, value_name = "[ID=]PATH")]
    network: Option<String>,
    /// Another archive to compare with the ledger (repeat).
    #[arg(long = "source", value_name = "URL")]
    sources: Vec<String>,
    /// The first block index to audit (default: all).
    #[arg(long, env = "MC_AUDIT_FROM", default_value_t = 0)]
    from: u64,
    /// How many blocks an archive may be behind the ledger (or the ledger behind another
    /// node's archive) before it is a problem.
    #[arg(long, env = "MC_AUDIT_MAX_LAG", default_value_t = 10)]
    max_lag: u64,
    /// Write the blocks the node's archive holds that its ledger does not (past its
    /// height, or with another id) as JSON, to announce and withdraw after a rollback.
    #[arg(long, value_name = "FILE")]
    withdraw_list: Option<PathBuf>,
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
        ArchiveCommand::Audit(args) => archive_audit(args),
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

fn audit_line(a: &mcnode_archive::audit::ArchiveAudit) -> String {
    format!(
        "{}: {} blocks ({}..{} contiguous), {} behind, {} hole(s), {} past the ledger, {} divergent, {} unreadable\n",
        a.archive,
        a.blocks_present,
        a.from,
        a.contiguous_height,
        a.lag,
        a.holes_count,
        a.beyond_ledger_count,
        a.divergent_count,
        a.unreadable.len()
    )
}

fn archive_audit(args: ArchiveAuditArgs) -> anyhow::Result<()> {
    use mcnode_archive::audit::audit_archive;

    let ledger = LmdbLedger::open(&args.ledger_path)
        .with_context(|| format!("cannot open the ledger {}", args.ledger_path.display()))?;
    let height = ledger.num_blocks()?;
    if args.from > height {
        anyhow::bail!("--from {} is past the ledger's height {height}", args.from);
    }
    let ids: Vec<mcnode_blockchain::BlockId> = (args.from..height)
        .map(|i| Ok(ledger.block(i)?.id))
        .collect::<Result<_, mcnode_ledger::LedgerError>>()?;
    let last_id = ledger.last_block().ok().map(|b| b.id.to_string());
    drop(ledger);

    let own = args.archive.clone().or(args.aws_path.clone());
    let mut sources = args.sources.clone();
    if let Some(spec) = &args.network {
        for f in crate::quorum_cmd::read_network(spec)? {
            sources.extend(f.config.tx_source_urls.iter().map(|u| u.to_string()));
        }
    }
    if own.is_none() && sources.is_empty() {
        anyhow::bail!("nothing to audit: give --archive (or AWS_PATH), --network or --source");
    }
    let rt = runtime()?;
    let audit = |url: &str| -> anyhow::Result<mcnode_archive::audit::ArchiveAudit> {
        let (_, store) = open_store(url)?;
        rt.block_on(async {
            store.probe(false).await?;
            anyhow::Ok(audit_archive(&store, args.from, &ids).await?)
        })
        .with_context(|| format!("auditing {url}"))
    };

    let mut problems = Vec::new();
    let mut text = format!(
        "ledger {}: height {height}, last block {}\n",
        args.ledger_path.display(),
        last_id.as_deref().unwrap_or("-")
    );
    let own_audit = match &own {
        Some(url) => {
            let a = audit(url)?;
            problems.extend(a.problems(args.max_lag));
            text.push_str(&audit_line(&a));
            Some(a)
        }
        None => None,
    };
    let mut source_audits = Vec::new();
    for url in &sources {
        match audit(url) {
            Ok(a) => {
                // Another node's archive: blocks past our ledger mean we are behind it
                // (a problem past --max-lag); a different id at one index is a fork.
                let mut p = Vec::new();
                if a.divergent_count > 0 {
                    p.push(format!(
                        "{}: {} block(s) differ from the ledger, the first at index {}: a fork",
                        a.archive,
                        a.divergent_count,
                        a.divergent.first().map_or(0, |d| d.index)
                    ));
                }
                if !a.unreadable.is_empty() {
                    p.push(format!(
                        "{}: {} unreadable object(s)",
                        a.archive,
                        a.unreadable.len()
                    ));
                }
                if a.beyond_ledger_count > args.max_lag {
                    p.push(format!(
                        "the ledger is {} block(s) behind {} (more than {})",
                        a.beyond_ledger_count, a.archive, args.max_lag
                    ));
                }
                text.push_str(&audit_line(&a));
                problems.extend(p);
                source_audits.push(json!(a));
            }
            Err(e) => {
                problems.push(format!("{url}: {e:#}"));
                source_audits.push(json!({"archive": url, "error": format!("{e:#}")}));
            }
        }
    }

    let mut withdraw = serde_json::Value::Null;
    if let Some(a) = &own_audit {
        let mut blocks: Vec<serde_json::Value> = a
            .divergent
            .iter()
            .map(|d| json!({"index": d.index, "block_id": d.archive_id, "reason": "differs from the ledger"}))
            .chain(a.beyond_ledger.iter().map(
                |e| json!({"index": e.index, "block_id": e.block_id, "reason": "past the ledger's height"}),
            ))
            .collect();
        blocks.sort_by_key(|b| b["index"].as_u64());
        let complete = a.divergent.len() as u64 == a.divergent_count
            && a.beyond_ledger.len() as u64 == a.beyond_ledger_count;
        withdraw = json!({
            "format": 1,
            "archive": a.archive,
            "ledger_height": height,
            "ledger_last_block_id": last_id,
            "blocks": blocks,
            "complete": complete,
            "rollback_command": (!blocks.is_empty()).then(|| format!(
                "mcnode archive rollback --to {} --dest {} --state-file STATE_FILE",
                blocks.first().and_then(|b| b["index"].as_u64()).unwrap_or(height).min(height),
                a.archive
            )),
        });
        if let Some(path) = &args.withdraw_list {
            std::fs::write(
                path,
                format!("{}\n", serde_json::to_string_pretty(&withdraw)?),
            )
            .with_context(|| format!("cannot write {}", path.display()))?;
            text.push_str(&format!(
                "withdraw list: {} block(s) written to {}\n",
                blocks.len(),
                path.display()
            ));
        }
    } else if args.withdraw_list.is_some() {
        anyhow::bail!("--withdraw-list needs the node's own archive (--archive or AWS_PATH)");
    }

    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "ledger": {
                "path": args.ledger_path.display().to_string(),
                "height": height,
                "last_block_id": last_id,
            },
            "from": args.from,
            "archive": own_audit,
            "sources": source_audits,
            "withdraw": withdraw,
            "problems": problems,
            "ok": problems.is_empty(),
        }))?
    );
    for p in &problems {
        text.push_str(&format!("problem: {p}\n"));
    }
    eprint!("{text}");
    if !problems.is_empty() {
        anyhow::bail!("the audit found {} problem(s)", problems.len());
    }
    Ok(())
}
