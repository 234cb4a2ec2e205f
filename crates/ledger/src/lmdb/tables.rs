//! The LMDB layout: table names, key encodings, and opening the tables of each schema.
//!
//! | table | key | value | since |
//! |---|---|---|---|
//! | `mcnode.meta` | ASCII name | `schema_version`: u32 big-endian | 1 |
//! | `mcnode.blocks` | block index, u64 BE | `Block` (protobuf) | 1 |
//! | `mcnode.block_key_images` | block index, u64 BE | `BlockContents` with only the key images | 1 |
//! | `mcnode.block_signatures` | block index, u64 BE | `BlockSignature`; absent if none | 1 |
//! | `mcnode.block_metadata` | block index, u64 BE | `BlockMetadata`; absent if none | 1 |
//! | `mcnode.key_images` | key image, 32 bytes | spending block index, u64 BE | 1 |
//! | `mcnode.tx_outs` | global output index, u64 BE | `TxOut` (protobuf) | 1 |
//! | `mcnode.tx_out_by_target_key` | target key, 32 bytes | global output index, u64 BE | 2 |
//! | `mcnode.merkle_nodes` | level u8, position u64 BE | node hash, 32 bytes | 1 |
//!
//! A block's outputs are `tx_outs[previous cumulative count .. its cumulative count)`, so
//! they are stored once. Merkle nodes are those `membership::nodes_after_append` returns:
//! every node covering at least one output.

use heed::{types::Bytes, Database, RoTxn};

use crate::LedgerError;

/// The prefix of every table name.
pub const PREFIX: &str = "mcnode.";
/// Metadata: the schema version.
pub const META: &str = "mcnode.meta";
/// Block headers by index.
pub const BLOCKS: &str = "mcnode.blocks";
/// Each block's key images by block index.
pub const BLOCK_KEY_IMAGES: &str = "mcnode.block_key_images";
/// Block signatures by block index.
pub const BLOCK_SIGNATURES: &str = "mcnode.block_signatures";
/// Block metadata by block index.
pub const BLOCK_METADATA: &str = "mcnode.block_metadata";
/// Key image -> spending block index.
pub const KEY_IMAGES: &str = "mcnode.key_images";
/// Outputs by global index.
pub const TX_OUTS: &str = "mcnode.tx_outs";
/// Output target key -> global index (schema 2).
pub const TX_OUT_BY_TARGET_KEY: &str = "mcnode.tx_out_by_target_key";
/// TxOut tree nodes by (level, position).
pub const MERKLE_NODES: &str = "mcnode.merkle_nodes";
/// The key of the schema version in [`META`].
pub const SCHEMA_VERSION_KEY: &[u8] = b"schema_version";

/// Every table of the current schema, in a fixed order.
pub const ALL: [&str; 9] = [
    META,
    BLOCKS,
    BLOCK_KEY_IMAGES,
    BLOCK_SIGNATURES,
    BLOCK_METADATA,
    KEY_IMAGES,
    TX_OUTS,
    TX_OUT_BY_TARGET_KEY,
    MERKLE_NODES,
];

/// A table: raw bytes both ways, encoded by this module and `mcnode_blockchain::encoding`.
pub type Table = Database<'static, Bytes, Bytes>;

/// The opened tables. `by_target_key` is `None` in a schema-1 ledger.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tables {
    pub meta: Table,
    pub blocks: Table,
    pub block_key_images: Table,
    pub signatures: Table,
    pub metadata: Table,
    pub key_images: Table,
    pub tx_outs: Table,
    pub by_target_key: Option<Table>,
    pub merkle: Table,
}

impl Tables {
    /// From tables in [`ALL`]'s order.
    pub fn from_array(t: [Option<Table>; 9]) -> Option<Self> {
        let [meta, blocks, block_key_images, signatures, metadata, key_images, tx_outs, by_target_key, merkle] =
            t;
        Some(Self {
            meta: meta?,
            blocks: blocks?,
            block_key_images: block_key_images?,
            signatures: signatures?,
            metadata: metadata?,
            key_images: key_images?,
            tx_outs: tx_outs?,
            by_target_key,
            merkle: merkle?,
        })
    }

    /// `(name, table)` for each present table, in [`ALL`]'s order.
    pub fn named(&self) -> Vec<(&'static str, Table)> {
        let mut v = vec![
            (META, self.meta),
            (BLOCKS, self.blocks),
            (BLOCK_KEY_IMAGES, self.block_key_images),
            (BLOCK_SIGNATURES, self.signatures),
            (BLOCK_METADATA, self.metadata),
            (KEY_IMAGES, self.key_images),
            (TX_OUTS, self.tx_outs),
        ];
        if let Some(t) = self.by_target_key {
            v.push((TX_OUT_BY_TARGET_KEY, t));
        }
        v.push((MERKLE_NODES, self.merkle));
        v
    }
}

/// A u64 key or value: big-endian, so LMDB's byte order is numeric order.
pub fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Decodes a big-endian u64 stored in `table`.
pub fn read_u64(bytes: &[u8], table: &str) -> Result<u64, LedgerError> {
    let b: [u8; 8] = bytes.try_into().map_err(|_| {
        LedgerError::Corrupt(format!(
            "{table}: expected an 8-byte integer, found {} bytes",
            bytes.len()
        ))
    })?;
    Ok(u64::from_be_bytes(b))
}

/// A Merkle node key: level (one byte) then position (u64 BE).
pub fn node_key(level: u32, position: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    // Levels are at most 64.
    k[0] = level as u8;
    k[1..].copy_from_slice(&position.to_be_bytes());
    k
}

/// Decodes a Merkle node key.
pub fn read_node_key(bytes: &[u8]) -> Result<(u32, u64), LedgerError> {
    if bytes.len() != 9 || bytes[0] > 64 {
        return Err(LedgerError::Corrupt(format!(
            "{MERKLE_NODES}: bad key {}",
            hex_short(bytes)
        )));
    }
    Ok((u32::from(bytes[0]), read_u64(&bytes[1..], MERKLE_NODES)?))
}

/// Hex of at most 40 bytes, for error messages.
pub fn hex_short(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(40).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 40 {
        s.push('…');
    }
    s
}

/// Reads the schema version from the meta table; `None` if it has none.
pub(crate) fn read_schema_version(
    meta: &Table,
    txn: &RoTxn<'_>,
) -> Result<Option<u32>, LedgerError> {
    match meta
        .get(txn, SCHEMA_VERSION_KEY)
        .map_err(LedgerError::ReadFailed)?
    {
        None => Ok(None),
        Some(v) => {
            let b: [u8; 4] = v.try_into().map_err(|_| {
                LedgerError::Corrupt(format!("{META}: schema version is {} bytes", v.len()))
            })?;
            Ok(Some(u32::from_be_bytes(b)))
        }
    }
}
