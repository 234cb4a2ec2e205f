//! `mc-admin-http-gateway`: the operator's admin panel over HTTP, in front of
//! consensus-service's admin gRPC API. See `docs/admin.md`.
//!
//! Thin: parses flags, binds the two ports, serves [`mcnode_admin_gateway::serve`] until
//! SIGTERM / SIGINT. Exits 1 with one `error: …` line when a flag is wrong or a port is
//! taken.

use std::{io::IsTerminal, net::SocketAddr, process::ExitCode};

use anyhow::Context;
use clap::Parser;
use mcnode_admin_gateway::{Gateway, GrpcAdminClient};
use mcnode_peers::{NodeUri, Service};

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The operator's admin panel over HTTP: node state, peers, quorum set, RUST_LOG and
/// maintenance mode, and Prometheus metrics, from consensus-service's admin API.
#[derive(Debug, Parser)]
#[command(name = "mc-admin-http-gateway", version, about)]
struct Args {
    /// consensus-service's admin API: `insecure-mca://127.0.0.1:9091/` (plaintext) or
    /// `mca://host:9091/?ca-bundle=CA.pem&tls-hostname=NAME` (TLS).
    #[arg(long, env = "CONSENSUS_ADMIN_URI")]
    admin_uri: String,
    /// Where the panel and its API listen (HTTP/1.1, no authentication: keep it private).
    #[arg(long, env = "MC_ADMIN_GATEWAY_LISTEN", default_value = "0.0.0.0:8000")]
    listen: SocketAddr,
    /// Where `GET /metrics` alone listens, for Prometheus.
    #[arg(
        long,
        env = "MC_ADMIN_GATEWAY_METRICS_LISTEN",
        default_value = "0.0.0.0:9090"
    )]
    metrics_listen: SocketAddr,
    /// Log format (logs go to stderr; RUST_LOG filters them, default `info`).
    #[arg(long, env = "MC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // --help and --version go to stdout and succeed; a usage error exits 1.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    init_logs(args.log_format);
    mcnode_peers::tls::install_crypto_provider();
    let uri = NodeUri::parse(&args.admin_uri, Service::Admin)
        .with_context(|| format!("--admin-uri {}", args.admin_uri))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The channel spawns its connection task on the runtime.
    let client = {
        let _runtime = runtime.enter();
        GrpcAdminClient::connect_lazy(&uri)
            .with_context(|| format!("--admin-uri {}", args.admin_uri))?
    };
    let gateway = Gateway::new(client);
    runtime.block_on(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install the SIGTERM handler")?;
        // Bound here, so a taken port is an error at start.
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
        let metrics_listener = tokio::net::TcpListener::bind(args.metrics_listen)
            .await
            .with_context(|| format!("--metrics-listen {}: cannot listen", args.metrics_listen))?;
        let addr = listener
            .local_addr()
            .context("--listen: no local address")?;
        let metrics_addr = metrics_listener
            .local_addr()
            .context("--metrics-listen: no local address")?;
        tracing::info!(%addr, admin_uri = %uri, "serving the admin panel");
        tracing::info!(addr = %metrics_addr, "serving metrics on /metrics");

        // Say at once whether the node answers; the panel keeps saying it either way.
        let probe = gateway.clone();
        tokio::spawn(async move { probe.probe().await });

        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
            }
        };
        mcnode_admin_gateway::serve(gateway, listener, Some(metrics_listener), shutdown)
            .await
            .context("HTTP server failed")?;
        tracing::info!("stopped");
        Ok(())
    })
}
