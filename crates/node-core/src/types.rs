//! The plain data the node core takes in and hands out.

use serde::{Deserialize, Serialize};

pub use mcnode_scp::{Millis, NodeId, SlotIndex};

/// A transaction hash.
pub type TxHash = [u8; 32];

/// A block id.
pub type BlockId = [u8; 32];

/// What the core needs to know of a transaction to decide about it. Everything here is
/// part of the transaction itself, so every node that holds it reads the same facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxFacts {
    /// The transaction hash.
    pub hash: TxHash,
    /// The fee (its priority when a block is full: highest first).
    pub fee: u64,
    /// The first block index that may no longer hold it.
    pub tombstone_block: u64,
    /// What it spends (key images, or any other key two transactions may not share in
    /// one block).
    pub key_images: Vec<[u8; 32]>,
    /// The output public keys it creates (unique in the ledger).
    pub output_keys: Vec<[u8; 32]>,
}

/// A transaction as the core holds it: its facts plus a body the core never looks into
/// (the node keeps the enclave-encrypted transaction there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreTx<B> {
    /// The facts.
    pub facts: TxFacts,
    /// The opaque body.
    pub body: B,
}

impl<B> CoreTx<B> {
    /// The transaction hash.
    pub fn hash(&self) -> TxHash {
        self.facts.hash
    }
}

/// The last block of the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tip {
    /// Its index (the ledger holds `index + 1` blocks; the slot being agreed is
    /// `index + 1`).
    pub index: u64,
    /// Its id.
    pub id: BlockId,
}

/// A block the shell appended to the ledger (formed here or caught up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendedBlock {
    /// Its index.
    pub index: u64,
    /// Its id.
    pub id: BlockId,
    /// Its parent's id.
    pub parent_id: BlockId,
    /// The key images it spends.
    pub key_images: Vec<[u8; 32]>,
    /// The output public keys it creates.
    pub output_keys: Vec<[u8; 32]>,
    /// Hashes of the transactions it holds, when known (blocks formed here; a caught-up
    /// block carries only its contents).
    pub included: Vec<TxHash>,
    /// Hashes of transactions the block forming dropped (invalid now).
    pub dropped: Vec<TxHash>,
}

/// Why a transaction was refused: a stable result code (`mcnode_api::result_code`) and
/// a message for the submitter. Opaque to the core except for `permanent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The result code.
    pub code: u32,
    /// What was wrong.
    pub message: String,
    /// True when the transaction can never become valid for any later block (bad proof,
    /// spent key image, expired): a value naming it is invalid. False for refusals that
    /// say nothing about the transaction (e.g. the node could not decide now).
    pub permanent: bool,
}

/// Result codes the core itself produces (the rest come from the shell's validation).
pub mod codes {
    /// The node is over capacity (cache or pending queue full): gRPC `UNAVAILABLE`.
    pub const OVER_CAPACITY: u32 = 200;
    /// A key image is already spent (by a block appended since the check).
    pub const KEY_IMAGE_SPENT: u32 = 100;
    /// An output public key is already in the ledger.
    pub const OUTPUT_KEY_EXISTS: u32 = 101;
    /// The tombstone block is reached.
    pub const TOMBSTONE_EXPIRED: u32 = 12;
}

/// The result of one validation the shell ran for the core.
#[derive(Clone, Debug)]
pub struct Checked<B> {
    /// The transaction.
    pub tx: CoreTx<B>,
    /// The index of the block it was checked for (the ledger's height at the check).
    pub checked_for: u64,
    /// Valid, or why not.
    pub outcome: Result<(), Refusal>,
}

/// An SCP message from a peer whose envelope signature the shell verified.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// The SCP message (its `sender` is the envelope's signer).
    pub msg: mcnode_scp::Msg<crate::TxSet>,
    /// The block the slot builds on, as the sender says.
    pub prev_block_id: BlockId,
}

/// What became of a peer's envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Handed to SCP, every value decidable.
    Taken,
    /// Handed to SCP and recorded; it names transactions being fetched.
    Waiting,
    /// For a later slot: held until the ledger reaches it.
    Held,
    /// For a slot already appended here (not a refusal: peers re-send recent slots).
    Late,
    /// Beyond the window of slots held.
    TooFarAhead,
    /// It builds on another block than this node's at that height.
    OtherParent,
    /// SCP refused it (malformed, or an invalid value).
    Refused,
}

impl Disposition {
    /// Every disposition, for metric labels.
    pub const ALL: [Disposition; 7] = [
        Self::Taken,
        Self::Waiting,
        Self::Held,
        Self::Late,
        Self::TooFarAhead,
        Self::OtherParent,
        Self::Refused,
    ];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Taken => "taken",
            Self::Waiting => "waiting",
            Self::Held => "held",
            Self::Late => "late",
            Self::TooFarAhead => "too_far_ahead",
            Self::OtherParent => "other_parent",
            Self::Refused => "refused",
        }
    }

    /// True when the envelope was new information worth relaying to other peers.
    pub fn is_relayable(self) -> bool {
        matches!(self, Self::Taken | Self::Waiting | Self::Held)
    }
}

/// What the node is doing, as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Agreeing on blocks with its peers.
    Running,
    /// Behind its peers: fetching blocks.
    CatchingUp,
}

/// An identifier the core gives each fetch it asks the shell to make.
pub type FetchId = u64;

/// Where a transaction handed to the core came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxOrigin {
    /// A client of this node.
    Client,
    /// Relayed by a peer.
    Relay,
    /// Fetched because an SCP message named it.
    Fetch,
}
