//! Integration tests of mcnode-api: wire compatibility with the ledger encoding, and a
//! real gRPC server with reflection and health on loopback.
#![allow(clippy::unwrap_used, missing_docs)]

use mcnode_api::{convert, pb, FILE_DESCRIPTOR_SET};
use mcnode_blockchain::{origin_block, ArchiveBlock, BlockSignature};
use mcnode_crypto::{CompressedPoint, Ed25519Signer, RistrettoPrivate};
use mcnode_transaction::{MaskedAmount, TxOut};
use tonic::{Request, Response, Status};

fn key(byte: u8) -> CompressedPoint {
    let mut b = [0u8; 32];
    b[0] = byte;
    RistrettoPrivate::from_bytes(&b)
        .unwrap()
        .public()
        .compressed()
}

fn archive_block() -> ArchiveBlock {
    let outs = (1..4u8)
        .map(|n| TxOut {
            target_key: key(n),
            public_key: key(n + 10),
            amount: MaskedAmount {
                commitment: key(n + 20),
                masked_value: u64::from(n),
            },
        })
        .collect();
    let (block, contents) = origin_block(outs).unwrap();
    let signature = Some(BlockSignature::sign(
        &block,
        &Ed25519Signer::from_seed(&[1; 32]),
        5,
    ));
    ArchiveBlock {
        block,
        contents,
        signature,
        metadata: None,
    }
}

#[test]
fn ledger_messages_on_the_wire_are_the_ledger_encoding() {
    let a = archive_block();
    let wire = convert::archive_block_to_pb(&a);
    // Same bytes both ways.
    assert_eq!(
        prost::Message::encode_to_vec(&wire),
        mcnode_blockchain::encoding::encode_archive_block(&a)
    );
    assert_eq!(convert::archive_block_from_pb(&wire).unwrap(), a);
    let b = convert::block_to_pb(&a.block);
    assert_eq!(b.index, 0);
    assert_eq!(b.id, a.block.id.0.to_vec());
    assert_eq!(convert::block_from_pb(&b).unwrap(), a.block);
    // Bad input is a typed error.
    let mut bad = b.clone();
    bad.id.pop();
    assert!(convert::block_from_pb(&bad).is_err());
    let frame = pb::EncryptedMessage {
        channel_id: vec![1; 15],
        nonce: 1,
        ciphertext: vec![],
    };
    assert_eq!(
        convert::encrypted_from_pb(&frame).unwrap_err(),
        convert::ConvertError::ChannelId(15)
    );
}

struct Chain;

#[tonic::async_trait]
impl pb::blockchain_api_server::BlockchainApi for Chain {
    async fn get_last_block_info(
        &self,
        _: Request<pb::GetLastBlockInfoRequest>,
    ) -> Result<Response<pb::LastBlockInfo>, Status> {
        Ok(Response::new(pb::LastBlockInfo {
            index: 41,
            minimum_fee: 400_000_000,
            block_version: 1,
            ..Default::default()
        }))
    }
    async fn get_blocks(
        &self,
        r: Request<pb::GetBlocksRequest>,
    ) -> Result<Response<pb::GetBlocksResponse>, Status> {
        if r.get_ref().offset > 0 {
            return Err(Status::out_of_range("no such block"));
        }
        Ok(Response::new(pb::GetBlocksResponse {
            blocks: vec![convert::block_to_pb(&archive_block().block)],
        }))
    }
    async fn get_block_data(
        &self,
        _: Request<pb::GetBlocksRequest>,
    ) -> Result<Response<pb::GetBlockDataResponse>, Status> {
        Ok(Response::new(pb::GetBlockDataResponse {
            blocks: vec![convert::archive_block_to_pb(&archive_block())],
        }))
    }
}

#[tokio::test]
async fn a_server_answers_and_lists_its_services_by_reflection() {
    use tokio_stream::StreamExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()
        .unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let server = tonic::transport::Server::builder()
        .add_service(pb::blockchain_api_server::BlockchainApiServer::new(Chain))
        .add_service(reflection)
        .add_service(health)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    let handle = tokio::spawn(server);

    let mut client =
        pb::blockchain_api_client::BlockchainApiClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
    let info = client
        .get_last_block_info(pb::GetLastBlockInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.index, 41);
    let blocks = client
        .get_blocks(pb::GetBlocksRequest {
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        convert::block_from_pb(&blocks.blocks[0]).unwrap(),
        archive_block().block
    );
    let err = client
        .get_blocks(pb::GetBlocksRequest {
            offset: 5,
            limit: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::OutOfRange);

    // Reflection: list services, as grpcurl does.
    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut r = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = r
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("no service list")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "mcnode.v1.BlockchainApi",
        "mcnode.v1.ConsensusClientApi",
        "mcnode.v1.ConsensusPeerApi",
        "mcnode.v1.AttestedApi",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    handle.abort();
}
