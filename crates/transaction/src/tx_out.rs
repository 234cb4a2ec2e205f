//! Transaction outputs: one-time keys and masked amounts.
//!
//! To pay subaddress `(C, D)` the sender draws `r` and writes
//!
//! ```text
//! R = r D                                   (tx public key)
//! S = r C          (= a R for the recipient: the shared secret)
//! P = Hs("mcnode.onetime-key.v1"; S) G + D  (one-time target key)
//! blinding  = Hs("mcnode.amount.blinding.v1"; S)
//! commitment = value G + blinding H
//! masked value = value XOR first 8 bytes of H("mcnode.amount.value-mask.v1"; S)
//! ```
//!
//! Only the holder of the view key `a` can compute `S`, recognise the output (`P - Hs(S) G`
//! is one of its spend keys) and unmask the amount; only the holder of the spend key can
//! spend it (`x = Hs(S) + b + m_i`).

use mcnode_crypto::{
    hash::{domain, hash32, hash_to_scalar, DomainHasher},
    pedersen, CompressedPoint, KeyError, RistrettoPoint, RistrettoPrivate, RistrettoPublic, Scalar,
};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::account::{AccountKey, PublicAddress};

/// A hidden amount: a Pedersen commitment and the value masked with the shared secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MaskedAmount {
    /// `value G + blinding H`.
    pub commitment: CompressedPoint,
    /// `value XOR mask`.
    pub masked_value: u64,
}

/// A transaction output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxOut {
    /// `P`, the one-time public key: the key that spends this output.
    pub target_key: CompressedPoint,
    /// `R`, the tx public key the recipient needs to find the shared secret.
    pub public_key: CompressedPoint,
    /// The hidden amount.
    pub amount: MaskedAmount,
}

/// What the sender needs to remember about an output it created.
#[derive(Clone, Debug)]
pub struct CreatedOutput {
    /// The output.
    pub tx_out: TxOut,
    /// Its amount's blinding factor.
    pub blinding: Scalar,
}

/// An output recognised as ours, with everything needed to spend it.
#[derive(Clone, Debug)]
pub struct OwnedOutput {
    /// The output.
    pub tx_out: TxOut,
    /// The unmasked value.
    pub value: u64,
    /// The commitment's blinding factor.
    pub blinding: Scalar,
    /// Which subaddress it was paid to.
    pub subaddress_index: u64,
    /// `x`, the one-time private key.
    pub onetime_private: RistrettoPrivate,
}

fn value_mask(shared: &RistrettoPoint) -> u64 {
    let h = hash32(domain::AMOUNT_VALUE_MASK, &[shared.compress().as_bytes()]);
    let mut m = [0u8; 8];
    m.copy_from_slice(&h[..8]);
    u64::from_le_bytes(m)
}

fn amount_blinding(shared: &RistrettoPoint) -> Scalar {
    hash_to_scalar(domain::AMOUNT_BLINDING, &[shared.compress().as_bytes()])
}

fn onetime_offset(shared: &RistrettoPoint) -> Scalar {
    hash_to_scalar(domain::ONETIME_KEY, &[shared.compress().as_bytes()])
}

impl TxOut {
    /// Creates an output paying `value` to `recipient`.
    pub fn create<R: RngCore + CryptoRng>(
        value: u64,
        recipient: &PublicAddress,
        rng: &mut R,
    ) -> CreatedOutput {
        let r = RistrettoPrivate::random(rng);
        let public_key = r.scalar() * recipient.spend_public.point();
        let shared = r.scalar() * recipient.view_public.point();
        let target =
            RistrettoPoint::mul_base(&onetime_offset(&shared)) + recipient.spend_public.point();
        let blinding = amount_blinding(&shared);
        let tx_out = TxOut {
            target_key: target.into(),
            public_key: public_key.into(),
            amount: MaskedAmount {
                commitment: pedersen::commit(value, &blinding).into(),
                masked_value: value ^ value_mask(&shared),
            },
        };
        CreatedOutput { tx_out, blinding }
    }

    /// The output's hash (the Merkle leaf's content and its identity in the ledger).
    pub fn hash(&self) -> [u8; 32] {
        let mut h = DomainHasher::new(domain::TX_OUT);
        h.update(&self.target_key.0)
            .update(&self.public_key.0)
            .update(&self.amount.commitment.0)
            .update_u64(self.amount.masked_value);
        h.finish()
    }

    /// If this output pays one of `subaddresses` of `account`, recovers it: value,
    /// blinding, one-time private key. `None` if it is not ours or its amount does not open.
    /// To scan many outputs, build one [`Scanner`] instead.
    pub fn recover(&self, account: &AccountKey, subaddresses: &[u64]) -> Option<OwnedOutput> {
        Scanner::new(account, subaddresses).recover(self)
    }

    /// Checks that every point in the output is canonical and the keys are not the identity.
    pub fn check_points(&self) -> Result<(), KeyError> {
        RistrettoPublic::from_compressed(&self.target_key)?;
        RistrettoPublic::from_compressed(&self.public_key)?;
        self.amount.commitment.decompress()?;
        Ok(())
    }
}

/// Recognises an account's outputs among many: holds the view key and the spend public keys
/// of the subaddresses to look for.
pub struct Scanner<'a> {
    account: &'a AccountKey,
    spend_publics: Vec<(RistrettoPoint, u64)>,
}

impl<'a> Scanner<'a> {
    /// A scanner for `subaddresses` of `account`.
    pub fn new(account: &'a AccountKey, subaddresses: &[u64]) -> Self {
        let spend_publics = subaddresses
            .iter()
            .map(|i| (*account.subaddress(*i).spend_public.point(), *i))
            .collect();
        Self {
            account,
            spend_publics,
        }
    }

    /// Recovers `tx_out` if it is ours (see [`TxOut::recover`]).
    pub fn recover(&self, tx_out: &TxOut) -> Option<OwnedOutput> {
        let r = RistrettoPublic::from_compressed(&tx_out.public_key).ok()?;
        let target = tx_out.target_key.decompress().ok()?;
        let shared = self.account.view_private().scalar() * r.point();
        let offset = onetime_offset(&shared);
        let spend_public = target - RistrettoPoint::mul_base(&offset);
        let (_, index) = *self
            .spend_publics
            .iter()
            .find(|(p, _)| *p == spend_public)?;
        let value = tx_out.amount.masked_value ^ value_mask(&shared);
        let blinding = amount_blinding(&shared);
        if CompressedPoint::from(pedersen::commit(value, &blinding)) != tx_out.amount.commitment {
            return None;
        }
        let x =
            RistrettoPrivate::from_scalar(offset + self.account.subaddress_spend_private(index))
                .ok()?;
        Some(OwnedOutput {
            tx_out: *tx_out,
            value,
            blinding,
            subaddress_index: index,
            onetime_private: x,
        })
    }
}
