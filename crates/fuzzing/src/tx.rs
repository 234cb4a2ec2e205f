//! The client transaction payload: what `ClientTxPropose` carries once the attested
//! channel is opened, `Tx` protobuf bytes.
//!
//! The input goes the way a wallet's transaction goes: encrypted on a real client channel
//! to a software enclave, which decrypts and decodes it (`client_tx_propose`), then
//! validated by the enclave against a small ledger of 33 outputs with fresh membership
//! proofs the host would fetch (`tx_is_well_formed`, which runs `validate`). The seeds are
//! valid transactions of that ledger, so mutations reach every rule of `validate`.

use std::sync::{LazyLock, Mutex};

use mcnode_blockchain::encoding;
use mcnode_enclave::{
    ChainSettings, ClientChannel, ConsensusEnclave, EnclaveError, HostLedgerState, SoftwareEnclave,
};
use mcnode_transaction::{constants::DEFAULT_MINIMUM_FEE, test_utils::Fixture, LedgerView, Tx};

use crate::handshake::{enclave_config, start_enclave};

/// The block the transactions are validated for (the fixture's tombstone is 100).
pub const BLOCK_INDEX: u64 = 1;
const FIXTURE_SEED: u64 = 0x5eed_0001;

/// The ledger, the enclave and a client channel to it, made once per process.
struct Setup {
    fixture: Fixture,
    enclave: SoftwareEnclave,
    channel: Mutex<ClientChannel>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let fixture = Fixture::new(
        &mut crate::rng(FIXTURE_SEED),
        30,
        &[
            10 * DEFAULT_MINIMUM_FEE,
            10 * DEFAULT_MINIMUM_FEE,
            3 * DEFAULT_MINIMUM_FEE,
        ],
    );
    let config = enclave_config();
    let enclave = start_enclave(config.clone());
    let (pending, hello) = ClientChannel::start(
        &config.client_responder_id,
        enclave.measurement(),
        config.chain,
    )
    .unwrap_or_else(|e| panic!("client handshake starts: {e}"));
    let (_, answer) = enclave
        .client_accept(&hello)
        .unwrap_or_else(|e| panic!("the enclave accepts a client: {e}"));
    let channel = pending
        .finish(&answer)
        .unwrap_or_else(|e| panic!("client handshake finishes: {e}"));
    Setup {
        fixture,
        enclave,
        channel: Mutex::new(channel),
    }
});

/// The chain settings of the fuzzed enclave.
pub fn chain() -> ChainSettings {
    enclave_config().chain
}

/// Valid transactions of the fixture ledger (1 input and 2 outputs, 2 inputs and 3
/// outputs, 3 inputs and 16 outputs), encoded: the seeds of [`client_tx`].
pub fn valid_txs() -> Vec<Tx> {
    let f = &SETUP.fixture;
    let mut rng = crate::rng(FIXTURE_SEED + 1);
    vec![
        f.tx(1, 2, &mut rng),
        f.tx(2, 3, &mut rng),
        f.tx(3, 16, &mut rng),
    ]
}

/// Fuzz target: a client's transaction bytes, decoded and validated as the node does.
pub fn client_tx(data: &[u8]) {
    let _ = client_tx_outcome(data);
}

/// What [`client_tx`] ends with: `None` when the frame could not be made, else the
/// enclave's verdict (the transaction hash when it is valid).
pub fn client_tx_outcome(data: &[u8]) -> Option<Result<[u8; 32], EnclaveError>> {
    let setup = &*SETUP;
    // Oracle: whatever decodes re-encodes to bytes that decode to the same transaction.
    if let Ok(tx) = encoding::decode_tx(data) {
        let again = encoding::decode_tx(&encoding::encode_tx(&tx));
        assert_eq!(again.as_ref().ok(), Some(&tx), "Tx re-encoding changed it");
    }
    let frame = match setup
        .channel
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .encrypt(data)
    {
        Ok(f) => f,
        Err(_) => return None,
    };
    let context = match setup.enclave.client_tx_propose(&frame) {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    // What the host hands the enclave: the root now and a fresh proof of every index the
    // transaction's proofs were made at (those the ledger has).
    let tree = &setup.fixture.tree;
    let host = HostLedgerState {
        root_element: tree.root_element().ok(),
        root_proofs: context
            .highest_indices
            .iter()
            .filter_map(|i| tree.root_proof(*i).ok())
            .collect(),
    };
    Some(
        setup
            .enclave
            .tx_is_well_formed(&context.encrypted_tx, BLOCK_INDEX, &host),
    )
}
