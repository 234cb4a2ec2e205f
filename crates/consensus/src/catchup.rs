//! Catching up: blocks this node lacks, fetched from peers (`BlockchainApi.GetBlockData`)
//! or from the archives in `tx_source_urls`, each verified against its predecessor
//! (linkage, id, contents hash, enclave signature, metadata signature) and signed by a
//! node this one knows (a peer in `network.toml`, or itself) before the driver appends it.

use std::sync::Arc;

use mcnode_archive::{
    verify::verify_block, AnyStore, ArchiveMetrics, ArchiveReader, ArchiveUrl, S3Config,
};
use mcnode_blockchain::{ArchiveBlock, Block};
use mcnode_scp::NodeId;

use crate::state::Shared;

/// Most blocks fetched per catch-up round (the driver asks again while behind).
pub const MAX_BLOCKS_PER_ROUND: u64 = 500;

/// The height (number of blocks) each reachable peer reports.
pub async fn probe_peer_heights(shared: &Arc<Shared>) -> Vec<(NodeId, u64)> {
    let mut out = Vec::new();
    for peer in &shared.peers {
        if let Ok(info) = peer.last_block_info().await {
            if let Ok(id) = NodeId::new(peer.peer().responder_id.to_string()) {
                out.push((id, info.index + 1));
            }
        }
    }
    out
}

/// Checks one fetched block against `prev` and our trust in its signer.
pub fn check_block(shared: &Shared, prev: &Block, a: &ArchiveBlock) -> Result<(), String> {
    verify_block(Some(prev), prev.index + 1, a).map_err(|e| e.to_string())?;
    let meta = a
        .metadata
        .as_ref()
        .ok_or_else(|| format!("block {} has no metadata", a.block.index))?;
    let trusted = meta.node_key == shared.signer.public()
        || shared.peer_keys.values().any(|k| *k == meta.node_key);
    if !trusted {
        return Err(format!(
            "block {} is signed by {}, not a node in network.toml",
            a.block.index, meta.contents.responder_id
        ));
    }
    if a.signature.is_none() {
        return Err(format!("block {} has no enclave signature", a.block.index));
    }
    Ok(())
}

/// When peers are this many blocks ahead or more, the archives are tried first: they
/// serve bundles, and catching up from them costs the peers nothing.
pub const ARCHIVE_FIRST_GAP: u64 = 100;
/// Bundle sizes looked for in archives (`ledger-distribution`'s default).
pub const ARCHIVE_BUCKETS: [u64; 3] = [100, 1000, 10_000];

/// Where caught-up blocks came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A peer, by responder id.
    Peer(String),
    /// An archive, by URL.
    Archive(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Peer(p) => write!(f, "peer {p}"),
            Self::Archive(a) => write!(f, "archive {a}"),
        }
    }
}

/// Fetches and verifies the blocks after `from`: from the peer reporting the greatest
/// height, then the other peers, then the archives (archives first when the peers are
/// [`ARCHIVE_FIRST_GAP`] or more blocks ahead).
pub async fn fetch_blocks(
    shared: &Arc<Shared>,
    from: &Block,
) -> Result<(Vec<ArchiveBlock>, Source), String> {
    let mut heights = Vec::new();
    for peer in &shared.peers {
        if let Ok(info) = peer.last_block_info().await {
            heights.push((info.index + 1, peer.clone()));
        }
    }
    heights.sort_by_key(|h| std::cmp::Reverse(h.0));
    let best = heights.first().map_or(0, |h| h.0);
    let mut errors = Vec::new();
    let archives_first = best.saturating_sub(from.index + 1) >= ARCHIVE_FIRST_GAP;
    if archives_first {
        if let Some(found) = try_archives(shared, from, &mut errors).await {
            return Ok(found);
        }
    }
    for (height, peer) in heights {
        if height <= from.index + 1 {
            break;
        }
        let want = (height - from.index - 1).min(MAX_BLOCKS_PER_ROUND);
        match fetch_from_peer(shared, &peer, from, want).await {
            Ok(blocks) if !blocks.is_empty() => {
                return Ok((blocks, Source::Peer(peer.peer().responder_id.to_string())))
            }
            Ok(_) => errors.push(format!("{}: no blocks", peer.peer().responder_id)),
            Err(e) => errors.push(e),
        }
    }
    if !archives_first {
        if let Some(found) = try_archives(shared, from, &mut errors).await {
            return Ok(found);
        }
    }
    if errors.is_empty() {
        Ok((Vec::new(), Source::Peer(String::new())))
    } else {
        Err(errors.join("; "))
    }
}

async fn try_archives(
    shared: &Shared,
    from: &Block,
    errors: &mut Vec<String>,
) -> Option<(Vec<ArchiveBlock>, Source)> {
    for url in &shared.tx_source_urls {
        match fetch_from_archive(shared, url, from).await {
            Ok(blocks) if !blocks.is_empty() => {
                return Some((blocks, Source::Archive(url.to_string())))
            }
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    None
}

async fn fetch_from_peer(
    shared: &Shared,
    peer: &mcnode_peers::PeerClient,
    from: &Block,
    want: u64,
) -> Result<Vec<ArchiveBlock>, String> {
    let mut out: Vec<ArchiveBlock> = Vec::new();
    let mut prev = from.clone();
    while (out.len() as u64) < want {
        let limit =
            (want - out.len() as u64).min(u64::from(mcnode_peers::client::MAX_BLOCKS_PER_CALL));
        let blocks = peer
            .block_data(prev.index + 1, limit as u32)
            .await
            .map_err(|e| e.to_string())?;
        if blocks.is_empty() {
            break;
        }
        for a in blocks {
            check_block(shared, &prev, &a)
                .map_err(|e| format!("{}: {e}", peer.peer().responder_id))?;
            prev = a.block.clone();
            out.push(a);
        }
    }
    Ok(out)
}

async fn fetch_from_archive(
    shared: &Shared,
    url: &url::Url,
    from: &Block,
) -> Result<Vec<ArchiveBlock>, String> {
    let parsed: ArchiveUrl = url.as_str().parse().map_err(|e| format!("{url}: {e}"))?;
    let store =
        AnyStore::open(&parsed, &S3Config::from_env()).map_err(|e| format!("{url}: {e}"))?;
    let reader = ArchiveReader::new(store, &ARCHIVE_BUCKETS, ArchiveMetrics::default());
    let blocks = reader
        .fetch_verified(from.index + 1, MAX_BLOCKS_PER_ROUND, Some(from))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let mut prev = from.clone();
    for a in &blocks {
        check_block(shared, &prev, a).map_err(|e| format!("{url}: {e}"))?;
        prev = a.block.clone();
    }
    Ok(blocks)
}
