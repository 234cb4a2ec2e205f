//! Account keys, subaddresses and printable public addresses.
//!
//! An account is a pair of Ristretto private keys: view `a` and spend `b`. Subaddress `i`
//! has the public keys
//!
//! ```text
//! m_i = Hs("mcnode.subaddress.v1"; a, i)
//! D_i = b G + m_i G          (spend public key)
//! C_i = a D_i                (view public key)
//! ```
//!
//! Subaddress [`DEFAULT_SUBADDRESS`] (0) is the address an account hands out; change goes to
//! [`CHANGE_SUBADDRESS`] (1). The printable form of a [`PublicAddress`] is base58 of
//! `version (1 byte) || C (32) || D (32) || checksum (4)`, the checksum being the first four
//! bytes of `H("mcnode.address.checksum.v1"; version || C || D)`.

use core::{fmt, str::FromStr};

use mcnode_crypto::{
    hash::{domain, hash32, hash_to_scalar},
    KeyError, RistrettoPrivate, RistrettoPublic, Scalar,
};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

/// The subaddress an account gives out.
pub const DEFAULT_SUBADDRESS: u64 = 0;
/// The subaddress change goes to.
pub const CHANGE_SUBADDRESS: u64 = 1;
/// Version byte of the printable address format.
pub const ADDRESS_VERSION: u8 = 1;

/// A spending account: view and spend private keys.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountKey {
    view_private: RistrettoPrivate,
    spend_private: RistrettoPrivate,
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountKey({})", self.default_address())
    }
}

impl AccountKey {
    /// An account from its two private keys.
    pub fn new(view_private: RistrettoPrivate, spend_private: RistrettoPrivate) -> Self {
        Self {
            view_private,
            spend_private,
        }
    }

    /// A fresh random account.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self::new(RistrettoPrivate::random(rng), RistrettoPrivate::random(rng))
    }

    /// The view private key `a`.
    pub fn view_private(&self) -> &RistrettoPrivate {
        &self.view_private
    }

    /// The spend private key `b`.
    pub fn spend_private(&self) -> &RistrettoPrivate {
        &self.spend_private
    }

    fn subaddress_offset(&self, index: u64) -> Scalar {
        hash_to_scalar(
            domain::SUBADDRESS,
            &[&self.view_private.to_bytes(), &index.to_le_bytes()],
        )
    }

    /// The spend private key of subaddress `index`: `b + m_i`.
    pub fn subaddress_spend_private(&self, index: u64) -> Scalar {
        self.spend_private.scalar() + self.subaddress_offset(index)
    }

    /// The public address of subaddress `index`.
    pub fn subaddress(&self, index: u64) -> PublicAddress {
        let spend = RistrettoPrivate::from_scalar(self.subaddress_spend_private(index))
            // b + m_i = 0 happens with probability 2^-252: treat it as the impossible it is.
            .unwrap_or_else(|_| unreachable!("subaddress spend key is zero"))
            .public();
        let view = self.view_private.scalar() * spend.point();
        PublicAddress {
            view_public: RistrettoPublic::from_point(view)
                .unwrap_or_else(|_| unreachable!("view key times a non-identity point")),
            spend_public: spend,
        }
    }

    /// The address to hand out (subaddress 0).
    pub fn default_address(&self) -> PublicAddress {
        self.subaddress(DEFAULT_SUBADDRESS)
    }

    /// The change address (subaddress 1).
    pub fn change_address(&self) -> PublicAddress {
        self.subaddress(CHANGE_SUBADDRESS)
    }

    /// The key file form: both private keys in hex.
    pub fn to_key_file(&self) -> AccountKeyFile {
        AccountKeyFile {
            view_private_key: hex::encode(self.view_private.to_bytes()),
            spend_private_key: hex::encode(self.spend_private.to_bytes()),
        }
    }

    /// Parses the key file form.
    pub fn from_key_file(file: &AccountKeyFile) -> Result<Self, KeyError> {
        Ok(Self::new(
            RistrettoPrivate::from_hex(&file.view_private_key)?,
            RistrettoPrivate::from_hex(&file.spend_private_key)?,
        ))
    }
}

/// An account key file (JSON on disk): secret, keep it like a wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountKeyFile {
    /// 64 hex digits.
    pub view_private_key: String,
    /// 64 hex digits.
    pub spend_private_key: String,
}

/// Where to send funds: a subaddress's view and spend public keys.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PublicAddress {
    /// `C_i`.
    pub view_public: RistrettoPublic,
    /// `D_i`.
    pub spend_public: RistrettoPublic,
}

/// Why a printable address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not base58.
    #[error("not a base58 string")]
    BadBase58,
    /// Decoded to the wrong number of bytes.
    #[error("an address decodes to 69 bytes, got {0}")]
    WrongLength(usize),
    /// Unknown version byte.
    #[error("unknown address version {0}")]
    UnknownVersion(u8),
    /// Checksum mismatch: a typo.
    #[error("checksum mismatch (mistyped address?)")]
    BadChecksum,
    /// A key inside is not a valid public key.
    #[error("invalid key in address: {0}")]
    BadKey(#[from] KeyError),
}

impl PublicAddress {
    fn payload(&self) -> [u8; 65] {
        let mut p = [0u8; 65];
        p[0] = ADDRESS_VERSION;
        p[1..33].copy_from_slice(&self.view_public.to_bytes());
        p[33..65].copy_from_slice(&self.spend_public.to_bytes());
        p
    }

    fn checksum(payload: &[u8]) -> [u8; 4] {
        let h = hash32(domain::ADDRESS_CHECKSUM, &[payload]);
        [h[0], h[1], h[2], h[3]]
    }
}

impl fmt::Display for PublicAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let payload = self.payload();
        let mut bytes = payload.to_vec();
        bytes.extend_from_slice(&Self::checksum(&payload));
        f.write_str(&bs58::encode(bytes).into_string())
    }
}

impl FromStr for PublicAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(s.trim())
            .into_vec()
            .map_err(|_| AddressError::BadBase58)?;
        if bytes.len() != 69 {
            return Err(AddressError::WrongLength(bytes.len()));
        }
        if bytes[0] != ADDRESS_VERSION {
            return Err(AddressError::UnknownVersion(bytes[0]));
        }
        if Self::checksum(&bytes[..65]) != bytes[65..69] {
            return Err(AddressError::BadChecksum);
        }
        Ok(Self {
            view_public: RistrettoPublic::from_bytes(&bytes[1..33])?,
            spend_public: RistrettoPublic::from_bytes(&bytes[33..65])?,
        })
    }
}
