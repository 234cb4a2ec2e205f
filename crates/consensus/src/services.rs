//! The gRPC services: `AttestedApi` (clients on the client port, peers on the peer port),
//! `ConsensusClientApi`, `ConsensusPeerApi` and `BlockchainApi`.

use std::{sync::Arc, time::Instant};

use mcnode_api::{
    convert::{archive_block_to_pb, block_to_pb, encrypted_from_pb, encrypted_to_pb},
    pb, result_code,
};
use mcnode_blockchain::ArchiveBlock;
use mcnode_enclave::{ChannelError, ChannelId, EnclaveError, TxContext};
use mcnode_ledger::LedgerError;
use mcnode_node_core::{ClientVerdict, TxHash};
use mcnode_peers::{
    client::{envelope_from_pb, envelope_to_pb, MAX_TXS_PER_FETCH, MAX_TXS_RESPONSE_BYTES},
    MsgKey,
};
use mcnode_scp::Topic;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

use crate::{
    intake::{self, enclave_rejection, IntakeError, Rejection},
    metrics::DropReason,
    node::{Input, Received},
    state::{Mode, Shared},
    TxSet,
};

/// Most blocks one `GetBlocks` / `GetBlockData` answer carries.
pub const MAX_BLOCKS_PER_RESPONSE: u32 = 100;
/// Most times a client's transaction is validated again because blocks were appended
/// meanwhile beyond what the node remembers.
const MAX_RECHECKS: usize = 3;

fn ledger_status(e: LedgerError) -> Status {
    Status::internal(format!("ledger: {e}"))
}

fn node_gone() -> Status {
    Status::unavailable("the node is shutting down")
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
        block_count: shared.published().status.slot,
        block_version: shared.chain.block_version,
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

/// Validates a client's transaction and hands it to the node task, validating again
/// when blocks were appended meanwhile beyond what the node core remembers.
/// Whether the node core holds the transaction `hash` (false when the node is stopping).
async fn holds_tx(shared: &Arc<Shared>, hash: TxHash) -> bool {
    let (reply, answer) = oneshot::channel();
    let asked = shared
        .node
        .inbox
        .send(Input::GetTxs {
            hashes: vec![hash],
            reply,
        })
        .await;
    asked.is_ok() && answer.await.is_ok_and(|(found, _)| !found.is_empty())
}

async fn take_client_tx(shared: &Arc<Shared>, ctx: TxContext) -> Result<(), IntakeError> {
    let submitted = Instant::now();
    for _ in 0..MAX_RECHECKS {
        let s2 = shared.clone();
        let c2 = ctx.clone();
        let (checked_for, verdict) = match tokio::task::spawn_blocking(move || {
            intake::check(&*s2.ledger, &*s2.enclave, &c2)
        })
        .await
        {
            Ok(r) => r?,
            Err(e) => {
                return Err(Rejection::new(
                    result_code::OVER_CAPACITY,
                    format!("the node could not check the transaction: {e}"),
                )
                .into())
            }
        };
        verdict?;
        let (reply, answer) = oneshot::channel();
        let sent = shared
            .node
            .inbox
            .send(Input::ClientTx {
                tx: intake::core_tx(ctx.clone()),
                checked_for,
                submitted,
                reply,
            })
            .await;
        let gone = || {
            Rejection::new(
                result_code::OVER_CAPACITY,
                "the node is shutting down; submit to another node",
            )
        };
        if sent.is_err() {
            return Err(gone().into());
        }
        match answer.await {
            Ok(ClientVerdict::Accepted) => return Ok(()),
            Ok(ClientVerdict::Refused(r)) => return Err(Rejection::new(r.code, r.message).into()),
            Ok(ClientVerdict::Recheck) => continue,
            Err(_) => return Err(gone().into()),
        }
    }
    Err(Rejection::new(
        result_code::OVER_CAPACITY,
        "the ledger moves faster than the node can check the transaction; try again",
    )
    .into())
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
        let ctx = match blocking(move || s2.enclave.client_tx_propose(&msg)).await? {
            Ok(ctx) => ctx,
            Err(e) => return answer(&shared, Err(IntakeError::from(enclave_rejection(&e)))),
        };
        // Cheap refusal before validating: the node holds as much as it may (its pending
        // limit, or what the network commits in a few seconds; see the node core's
        // `admit`), unless it already holds this transaction (a resubmission is accepted,
        // as below the limit).
        let published = shared.published();
        let status = &published.status;
        let full = status.pending >= shared.about.max_pending;
        if (full || !status.admits_client_tx()) && !holds_tx(&shared, ctx.tx_hash).await {
            let message = if full {
                format!(
                    "the pending-value queue is full ({} entries): try again later",
                    shared.about.max_pending
                )
            } else {
                format!(
                    "the node holds {} transactions, more than the network has committed in \
                     the last few seconds: try again later",
                    status.pending + status.validating
                )
            };
            return answer(
                &shared,
                Err(Rejection::new(result_code::OVER_CAPACITY, message).into()),
            );
        }
        let outcome = take_client_tx(&shared, ctx).await;
        answer(&shared, outcome)
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
        let contexts = match blocking(move || s2.enclave.peer_tx_propose(&msg)).await? {
            Ok(c) => c,
            Err(e) => return answer(&shared, Err(IntakeError::from(enclave_rejection(&e)))),
        };
        // Validation happens in the node after this call returns: the sender never waits
        // for it. A full inbox asks the sender to retry later.
        if shared
            .node
            .inbox
            .try_send(Input::PeerTxs(contexts))
            .is_err()
        {
            return Err(Status::unavailable(
                "the node's inbox is full; relay again later",
            ));
        }
        answer(&shared, Ok(()))
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
            shared.metrics.msg_dropped(DropReason::NotAttested);
            return Err(Status::failed_precondition(format!(
                "{} has not attested to this node; make an attested peer channel first",
                envelope.from
            )));
        }
        let id = envelope.id();
        if !shared
            .dedup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_new(&id)
        {
            return Ok(Response::new(pb::SendConsensusMsgResponse {}));
        }
        let keys = |r: &mcnode_peers::ResponderId| shared.peer_keys.get(r).copied();
        let msg = match envelope.open::<TxSet>(&keys) {
            Ok(m) => m,
            Err(e) => {
                shared.metrics.msg_dropped(DropReason::RefusedEnvelope);
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
        let key = MsgKey {
            author: envelope.from.clone(),
            slot: msg.slot,
            ballot: matches!(msg.topic, Topic::Ballot(_)),
        };
        let shared_env = Arc::new(envelope.clone());
        if shared
            .node
            .envelopes
            .try_send(Received { envelope, msg })
            .is_err()
        {
            // Not marked as seen: the sender's periodic re-send gets through later.
            shared.metrics.msg_dropped(DropReason::InboxFull);
            return Ok(Response::new(pb::SendConsensusMsgResponse {}));
        }
        shared
            .dedup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first_time(id);
        // Relay to our other peers (de-duplicated on their side), so a network that is not
        // a full mesh still hears everyone; the broadcast queue keeps only the latest
        // statement per author, slot and kind.
        shared
            .broadcaster
            .send_msg(shared_env, &key, Some(&key.author));
        Ok(Response::new(pb::SendConsensusMsgResponse {}))
    }

    async fn get_latest_msg(
        &self,
        _request: Request<pb::GetLatestMsgRequest>,
    ) -> Result<Response<pb::GetLatestMsgResponse>, Status> {
        let msg = self.0.published().latest_msg.as_ref().map(envelope_to_pb);
        Ok(Response::new(pb::GetLatestMsgResponse { msg }))
    }

    async fn get_txs(
        &self,
        request: Request<pb::GetTxsRequest>,
    ) -> Result<Response<pb::GetTxsResponse>, Status> {
        let req = request.into_inner();
        if req.tx_hashes.len() > MAX_TXS_PER_FETCH {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_TXS_PER_FETCH} hashes per call"
            )));
        }
        let channel: [u8; 16] = req
            .channel_id
            .as_slice()
            .try_into()
            .map_err(|_| Status::invalid_argument("channel_id must be 16 bytes"))?;
        let hashes = req
            .tx_hashes
            .iter()
            .map(|h| <[u8; 32]>::try_from(h.as_slice()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Status::invalid_argument("tx hashes must be 32 bytes"))?;
        let (reply, held) = oneshot::channel();
        self.0
            .node
            .inbox
            .send(Input::GetTxs { hashes, reply })
            .await
            .map_err(|_| node_gone())?;
        let (found, missing) = held.await.map_err(|_| node_gone())?;
        // Bounded by bytes: what does not fit is deferred (the asker comes back for it).
        let mut bytes = 0;
        let mut sent = Vec::new();
        let mut deferred = Vec::new();
        for (hash, ctx) in found {
            let size = ctx.encrypted_tx.0.len();
            if !sent.is_empty() && bytes + size > MAX_TXS_RESPONSE_BYTES {
                deferred.push(hash.to_vec());
                continue;
            }
            bytes += size;
            sent.push(ctx.encrypted_tx);
        }
        let txs = if sent.is_empty() {
            None
        } else {
            let enclave = self.0.enclave.clone();
            let msg = blocking(move || enclave.txs_for_peer(&sent, &ChannelId(channel)))
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
        Ok(Response::new(pb::GetTxsResponse {
            txs,
            missing: missing.iter().map(|h| h.to_vec()).collect(),
            deferred,
        }))
    }
}
