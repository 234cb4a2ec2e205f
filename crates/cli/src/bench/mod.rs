//! `mcnode bench ...`: benchmarks that print one JSON object on stdout.

mod enclave;
mod tx;

use clap::Subcommand;

/// The benchmarks `mcnode bench` can run.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Transaction validation: ring signatures, range proofs, full validate, parallel batches.
    Tx(tx::TxBenchArgs),
    /// Enclave: attested handshakes and encrypted transaction round trips per second.
    Enclave(enclave::EnclaveBenchArgs),
}

/// Runs one benchmark and prints its JSON report.
pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let report = match cmd {
        BenchCommand::Tx(args) => tx::run(args)?,
        BenchCommand::Enclave(args) => enclave::run(args)?,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
