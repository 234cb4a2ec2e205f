//! Archive objects: what a node catching up, or `ledger-distribution`'s reader, fetches
//! from S3, a directory or HTTP, none of which it trusts.
//!
//! The first input byte picks the object ([`Object`]); the rest is its bytes. Blocks are
//! decoded and verified as the reader does (index, id, linkage, counts, contents hash,
//! the enclave's signature and the node's metadata), against the fixture's origin block
//! ([`origin`]) where they claim to follow it.

use std::sync::LazyLock;

use mcnode_archive::{
    layout::{decode_block_object, decode_bundle, encode_block_object, parse_key},
    verify::verify_block,
};
use mcnode_blockchain::{origin::origin_block, ArchiveBlock, Block};
use mcnode_transaction::{AccountKey, TxOut};

/// What the bytes are, by the first byte (modulo the number of kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Object {
    /// A single block's object (`…/0000000000000001.pb`).
    Block = 0,
    /// A bundle (`merged-N/…`).
    Bundle = 1,
    /// An object key, as a listing returns it.
    Key = 2,
}

const OBJECTS: [Object; 3] = [Object::Block, Object::Bundle, Object::Key];

/// Most blocks of one bundle verified (a bundle may hold up to 10,000).
const MAX_BUNDLE_BLOCKS: usize = 64;

static ORIGIN: LazyLock<ArchiveBlock> = LazyLock::new(|| {
    let mut rng = crate::rng(0x5eed_0002);
    let to = AccountKey::random(&mut rng).default_address();
    let outputs = (1..=4)
        .map(|v| TxOut::create(v * 1_000, &to, &mut rng).tx_out)
        .collect();
    let (block, contents) =
        origin_block(outputs).unwrap_or_else(|e| panic!("the origin block forms: {e}"));
    ArchiveBlock {
        block,
        contents,
        signature: None,
        metadata: None,
    }
});

/// The origin block the fuzzed blocks may follow.
pub fn origin() -> &'static ArchiveBlock {
    &ORIGIN
}

fn check_block(a: &ArchiveBlock, prev: Option<&Block>) {
    let index = a.block.index;
    let _ = verify_block(prev, index, a);
    let _ = verify_block(None, index, a);
    // Oracle: a decoded object re-encodes to one that decodes the same.
    assert_eq!(
        decode_block_object(&encode_block_object(a)).ok().as_ref(),
        Some(a),
        "archive block re-encoding changed it"
    );
}

/// Fuzz target: archive block objects, bundles and keys.
pub fn archive_object(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let origin = &origin().block;
    match OBJECTS[usize::from(selector) % OBJECTS.len()] {
        Object::Block => {
            if let Ok(a) = decode_block_object(rest) {
                let prev = (a.block.index == 1).then_some(origin);
                check_block(&a, prev);
            }
        }
        Object::Bundle => {
            let Ok(bundle) = decode_bundle(rest) else {
                return;
            };
            // As the reader does: each block against the one before it.
            let mut prev: Option<Block> = (bundle.first_index == 1).then(|| origin.clone());
            for (k, bytes) in bundle.blocks.iter().take(MAX_BUNDLE_BLOCKS).enumerate() {
                let Some(index) = bundle.first_index.checked_add(k as u64) else {
                    return;
                };
                let Ok(a) = decode_block_object(bytes) else {
                    return;
                };
                if verify_block(prev.as_ref(), index, &a).is_err() {
                    return;
                }
                prev = Some(a.block);
            }
        }
        Object::Key => {
            if let Ok(key) = std::str::from_utf8(rest) {
                let _ = parse_key(key);
            }
        }
    }
}
