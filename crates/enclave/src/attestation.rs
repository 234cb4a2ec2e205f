//! Attestation evidence and the simulated attestation service.
//!
//! Evidence binds an enclave's measurement to the static key of its attested channels, the
//! chain settings it enforces and its responder id, signed by an attestation authority. In
//! hardware mode that authority is Intel's attestation service. In software mode
//! (`SGX_MODE=SW`) it is a simulated service for `IAS_MODE=DEV` whose key is derived from a
//! public constant: it proves the protocol shape, not the host's honesty, exactly as
//! SGX's own simulation mode does. Peers accept evidence only from that authority and only
//! for a measurement identical to their own.

use core::{fmt, str::FromStr};

use mcnode_crypto::{
    hash::{hash32, DomainHasher},
    Ed25519Public, Ed25519Signature, Ed25519Signer,
};
use prost::Message;

use crate::Measurement;

/// `SGX_MODE`: hardware enclaves or software simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgxMode {
    /// Real SGX hardware (not supported by this build).
    Hw,
    /// Software simulation (this build).
    Sw,
}

impl FromStr for SgxMode {
    type Err = ModeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "HW" => Ok(Self::Hw),
            "SW" => Ok(Self::Sw),
            _ => Err(ModeError::UnknownSgxMode(s.to_string())),
        }
    }
}

/// `IAS_MODE`: which attestation service endpoint evidence comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IasMode {
    /// Production attestation (hardware only).
    Prod,
    /// Development attestation (the simulated service in software mode).
    Dev,
}

impl FromStr for IasMode {
    type Err = ModeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PROD" => Ok(Self::Prod),
            "DEV" => Ok(Self::Dev),
            _ => Err(ModeError::UnknownIasMode(s.to_string())),
        }
    }
}

/// Why the enclave cannot start in the requested modes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// `SGX_MODE` is neither HW nor SW.
    #[error("SGX_MODE must be HW or SW, got {0:?}")]
    UnknownSgxMode(String),
    /// `IAS_MODE` is neither PROD nor DEV.
    #[error("IAS_MODE must be PROD or DEV, got {0:?}")]
    UnknownIasMode(String),
    /// Hardware mode requested.
    #[error(
        "SGX_MODE=HW: this build has no hardware enclave backend; run with SGX_MODE=SW and IAS_MODE=DEV"
    )]
    HardwareUnsupported,
    /// Production attestation requested in software mode.
    #[error(
        "IAS_MODE=PROD needs SGX hardware; a software enclave can only be attested by the simulated DEV service (set IAS_MODE=DEV)"
    )]
    ProdNeedsHardware,
}

/// Checks that the modes can run in this build: only `SW` + `DEV`.
pub fn check_modes(sgx: SgxMode, ias: IasMode) -> Result<(), ModeError> {
    match (sgx, ias) {
        (SgxMode::Hw, _) => Err(ModeError::HardwareUnsupported),
        (SgxMode::Sw, IasMode::Prod) => Err(ModeError::ProdNeedsHardware),
        (SgxMode::Sw, IasMode::Dev) => Ok(()),
    }
}

/// The seed of the simulated DEV attestation service's key: public by design.
const SIMULATED_IAS_SEED_LABEL: &str = "mcnode.simulated-ias.dev.v1";

/// The simulated attestation service (DEV).
pub fn simulated_ias() -> Ed25519Signer {
    Ed25519Signer::from_seed(&hash32(SIMULATED_IAS_SEED_LABEL, &[]))
}

/// Evidence format version.
pub const EVIDENCE_VERSION: u32 = 1;

/// What an attestation authority vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The enclave's measurement.
    pub measurement: Measurement,
    /// The enclave's static channel key (X25519).
    pub channel_key: [u8; 32],
    /// Digest of the chain settings the enclave enforces.
    pub chain_digest: [u8; 32],
    /// The responder id the enclave serves as.
    pub responder_id: String,
    /// The authority's public key.
    pub authority: Ed25519Public,
    /// The authority's signature over the fields above.
    pub signature: Ed25519Signature,
}

/// Why evidence was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The bytes do not decode.
    #[error("malformed attestation evidence: {0}")]
    Malformed(String),
    /// Another evidence format.
    #[error("attestation evidence version {0} is not supported")]
    UnsupportedVersion(u32),
    /// Signed by an authority we do not trust.
    #[error("evidence signed by an untrusted attestation authority {0}")]
    UntrustedAuthority(String),
    /// The signature does not verify: the evidence was altered.
    #[error("attestation evidence signature does not verify (tampered evidence)")]
    BadSignature,
}

fn digest(e: &Evidence) -> [u8; 32] {
    let mut h = DomainHasher::new("mcnode.attestation.evidence.v1");
    h.update_u64(u64::from(EVIDENCE_VERSION))
        .update(&e.measurement.0)
        .update(&e.channel_key)
        .update(&e.chain_digest)
        .update(e.responder_id.as_bytes())
        .update(&e.authority.to_bytes());
    h.finish()
}

#[derive(Clone, PartialEq, prost::Message)]
struct PbEvidence {
    #[prost(uint32, tag = "1")]
    version: u32,
    #[prost(bytes = "vec", tag = "2")]
    measurement: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    channel_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    chain_digest: Vec<u8>,
    #[prost(string, tag = "5")]
    responder_id: String,
    #[prost(bytes = "vec", tag = "6")]
    authority: Vec<u8>,
    #[prost(bytes = "vec", tag = "7")]
    signature: Vec<u8>,
}

fn arr32(b: &[u8], what: &str) -> Result<[u8; 32], EvidenceError> {
    b.try_into()
        .map_err(|_| EvidenceError::Malformed(format!("{what} is not 32 bytes")))
}

impl Evidence {
    /// Evidence signed by `authority`.
    pub fn sign(
        measurement: Measurement,
        channel_key: [u8; 32],
        chain_digest: [u8; 32],
        responder_id: String,
        authority: &Ed25519Signer,
    ) -> Self {
        let mut e = Evidence {
            measurement,
            channel_key,
            chain_digest,
            responder_id,
            authority: authority.public(),
            signature: Ed25519Signature([0; 64]),
        };
        e.signature = authority.sign(&digest(&e));
        e
    }

    /// Checks the authority and signature.
    pub fn verify(&self, trusted_authority: &Ed25519Public) -> Result<(), EvidenceError> {
        if self.authority != *trusted_authority {
            return Err(EvidenceError::UntrustedAuthority(self.authority.to_hex()));
        }
        self.authority
            .verify(&digest(self), &self.signature)
            .map_err(|_| EvidenceError::BadSignature)
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        PbEvidence {
            version: EVIDENCE_VERSION,
            measurement: self.measurement.0.to_vec(),
            channel_key: self.channel_key.to_vec(),
            chain_digest: self.chain_digest.to_vec(),
            responder_id: self.responder_id.clone(),
            authority: self.authority.to_bytes().to_vec(),
            signature: self.signature.0.to_vec(),
        }
        .encode_to_vec()
    }

    /// Parses the wire form (shape only; call [`Self::verify`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EvidenceError> {
        let pb = PbEvidence::decode(bytes).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
        if pb.version != EVIDENCE_VERSION {
            return Err(EvidenceError::UnsupportedVersion(pb.version));
        }
        Ok(Self {
            measurement: Measurement(arr32(&pb.measurement, "measurement")?),
            channel_key: arr32(&pb.channel_key, "channel key")?,
            chain_digest: arr32(&pb.chain_digest, "chain digest")?,
            responder_id: pb.responder_id,
            authority: Ed25519Public::from_bytes(&pb.authority)
                .map_err(|e| EvidenceError::Malformed(e.to_string()))?,
            signature: Ed25519Signature::from_slice(&pb.signature)
                .map_err(|e| EvidenceError::Malformed(e.to_string()))?,
        })
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "evidence of {} for {}",
            self.measurement, self.responder_id
        )
    }
}
