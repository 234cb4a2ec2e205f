//! `mcnode bench load`: a running localnet under a steady stream of payments.
//!
//! Method. Before the clock starts: time `mcnode_transaction::validate` on a 1-input,
//! 2-output transaction (the median of `--validate-samples` runs) and derive the CPU bound
//! of the network, `cores / (nodes x validate cost)` transactions per second (every node
//! validates every transaction, and all nodes share this host's cores); sync a ledger copy
//! from node 0 (`DIR/bench-cache/ledger`); find the accounts' unspent outputs; when they
//! are fewer than the run needs, split some of them (1 input, 16 outputs to the same
//! account) through the network and wait for those splits to be committed; then build and
//! validate the whole pool of transactions, one per unspent output, each paying half of its
//! input (less the fee) to its own account and the rest to change (1 input, 2 outputs;
//! both new outputs stay spendable for the next run), tombstone half of
//! `MAX_TOMBSTONE_BLOCKS` ahead. Building is expensive (ring signature, range proof), so
//! none of it runs while the clock runs.
//!
//! The run. A scheduler sends the pool's transactions at `--tps` for `--duration` seconds
//! (tokio interval, missed ticks burst to keep the average), round-robin over the nodes;
//! per node `--clients-per-node` attested connections, each one submission at a time. The
//! time of a submission is when `ClientTxPropose` is sent; a poller reads new blocks from a
//! node every `--poll-ms` (`GetBlockData` from the last seen height) and matches their key
//! images to the submitted transactions: that time is the commit time. After the last
//! submission the bench waits up to `--grace` seconds for the rest.
//!
//! Reported (one JSON object): `submitted`, `committed`, `rejected` (per result code and
//! gRPC status), `dropped` (accepted or unanswered, yet not committed by the end of the
//! grace period), latency percentiles (submission to commit, over committed transactions),
//! `committed_tps` = committed / max(submitted / target rate (the duration, unless the pool
//! ran out), time from the start to the last commit),
//! and `cpu_bound_ratio` = `committed_tps` / (`cores` / (`nodes` x `validate_cost_s`)).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    num::NonZeroUsize,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use anyhow::Context;
use mcnode_crypto::KeyImage;
use mcnode_ledger::{Ledger, LmdbLedger};
use mcnode_transaction::{
    constants::{DEFAULT_MINIMUM_FEE, MAX_OUTPUTS, MAX_TOMBSTONE_BLOCKS},
    test_utils::{BenchCases, BENCH_BLOCK},
    validate, AccountKey, PublicAddress, Tx,
};
use mcnode_wallet::{
    load_account_key, localnet::Manifest, parse_measurement, result_code_name, ConnectOptions,
    LocalLedger, NodeClient, OwnedTxOut, Wallet, WalletError,
};
use rayon::prelude::*;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

/// The bench's ledger copy, inside the localnet directory.
const CACHE_LEDGER: &str = "bench-cache/ledger";
/// Most rounds of output splitting before the run.
const MAX_SPLIT_ROUNDS: usize = 3;
/// Longest wait for one round of splits to be committed.
const SPLIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts to submit one split when the node is busy or unreachable.
const SPLIT_ATTEMPTS: usize = 20;
/// Blocks asked for per `GetBlockData` call by the commit poller.
const POLL_BLOCKS: u32 = 100;
/// Longest node message kept per rejection kind in the report.
const MESSAGE_CHARS: usize = 200;

/// Arguments of `mcnode bench load`.
#[derive(Clone, Debug, clap::Args)]
pub struct LoadBenchArgs {
    /// A running localnet's directory (holding `localnet.json`, as `mcnode localnet` writes
    /// it).
    #[arg(long, env = "MC_LOCALNET_DIR")]
    dir: PathBuf,
    /// Seconds of submission at the target rate.
    #[arg(long, env = "MC_BENCH_DURATION")]
    duration: f64,
    /// Target submissions per second (default: half the CPU bound computed from the
    /// measured validation cost, `cores / (nodes x validate cost) / 2`).
    #[arg(long, env = "MC_BENCH_TPS")]
    tps: Option<f64>,
    /// Accounts whose outputs are spent: the first K key files of the manifest (default:
    /// all).
    #[arg(long, env = "MC_BENCH_ACCOUNTS")]
    accounts: Option<usize>,
    /// Seconds to wait after the last submission for the submitted transactions to be
    /// committed.
    #[arg(long, env = "MC_BENCH_GRACE", default_value_t = 10.0)]
    grace: f64,
    /// Attested client connections per node; each carries one submission at a time.
    #[arg(long, env = "MC_BENCH_CLIENTS_PER_NODE", default_value_t = 2)]
    clients_per_node: usize,
    /// Milliseconds between two looks at the ledger for new blocks.
    #[arg(long, env = "MC_BENCH_POLL_MS", default_value_t = 50)]
    poll_ms: u64,
    /// Timings of `validate` for the validation cost (the median is used).
    #[arg(long, default_value_t = 51)]
    validate_samples: usize,
    /// Never split outputs before the run: with too few unspent outputs the pool runs
    /// short (reported as `pool_exhausted`).
    #[arg(long)]
    no_split: bool,
    /// The enclave measurement the nodes must prove (64 hex digits; default: this
    /// build's).
    #[arg(long, env = "MC_ENCLAVE_MEASUREMENT")]
    measurement: Option<String>,
    /// Runs in a row against the same network; with more than one the report holds every
    /// run and the worst figures over the series.
    #[arg(long, env = "MC_BENCH_REPEAT", default_value_t = 1)]
    repeat: u32,
}

impl LoadBenchArgs {
    /// Checks the numbers before anything is read or measured.
    fn check(&self) -> anyhow::Result<()> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        anyhow::ensure!(
            positive(self.duration),
            "--duration must be a positive number of seconds, got {}",
            self.duration
        );
        if let Some(tps) = self.tps {
            anyhow::ensure!(positive(tps), "--tps must be a positive rate, got {tps}");
        }
        anyhow::ensure!(
            self.grace.is_finite() && self.grace >= 0.0,
            "--grace must be zero or more seconds, got {}",
            self.grace
        );
        anyhow::ensure!(self.accounts != Some(0), "--accounts must be at least 1");
        anyhow::ensure!(
            self.clients_per_node >= 1,
            "--clients-per-node must be at least 1"
        );
        anyhow::ensure!(self.poll_ms >= 1, "--poll-ms must be at least 1");
        anyhow::ensure!(self.repeat >= 1, "--repeat must be at least 1");
        anyhow::ensure!(
            self.validate_samples >= 1,
            "--validate-samples must be at least 1"
        );
        Ok(())
    }
}

/// The median time of `mcnode_transaction::validate` on the benchmark's 1-input, 2-output
/// transaction (a ring of [`RING_SIZE`] over a 1000-output tree), in seconds.
fn measure_validate_cost(samples: usize) -> f64 {
    mcnode_crypto::range_proof::warm_up();
    let cases = BenchCases::new(7);
    let once = || {
        let r = validate(
            &cases.tx_1in2out,
            BENCH_BLOCK,
            DEFAULT_MINIMUM_FEE,
            cases.ledger(),
        );
        assert!(r.is_ok(), "the benchmark transaction must validate: {r:?}");
    };
    for _ in 0..3 {
        once();
    }
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            once();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The nearest-rank `p` quantile (0 < p <= 1) of ascending `sorted`, `None` when empty.
fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `DeadlineExceeded` -> `deadline_exceeded`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The report key of a failed submission: `<code>_<name>` for a node's result code
/// (`200_node_over_capacity`), `grpc_<status>` for a gRPC status (`grpc_unavailable`),
/// else the kind of client failure.
fn refusal_key(e: &WalletError) -> String {
    match e {
        WalletError::Rejected { code, .. } => {
            format!("{code}_{}", result_code_name(*code).replace(' ', "_"))
        }
        WalletError::Rpc { code, .. } => format!("grpc_{}", snake_case(&format!("{code:?}"))),
        WalletError::Connect { .. } => "connect".into(),
        WalletError::Channel(_) => "attested_channel".into(),
        WalletError::BadResponse { .. } => "bad_response".into(),
        _ => "client_error".into(),
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// One output to spend, with the account that owns it.
#[derive(Clone, Debug)]
struct Spendable {
    account: usize,
    output: OwnedTxOut,
}

/// One transaction spending exactly `input`, validated against the local copy.
fn build_spend(
    ledger: &LmdbLedger,
    account: &AccountKey,
    input: &OwnedTxOut,
    outputs: &[(u64, PublicAddress)],
    fee: u64,
    tombstone: u64,
) -> anyhow::Result<Tx> {
    Ok(mcnode_wallet::build_spend(
        ledger,
        account,
        std::slice::from_ref(input),
        outputs,
        fee,
        tombstone,
        &mut rand::rngs::OsRng,
    )?)
}

/// The pool transaction of `s`: half its value less the fee to its own account, the rest
/// to change.
fn build_self_payment(
    ledger: &LmdbLedger,
    keys: &[AccountKey],
    s: &Spendable,
    fee: u64,
    tombstone: u64,
) -> anyhow::Result<Tx> {
    let key = &keys[s.account];
    let amount = (s.output.value() - fee) / 2;
    build_spend(
        ledger,
        key,
        &s.output,
        &[(amount, key.default_address())],
        fee,
        tombstone,
    )
}

/// A split of `s`: [`MAX_OUTPUTS`] - 1 equal outputs to its own account, the rest to
/// change ([`MAX_OUTPUTS`] outputs in all).
fn build_split(
    ledger: &LmdbLedger,
    keys: &[AccountKey],
    s: &Spendable,
    fee: u64,
    tombstone: u64,
) -> anyhow::Result<Tx> {
    let key = &keys[s.account];
    let each = (s.output.value() - fee) / MAX_OUTPUTS as u64;
    let to = key.default_address();
    let outputs = vec![(each, to); MAX_OUTPUTS - 1];
    build_spend(ledger, key, &s.output, &outputs, fee, tombstone)
}

/// Builds one transaction per item on all cores (rayon), off the async workers' backs.
fn build_all(
    items: &[Spendable],
    build: impl Fn(&Spendable) -> anyhow::Result<Tx> + Sync + Send,
) -> anyhow::Result<Vec<Tx>> {
    tokio::task::block_in_place(|| items.par_iter().map(build).collect())
}

/// Outputs of `wallets` worth spending (at least `fee + 2`, so that both new outputs of a
/// self-payment are non-zero), unspent in the local copy and not in `excluded`; largest
/// first within an account, accounts interleaved.
fn spendable(
    wallets: &mut [Wallet],
    fee: u64,
    excluded: &HashSet<KeyImage>,
) -> anyhow::Result<Vec<Spendable>> {
    let mut per_account = Vec::with_capacity(wallets.len());
    for (account, w) in wallets.iter_mut().enumerate() {
        let mut outs: Vec<OwnedTxOut> = w
            .owned_outputs()?
            .into_iter()
            .filter(|o| {
                !o.is_spent()
                    && o.value() >= fee.saturating_add(2)
                    && !excluded.contains(&o.key_image)
            })
            .collect();
        outs.sort_by(|a, b| b.value().cmp(&a.value()).then(a.index.cmp(&b.index)));
        per_account.push(
            outs.into_iter()
                .map(move |output| Spendable { account, output }),
        );
    }
    let mut out = Vec::new();
    loop {
        let before = out.len();
        for it in &mut per_account {
            out.extend(it.next());
        }
        if out.len() == before {
            return Ok(out);
        }
    }
}

/// Syncs the ledger copy from the first node that answers; returns its height.
async fn sync(ledger: &LocalLedger, readers: &[NodeClient]) -> anyhow::Result<u64> {
    let mut last = None;
    for node in readers {
        match ledger.sync_from_node(node).await {
            Ok(r) => return Ok(r.to),
            Err(e) if e.is_transient() => last = Some(e),
            Err(e) => return Err(e).context("syncing the bench's ledger copy"),
        }
    }
    match last {
        Some(e) => Err(e).context("no node answered while syncing the bench's ledger copy"),
        None => anyhow::bail!("no nodes"),
    }
}

/// Opens the bench's ledger copy in the localnet directory and syncs it; a copy of another
/// network (an earlier localnet in the same directory) is deleted and rebuilt.
async fn open_ledger(dir: &Path, readers: &[NodeClient]) -> anyhow::Result<LocalLedger> {
    let path = dir.join(CACHE_LEDGER);
    std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let ledger = LocalLedger::open_or_create(&path)?;
    match sync(&ledger, readers).await {
        Ok(_) => Ok(ledger),
        Err(e)
            if e.downcast_ref::<WalletError>()
                .is_some_and(|w| matches!(w, WalletError::OriginMismatch { .. })) =>
        {
            eprintln!(
                "note: {} holds another network's ledger; starting it over",
                path.display()
            );
            drop(ledger);
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let ledger = LocalLedger::open_or_create(&path)?;
            sync(&ledger, readers).await?;
            Ok(ledger)
        }
        Err(e) => Err(e),
    }
}

/// What the split rounds did.
#[derive(Debug, Default)]
struct SplitReport {
    rounds: usize,
    txs: usize,
    committed: usize,
    refused: BTreeMap<String, u64>,
    seconds: f64,
}

/// Everything needed to submit before the clock starts.
struct Net {
    readers: Vec<NodeClient>,
    /// Per node, its submitting clients.
    clients: Vec<Vec<NodeClient>>,
    ledger: LocalLedger,
    wallets: Vec<Wallet>,
    keys: Vec<AccountKey>,
    fee: u64,
}

impl Net {
    fn tombstone(&self) -> anyhow::Result<u64> {
        Ok(self.ledger.height()? + MAX_TOMBSTONE_BLOCKS / 2)
    }

    fn refresh(&mut self) -> anyhow::Result<()> {
        for w in &mut self.wallets {
            w.refresh()?;
        }
        Ok(())
    }

    /// Splits outputs until `need` are spendable (or [`MAX_SPLIT_ROUNDS`] rounds), each
    /// round submitted through the nodes in turn and waited for. The inputs of splits that
    /// were accepted but not seen committed are added to `excluded`.
    async fn split_until(
        &mut self,
        need: usize,
        excluded: &mut HashSet<KeyImage>,
    ) -> anyhow::Result<SplitReport> {
        let started = Instant::now();
        let mut report = SplitReport::default();
        while report.rounds < MAX_SPLIT_ROUNDS {
            let have = spendable(&mut self.wallets, self.fee, excluded)?;
            if have.len() >= need || have.is_empty() {
                break;
            }
            // Each split turns one output into MAX_OUTPUTS.
            let count = (need - have.len())
                .div_ceil(MAX_OUTPUTS - 1)
                .min(have.len());
            eprintln!(
                "bench load: {} spendable outputs, {need} needed: splitting {count} of them \
                 (round {})",
                have.len(),
                report.rounds + 1
            );
            let (fee, tombstone) = (self.fee, self.tombstone()?);
            let txs = {
                let (ledger, keys) = (self.ledger.ledger(), &self.keys);
                build_all(&have[..count], |s| {
                    build_split(ledger, keys, s, fee, tombstone)
                })?
            };
            report.rounds += 1;
            report.txs += txs.len();
            let mut waiting: Vec<KeyImage> = Vec::new();
            for (i, tx) in txs.iter().enumerate() {
                let node = i % self.clients.len();
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match self.clients[node][0].propose_tx(tx).await {
                        Ok(_) => {
                            waiting.extend(tx.key_images());
                            break;
                        }
                        Err(e) if e.is_transient() && attempt < SPLIT_ATTEMPTS => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        Err(e) => {
                            *report.refused.entry(refusal_key(&e)).or_default() += 1;
                            eprintln!("bench load: a split was refused: {e}");
                            break;
                        }
                    }
                }
            }
            let deadline = Instant::now() + SPLIT_TIMEOUT;
            loop {
                sync(&self.ledger, &self.readers).await?;
                let l = self.ledger.ledger();
                let mut left = Vec::new();
                for ki in waiting {
                    if l.key_image_block(&ki)?.is_some() {
                        report.committed += 1;
                    } else {
                        left.push(ki);
                    }
                }
                waiting = left;
                if waiting.is_empty() || Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !waiting.is_empty() {
                eprintln!(
                    "warning: {} splits not committed within {SPLIT_TIMEOUT:?}; their inputs \
                     are left out of the pool",
                    waiting.len()
                );
                excluded.extend(waiting);
            }
            self.refresh()?;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}

/// What happened to one pool transaction.
#[derive(Debug, Default)]
struct Record {
    submitted: Option<Instant>,
    /// `Err((report key, message))` when the submission failed.
    answered: Option<Result<(), (String, String)>>,
    committed: Option<(Instant, u64)>,
}

/// The pool's records, and which record each key image belongs to.
#[derive(Debug, Default)]
struct Tracker {
    records: Vec<Record>,
    by_key_image: HashMap<KeyImage, usize>,
    /// Blocks seen by the poller: when, and the number of pool transactions each held.
    blocks: Vec<(Instant, usize)>,
}

impl Tracker {
    fn new(pool: &[Tx]) -> Self {
        let mut t = Self::default();
        for (i, tx) in pool.iter().enumerate() {
            t.records.push(Record::default());
            for ki in tx.key_images() {
                t.by_key_image.insert(ki, i);
            }
        }
        t
    }

    /// Every submitted transaction is committed or refused.
    fn settled(&self) -> bool {
        self.records.iter().all(|r| {
            r.submitted.is_none() || r.committed.is_some() || matches!(r.answered, Some(Err(_)))
        })
    }
}

fn lock(t: &Mutex<Tracker>) -> MutexGuard<'_, Tracker> {
    // Every update is a single assignment: a panic elsewhere leaves no half-written record.
    t.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads new blocks from the nodes (the first that answers, in turn) every `interval`
/// until `stop`, and marks the pool transactions whose key images they hold as committed.
/// Returns the number of failed reads.
async fn poll_commits(
    readers: Vec<NodeClient>,
    mut next: u64,
    tracker: Arc<Mutex<Tracker>>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> u64 {
    let mut node = 0;
    let mut errors = 0;
    loop {
        let mut full = false;
        match readers[node].block_data(next, POLL_BLOCKS).await {
            Ok(blocks) => {
                let now = Instant::now();
                full = blocks.len() == POLL_BLOCKS as usize;
                let mut t = lock(&tracker);
                for b in blocks {
                    let mut ours = 0;
                    for ki in &b.contents.key_images {
                        let Some(&i) = t.by_key_image.get(ki) else {
                            continue;
                        };
                        let r = &mut t.records[i];
                        if r.committed.is_none() {
                            r.committed = Some((now, b.block.index));
                            ours += 1;
                        }
                    }
                    t.blocks.push((now, ours));
                    next = b.block.index + 1;
                }
            }
            Err(_) => {
                errors += 1;
                node = (node + 1) % readers.len();
            }
        }
        if *stop.borrow() {
            return errors;
        }
        if !full {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// A pool transaction handed to a submitting client.
struct Job {
    id: usize,
    tx: Tx,
}

/// Takes jobs for one node from the queue it shares with that node's other clients and
/// submits each, recording the submission time and the answer.
async fn submit_worker(
    mut client: NodeClient,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    tracker: Arc<Mutex<Tracker>>,
) {
    loop {
        let job = queue.lock().await.recv().await;
        let Some(job) = job else { return };
        lock(&tracker).records[job.id].submitted = Some(Instant::now());
        let answer = client.propose_tx(&job.tx).await.map(|_| ()).map_err(|e| {
            let mut message = e.to_string();
            if let Some((cut, _)) = message.char_indices().nth(MESSAGE_CHARS) {
                message.truncate(cut);
            }
            (refusal_key(&e), message)
        });
        lock(&tracker).records[job.id].answered = Some(answer);
    }
}

/// The run's inputs, fixed before the clock starts.
struct Plan {
    target_tps: f64,
    tps_source: &'static str,
    duration: f64,
    grace: Duration,
    poll: Duration,
    clients_per_node: usize,
    cores: usize,
    validate_cost_s: f64,
    cpu_bound_tps: f64,
    split: bool,
}

impl Plan {
    /// Transactions the run submits at the target rate.
    fn planned(&self) -> usize {
        ((self.target_tps * self.duration).round() as usize).max(1)
    }
}

/// Runs the benchmark.
pub fn run(args: LoadBenchArgs) -> anyhow::Result<Value> {
    args.check()?;
    if args.repeat == 1 {
        return run_once(args);
    }
    let mut runs = Vec::new();
    for i in 0..args.repeat {
        let report = run_once(args.clone())?;
        eprintln!(
            "run {}/{}: p50 {} s, p99 {} s, max block gap {} s, committed {}, dropped {}",
            i + 1,
            args.repeat,
            report["latency_p50_s"],
            report["latency_p99_s"],
            report["max_block_gap_s"],
            report["committed"],
            report["dropped"]
        );
        runs.push(report);
    }
    Ok(series(runs))
}

/// The worst of each figure over `runs` (highest latency, gap and drop count, lowest rate).
fn series(runs: Vec<Value>) -> Value {
    let figures = |key: &str| -> Vec<f64> { runs.iter().filter_map(|r| r[key].as_f64()).collect() };
    let max = |key: &str| figures(key).into_iter().reduce(f64::max);
    let min = |key: &str| figures(key).into_iter().reduce(f64::min);
    let sum = |key: &str| runs.iter().filter_map(|r| r[key].as_u64()).sum::<u64>();
    json!({
        "bench": "load",
        "repeat": runs.len(),
        "worst": {
            "latency_p50_s": max("latency_p50_s"),
            "latency_p99_s": max("latency_p99_s"),
            "latency_max_s": max("latency_max_s"),
            "max_block_gap_s": max("max_block_gap_s"),
            "committed_tps": min("committed_tps"),
            "cpu_bound_ratio": min("cpu_bound_ratio"),
            "dropped": sum("dropped"),
            "poll_errors": sum("poll_errors"),
        },
        "runs": runs,
    })
}

fn run_once(args: LoadBenchArgs) -> anyhow::Result<Value> {
    let manifest = Manifest::load(&args.dir).with_context(|| {
        format!(
            "is {} a localnet directory made by `mcnode localnet`?",
            args.dir.display()
        )
    })?;
    anyhow::ensure!(
        !manifest.nodes.is_empty(),
        "{} lists no nodes",
        Manifest::path(&args.dir).display()
    );
    let available = manifest.wallets.len();
    let accounts = args.accounts.unwrap_or(available);
    anyhow::ensure!(
        (1..=available).contains(&accounts),
        "--accounts {accounts}: the localnet has {available} wallet key files"
    );
    let keys = (0..accounts)
        .map(|i| Ok(load_account_key(manifest.wallet_path(&args.dir, i)?)?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut options = ConnectOptions::default();
    if let Some(m) = &args.measurement {
        options.measurement = parse_measurement(m)?;
    }

    let validate_cost_s = measure_validate_cost(args.validate_samples);
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let nodes = manifest.nodes.len();
    let cpu_bound_tps = cores as f64 / (nodes as f64 * validate_cost_s);
    let (target_tps, tps_source) = match args.tps {
        Some(t) => (t, "--tps"),
        None => {
            let t = cpu_bound_tps / 2.0;
            eprintln!(
                "bench load: validate costs {ms:.3} ms; CPU bound {cores} cores / ({nodes} \
                 nodes x {ms:.3} ms) = {cpu_bound_tps:.1} tx/s; target: half of it, {t:.1} tx/s",
                ms = validate_cost_s * 1e3,
            );
            (t, "half the CPU bound")
        }
    };
    let plan = Plan {
        target_tps,
        tps_source,
        duration: args.duration,
        grace: Duration::from_secs_f64(args.grace),
        poll: Duration::from_millis(args.poll_ms),
        clients_per_node: args.clients_per_node,
        cores,
        validate_cost_s,
        cpu_bound_tps,
        split: !args.no_split,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.clamp(2, 4))
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(drive(&args.dir, &manifest, keys, options, plan))
}

async fn connect(uri: &str, options: &ConnectOptions) -> anyhow::Result<NodeClient> {
    NodeClient::connect_with(uri, options.clone())
        .await
        .with_context(|| format!("node {uri}: is the localnet running?"))
}

async fn drive(
    dir: &Path,
    manifest: &Manifest,
    keys: Vec<AccountKey>,
    options: ConnectOptions,
    plan: Plan,
) -> anyhow::Result<Value> {
    let nodes = manifest.nodes.len();
    let mut readers = Vec::with_capacity(nodes);
    let mut clients = Vec::with_capacity(nodes);
    for node in &manifest.nodes {
        readers.push(connect(&node.client_uri, &options).await?);
        let mut mine = Vec::with_capacity(plan.clients_per_node);
        for _ in 0..plan.clients_per_node {
            let mut c = connect(&node.client_uri, &options).await?;
            c.handshake()
                .await
                .with_context(|| format!("attested handshake with {}", node.name))?;
            mine.push(c);
        }
        clients.push(mine);
    }
    let fee = readers[0]
        .last_block_info()
        .await
        .context("GetLastBlockInfo from node 0")?
        .minimum_fee;
    let ledger = open_ledger(dir, &readers).await?;
    let wallets = keys
        .iter()
        .map(|k| Wallet::new(k.clone(), ledger.clone()))
        .collect();
    let mut net = Net {
        readers,
        clients,
        ledger,
        wallets,
        keys,
        fee,
    };
    net.refresh()?;

    // The pool: one transaction per spendable output, splitting outputs first if short.
    let planned = plan.planned();
    let mut excluded = HashSet::new();
    let before = spendable(&mut net.wallets, fee, &excluded)?.len();
    let split = if plan.split && before < planned {
        net.split_until(planned, &mut excluded).await?
    } else {
        SplitReport::default()
    };
    let mut chosen = spendable(&mut net.wallets, fee, &excluded)?;
    let pool_exhausted = chosen.len() < planned;
    if pool_exhausted {
        eprintln!(
            "warning: {} spendable outputs for {planned} transactions ({:.1} tx/s x {} s): \
             the pool runs out after {:.1} s and submission stops there (pool_exhausted)",
            chosen.len(),
            plan.target_tps,
            plan.duration,
            chosen.len() as f64 / plan.target_tps
        );
    }
    chosen.truncate(planned);
    let build_started = Instant::now();
    let tombstone = net.tombstone()?;
    let pool = {
        let (ledger, keys) = (net.ledger.ledger(), &net.keys);
        build_all(&chosen, |s| {
            build_self_payment(ledger, keys, s, fee, tombstone)
        })?
    };
    let build_s = build_started.elapsed().as_secs_f64();
    eprintln!(
        "bench load: built {} transactions in {build_s:.1} s; submitting at {:.1} tx/s for {} \
         s to {nodes} nodes",
        pool.len(),
        plan.target_tps,
        plan.duration
    );

    // The run.
    let tracker = Arc::new(Mutex::new(Tracker::new(&pool)));
    let start_height = sync(&net.ledger, &net.readers).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let poller = tokio::spawn(poll_commits(
        std::mem::take(&mut net.readers),
        start_height,
        tracker.clone(),
        plan.poll,
        stop_rx,
    ));
    let mut queues = Vec::with_capacity(nodes);
    let mut workers = Vec::new();
    for node_clients in std::mem::take(&mut net.clients) {
        let (tx, rx) = mpsc::channel::<Job>(plan.clients_per_node);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for client in node_clients {
            workers.push(tokio::spawn(submit_worker(
                client,
                rx.clone(),
                tracker.clone(),
            )));
        }
        queues.push(tx);
    }
    let period = Duration::from_secs_f64(1.0 / plan.target_tps);
    let started = Instant::now();
    let mut interval = tokio::time::interval_at(tokio::time::Instant::from_std(started), period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut max_lag = Duration::ZERO;
    for (i, tx) in pool.into_iter().enumerate() {
        let due = interval.tick().await;
        max_lag = max_lag.max(due.elapsed());
        if queues[i % nodes].send(Job { id: i, tx }).await.is_err() {
            break;
        }
    }
    drop(queues);
    for w in workers {
        w.await.context("a submitting task failed")?;
    }
    let submit_window = started.elapsed();
    let deadline = Instant::now() + plan.grace;
    while !lock(&tracker).settled() && Instant::now() < deadline {
        tokio::time::sleep(plan.poll).await;
    }
    let _ = stop_tx.send(true);
    let poll_errors = poller.await.context("the commit poller failed")?;
    let ended = Instant::now();

    // The tally.
    let t = lock(&tracker);
    let (mut submitted, mut committed, mut accepted, mut dropped) =
        (0usize, 0usize, 0usize, 0usize);
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    let mut messages: BTreeMap<String, String> = BTreeMap::new();
    let mut latencies = Vec::new();
    let mut last_commit = Duration::ZERO;
    for r in &t.records {
        let Some(sent) = r.submitted else { continue };
        submitted += 1;
        if matches!(r.answered, Some(Ok(()))) {
            accepted += 1;
        }
        match (&r.committed, &r.answered) {
            (Some((at, _)), _) => {
                committed += 1;
                latencies.push(at.saturating_duration_since(sent).as_secs_f64());
                last_commit = last_commit.max(at.saturating_duration_since(started));
            }
            (None, Some(Err((key, message)))) => {
                *rejected.entry(key.clone()).or_default() += 1;
                messages
                    .entry(key.clone())
                    .or_insert_with(|| message.clone());
            }
            (None, _) => dropped += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    // The span the submissions were scheduled over: the duration, unless the pool ran out.
    let scheduled = submitted as f64 / plan.target_tps;
    let elapsed = last_commit.as_secs_f64().max(scheduled);
    let committed_tps = committed as f64 / elapsed;
    let blocks_with_ours = t.blocks.iter().filter(|(_, n)| *n > 0).count();
    let max_block = t.blocks.iter().map(|(_, n)| *n).max().unwrap_or(0);
    // The longest time without a new block, from the start to the end of the grace period
    // (to the poll interval): a stalled network shows here.
    let mut seen: Vec<Instant> = vec![started];
    seen.extend(t.blocks.iter().map(|(at, _)| *at));
    seen.push(ended);
    let max_block_gap = seen
        .windows(2)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .max()
        .unwrap_or_default();
    let lat = |p| quantile(&latencies, p).map(|x| round(x, 4));
    Ok(json!({
        "bench": "load",
        "dir": dir,
        "nodes": nodes,
        "accounts": net.keys.len(),
        "cores": plan.cores,
        "validate_cost_s": round(plan.validate_cost_s, 6),
        "cpu_bound_tps": round(plan.cpu_bound_tps, 2),
        "target_tps": round(plan.target_tps, 3),
        "tps_source": plan.tps_source,
        "duration_s": plan.duration,
        "grace_s": plan.grace.as_secs_f64(),
        "clients_per_node": plan.clients_per_node,
        "spendable_outputs_before": before,
        "split": {
            "rounds": split.rounds,
            "txs": split.txs,
            "committed": split.committed,
            "refused": split.refused,
            "seconds": round(split.seconds, 2),
        },
        "pool_size": t.records.len(),
        "pool_exhausted": pool_exhausted,
        "pool_build_s": round(build_s, 2),
        "submitted": submitted,
        "submit_window_s": round(submit_window.as_secs_f64(), 3),
        "max_schedule_lag_s": round(max_lag.as_secs_f64(), 3),
        "accepted": accepted,
        "committed": committed,
        "rejected": rejected,
        "rejected_messages": messages,
        "dropped": dropped,
        "elapsed_s": round(elapsed, 3),
        "committed_tps": round(committed_tps, 3),
        "latency_p50_s": lat(0.5),
        "latency_p90_s": lat(0.9),
        "latency_p99_s": lat(0.99),
        "latency_max_s": latencies.last().map(|x| round(*x, 4)),
        "blocks": t.blocks.len(),
        "blocks_with_pool_txs": blocks_with_ours,
        "max_pool_txs_per_block": max_block,
        "max_block_gap_s": round(max_block_gap.as_secs_f64(), 3),
        "poll_errors": poll_errors,
        "cpu_bound_ratio": round(committed_tps / plan.cpu_bound_tps, 4),
    }))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: LoadBenchArgs,
    }

    fn parse(argv: &[&str]) -> Result<LoadBenchArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("load").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn duration_and_dir_are_required() {
        assert!(parse(&["--dir", "/x"]).is_err());
        assert!(parse(&["--duration", "5"]).is_err());
        let a = parse(&["--dir", "/x", "--duration", "5"]).expect("parses");
        assert_eq!(a.tps, None);
        assert_eq!(a.accounts, None);
    }

    #[test]
    fn bad_numbers_are_refused_before_anything_runs() {
        for argv in [
            &["--dir", "/x", "--duration", "0"][..],
            &["--dir", "/x", "--duration", "5", "--tps=-1"],
            &["--dir", "/x", "--duration", "5", "--accounts", "0"],
            &["--dir", "/x", "--duration", "5", "--clients-per-node", "0"],
            &["--dir", "/x", "--duration", "5", "--repeat", "0"],
        ] {
            let args = parse(argv).expect("parses");
            let e = format!("{:#}", run(args).expect_err("refused"));
            assert!(e.contains("must be"), "{argv:?}: {e}");
        }
    }

    #[test]
    fn missing_localnet_names_the_manifest() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("nowhere");
        let args =
            parse(&["--dir", missing.to_str().expect("utf-8"), "--duration", "1"]).expect("parses");
        let e = format!("{:#}", run(args).expect_err("no manifest"));
        assert!(e.contains("localnet.json"), "{e}");
        assert!(e.contains("mcnode localnet"), "{e}");
    }

    #[test]
    fn a_series_reports_the_worst_of_every_run() {
        let runs = vec![
            json!({"latency_p50_s": 0.3, "latency_p99_s": 1.0, "latency_max_s": 1.5,
                   "max_block_gap_s": 0.9, "committed_tps": 60.0, "cpu_bound_ratio": 0.5,
                   "dropped": 0, "poll_errors": 1}),
            json!({"latency_p50_s": 0.2, "latency_p99_s": 2.5, "latency_max_s": 3.0,
                   "max_block_gap_s": 1.7, "committed_tps": 55.0, "cpu_bound_ratio": 0.45,
                   "dropped": 2, "poll_errors": 0}),
        ];
        let s = series(runs);
        assert_eq!(s["repeat"], 2);
        let w = &s["worst"];
        assert_eq!(w["latency_p50_s"], 0.3);
        assert_eq!(w["latency_p99_s"], 2.5);
        assert_eq!(w["max_block_gap_s"], 1.7);
        assert_eq!(w["committed_tps"], 55.0);
        assert_eq!(w["dropped"], 2);
        assert_eq!(w["poll_errors"], 1);
        assert_eq!(s["runs"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&xs, 0.5), Some(50.0));
        assert_eq!(quantile(&xs, 0.9), Some(90.0));
        assert_eq!(quantile(&xs, 0.99), Some(99.0));
        assert_eq!(quantile(&[3.0], 0.99), Some(3.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn refusals_have_stable_keys() {
        let rejected = WalletError::Rejected {
            code: mcnode_api::result_code::OVER_CAPACITY,
            message: String::new(),
        };
        assert_eq!(refusal_key(&rejected), "200_node_over_capacity");
        let rpc = WalletError::Rpc {
            method: "ClientTxPropose",
            code: tonic::Code::DeadlineExceeded,
            message: String::new(),
        };
        assert_eq!(refusal_key(&rpc), "grpc_deadline_exceeded");
    }
}
