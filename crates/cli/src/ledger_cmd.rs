//! `mcnode origin-block` and `mcnode ledger ...`: making, inspecting, checking, copying and
//! rolling back LMDB ledgers.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mcnode_blockchain::origin_block_paying_at;
use mcnode_ledger::{lmdb, migrations, Ledger, LedgerError, LmdbLedger, CURRENT_SCHEMA_VERSION};
use mcnode_transaction::{AccountKey, BlockVersion};
use rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::json;

use crate::{keys, progress};

/// Arguments of `mcnode origin-block`.
#[derive(Debug, clap::Args)]
pub struct OriginBlockArgs {
    /// Number of sample accounts to create and pay.
    #[arg(long, env = "MC_ORIGIN_ACCOUNTS", default_value_t = 10)]
    accounts: usize,
    /// Value of each output, in the smallest unit.
    #[arg(long, env = "MC_ORIGIN_AMOUNT")]
    amount: u64,
    /// Outputs per account.
    #[arg(long, env = "MC_ORIGIN_OUTPUTS_EACH", default_value_t = 1)]
    outputs_each: usize,
    /// Output directory: `ledger/` (the LMDB origin ledger, for `--origin-block-path`) and
    /// `keys/` (`account_keys_<i>.json`, secret, and `account_keys_<i>.pub`, the address).
    #[arg(long, env = "MC_ORIGIN_OUT")]
    out: PathBuf,
    /// Seed for reproducible keys and outputs (default: random). Test networks only.
    #[arg(long, env = "MC_ORIGIN_SEED")]
    seed: Option<u64>,
    /// Write this schema version (1 makes an old-layout ledger to exercise
    /// `mc-ledger-migration`).
    #[arg(long, env = "MC_ORIGIN_SCHEMA", default_value_t = CURRENT_SCHEMA_VERSION, hide = true)]
    schema: u32,
    /// Block version of the origin block: the version the network starts at (its nodes'
    /// `--block-version` must be this or higher).
    #[arg(long, env = "MC_ORIGIN_BLOCK_VERSION", default_value = "1")]
    block_version: BlockVersion,
}

/// `mcnode ledger` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LedgerCommand {
    /// Height, last block id, counts, schema version and table sizes (JSON).
    Info(PathArgs),
    /// Re-check every block (linkage, id, contents hash, Merkle root, signatures) and the
    /// indexes; exits non-zero naming the first bad block.
    Verify(PathArgs),
    /// Copy the ledger to `--out` consistently, even while a node is writing to it.
    Snapshot(SnapshotArgs),
    /// Remove every block from height `--to` on (take a snapshot first).
    Rollback(RollbackArgs),
    /// Build a ledger (or extend one) from an archive: every block verified (linkage, id,
    /// contents hash, signatures) before it is appended.
    FromArchive(crate::archive_cmd::FromArchiveArgs),
}

/// The ledger every subcommand works on.
#[derive(Debug, clap::Args)]
pub struct PathArgs {
    /// The ledger directory (holding `data.mdb`).
    #[arg(long, env = "MC_LEDGER_PATH")]
    ledger_path: PathBuf,
}

/// Arguments of `mcnode ledger snapshot`.
#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    path: PathArgs,
    /// Directory for the copy (created; must not hold a ledger).
    #[arg(long, env = "MC_SNAPSHOT_OUT")]
    out: PathBuf,
}

/// Arguments of `mcnode ledger rollback`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    path: PathArgs,
    /// The height to go back to: the number of blocks kept (blocks `0..HEIGHT`), at
    /// least 1 (the origin block stays).
    #[arg(long, env = "MC_ROLLBACK_TO")]
    to: u64,
}

/// What an origin ledger pays: `accounts` fresh accounts, `outputs_each` outputs of
/// `amount` each.
#[derive(Clone, Copy, Debug)]
pub struct OriginSpec {
    /// Number of sample accounts.
    pub accounts: usize,
    /// Value of each output, in the smallest unit.
    pub amount: u64,
    /// Outputs per account.
    pub outputs_each: usize,
    /// Schema version of the ledger written.
    pub schema: u32,
    /// Block version of the origin block.
    pub block_version: BlockVersion,
}

/// What [`make_origin`] wrote.
#[derive(Debug)]
pub struct Origin {
    /// The origin block's id (hex).
    pub block_id: String,
    /// Number of outputs in the origin block.
    pub outputs: usize,
    /// The accounts' printable addresses, in key file order.
    pub addresses: Vec<String>,
    /// The accounts' key files (`account_keys_<i>.json`, secret).
    pub key_files: Vec<PathBuf>,
}

/// Makes the origin ledger of `spec` in `ledger_dir` (which must not hold one) and the
/// accounts' key files in `keys_dir` (`account_keys_<i>.json`, mode 0600, and
/// `account_keys_<i>.pub`, the address). Used by `mcnode origin-block` and
/// `mcnode localnet`.
pub fn make_origin<R: RngCore + CryptoRng>(
    spec: OriginSpec,
    ledger_dir: &Path,
    keys_dir: &Path,
    rng: &mut R,
) -> anyhow::Result<Origin> {
    if spec.accounts == 0 || spec.outputs_each == 0 {
        anyhow::bail!("--accounts and --outputs-each must be at least 1");
    }
    if spec.schema == 0 || spec.schema > CURRENT_SCHEMA_VERSION {
        anyhow::bail!("--schema must be in 1..={CURRENT_SCHEMA_VERSION}");
    }
    if ledger_dir.join("data.mdb").exists() {
        anyhow::bail!("{} already holds a ledger", ledger_dir.display());
    }
    std::fs::create_dir_all(keys_dir)
        .with_context(|| format!("cannot create {}", keys_dir.display()))?;
    let pb = progress::bar(spec.accounts as u64, "accounts");
    let accounts: Vec<AccountKey> = (0..spec.accounts)
        .map(|_| AccountKey::random(&mut *rng))
        .collect();
    let mut addresses = Vec::with_capacity(accounts.len());
    let mut key_files = Vec::with_capacity(accounts.len());
    for (i, a) in accounts.iter().enumerate() {
        let address = a.default_address().to_string();
        let key_file = keys_dir.join(format!("account_keys_{i}.json"));
        keys::write_secret(
            &key_file,
            &format!("{}\n", serde_json::to_string_pretty(&a.to_key_file())?),
        )?;
        keys::write_public(
            &keys_dir.join(format!("account_keys_{i}.pub")),
            &format!("{address}\n"),
        )?;
        addresses.push(address);
        key_files.push(key_file);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let recipients: Vec<_> = accounts.iter().map(AccountKey::default_address).collect();
    let (block, contents) = origin_block_paying_at(
        spec.block_version,
        &recipients,
        spec.amount,
        spec.outputs_each,
        rng,
    )
    .context("cannot make the origin block")?;
    if spec.schema == CURRENT_SCHEMA_VERSION {
        let ledger = LmdbLedger::create(ledger_dir)?;
        ledger.append_block(&block, &contents, None, None)?;
    } else {
        migrations::create_schema_1_ledger(
            ledger_dir,
            &[(block.clone(), contents.clone(), None, None)],
        )?;
    }
    Ok(Origin {
        block_id: block.id.to_string(),
        outputs: contents.outputs.len(),
        addresses,
        key_files,
    })
}

/// Runs `mcnode origin-block`.
pub fn origin_block(args: OriginBlockArgs) -> anyhow::Result<()> {
    let mut rng = match args.seed {
        Some(s) => ChaCha20Rng::seed_from_u64(s),
        None => ChaCha20Rng::from_entropy(),
    };
    let spec = OriginSpec {
        accounts: args.accounts,
        amount: args.amount,
        outputs_each: args.outputs_each,
        schema: args.schema,
        block_version: args.block_version,
    };
    let ledger_dir = args.out.join("ledger");
    let keys_dir = args.out.join("keys");
    let origin = make_origin(spec, &ledger_dir, &keys_dir, &mut rng)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "ledger": ledger_dir.display().to_string(),
            "keys": keys_dir.display().to_string(),
            "schema_version": args.schema,
            "block_version": args.block_version.get(),
            "origin_block_id": origin.block_id,
            "outputs": origin.outputs,
            "amount_per_output": args.amount,
            "total": u128::from(args.amount) * origin.outputs as u128,
            "accounts": origin.addresses,
        }))?
    );
    Ok(())
}

fn open(path: &PathArgs) -> anyhow::Result<LmdbLedger> {
    LmdbLedger::open(&path.ledger_path)
        .with_context(|| format!("cannot open the ledger at {}", path.ledger_path.display()))
}

/// Runs `mcnode ledger ...`.
pub fn run(cmd: LedgerCommand) -> anyhow::Result<()> {
    match cmd {
        LedgerCommand::FromArchive(args) => crate::archive_cmd::from_archive(args)?,
        LedgerCommand::Info(p) => {
            let info = open(&p)?.info()?;
            let last = info.last_block.as_ref();
            let tables: serde_json::Map<_, _> = info
                .table_entries
                .iter()
                .map(|(n, e)| (n.to_string(), json!(e)))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "ledger_path": info.path.display().to_string(),
                    "schema_version": info.schema_version,
                    "height": info.num_blocks,
                    "last_block_index": last.map(|b| b.index),
                    "last_block_version": last.map(|b| b.version),
                    "last_block_id": last.map(|b| b.id.to_string()),
                    "num_txos": info.num_txos,
                    "num_key_images": info.num_key_images,
                    "used_bytes": info.used_bytes,
                    "table_entries": tables,
                }))?
            );
        }
        LedgerCommand::Verify(p) => {
            let ledger = open(&p)?;
            let pb = progress::bar(ledger.num_blocks()?, "verifying blocks");
            let result = ledger.verify(&mut |done, _| pb.set_position(done));
            pb.finish_and_clear();
            let report = result.context("ledger verification failed")?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "ok": true,
                    "blocks": report.num_blocks,
                    "txos": report.num_txos,
                    "key_images": report.num_key_images,
                    "block_signatures": report.signatures,
                    "block_metadata": report.metadata,
                    "merkle_nodes": report.merkle_nodes,
                }))?
            );
        }
        LedgerCommand::Snapshot(a) => {
            let bytes = match lmdb::snapshot(&a.path.ledger_path, &a.out) {
                Err(LedgerError::AlreadyExists(d)) => {
                    anyhow::bail!("{d} already holds a ledger: choose an empty --out")
                }
                other => other?,
            };
            let version = lmdb::schema_version(&a.out)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "snapshot": a.out.display().to_string(),
                    "bytes": bytes,
                    "schema_version": version,
                }))?
            );
        }
        LedgerCommand::Rollback(a) => {
            let ledger = open(&a.path)?;
            let before = ledger.num_blocks()?;
            ledger.rollback(a.to)?;
            let last = ledger.last_block()?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "height_before": before,
                    "height": ledger.num_blocks()?,
                    "last_block_id": last.id.to_string(),
                    "num_txos": ledger.num_txos()?,
                }))?
            );
        }
    }
    Ok(())
}
