//! Sealing: how the block-signing key survives a restart on the same host and build, and
//! only there.
//!
//! The sealing key is `HKDF-SHA256(ikm = host secret, salt = measurement, info =
//! "mcnode.seal.v1" || purpose)`. In SGX the host-bound secret is the CPU's seal key; in
//! software mode it is a 32-byte file on the host ([`HostSecret`], default
//! [`DEFAULT_HOST_SECRET_PATH`], created on first start with mode 0600). A sealed blob is
//! `version (1) || nonce (12) || ChaCha20-Poly1305(plaintext, aad = measurement)`: another
//! measurement or another host secret cannot open it.

use std::{
    fs,
    path::{Path, PathBuf},
};

use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    ChaCha20Poly1305, Key, Nonce,
};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use crate::Measurement;

/// Sealed blob format version.
pub const SEAL_VERSION: u8 = 1;
/// Where the host secret lives unless configured otherwise.
pub const DEFAULT_HOST_SECRET_PATH: &str = "/var/lib/mcnode/host-secret";

/// Why sealing or unsealing failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The blob is too short or of another version.
    #[error("sealed data is malformed or of another version")]
    Malformed,
    /// The blob does not open: another host, another build, or corruption.
    #[error("sealed data does not open here (another host secret or another enclave build)")]
    Unseal,
    /// Encryption failed.
    #[error("sealing failed")]
    Seal,
    /// The host secret file could not be read or created.
    #[error("host secret {path}: {source}")]
    HostSecretIo {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The host secret file exists but is not 32 bytes.
    #[error("host secret {0} must hold exactly 32 bytes")]
    HostSecretLength(PathBuf),
}

/// The host-bound secret sealing keys derive from.
#[derive(Clone)]
pub struct HostSecret([u8; 32]);

impl HostSecret {
    /// From bytes (tests, or a secret kept elsewhere).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads the secret at `path`, creating it (32 random bytes, mode 0600) if absent.
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        let io = |source| SealError::HostSecretIo {
            path: path.to_path_buf(),
            source,
        };
        match fs::read(path) {
            Ok(bytes) => {
                let arr: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| SealError::HostSecretLength(path.to_path_buf()))?;
                Ok(Self(arr))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 32];
                OsRng.fill_bytes(&mut secret);
                // Durable and atomic, never over an existing file: a kill mid-write
                // cannot leave a short secret that would refuse every later start.
                match mcnode_util::fs::write_new(path, &secret, mcnode_util::fs::Mode::Secret) {
                    Ok(()) => Ok(Self(secret)),
                    // Another process created it first: use theirs.
                    Err(mcnode_util::fs::WriteError::Exists(_)) => Self::load_or_create(path),
                    Err(mcnode_util::fs::WriteError::Io { source, .. }) => Err(io(source)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }
}

fn sealing_cipher(host: &HostSecret, measurement: &Measurement, purpose: &str) -> ChaCha20Poly1305 {
    let hk = Hkdf::<Sha256>::new(Some(&measurement.0), &host.0);
    let mut key = [0u8; 32];
    let info = [b"mcnode.seal.v1".as_slice(), purpose.as_bytes()].concat();
    hk.expand(&info, &mut key)
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF length"));
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

/// Seals `plaintext` for this host and measurement.
pub fn seal(
    plaintext: &[u8],
    host: &HostSecret,
    measurement: &Measurement,
    purpose: &str,
) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let ct = sealing_cipher(host, measurement, purpose)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &measurement.0,
            },
        )
        .map_err(|_| SealError::Seal)?;
    let mut out = Vec::with_capacity(1 + 12 + ct.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a blob sealed by [`seal`] on this host and measurement.
pub fn unseal(
    sealed: &[u8],
    host: &HostSecret,
    measurement: &Measurement,
    purpose: &str,
) -> Result<Vec<u8>, SealError> {
    if sealed.len() < 1 + 12 + 16 || sealed[0] != SEAL_VERSION {
        return Err(SealError::Malformed);
    }
    sealing_cipher(host, measurement, purpose)
        .decrypt(
            Nonce::from_slice(&sealed[1..13]),
            Payload {
                msg: &sealed[13..],
                aad: &measurement.0,
            },
        )
        .map_err(|_| SealError::Unseal)
}
