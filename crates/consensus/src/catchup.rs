//! Catching up: blocks this node lacks, fetched from peers (`BlockchainApi.GetBlockData`)
//! or from the archives in `tx_source_urls`, each verified against its predecessor
//! (linkage, id, contents hash, enclave signature, metadata signature) and signed by a
//! node this one knows (a peer in `network.toml`, or itself) before the driver appends it.
//!
//! # Whom a fetched chain must be vouched for by
//!
//! A valid signature proves only that one node made a block. So a fetched chunk is taken
//! only when this node's own quorum set vouches for it ([`vouched_prefix`]): a node
//! *vouches* for block `i` with id `B` when
//!
//! * it is a peer whose last block is block `i` with id `B`, or whose block `i` has id `B`
//!   when asked (`GetBlockData`), or which served the chunk itself; or
//! * block `B`'s metadata, found in the chunk, in a peer's answer or in any archive of
//!   `tx_source_urls`, is signed with the key `network.toml` gives that node (a node signs
//!   metadata only for blocks it formed from an externalized value).
//!
//! Blocks are hash-linked, so vouching for block `i` vouches for every block before it. The
//! node accepts the longest prefix of the chunk whose last block is vouched for by nodes
//! that, together with this node, contain a quorum slice of its quorum set. That is the
//! trust SCP already gives the same nodes: a slice of this node's, with this node voting
//! for any valid value, could make it externalize that value. With `n = 3f + 1` nodes and
//! threshold `2f + 1` it takes `2f` other nodes, so at least `f` honest ones; a chain only
//! one node holds or signed is refused with [`TrustError::NotVouched`], which names who
//! vouched.
//!
//! When peers are down the archives still vouch through their signatures (each node's
//! archive holds the metadata it signed), so a network restarted from its archives catches
//! up without any peer. When neither a slice of peers nor a slice of archive signatures is
//! reachable the node does not move: it stays `CATCHING_UP` and retries, exactly as SCP
//! could not externalize without a slice.
use std::{collections::BTreeSet, sync::Arc, time::Duration};

use mcnode_archive::{
    verify::verify_block, AnyStore, ArchiveMetrics, ArchiveReader, ArchiveStore, ArchiveUrl,
    S3Config,
};
use mcnode_blockchain::{ArchiveBlock, Block};
use mcnode_crypto::Ed25519Public;
use mcnode_peers::PeerClient;
use mcnode_scp::{NodeId, QuorumSet};

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
    if signer_of(shared, &meta.node_key).is_none() {
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

/// A node vouching for the chunk's block `index` (and so for every block before it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vouch {
    /// The node (a quorum-set member, or any configured node).
    pub node: NodeId,
    /// The block it holds or signed.
    pub index: u64,
}

/// Why a fetched chain was refused although every block in it verifies.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// Nothing to vouch for.
    #[error("no blocks fetched")]
    Empty,
    /// No block of the chunk is vouched for by a quorum slice (with this node).
    #[error(
        "blocks {first}..={last} are not vouched for by this node's quorum set ({quorum}): \
         block {first} (id {first_id}) and those after it are held or signed only by \
         [{vouchers}], which with this node contain no quorum slice; a chain that so few \
         configured nodes vouch for is refused (a lying peer or archive, or too many nodes \
         out of reach)"
    )]
    NotVouched {
        /// The chunk's first block index.
        first: u64,
        /// Its last block index.
        last: u64,
        /// The first block's id (hex).
        first_id: String,
        /// Every node that vouched for any block of the chunk.
        vouchers: String,
        /// The local quorum set, e.g. `3 of [a, b, c, d]`.
        quorum: String,
    },
}

/// The number of blocks at the start of `blocks` (consecutive, hash-linked, already
/// verified) that this node may append: the longest prefix whose last block is vouched
/// for by nodes that, with `me`, contain a quorum slice of `quorum_set`. A vouch for block
/// `i` counts for every block up to `i`; vouches outside the chunk are ignored.
pub fn vouched_prefix(
    quorum_set: &QuorumSet,
    me: Option<&NodeId>,
    blocks: &[ArchiveBlock],
    vouches: &[Vouch],
) -> Result<usize, TrustError> {
    let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
        return Err(TrustError::Empty);
    };
    let (first_index, last_index) = (first.block.index, last.block.index);
    let inside: Vec<&Vouch> = vouches
        .iter()
        .filter(|v| (first_index..=last_index).contains(&v.index))
        .collect();
    let mut candidates: Vec<u64> = inside.iter().map(|v| v.index).collect();
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    candidates.dedup();
    for at in candidates {
        let nodes: BTreeSet<&NodeId> = inside
            .iter()
            .filter(|v| v.index >= at)
            .map(|v| &v.node)
            .chain(me)
            .collect();
        if quorum_set.is_quorum_slice(&|n| nodes.contains(n)) {
            return Ok((at - first_index + 1) as usize);
        }
    }
    let vouchers: BTreeSet<String> = inside.iter().map(|v| v.node.to_string()).collect();
    Err(TrustError::NotVouched {
        first: first_index,
        last: last_index,
        first_id: first.block.id.to_string(),
        vouchers: vouchers.into_iter().collect::<Vec<_>>().join(", "),
        quorum: describe_quorum_set(quorum_set),
    })
}

/// `3 of [a, b, {1 of [c, d]}]`.
pub fn describe_quorum_set(q: &QuorumSet) -> String {
    let members = q.members.iter().map(ToString::to_string).chain(
        q.inner_sets
            .iter()
            .map(|i| format!("{{{}}}", describe_quorum_set(i))),
    );
    format!(
        "{} of [{}]",
        q.threshold,
        members.collect::<Vec<_>>().join(", ")
    )
}

/// The vouches that the blocks' own metadata carry: a block whose metadata is signed with
/// a configured node's key is vouched for by that node. `node_of` maps a message-signing
/// key to its node; metadata naming another block, or whose signature fails, counts for
/// nothing.
pub fn signature_vouches(
    blocks: &[ArchiveBlock],
    node_of: &dyn Fn(&Ed25519Public) -> Option<NodeId>,
) -> Vec<Vouch> {
    blocks
        .iter()
        .filter_map(|a| {
            metadata_signer(a, node_of).map(|node| Vouch {
                node,
                index: a.block.index,
            })
        })
        .collect()
}

fn metadata_signer(
    a: &ArchiveBlock,
    node_of: &dyn Fn(&Ed25519Public) -> Option<NodeId>,
) -> Option<NodeId> {
    let meta = a.metadata.as_ref()?;
    if meta.contents.block_id != a.block.id || !a.block.is_id_valid() || meta.verify().is_err() {
        return None;
    }
    node_of(&meta.node_key)
}

/// The configured node that signs with `key`: this node or a peer of `network.toml`.
fn signer_of(shared: &Shared, key: &Ed25519Public) -> Option<NodeId> {
    if *key == shared.signer.public() {
        return NodeId::new(shared.responder_id.to_string()).ok();
    }
    shared
        .peer_keys
        .iter()
        .find(|(_, k)| *k == key)
        .and_then(|(id, _)| NodeId::new(id.to_string()).ok())
}

/// How long one peer or archive may take to say what it holds at an index.
pub const VOUCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A peer's last block, as it reported it.
#[derive(Clone)]
pub struct PeerTip {
    /// The peer.
    pub peer: Arc<PeerClient>,
    /// Its height (last index + 1).
    pub height: u64,
    /// The id of its last block (as sent; may be malformed).
    pub block_id: Vec<u8>,
}

/// The block of `blocks` at `index`, if inside.
fn block_at(blocks: &[ArchiveBlock], index: u64) -> Option<&ArchiveBlock> {
    let first = blocks.first()?.block.index;
    blocks.get(usize::try_from(index.checked_sub(first)?).ok()?)
}

/// What one peer vouches for: its tip when inside the chunk, or its block at the chunk's
/// last index (and that block's metadata signer) when it is ahead.
async fn peer_vouches(shared: &Shared, tip: &PeerTip, blocks: &[ArchiveBlock]) -> Vec<Vouch> {
    let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
        return Vec::new();
    };
    let Ok(node) = NodeId::new(tip.peer.peer().responder_id.to_string()) else {
        return Vec::new();
    };
    let Some(tip_index) = tip.height.checked_sub(1) else {
        return Vec::new();
    };
    if tip_index < first.block.index {
        return Vec::new();
    }
    if let Some(ours) = block_at(blocks, tip_index) {
        return if ours.block.id.0.as_slice() == tip.block_id.as_slice() {
            vec![Vouch {
                node,
                index: tip_index,
            }]
        } else {
            Vec::new()
        };
    }
    let index = last.block.index;
    let answer = tokio::time::timeout(VOUCH_TIMEOUT, tip.peer.block_data(index, 1)).await;
    let Ok(Ok(theirs)) = answer else {
        return Vec::new();
    };
    let Some(theirs) = theirs.into_iter().next() else {
        return Vec::new();
    };
    if theirs.block.index != index || theirs.block.id != last.block.id {
        return Vec::new();
    }
    let mut out = vec![Vouch { node, index }];
    if let Some(signer) = metadata_signer(&theirs, &|k| signer_of(shared, k)) {
        out.push(Vouch {
            node: signer,
            index,
        });
    }
    out
}

/// What the archive at `url` vouches for (see [`archive_vouches_in`]); nothing when it
/// cannot be opened or does not answer within [`VOUCH_TIMEOUT`].
async fn archive_vouches(shared: &Shared, url: &url::Url, blocks: &[ArchiveBlock]) -> Vec<Vouch> {
    let Ok(parsed) = url.as_str().parse::<ArchiveUrl>() else {
        return Vec::new();
    };
    let Ok(store) = AnyStore::open(&parsed, &S3Config::from_env()) else {
        return Vec::new();
    };
    let reader = ArchiveReader::new(store, &ARCHIVE_BUCKETS, ArchiveMetrics::default());
    let node_of = |k: &Ed25519Public| signer_of(shared, k);
    let look = archive_vouches_in(&reader, blocks, &node_of);
    tokio::time::timeout(VOUCH_TIMEOUT, look)
        .await
        .unwrap_or_default()
}

/// What one archive vouches for: the signer of its block at the chunk's last index, or
/// (when the archive ends before that) of its last block, when that block is the chunk's
/// block at the same index and its metadata is signed by a configured node (`node_of`).
pub async fn archive_vouches_in<S: ArchiveStore>(
    reader: &ArchiveReader<S>,
    blocks: &[ArchiveBlock],
    node_of: &(dyn Fn(&Ed25519Public) -> Option<NodeId> + Sync),
) -> Vec<Vouch> {
    let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
        return Vec::new();
    };
    let mut found = reader.fetch_block(last.block.index).await.ok().flatten();
    if found.is_none() {
        let Ok(height) = reader.height(ARCHIVE_HOLE_WINDOW).await else {
            return Vec::new();
        };
        match height.checked_sub(1) {
            Some(end) if end >= first.block.index && end < last.block.index => {
                found = reader.fetch_block(end).await.ok().flatten();
            }
            _ => return Vec::new(),
        }
    }
    let Some(theirs) = found else {
        return Vec::new();
    };
    let same = block_at(blocks, theirs.block.index).is_some_and(|b| b.block.id == theirs.block.id);
    match metadata_signer(&theirs, node_of) {
        Some(node) if same => vec![Vouch {
            node,
            index: theirs.block.index,
        }],
        _ => Vec::new(),
    }
}

/// Holes `ledger-distribution` may leave at an archive's end (it uploads 8 blocks at once).
const ARCHIVE_HOLE_WINDOW: u64 = 32;

/// Keeps the vouched-for prefix of `blocks` (fetched from `source`), asking every peer
/// and archive at once what they hold; refuses the chunk when no prefix is vouched for.
async fn keep_vouched(
    shared: &Shared,
    mut blocks: Vec<ArchiveBlock>,
    source: &Source,
    tips: &[PeerTip],
) -> Result<Vec<ArchiveBlock>, TrustError> {
    let Some(last) = blocks.last().map(|a| a.block.index) else {
        return Ok(blocks);
    };
    let node_of = |k: &Ed25519Public| signer_of(shared, k);
    let mut vouches = signature_vouches(&blocks, &node_of);
    // The peer that served the chunk holds it; the others are asked.
    let served_by = match source {
        Source::Peer(p) => Some(p.as_str()),
        Source::Archive(_) => None,
    };
    if let Some(node) = served_by.and_then(|p| NodeId::new(p.to_string()).ok()) {
        vouches.push(Vouch { node, index: last });
    }
    let from_peers = futures_util::future::join_all(
        tips.iter()
            .filter(|t| Some(t.peer.peer().responder_id.as_str()) != served_by)
            .map(|t| peer_vouches(shared, t, &blocks)),
    );
    let from_archives = futures_util::future::join_all(
        shared
            .tx_source_urls
            .iter()
            .filter(|u| !matches!(source, Source::Archive(a) if a == u.as_str()))
            .map(|u| archive_vouches(shared, u, &blocks)),
    );
    let (p, a) = tokio::join!(from_peers, from_archives);
    vouches.extend(p.into_iter().flatten());
    vouches.extend(a.into_iter().flatten());
    let me = NodeId::new(shared.responder_id.to_string()).ok();
    match vouched_prefix(&shared.quorum_set, me.as_ref(), &blocks, &vouches) {
        Ok(n) => {
            if n < blocks.len() {
                tracing::debug!(kept = n, fetched = blocks.len(), %source, "catch-up: keeping the vouched-for blocks");
            }
            blocks.truncate(n);
            Ok(blocks)
        }
        Err(e) => {
            shared
                .metrics
                .error(crate::metrics::ErrorKind::CatchupNotVouched);
            tracing::warn!(%source, error = %e, "catch-up refused blocks its quorum set does not vouch for");
            Err(e)
        }
    }
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
/// [`ARCHIVE_FIRST_GAP`] or more blocks ahead). A source's blocks are kept only as far as
/// this node's quorum set vouches for them (see the module's documentation); a source
/// whose chunk nobody vouches for is skipped with its [`TrustError`] and the next tried.
pub async fn fetch_blocks(
    shared: &Arc<Shared>,
    from: &Block,
) -> Result<(Vec<ArchiveBlock>, Source), String> {
    let mut tips = Vec::new();
    for peer in &shared.peers {
        if let Ok(info) = peer.last_block_info().await {
            tips.push(PeerTip {
                peer: peer.clone(),
                height: info.index + 1,
                block_id: info.block_id,
            });
        }
    }
    tips.sort_by_key(|t| std::cmp::Reverse(t.height));
    let best = tips.first().map_or(0, |t| t.height);
    let mut errors = Vec::new();
    let archives_first = best.saturating_sub(from.index + 1) >= ARCHIVE_FIRST_GAP;
    if archives_first {
        if let Some(found) = try_archives(shared, from, &tips, &mut errors).await {
            return Ok(found);
        }
    }
    for tip in &tips {
        if tip.height <= from.index + 1 {
            break;
        }
        let peer = &tip.peer;
        let id = peer.peer().responder_id.to_string();
        let want = (tip.height - from.index - 1).min(MAX_BLOCKS_PER_ROUND);
        match fetch_from_peer(shared, peer, from, want).await {
            Ok(blocks) if !blocks.is_empty() => {
                let source = Source::Peer(id.clone());
                match keep_vouched(shared, blocks, &source, &tips).await {
                    Ok(kept) => return Ok((kept, source)),
                    Err(e) => errors.push(format!("{id}: {e}")),
                }
            }
            Ok(_) => errors.push(format!("{id}: no blocks")),
            Err(e) => errors.push(e),
        }
    }
    if !archives_first {
        if let Some(found) = try_archives(shared, from, &tips, &mut errors).await {
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
    tips: &[PeerTip],
    errors: &mut Vec<String>,
) -> Option<(Vec<ArchiveBlock>, Source)> {
    for url in &shared.tx_source_urls {
        match fetch_from_archive(shared, url, from).await {
            Ok(blocks) if !blocks.is_empty() => {
                let source = Source::Archive(url.to_string());
                match keep_vouched(shared, blocks, &source, tips).await {
                    Ok(kept) => return Some((kept, source)),
                    Err(e) => errors.push(format!("archive {url}: {e}")),
                }
            }
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    None
}

async fn fetch_from_peer(
    shared: &Shared,
    peer: &PeerClient,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use mcnode_archive::{layout, DirStore};
    use mcnode_blockchain::{
        BlockContents, BlockContentsHash, BlockId, BlockMetadata, BlockMetadataContents,
        BlockVersion, QuorumSetRecord,
    };
    use mcnode_crypto::Ed25519Signer;
    use mcnode_transaction::membership::{Range, RootElement};

    use super::*;

    fn node(i: usize) -> NodeId {
        NodeId::new(format!("node{i}.test:8443")).unwrap()
    }

    fn signer(i: usize) -> Ed25519Signer {
        Ed25519Signer::from_seed(&[i as u8 + 1; 32])
    }

    fn node_of(k: &Ed25519Public) -> Option<NodeId> {
        (0..4).find(|i| signer(*i).public() == *k).map(node)
    }

    /// 3 of the 4 nodes, this node (node0) included, as `mcnode localnet` writes.
    fn three_of_four() -> QuorumSet {
        QuorumSet::flat(3, (0..4).map(node).collect()).unwrap()
    }

    /// Blocks `1..=n` after a made-up block 0, `fork` telling chains apart; block `i`'s
    /// metadata is signed by `signed_by(i)`.
    fn chain(n: u64, fork: u8, signed_by: &dyn Fn(u64) -> usize) -> Vec<ArchiveBlock> {
        let mut parent = BlockId([fork; 32]);
        (1..=n)
            .map(|index| {
                let root = RootElement {
                    range: Range { from: 0, to: 0 },
                    hash: [fork; 32],
                };
                let contents = BlockContents::new(Vec::new(), Vec::new());
                let block = Block::new(
                    BlockVersion::ONE.get(),
                    parent,
                    index,
                    0,
                    root,
                    BlockContentsHash(contents.hash().0),
                );
                parent = block.id;
                let who = signed_by(index);
                let metadata = BlockMetadata::sign(
                    BlockMetadataContents {
                        block_id: block.id,
                        quorum_set: QuorumSetRecord::default(),
                        attestation_evidence: Vec::new(),
                        responder_id: node(who).to_string(),
                    },
                    &signer(who),
                );
                ArchiveBlock {
                    block,
                    contents,
                    signature: None,
                    metadata: Some(metadata),
                }
            })
            .collect()
    }

    fn v(i: usize, index: u64) -> Vouch {
        Vouch {
            node: node(i),
            index,
        }
    }

    #[test]
    fn a_slice_with_this_node_vouches_for_the_whole_chunk() {
        let blocks = chain(5, 1, &|_| 1);
        let qs = three_of_four();
        // node1 and node2 hold block 5: with node0 that is 3 of 4.
        assert_eq!(
            vouched_prefix(&qs, Some(&node(0)), &blocks, &[v(1, 5), v(2, 5)]),
            Ok(5)
        );
        // A vouch for a later block than the chunk's holds nothing of it.
        assert!(vouched_prefix(&qs, Some(&node(0)), &blocks, &[v(1, 9), v(2, 9)]).is_err());
    }

    #[test]
    fn a_chain_one_node_alone_holds_or_signed_is_refused_with_who_vouched() {
        let blocks = chain(5, 1, &|_| 1);
        let vouches = signature_vouches(&blocks, &node_of);
        assert_eq!(vouches.len(), 5);
        // node1 signed every block and served them; nobody else holds them.
        let mut all = vouches.clone();
        all.push(v(1, 5));
        let err = vouched_prefix(&three_of_four(), Some(&node(0)), &blocks, &all).unwrap_err();
        let TrustError::NotVouched {
            first,
            last,
            ref vouchers,
            ref quorum,
            ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((first, last), (1, 5));
        assert_eq!(vouchers, "node1.test:8443");
        assert!(quorum.starts_with("3 of [node0.test:8443,"), "{quorum}");
        let text = err.to_string();
        assert!(text.contains("are not vouched for"), "{text}");
        assert!(text.contains("only by [node1.test:8443]"), "{text}");
    }

    #[test]
    fn the_longest_vouched_prefix_is_kept_when_peers_lag() {
        let blocks = chain(10, 1, &|_| 3);
        let qs = three_of_four();
        // node1 served all 10, node2 is at block 7, node3 signed them all.
        let vouches = [v(1, 10), v(2, 7)];
        assert_eq!(
            vouched_prefix(&qs, Some(&node(0)), &blocks, &vouches),
            Ok(7)
        );
        let mut with_sigs = vouches.to_vec();
        with_sigs.extend(signature_vouches(&blocks, &node_of));
        assert_eq!(
            vouched_prefix(&qs, Some(&node(0)), &blocks, &with_sigs),
            Ok(10)
        );
    }

    #[test]
    fn this_node_counts_only_when_it_is_in_its_own_quorum_set() {
        let blocks = chain(3, 1, &|_| 1);
        let qs = three_of_four();
        // Without this node, two vouchers are no slice.
        assert!(vouched_prefix(&qs, None, &blocks, &[v(1, 3), v(2, 3)]).is_err());
        // A quorum set of the others only (this node outside): 2 of [1, 2, 3].
        let others = QuorumSet::flat(2, (1..4).map(node).collect()).unwrap();
        assert_eq!(
            vouched_prefix(&others, Some(&node(0)), &blocks, &[v(1, 3), v(2, 3)]),
            Ok(3)
        );
        assert!(vouched_prefix(&others, Some(&node(0)), &blocks, &[v(1, 3)]).is_err());
    }

    #[test]
    fn nested_quorum_sets_need_each_inner_set() {
        // 2 of [node0, {2 of [node1, node2, node3]}]
        let inner = QuorumSet::flat(2, (1..4).map(node).collect()).unwrap();
        let qs = QuorumSet::new(2, vec![node(0)], vec![inner]).unwrap();
        let blocks = chain(2, 1, &|_| 1);
        assert!(vouched_prefix(&qs, Some(&node(0)), &blocks, &[v(1, 2)]).is_err());
        assert_eq!(
            vouched_prefix(&qs, Some(&node(0)), &blocks, &[v(1, 2), v(3, 2)]),
            Ok(2)
        );
        assert_eq!(
            describe_quorum_set(&qs),
            "2 of [node0.test:8443, {2 of [node1.test:8443, node2.test:8443, node3.test:8443]}]"
        );
    }

    #[test]
    fn forged_or_foreign_metadata_vouches_for_nothing() {
        let mut blocks = chain(3, 1, &|i| i as usize);
        // Metadata naming another block.
        let other = chain(3, 2, &|_| 2);
        blocks[0].metadata = other[0].metadata.clone();
        // A signature that does not verify.
        if let Some(m) = blocks[1].metadata.as_mut() {
            m.contents.responder_id = "changed after signing".into();
        }
        // Block 3 signed by a key no node has.
        let stranger = Ed25519Signer::from_seed(&[99; 32]);
        let b3 = blocks[2].block.id;
        blocks[2].metadata = Some(BlockMetadata::sign(
            BlockMetadataContents {
                block_id: b3,
                quorum_set: QuorumSetRecord::default(),
                attestation_evidence: Vec::new(),
                responder_id: node(3).to_string(),
            },
            &stranger,
        ));
        assert_eq!(signature_vouches(&blocks, &node_of), Vec::new());
    }

    #[test]
    fn empty_chunks_are_refused() {
        assert_eq!(
            vouched_prefix(&three_of_four(), Some(&node(0)), &[], &[]),
            Err(TrustError::Empty)
        );
    }

    async fn archive_of(dir: &std::path::Path, blocks: &[ArchiveBlock]) -> ArchiveReader<DirStore> {
        let store = DirStore::new(dir.to_path_buf());
        // An object at block 0's key, so that the archive's height counts from it (only
        // its existence is checked).
        let origin = layout::encode_block_object(&blocks[0]);
        store
            .put(&layout::block_key(0), origin.into())
            .await
            .unwrap();
        for a in blocks {
            store
                .put(
                    &layout::block_key(a.block.index),
                    layout::encode_block_object(a).into(),
                )
                .await
                .unwrap();
        }
        ArchiveReader::new(store, &[], ArchiveMetrics::default())
    }

    /// With every peer down, the other nodes' archives vouch through their signatures;
    /// a lying archive's chain, or an archive that ends before the chunk, does not count
    /// beyond what it really holds.
    #[tokio::test]
    async fn archives_vouch_through_their_nodes_signatures() {
        let tmp = tempfile::tempdir().unwrap();
        let real = chain(6, 1, &|_| 1);
        // node2's archive holds the real chain signed by node2 (it formed every block).
        let by2: Vec<ArchiveBlock> = chain(6, 1, &|_| 2);
        assert_eq!(by2[5].block.id, real[5].block.id);
        let a2 = archive_of(&tmp.path().join("a2"), &by2).await;
        // node3's archive ends at block 4.
        let by3 = chain(4, 1, &|_| 3);
        let a3 = archive_of(&tmp.path().join("a3"), &by3).await;
        // A lying archive: another chain, signed by node3.
        let lie = chain(6, 7, &|_| 3);
        let liar = archive_of(&tmp.path().join("liar"), &lie).await;

        let mut vouches = signature_vouches(&real, &node_of);
        let from2 = archive_vouches_in(&a2, &real, &node_of).await;
        assert_eq!(from2, vec![v(2, 6)]);
        let from3 = archive_vouches_in(&a3, &real, &node_of).await;
        assert_eq!(from3, vec![v(3, 4)]);
        assert_eq!(archive_vouches_in(&liar, &real, &node_of).await, Vec::new());
        vouches.extend(from2);
        let qs = three_of_four();
        assert_eq!(vouched_prefix(&qs, Some(&node(0)), &real, &vouches), Ok(6));
        // Without node2's archive: node1's signatures and node3's 4 blocks.
        let mut without2 = signature_vouches(&real, &node_of);
        without2.extend(from3);
        assert_eq!(vouched_prefix(&qs, Some(&node(0)), &real, &without2), Ok(4));
        // The liar's chain served from its own archive: signed by node3 alone, and the
        // real archives hold other blocks.
        let mut for_lie = signature_vouches(&lie, &node_of);
        for_lie.extend(archive_vouches_in(&a2, &lie, &node_of).await);
        for_lie.extend(archive_vouches_in(&a3, &lie, &node_of).await);
        let err = vouched_prefix(&qs, Some(&node(0)), &lie, &for_lie).unwrap_err();
        assert!(
            err.to_string().contains("only by [node3.test:8443]"),
            "{err}"
        );
    }
}
