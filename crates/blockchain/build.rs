//! Generates the ledger's protobuf types from `proto/mcnode/ledger/v1/ledger.proto`, the
//! one source of the ledger schema, with protox (pure Rust, no protoc) and prost.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["mcnode/ledger/v1/ledger.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
