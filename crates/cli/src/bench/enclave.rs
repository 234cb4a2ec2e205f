//! `mcnode bench enclave`: attested-channel costs of the software enclave, in one run.

use std::time::Instant;

use mcnode_blockchain::encoding;
use mcnode_enclave::{
    ChainSettings, ClientChannel, ConsensusEnclave, EnclaveConfig, HostSecret, IasMode,
    SessionLimits, SgxMode, SoftwareEnclave, BUILD_MEASUREMENT,
};
use mcnode_transaction::{constants::DEFAULT_MINIMUM_FEE, test_utils::Fixture};
use rand::SeedableRng;
use serde_json::json;

/// Arguments of `mcnode bench enclave`.
#[derive(Debug, clap::Args)]
pub struct EnclaveBenchArgs {
    /// Operations timed per figure.
    #[arg(long, default_value_t = 500)]
    iterations: usize,
    /// Transactions per peer relay batch.
    #[arg(long, default_value_t = 100)]
    batch: usize,
}

const CHAIN: ChainSettings = ChainSettings {
    block_version: 1,
    minimum_fee: DEFAULT_MINIMUM_FEE,
};

fn enclave(name: &str) -> anyhow::Result<SoftwareEnclave> {
    let config = EnclaveConfig {
        peer_responder_id: format!("{name}:8443"),
        client_responder_id: format!("{name}:3223"),
        chain: CHAIN,
        sgx_mode: SgxMode::Sw,
        ias_mode: IasMode::Dev,
        limits: SessionLimits {
            max_clients: 1 << 20,
            ..SessionLimits::default()
        },
    };
    Ok(SoftwareEnclave::new(config, HostSecret::from_bytes([1; 32]), None)?.0)
}

fn per_second(n: usize, f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut f = f;
    let start = Instant::now();
    for _ in 0..n {
        f()?;
    }
    Ok((n as f64 / start.elapsed().as_secs_f64()).round())
}

/// Runs the benchmark.
pub fn run(args: EnclaveBenchArgs) -> anyhow::Result<serde_json::Value> {
    let n = args.iterations.max(1);
    let (a, b) = (enclave("a")?, enclave("b")?);

    let peer_handshakes = per_second(n, || {
        let (pending, hello) = a.peer_connect("b:8443")?;
        let (ch, answer) = b.peer_accept(&hello)?;
        a.peer_connect_finish(pending, &answer)?;
        b.peer_close(&ch.channel_id);
        Ok(())
    })?;
    let client_handshakes = per_second(n, || {
        let (pending, hello) = ClientChannel::start("a:3223", BUILD_MEASUREMENT, CHAIN)?;
        let (_, answer) = a.client_accept(&hello)?;
        pending.finish(&answer)?;
        Ok(())
    })?;

    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let f = Fixture::new(&mut rng, 100, &[10 * DEFAULT_MINIMUM_FEE]);
    let tx = encoding::encode_tx(&f.tx(1, 2, &mut rng));
    let (pending, hello) = ClientChannel::start("a:3223", BUILD_MEASUREMENT, CHAIN)?;
    let (_, answer) = a.client_accept(&hello)?;
    let mut client = pending.finish(&answer)?;
    let mut cached = Vec::new();
    let client_txs = per_second(n, || {
        let ctx = a.client_tx_propose(&client.encrypt(&tx)?)?;
        if cached.len() < args.batch {
            cached.push(ctx.encrypted_tx);
        }
        Ok(())
    })?;

    let (pending, hello) = a.peer_connect("b:8443")?;
    let (_, answer) = b.peer_accept(&hello)?;
    let to_b = a.peer_connect_finish(pending, &answer)?;
    let rounds = (n / 10).max(1);
    let start = Instant::now();
    for _ in 0..rounds {
        let msg = a.txs_for_peer(&cached, &to_b.channel_id)?;
        let got = b.peer_tx_propose(&msg)?;
        anyhow::ensure!(got.len() == cached.len(), "relay lost transactions");
    }
    let relayed = (rounds * cached.len()) as f64 / start.elapsed().as_secs_f64();

    Ok(json!({
        "bench": "enclave",
        "iterations": n,
        "tx_bytes": tx.len(),
        "peer_handshakes_per_s": peer_handshakes,
        "client_handshakes_per_s": client_handshakes,
        "client_tx_round_trips_per_s": client_txs,
        "peer_relay_txs_per_s": relayed.round(),
        "relay_batch": cached.len(),
    }))
}
