//! Where objects live in an archive and what bundles hold.
//!
//! * A block is one object: the block index as 16 lowercase hex digits, the first 14 split
//!   into seven two-digit directories, then the whole 16 digits and `.pb`:
//!   block `0x0123456789abcdef` is `01/23/45/67/89/ab/cd/0123456789abcdef.pb`. The object
//!   holds `mcnode_blockchain::encoding::encode_archive_block` of the block, byte for byte
//!   what the ledger's encoding gives ([`ArchiveBlock`] format version 1).
//! * A bundle of `N` consecutive blocks `[a, a + N)` (`a` a multiple of `N`) is one object
//!   under `merged-N/` with the key of its first block:
//!   `merged-100/00/00/00/00/00/00/00/0000000000000064.pb` holds blocks 100..200.
//!   Bundles are [`ArchiveBundle`] (bundle format version [`BUNDLE_FORMAT_VERSION`]):
//!
//! ```text
//! message ArchiveBundle {
//!   uint32 format_version = 1;        // BUNDLE_FORMAT_VERSION (1)
//!   uint64 first_index = 2;           // index of blocks[0]
//!   repeated ArchiveBlock blocks = 3; // N consecutive blocks, each exactly the bytes of
//!                                     // its single-block object
//! }
//! ```
//!
//! The blocks are carried as `bytes` fields, which protobuf encodes exactly like embedded
//! `ArchiveBlock` messages, so a reader with the `.proto` above decodes them as messages and
//! ours decodes them with the one block decoder.

use mcnode_blockchain::{
    encoding::{decode_archive_block, encode_archive_block},
    ArchiveBlock, DecodeError,
};
use prost::Message;

/// Version of the bundle format ([`ArchiveBundle`]).
pub const BUNDLE_FORMAT_VERSION: u32 = 1;

/// Default bundle sizes (`--merge-buckets`).
pub const DEFAULT_MERGE_BUCKETS: [u64; 3] = [100, 1000, 10_000];

/// Largest bundle size accepted (keeps one object's size bounded).
pub const MAX_BUCKET: u64 = 100_000;

/// The key of block `index`'s object (relative to the archive's root).
pub fn block_key(index: u64) -> String {
    let hex = format!("{index:016x}");
    let mut key = String::with_capacity(16 + 7 * 3 + 3);
    for pair in 0..7 {
        key.push_str(&hex[2 * pair..2 * pair + 2]);
        key.push('/');
    }
    key.push_str(&hex);
    key.push_str(".pb");
    key
}

/// The key of the bundle of `bucket` blocks starting at `first` (a multiple of `bucket`).
pub fn bundle_key(bucket: u64, first: u64) -> String {
    format!("merged-{bucket}/{}", block_key(first))
}

/// What an archive key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A single block, by index.
    Block(u64),
    /// A bundle: its size and first index.
    Bundle {
        /// Blocks in the bundle.
        bucket: u64,
        /// Index of its first block.
        first: u64,
    },
}

fn parse_block_path(path: &str) -> Option<u64> {
    let (_, file) = path.rsplit_once('/')?;
    let hex = file.strip_suffix(".pb")?;
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let index = u64::from_str_radix(hex, 16).ok()?;
    (block_key(index) == path).then_some(index)
}

/// Parses an archive key ([`block_key`] or [`bundle_key`]); `None` for anything else.
pub fn parse_key(key: &str) -> Option<KeyKind> {
    if let Some(rest) = key.strip_prefix("merged-") {
        let (n, path) = rest.split_once('/')?;
        let bucket: u64 = n.parse().ok()?;
        let first = parse_block_path(path)?;
        if bucket == 0 || first % bucket != 0 || bundle_key(bucket, first) != key {
            return None;
        }
        return Some(KeyKind::Bundle { bucket, first });
    }
    parse_block_path(key).map(KeyKind::Block)
}

mod pb {
    #![allow(missing_docs)]

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ArchiveBundle {
        #[prost(uint32, tag = "1")]
        pub format_version: u32,
        #[prost(uint64, tag = "2")]
        pub first_index: u64,
        #[prost(bytes = "vec", repeated, tag = "3")]
        pub blocks: Vec<Vec<u8>>,
    }
}

/// A decoded bundle: consecutive encoded blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveBundle {
    /// Index of the first block.
    pub first_index: u64,
    /// Each block's encoding (the bytes of its single-block object).
    pub blocks: Vec<Vec<u8>>,
}

/// Why a bundle did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleDecodeError {
    /// Not valid protobuf.
    #[error("malformed ArchiveBundle: {0}")]
    Malformed(String),
    /// A bundle format this build does not read.
    #[error(
        "bundle format version {0} is not supported (this build reads {BUNDLE_FORMAT_VERSION})"
    )]
    UnsupportedVersion(u32),
}

/// Encodes a bundle of already-encoded blocks.
pub fn encode_bundle(first_index: u64, blocks: &[Vec<u8>]) -> Vec<u8> {
    pb::ArchiveBundle {
        format_version: BUNDLE_FORMAT_VERSION,
        first_index,
        blocks: blocks.to_vec(),
    }
    .encode_to_vec()
}

/// Decodes a bundle (the blocks stay encoded).
pub fn decode_bundle(bytes: &[u8]) -> Result<ArchiveBundle, BundleDecodeError> {
    let b = pb::ArchiveBundle::decode(bytes)
        .map_err(|e| BundleDecodeError::Malformed(e.to_string()))?;
    if b.format_version != BUNDLE_FORMAT_VERSION {
        return Err(BundleDecodeError::UnsupportedVersion(b.format_version));
    }
    Ok(ArchiveBundle {
        first_index: b.first_index,
        blocks: b.blocks,
    })
}

/// Encodes one block's object (the ledger's encoding, unchanged).
pub fn encode_block_object(block: &ArchiveBlock) -> Vec<u8> {
    encode_archive_block(block)
}

/// Decodes one block's object (shape only; see [`crate::verify`]).
pub fn decode_block_object(bytes: &[u8]) -> Result<ArchiveBlock, DecodeError> {
    decode_archive_block(bytes)
}

/// Parses and checks `--merge-buckets`: `0` alone turns bundles off; otherwise each size is
/// in `2..=MAX_BUCKET` and each divides the next larger one (so a reader can always step
/// down from a large bundle to smaller ones). Returns them ascending, deduplicated.
pub fn validate_buckets(buckets: &[u64]) -> Result<Vec<u64>, String> {
    if buckets == [0] || buckets.is_empty() {
        return Ok(Vec::new());
    }
    let mut v = buckets.to_vec();
    v.sort_unstable();
    v.dedup();
    for &b in &v {
        if !(2..=MAX_BUCKET).contains(&b) {
            return Err(format!(
                "bundle size {b} is out of range (2..={MAX_BUCKET}, or 0 alone to turn bundles off)"
            ));
        }
    }
    for w in v.windows(2) {
        if w[1] % w[0] != 0 {
            return Err(format!(
                "bundle size {} is not a multiple of {}: each size must divide the next",
                w[1], w[0]
            ));
        }
    }
    Ok(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_golden() {
        assert_eq!(block_key(1), "00/00/00/00/00/00/00/0000000000000001.pb");
        assert_eq!(
            block_key(0x0123_4567_89ab_cdef),
            "01/23/45/67/89/ab/cd/0123456789abcdef.pb"
        );
        assert_eq!(
            bundle_key(100, 100),
            "merged-100/00/00/00/00/00/00/00/0000000000000064.pb"
        );
    }

    #[test]
    fn parse_round_trip() {
        for i in [0u64, 1, 255, 256, 65_535, u64::MAX] {
            assert_eq!(parse_key(&block_key(i)), Some(KeyKind::Block(i)));
        }
        assert_eq!(
            parse_key(&bundle_key(1000, 3000)),
            Some(KeyKind::Bundle {
                bucket: 1000,
                first: 3000
            })
        );
        for bad in [
            "",
            "x.pb",
            "00/00/00/00/00/00/00/000000000000001.pb",
            "00/00/00/00/00/00/01/0000000000000001.pb",
            "merged-100/00/00/00/00/00/00/00/0000000000000001.pb",
            "merged-0/00/00/00/00/00/00/00/0000000000000000.pb",
            ".tmp/abc",
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn bundle_golden() {
        let bytes = encode_bundle(100, &[vec![1, 2], vec![3]]);
        assert_eq!(hex::encode(&bytes), "080110641a0201021a0103");
        let b = decode_bundle(&bytes).unwrap();
        assert_eq!(b.first_index, 100);
        assert_eq!(b.blocks, vec![vec![1, 2], vec![3]]);
        let mut v2 = bytes.clone();
        v2[1] = 2;
        assert_eq!(
            decode_bundle(&v2),
            Err(BundleDecodeError::UnsupportedVersion(2))
        );
        assert!(matches!(
            decode_bundle(&[0xff]),
            Err(BundleDecodeError::Malformed(_))
        ));
    }

    #[test]
    fn buckets() {
        assert_eq!(validate_buckets(&[0]), Ok(vec![]));
        assert_eq!(
            validate_buckets(&[10_000, 100, 1000]),
            Ok(vec![100, 1000, 10_000])
        );
        assert!(validate_buckets(&[100, 150]).is_err());
        assert!(validate_buckets(&[1]).is_err());
        assert!(validate_buckets(&[0, 100]).is_err());
    }
}
