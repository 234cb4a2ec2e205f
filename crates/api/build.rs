//! Compiles the protos (and the ledger schema they import from mcnode-blockchain) with protox (pure Rust, no protoc) and generates tonic code; keeps
//! the descriptor set for gRPC reflection.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/mcnode/v1/attest.proto",
        "proto/mcnode/v1/consensus_client.proto",
        "proto/mcnode/v1/blockchain.proto",
        "proto/mcnode/v1/consensus_peer.proto",
        "proto/mcnode/v1/admin.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    // The ledger's messages come from their one source in mcnode-blockchain, whose Rust
    // types the generated services use (extern_path): no second copy of the schema.
    let ledger_proto = "../blockchain/proto";
    println!("cargo:rerun-if-changed={ledger_proto}");
    let fds = protox::compile(protos, ["proto", ledger_proto])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("mcnode_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .extern_path(".mcnode.ledger.v1", "::mcnode_blockchain::pb")
        .compile_fds(fds)?;
    Ok(())
}
