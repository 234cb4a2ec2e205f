//! Assembling and running `consensus-service`: configuration checks, the ledger (copied
//! from the origin block when empty), the enclave, peers, the node task and the two gRPC
//! ports; graceful shutdown on SIGTERM or SIGINT.

use std::{
    collections::HashMap,
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use mcnode_blockchain::{QuorumMemberRecord, QuorumSetRecord};
use mcnode_crypto::Ed25519Signer;
use mcnode_enclave::{
    ChainSettings, ConsensusEnclave, EnclaveConfig, EnclaveError, HostSecret, IasMode, InitReport,
    SessionLimits, SgxMode, SoftwareEnclave,
};
use mcnode_ledger::{Ledger, LmdbLedger};
use mcnode_peers::{tls, Broadcaster, NetworkConfig, NodeUri, PeerClient, ResponderId, Service};
use mcnode_scp::{NodeId, QuorumSet};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::TcpListenerStream;

use crate::{
    admin::{GrpcMetricsLayer, KnownMethods},
    config::ServiceArgs,
    metrics::{BuildLabels, Metrics},
    node::{self, NodeTask},
    services,
    state::{About, Published, Shared, SharedParts},
};

/// The file, in the ledger directory, holding this node's latest SCP messages.
pub const SCP_STATE_FILE: &str = "mcnode-scp-state";

/// Transactions queued for relay to peers.
pub const RELAY_QUEUE: usize = 16_384;
/// Most transactions relayed in one `PeerTxPropose`.
pub const RELAY_BATCH: usize = 200;
/// How long the relay waits to fill a batch after its first transaction.
pub const RELAY_WINDOW: Duration = Duration::from_millis(5);

pub use crate::admin::init_logging;

/// The quorum set as block metadata records it.
pub fn quorum_record(q: &QuorumSet) -> QuorumSetRecord {
    let mut members: Vec<QuorumMemberRecord> = q
        .members
        .iter()
        .map(|m| QuorumMemberRecord::Node(m.as_str().to_string()))
        .collect();
    members.extend(
        q.inner_sets
            .iter()
            .map(|s| QuorumMemberRecord::InnerSet(quorum_record(s))),
    );
    QuorumSetRecord {
        threshold: q.threshold,
        members,
    }
}

/// Whether the ledger directory is empty (or holds only what an interrupted origin copy
/// left behind: the copy is then simply done again).
fn is_empty_dir(path: &Path) -> anyhow::Result<bool> {
    mcnode_util::fs::dir_is_empty(path)
        .with_context(|| format!("cannot read --ledger-path {}", path.display()))
}

/// Opens the ledger at `ledger_path`, first copying the origin ledger into it when it is
/// empty (the spec's "copy the origin block into an empty ledger directory").
pub fn prepare_ledger(ledger_path: &Path, origin: Option<&Path>) -> anyhow::Result<LmdbLedger> {
    if is_empty_dir(ledger_path)? {
        let Some(origin) = origin else {
            bail!(
                "--ledger-path {} is empty and no --origin-block-path was given",
                ledger_path.display()
            );
        };
        let src: PathBuf = if origin.is_dir() {
            origin.join("data.mdb")
        } else {
            origin.to_path_buf()
        };
        if !src.is_file() {
            bail!(
                "--origin-block-path {}: no origin ledger (data.mdb) there",
                origin.display()
            );
        }
        // Durable and atomic: a kill mid-copy leaves no data.mdb (only a temporary file
        // the next start removes), never a torn one.
        mcnode_util::fs::copy_atomic(
            &src,
            &ledger_path.join("data.mdb"),
            mcnode_util::fs::Mode::Public,
        )
        .with_context(|| format!("cannot copy {} into the ledger", src.display()))?;
        tracing::info!(from = %src.display(), to = %ledger_path.display(), "copied the origin ledger");
    }
    let ledger = LmdbLedger::open(ledger_path)
        .with_context(|| format!("cannot open the ledger at {}", ledger_path.display()))?;
    if ledger.num_blocks()? == 0 {
        bail!(
            "the ledger at {} holds no origin block",
            ledger_path.display()
        );
    }
    Ok(ledger)
}

/// Writes the sealed block-signing key durably and atomically (mode 0600): a kill at any
/// moment leaves the old sealed key or the new one, never a torn file.
pub fn write_sealed_key(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(mcnode_util::fs::write_atomic(
        path,
        bytes,
        mcnode_util::fs::Mode::Secret,
    )?)
}

/// Marks an error in the command line or configuration found before anything starts:
/// `consensus-service` exits with status 2 for it, as for a usage error, so a supervisor
/// (the container's entrypoint) reports it instead of restarting the node.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration")]
pub struct InvalidConfiguration;

/// Everything checked from the command line before anything starts.
struct Checked {
    peer_id: ResponderId,
    peer_listen: NodeUri,
    client_listen: NodeUri,
    admin_listen: Option<NodeUri>,
    network: NetworkConfig,
    signer: Ed25519Signer,
    sgx: SgxMode,
    ias: IasMode,
}

fn check_args(args: &ServiceArgs) -> anyhow::Result<Checked> {
    let peer_id: ResponderId = args
        .peer_responder_id
        .parse()
        .context("--peer-responder-id")?;
    let _client_id: ResponderId = args
        .client_responder_id
        .parse()
        .context("--client-responder-id")?;
    let peer_listen =
        NodeUri::parse(&args.peer_listen_uri, Service::Peer).context("--peer-listen-uri")?;
    peer_listen.check_listen().context("--peer-listen-uri")?;
    let client_listen =
        NodeUri::parse(&args.client_listen_uri, Service::Client).context("--client-listen-uri")?;
    client_listen
        .check_listen()
        .context("--client-listen-uri")?;
    let admin_listen = match &args.admin_listen_uri {
        Some(admin) => {
            let uri = NodeUri::parse(admin, Service::Admin).context("--admin-listen-uri")?;
            uri.check_listen().context("--admin-listen-uri")?;
            Some(uri)
        }
        None => None,
    };
    let text = fs::read_to_string(&args.network)
        .with_context(|| format!("cannot read --network {}", args.network.display()))?;
    // `network.json` is the JSON form of the same file.
    let format = mcnode_peers::NetworkFormat::from_path(&args.network);
    let network = NetworkConfig::parse_as(&text, format, &peer_id)
        .with_context(|| format!("--network {}", args.network.display()))?;
    let signer = Ed25519Signer::from_base64_pkcs8(args.msg_signer_key.trim())
        .context("--msg-signer-key must be base64 of a PKCS#8 Ed25519 key")?;
    let sgx: SgxMode = args.sgx_mode.parse().context("SGX_MODE")?;
    let ias: IasMode = args.ias_mode.parse().context("IAS_MODE")?;
    mcnode_enclave::attestation::check_modes(sgx, ias)?;
    if ias == IasMode::Prod && (args.ias_api_key.is_none() || args.ias_spid.is_none()) {
        bail!("IAS_MODE=PROD needs --ias-api-key and --ias-spid");
    }
    Ok(Checked {
        peer_id,
        peer_listen,
        client_listen,
        admin_listen,
        network,
        signer,
        sgx,
        ias,
    })
}

async fn bind(uri: &NodeUri, what: &str) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(uri.address())
        .await
        .with_context(|| format!("cannot listen on {} ({what})", uri.address()))?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

async fn relay_loop(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<mcnode_enclave::LocallyEncryptedTx>,
) {
    while let Some(first) = rx.recv().await {
        // Gather what arrives within RELAY_WINDOW: one call per peer for a batch rather
        // than one per transaction.
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + RELAY_WINDOW;
        while batch.len() < RELAY_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(tx)) => batch.push(tx),
                Ok(None) | Err(_) => break,
            }
        }
        shared.broadcaster.send_txs(Arc::new(batch), None);
    }
}

/// Makes the enclave from its configuration, the host secret and the sealed key.
pub type EnclaveFactory = Box<
    dyn FnOnce(
            EnclaveConfig,
            HostSecret,
            Option<&[u8]>,
        ) -> Result<(SoftwareEnclave, InitReport), EnclaveError>
        + Send,
>;

/// Runs the node until SIGTERM/SIGINT (Ok) or a fatal error.
pub async fn run(args: ServiceArgs) -> anyhow::Result<()> {
    run_with(args, Box::new(SoftwareEnclave::new)).await
}

/// [`run`] with another way to make the enclave (tests start nodes whose enclave claims
/// another measurement, to see the others refuse them).
pub async fn run_with(args: ServiceArgs, make_enclave: EnclaveFactory) -> anyhow::Result<()> {
    tls::install_crypto_provider();
    let c = check_args(&args).map_err(|e| e.context(InvalidConfiguration))?;
    let chain = ChainSettings {
        block_version: args.block_version.get(),
        minimum_fee: args.minimum_fee,
    };
    let ledger = prepare_ledger(&args.ledger_path, args.origin_block_path.as_deref())?;
    let last_version = ledger.last_block()?.version;
    if last_version > chain.block_version {
        return Err(anyhow::anyhow!(
            "the ledger's last block has block version {last_version}, higher than \
             --block-version {}: a node never writes a lower version than its parent's; \
             start with --block-version {last_version} (or higher, at a network upgrade)",
            chain.block_version
        )
        .context(InvalidConfiguration));
    }
    let host_secret = HostSecret::load_or_create(&args.host_secret_path)
        .with_context(|| format!("--host-secret-path {}", args.host_secret_path.display()))?;
    let sealed = match fs::read(&args.sealed_block_signing_key) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(e).with_context(|| {
                format!("cannot read {}", args.sealed_block_signing_key.display())
            })
        }
    };
    let (enclave, report) = make_enclave(
        EnclaveConfig {
            peer_responder_id: args.peer_responder_id.clone(),
            client_responder_id: args.client_responder_id.clone(),
            chain,
            sgx_mode: c.sgx,
            ias_mode: c.ias,
            limits: SessionLimits::default(),
        },
        host_secret,
        sealed.as_deref(),
    )
    .context("cannot start the enclave")?;
    if report.created_new_key || sealed.is_none() {
        if let Some(why) = &report.unseal_error {
            tracing::warn!(reason = %why, "sealed block-signing key did not open here; made a new one");
        }
        write_sealed_key(&args.sealed_block_signing_key, &report.sealed_key)?;
    }
    let enclave: Arc<dyn ConsensusEnclave> = Arc::new(enclave);
    tracing::info!(
        measurement = %enclave.measurement(),
        block_signer = %enclave.block_signer().to_hex(),
        "enclave started"
    );

    let ledger: Arc<dyn Ledger> = Arc::new(ledger);
    let (relay_tx, relay_rx) = mpsc::channel(RELAY_QUEUE);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let mut peers = Vec::new();
    let mut broadcast = Vec::new();
    let mut ordered: Vec<_> = c.network.peers.values().collect();
    ordered.sort_by_key(|p| !p.broadcast);
    for peer in ordered {
        let client = Arc::new(
            PeerClient::new(peer, enclave.clone())
                .with_context(|| format!("peer {}", peer.responder_id))?,
        );
        if peer.broadcast {
            broadcast.push(client.clone());
        }
        peers.push(client);
    }
    let peer_keys: HashMap<_, _> = mcnode_peers::envelope::peer_keys(&c.network);
    let metrics = Metrics::default();
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    metrics
        .build_info
        .get_or_create(&BuildLabels {
            version: env!("CARGO_PKG_VERSION").to_string(),
            measurement: enclave.measurement().to_string(),
        })
        .set(1);
    let about = About {
        client_responder_id: args.client_responder_id.clone(),
        config: serde_json::to_value(&args).unwrap_or_default(),
        sgx_mode: args.sgx_mode.clone(),
        max_txs: args.max_cached_txs.max(1),
        max_pending: args.max_pending_values.max(1),
    };
    let known_methods = KnownMethods::from_descriptor_sets(&[
        mcnode_api::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    ]);
    let grpc_layer = GrpcMetricsLayer::new(metrics.clone(), known_methods);
    let node_id = NodeId::new(c.peer_id.to_string()).context("--peer-responder-id")?;
    let peer_ids: Vec<NodeId> = c
        .network
        .peers
        .keys()
        .filter_map(|r| NodeId::new(r.to_string()).ok())
        .collect();
    let core_config = mcnode_node_core::CoreConfig {
        limits: mcnode_node_core::StoreLimits {
            max_txs: args.max_cached_txs.max(1),
            max_pending: args.max_pending_values.max(1),
        },
        max_block_txs: args.max_block_txs.max(1),
        stall_warn_ms: args.stall_warn_seconds.max(1).saturating_mul(1000),
        // One validation request per lane of the node task's validation semaphore.
        max_validation_batches: std::thread::available_parallelism().map_or(2, |n| n.get()),
        admit: mcnode_node_core::AdmitConfig {
            drain_ms: args.admission_drain_seconds.max(1).saturating_mul(1000),
            floor: args.admission_floor.max(1),
            ..mcnode_node_core::AdmitConfig::default()
        },
        fetch: mcnode_node_core::FetchConfig {
            max_per_request: mcnode_peers::client::MAX_TXS_PER_FETCH,
            ..mcnode_node_core::FetchConfig::default()
        },
        ..mcnode_node_core::CoreConfig::default()
    };
    let last = ledger.last_block()?;
    let tip = mcnode_node_core::Tip {
        index: last.index,
        id: last.id.0,
    };
    let scp_state_path = args.ledger_path.join(SCP_STATE_FILE);
    let restored = match node::scp_state::load(&scp_state_path) {
        Some((prev, msgs)) if prev == tip.id => {
            tracing::info!(
                messages = msgs.len(),
                slot = tip.index + 1,
                "restoring this node's SCP state"
            );
            msgs
        }
        _ => Vec::new(),
    };
    let start = Instant::now();
    let core = mcnode_node_core::NodeCore::new(
        core_config,
        node_id,
        c.network.quorum_set.clone(),
        peer_ids,
        tip,
        &restored,
        0,
    )
    .context("cannot start the node core")?;
    let (handle, receivers) = node::channels(Published {
        status: core.status(),
        heard: Default::default(),
        peer_heights: Default::default(),
        latest_msg: None,
        last_block_unix: None,
        quorum_health: None,
    });
    metrics.ledger_height.set((tip.index + 1) as i64);
    let shared = Arc::new(Shared::new(SharedParts {
        ledger: ledger.clone(),
        enclave: enclave.clone(),
        chain,
        responder_id: c.peer_id.clone(),
        signer: c.signer.clone(),
        quorum_record: quorum_record(&c.network.quorum_set),
        peer_keys,
        peers,
        broadcaster: Broadcaster::start(broadcast),
        node: handle,
        shutdown: shutdown_rx.clone(),
        tx_source_urls: c.network.tx_source_urls.clone(),
        metrics,
        registry,
        quorum_set: c.network.quorum_set.clone(),
        about,
    }));
    if args.maintenance {
        shared.set_maintenance(true);
    }
    tokio::spawn(relay_loop(shared.clone(), relay_rx));
    let node_task = NodeTask::new(
        shared.clone(),
        core,
        receivers,
        start,
        relay_tx,
        scp_state_path,
    );

    let (client_listener, client_addr) = bind(&c.client_listen, "--client-listen-uri").await?;
    let (peer_listener, peer_addr) = bind(&c.peer_listen, "--peer-listen-uri").await?;
    let admin = match &c.admin_listen {
        Some(uri) => Some((uri, bind(uri, "--admin-listen-uri").await?)),
        None => None,
    };
    let client_server = serve_port(
        Port::Client,
        shared.clone(),
        &c.client_listen,
        client_listener,
        shutdown_rx.clone(),
        grpc_layer.clone(),
    )?;
    let peer_server = serve_port(
        Port::Peer,
        shared.clone(),
        &c.peer_listen,
        peer_listener,
        shutdown_rx.clone(),
        grpc_layer.clone(),
    )?;
    let admin_server = match admin {
        Some((uri, (listener, addr))) => {
            tracing::info!(%addr, "admin API listening");
            Some(serve_port(
                Port::Admin,
                shared.clone(),
                uri,
                listener,
                shutdown_rx.clone(),
                grpc_layer,
            )?)
        }
        None => None,
    };
    tracing::info!(
        %client_addr, %peer_addr, height = ledger.num_blocks()?,
        peers = shared.peers.len(), "consensus-service listening"
    );

    let driver_task = tokio::spawn(node_task.run());
    let client_task = tokio::spawn(client_server);
    let peer_task = tokio::spawn(peer_server);
    let admin_task = admin_server.map(tokio::spawn);

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    let mut driver_task = driver_task;
    let outcome: anyhow::Result<()> = tokio::select! {
        _ = sigterm.recv() => { tracing::info!("SIGTERM: shutting down"); Ok(()) }
        _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT: shutting down"); Ok(()) }
        r = &mut driver_task => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("the node stopped")),
            Err(e) => Err(anyhow::anyhow!("the node task panicked: {e}")),
        },
    };
    let _ = shutdown_tx.send(true);
    // The node task finishes the block it is appending (LMDB commits atomically either way).
    let _ = tokio::time::timeout(Duration::from_secs(10), driver_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), client_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), peer_task).await;
    if let Some(task) = admin_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    outcome
}

async fn wait_shutdown(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

fn health_and_reflection() -> anyhow::Result<(
    tonic_health::server::HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(mcnode_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("cannot build gRPC reflection")?;
    Ok((reporter, health, reflection))
}

type Layered = tower_layer::Stack<GrpcMetricsLayer, tower_layer::Identity>;

fn server_builder(
    uri: &NodeUri,
    layer: GrpcMetricsLayer,
) -> anyhow::Result<tonic::transport::Server<Layered>> {
    let mut builder = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .concurrency_limit_per_connection(256)
        .http2_keepalive_interval(Some(Duration::from_secs(30)));
    if let Some(tls) = tls::server_tls(uri).context("TLS")? {
        builder = builder.tls_config(tls).context("TLS")?;
    }
    Ok(builder.layer(layer))
}

/// Which of the gRPC ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Port {
    /// Wallets: attested client channels, transactions, ledger reads.
    Client,
    /// Peers: attested peer channels, consensus, transactions, ledger reads.
    Peer,
    /// The operator: `AdminApi`.
    Admin,
}

fn serve_port(
    port: Port,
    shared: Arc<Shared>,
    uri: &NodeUri,
    listener: tokio::net::TcpListener,
    shutdown: watch::Receiver<bool>,
    layer: GrpcMetricsLayer,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use mcnode_api::pb::{
        admin_api_server::AdminApiServer, attested_api_server::AttestedApiServer,
        blockchain_api_server::BlockchainApiServer,
        consensus_client_api_server::ConsensusClientApiServer,
        consensus_peer_api_server::ConsensusPeerApiServer,
    };
    let (flag, name) = match port {
        Port::Client => ("--client-listen-uri", "client"),
        Port::Peer => ("--peer-listen-uri", "peer"),
        Port::Admin => ("--admin-listen-uri", "admin"),
    };
    let (_reporter, health, reflection) = health_and_reflection()?;
    let router = server_builder(uri, layer)
        .with_context(|| format!("{flag} {uri}"))?
        .add_service(health)
        .add_service(reflection);
    let router = match port {
        Port::Admin => router.add_service(AdminApiServer::new(crate::admin::AdminApi(shared))),
        Port::Client => router
            .add_service(BlockchainApiServer::new(services::BlockchainApi(
                shared.clone(),
            )))
            .add_service(AttestedApiServer::new(services::Attested::for_clients(
                shared.clone(),
            )))
            .add_service(ConsensusClientApiServer::new(services::ClientApi(shared))),
        Port::Peer => router
            .add_service(BlockchainApiServer::new(services::BlockchainApi(
                shared.clone(),
            )))
            .add_service(AttestedApiServer::new(services::Attested::for_peers(
                shared.clone(),
            )))
            .add_service(ConsensusPeerApiServer::new(services::PeerApi(shared))),
    };
    Ok(async move {
        if let Err(e) = router
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), wait_shutdown(shutdown))
            .await
        {
            tracing::error!(error = %e, port = name, "gRPC port stopped");
        }
    })
}
