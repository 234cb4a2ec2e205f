//! Integration tests of mcnode-enclave: pairing, refusals, client channels, sealing,
//! block forming.
#![allow(clippy::unwrap_used, missing_docs)]

mod channels;
mod forming;
mod sealing;

use mcnode_enclave::{
    ChainSettings, EnclaveConfig, HostSecret, IasMode, SessionLimits, SgxMode, SoftwareEnclave,
};
use mcnode_transaction::constants::DEFAULT_MINIMUM_FEE;

pub const CHAIN: ChainSettings = ChainSettings {
    block_version: 1,
    minimum_fee: DEFAULT_MINIMUM_FEE,
};

pub fn config(name: &str) -> EnclaveConfig {
    EnclaveConfig {
        peer_responder_id: format!("{name}.test:8443"),
        client_responder_id: format!("{name}.test:3223"),
        chain: CHAIN,
        sgx_mode: SgxMode::Sw,
        ias_mode: IasMode::Dev,
        limits: SessionLimits::default(),
    }
}

pub fn enclave(name: &str) -> SoftwareEnclave {
    SoftwareEnclave::new(config(name), HostSecret::from_bytes([7; 32]), None)
        .unwrap()
        .0
}
