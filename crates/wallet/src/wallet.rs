//! [`Wallet`]: one account over a [`LocalLedger`]: finds the account's outputs, computes
//! the balance, builds payments and sends them.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use mcnode_crypto::KeyImage;
use mcnode_ledger::{Ledger, LedgerError, LmdbLedger};
use mcnode_transaction::{
    account::{CHANGE_SUBADDRESS, DEFAULT_SUBADDRESS},
    constants::{MAX_INPUTS, MAX_TOMBSTONE_BLOCKS, RING_SIZE},
    validate, AccountKey, InputCredentials, OwnedOutput, PublicAddress, Scanner, Tx, TxBuilder,
};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::{
    client::ProposeOutcome, local_ledger::SyncReport, LocalLedger, NodeClient, WalletError,
};

/// Blocks a payment stays valid for by default: its tombstone block is the ledger height
/// plus this.
pub const TOMBSTONE_BLOCKS: u64 = 50;
/// The ledger copy's directory inside a wallet cache directory.
pub const LEDGER_DIR: &str = "ledger";
/// The scan cursor's file inside a wallet cache directory.
pub const SCAN_STATE_FILE: &str = "scan.json";
/// Subaddresses a wallet looks for: the default one and change.
const SUBADDRESSES: [u64; 2] = [DEFAULT_SUBADDRESS, CHANGE_SUBADDRESS];
/// Version of the scan cursor file.
const SCAN_STATE_VERSION: u32 = 1;

/// An output of the account's, found in the local ledger.
#[derive(Clone, Debug)]
pub struct OwnedTxOut {
    /// Its global index in the ledger.
    pub index: u64,
    /// The block that holds it.
    pub block_index: u64,
    /// The recovered output: value, blinding, subaddress, one-time key.
    pub output: OwnedOutput,
    /// The key image that spending it reveals.
    pub key_image: KeyImage,
    /// The block that spent it, if any.
    pub spent_in: Option<u64>,
}

impl OwnedTxOut {
    /// Its value.
    pub fn value(&self) -> u64 {
        self.output.value
    }

    /// The subaddress it was paid to (0: default, 1: change).
    pub fn subaddress(&self) -> u64 {
        self.output.subaddress_index
    }

    /// True when spent.
    pub fn is_spent(&self) -> bool {
        self.spent_in.is_some()
    }
}

/// An account's funds in the local ledger copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// Sum of unspent outputs.
    pub unspent: u128,
    /// Number of unspent outputs.
    pub unspent_outputs: usize,
    /// Sum of spent outputs.
    pub spent: u128,
    /// Number of spent outputs.
    pub spent_outputs: usize,
    /// Blocks in the local copy the balance is computed at.
    pub height: u64,
}

/// A built, signed payment, ready to submit.
#[derive(Clone, Debug)]
pub struct Payment {
    /// The transaction.
    pub tx: Tx,
    /// Paid to the recipient.
    pub amount: u64,
    /// The fee.
    pub fee: u64,
    /// Returned to the account's change address.
    pub change: u64,
    /// The first block the transaction can no longer be in.
    pub tombstone_block: u64,
    /// The outputs it spends.
    pub inputs: Vec<OwnedTxOut>,
}

impl Payment {
    /// The key images it reveals: one of them in a block means the payment is in it.
    pub fn key_images(&self) -> Vec<KeyImage> {
        self.tx.key_images()
    }
}

/// How [`Wallet::send`] pays and waits.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// The fee (default: the node's minimum fee).
    pub fee: Option<u64>,
    /// Blocks the payment stays valid for (default [`TOMBSTONE_BLOCKS`]; at most
    /// `MAX_TOMBSTONE_BLOCKS`).
    pub tombstone_blocks: u64,
    /// Longest wait for the payment to be in a block, from submission (default 60 s).
    pub timeout: Duration,
    /// Time between two looks at the node's ledger while waiting (default 50 ms).
    pub poll_interval: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            fee: None,
            tombstone_blocks: TOMBSTONE_BLOCKS,
            timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(50),
        }
    }
}

/// A payment that made it into a block.
#[derive(Clone, Debug)]
pub struct SendReceipt {
    /// The transaction's hash.
    pub tx_hash: [u8; 32],
    /// The block it is in.
    pub block_index: u64,
    /// From submission to seeing it in a block.
    pub latency: Duration,
    /// Paid to the recipient.
    pub amount: u64,
    /// The fee.
    pub fee: u64,
    /// Returned as change.
    pub change: u64,
    /// Its tombstone block.
    pub tombstone_block: u64,
    /// The node's answer to the submission.
    pub accepted: ProposeOutcome,
}

/// The scan cursor as stored in [`SCAN_STATE_FILE`].
#[derive(Debug, Serialize, Deserialize)]
struct ScanState {
    version: u32,
    /// The account's default address: the cursor is for this account only.
    address: String,
    /// Block 0's id: the cursor is for this chain only.
    origin_block_id: String,
    /// Blocks scanned.
    next_block: u64,
    /// Global indices and blocks of the outputs found.
    owned: Vec<(u64, u64)>,
}

/// An output found by scanning (spent status is looked up when asked).
#[derive(Clone, Debug)]
struct Found {
    index: u64,
    block_index: u64,
    output: OwnedOutput,
    key_image: KeyImage,
}

/// One account over a local ledger copy.
///
/// Scanning is incremental: the wallet remembers how many blocks it has scanned and the
/// outputs it found (in memory, and in a cursor file when opened on a cache directory),
/// so a balance after a sync costs only the new blocks. Spent status is looked up fresh
/// (key images in the ledger) each time.
pub struct Wallet {
    account: AccountKey,
    ledger: LocalLedger,
    found: Vec<Found>,
    next_block: u64,
    state_path: Option<PathBuf>,
    /// The other nodes the wallet knows, and how many of all it knows make a quorum
    /// ([`Self::know_nodes`]).
    others: Vec<NodeClient>,
    quorum: usize,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("address", &self.account.default_address().to_string())
            .field("scanned_blocks", &self.next_block)
            .field("outputs_found", &self.found.len())
            .finish()
    }
}

/// Reads an account key file (JSON, as `mcnode keygen account` and `mcnode origin-block`
/// write it).
pub fn load_account_key(path: impl AsRef<Path>) -> Result<AccountKey, WalletError> {
    let path = path.as_ref();
    let bad = |reason: String| WalletError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let file: mcnode_transaction::AccountKeyFile =
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    AccountKey::from_key_file(&file).map_err(|e| bad(e.to_string()))
}

impl Wallet {
    /// A wallet of `account` over `ledger`, scanning from block 0, keeping its cursor in
    /// memory only.
    pub fn new(account: AccountKey, ledger: LocalLedger) -> Self {
        Self {
            account,
            ledger,
            found: Vec::new(),
            next_block: 0,
            state_path: None,
            others: Vec::new(),
            quorum: 1,
        }
    }

    /// Tells the wallet the other nodes of the network besides the one each call is
    /// given, and how many of all of them make a quorum: every sync then follows the
    /// height a quorum reached ([`LocalLedger::sync_from_nodes`]), so a node that is
    /// merely behind never moves the copy back. Without it (the default) the given node
    /// is followed alone.
    pub fn know_nodes(&mut self, others: Vec<NodeClient>, quorum: usize) {
        self.quorum = quorum.clamp(1, others.len() + 1);
        self.others = others;
    }

    /// Syncs the ledger copy (not the scan) from `node` and the known nodes.
    async fn sync_ledger(&self, node: &NodeClient) -> Result<SyncReport, WalletError> {
        self.ledger
            .sync_from_nodes(node, &self.others, self.quorum)
            .await
    }

    /// A wallet of `account` with its cache in `dir` (created): the ledger copy in
    /// `dir/ledger`, the scan cursor in `dir/scan.json` (ignored and rebuilt when it does
    /// not match the account, the chain or the ledger copy).
    pub fn open(account: AccountKey, dir: impl AsRef<Path>) -> Result<Self, WalletError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|error| WalletError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
        let ledger = LocalLedger::open_or_create(dir.join(LEDGER_DIR))?;
        let mut wallet = Self::new(account, ledger);
        let path = dir.join(SCAN_STATE_FILE);
        wallet.restore_state(&path);
        wallet.state_path = Some(path);
        Ok(wallet)
    }

    /// The account.
    pub fn account(&self) -> &AccountKey {
        &self.account
    }

    /// The account's default address (subaddress 0), to be paid at.
    pub fn address(&self) -> PublicAddress {
        self.account.default_address()
    }

    /// The local ledger copy.
    pub fn ledger(&self) -> &LocalLedger {
        &self.ledger
    }

    /// Syncs the local copy from `node` and the known nodes ([`Self::know_nodes`],
    /// [`LocalLedger::sync_from_nodes`]) and scans the new blocks.
    pub async fn sync(&mut self, node: &NodeClient) -> Result<SyncReport, WalletError> {
        let report = self.sync_ledger(node).await?;
        self.refresh()?;
        Ok(report)
    }

    /// Scans blocks added to the local copy since the last scan. Returns the number of
    /// new outputs found.
    pub fn refresh(&mut self) -> Result<usize, WalletError> {
        let ledger = self.ledger.ledger();
        let height = ledger.num_blocks()?;
        if height < self.next_block {
            // The copy was rebuilt behind our back: start over.
            self.found.clear();
            self.next_block = 0;
        }
        let scanner = Scanner::new(&self.account, &SUBADDRESSES);
        let before = self.found.len();
        for b in self.next_block..height {
            for out in ledger.block_contents(b)?.outputs {
                let Some(output) = scanner.recover(&out) else {
                    continue;
                };
                let index = ledger.tx_out_index(&out.target_key)?.ok_or_else(|| {
                    LedgerError::Corrupt(format!(
                        "output {} of block {b} is not indexed",
                        out.target_key
                    ))
                })?;
                self.found.push(Found {
                    index,
                    block_index: b,
                    key_image: KeyImage::from_private(&output.onetime_private),
                    output,
                });
            }
        }
        let changed = height != self.next_block;
        self.next_block = height;
        if changed {
            self.save_state()?;
        }
        Ok(self.found.len() - before)
    }

    /// The account's outputs in the local copy, oldest first, with their spent status.
    pub fn owned_outputs(&mut self) -> Result<Vec<OwnedTxOut>, WalletError> {
        self.refresh()?;
        let ledger = self.ledger.ledger();
        self.found
            .iter()
            .map(|f| {
                Ok(OwnedTxOut {
                    index: f.index,
                    block_index: f.block_index,
                    output: f.output.clone(),
                    key_image: f.key_image,
                    spent_in: ledger.key_image_block(&f.key_image)?,
                })
            })
            .collect()
    }

    /// The account's balance in the local copy (sync first for the network's).
    pub fn balance(&mut self) -> Result<Balance, WalletError> {
        let outputs = self.owned_outputs()?;
        let mut b = Balance {
            unspent: 0,
            unspent_outputs: 0,
            spent: 0,
            spent_outputs: 0,
            height: self.next_block,
        };
        for o in &outputs {
            if o.is_spent() {
                b.spent += u128::from(o.value());
                b.spent_outputs += 1;
            } else {
                b.unspent += u128::from(o.value());
                b.unspent_outputs += 1;
            }
        }
        Ok(b)
    }

    /// Builds a payment of `amount` to `to` with `fee`, valid for [`TOMBSTONE_BLOCKS`]
    /// blocks past the local copy's height. See [`Self::build_payment_until`].
    pub fn build_payment<R: RngCore + CryptoRng>(
        &mut self,
        to: &PublicAddress,
        amount: u64,
        fee: u64,
        rng: &mut R,
    ) -> Result<Payment, WalletError> {
        let tombstone = self.ledger.height()?.saturating_add(TOMBSTONE_BLOCKS);
        self.build_payment_until(to, amount, fee, tombstone, rng)
    }

    /// Builds a payment of `amount` to `to` with `fee` and the given tombstone block:
    /// spends the largest unspent outputs first (at most `MAX_INPUTS`), each in a ring of
    /// `RING_SIZE` with decoys drawn at random from the ledger's outputs and membership
    /// proofs from the local copy; change goes to the account's change address. The
    /// transaction is validated against the local copy before it is returned. The fee
    /// is not checked against a node's minimum here ([`Self::send`] does).
    pub fn build_payment_until<R: RngCore + CryptoRng>(
        &mut self,
        to: &PublicAddress,
        amount: u64,
        fee: u64,
        tombstone_block: u64,
        rng: &mut R,
    ) -> Result<Payment, WalletError> {
        let mut unspent: Vec<OwnedTxOut> = self
            .owned_outputs()?
            .into_iter()
            .filter(|o| !o.is_spent())
            .collect();
        let need = u128::from(amount) + u128::from(fee);
        let have: u128 = unspent.iter().map(|o| u128::from(o.value())).sum();
        if have < need {
            return Err(WalletError::InsufficientFunds { have, need });
        }
        unspent.sort_by(|a, b| b.value().cmp(&a.value()).then(a.index.cmp(&b.index)));
        let mut inputs = Vec::new();
        let mut total = 0u128;
        for o in unspent {
            if total >= need {
                break;
            }
            if inputs.len() == MAX_INPUTS {
                return Err(WalletError::TooManyInputs {
                    max_inputs: MAX_INPUTS,
                    largest: total,
                    need,
                });
            }
            total += u128::from(o.value());
            inputs.push(o);
        }
        let tx = build_spend(
            self.ledger.ledger(),
            &self.account,
            &inputs,
            &[(amount, *to)],
            fee,
            tombstone_block,
            rng,
        )?;
        let change = u64::try_from(total - need).unwrap_or(u64::MAX);
        Ok(Payment {
            tx,
            amount,
            fee,
            change,
            tombstone_block,
            inputs,
        })
    }

    /// Polls `node` (syncing the local copy) until a block holds one of the payment's key
    /// images, and returns that block's index. Fails with
    /// [`WalletError::TombstoneExpired`] once the ledger reaches the tombstone block
    /// without it, or [`WalletError::Timeout`] after `timeout`. Transient node errors
    /// (unreachable, busy) are retried until then.
    pub async fn wait_for_inclusion(
        &mut self,
        node: &NodeClient,
        payment: &Payment,
        timeout: Duration,
        poll_interval: Duration,
    ) -> Result<u64, WalletError> {
        let start = Instant::now();
        let key_images = payment.key_images();
        loop {
            match self.sync_ledger(node).await {
                Ok(_) => {}
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
            let ledger = self.ledger.ledger();
            for ki in &key_images {
                if let Some(block) = ledger.key_image_block(ki)? {
                    self.refresh()?;
                    return Ok(block);
                }
            }
            let height = ledger.num_blocks()?;
            if height >= payment.tombstone_block {
                return Err(WalletError::TombstoneExpired {
                    tombstone: payment.tombstone_block,
                    height,
                });
            }
            if start.elapsed() >= timeout {
                return Err(WalletError::Timeout {
                    waited: start.elapsed(),
                    height,
                });
            }
            tokio::time::sleep(poll_interval).await;
        }
    }

    /// Syncs from `node` until the local copy has at least `min_height` blocks (polling
    /// every `poll_interval`), then scans them. [`WalletError::Timeout`] after `timeout`;
    /// transient node errors are retried until then.
    pub async fn sync_until(
        &mut self,
        node: &NodeClient,
        min_height: u64,
        timeout: Duration,
        poll_interval: Duration,
    ) -> Result<u64, WalletError> {
        let start = Instant::now();
        loop {
            match self.sync_ledger(node).await {
                Ok(_) => {}
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
            let height = self.ledger.height()?;
            if height >= min_height {
                self.refresh()?;
                return Ok(height);
            }
            if start.elapsed() >= timeout {
                return Err(WalletError::Timeout {
                    waited: start.elapsed(),
                    height,
                });
            }
            tokio::time::sleep(poll_interval).await;
        }
    }

    /// Pays `amount` to `to` through `node` and waits until the payment is in a block:
    /// syncs, checks the fee against the node's minimum (default: the minimum), builds
    /// the payment ([`Self::build_payment_until`]), submits it over the attested channel
    /// ([`NodeClient::propose_tx`]) and waits ([`Self::wait_for_inclusion`]). The receipt
    /// has the block index and the submit-to-committed latency.
    pub async fn send<R: RngCore + CryptoRng>(
        &mut self,
        node: &mut NodeClient,
        to: &PublicAddress,
        amount: u64,
        options: &SendOptions,
        rng: &mut R,
    ) -> Result<SendReceipt, WalletError> {
        let report = self.sync(node).await?;
        let minimum = match report.tip {
            Some(tip) => tip.minimum_fee,
            None => node.last_block_info().await?.minimum_fee,
        };
        let fee = options.fee.unwrap_or(minimum);
        if fee < minimum {
            return Err(WalletError::FeeTooLow { fee, minimum });
        }
        let tombstone = report
            .to
            .saturating_add(options.tombstone_blocks.clamp(1, MAX_TOMBSTONE_BLOCKS));
        let payment = self.build_payment_until(to, amount, fee, tombstone, rng)?;
        let submitted = Instant::now();
        let accepted = node.propose_tx(&payment.tx).await?;
        let remaining = options.timeout.saturating_sub(submitted.elapsed());
        let block_index = self
            .wait_for_inclusion(node, &payment, remaining, options.poll_interval)
            .await?;
        Ok(SendReceipt {
            tx_hash: payment.tx.hash(),
            block_index,
            latency: submitted.elapsed(),
            amount,
            fee,
            change: payment.change,
            tombstone_block: payment.tombstone_block,
            accepted,
        })
    }

    fn restore_state(&mut self, path: &Path) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let Ok(state) = serde_json::from_str::<ScanState>(&text) else {
            return;
        };
        if let Some((found, next_block)) = self.check_state(&state) {
            self.found = found;
            self.next_block = next_block;
        }
    }

    /// The outputs and cursor of a stored state, if it belongs to this account, chain and
    /// ledger copy and every output still recovers.
    fn check_state(&self, state: &ScanState) -> Option<(Vec<Found>, u64)> {
        let ledger = self.ledger.ledger();
        if state.version != SCAN_STATE_VERSION
            || state.address != self.account.default_address().to_string()
            || state.next_block > ledger.num_blocks().ok()?
            || state.next_block == 0
            || ledger.block(0).ok()?.id.to_string() != state.origin_block_id
        {
            return None;
        }
        let scanner = Scanner::new(&self.account, &SUBADDRESSES);
        let mut found = Vec::with_capacity(state.owned.len());
        for &(index, block_index) in &state.owned {
            let output = scanner.recover(&ledger.tx_out(index).ok()?)?;
            found.push(Found {
                index,
                block_index,
                key_image: KeyImage::from_private(&output.onetime_private),
                output,
            });
        }
        Some((found, state.next_block))
    }

    fn save_state(&self) -> Result<(), WalletError> {
        let Some(path) = &self.state_path else {
            return Ok(());
        };
        let ledger = self.ledger.ledger();
        if self.next_block == 0 {
            return Ok(());
        }
        let state = ScanState {
            version: SCAN_STATE_VERSION,
            address: self.account.default_address().to_string(),
            origin_block_id: ledger.block(0)?.id.to_string(),
            next_block: self.next_block,
            owned: self
                .found
                .iter()
                .map(|f| (f.index, f.block_index))
                .collect(),
        };
        let io = |error| WalletError::Io {
            path: path.clone(),
            error,
        };
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string(&state).map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }
}

/// Builds a transaction spending exactly `inputs` (outputs `account` owns) to `outputs`,
/// change (if any) to the account's change address, and validates it against `ledger`.
/// Each input sits in a ring of `RING_SIZE` with decoys drawn at random from the
/// ledger's outputs (never another input of the same transaction, unless the ledger is
/// too small for that) and membership proofs from `ledger`.
pub fn build_spend<R: RngCore + CryptoRng>(
    ledger: &LmdbLedger,
    account: &AccountKey,
    inputs: &[OwnedTxOut],
    outputs: &[(u64, PublicAddress)],
    fee: u64,
    tombstone_block: u64,
    rng: &mut R,
) -> Result<Tx, WalletError> {
    let height = ledger.num_blocks()?;
    let num_txos = ledger.num_txos()?;
    if num_txos < RING_SIZE as u64 {
        return Err(WalletError::NotEnoughOutputsForRing {
            have: num_txos,
            need: RING_SIZE,
        });
    }
    let mut excluded: BTreeSet<u64> = inputs.iter().map(|i| i.index).collect();
    if num_txos < (RING_SIZE - 1 + excluded.len()) as u64 {
        excluded.clear();
    }
    let mut builder = TxBuilder::new(fee, tombstone_block);
    for input in inputs {
        let mut ring_indices = vec![input.index];
        let draw = (RING_SIZE + excluded.len()).min(num_txos as usize);
        ring_indices.extend(
            rand::seq::index::sample(rng, num_txos as usize, draw)
                .into_iter()
                .map(|i| i as u64)
                .filter(|i| *i != input.index && !excluded.contains(i))
                .take(RING_SIZE - 1),
        );
        let mut ring = Vec::with_capacity(RING_SIZE);
        let mut proofs = Vec::with_capacity(RING_SIZE);
        for i in ring_indices {
            ring.push(ledger.tx_out(i)?);
            proofs.push(ledger.membership_proof(i)?);
        }
        builder.add_input(InputCredentials {
            owned: input.output.clone(),
            ring,
            proofs,
        });
    }
    for (value, to) in outputs {
        builder.add_output(*value, to);
    }
    let tx = builder.build(Some(&account.change_address()), rng)?;
    validate(&tx, height, fee, ledger)?;
    Ok(tx)
}
