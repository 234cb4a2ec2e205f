//! `mcnode-s3-server`: an S3 API server over a directory (s3s-fs, SigV4 authentication),
//! the S3 of the compose network in `docker/compose.yml` and of local experiments. Not for
//! production archives. Built only with the feature `s3-test-server`, so the node's
//! binaries do not carry it.
//!
//! Thin: parses flags, creates the buckets, serves [`mcnode_archive::test_server::S3Server`]
//! until SIGTERM / SIGINT.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::Parser;
use mcnode_archive::test_server::S3Server;

/// Serves the S3 API over a directory: each bucket a subdirectory, each object a file.
#[derive(Debug, Parser)]
#[command(name = "mcnode-s3-server", version)]
struct Args {
    /// The directory holding the buckets (created if missing).
    #[arg(long, env = "MC_S3_ROOT")]
    root: PathBuf,
    /// Where to listen.
    #[arg(long, env = "MC_S3_LISTEN", default_value = "0.0.0.0:9000")]
    listen: SocketAddr,
    /// Buckets to create at start (repeat, or separate with commas). Writers refuse a
    /// missing bucket.
    #[arg(long = "bucket", env = "MC_S3_BUCKETS", value_delimiter = ',')]
    buckets: Vec<String>,
    /// The access key every request must be signed with.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key: Option<String>,
    /// The secret key every request must be signed with.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Accept unsigned requests from anyone (then `http://HOST:PORT/bucket/prefix/` is
    /// also a read-only HTTP archive). Without it both keys are required.
    #[arg(long, env = "MC_S3_NO_AUTH")]
    no_auth: bool,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcnode-s3-server: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let credentials = match (&args.access_key, &args.secret_key, args.no_auth) {
        (_, _, true) => None,
        (Some(a), Some(s), false) if !a.is_empty() && !s.is_empty() => {
            Some((a.as_str(), s.as_str()))
        }
        _ => anyhow::bail!(
            "give both --access-key and --secret-key (AWS_ACCESS_KEY_ID, \
             AWS_SECRET_ACCESS_KEY), or --no-auth to accept unsigned requests"
        ),
    };
    std::fs::create_dir_all(&args.root)
        .with_context(|| format!("cannot create --root {}", args.root.display()))?;
    for bucket in &args.buckets {
        let ok = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !ok {
            anyhow::bail!(
                "--bucket {bucket:?}: a bucket name is 3 to 63 characters of a-z, 0-9, '-' and '.'"
            );
        }
        let dir = args.root.join(bucket);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create bucket directory {}", dir.display()))?;
    }
    let server = S3Server::new(&args.root, credentials)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
        eprintln!(
            "mcnode-s3-server: serving {} on http://{} (buckets: {}; {})",
            args.root.display(),
            args.listen,
            if args.buckets.is_empty() {
                "none created".to_string()
            } else {
                args.buckets.join(", ")
            },
            if credentials.is_some() {
                "requests must be signed"
            } else {
                "unsigned requests accepted"
            }
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install the SIGTERM handler")?;
        server
            .serve(listener, async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            })
            .await;
        eprintln!("mcnode-s3-server: stopped");
        Ok(())
    })
}
