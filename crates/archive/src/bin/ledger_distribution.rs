//! `ledger-distribution`: publishes every block of a local ledger to an archive (S3 or a
//! directory) and keeps publishing as the ledger grows. See `docs/ledger-distribution.md`.
//!
//! Thin: parses flags, builds the store and the writer from `mcnode-archive`, runs it until
//! SIGTERM / SIGINT.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use mcnode_archive::{
    install_crypto_provider, AnyStore, ArchiveMetrics, ArchiveUrl, S3Config, StartFrom, Writer,
    WriterConfig,
};
use mcnode_ledger::LmdbLedger;

/// Publishes a ledger to an S3 or directory archive, one object per block plus bundles.
#[derive(Debug, Parser)]
#[command(name = "ledger-distribution", version)]
struct Args {
    /// The ledger directory (holding `data.mdb`).
    #[arg(long, env = "MC_LEDGER_PATH")]
    ledger_path: PathBuf,
    /// Where to publish: `s3://bucket/prefix` or `file:///dir`. Default: `AWS_PATH`.
    #[arg(long, env = "MC_DEST")]
    dest: Option<String>,
    /// The S3 location when `--dest` is not given (the spec's variable).
    #[arg(long = "aws-path", env = "AWS_PATH", hide_env_values = false)]
    aws_path: Option<String>,
    /// The state file (JSON `{"next_block": N}`); back it up with the ledger.
    #[arg(long, env = "MC_STATE_FILE")]
    state_file: PathBuf,
    /// Where to begin: `zero` (block 0), `next` (the state file's next block; 0 without
    /// one), `last` (after the last block already in the archive).
    #[arg(long, env = "MC_START_FROM", default_value = "next")]
    start_from: StartFrom,
    /// Bundle sizes, comma-separated; each divides the next. `0` turns bundles off.
    #[arg(
        long,
        env = "MC_MERGE_BUCKETS",
        value_delimiter = ',',
        default_value = "100,1000,10000"
    )]
    merge_buckets: Vec<u64>,
    /// How often the ledger's height is read when caught up, in milliseconds.
    #[arg(long, env = "MC_POLL_INTERVAL_MS", default_value_t = 200)]
    poll_interval_ms: u64,
    /// Uploads in flight at once (1..=32).
    #[arg(long, env = "MC_UPLOAD_CONCURRENCY", default_value_t = 8)]
    upload_concurrency: usize,
    /// Log format: `text` or `json`.
    #[arg(long, env = "MC_LOG_FORMAT", default_value = "text")]
    log_format: String,
    /// Serve Prometheus metrics (`GET /metrics`: archive height, upload latency, retries,
    /// bytes) on this address, e.g. `127.0.0.1:9092`.
    #[arg(long, env = "MC_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
}

/// Serves `registry` as Prometheus text on `GET /metrics` from `listener`.
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    registry: prometheus_client::registry::Registry,
) -> anyhow::Result<()> {
    let registry = Arc::new(registry);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move {
                match mcnode_metrics::encode(&registry) {
                    Ok(text) => (
                        axum::http::StatusCode::OK,
                        [(
                            axum::http::header::CONTENT_TYPE,
                            mcnode_metrics::CONTENT_TYPE,
                        )],
                        text,
                    ),
                    Err(e) => (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        [(axum::http::header::CONTENT_TYPE, "text/plain")],
                        format!("cannot encode metrics: {e}"),
                    ),
                }
            }
        }),
    );
    axum::serve(listener, app)
        .await
        .context("metrics server stopped")
}

fn init_logs(format: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        "text" => builder.init(),
        "json" => builder.json().init(),
        other => anyhow::bail!("--log-format {other:?}: expected text or json"),
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledger-distribution: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logs(&args.log_format)?;
    install_crypto_provider();
    let dest = args
        .dest
        .clone()
        .or_else(|| args.aws_path.clone())
        .context("no archive destination: give --dest (MC_DEST) or set AWS_PATH")?;
    let url: ArchiveUrl = dest.parse()?;
    if matches!(url, ArchiveUrl::Http(_)) {
        anyhow::bail!("--dest {url}: HTTP archives are read-only; use s3:// or file://");
    }
    let mut config = WriterConfig::new(args.state_file.clone(), args.start_from);
    config.merge_buckets = args.merge_buckets.clone();
    config.poll_interval = Duration::from_millis(args.poll_interval_ms);
    config.upload_concurrency = args.upload_concurrency;
    let ledger = Arc::new(
        LmdbLedger::open(&args.ledger_path)
            .with_context(|| format!("cannot open the ledger {}", args.ledger_path.display()))?,
    );
    let store = AnyStore::open(&url, &S3Config::from_env())?;
    let metrics = ArchiveMetrics::default();
    let writer = Writer::new(store, ledger, config, metrics.clone())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        if let Some(addr) = args.metrics_listen {
            let mut registry = prometheus_client::registry::Registry::default();
            metrics.register(&mut registry);
            // Bound here, so a taken port is an error at start.
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--metrics-listen {addr}: cannot listen"))?;
            tracing::info!(%addr, "serving metrics on /metrics");
            tokio::spawn(async move {
                if let Err(e) = serve_metrics(listener, registry).await {
                    tracing::error!(error = %e, "metrics server stopped");
                }
            });
        }
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install the SIGTERM handler")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping after the block at hand"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping after the block at hand"),
            }
            let _ = tx.send(true);
        });
        let next = writer
            .run(rx)
            .await
            .with_context(|| format!("publishing to {url}"))?;
        tracing::info!(next_block = next, "stopped cleanly");
        Ok(())
    })
}
