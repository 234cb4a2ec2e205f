//! One connection to one peer: consensus messages, transactions over the attested peer
//! channel, and ledger reads for catch-up.
//!
//! Two tonic channels (two HTTP/2 connections) per peer: one for consensus (envelopes,
//! attestation, heights) and one for bulk traffic (relayed transactions, `GetTxs`, block
//! data), so a large transfer never holds a consensus message back behind it on one TCP
//! connection. Both connect lazily and reconnect by themselves; the attested channel is
//! made on first use and made again when the peer says it does not know it (the peer
//! restarted). Every call has a deadline ([`CALL_TIMEOUT`]).

use std::{sync::Arc, time::Duration};

use mcnode_api::{
    convert::{archive_block_from_pb, encrypted_from_pb, encrypted_to_pb, ConvertError},
    pb, result_code,
};
use mcnode_blockchain::ArchiveBlock;
use mcnode_crypto::Ed25519Signature;
use mcnode_enclave::{ChannelId, ConsensusEnclave, EnclaveError, LocallyEncryptedTx, TxContext};
use tokio::sync::Mutex;
use tonic::transport::{Channel, Endpoint};

use crate::{tls, Peer, ResponderId, SignedConsensusMsg};

/// Deadline of one call to a peer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Most blocks asked for in one `GetBlockData` call.
pub const MAX_BLOCKS_PER_CALL: u32 = 100;
/// Most hashes one `GetTxs` request may carry (the asking node chunks by it, the answering
/// node refuses more).
pub const MAX_TXS_PER_FETCH: usize = 256;
/// Most bytes of transactions one `GetTxs` answer carries (under gRPC's default 4 MiB
/// message limit); what does not fit is listed as deferred.
pub const MAX_TXS_RESPONSE_BYTES: usize = 3 << 20;

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The peer's URI cannot be dialled.
    #[error("cannot dial {peer}: {reason}")]
    Dial {
        /// The peer.
        peer: String,
        /// Why.
        reason: String,
    },
    /// The call failed (unreachable, refused, timed out).
    #[error("{peer}: {status}")]
    Rpc {
        /// The peer.
        peer: String,
        /// The gRPC status.
        status: Box<tonic::Status>,
    },
    /// The attested channel could not be made, or a payload did not open.
    #[error("{peer}: enclave: {source}")]
    Enclave {
        /// The peer.
        peer: String,
        /// Why.
        source: EnclaveError,
    },
    /// The peer answered something malformed.
    #[error("{peer}: malformed answer: {reason}")]
    Malformed {
        /// The peer.
        peer: String,
        /// What was wrong.
        reason: String,
    },
}

impl PeerError {
    /// True when the peer refused for a state it expects to change (`FAILED_PRECONDITION`).
    pub fn is_precondition(&self) -> bool {
        matches!(self, Self::Rpc { status, .. } if status.code() == tonic::Code::FailedPrecondition)
    }

    /// True when the peer could not be reached at all (worth a backoff).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Rpc { status, .. } if matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown
        ))
    }
}

/// A signed consensus envelope on the wire.
pub fn envelope_to_pb(m: &SignedConsensusMsg) -> pb::ConsensusMsg {
    pb::ConsensusMsg {
        scp_msg: m.scp_msg.clone(),
        prev_block_id: m.prev_block_id.to_vec(),
        from_responder_id: m.from.to_string(),
        signature: m.signature.0.to_vec(),
    }
}

/// A signed consensus envelope from the wire (shape only: [`SignedConsensusMsg::open`]
/// checks the signature).
pub fn envelope_from_pb(p: &pb::ConsensusMsg) -> Result<SignedConsensusMsg, String> {
    let prev_block_id: [u8; 32] = p
        .prev_block_id
        .as_slice()
        .try_into()
        .map_err(|_| format!("prev_block_id of {} bytes", p.prev_block_id.len()))?;
    let signature: [u8; 64] = p
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| format!("signature of {} bytes", p.signature.len()))?;
    let from: ResponderId = p
        .from_responder_id
        .parse()
        .map_err(|e: crate::UriError| e.to_string())?;
    Ok(SignedConsensusMsg {
        scp_msg: p.scp_msg.clone(),
        prev_block_id,
        from,
        signature: Ed25519Signature(signature),
    })
}

/// A peer's answer to `GetTxs`.
#[derive(Debug, Default)]
pub struct FetchedTxs {
    /// The transactions it sent (decrypted by our enclave, not yet checked against the
    /// ledger).
    pub contexts: Vec<TxContext>,
    /// Hashes it does not hold.
    pub missing: Vec<[u8; 32]>,
    /// Hashes it holds but left out of this answer (byte limit): ask again.
    pub deferred: Vec<[u8; 32]>,
}

/// What a peer said to transactions we relayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposed {
    /// Result code (0: accepted).
    pub result: u32,
    /// The peer's message.
    pub message: String,
}

/// A client of one peer's `ConsensusPeerApi`, `AttestedApi` and `BlockchainApi`.
pub struct PeerClient {
    peer: Peer,
    name: String,
    /// Consensus traffic: envelopes, attestation, heights.
    channel: Channel,
    /// Bulk traffic: relayed transactions, `GetTxs`, block data.
    bulk: Channel,
    enclave: Arc<dyn ConsensusEnclave>,
    attested: Mutex<Option<ChannelId>>,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient")
            .field("peer", &self.name)
            .finish()
    }
}

/// Why an endpoint for a node URI could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The URI's TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The address or TLS settings were refused.
    #[error("{0}")]
    Invalid(String),
}

/// A tonic endpoint for a node URI (TLS from its parameters unless `insecure-`), with
/// the given timeouts. Nothing is dialled yet.
pub fn endpoint(
    uri: &crate::NodeUri,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<Endpoint, EndpointError> {
    let scheme = if uri.tls { "https" } else { "http" };
    let invalid = |e: tonic::transport::Error| EndpointError::Invalid(e.to_string());
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", uri.address()))
        .map_err(invalid)?
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .tcp_nodelay(true);
    if let Some(tls) = tls::client_tls(uri)? {
        endpoint = endpoint.tls_config(tls).map_err(invalid)?;
    }
    Ok(endpoint)
}

/// Lazily connected tonic channel to a peer (reconnects by itself).
pub fn endpoint_channel(uri: &crate::NodeUri) -> Result<Channel, EndpointError> {
    Ok(endpoint(uri, Duration::from_secs(3), CALL_TIMEOUT)?
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .connect_lazy())
}

impl PeerClient {
    /// A client of `peer` (nothing is dialled until the first call).
    pub fn new(peer: &Peer, enclave: Arc<dyn ConsensusEnclave>) -> Result<Self, PeerError> {
        let name = peer.responder_id.to_string();
        let dial = |e: EndpointError| PeerError::Dial {
            peer: name.clone(),
            reason: e.to_string(),
        };
        let channel = endpoint_channel(&peer.uri).map_err(dial)?;
        let bulk = endpoint_channel(&peer.uri).map_err(dial)?;
        Ok(Self {
            peer: peer.clone(),
            name,
            channel,
            bulk,
            enclave,
            attested: Mutex::new(None),
        })
    }

    /// The peer.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    fn rpc(&self, status: tonic::Status) -> PeerError {
        PeerError::Rpc {
            peer: self.name.clone(),
            status: Box::new(status),
        }
    }

    fn enclave_err(&self, source: EnclaveError) -> PeerError {
        PeerError::Enclave {
            peer: self.name.clone(),
            source,
        }
    }

    /// Sends one consensus envelope. Peers take envelopes only from nodes that attested to them, so the attested
    /// channel is made first, and made again once when the peer says it does not know us
    /// (it restarted).
    pub async fn send_consensus_msg(&self, msg: &SignedConsensusMsg) -> Result<(), PeerError> {
        for attempt in 0..2 {
            let id = self.attested_channel().await?;
            let mut client =
                pb::consensus_peer_api_client::ConsensusPeerApiClient::new(self.channel.clone());
            match client.send_consensus_msg(envelope_to_pb(msg)).await {
                Ok(_) => return Ok(()),
                Err(s) if s.code() == tonic::Code::FailedPrecondition && attempt == 0 => {
                    self.forget_channel(id).await;
                }
                Err(s) => return Err(self.rpc(s)),
            }
        }
        unreachable_retry(&self.name)
    }

    /// The peer's latest consensus envelope, if it has said anything.
    pub async fn latest_msg(&self) -> Result<Option<SignedConsensusMsg>, PeerError> {
        let mut client =
            pb::consensus_peer_api_client::ConsensusPeerApiClient::new(self.channel.clone());
        let resp = client
            .get_latest_msg(pb::GetLatestMsgRequest {})
            .await
            .map_err(|s| self.rpc(s))?
            .into_inner();
        resp.msg
            .map(|m| envelope_from_pb(&m))
            .transpose()
            .map_err(|reason| PeerError::Malformed {
                peer: self.name.clone(),
                reason,
            })
    }

    /// The attested channel to this peer, made if needed (the node makes it at start, so
    /// a peer running another enclave is refused at once, not at the first message).
    pub async fn attested_channel(&self) -> Result<ChannelId, PeerError> {
        let mut slot = self.attested.lock().await;
        if let Some(id) = *slot {
            return Ok(id);
        }
        let (pending, first) = self
            .enclave
            .peer_connect(self.peer.responder_id.as_str())
            .map_err(|e| self.enclave_err(e))?;
        let mut client = pb::attested_api_client::AttestedApiClient::new(self.channel.clone());
        let answer = client
            .auth(pb::AuthMessage { data: first })
            .await
            .map_err(|s| self.rpc(s))?
            .into_inner();
        let channel = self
            .enclave
            .peer_connect_finish(pending, &answer.data)
            .map_err(|e| self.enclave_err(e))?;
        *slot = Some(channel.channel_id);
        Ok(channel.channel_id)
    }

    async fn forget_channel(&self, id: ChannelId) {
        let mut slot = self.attested.lock().await;
        if *slot == Some(id) {
            *slot = None;
            self.enclave.peer_close(&id);
        }
    }

    /// Relays cached transactions, re-encrypted for this peer. Makes the attested channel
    /// again once if the peer no longer knows it.
    pub async fn propose_txs(&self, txs: &[LocallyEncryptedTx]) -> Result<Proposed, PeerError> {
        for attempt in 0..2 {
            let id = self.attested_channel().await?;
            let msg = self
                .enclave
                .txs_for_peer(txs, &id)
                .map_err(|e| self.enclave_err(e))?;
            let mut client =
                pb::consensus_peer_api_client::ConsensusPeerApiClient::new(self.bulk.clone());
            let resp = client
                .peer_tx_propose(encrypted_to_pb(&msg))
                .await
                .map_err(|s| self.rpc(s))?
                .into_inner();
            if resp.result == result_code::CHANNEL_ERROR && attempt == 0 {
                self.forget_channel(id).await;
                continue;
            }
            return Ok(Proposed {
                result: resp.result,
                message: resp.message,
            });
        }
        unreachable_retry(&self.name)
    }

    /// Fetches transactions by hash (at most [`MAX_TXS_PER_FETCH`]) from the peer's cache:
    /// the contexts of those it sent, the hashes it lacks and those it deferred.
    pub async fn get_txs(&self, hashes: &[[u8; 32]]) -> Result<FetchedTxs, PeerError> {
        for attempt in 0..2 {
            let id = self.attested_channel().await?;
            let mut client =
                pb::consensus_peer_api_client::ConsensusPeerApiClient::new(self.bulk.clone());
            let resp = match client
                .get_txs(pb::GetTxsRequest {
                    channel_id: id.0.to_vec(),
                    tx_hashes: hashes.iter().map(|h| h.to_vec()).collect(),
                })
                .await
            {
                Ok(r) => r.into_inner(),
                Err(s) if s.code() == tonic::Code::FailedPrecondition && attempt == 0 => {
                    self.forget_channel(id).await;
                    continue;
                }
                Err(s) => return Err(self.rpc(s)),
            };
            let malformed = |reason: String| PeerError::Malformed {
                peer: self.name.clone(),
                reason,
            };
            let hashes_of = |list: &[Vec<u8>], what: &str| {
                list.iter()
                    .map(|h| <[u8; 32]>::try_from(h.as_slice()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| malformed(format!("a {what} hash is not 32 bytes")))
            };
            let missing = hashes_of(&resp.missing, "missing")?;
            let deferred = hashes_of(&resp.deferred, "deferred")?;
            let contexts = match resp.txs {
                None => Vec::new(),
                Some(m) => {
                    let m = encrypted_from_pb(&m)
                        .map_err(|e: ConvertError| malformed(e.to_string()))?;
                    self.enclave
                        .peer_tx_propose(&m)
                        .map_err(|e| self.enclave_err(e))?
                }
            };
            return Ok(FetchedTxs {
                contexts,
                missing,
                deferred,
            });
        }
        unreachable_retry(&self.name)
    }

    /// The peer's last block.
    pub async fn last_block_info(&self) -> Result<pb::LastBlockInfo, PeerError> {
        let mut client = pb::blockchain_api_client::BlockchainApiClient::new(self.channel.clone());
        Ok(client
            .get_last_block_info(pb::GetLastBlockInfoRequest {})
            .await
            .map_err(|s| self.rpc(s))?
            .into_inner())
    }

    /// Blocks `offset..` with contents, signatures and metadata (at most `limit`, capped
    /// at [`MAX_BLOCKS_PER_CALL`]); shapes checked, linkage left to the caller.
    pub async fn block_data(
        &self,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<ArchiveBlock>, PeerError> {
        let mut client = pb::blockchain_api_client::BlockchainApiClient::new(self.bulk.clone());
        let resp = client
            .get_block_data(pb::GetBlocksRequest {
                offset,
                limit: limit.min(MAX_BLOCKS_PER_CALL),
            })
            .await
            .map_err(|s| self.rpc(s))?
            .into_inner();
        resp.blocks
            .iter()
            .map(archive_block_from_pb)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PeerError::Malformed {
                peer: self.name.clone(),
                reason: e.to_string(),
            })
    }
}

fn unreachable_retry<T>(peer: &str) -> Result<T, PeerError> {
    Err(PeerError::Malformed {
        peer: peer.to_string(),
        reason: "the peer refused our attested channel twice".into(),
    })
}
