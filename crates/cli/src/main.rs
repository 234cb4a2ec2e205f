//! `mcnode`: the operator's and wallet user's command line.
//!
//! Thin by design: each subcommand parses its arguments and calls into the library crates.

mod archive_cmd;
mod bench;
mod keys;
mod ledger_cmd;
mod progress;
mod sim;

use clap::{Parser, Subcommand};

/// mcnode: tools for operators and wallet users of an mcnode network.
#[derive(Debug, Parser)]
#[command(name = "mcnode", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run benchmarks and print one JSON object on stdout.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Run seeded SCP network simulations and report safety and liveness.
    Sim(sim::SimArgs),
    /// Make keys: a message-signer key or a wallet account.
    #[command(subcommand)]
    Keygen(keys::KeygenCommand),
    /// Make a self-signed TLS certificate and key (PEM) for a host.
    TlsCert(keys::TlsCertArgs),
    /// Make an origin ledger paying sample accounts, and the accounts' key files.
    OriginBlock(ledger_cmd::OriginBlockArgs),
    /// Inspect, verify, snapshot or roll back an LMDB ledger.
    #[command(subcommand)]
    Ledger(ledger_cmd::LedgerCommand),
    /// Manage a published ledger archive (S3 or directory).
    #[command(subcommand)]
    Archive(archive_cmd::ArchiveCommand),
}

fn main() -> std::process::ExitCode {
    // Errors print as one line with their causes (`{:#}`), not as a Debug dump with a
    // backtrace: an operator reads these.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench(cmd) => bench::run(cmd),
        Command::Sim(args) => sim::run(args),
        Command::Keygen(cmd) => keys::keygen(cmd),
        Command::TlsCert(args) => keys::tls_cert(args),
        Command::OriginBlock(args) => ledger_cmd::origin_block(args),
        Command::Ledger(cmd) => ledger_cmd::run(cmd),
        Command::Archive(cmd) => archive_cmd::run(cmd),
    }
}
