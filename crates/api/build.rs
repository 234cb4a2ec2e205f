//! Compiles the protos with protox (pure Rust, no protoc) and generates tonic code; keeps
//! the descriptor set for gRPC reflection.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/mcnode/v1/types.proto",
        "proto/mcnode/v1/attest.proto",
        "proto/mcnode/v1/consensus_client.proto",
        "proto/mcnode/v1/blockchain.proto",
        "proto/mcnode/v1/consensus_peer.proto",
        "proto/mcnode/v1/admin.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(protos, ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("mcnode_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
