//! `mcnode bench ...`: benchmarks that print one JSON object on stdout.

mod archive;
mod enclave;
mod ledger;
mod load;
mod quorum;
mod scp;
mod tx;

use clap::Subcommand;

/// The benchmarks `mcnode bench` can run.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Transaction validation: ring signatures, range proofs, full validate, parallel batches.
    Tx(tx::TxBenchArgs),
    /// SCP: throughput, messages and CPU per slot for several topologies (simulated network).
    Scp(scp::ScpBenchArgs),
    /// Enclave: attested handshakes and encrypted transaction round trips per second.
    Enclave(enclave::EnclaveBenchArgs),
    /// Ledger (LMDB): append rate by block size, membership proofs up to 1e6 outputs,
    /// key-image lookups.
    Ledger(ledger::LedgerBenchArgs),
    /// Archive: upload blocks/s to S3 (local s3s-fs) and to a directory, catch-up blocks/s
    /// from each, and their ratio to the ledger's own append rate.
    Archive(archive::ArchiveBenchArgs),
    /// Load: a running localnet (`--dir`) under payments at a target rate for a duration:
    /// committed tx/s, submit-to-commit latency, rejections, and the ratio to the CPU
    /// bound `cores / (nodes x validate cost)`.
    Load(load::LoadBenchArgs),
    /// Quorum analysis (`mcnode quorum check`): run time on generated ~100-node
    /// federations, worst and median of several runs.
    Quorum(quorum::QuorumBenchArgs),
}

/// Runs one benchmark and prints its JSON report.
pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let report = match cmd {
        BenchCommand::Tx(args) => tx::run(args)?,
        BenchCommand::Scp(args) => scp::run(args)?,
        BenchCommand::Enclave(args) => enclave::run(args)?,
        BenchCommand::Ledger(args) => ledger::run(args)?,
        BenchCommand::Archive(args) => archive::run(args)?,
        BenchCommand::Load(args) => load::run(args)?,
        BenchCommand::Quorum(args) => quorum::run(args)?,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
