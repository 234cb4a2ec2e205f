//! `mcnode`: the operator's and wallet user's command line.
//!
//! Thin by design: each subcommand parses its arguments and calls into the library crates.

mod archive_cmd;
mod bench;
mod keys;
mod ledger_cmd;
mod localnet;
mod node_api;
mod progress;
mod quorum_cmd;
mod sim;
mod wallet_cmd;

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
    /// Quorum analysis: intersection, blocking and splitting sets by node name, and what a
    /// proposed network.toml changes.
    #[command(subcommand)]
    Quorum(quorum_cmd::QuorumCommand),
    /// Run N nodes on loopback (keys, certificates, network configs and a funded origin
    /// ledger written on the first start into --dir, reused after) until Ctrl-C.
    Localnet(localnet::LocalnetArgs),
    /// Each node's last block, minimum fee and block version, or why it is unreachable
    /// (JSON).
    Status(node_api::StatusArgs),
    /// Every node's height and last block id; exits 1 unless all agree.
    Heights(node_api::HeightsArgs),
    /// Wait until every node has at least --height blocks; exits 1 on --timeout.
    WaitForBlock(node_api::WaitForBlockArgs),
    /// Wallet: balance, send, and the self- and cross-payment tests (JSON).
    #[command(subcommand)]
    Wallet(wallet_cmd::WalletCommand),
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
        Command::Quorum(cmd) => quorum_cmd::run(cmd),
        Command::Localnet(args) => localnet::run(args),
        Command::Status(args) => node_api::status(args),
        Command::Heights(args) => node_api::heights(args),
        Command::WaitForBlock(args) => node_api::wait_for_block(args),
        Command::Wallet(cmd) => wallet_cmd::run(cmd),
    }
}
