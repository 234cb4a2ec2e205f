//! `mcnode wallet ...`: balance, send, and the self- and cross-payment tests, over
//! `mcnode-wallet`. Every command prints one JSON object on stdout.
//!
//! Which node and which account: either `--dir DIR` (a localnet directory: node
//! `--node I`'s client URI and wallet key file `--account I` from `DIR/localnet.json`;
//! the local ledger copy cached in `DIR/wallet-cache/<account>/`), or `--node-uri URI
//! --key-file PATH [--cache-dir PATH]` (default cache:
//! `$XDG_CACHE_HOME/mcnode/wallet/<address hash>/`, else under `~/.cache`).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use mcnode_transaction::{AccountKey, PublicAddress};
use mcnode_wallet::{
    load_account_key, localnet::Manifest, parse_measurement, ConnectOptions, NodeClient,
    SendOptions, SendReceipt, Wallet, WalletError,
};
use serde_json::{json, Value};

/// Default amount of the payment tests, in the smallest unit.
const TEST_AMOUNT: u64 = 1_000_000;

/// `mcnode wallet` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum WalletCommand {
    /// The account's default address.
    Address(AddressArgs),
    /// Sync the local ledger copy from the node and print the account's balance.
    Balance(BalanceArgs),
    /// Pay an address and wait until the payment is in a block.
    Send(SendArgs),
    /// The account pays itself a small amount; checks its balance drops by exactly the fee.
    SelfPaymentTest(SelfPaymentArgs),
    /// Account A pays account B; checks A loses exactly amount + fee and B gains exactly
    /// the amount (B's balance optionally read through another node).
    CrossPaymentTest(CrossPaymentArgs),
}

/// Which node, which account, where the cache lives.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// A localnet directory (holding `localnet.json`): its node `--node` and its account
    /// `--account`.
    #[arg(long, env = "MC_LOCALNET_DIR", conflicts_with_all = ["node_uri", "key_file"])]
    dir: Option<PathBuf>,
    /// With --dir: the node to talk to (index in `localnet.json`).
    #[arg(long, default_value_t = 0)]
    node: usize,
    /// With --dir: the account (index of its key file in `localnet.json`).
    #[arg(long, default_value_t = 0)]
    account: usize,
    /// Without --dir: the node's client URI (`mc://host:port/?ca-bundle=PEM&tls-hostname=NAME`
    /// or `insecure-mc://host:port/`).
    #[arg(long, env = "MC_NODE_URI", requires = "key_file")]
    node_uri: Option<String>,
    /// Without --dir: the account key file (JSON, as `mcnode keygen account` writes).
    #[arg(long, env = "MC_WALLET_KEY_FILE", requires = "node_uri")]
    key_file: Option<PathBuf>,
    /// Where the account's local ledger copy and scan cursor live.
    #[arg(long, env = "MC_WALLET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The enclave measurement the node must prove (64 hex digits; default: this build's).
    #[arg(long, env = "MC_ENCLAVE_MEASUREMENT")]
    measurement: Option<String>,
}

/// Arguments of `mcnode wallet address`.
#[derive(Debug, clap::Args)]
pub struct AddressArgs {
    /// A localnet directory: the account is `--account`'s key file.
    #[arg(long, env = "MC_LOCALNET_DIR", conflicts_with = "key_file")]
    dir: Option<PathBuf>,
    /// With --dir: the account.
    #[arg(long, default_value_t = 0)]
    account: usize,
    /// The account key file.
    #[arg(long, env = "MC_WALLET_KEY_FILE")]
    key_file: Option<PathBuf>,
}

/// Arguments of `mcnode wallet balance`.
#[derive(Debug, clap::Args)]
pub struct BalanceArgs {
    #[command(flatten)]
    target: Target,
    /// Also list the account's outputs.
    #[arg(long)]
    outputs: bool,
}

/// How long to wait, and the fee.
#[derive(Debug, clap::Args)]
pub struct PayArgs {
    /// The fee (default: the node's minimum fee).
    #[arg(long, env = "MC_WALLET_FEE")]
    fee: Option<u64>,
    /// Seconds to wait for the payment to be in a block.
    #[arg(long, env = "MC_WALLET_TIMEOUT", default_value_t = 120)]
    timeout: u64,
}

impl PayArgs {
    fn options(&self) -> SendOptions {
        SendOptions {
            fee: self.fee,
            timeout: Duration::from_secs(self.timeout),
            ..SendOptions::default()
        }
    }
}

/// Arguments of `mcnode wallet send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    target: Target,
    /// The recipient's address (base58).
    #[arg(
        long,
        required_unless_present = "to_account",
        conflicts_with = "to_account"
    )]
    to: Option<String>,
    /// With --dir: pay this localnet account's default address instead.
    #[arg(long, requires = "dir")]
    to_account: Option<usize>,
    /// The amount, in the smallest unit.
    #[arg(long)]
    amount: u64,
    #[command(flatten)]
    pay: PayArgs,
}

/// Arguments of `mcnode wallet self-payment-test`.
#[derive(Debug, clap::Args)]
pub struct SelfPaymentArgs {
    #[command(flatten)]
    target: Target,
    /// The amount paid to oneself.
    #[arg(long, default_value_t = TEST_AMOUNT)]
    amount: u64,
    #[command(flatten)]
    pay: PayArgs,
}

/// Arguments of `mcnode wallet cross-payment-test`.
#[derive(Debug, clap::Args)]
pub struct CrossPaymentArgs {
    #[command(flatten)]
    target: Target,
    /// With --dir: the recipient account B (the payer A is --account).
    #[arg(long, default_value_t = 1)]
    to_account: usize,
    /// Without --dir: B's key file.
    #[arg(long, env = "MC_WALLET_TO_KEY_FILE")]
    to_key_file: Option<PathBuf>,
    /// Without --dir: B's cache directory.
    #[arg(long, env = "MC_WALLET_TO_CACHE_DIR")]
    to_cache_dir: Option<PathBuf>,
    /// With --dir: read B's balance through this node instead of --node.
    #[arg(long, requires = "dir")]
    via_node: Option<usize>,
    /// Without --dir: read B's balance through this node's client URI.
    #[arg(long, conflicts_with = "via_node")]
    via_node_uri: Option<String>,
    /// The amount A pays B.
    #[arg(long, default_value_t = TEST_AMOUNT)]
    amount: u64,
    #[command(flatten)]
    pay: PayArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs `mcnode wallet ...`.
pub fn run(cmd: WalletCommand) -> anyhow::Result<()> {
    let out = match cmd {
        WalletCommand::Address(args) => address(&args)?,
        cmd => runtime()?.block_on(async move {
            match cmd {
                WalletCommand::Address(_) => unreachable!("handled above"),
                WalletCommand::Balance(args) => balance(args).await,
                WalletCommand::Send(args) => send(args).await,
                WalletCommand::SelfPaymentTest(args) => self_payment_test(args).await,
                WalletCommand::CrossPaymentTest(args) => cross_payment_test(args).await,
            }
        })?,
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// A localnet directory and its manifest.
struct Localnet {
    dir: PathBuf,
    manifest: Manifest,
}

impl Localnet {
    fn load(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            manifest: Manifest::load(dir).with_context(|| {
                format!(
                    "is {} a localnet directory made by `mcnode localnet`?",
                    dir.display()
                )
            })?,
            dir: dir.to_path_buf(),
        })
    }

    fn node_uri(&self, index: usize) -> anyhow::Result<String> {
        Ok(self.manifest.node(index)?.client_uri.clone())
    }

    fn account(&self, index: usize) -> anyhow::Result<AccountKey> {
        Ok(load_account_key(
            self.manifest.wallet_path(&self.dir, index)?,
        )?)
    }

    fn cache_dir(&self, account: usize) -> PathBuf {
        self.dir.join("wallet-cache").join(account.to_string())
    }
}

/// A wallet with its node, ready to use.
struct Opened {
    wallet: Wallet,
    node: NodeClient,
    uri: String,
}

/// The default cache directory of an account outside a localnet.
fn default_cache_dir(account: &AccountKey) -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(
            std::env::var_os("HOME")
                .context("no HOME to put the wallet cache in: give --cache-dir")?,
        )
        .join(".cache"),
    };
    let mut h = mcnode_crypto::hash::DomainHasher::new("mcnode.wallet.cache-dir.v1");
    h.update(account.default_address().to_string().as_bytes());
    Ok(base
        .join("mcnode")
        .join("wallet")
        .join(hex::encode(&h.finish()[..8])))
}

impl Target {
    fn localnet(&self) -> anyhow::Result<Option<Localnet>> {
        self.dir.as_deref().map(Localnet::load).transpose()
    }

    fn options(&self) -> anyhow::Result<ConnectOptions> {
        let mut o = ConnectOptions::default();
        if let Some(m) = &self.measurement {
            o.measurement = parse_measurement(m)?;
        }
        Ok(o)
    }

    /// The node's client URI: node `index` of the localnet, else `--node-uri`.
    fn node_uri(&self, net: Option<&Localnet>, index: usize) -> anyhow::Result<String> {
        match (net, &self.node_uri) {
            (Some(net), _) => net.node_uri(index),
            (None, Some(uri)) => Ok(uri.clone()),
            (None, None) => anyhow::bail!("give --dir (a localnet) or --node-uri and --key-file"),
        }
    }

    async fn connect(&self, uri: &str) -> anyhow::Result<NodeClient> {
        NodeClient::connect_with(uri, self.options()?)
            .await
            .with_context(|| format!("node {uri}"))
    }

    /// The payer: `--account` of the localnet, else `--key-file`, with its cache directory.
    fn payer(&self, net: Option<&Localnet>) -> anyhow::Result<(AccountKey, PathBuf)> {
        match net {
            Some(net) => Ok((
                net.account(self.account)?,
                self.cache_dir
                    .clone()
                    .unwrap_or_else(|| net.cache_dir(self.account)),
            )),
            None => {
                let path = self
                    .key_file
                    .as_ref()
                    .context("give --dir (a localnet) or --node-uri and --key-file")?;
                let key = load_account_key(path)?;
                let cache = match &self.cache_dir {
                    Some(d) => d.clone(),
                    None => default_cache_dir(&key)?,
                };
                Ok((key, cache))
            }
        }
    }
}

/// Opens the wallet of `account` cached in `cache`, connects to `uri` and syncs. In a
/// localnet (`reset_on_new_network`), a cache left by an earlier network in the same
/// directory is deleted and rebuilt.
async fn open(
    target: &Target,
    account: AccountKey,
    cache: &Path,
    uri: &str,
    reset_on_new_network: bool,
) -> anyhow::Result<Opened> {
    let node = target.connect(uri).await?;
    let mut wallet = Wallet::open(account.clone(), cache)?;
    know_localnet_nodes(target, &mut wallet, uri)?;
    match wallet.sync(&node).await {
        Ok(_) => {}
        Err(WalletError::OriginMismatch { .. }) if reset_on_new_network => {
            eprintln!(
                "note: {} holds a copy of another network's ledger; starting it over",
                cache.display()
            );
            drop(wallet);
            std::fs::remove_dir_all(cache)
                .with_context(|| format!("cannot remove {}", cache.display()))?;
            wallet = Wallet::open(account, cache)?;
            know_localnet_nodes(target, &mut wallet, uri)?;
            wallet.sync(&node).await?;
        }
        Err(e) => return Err(e).with_context(|| format!("syncing from {uri}")),
    }
    Ok(Opened {
        wallet,
        node,
        uri: uri.to_string(),
    })
}

/// In a localnet, tells the wallet every other node (dialled lazily) and the quorum of
/// the localnet's quorum sets (`n - floor((n - 1) / 3)` of `n`), so a node that restarted
/// and is behind does not move the wallet's copy back.
fn know_localnet_nodes(target: &Target, wallet: &mut Wallet, uri: &str) -> anyhow::Result<()> {
    let Some(net) = target.localnet()? else {
        return Ok(());
    };
    let n = net.manifest.nodes.len();
    let mut others = Vec::new();
    for node in &net.manifest.nodes {
        if node.client_uri == uri {
            continue;
        }
        let parsed = mcnode_peers::NodeUri::parse(&node.client_uri, mcnode_peers::Service::Client)?;
        others.push(NodeClient::connect_lazy(parsed, target.options()?)?);
    }
    wallet.know_nodes(others, n - n.saturating_sub(1) / 3);
    Ok(())
}

async fn open_payer(target: &Target) -> anyhow::Result<(Option<Localnet>, Opened)> {
    let net = target.localnet()?;
    let (account, cache) = target.payer(net.as_ref())?;
    let uri = target.node_uri(net.as_ref(), target.node)?;
    let opened = open(target, account, &cache, &uri, net.is_some()).await?;
    Ok((net, opened))
}

/// A u128 amount as a JSON number when it fits in u64, else as a decimal string.
fn amount(v: u128) -> Value {
    u64::try_from(v).map_or_else(|_| Value::String(v.to_string()), Value::from)
}

fn address(args: &AddressArgs) -> anyhow::Result<Value> {
    let key = match (&args.dir, &args.key_file) {
        (Some(dir), _) => Localnet::load(dir)?.account(args.account)?,
        (None, Some(path)) => load_account_key(path)?,
        (None, None) => anyhow::bail!("give --dir (a localnet) or --key-file"),
    };
    Ok(json!({ "address": key.default_address().to_string() }))
}

async fn balance(args: BalanceArgs) -> anyhow::Result<Value> {
    let (_, mut o) = open_payer(&args.target).await?;
    let b = o.wallet.balance()?;
    let mut out = json!({
        "address": o.wallet.address().to_string(),
        "node": o.uri,
        "height": b.height,
        "balance": amount(b.unspent),
        "unspent_outputs": b.unspent_outputs,
        "spent_outputs": b.spent_outputs,
    });
    if args.outputs {
        out["outputs"] = o
            .wallet
            .owned_outputs()?
            .iter()
            .map(|x| {
                json!({
                    "index": x.index,
                    "block": x.block_index,
                    "value": x.value(),
                    "subaddress": x.subaddress(),
                    "spent_in": x.spent_in,
                })
            })
            .collect();
    }
    Ok(out)
}

fn receipt_json(r: &SendReceipt) -> Value {
    json!({
        "ok": true,
        "tx_hash": hex::encode(r.tx_hash),
        "block_index": r.block_index,
        "latency_s": r.latency.as_secs_f64(),
        "amount": r.amount,
        "fee": r.fee,
        "change": r.change,
        "tombstone_block": r.tombstone_block,
    })
}

async fn send(args: SendArgs) -> anyhow::Result<Value> {
    let (net, mut o) = open_payer(&args.target).await?;
    let to: PublicAddress = match (&args.to, args.to_account) {
        (Some(text), _) => text
            .parse()
            .map_err(|e| anyhow::anyhow!("--to {text:?}: {e}"))?,
        (None, Some(i)) => net
            .as_ref()
            .context("--to-account needs --dir")?
            .account(i)?
            .default_address(),
        (None, None) => anyhow::bail!("give --to ADDRESS or --to-account I"),
    };
    let receipt = o
        .wallet
        .send(
            &mut o.node,
            &to,
            args.amount,
            &args.pay.options(),
            &mut rand::rngs::OsRng,
        )
        .await
        .with_context(|| format!("paying {} through {}", args.amount, o.uri))?;
    let mut out = receipt_json(&receipt);
    out["to"] = json!(to.to_string());
    out["balance_after"] = amount(o.wallet.balance()?.unspent);
    Ok(out)
}

async fn self_payment_test(args: SelfPaymentArgs) -> anyhow::Result<Value> {
    let (_, mut o) = open_payer(&args.target).await?;
    let before = o.wallet.balance()?.unspent;
    let me = o.wallet.address();
    let r = o
        .wallet
        .send(
            &mut o.node,
            &me,
            args.amount,
            &args.pay.options(),
            &mut rand::rngs::OsRng,
        )
        .await
        .with_context(|| format!("self-payment through {}", o.uri))?;
    let after = o.wallet.balance()?.unspent;
    let expected = before.saturating_sub(u128::from(r.fee));
    if after != expected {
        anyhow::bail!(
            "self-payment test failed: balance {after} after the payment in block {}, \
             expected {before} - fee {} = {expected}",
            r.block_index,
            r.fee
        );
    }
    let mut out = receipt_json(&r);
    out["address"] = json!(me.to_string());
    out["node"] = json!(o.uri);
    out["balance_before"] = amount(before);
    out["balance_after"] = amount(after);
    Ok(out)
}

async fn cross_payment_test(args: CrossPaymentArgs) -> anyhow::Result<Value> {
    let t = &args.target;
    let (net, mut a) = open_payer(t).await?;
    // B: its key, cache and the node its balance is read through.
    let (b_key, b_cache, b_uri) = match &net {
        Some(n) => {
            if args.to_account == t.account {
                anyhow::bail!("--account and --to-account must differ");
            }
            let uri = match args.via_node {
                Some(j) => n.node_uri(j)?,
                None => a.uri.clone(),
            };
            (
                n.account(args.to_account)?,
                args.to_cache_dir
                    .clone()
                    .unwrap_or_else(|| n.cache_dir(args.to_account)),
                uri,
            )
        }
        None => {
            let path = args
                .to_key_file
                .as_ref()
                .context("give --to-key-file (B's key file)")?;
            let key = load_account_key(path)?;
            let cache = match &args.to_cache_dir {
                Some(d) => d.clone(),
                None => default_cache_dir(&key)?,
            };
            (
                key,
                cache,
                args.via_node_uri.clone().unwrap_or(a.uri.clone()),
            )
        }
    };
    if b_key.default_address() == a.wallet.address() {
        anyhow::bail!("the payer and the recipient are the same account");
    }
    let mut b = open(t, b_key, &b_cache, &b_uri, net.is_some()).await?;
    let a_before = a.wallet.balance()?.unspent;
    let b_before = b.wallet.balance()?.unspent;
    let to = b.wallet.address();
    let options = args.pay.options();
    let r = a
        .wallet
        .send(
            &mut a.node,
            &to,
            args.amount,
            &options,
            &mut rand::rngs::OsRng,
        )
        .await
        .with_context(|| format!("paying B through {}", a.uri))?;
    let a_after = a.wallet.balance()?.unspent;
    b.wallet
        .sync_until(
            &b.node,
            r.block_index + 1,
            options.timeout,
            options.poll_interval,
        )
        .await
        .with_context(|| format!("waiting for block {} at {b_uri}", r.block_index))?;
    let b_after = b.wallet.balance()?.unspent;
    let a_expected = a_before.saturating_sub(u128::from(args.amount) + u128::from(r.fee));
    let b_expected = b_before + u128::from(args.amount);
    if a_after != a_expected || b_after != b_expected {
        anyhow::bail!(
            "cross-payment test failed (payment in block {}): payer {a_before} -> {a_after} \
             (expected {a_expected}), recipient {b_before} -> {b_after} (expected \
             {b_expected}, read through {b_uri})",
            r.block_index
        );
    }
    let mut out = receipt_json(&r);
    out["node"] = json!(a.uri);
    out["via_node"] = json!(b_uri);
    out["balance_before"] = amount(a_before);
    out["balance_after"] = amount(a_after);
    out["recipient_balance_before"] = amount(b_before);
    out["recipient_balance_after"] = amount(b_after);
    Ok(out)
}
