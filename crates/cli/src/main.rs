//! `mcnode`: the operator's and wallet user's command line.
//!
//! Thin by design: each subcommand parses its arguments and calls into the library crates.

mod bench;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench(cmd) => bench::run(cmd),
    }
}
