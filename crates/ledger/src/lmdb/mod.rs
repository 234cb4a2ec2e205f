//! The LMDB ledger ([`LmdbLedger`]), on heed.
//!
//! One environment per ledger directory (`data.mdb`, `lock.mdb`), the named tables of
//! [`tables`], big-endian integer keys, values in `mcnode_blockchain::encoding`. Each block
//! is one write transaction: the checks, the Merkle nodes and every table write happen in
//! it, and it commits or leaves nothing. LMDB's default durability is kept (no `NO_SYNC`):
//! a commit that returned is on disk, a process killed mid-transaction leaves the previous
//! block as the last one.

mod env;
pub mod tables;
mod verify;

use std::{
    fs,
    ops::Bound,
    path::{Path, PathBuf},
};

use heed::{CommitOrAbort, CompactionOption, Env, RoTxn, RwTxn, WithoutTls};
use mcnode_blockchain::{
    encoding::{
        decode_block, decode_contents, decode_metadata, decode_signature, decode_tx_out,
        encode_block, encode_contents, encode_metadata, encode_signature, encode_tx_out,
    },
    Block, BlockContents, BlockMetadata, BlockSignature, DecodeError,
};
use mcnode_crypto::{
    merkle::{leaf_hash, MerkleHash},
    CompressedPoint, KeyImage,
};
use mcnode_transaction::{
    membership::{self, NodeSource, RootElement},
    LedgerView, LedgerViewError, RootProof, TxOut, TxOutMembershipProof,
};

pub(crate) use env::drop_table;
pub use env::{open_env, MAP_SIZE, MAX_TABLES};
pub use tables::Table;
pub(crate) use tables::Tables;
pub use verify::VerifyReport;

use self::tables::{hex_short, node_key, read_schema_version, read_u64, u64_key};
use crate::{
    checks::{self, AppendState},
    traits::{answer_query, view_error, StateLookups},
    tree, AppendError, Ledger, LedgerError, StateAnswer, StateQuery, CURRENT_SCHEMA_VERSION,
};

/// A ledger in an LMDB environment. Cheap to share between threads (`&self` everywhere);
/// LMDB serializes writers and gives readers consistent snapshots.
pub struct LmdbLedger {
    env: Env<WithoutTls>,
    tables: Tables,
    path: PathBuf,
}

impl std::fmt::Debug for LmdbLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LmdbLedger")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What `mcnode ledger info` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerInfo {
    /// The ledger directory.
    pub path: PathBuf,
    /// Schema version.
    pub schema_version: u32,
    /// Number of blocks (height).
    pub num_blocks: u64,
    /// The last block, if any.
    pub last_block: Option<Block>,
    /// Number of outputs.
    pub num_txos: u64,
    /// Number of spent key images.
    pub num_key_images: u64,
    /// Entries per table, in layout order.
    pub table_entries: Vec<(&'static str, u64)>,
    /// Bytes of `data.mdb` in use (LMDB's last page), not the sparse file's apparent size.
    pub used_bytes: u64,
}

/// All key/value pairs of every table, in layout order (for tests and golden digests).
pub type TableDump = Vec<(&'static str, Vec<(Vec<u8>, Vec<u8>)>)>;

fn read_err(e: heed::Error) -> LedgerError {
    LedgerError::ReadFailed(e)
}

fn write_err(e: heed::Error) -> LedgerError {
    LedgerError::WriteFailed(e)
}

fn decode<T>(r: Result<T, DecodeError>, table: &'static str, key: &[u8]) -> Result<T, LedgerError> {
    r.map_err(|source| LedgerError::Decode {
        table,
        key: hex_short(key),
        source,
    })
}

/// Reads over one transaction (read-only, or the block's write transaction).
pub(crate) struct Reader<'a, 'e> {
    pub t: &'a Tables,
    pub txn: &'a RoTxn<'e>,
}

impl Reader<'_, '_> {
    pub fn num_blocks(&self) -> Result<u64, LedgerError> {
        match self.t.blocks.last(self.txn).map_err(read_err)? {
            None => Ok(0),
            Some((k, _)) => Ok(read_u64(k, tables::BLOCKS)? + 1),
        }
    }

    pub fn last_block(&self) -> Result<Option<Block>, LedgerError> {
        match self.t.blocks.last(self.txn).map_err(read_err)? {
            None => Ok(None),
            Some((k, v)) => Ok(Some(decode(decode_block(v), tables::BLOCKS, k)?)),
        }
    }

    pub fn num_txos(&self) -> Result<u64, LedgerError> {
        Ok(self.last_block()?.map_or(0, |b| b.cumulative_txo_count))
    }

    pub fn block(&self, index: u64) -> Result<Block, LedgerError> {
        let key = u64_key(index);
        match self.t.blocks.get(self.txn, &key).map_err(read_err)? {
            Some(v) => decode(decode_block(v), tables::BLOCKS, &key),
            None => Err(LedgerError::NoSuchBlock {
                index,
                num_blocks: self.num_blocks()?,
            }),
        }
    }

    /// The global index range of block `index`'s outputs.
    pub fn output_range(&self, index: u64) -> Result<(u64, u64), LedgerError> {
        let end = self.block(index)?.cumulative_txo_count;
        let start = if index == 0 {
            0
        } else {
            self.block(index - 1)?.cumulative_txo_count
        };
        if start > end {
            return Err(LedgerError::Corrupt(format!(
                "block {index} has fewer cumulative outputs than its parent"
            )));
        }
        Ok((start, end))
    }

    pub fn key_images_of(&self, index: u64) -> Result<Vec<KeyImage>, LedgerError> {
        let key = u64_key(index);
        match self
            .t
            .block_key_images
            .get(self.txn, &key)
            .map_err(read_err)?
        {
            Some(v) => Ok(decode(decode_contents(v), tables::BLOCK_KEY_IMAGES, &key)?.key_images),
            None => Err(LedgerError::Corrupt(format!(
                "{}: no entry for block {index}",
                tables::BLOCK_KEY_IMAGES
            ))),
        }
    }

    pub fn tx_out(&self, index: u64) -> Result<TxOut, LedgerError> {
        let key = u64_key(index);
        match self.t.tx_outs.get(self.txn, &key).map_err(read_err)? {
            Some(v) => decode(decode_tx_out(v), tables::TX_OUTS, &key),
            None => Err(LedgerError::NoSuchTxOut {
                index,
                num_txos: self.num_txos()?,
            }),
        }
    }

    pub fn contents(&self, index: u64) -> Result<BlockContents, LedgerError> {
        let (start, end) = self.output_range(index)?;
        let key_images = self.key_images_of(index)?;
        let outputs = (start..end)
            .map(|i| match self.tx_out(i) {
                Err(LedgerError::NoSuchTxOut { .. }) => Err(LedgerError::Corrupt(format!(
                    "output {i} of block {index} is missing"
                ))),
                other => other,
            })
            .collect::<Result<_, _>>()?;
        Ok(BlockContents {
            key_images,
            outputs,
        })
    }

    pub fn signature(&self, index: u64) -> Result<Option<BlockSignature>, LedgerError> {
        let key = u64_key(index);
        self.t
            .signatures
            .get(self.txn, &key)
            .map_err(read_err)?
            .map(|v| decode(decode_signature(v), tables::BLOCK_SIGNATURES, &key))
            .transpose()
    }

    pub fn metadata(&self, index: u64) -> Result<Option<BlockMetadata>, LedgerError> {
        let key = u64_key(index);
        self.t
            .metadata
            .get(self.txn, &key)
            .map_err(read_err)?
            .map(|v| decode(decode_metadata(v), tables::BLOCK_METADATA, &key))
            .transpose()
    }

    pub fn spent_in(&self, ki: &KeyImage) -> Result<Option<u64>, LedgerError> {
        self.t
            .key_images
            .get(self.txn, ki.as_bytes())
            .map_err(read_err)?
            .map(|v| read_u64(v, tables::KEY_IMAGES))
            .transpose()
    }

    pub fn output_index(&self, key: &CompressedPoint) -> Result<Option<u64>, LedgerError> {
        let Some(t) = &self.t.by_target_key else {
            return Ok(None);
        };
        t.get(self.txn, key.as_bytes())
            .map_err(read_err)?
            .map(|v| read_u64(v, tables::TX_OUT_BY_TARGET_KEY))
            .transpose()
    }

    pub fn proof(&self, index: u64) -> Result<TxOutMembershipProof, LedgerError> {
        let count = self.num_txos()?;
        if index >= count {
            return Err(LedgerError::NoSuchTxOut {
                index,
                num_txos: count,
            });
        }
        membership::make_proof(self, count, index)
    }

    pub fn root(&self) -> Result<RootElement, LedgerError> {
        match self.num_txos()? {
            0 => Err(LedgerError::Empty),
            n => membership::root(self, n),
        }
    }

    pub fn root_after(&self, outputs: &[TxOut]) -> Result<RootElement, LedgerError> {
        if outputs.is_empty() {
            return self.root();
        }
        Ok(tree::append_outputs(self, self.num_txos()?, outputs)?.root)
    }
}

impl NodeSource for Reader<'_, '_> {
    type Error = LedgerError;
    fn stored_node(&self, level: u32, position: u64) -> Result<MerkleHash, LedgerError> {
        let key = node_key(level, position);
        match self.t.merkle.get(self.txn, &key).map_err(read_err)? {
            Some(v) => v.try_into().map_err(|_| {
                LedgerError::Corrupt(format!(
                    "{}: node ({level}, {position}) is {} bytes",
                    tables::MERKLE_NODES,
                    v.len()
                ))
            }),
            None => Err(LedgerError::Corrupt(format!(
                "{}: node ({level}, {position}) is missing",
                tables::MERKLE_NODES
            ))),
        }
    }
}

impl AppendState for Reader<'_, '_> {
    fn last_block(&self) -> Result<Option<Block>, LedgerError> {
        Reader::last_block(self)
    }
    fn spent_in(&self, key_image: &KeyImage) -> Result<Option<u64>, LedgerError> {
        Reader::spent_in(self, key_image)
    }
    fn output_index(&self, target_key: &CompressedPoint) -> Result<Option<u64>, LedgerError> {
        Reader::output_index(self, target_key)
    }
}

/// Checks and appends one block in one write transaction over `t` (either schema).
pub(crate) fn append_in(
    env: &Env<WithoutTls>,
    t: &Tables,
    block: &Block,
    contents: &BlockContents,
    signature: Option<&BlockSignature>,
    metadata: Option<&BlockMetadata>,
) -> Result<(), LedgerError> {
    let mut wtxn = env.write_txn().map_err(write_err)?;
    let nodes = {
        let txn: &RoTxn<'_> = &wtxn;
        let r = Reader { t, txn };
        checks::check_block(&r, block, contents, signature, metadata)?;
        let count = block.cumulative_txo_count - contents.outputs.len() as u64;
        let appended = tree::append_outputs(&r, count, &contents.outputs)?;
        if appended.root != block.root_element {
            return Err(AppendError::WrongRootElement.into());
        }
        appended.nodes
    };
    write_block(t, &mut wtxn, block, contents, signature, metadata, nodes).map_err(write_err)?;
    wtxn.commit().map_err(write_err)
}

fn write_block(
    t: &Tables,
    wtxn: &mut RwTxn<'_>,
    block: &Block,
    contents: &BlockContents,
    signature: Option<&BlockSignature>,
    metadata: Option<&BlockMetadata>,
    nodes: Vec<(u32, u64, MerkleHash)>,
) -> heed::Result<()> {
    let index = u64_key(block.index);
    t.blocks.put(wtxn, &index, &encode_block(block))?;
    let key_images = BlockContents {
        key_images: contents.key_images.clone(),
        outputs: Vec::new(),
    };
    t.block_key_images
        .put(wtxn, &index, &encode_contents(&key_images))?;
    if let Some(s) = signature {
        t.signatures.put(wtxn, &index, &encode_signature(s))?;
    }
    if let Some(m) = metadata {
        t.metadata.put(wtxn, &index, &encode_metadata(m))?;
    }
    for ki in &contents.key_images {
        t.key_images.put(wtxn, ki.as_bytes(), &index)?;
    }
    let first = block.cumulative_txo_count - contents.outputs.len() as u64;
    for (i, o) in contents.outputs.iter().enumerate() {
        let gi = u64_key(first + i as u64);
        t.tx_outs.put(wtxn, &gi, &encode_tx_out(o))?;
        if let Some(by_target) = &t.by_target_key {
            by_target.put(wtxn, o.target_key.as_bytes(), &gi)?;
        }
    }
    for (level, pos, hash) in nodes {
        t.merkle.put(wtxn, &node_key(level, pos), &hash)?;
    }
    Ok(())
}

/// Why table opening stopped.
enum OpenAbort {
    NotALedger,
    AlreadyExists,
    Schema(u32),
    Corrupt(LedgerError),
}

impl OpenAbort {
    fn into_error(self, path: &Path) -> LedgerError {
        match self {
            Self::NotALedger => LedgerError::NotALedger(path.display().to_string()),
            Self::AlreadyExists => LedgerError::AlreadyExists(path.display().to_string()),
            Self::Schema(found) => LedgerError::SchemaMismatch {
                found,
                expected: CURRENT_SCHEMA_VERSION,
            },
            Self::Corrupt(e) => e,
        }
    }
}

/// Creates the directory if needed, then the tables of `schema` (1 or 2) and the version
/// record, in one transaction. Fails if a ledger is already there.
pub(crate) fn create_tables(
    path: &Path,
    schema: u32,
) -> Result<(Env<WithoutTls>, Tables), LedgerError> {
    fs::create_dir_all(path).map_err(|source| LedgerError::Io {
        context: format!("cannot create ledger directory {}", path.display()),
        source,
    })?;
    let env = open_env(path)?;
    let wtxn = env.write_txn().map_err(write_err)?;
    let result = env
        .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
            let meta: heed::Database<'_, heed::types::Bytes, heed::types::Bytes> =
                dbo.create_database(wtxn, Some(tables::META))?;
            let txn: &RoTxn<'_> = wtxn;
            if meta.get(txn, tables::SCHEMA_VERSION_KEY)?.is_some() {
                return Ok(CommitOrAbort::Abort(OpenAbort::AlreadyExists));
            }
            let mut arr = [None, None, None, None, None, None, None, None, None];
            arr[0] = Some(meta);
            for (slot, name) in arr.iter_mut().zip(tables::ALL).skip(1) {
                if name == tables::TX_OUT_BY_TARGET_KEY && schema < 2 {
                    continue;
                }
                *slot = Some(dbo.create_database(wtxn, Some(name))?);
            }
            if let Some(meta) = &arr[0] {
                meta.put(wtxn, tables::SCHEMA_VERSION_KEY, &schema.to_be_bytes())?;
            }
            Ok(CommitOrAbort::Commit(arr))
        })
        .map_err(write_err)?;
    match result {
        CommitOrAbort::Commit(arr) => {
            let t = Tables::from_array(arr)
                .ok_or_else(|| LedgerError::Corrupt("a table was not created".into()))?;
            Ok((env, t))
        }
        CommitOrAbort::Abort(a) => Err(a.into_error(path)),
    }
}

/// Opens the tables of the ledger at `path`, requiring schema `expected`.
pub(crate) fn open_tables(
    env: &Env<WithoutTls>,
    path: &Path,
    expected: u32,
) -> Result<Tables, LedgerError> {
    let rtxn = env.read_txn().map_err(read_err)?;
    let result = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| -> heed::Result<_> {
            let Some(meta) = dbo.open_database(rtxn, Some(tables::META))? else {
                return Ok(CommitOrAbort::Abort(OpenAbort::NotALedger));
            };
            let meta: heed::Database<'_, heed::types::Bytes, heed::types::Bytes> = meta;
            match read_version_in(&meta, rtxn) {
                Err(e) => return Ok(CommitOrAbort::Abort(OpenAbort::Corrupt(e))),
                Ok(None) => return Ok(CommitOrAbort::Abort(OpenAbort::NotALedger)),
                Ok(Some(v)) if v != expected => {
                    return Ok(CommitOrAbort::Abort(OpenAbort::Schema(v)))
                }
                Ok(Some(_)) => {}
            }
            let mut arr = [None, None, None, None, None, None, None, None, None];
            arr[0] = Some(meta);
            for (slot, name) in arr.iter_mut().zip(tables::ALL).skip(1) {
                *slot = dbo.open_database(rtxn, Some(name))?;
            }
            Ok(CommitOrAbort::Commit(arr))
        })
        .map_err(read_err)?;
    match result {
        CommitOrAbort::Commit(arr) => {
            let t = Tables::from_array(arr).ok_or_else(|| {
                LedgerError::Corrupt(format!("{}: a table is missing", path.display()))
            })?;
            if expected >= 2 && t.by_target_key.is_none() {
                return Err(LedgerError::Corrupt(format!(
                    "{}: table {} is missing",
                    path.display(),
                    tables::TX_OUT_BY_TARGET_KEY
                )));
            }
            Ok(t)
        }
        CommitOrAbort::Abort(a) => Err(a.into_error(path)),
    }
}

fn read_version_in(
    meta: &heed::Database<'_, heed::types::Bytes, heed::types::Bytes>,
    txn: &RoTxn<'_>,
) -> Result<Option<u32>, LedgerError> {
    match meta
        .get(txn, tables::SCHEMA_VERSION_KEY)
        .map_err(read_err)?
    {
        None => Ok(None),
        Some(v) => {
            let b: [u8; 4] = v.try_into().map_err(|_| {
                LedgerError::Corrupt(format!(
                    "{}: schema version is {} bytes",
                    tables::META,
                    v.len()
                ))
            })?;
            Ok(Some(u32::from_be_bytes(b)))
        }
    }
}

/// Every key/value of every table.
pub(crate) fn dump_tables(env: &Env<WithoutTls>, t: &Tables) -> Result<TableDump, LedgerError> {
    let rtxn = env.read_txn().map_err(read_err)?;
    let mut out = Vec::new();
    for (name, table) in t.named() {
        let mut rows = Vec::new();
        for kv in table.iter(&rtxn).map_err(read_err)? {
            let (k, v) = kv.map_err(read_err)?;
            rows.push((k.to_vec(), v.to_vec()));
        }
        out.push((name, rows));
    }
    Ok(out)
}

/// Copies the environment to `dest/data.mdb` from one read transaction (a consistent
/// snapshot even while another process appends), compacted, then syncs it.
fn copy_env(env: &Env<WithoutTls>, dest: &Path) -> Result<u64, LedgerError> {
    let io = |context: String| move |source| LedgerError::Io { context, source };
    fs::create_dir_all(dest).map_err(io(format!("cannot create {}", dest.display())))?;
    let file = dest.join("data.mdb");
    if file.exists() {
        return Err(LedgerError::AlreadyExists(dest.display().to_string()));
    }
    let f = env
        .copy_to_path(&file, CompactionOption::Enabled)
        .map_err(read_err)?;
    f.sync_all()
        .map_err(io(format!("cannot sync {}", file.display())))?;
    let len = f
        .metadata()
        .map_err(io(format!("cannot stat {}", file.display())))?
        .len();
    Ok(len)
}

/// Snapshots the ledger at `src` (any schema version) to the directory `dest`, which must
/// not hold a ledger yet. Safe while a node in another process writes to `src`: the copy
/// is one LMDB read transaction. Returns the snapshot's size in bytes.
pub fn snapshot(src: &Path, dest: &Path) -> Result<u64, LedgerError> {
    if !src.join("data.mdb").exists() {
        return Err(LedgerError::NotALedger(src.display().to_string()));
    }
    let env = open_env(src)?;
    copy_env(&env, dest)
}

/// Every key/value of every table of the ledger at `path`, whatever its schema version
/// (for tests, golden digests and migration checks).
pub fn dump_path(path: &Path) -> Result<TableDump, LedgerError> {
    if !path.join("data.mdb").exists() {
        return Err(LedgerError::NotALedger(path.display().to_string()));
    }
    let env = open_env(path)?;
    let version = read_version(&env, path)?;
    let tables = open_tables(&env, path, version)?;
    dump_tables(&env, &tables)
}

/// The schema version of the ledger at `path`, without opening it as a ledger.
pub fn schema_version(path: &Path) -> Result<u32, LedgerError> {
    if !path.join("data.mdb").exists() {
        return Err(LedgerError::NotALedger(path.display().to_string()));
    }
    let env = open_env(path)?;
    read_version(&env, path)
}

pub(crate) fn read_version(env: &Env<WithoutTls>, path: &Path) -> Result<u32, LedgerError> {
    let rtxn = env.read_txn().map_err(read_err)?;
    let result = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| -> heed::Result<_> {
            let meta: Option<heed::Database<'_, heed::types::Bytes, heed::types::Bytes>> =
                dbo.open_database(rtxn, Some(tables::META))?;
            let v = meta.map(|m| read_version_in(&m, rtxn));
            Ok(CommitOrAbort::<(), _>::Abort(v))
        })
        .map_err(read_err)?;
    match result {
        CommitOrAbort::Abort(Some(Ok(Some(v)))) => Ok(v),
        CommitOrAbort::Abort(Some(Err(e))) => Err(e),
        _ => Err(LedgerError::NotALedger(path.display().to_string())),
    }
}

impl LmdbLedger {
    /// Creates a new, empty ledger of the current schema in `path` (created if missing).
    /// Fails with [`LedgerError::AlreadyExists`] if a ledger is there.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        let (env, tables) = create_tables(path, CURRENT_SCHEMA_VERSION)?;
        Ok(Self {
            env,
            tables,
            path: path.to_path_buf(),
        })
    }

    /// Opens the ledger in `path`. Fails with [`LedgerError::SchemaMismatch`] (naming
    /// `mc-ledger-migration`) if its schema is not [`CURRENT_SCHEMA_VERSION`], and with
    /// [`LedgerError::NotALedger`] if there is none.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        if !path.join("data.mdb").exists() {
            return Err(LedgerError::NotALedger(path.display().to_string()));
        }
        let env = open_env(path)?;
        let tables = open_tables(&env, path, CURRENT_SCHEMA_VERSION)?;
        Ok(Self {
            env,
            tables,
            path: path.to_path_buf(),
        })
    }

    /// The ledger directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the environment and waits until LMDB has released it, so the same directory
    /// can be opened again in this process.
    pub fn close(self) {
        self.env.prepare_for_closing().wait();
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Reader<'_, '_>) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let rtxn = self.env.read_txn().map_err(read_err)?;
        let r = Reader {
            t: &self.tables,
            txn: &rtxn,
        };
        f(&r)
    }

    /// Removes every block from index `keep` on, with their key images, outputs, index
    /// entries and Merkle nodes, in one write transaction: afterwards the ledger has `keep`
    /// blocks and its tables are byte-for-byte those of a ledger that never had the others.
    /// `keep` must be in `1..=num_blocks` (the origin block stays).
    pub fn rollback(&self, keep: u64) -> Result<(), LedgerError> {
        let mut wtxn = self.env.write_txn().map_err(write_err)?;
        let t = &self.tables;
        let (n, new_count, removed_key_images, removed_outputs) = {
            let txn: &RoTxn<'_> = &wtxn;
            let r = Reader { t, txn };
            let n = r.num_blocks()?;
            if keep == 0 || keep > n {
                return Err(LedgerError::BadRollback {
                    to: keep,
                    num_blocks: n,
                });
            }
            if keep == n {
                return Ok(());
            }
            let new_count = r.block(keep - 1)?.cumulative_txo_count;
            let old_count = r.num_txos()?;
            let mut kis = Vec::new();
            for i in keep..n {
                kis.extend(r.key_images_of(i)?);
            }
            let outs = (new_count..old_count)
                .map(|i| r.tx_out(i).map(|o| (i, o.target_key)))
                .collect::<Result<Vec<_>, _>>()?;
            (n, new_count, kis, outs)
        };
        for i in keep..n {
            let k = u64_key(i);
            t.blocks.delete(&mut wtxn, &k).map_err(write_err)?;
            t.block_key_images
                .delete(&mut wtxn, &k)
                .map_err(write_err)?;
            t.signatures.delete(&mut wtxn, &k).map_err(write_err)?;
            t.metadata.delete(&mut wtxn, &k).map_err(write_err)?;
        }
        for ki in &removed_key_images {
            t.key_images
                .delete(&mut wtxn, ki.as_bytes())
                .map_err(write_err)?;
        }
        for (i, target) in &removed_outputs {
            t.tx_outs
                .delete(&mut wtxn, &u64_key(*i))
                .map_err(write_err)?;
            if let Some(by_target) = &t.by_target_key {
                by_target
                    .delete(&mut wtxn, target.as_bytes())
                    .map_err(write_err)?;
            }
        }
        // Every node whose range reaches index `new_count` or beyond goes; the ancestors of
        // the last kept leaf (the only kept-range nodes that saw removed leaves) are then
        // recomputed exactly as when that leaf was appended.
        for level in 0u32..=64 {
            let span = 1u128 << level;
            let first = (u128::from(new_count) + 1).div_ceil(span) - 1;
            let Ok(first) = u64::try_from(first) else {
                continue;
            };
            let lo = node_key(level, first);
            let hi = node_key(level, u64::MAX);
            t.merkle
                .delete_range(
                    &mut wtxn,
                    &(Bound::Included(&lo[..]), Bound::Included(&hi[..])),
                )
                .map_err(write_err)?;
        }
        let nodes = {
            let txn: &RoTxn<'_> = &wtxn;
            let r = Reader { t, txn };
            let last = r.tx_out(new_count - 1)?;
            membership::nodes_after_append(&r, new_count - 1, leaf_hash(&last.hash()))?
        };
        for (level, pos, hash) in nodes {
            t.merkle
                .put(&mut wtxn, &node_key(level, pos), &hash)
                .map_err(write_err)?;
        }
        wtxn.commit().map_err(write_err)
    }

    /// Copies the ledger to the directory `dest` (see [`snapshot`]).
    pub fn snapshot(&self, dest: &Path) -> Result<u64, LedgerError> {
        copy_env(&self.env, dest)
    }

    /// Height, last block, counts, schema and table sizes.
    pub fn info(&self) -> Result<LedgerInfo, LedgerError> {
        let rtxn = self.env.read_txn().map_err(read_err)?;
        let r = Reader {
            t: &self.tables,
            txn: &rtxn,
        };
        let schema_version = read_schema_version(&self.tables.meta, &rtxn)?.unwrap_or(0);
        let mut table_entries = Vec::new();
        for (name, t) in self.tables.named() {
            table_entries.push((name, t.len(&rtxn).map_err(read_err)?));
        }
        let env_info = self.env.info();
        let page = u64::from(self.env.unnamed_database_stat().page_size);
        Ok(LedgerInfo {
            path: self.path.clone(),
            schema_version,
            num_blocks: r.num_blocks()?,
            last_block: r.last_block()?,
            num_txos: r.num_txos()?,
            num_key_images: self.tables.key_images.len(&rtxn).map_err(read_err)?,
            table_entries,
            used_bytes: (env_info.last_page_number as u64 + 1) * page,
        })
    }

    /// Every key/value pair of every table, in layout order.
    pub fn dump(&self) -> Result<TableDump, LedgerError> {
        dump_tables(&self.env, &self.tables)
    }
}

impl Ledger for LmdbLedger {
    fn append_block(
        &self,
        block: &Block,
        contents: &BlockContents,
        signature: Option<&BlockSignature>,
        metadata: Option<&BlockMetadata>,
    ) -> Result<(), LedgerError> {
        append_in(
            &self.env,
            &self.tables,
            block,
            contents,
            signature,
            metadata,
        )
    }

    fn num_blocks(&self) -> Result<u64, LedgerError> {
        self.read(|r| r.num_blocks())
    }

    fn num_txos(&self) -> Result<u64, LedgerError> {
        self.read(|r| r.num_txos())
    }

    fn block(&self, index: u64) -> Result<Block, LedgerError> {
        self.read(|r| r.block(index))
    }

    fn block_contents(&self, index: u64) -> Result<BlockContents, LedgerError> {
        self.read(|r| r.contents(index))
    }

    fn block_signature(&self, index: u64) -> Result<Option<BlockSignature>, LedgerError> {
        self.read(|r| {
            r.block(index)?;
            r.signature(index)
        })
    }

    fn block_metadata(&self, index: u64) -> Result<Option<BlockMetadata>, LedgerError> {
        self.read(|r| {
            r.block(index)?;
            r.metadata(index)
        })
    }

    fn key_image_block(&self, key_image: &KeyImage) -> Result<Option<u64>, LedgerError> {
        self.read(|r| r.spent_in(key_image))
    }

    fn tx_out(&self, index: u64) -> Result<TxOut, LedgerError> {
        self.read(|r| r.tx_out(index))
    }

    fn tx_out_index(&self, target_key: &CompressedPoint) -> Result<Option<u64>, LedgerError> {
        self.read(|r| r.output_index(target_key))
    }

    fn membership_proof(&self, index: u64) -> Result<TxOutMembershipProof, LedgerError> {
        self.read(|r| r.proof(index))
    }

    fn tree_root(&self) -> Result<RootElement, LedgerError> {
        self.read(|r| r.root())
    }

    fn root_after(&self, outputs: &[TxOut]) -> Result<RootElement, LedgerError> {
        self.read(|r| r.root_after(outputs))
    }

    fn state_for(&self, query: &StateQuery) -> Result<StateAnswer, LedgerError> {
        self.read(|r| {
            answer_query(
                r.last_block()?.ok_or(LedgerError::Empty)?,
                r.root()?,
                query,
                StateLookups {
                    tx_out: &|i| r.tx_out(i),
                    proof: &|i| r.proof(i),
                    spent: &|k| Ok(r.spent_in(k)?.is_some()),
                    exists: &|o| Ok(r.output_index(o)?.is_some()),
                },
            )
        })
    }
}

impl LedgerView for LmdbLedger {
    fn root_element(&self) -> Result<RootElement, LedgerViewError> {
        self.tree_root().map_err(view_error)
    }

    fn root_proof(&self, index: u64) -> Result<RootProof, LedgerViewError> {
        self.read(|r| {
            Ok(RootProof {
                tx_out_hash: r.tx_out(index)?.hash(),
                proof: r.proof(index)?,
            })
        })
        .map_err(view_error)
    }
}
