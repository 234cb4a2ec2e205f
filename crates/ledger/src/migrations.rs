//! Schema versions and the steps between them (what `mc-ledger-migration` runs).
//!
//! | version | layout |
//! |---|---|
//! | 1 | every table of [`tables`](crate::lmdb::tables) except `mcnode.tx_out_by_target_key`: a duplicate output key could only be found by scanning every output, so schema-1 writers did not refuse one |
//! | 2 (current) | adds `mcnode.tx_out_by_target_key` (target key -> global index): O(log n) duplicate-output checks and lookups by output public key |
//!
//! [`migrate`] applies the steps from the ledger's version to the target, one at a time.
//! Each step is **one LMDB write transaction that also writes the new version**, so a crash
//! (or a failed step) leaves the ledger at the last version that committed, never between
//! two; running the tool again resumes from there. Reverse steps (`--to` an older version)
//! undo forward ones, for going back to an older build.

use std::path::Path;

use heed::{types::Bytes, CommitOrAbort, Database, Env, RoTxn, RwTxn, WithoutTls};
use mcnode_blockchain::{
    encoding::decode_tx_out, Block, BlockContents, BlockMetadata, BlockSignature,
};

use crate::{
    lmdb::{self, tables},
    LedgerError, MigrationError, CURRENT_SCHEMA_VERSION,
};

/// One step between adjacent versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Version before.
    pub from: u32,
    /// Version after.
    pub to: u32,
    /// What the forward step does.
    pub description: &'static str,
    /// What the reverse step does.
    pub reverse_description: &'static str,
}

/// The forward steps, oldest first; each has a reverse (`to` -> `from`).
pub const STEPS: &[Step] = &[Step {
    from: 1,
    to: 2,
    description: "add mcnode.tx_out_by_target_key (output target key -> global index), \
                  filled from mcnode.tx_outs",
    reverse_description: "drop mcnode.tx_out_by_target_key",
}];

/// What [`migrate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationReport {
    /// Version found.
    pub from: u32,
    /// Version now.
    pub to: u32,
    /// Steps applied, `(from, to)`, in order.
    pub applied: Vec<(u32, u32)>,
}

/// Outputs re-indexed per read pass of step 1 -> 2 (bounds memory on large ledgers).
const CHUNK: usize = 16_384;

type Raw<'e> = Database<'e, Bytes, Bytes>;

/// Brings the ledger at `path` to schema `target` (default: [`CURRENT_SCHEMA_VERSION`]),
/// in place. `on_step(from, to)` is called before each step.
pub fn migrate(
    path: &Path,
    target: Option<u32>,
    on_step: &mut dyn FnMut(&Step, bool),
) -> Result<MigrationReport, MigrationError> {
    let target = target.unwrap_or(CURRENT_SCHEMA_VERSION);
    if target == 0 || target > CURRENT_SCHEMA_VERSION {
        return Err(MigrationError::UnknownVersion {
            target,
            current: CURRENT_SCHEMA_VERSION,
        });
    }
    if !path.join("data.mdb").exists() {
        return Err(LedgerError::NotALedger(path.display().to_string()).into());
    }
    let env = lmdb::open_env(path)?;
    let from = lmdb::read_version(&env, path)?;
    if from > CURRENT_SCHEMA_VERSION || from == 0 {
        return Err(MigrationError::TooNew {
            found: from,
            current: CURRENT_SCHEMA_VERSION,
        });
    }
    let mut applied = Vec::new();
    let mut v = from;
    while v != target {
        let forward = v < target;
        let step = STEPS
            .iter()
            .find(|s| if forward { s.from == v } else { s.to == v })
            .ok_or(MigrationError::UnknownVersion {
                target,
                current: CURRENT_SCHEMA_VERSION,
            })?;
        on_step(step, forward);
        let next = if forward { step.to } else { step.from };
        run_step(&env, step, forward)?;
        applied.push((v, next));
        v = next;
    }
    env.prepare_for_closing().wait();
    Ok(MigrationReport {
        from,
        to: v,
        applied,
    })
}

fn read_version_in(meta: &Raw<'_>, txn: &RoTxn<'_>) -> heed::Result<Option<u32>> {
    Ok(meta
        .get(txn, tables::SCHEMA_VERSION_KEY)?
        .and_then(|v| <[u8; 4]>::try_from(v).ok())
        .map(u32::from_be_bytes))
}

fn run_step(env: &Env<WithoutTls>, step: &Step, forward: bool) -> Result<(), MigrationError> {
    let (before, after) = if forward {
        (step.from, step.to)
    } else {
        (step.to, step.from)
    };
    let failed = |reason: String| MigrationError::StepFailed {
        from: before,
        to: after,
        reason,
    };
    let wtxn = env
        .write_txn()
        .map_err(|e| failed(format!("cannot start a write transaction: {e}")))?;
    let result = env
        .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
            let Some(meta) = dbo.open_database::<Bytes, Bytes>(wtxn, Some(tables::META))? else {
                return Ok(CommitOrAbort::Abort("no metadata table".to_string()));
            };
            match read_version_in(&meta, wtxn)? {
                Some(v) if v == before => {}
                other => {
                    return Ok(CommitOrAbort::Abort(format!(
                        "expected schema {before}, found {other:?} (another process migrated?)"
                    )))
                }
            }
            let outcome = match (before, after) {
                (1, 2) => step_1_to_2(dbo, wtxn)?,
                (2, 1) => step_2_to_1(dbo, wtxn)?,
                _ => Err(format!("no step {before} -> {after}")),
            };
            if let Err(reason) = outcome {
                return Ok(CommitOrAbort::Abort(reason));
            }
            meta.put(wtxn, tables::SCHEMA_VERSION_KEY, &after.to_be_bytes())?;
            Ok(CommitOrAbort::Commit(()))
        })
        .map_err(|e| failed(format!("write failed: {e}")))?;
    match result {
        CommitOrAbort::Commit(()) => Ok(()),
        CommitOrAbort::Abort(reason) => Err(failed(reason)),
    }
}

fn step_1_to_2<'e>(
    dbo: &heed::DatabaseOpener<'e, WithoutTls>,
    wtxn: &mut RwTxn<'e>,
) -> heed::Result<Result<(), String>> {
    let Some(tx_outs) = dbo.open_database::<Bytes, Bytes>(wtxn, Some(tables::TX_OUTS))? else {
        return Ok(Err(format!("table {} is missing", tables::TX_OUTS)));
    };
    let by_target: Raw<'e> = dbo.create_database(wtxn, Some(tables::TX_OUT_BY_TARGET_KEY))?;
    by_target.clear(wtxn)?;
    let mut next: Option<Vec<u8>> = None;
    loop {
        let mut chunk: Vec<([u8; 32], Vec<u8>)> = Vec::with_capacity(CHUNK);
        {
            let txn: &RoTxn<'_> = wtxn;
            let start = match &next {
                None => std::ops::Bound::Unbounded,
                Some(k) => std::ops::Bound::Excluded(&k[..]),
            };
            let iter = tx_outs.range(txn, &(start, std::ops::Bound::Unbounded))?;
            for kv in iter.take(CHUNK) {
                let (k, v) = kv?;
                let o = match decode_tx_out(v) {
                    Ok(o) => o,
                    Err(e) => {
                        return Ok(Err(format!(
                            "output {} does not decode: {e}",
                            tables::hex_short(k)
                        )))
                    }
                };
                chunk.push((o.target_key.0, k.to_vec()));
            }
        }
        let Some((_, last)) = chunk.last() else {
            break;
        };
        next = Some(last.clone());
        for (target, index) in &chunk {
            if let Some(prev) = by_target.get(wtxn, target)? {
                return Ok(Err(format!(
                    "outputs {} and {} share a target key {}: this ledger cannot be indexed",
                    tables::hex_short(prev),
                    tables::hex_short(index),
                    tables::hex_short(target)
                )));
            }
            by_target.put(wtxn, target, index)?;
        }
    }
    Ok(Ok(()))
}

fn step_2_to_1<'e>(
    dbo: &heed::DatabaseOpener<'e, WithoutTls>,
    wtxn: &mut RwTxn<'e>,
) -> heed::Result<Result<(), String>> {
    match dbo.open_database::<Bytes, Bytes>(wtxn, Some(tables::TX_OUT_BY_TARGET_KEY))? {
        Some(t) => {
            lmdb::drop_table(t, wtxn)?;
            Ok(Ok(()))
        }
        None => Ok(Err(format!(
            "table {} is missing",
            tables::TX_OUT_BY_TARGET_KEY
        ))),
    }
}

/// A block with everything stored about it.
pub type FullBlock = (
    Block,
    BlockContents,
    Option<BlockSignature>,
    Option<BlockMetadata>,
);

/// Writes a **schema-1** ledger (the old layout, without the target-key index) holding
/// `blocks`, at `path`: the fixture for exercising migrations (tests, and
/// `mcnode origin-block --schema 1`). The blocks are checked as schema-1 writers did.
pub fn create_schema_1_ledger(path: &Path, blocks: &[FullBlock]) -> Result<(), LedgerError> {
    let (env, t) = lmdb::create_tables(path, 1)?;
    for (b, c, s, m) in blocks {
        lmdb::append_in(&env, &t, b, c, s.as_ref(), m.as_ref())?;
    }
    env.prepare_for_closing().wait();
    Ok(())
}
