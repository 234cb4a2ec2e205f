//! The two `unsafe` heed calls of this crate, with their safety argument.
#![allow(unsafe_code)]

use std::path::Path;

use heed::{types::Bytes, Database, Env, EnvOpenOptions, RwTxn, WithoutTls};

use crate::LedgerError;

/// The LMDB map size: 1 TiB on 64-bit targets, 1 GiB on 32-bit ones.
///
/// This is address space, not disk: without `MDB_WRITEMAP` LMDB grows `data.mdb` only as
/// pages are used (the file is sparse), so a generous map costs nothing and a ledger never
/// hits `MDB_MAP_FULL` in practice (a MobileCoin mainnet ledger is a few GiB). A process
/// limited with `ulimit -v` below this cannot open a ledger.
pub const MAP_SIZE: usize = if cfg!(target_pointer_width = "64") {
    1 << 40
} else {
    1 << 30
};

/// Named tables an environment may hold (we use 9; room for future schemas).
pub const MAX_TABLES: u32 = 32;

/// Opens (creating `data.mdb` and `lock.mdb` if needed) the LMDB environment in the
/// existing directory `path`, with the ledger's map size and table limit, and without
/// thread-local read slots (so read transactions may move between threads).
///
/// Opening the same directory twice in one process fails (`EnvAlreadyOpened`): close the
/// first handle first.
pub fn open_env(path: &Path) -> Result<Env<WithoutTls>, LedgerError> {
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(MAP_SIZE).max_dbs(MAX_TABLES);
    // SAFETY: heed marks opening unsafe because the file is memory-mapped: undefined
    // behaviour follows if the file is modified other than through LMDB while mapped. We
    // never do that; other processes (a node, `mcnode ledger snapshot`) reach it only through
    // LMDB and its lock file, which is LMDB's supported multi-process mode. We set no unsafe
    // flags (`NO_LOCK`, `NO_SYNC`, `WRITE_MAP`), and heed refuses a second open of the same
    // path in this process.
    unsafe { options.open(path) }.map_err(|source| LedgerError::Open {
        path: path.display().to_string(),
        source,
    })
}

/// Deletes a table and its name from the environment (a reverse schema step).
pub(crate) fn drop_table(
    table: Database<'_, Bytes, Bytes>,
    wtxn: &mut RwTxn<'_>,
) -> heed::Result<()> {
    // SAFETY: heed requires that no other handle to this table is used afterwards and that
    // the table was not modified in this transaction. Migrations open the table in the same
    // write transaction only to drop it, through a handle that is consumed here; no
    // `LmdbLedger` may have the environment open (heed refuses a second open in-process,
    // and `mc-ledger-migration` runs with the node stopped).
    unsafe { table.remove(wtxn) }
}
