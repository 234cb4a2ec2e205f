//! The transaction model of mcnode: CryptoNote one-time addresses, RingCT amounts and
//! ring signatures, Merkle membership proofs, and the rules a valid transaction obeys.
//!
//! * [`account`]: account keys (view + spend), subaddresses, printable public addresses.
//! * [`tx_out`]: outputs to one-time keys with masked amounts; recognising and recovering
//!   them with the view key ([`Scanner`]).
//! * [`membership`]: the TxOut Merkle tree and membership proofs (old proofs stay valid).
//! * [`tx`]: [`TxIn`], [`TxPrefix`], [`Tx`] and their hashes.
//! * [`validate()`]: the pure validity check, with one [`ValidationError`] variant and
//!   stable code per rule, against a [`LedgerView`]; [`validate_batch`] gives many
//!   transactions the same verdicts with their proofs verified together ([`batch`]).
//! * [`builder`]: [`TxBuilder`], the wallet side.
//! * [`version`]: block versions and the features each introduces.
//! * [`constants`]: ring size, input/output limits, tombstone window, default minimum fee.
//!
//! No IO, no async, no storage: ledgers plug in through [`LedgerView`] and
//! [`membership::NodeSource`].

pub mod account;
pub mod batch;
pub mod builder;
pub mod constants;
pub mod membership;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
pub mod tx;
pub mod tx_out;
pub mod validate;
pub mod version;

pub use account::{AccountKey, AccountKeyFile, AddressError, PublicAddress};
pub use batch::validate_batch;
pub use builder::{BuildError, InputCredentials, TxBuilder};
pub use membership::{RootElement, TxOutMembershipProof, TxOutTree};
pub use tx::{SignatureRct, Tx, TxIn, TxPrefix};
pub use tx_out::{MaskedAmount, OwnedOutput, Scanner, TxOut};
pub use validate::{
    revalidate_verified, validate, LedgerView, LedgerViewError, RootProof, ValidationError,
};
pub use version::{BlockVersion, Feature, UnknownBlockVersion};
