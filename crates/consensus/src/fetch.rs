//! Fetching transactions a peer's SCP message names but this node lacks (`GetTxs`),
//! checking each like a client's before caching it.

use std::{collections::BTreeSet, sync::Arc};

use mcnode_peers::ResponderId;

use crate::{intake, state::Shared, TxHash};

/// Most hashes asked for in one call.
const MAX_HASHES_PER_CALL: usize = 1000;

/// Fetches `unknown` from `sender` first, then from the other peers, until none is missing.
/// Fetched transactions are checked (ledger and enclave) and cached as not pending.
pub async fn fetch_txs(shared: &Arc<Shared>, sender: &ResponderId, unknown: BTreeSet<TxHash>) {
    let mut missing: Vec<TxHash> = unknown.into_iter().collect();
    let order = shared
        .peers
        .iter()
        .filter(|p| &p.peer().responder_id == sender)
        .chain(
            shared
                .peers
                .iter()
                .filter(|p| &p.peer().responder_id != sender),
        );
    for peer in order {
        if missing.is_empty() {
            break;
        }
        let mut still = Vec::new();
        for chunk in missing.chunks(MAX_HASHES_PER_CALL) {
            match peer.get_txs(chunk).await {
                Ok((contexts, lacking)) => {
                    still.extend(lacking);
                    let shared2 = shared.clone();
                    let accepted = tokio::task::spawn_blocking(move || {
                        let mut ok = Vec::new();
                        for ctx in contexts {
                            // Relayed meanwhile: already checked and cached.
                            if shared2.cache_read().contains(&ctx.tx_hash) {
                                continue;
                            }
                            match intake::check_tx(&*shared2.ledger, &*shared2.enclave, &ctx) {
                                Ok(next_block) => ok.push((ctx, next_block)),
                                Err(e) => tracing::debug!(
                                    tx = %hex::encode(ctx.tx_hash), error = %e,
                                    "fetched transaction refused"
                                ),
                            }
                        }
                        ok
                    })
                    .await
                    .unwrap_or_default();
                    let mut cache = shared.cache_write();
                    for (ctx, next_block) in accepted {
                        let hash = ctx.tx_hash;
                        if let Err(e) = cache.insert(ctx, next_block, false) {
                            tracing::debug!(tx = %hex::encode(hash), error = %e, "fetched transaction not cached");
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(peer = %peer.peer().responder_id, error = %e, "GetTxs failed");
                    still.extend_from_slice(chunk);
                }
            }
        }
        let cache = shared.cache_read();
        missing = still.into_iter().filter(|h| !cache.contains(h)).collect();
    }
    if !missing.is_empty() {
        shared.metrics.consensus_error("tx_fetch_failed");
    }
}
