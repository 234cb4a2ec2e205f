//! The writer behind `ledger-distribution`: follows a ledger and publishes each block once.
//!
//! The loop polls the local ledger's height (one LMDB read transaction, every
//! [`WriterConfig::poll_interval`]); it never lists or polls the archive. For each new block
//! it encodes the ledger's record ([`encode_archive_block`]) and puts it under its key, up
//! to [`WriterConfig::upload_concurrency`] at once, in order of completion reporting; when a
//! block completes a bundle (`(index + 1) % N == 0`) the bundle is put before the block
//! counts as published. The state file then moves past it (at most every
//! [`WriterConfig::state_interval`] while behind, and always when caught up or stopping).
//!
//! A restart resumes from [`StartFrom`]. Blocks in a window after the resume point are
//! first fetched and compared (a crash may have stored some): identical objects are not
//! uploaded again, different ones are a [`ArchiveError::Conflict`]. The bundles that may
//! have been cut off by a crash are checked and written once at start. Transient store
//! errors are retried with exponential backoff (metric `archive_upload_retries_total`);
//! refused credentials, a missing bucket or a read-only store stop the writer.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use mcnode_blockchain::{encoding::encode_archive_block, ArchiveBlock};
use mcnode_ledger::Ledger;
use rand::Rng;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::{
    error::ArchiveError,
    layout::{block_key, bundle_key, encode_bundle, validate_buckets},
    metrics::ArchiveMetrics,
    reader::ArchiveReader,
    state::{read_state, write_state, State},
    store::{ArchiveStore, StoreError},
};

/// Most uploads in flight at once; also the window a restart checks for holes.
pub const MAX_IN_FLIGHT: usize = 32;

/// Blocks taken from the ledger per round of the loop.
const BATCH: u64 = 256;

/// Where a (re)started writer begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    /// Block 0: publishes (or checks) everything.
    Zero,
    /// The state file's `next_block` (block 0 when there is no state file).
    Next,
    /// After the last block the archive holds (found with O(log n) existence checks).
    Last,
}

impl std::str::FromStr for StartFrom {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "zero" => Ok(StartFrom::Zero),
            "next" => Ok(StartFrom::Next),
            "last" => Ok(StartFrom::Last),
            other => Err(format!(
                "unknown start {other:?}: expected zero, next or last"
            )),
        }
    }
}

impl std::fmt::Display for StartFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StartFrom::Zero => "zero",
            StartFrom::Next => "next",
            StartFrom::Last => "last",
        })
    }
}

/// Exponential backoff between retries of a failed upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First wait (default 100 ms).
    pub initial: Duration,
    /// Longest wait (default 30 s). Retries go on until they succeed or the writer stops.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

/// The writer's settings.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// The state file (JSON `{"next_block": N}`).
    pub state_file: PathBuf,
    /// Where to begin.
    pub start_from: StartFrom,
    /// Bundle sizes (`[]`: no bundles); see [`validate_buckets`].
    pub merge_buckets: Vec<u64>,
    /// How often the ledger's height is read when caught up (default 200 ms).
    pub poll_interval: Duration,
    /// Uploads in flight at once, `1..=MAX_IN_FLIGHT` (default 8).
    pub upload_concurrency: usize,
    /// Shortest time between state-file writes while behind (default 100 ms).
    pub state_interval: Duration,
    /// Backoff of retried uploads.
    pub retry: RetryPolicy,
}

impl WriterConfig {
    /// Settings with the defaults.
    pub fn new(state_file: PathBuf, start_from: StartFrom) -> Self {
        Self {
            state_file,
            start_from,
            merge_buckets: crate::layout::DEFAULT_MERGE_BUCKETS.to_vec(),
            poll_interval: Duration::from_millis(200),
            upload_concurrency: 8,
            state_interval: Duration::from_millis(100),
            retry: RetryPolicy::default(),
        }
    }

    /// Checks every value; returns the normalized bundle sizes.
    pub fn validate(&self) -> Result<Vec<u64>, ArchiveError> {
        if !(1..=MAX_IN_FLIGHT).contains(&self.upload_concurrency) {
            return Err(ArchiveError::Config(format!(
                "upload concurrency {} is out of range 1..={MAX_IN_FLIGHT}",
                self.upload_concurrency
            )));
        }
        if self.poll_interval.is_zero() || self.poll_interval > Duration::from_secs(60) {
            return Err(ArchiveError::Config(
                "poll interval must be between 1 ms and 60 s".into(),
            ));
        }
        if self.retry.initial.is_zero() || self.retry.max < self.retry.initial {
            return Err(ArchiveError::Config(
                "retry backoff: initial must be > 0 and <= max".into(),
            ));
        }
        validate_buckets(&self.merge_buckets).map_err(ArchiveError::Config)
    }
}

/// What an upload found.
enum Put {
    /// Uploaded now.
    Uploaded,
    /// The identical object was already there.
    Present,
}

/// Publishes a ledger to an archive store.
pub struct Writer<S, L> {
    store: S,
    ledger: Arc<L>,
    config: WriterConfig,
    buckets: Vec<u64>,
    metrics: ArchiveMetrics,
}

impl<S: ArchiveStore, L: Ledger> Writer<S, L> {
    /// A writer of `ledger` to `store`; fails if `config` does not validate.
    pub fn new(
        store: S,
        ledger: Arc<L>,
        config: WriterConfig,
        metrics: ArchiveMetrics,
    ) -> Result<Self, ArchiveError> {
        let buckets = config.validate()?;
        Ok(Self {
            store,
            ledger,
            config,
            buckets,
            metrics,
        })
    }

    fn encode_block(&self, index: u64) -> Result<Vec<u8>, ArchiveError> {
        let l = &self.ledger;
        Ok(encode_archive_block(&ArchiveBlock {
            block: l.block(index)?,
            contents: l.block_contents(index)?,
            signature: l.block_signature(index)?,
            metadata: l.block_metadata(index)?,
        }))
    }

    fn encode_bundle(&self, bucket: u64, first: u64) -> Result<Vec<u8>, ArchiveError> {
        let blocks = (first..first + bucket)
            .map(|i| self.encode_block(i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(encode_bundle(first, &blocks))
    }

    /// Runs `f` until it succeeds, a fatal error, or shutdown (`Ok(None)`).
    async fn retry<T, F, Fut>(
        &self,
        what: &str,
        shutdown: &mut watch::Receiver<bool>,
        mut f: F,
    ) -> Result<Option<T>, ArchiveError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut delay = self.config.retry.initial;
        loop {
            match f().await {
                Ok(v) => return Ok(Some(v)),
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(e) => {
                    self.metrics.upload_retries.inc();
                    let wait = delay.mul_f64(rand::thread_rng().gen_range(0.75..1.25));
                    warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "{what} failed; retrying");
                    if *shutdown.borrow() {
                        return Ok(None);
                    }
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => return Ok(None),
                    }
                    delay = (delay * 2).min(self.config.retry.max);
                }
            }
        }
    }

    /// Puts `bytes` at `key` (first comparing with what is there when `check`).
    async fn upload(
        &self,
        key: String,
        index: u64,
        bytes: Bytes,
        check: bool,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Option<Put>, ArchiveError> {
        if check {
            let existing = self
                .retry("get", &mut shutdown, || self.store.get(&key))
                .await?;
            match existing {
                None => return Ok(None),
                Some(Some(b)) if b == bytes => return Ok(Some(Put::Present)),
                Some(Some(_)) => {
                    return Err(ArchiveError::Conflict {
                        store: self.store.describe(),
                        key,
                        index,
                    })
                }
                Some(None) => {}
            }
        }
        let started = Instant::now();
        let len = bytes.len() as u64;
        let done = self
            .retry("put", &mut shutdown, || self.store.put(&key, bytes.clone()))
            .await?;
        if done.is_none() {
            return Ok(None);
        }
        self.metrics
            .upload_latency
            .observe(started.elapsed().as_secs_f64());
        self.metrics.uploaded_bytes.inc_by(len);
        self.metrics.uploaded_objects.inc();
        debug!(key, bytes = len, "uploaded");
        Ok(Some(Put::Uploaded))
    }

    async fn upload_block(
        &self,
        index: u64,
        check: bool,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Option<(u64, Put)>, ArchiveError> {
        let bytes = Bytes::from(self.encode_block(index)?);
        Ok(self
            .upload(block_key(index), index, bytes, check, shutdown)
            .await?
            .map(|p| (index, p)))
    }

    async fn upload_bundle(
        &self,
        bucket: u64,
        first: u64,
        check: bool,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Option<Put>, ArchiveError> {
        let bytes = Bytes::from(self.encode_bundle(bucket, first)?);
        self.upload(bundle_key(bucket, first), first, bytes, check, shutdown)
            .await
    }

    async fn start_position(&self) -> Result<u64, ArchiveError> {
        Ok(match self.config.start_from {
            StartFrom::Zero => 0,
            StartFrom::Next => match read_state(&self.config.state_file)? {
                Some(s) => s.next_block,
                None => {
                    warn!(
                        state_file = %self.config.state_file.display(),
                        "no state file: starting from block 0 (objects already in the archive are checked, not uploaded again)"
                    );
                    0
                }
            },
            StartFrom::Last => {
                let reader = ArchiveReader::new(&self.store, &[], self.metrics.clone());
                reader.height(MAX_IN_FLIGHT as u64).await?
            }
        })
    }

    fn save_state(&self, next_block: u64) -> Result<(), ArchiveError> {
        write_state(&self.config.state_file, State { next_block })
    }

    /// Runs until `shutdown` turns true (then finishes the block at hand, writes the state
    /// file and returns the next block index) or a fatal error.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<u64, ArchiveError> {
        self.store.probe(true).await?;
        let mut next = self.start_position().await?;
        info!(
            store = %self.store.describe(),
            start_from = %self.config.start_from,
            next_block = next,
            buckets = ?self.buckets,
            "ledger-distribution starting"
        );
        self.metrics.height.set(next as i64);
        let window = self.config.upload_concurrency.max(MAX_IN_FLIGHT) as u64;
        let mut started = false;
        let mut saved = None;
        let mut last_save = Instant::now();
        let checking = AtomicBool::new(true);
        let mut missing_run = 0u64;
        let mut warned_behind = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let tip = self.ledger.num_blocks()?;
            self.metrics.ledger_height.set(tip as i64);
            self.metrics.lag.set(tip as i64 - next as i64);
            if tip < next && !warned_behind {
                warn!(
                    ledger_blocks = tip,
                    next_block = next,
                    "the ledger is behind the archive; waiting for it (if it was rolled back, run `mcnode archive rollback`)"
                );
                warned_behind = true;
            }
            if !started && tip >= next {
                started = true;
                // The archive's last block must be the ledger's (right archive, same chain).
                if next > 0 {
                    let bytes = Bytes::from(self.encode_block(next - 1)?);
                    self.upload(block_key(next - 1), next - 1, bytes, true, shutdown.clone())
                        .await?;
                }
                // Bundles a crash may have cut off.
                for &n in &self.buckets {
                    let mut end = next / n * n;
                    while end >= n && end + n + window > next {
                        let first = end - n;
                        let key = bundle_key(n, first);
                        let present = self
                            .retry("head", &mut shutdown, || self.store.exists(&key))
                            .await?;
                        if present == Some(false) {
                            info!(key, "writing a bundle a previous run did not finish");
                            self.upload_bundle(n, first, false, shutdown.clone())
                                .await?;
                        }
                        end -= n;
                    }
                }
                self.save_state(next)?;
                saved = Some(next);
                last_save = Instant::now();
            }
            if tip <= next {
                if saved != Some(next) && started {
                    self.save_state(next)?;
                    saved = Some(next);
                }
                tokio::select! {
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            warned_behind = false;
            let end = tip.min(next + BATCH);
            let mut uploads = stream::iter(next..end)
                .map(|i| {
                    let check = checking.load(Ordering::Relaxed);
                    self.upload_block(i, check, shutdown.clone())
                })
                .buffered(self.config.upload_concurrency);
            while let Some(r) = uploads.next().await {
                let Some((i, put)) = r? else {
                    break; // shutdown
                };
                match put {
                    Put::Present => missing_run = 0,
                    Put::Uploaded => {
                        missing_run += 1;
                        if missing_run >= window {
                            checking.store(false, Ordering::Relaxed);
                        }
                    }
                }
                for &n in &self.buckets {
                    if (i + 1).is_multiple_of(n) {
                        let check = checking.load(Ordering::Relaxed);
                        if self
                            .upload_bundle(n, i + 1 - n, check, shutdown.clone())
                            .await?
                            .is_none()
                        {
                            // Shutdown before the bundle was stored: block i does not count.
                            return self.finish(next, saved);
                        }
                    }
                }
                next = i + 1;
                self.metrics.height.set(next as i64);
                self.metrics
                    .lag
                    .set(self.metrics.ledger_height.get() - next as i64);
                if last_save.elapsed() >= self.config.state_interval {
                    self.save_state(next)?;
                    saved = Some(next);
                    last_save = Instant::now();
                }
                if *shutdown.borrow() {
                    break;
                }
            }
        }
        self.finish(next, saved)
    }

    fn finish(&self, next: u64, saved: Option<u64>) -> Result<u64, ArchiveError> {
        if saved != Some(next) {
            self.save_state(next)?;
        }
        info!(next_block = next, "ledger-distribution stopped");
        Ok(next)
    }
}
