//! A stand-in for a node's client port, in process: the real gRPC services, a real
//! software enclave (attested channel, decryption, block forming and signing) and an
//! LMDB ledger. An accepted transaction is formed into the next block at once (a
//! one-node "consensus"). It can forget its channels (a restart), cap `GetBlockData`, and
//! serve a tampered block.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use mcnode_api::{convert, pb, result_code};
use mcnode_blockchain::{ArchiveBlock, BlockContentsHash};
use mcnode_enclave::{
    ChainSettings, ConsensusEnclave, DropReason, EnclaveConfig, EnclaveError, FormBlockInputs,
    HostLedgerState, HostSecret, IasMode, SessionLimits, SgxMode, SoftwareEnclave,
};
use mcnode_ledger::{Ledger, LmdbLedger};
use mcnode_transaction::LedgerView;
use tonic::{Request, Response, Status};

use crate::common::FEE;

pub const CHAIN: ChainSettings = ChainSettings {
    block_version: 1,
    minimum_fee: FEE,
};

struct Inner {
    ledger: LmdbLedger,
    config: EnclaveConfig,
    enclave: Mutex<SoftwareEnclave>,
    /// Most blocks one `GetBlockData` returns.
    cap: u32,
    /// A block served with a corrupted contents hash.
    tamper: Mutex<Option<u64>>,
}

#[derive(Clone)]
pub struct FakeNode(Arc<Inner>);

pub struct Running {
    pub node: FakeNode,
    /// `insecure-mc://127.0.0.1:PORT/`.
    pub uri: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn enclave(config: &EnclaveConfig) -> SoftwareEnclave {
    SoftwareEnclave::new(config.clone(), HostSecret::from_bytes([7; 32]), None)
        .unwrap()
        .0
}

impl FakeNode {
    /// Serves `ledger` on a loopback port.
    pub async fn start(ledger: LmdbLedger, cap: u32) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = EnclaveConfig {
            peer_responder_id: format!("127.0.0.1:{}", addr.port() + 1),
            client_responder_id: format!("127.0.0.1:{}", addr.port()),
            chain: CHAIN,
            sgx_mode: SgxMode::Sw,
            ias_mode: IasMode::Dev,
            limits: SessionLimits::default(),
        };
        let node = FakeNode(Arc::new(Inner {
            ledger,
            enclave: Mutex::new(enclave(&config)),
            config,
            cap,
            tamper: Mutex::new(None),
        }));
        let server = tonic::transport::Server::builder()
            .add_service(pb::blockchain_api_server::BlockchainApiServer::new(
                node.clone(),
            ))
            .add_service(pb::attested_api_server::AttestedApiServer::new(
                node.clone(),
            ))
            .add_service(
                pb::consensus_client_api_server::ConsensusClientApiServer::new(node.clone()),
            )
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        let server = tokio::spawn(async move {
            let _ = server.await;
        });
        Running {
            node,
            uri: format!("insecure-mc://127.0.0.1:{}/", addr.port()),
            server,
        }
    }

    pub fn ledger(&self) -> &LmdbLedger {
        &self.0.ledger
    }

    /// A new enclave instance: every client channel is forgotten, as after a restart.
    pub fn restart_enclave(&self) {
        *self.0.enclave.lock().unwrap() = enclave(&self.0.config);
    }

    pub fn tamper(&self, index: Option<u64>) {
        *self.0.tamper.lock().unwrap() = index;
    }

    fn propose(&self, frame: &pb::EncryptedMessage) -> (u32, String) {
        let Ok(msg) = convert::encrypted_from_pb(frame) else {
            return (result_code::UNDECODABLE, "bad frame".into());
        };
        let enclave = self.0.enclave.lock().unwrap();
        let ctx = match enclave.client_tx_propose(&msg) {
            Ok(c) => c,
            Err(EnclaveError::Channel(e)) => return (result_code::CHANNEL_ERROR, e.to_string()),
            Err(e) => return (result_code::UNDECODABLE, e.to_string()),
        };
        let ledger = &self.0.ledger;
        if ctx
            .key_images
            .iter()
            .any(|k| ledger.contains_key_image(k).unwrap())
        {
            return (result_code::KEY_IMAGE_SPENT, "key image spent".into());
        }
        let parent = ledger.last_block().unwrap();
        let mut indices: BTreeSet<u64> = ctx.highest_indices.iter().copied().collect();
        indices.insert(parent.cumulative_txo_count - 1);
        let root_proofs = match indices
            .iter()
            .map(|i| ledger.root_proof(*i))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(p) => p,
            Err(e) => return (19, e.to_string()),
        };
        let formed = enclave
            .form_block(FormBlockInputs {
                ledger: HostLedgerState {
                    root_element: Some(ledger.tree_root().unwrap()),
                    root_proofs,
                },
                parent,
                txs: vec![ctx.encrypted_tx],
                spent_key_images: BTreeSet::new(),
                existing_output_keys: BTreeSet::new(),
                signed_at: 1_700_000_000,
            })
            .unwrap();
        if let Some((_, reason)) = formed.dropped.first() {
            return match reason {
                DropReason::Invalid(e) => (e.code(), e.to_string()),
                DropReason::KeyImageSpent => (result_code::KEY_IMAGE_SPENT, String::new()),
                DropReason::OutputKeyExists => (result_code::OUTPUT_KEY_EXISTS, String::new()),
                DropReason::Undecodable => (result_code::UNDECODABLE, String::new()),
            };
        }
        ledger
            .append_block(
                &formed.block,
                &formed.contents,
                Some(&formed.signature),
                None,
            )
            .unwrap();
        (result_code::OK, String::new())
    }
}

#[tonic::async_trait]
impl pb::blockchain_api_server::BlockchainApi for FakeNode {
    async fn get_last_block_info(
        &self,
        _: Request<pb::GetLastBlockInfoRequest>,
    ) -> Result<Response<pb::LastBlockInfo>, Status> {
        let last = self.0.ledger.last_block().unwrap();
        Ok(Response::new(pb::LastBlockInfo {
            index: last.index,
            minimum_fee: CHAIN.minimum_fee,
            block_version: CHAIN.block_version,
            block_id: last.id.0.to_vec(),
            cumulative_txo_count: last.cumulative_txo_count,
        }))
    }

    async fn get_blocks(
        &self,
        _: Request<pb::GetBlocksRequest>,
    ) -> Result<Response<pb::GetBlocksResponse>, Status> {
        Err(Status::unimplemented("not in the fake"))
    }

    async fn get_block_data(
        &self,
        r: Request<pb::GetBlocksRequest>,
    ) -> Result<Response<pb::GetBlockDataResponse>, Status> {
        let l = &self.0.ledger;
        let height = l.num_blocks().unwrap();
        let start = r.get_ref().offset.min(height);
        let end = (start + u64::from(r.get_ref().limit.min(self.0.cap))).min(height);
        let tamper = *self.0.tamper.lock().unwrap();
        let blocks = (start..end)
            .map(|i| {
                let mut a = ArchiveBlock {
                    block: l.block(i).unwrap(),
                    contents: l.block_contents(i).unwrap(),
                    signature: l.block_signature(i).unwrap(),
                    metadata: l.block_metadata(i).unwrap(),
                };
                if tamper == Some(i) {
                    a.block.contents_hash = BlockContentsHash([1; 32]);
                }
                convert::archive_block_to_pb(&a)
            })
            .collect();
        Ok(Response::new(pb::GetBlockDataResponse { blocks }))
    }
}

#[tonic::async_trait]
impl pb::attested_api_server::AttestedApi for FakeNode {
    async fn auth(&self, r: Request<pb::AuthMessage>) -> Result<Response<pb::AuthMessage>, Status> {
        let enclave = self.0.enclave.lock().unwrap();
        match enclave.client_accept(&r.get_ref().data) {
            Ok((_, data)) => Ok(Response::new(pb::AuthMessage { data })),
            Err(e) => Err(Status::permission_denied(e.to_string())),
        }
    }
}

#[tonic::async_trait]
impl pb::consensus_client_api_server::ConsensusClientApi for FakeNode {
    async fn client_tx_propose(
        &self,
        r: Request<pb::EncryptedMessage>,
    ) -> Result<Response<pb::ProposeTxResponse>, Status> {
        let (result, message) = self.propose(r.get_ref());
        Ok(Response::new(pb::ProposeTxResponse {
            result,
            message,
            block_count: self.0.ledger.num_blocks().unwrap(),
            block_version: CHAIN.block_version,
        }))
    }
}
