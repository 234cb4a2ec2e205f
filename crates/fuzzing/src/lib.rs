//! The bodies of mcnode's fuzz targets, as plain functions over bytes.
//!
//! Each target is one `fn(&[u8])` that feeds outside input to the code that faces the
//! network, as that code receives it, and panics only when the code under test does (or
//! when one of the few oracles here finds two answers that must agree and do not). The
//! libFuzzer targets in `fuzz/` (a crate outside the workspace's build, run by
//! `scripts/fuzz.sh`) are one-line calls of these functions, and `tests/it` replays every
//! committed corpus and regression file through them, so CI runs what the fuzzers found.
//!
//! | target | input | what runs |
//! |---|---|---|
//! | [`client_tx`] | a client's `Tx` protobuf | decode, re-encode; the enclave's client path (attested-channel frame, `client_tx_propose`, `tx_is_well_formed` = `validate` against a small ledger) |
//! | [`consensus_envelope`] | length-delimited `ConsensusMsg` protobufs | decode, signature check, SCP through a 4-node `NodeCore` |
//! | [`network_config`] | selector byte + text | `network.toml` (TOML and JSON forms), node URIs, responder ids |
//! | [`archive_object`] | selector byte + bytes | archive block objects and bundles: decode and verify; archive keys |
//! | [`attested_handshake`] | selector byte + bytes | Noise IX/NX handshake messages at the enclave and the wallet, evidence |
//! | [`admin_http`] | flags byte + HTTP request text | the admin gateway's router over a fake node |
//!
//! [`seeds`] makes the first corpus of each target from the fixtures the crates' own
//! tests use (`cargo run -p mcnode-fuzzing --example seed`).
//!
//! Not here: the fuzz harnesses themselves (`fuzz/`), and any fix: a crash is fixed in
//! the crate that owns the code, with its regression test there.

pub mod admin;
pub mod archive;
pub mod envelope;
pub mod handshake;
pub mod network;
pub mod seeds;
pub mod tx;

pub use admin::admin_http;
pub use archive::archive_object;
pub use envelope::consensus_envelope;
pub use handshake::attested_handshake;
pub use network::network_config;
pub use tx::client_tx;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name (the name of its `fuzz/fuzz_targets/<name>.rs`, its
/// `fuzz/corpus/<name>/` and `fuzz/regressions/<name>/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("client_tx", client_tx),
    ("consensus_envelope", consensus_envelope),
    ("network_config", network_config),
    ("archive_object", archive_object),
    ("attested_handshake", attested_handshake),
    ("admin_http", admin_http),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// A deterministic RNG for the fixtures, so every process builds the same ledger, keys and
/// seeds.
pub(crate) fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    use rand_core::SeedableRng;
    rand_chacha::ChaCha20Rng::seed_from_u64(seed)
}
