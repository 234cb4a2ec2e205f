//! [`NodeClient`]: a node's client port over gRPC: ledger reads (`BlockchainApi`) and
//! transaction submission over the attested client channel (`AttestedApi.Auth`, then
//! `ConsensusClientApi.ClientTxPropose`).

use std::{sync::OnceLock, time::Duration};

use mcnode_api::{convert, pb, result_code};
use mcnode_archive::InvalidObject;
use mcnode_blockchain::{encoding, ArchiveBlock, BlockId};
use mcnode_enclave::{ChainSettings, ClientChannel, Measurement, BUILD_MEASUREMENT};
use mcnode_peers::{
    client::{endpoint, EndpointError},
    NodeUri, Service,
};
use mcnode_transaction::Tx;
use tonic::transport::Channel;

use crate::WalletError;

/// Largest gRPC message the client accepts (a chunk of blocks with many outputs).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Blocks asked for per `GetBlockData` call (the node may cap it lower).
pub const BLOCKS_PER_REQUEST: u32 = 100;

/// How to reach a node.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// The enclave measurement the node must prove (default: this build's).
    pub measurement: Measurement,
    /// Deadline of the connection: TCP, TLS and HTTP/2 set-up (default 5 s).
    pub connect_timeout: Duration,
    /// Deadline of one call, whatever the node does: a paused or cut-off node makes the
    /// call fail with [`WalletError::Deadline`] after this long (default 10 s).
    pub request_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            measurement: BUILD_MEASUREMENT,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Parses an enclave measurement given as 64 hex digits.
pub fn parse_measurement(text: &str) -> Result<Measurement, WalletError> {
    let bytes = hex::decode(text.trim()).map_err(|_| WalletError::BadMeasurement(text.into()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| WalletError::BadMeasurement(text.into()))?;
    Ok(Measurement(bytes))
}

/// The node's ledger tip and chain rules (`BlockchainApi.GetLastBlockInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeTip {
    /// Index of the node's last block (its height is `index + 1`).
    pub index: u64,
    /// The node's minimum fee.
    pub minimum_fee: u64,
    /// The block version the node writes.
    pub block_version: u32,
    /// The last block's id.
    pub block_id: BlockId,
    /// Outputs in the node's ledger.
    pub cumulative_txo_count: u64,
}

impl NodeTip {
    /// Blocks in the node's ledger.
    pub fn height(&self) -> u64 {
        self.index.saturating_add(1)
    }

    /// The chain settings the node's enclave enforces.
    pub fn chain_settings(&self) -> ChainSettings {
        ChainSettings {
            block_version: self.block_version,
            minimum_fee: self.minimum_fee,
        }
    }
}

/// A transaction the node accepted for consensus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProposeOutcome {
    /// Blocks in the node's ledger when it answered.
    pub block_count: u64,
    /// The node's block version.
    pub block_version: u32,
    /// True when the cached channel was unknown to the node (it restarted) and the
    /// wallet re-handshook before the accepted attempt.
    pub rehandshaken: bool,
}

/// A short name for a `ProposeTxResponse.result` code.
pub fn result_code_name(code: u32) -> &'static str {
    match code {
        result_code::OK => "ok",
        1..=99 => "invalid transaction",
        result_code::KEY_IMAGE_SPENT => "key image already spent",
        result_code::OUTPUT_KEY_EXISTS => "output key already in the ledger",
        result_code::OVER_CAPACITY => "node over capacity",
        result_code::MAINTENANCE => "node in maintenance",
        result_code::CATCHING_UP => "node catching up",
        result_code::UNDECODABLE => "undecodable payload",
        result_code::CHANNEL_ERROR => "attested channel error",
        _ => "unknown code",
    }
}

/// A connection to one node's client port.
///
/// Reads (`last_block_info`, `block_data`) take `&self`; submitting takes `&mut self`
/// because it owns the attested channel, which is opened on first use and kept: when the
/// node answers that the channel is unknown (it restarted), the client re-handshakes once
/// and retries.
pub struct NodeClient {
    uri: NodeUri,
    channel: Channel,
    options: ConnectOptions,
    attested: Option<ClientChannel>,
    origin: OnceLock<BlockId>,
}

impl std::fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeClient")
            .field("uri", &self.uri.to_string())
            .field("attested", &self.attested.as_ref().map(|c| c.channel_id()))
            .finish()
    }
}

impl NodeClient {
    /// Connects to a client URI (`mc://host:port/?ca-bundle=…&tls-hostname=…` or
    /// `insecure-mc://host:port/`) with default options.
    pub async fn connect(uri: &str) -> Result<Self, WalletError> {
        Self::connect_with(uri, ConnectOptions::default()).await
    }

    /// Connects to a client URI with `options`.
    pub async fn connect_with(uri: &str, options: ConnectOptions) -> Result<Self, WalletError> {
        let uri = NodeUri::parse(uri, Service::Client)?;
        Self::connect_uri(uri, options).await
    }

    /// Connects to a parsed client URI.
    pub async fn connect_uri(uri: NodeUri, options: ConnectOptions) -> Result<Self, WalletError> {
        mcnode_peers::tls::install_crypto_provider();
        let connect_err = |reason: String| WalletError::Connect {
            uri: uri.to_string(),
            reason,
        };
        let endpoint =
            endpoint(&uri, options.connect_timeout, backstop(&options)).map_err(|e| match e {
                EndpointError::Tls(t) => WalletError::Tls(t),
                EndpointError::Invalid(reason) => connect_err(reason),
            })?;
        let channel = tokio::time::timeout(options.connect_timeout, endpoint.connect())
            .await
            .map_err(|_| WalletError::Deadline {
                uri: uri.to_string(),
                method: "connect",
                after: options.connect_timeout,
            })?
            .map_err(|e| connect_err(error_chain(&e)))?;
        Ok(Self {
            uri,
            channel,
            options,
            attested: None,
            origin: OnceLock::new(),
        })
    }

    /// A client of a parsed client URI that dials only on its first call (and again after
    /// a failure), for nodes the wallet knows but may find down.
    pub fn connect_lazy(uri: NodeUri, options: ConnectOptions) -> Result<Self, WalletError> {
        mcnode_peers::tls::install_crypto_provider();
        let endpoint =
            endpoint(&uri, options.connect_timeout, backstop(&options)).map_err(|e| match e {
                EndpointError::Tls(t) => WalletError::Tls(t),
                EndpointError::Invalid(reason) => WalletError::Connect {
                    uri: uri.to_string(),
                    reason,
                },
            })?;
        Ok(Self {
            channel: endpoint.connect_lazy(),
            uri,
            options,
            attested: None,
            origin: OnceLock::new(),
        })
    }

    /// The node's URI.
    pub fn uri(&self) -> &NodeUri {
        &self.uri
    }

    /// The responder id the node's enclave must prove: the URI's `responder-id`
    /// parameter, else its `host:port`.
    pub fn responder_id(&self) -> String {
        self.uri.responder_id().to_string()
    }

    /// The id of the cached attested channel, if one is open.
    pub fn attested_channel_id(&self) -> Option<mcnode_enclave::ChannelId> {
        self.attested.as_ref().map(ClientChannel::channel_id)
    }

    /// Runs one call under [`ConnectOptions::request_timeout`].
    async fn deadline<T>(
        &self,
        method: &'static str,
        call: impl std::future::Future<Output = Result<T, WalletError>>,
    ) -> Result<T, WalletError> {
        let after = self.options.request_timeout;
        tokio::time::timeout(after, call)
            .await
            .map_err(|_| WalletError::Deadline {
                uri: self.uri.to_string(),
                method,
                after,
            })?
    }

    fn blockchain(&self) -> pb::blockchain_api_client::BlockchainApiClient<Channel> {
        pb::blockchain_api_client::BlockchainApiClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// `BlockchainApi.GetLastBlockInfo`.
    pub async fn last_block_info(&self) -> Result<NodeTip, WalletError> {
        const M: &str = "GetLastBlockInfo";
        let mut api = self.blockchain();
        let info = self
            .deadline(M, async {
                api.get_last_block_info(pb::GetLastBlockInfoRequest {})
                    .await
                    .map_err(WalletError::rpc(M))
            })
            .await?
            .into_inner();
        let id: [u8; 32] =
            info.block_id
                .as_slice()
                .try_into()
                .map_err(|_| WalletError::BadResponse {
                    method: M,
                    reason: format!("block id of {} bytes", info.block_id.len()),
                })?;
        Ok(NodeTip {
            index: info.index,
            minimum_fee: info.minimum_fee,
            block_version: info.block_version,
            block_id: BlockId(id),
            cumulative_txo_count: info.cumulative_txo_count,
        })
    }

    /// `BlockchainApi.GetBlockData`: up to `limit` blocks from `offset` on (the node may
    /// return fewer). Each block is decoded (a block that does not decode is
    /// [`WalletError::Verify`] naming its index) but not verified: that is the
    /// [`LocalLedger`](crate::LocalLedger)'s job.
    pub async fn block_data(
        &self,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<ArchiveBlock>, WalletError> {
        const M: &str = "GetBlockData";
        let mut api = self.blockchain();
        let blocks = self
            .deadline(M, async {
                api.get_block_data(pb::GetBlocksRequest { offset, limit })
                    .await
                    .map_err(WalletError::rpc(M))
            })
            .await?
            .into_inner()
            .blocks;
        if blocks.len() > limit as usize {
            return Err(WalletError::BadResponse {
                method: M,
                reason: format!(
                    "{} blocks where at most {limit} were asked for",
                    blocks.len()
                ),
            });
        }
        blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                convert::archive_block_from_pb(b).map_err(|e| {
                    let index = offset.saturating_add(i as u64);
                    match e {
                        convert::ConvertError::Decode(d) => WalletError::Verify {
                            index,
                            reason: InvalidObject::Decode(d),
                        },
                        other => WalletError::BadResponse {
                            method: M,
                            reason: format!("block {index}: {other}"),
                        },
                    }
                })
            })
            .collect()
    }

    /// The node's origin block id (asked once per client, then remembered).
    pub async fn origin_block_id(&self) -> Result<BlockId, WalletError> {
        if let Some(id) = self.origin.get() {
            return Ok(*id);
        }
        let blocks = self.block_data(0, 1).await?;
        let origin = blocks.first().ok_or(WalletError::BadResponse {
            method: "GetBlockData",
            reason: "no origin block".into(),
        })?;
        if origin.block.index != 0 || !origin.block.is_id_valid() {
            return Err(WalletError::BadResponse {
                method: "GetBlockData",
                reason: "block 0 is not a valid origin block".into(),
            });
        }
        Ok(*self.origin.get_or_init(|| origin.block.id))
    }

    /// Opens a new attested channel (`AttestedApi.Auth`), replacing the cached one: checks
    /// the node's enclave measurement, chain settings (from `GetLastBlockInfo`) and
    /// responder id.
    pub async fn handshake(&mut self) -> Result<(), WalletError> {
        self.attested = None;
        let tip = self.last_block_info().await?;
        let (pending, hello) = ClientChannel::start(
            &self.responder_id(),
            self.options.measurement,
            tip.chain_settings(),
        )?;
        let mut api = pb::attested_api_client::AttestedApiClient::new(self.channel.clone());
        let answer = self
            .deadline("Auth", async {
                api.auth(pb::AuthMessage { data: hello })
                    .await
                    .map_err(WalletError::rpc("Auth"))
            })
            .await?
            .into_inner();
        self.attested = Some(pending.finish(&answer.data)?);
        Ok(())
    }

    /// Submits `tx` (encoded with `mcnode_blockchain::encoding::encode_tx`) over the
    /// attested channel. `Ok` means the node accepted it for consensus, not that it is in a
    /// block. A refusal is [`WalletError::Rejected`] with the node's result code.
    pub async fn propose_tx(&mut self, tx: &Tx) -> Result<ProposeOutcome, WalletError> {
        self.propose_payload(&encoding::encode_tx(tx)).await
    }

    /// Submits an arbitrary plaintext over the attested channel (tests use it to send
    /// payloads that are not transactions).
    pub async fn propose_payload(
        &mut self,
        plaintext: &[u8],
    ) -> Result<ProposeOutcome, WalletError> {
        const M: &str = "ClientTxPropose";
        let mut rehandshaken = false;
        loop {
            if self.attested.is_none() {
                self.handshake().await?;
            }
            let Some(attested) = self.attested.as_mut() else {
                unreachable!("handshake sets the channel or fails");
            };
            let frame = convert::encrypted_to_pb(&attested.encrypt(plaintext)?);
            let mut api = pb::consensus_client_api_client::ConsensusClientApiClient::new(
                self.channel.clone(),
            )
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
            let answer = self
                .deadline(M, async {
                    api.client_tx_propose(frame)
                        .await
                        .map_err(WalletError::rpc(M))
                })
                .await?
                .into_inner();
            match answer.result {
                result_code::OK => {
                    return Ok(ProposeOutcome {
                        block_count: answer.block_count,
                        block_version: answer.block_version,
                        rehandshaken,
                    })
                }
                result_code::CHANNEL_ERROR if !rehandshaken => {
                    self.attested = None;
                    rehandshaken = true;
                }
                code => {
                    if code == result_code::CHANNEL_ERROR {
                        self.attested = None;
                    }
                    return Err(WalletError::Rejected {
                        code,
                        message: answer.message,
                    });
                }
            }
        }
    }
}

/// tonic's own per-call timeout, a backstop behind [`NodeClient`]'s deadline (which fires
/// first and says which node and call).
fn backstop(options: &ConnectOptions) -> Duration {
    options
        .request_timeout
        .saturating_add(Duration::from_secs(1))
}

/// An error with its sources, on one line (tonic's transport errors hide the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
