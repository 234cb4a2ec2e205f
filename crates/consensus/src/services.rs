//! The gRPC services: `AttestedApi` (clients on the client port, peers on the peer port),
//! `ConsensusClientApi`, `ConsensusPeerApi` and `BlockchainApi`.

use std::sync::Arc;

use mcnode_api::{
    convert::{archive_block_to_pb, block_to_pb, encrypted_from_pb, encrypted_to_pb},
    pb, result_code,
};
use mcnode_blockchain::ArchiveBlock;
use mcnode_enclave::{ChannelError, ChannelId, EnclaveError, TxContext};
use mcnode_ledger::LedgerError;
use mcnode_peers::client::{envelope_from_pb, envelope_to_pb};
use mcnode_transaction::ValidationError;
use tonic::{Request, Response, Status};

use crate::{
    driver::{Event, Incoming},
    intake::{self, enclave_rejection, IntakeError, Rejection},
    state::{Mode, Shared},
    CacheError, TxSet,
};

/// Most blocks one `GetBlocks` / `GetBlockData` answer carries.
pub const MAX_BLOCKS_PER_RESPONSE: u32 = 100;
/// Most hashes one `GetTxs` may ask for.
pub const MAX_GET_TXS: usize = 500;

fn ledger_status(e: LedgerError) -> Status {
    Status::internal(format!("ledger: {e}"))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("task failed: {e}")))
}

fn response(shared: &Shared, result: u32, message: String) -> pb::ProposeTxResponse {
    pb::ProposeTxResponse {
        result,
        message,
        block_count: shared.ledger.num_blocks().unwrap_or(0),
        block_version: shared.chain.block_version,
    }
}

/// What became of one transaction at intake.
enum Taken {
    New(TxContext),
    Known,
}

/// Checks and caches one transaction (blocking: validation takes milliseconds).
fn take_tx(shared: &Shared, ctx: TxContext) -> Result<Taken, IntakeError> {
    // Already cached (relayed and fetched, or submitted twice): validated once is enough.
    if shared.cache_read().contains(&ctx.tx_hash) {
        let next_block = shared.ledger.num_blocks()?;
        return match shared.cache_write().insert(ctx, next_block, true) {
            Ok(_) => Ok(Taken::Known),
            Err(e) => Err(cache_rejection(e).into()),
        };
    }
    let next_block = intake::check_tx(&*shared.ledger, &*shared.enclave, &ctx)?;
    let mut cache = shared.cache_write();
    match cache.insert(ctx.clone(), next_block, true) {
        Ok(crate::tx_cache::Inserted::New) => Ok(Taken::New(ctx)),
        Ok(crate::tx_cache::Inserted::Known) => Ok(Taken::Known),
        Err(e) => Err(cache_rejection(e).into()),
    }
}

fn cache_rejection(e: CacheError) -> Rejection {
    match e {
        CacheError::Full { what, limit } => Rejection::new(
            result_code::OVER_CAPACITY,
            format!("{what} is full ({limit} entries): try again later"),
        ),
        CacheError::Expired {
            tombstone,
            next_block,
        } => Rejection::invalid(&ValidationError::TombstoneExpired {
            tombstone,
            current: next_block,
        }),
    }
}

fn mode_refusal(shared: &Shared) -> Option<pb::ProposeTxResponse> {
    match shared.mode() {
        Mode::Running => None,
        Mode::CatchingUp => Some(response(
            shared,
            result_code::CATCHING_UP,
            "the node is catching up with its peers; try another node or again shortly".into(),
        )),
        // Answered with gRPC UNAVAILABLE instead (see `client_tx_propose`).
        Mode::Maintenance => None,
    }
}

/// Turns an intake outcome into the answer: over capacity is gRPC `UNAVAILABLE`.
fn answer(
    shared: &Shared,
    outcome: Result<(), IntakeError>,
) -> Result<Response<pb::ProposeTxResponse>, Status> {
    match outcome {
        Ok(()) => Ok(Response::new(response(
            shared,
            result_code::OK,
            String::new(),
        ))),
        Err(IntakeError::Rejected(r)) => {
            shared.metrics.tx_rejected(r.code);
            if r.code == result_code::OVER_CAPACITY {
                return Err(Status::unavailable(r.message));
            }
            Ok(Response::new(response(shared, r.code, r.message)))
        }
        Err(IntakeError::Ledger(e)) => Err(ledger_status(e)),
    }
}

fn accepted(shared: &Shared, ctx: TxContext, relay: bool) {
    shared.metrics.txs_accepted.inc();
    if relay {
        shared.submitted(ctx.tx_hash);
        if shared.relay.try_send(ctx.encrypted_tx).is_err() {
            shared.metrics.consensus_error("relay_queue_full");
        }
    }
    shared.pending_notify.notify_one();
}

/// `AttestedApi`: Noise NX handshakes with wallets on the client port, Noise IX with
/// peers (whose attestation admits their consensus messages) on the peer port.
#[derive(Clone)]
pub struct Attested {
    shared: Arc<Shared>,
    peers: bool,
}

impl Attested {
    /// The client port's.
    pub fn for_clients(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            peers: false,
        }
    }

    /// The peer port's.
    pub fn for_peers(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            peers: true,
        }
    }
}

#[tonic::async_trait]
impl pb::attested_api_server::AttestedApi for Attested {
    async fn auth(
        &self,
        request: Request<pb::AuthMessage>,
    ) -> Result<Response<pb::AuthMessage>, Status> {
        let data = request.into_inner().data;
        let enclave = self.shared.enclave.clone();
        let peers = self.peers;
        let (peer, answer) = blocking(move || {
            if peers {
                enclave
                    .peer_accept(&data)
                    .map(|(c, answer)| (Some(c.responder_id), answer))
            } else {
                enclave
                    .client_accept(&data)
                    .map(|(_, answer)| (None, answer))
            }
        })
        .await?
        .map_err(|e| {
            if peers {
                tracing::warn!(error = %e, "refused a peer's attestation");
            }
            self.shared.metrics.handshake(peers, false);
            Status::permission_denied(format!("attestation: {e}"))
        })?;
        self.shared.metrics.handshake(peers, true);
        if let Some(peer) = peer {
            tracing::info!(%peer, "peer attested");
            self.shared.attested(&peer);
        }
        Ok(Response::new(pb::AuthMessage { data: answer }))
    }
}

/// The client port's `ConsensusClientApi`.
#[derive(Clone)]
pub struct ClientApi(pub Arc<Shared>);

#[tonic::async_trait]
impl pb::consensus_client_api_server::ConsensusClientApi for ClientApi {
    async fn client_tx_propose(
        &self,
        request: Request<pb::EncryptedMessage>,
    ) -> Result<Response<pb::ProposeTxResponse>, Status> {
        let shared = self.0.clone();
        if shared.mode() == Mode::Maintenance {
            return Err(Status::unavailable(
                "the node is in maintenance mode and takes no new transactions; \
                 submit to another node",
            ));
        }
        if let Some(refusal) = mode_refusal(&shared) {
            return Ok(Response::new(refusal));
        }
        let msg = match encrypted_from_pb(&request.into_inner()) {
            Ok(m) => m,
            Err(e) => {
                return answer(
                    &shared,
                    Err(Rejection::new(result_code::UNDECODABLE, e.to_string()).into()),
                )
            }
        };
        let s2 = shared.clone();
        let outcome = blocking(move || {
            let ctx = s2
                .enclave
                .client_tx_propose(&msg)
                .map_err(|e| IntakeError::from(enclave_rejection(&e)))?;
            take_tx(&s2, ctx)
        })
        .await?;
        match outcome {
            Ok(Taken::New(ctx)) => {
                accepted(&shared, ctx, true);
                answer(&shared, Ok(()))
            }
            Ok(Taken::Known) => answer(&shared, Ok(())),
            Err(e) => answer(&shared, Err(e)),
        }
    }
}

/// `BlockchainApi`, on both ports.
#[derive(Clone)]
pub struct BlockchainApi(pub Arc<Shared>);

impl BlockchainApi {
    fn range(&self, req: &pb::GetBlocksRequest) -> Result<std::ops::Range<u64>, Status> {
        let n = self.0.ledger.num_blocks().map_err(ledger_status)?;
        let limit = u64::from(req.limit.clamp(1, MAX_BLOCKS_PER_RESPONSE));
        let start = req.offset.min(n);
        Ok(start..start.saturating_add(limit).min(n))
    }
}

#[tonic::async_trait]
impl pb::blockchain_api_server::BlockchainApi for BlockchainApi {
    async fn get_last_block_info(
        &self,
        _request: Request<pb::GetLastBlockInfoRequest>,
    ) -> Result<Response<pb::LastBlockInfo>, Status> {
        let block = self.0.ledger.last_block().map_err(ledger_status)?;
        Ok(Response::new(pb::LastBlockInfo {
            index: block.index,
            minimum_fee: self.0.chain.minimum_fee,
            block_version: self.0.chain.block_version,
            block_id: block.id.0.to_vec(),
            cumulative_txo_count: block.cumulative_txo_count,
        }))
    }

    async fn get_blocks(
        &self,
        request: Request<pb::GetBlocksRequest>,
    ) -> Result<Response<pb::GetBlocksResponse>, Status> {
        let range = self.range(request.get_ref())?;
        let ledger = self.0.ledger.clone();
        let blocks = blocking(move || {
            range
                .map(|i| ledger.block(i).map(|b| block_to_pb(&b)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?
        .map_err(ledger_status)?;
        Ok(Response::new(pb::GetBlocksResponse { blocks }))
    }

    async fn get_block_data(
        &self,
        request: Request<pb::GetBlocksRequest>,
    ) -> Result<Response<pb::GetBlockDataResponse>, Status> {
        let range = self.range(request.get_ref())?;
        let ledger = self.0.ledger.clone();
        let blocks = blocking(move || {
            range
                .map(|i| {
                    Ok(archive_block_to_pb(&ArchiveBlock {
                        block: ledger.block(i)?,
                        contents: ledger.block_contents(i)?,
                        signature: ledger.block_signature(i)?,
                        metadata: ledger.block_metadata(i)?,
                    }))
                })
                .collect::<Result<Vec<_>, LedgerError>>()
        })
        .await?
        .map_err(ledger_status)?;
        Ok(Response::new(pb::GetBlockDataResponse { blocks }))
    }
}

/// `ConsensusPeerApi`.
#[derive(Clone)]
pub struct PeerApi(pub Arc<Shared>);

fn is_unknown_channel(e: &EnclaveError) -> bool {
    matches!(e, EnclaveError::Channel(ChannelError::UnknownChannel(_)))
}

#[tonic::async_trait]
impl pb::consensus_peer_api_server::ConsensusPeerApi for PeerApi {
    async fn peer_tx_propose(
        &self,
        request: Request<pb::EncryptedMessage>,
    ) -> Result<Response<pb::ProposeTxResponse>, Status> {
        let shared = self.0.clone();
        let msg = encrypted_from_pb(&request.into_inner())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let s2 = shared.clone();
        let outcome = blocking(move || {
            let contexts = s2
                .enclave
                .peer_tx_propose(&msg)
                .map_err(|e| IntakeError::from(enclave_rejection(&e)))?;
            let mut results = Vec::with_capacity(contexts.len());
            for ctx in contexts {
                results.push(take_tx(&s2, ctx));
            }
            Ok::<_, IntakeError>(results)
        })
        .await?;
        let results = match outcome {
            Ok(r) => r,
            Err(e) => return answer(&shared, Err(e)),
        };
        let mut first_error = None;
        for r in results {
            match r {
                Ok(Taken::New(ctx)) => accepted(&shared, ctx, false),
                Ok(Taken::Known) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        answer(&shared, first_error.map_or(Ok(()), Err))
    }

    async fn send_consensus_msg(
        &self,
        request: Request<pb::ConsensusMsg>,
    ) -> Result<Response<pb::SendConsensusMsgResponse>, Status> {
        let shared = &self.0;
        let envelope = envelope_from_pb(request.get_ref()).map_err(Status::invalid_argument)?;
        if envelope.from == shared.responder_id {
            return Ok(Response::new(pb::SendConsensusMsgResponse {}));
        }
        // Only nodes whose enclave attested to ours (same measurement, trusted evidence)
        // take part; a peer we restarted since must attest again.
        if !shared.has_attested(&envelope.from) {
            shared.metrics.msgs_dropped("not_attested");
            return Err(Status::failed_precondition(format!(
                "{} has not attested to this node; make an attested peer channel first",
                envelope.from
            )));
        }
        let first = shared
            .dedup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first_time(envelope.id());
        if !first {
            return Ok(Response::new(pb::SendConsensusMsgResponse {}));
        }
        let keys = |r: &mcnode_peers::ResponderId| shared.peer_keys.get(r).copied();
        let msg = match envelope.open::<TxSet>(&keys) {
            Ok(m) => m,
            Err(e) => {
                shared.metrics.msgs_dropped("refused_envelope");
                tracing::warn!(error = %e, "refused a consensus message");
                return Err(match e {
                    mcnode_peers::EnvelopeError::UnknownPeer(_)
                    | mcnode_peers::EnvelopeError::BadSignature(_) => {
                        Status::permission_denied(e.to_string())
                    }
                    other => Status::invalid_argument(other.to_string()),
                });
            }
        };
        shared.heard(&envelope.from);
        // Relay to our other peers (de-duplicated on their side), so a network that is not
        // a full mesh still hears everyone.
        let from = envelope.from.clone();
        shared
            .broadcaster
            .send_msg(Arc::new(envelope.clone()), Some(&from));
        if shared
            .driver
            .try_send(Event::Envelope(Box::new(Incoming { envelope, msg })))
            .is_err()
        {
            shared.metrics.msgs_dropped("driver_busy");
        }
        Ok(Response::new(pb::SendConsensusMsgResponse {}))
    }

    async fn get_latest_msg(
        &self,
        _request: Request<pb::GetLatestMsgRequest>,
    ) -> Result<Response<pb::GetLatestMsgResponse>, Status> {
        let msg = self
            .0
            .latest_msg
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(envelope_to_pb);
        Ok(Response::new(pb::GetLatestMsgResponse { msg }))
    }

    async fn get_txs(
        &self,
        request: Request<pb::GetTxsRequest>,
    ) -> Result<Response<pb::GetTxsResponse>, Status> {
        let req = request.into_inner();
        if req.tx_hashes.len() > MAX_GET_TXS {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_GET_TXS} hashes per call"
            )));
        }
        let channel: [u8; 16] = req
            .channel_id
            .as_slice()
            .try_into()
            .map_err(|_| Status::invalid_argument("channel_id must be 16 bytes"))?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        {
            let cache = self.0.cache_read();
            for h in &req.tx_hashes {
                let hash: [u8; 32] = h
                    .as_slice()
                    .try_into()
                    .map_err(|_| Status::invalid_argument("tx hashes must be 32 bytes"))?;
                match cache.get(&hash) {
                    Some(c) => found.push(c.encrypted_tx.clone()),
                    None => missing.push(h.clone()),
                }
            }
        }
        let txs = if found.is_empty() {
            None
        } else {
            let enclave = self.0.enclave.clone();
            let msg = blocking(move || enclave.txs_for_peer(&found, &ChannelId(channel)))
                .await?
                .map_err(|e| {
                    if is_unknown_channel(&e) {
                        Status::failed_precondition(e.to_string())
                    } else {
                        Status::internal(e.to_string())
                    }
                })?;
            Some(encrypted_to_pb(&msg))
        };
        Ok(Response::new(pb::GetTxsResponse { txs, missing }))
    }
}
