//! The software enclave (`SGX_MODE=SW`): the whole [`ConsensusEnclave`] in ordinary
//! process memory, with the boundary kept exactly as hardware would enforce it.

use std::{
    collections::{BTreeSet, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use chacha20poly1305::{
    aead::{Aead, KeyInit},
    ChaCha20Poly1305, Key, Nonce,
};
use mcnode_blockchain::{encoding, Block, BlockContents, BlockSignature};
use mcnode_crypto::{merkle::leaf_hash, Ed25519Public, Ed25519Signer};
use mcnode_transaction::{
    membership::Frontier, revalidate_verified, validate, validate_batch, LedgerView,
    LedgerViewError, RootElement, RootProof, Tx,
};
use prost::Message;
use rand_core::{OsRng, RngCore};

use crate::{
    attestation::{check_modes, simulated_ias, Evidence, IasMode, SgxMode},
    channel::{
        check_evidence, client_prologue, noise_params, peer_prologue, read_handshake,
        write_handshake, ChannelId, EncryptedMessage, Transport, CLIENT_NOISE, PEER_NOISE,
    },
    sealing::{seal, unseal, HostSecret},
    ChainSettings, ChannelError, ConsensusEnclave, DropReason, EnclaveError, FormBlockError,
    FormBlockInputs, FormedBlock, HostLedgerState, LocallyEncryptedTx, Measurement, PeerChannel,
    PendingHandshake, TxContext, BUILD_MEASUREMENT,
};

const BLOCK_KEY_PURPOSE: &str = "block-signing-key";

/// Limits on the enclave's sessions. Over a limit, the least recently used session (or
/// the oldest pending handshake) is evicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Established peer channels.
    pub max_peers: usize,
    /// Outgoing handshakes awaiting an answer.
    pub max_pending_handshakes: usize,
    /// Established client channels.
    pub max_clients: usize,
    /// Handshake ephemeral keys remembered to refuse replays.
    pub replay_cache: usize,
    /// Largest decrypted payload (a client tx, or a batch of txs from a peer).
    pub max_message_bytes: usize,
    /// Most transactions in one batch from a peer.
    pub max_txs_per_peer_message: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_peers: 64,
            max_pending_handshakes: 64,
            max_clients: 4096,
            replay_cache: 65_536,
            max_message_bytes: 4 << 20,
            max_txs_per_peer_message: 1024,
        }
    }
}

/// How to start an enclave.
#[derive(Clone, Debug)]
pub struct EnclaveConfig {
    /// Responder id as a peer (`--peer-responder-id`).
    pub peer_responder_id: String,
    /// Responder id towards clients (`--client-responder-id`).
    pub client_responder_id: String,
    /// Chain rules enforced.
    pub chain: ChainSettings,
    /// `SGX_MODE`.
    pub sgx_mode: SgxMode,
    /// `IAS_MODE`.
    pub ias_mode: IasMode,
    /// Session limits.
    pub limits: SessionLimits,
}

/// What [`SoftwareEnclave::new`] did with the sealed key.
#[derive(Clone, Debug)]
pub struct InitReport {
    /// The block-signing key sealed to this host and build: write it to
    /// `--sealed-block-signing-key`.
    pub sealed_key: Vec<u8>,
    /// True when no sealed key opened and a new one was made (a new host or a new build):
    /// the next blocks' signatures show a new signer.
    pub created_new_key: bool,
    /// Why the given sealed key did not open, if it did not.
    pub unseal_error: Option<String>,
}

struct Peer {
    transport: Arc<Mutex<Transport>>,
    responder_id: String,
    last_used: u64,
}

struct Client {
    transport: Arc<Mutex<Transport>>,
    last_used: u64,
}

struct Pending {
    id: PendingHandshake,
    hs: snow::HandshakeState,
    responder_id: String,
}

#[derive(Default)]
struct Sessions {
    tick: u64,
    next_pending: u64,
    pending: VecDeque<Pending>,
    peers: HashMap<ChannelId, Peer>,
    clients: HashMap<ChannelId, Client>,
    seen_ephemerals: HashSet<[u8; 32]>,
    seen_order: VecDeque<[u8; 32]>,
}

impl Sessions {
    fn bump(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

/// The software enclave.
pub struct SoftwareEnclave {
    config: EnclaveConfig,
    measurement: Measurement,
    trusted_authority: Ed25519Public,
    static_private: Vec<u8>,
    static_public: [u8; 32],
    peer_evidence: Evidence,
    client_evidence: Evidence,
    block_signer: Ed25519Signer,
    host_secret: HostSecret,
    local_key: ChaCha20Poly1305,
    sessions: Mutex<Sessions>,
    verified: Mutex<VerifiedTxs>,
}

/// Digests of transaction encodings that passed full validation here, so forming a block
/// re-checks only what the ledger decides (membership, tombstone, fee) and not the range
/// proof and ring signatures again. Bounded: the oldest are forgotten first.
#[derive(Default)]
struct VerifiedTxs {
    set: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

/// Most verified-transaction digests remembered.
const MAX_VERIFIED_TXS: usize = 100_000;

impl VerifiedTxs {
    fn insert(&mut self, digest: [u8; 32]) {
        if self.set.insert(digest) {
            self.order.push_back(digest);
            while self.order.len() > MAX_VERIFIED_TXS {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// A host ledger state with its proofs indexed by output index, for checking many
/// transactions against one read (the host's list is searched linearly).
struct ProofIndex {
    root: Option<RootElement>,
    proofs: HashMap<u64, RootProof>,
}

impl ProofIndex {
    fn new(state: &HostLedgerState) -> Self {
        Self {
            root: state.root_element,
            proofs: state
                .root_proofs
                .iter()
                .map(|p| (p.proof.index, p.clone()))
                .collect(),
        }
    }
}

impl LedgerView for ProofIndex {
    fn root_element(&self) -> Result<RootElement, LedgerViewError> {
        self.root.ok_or(LedgerViewError::Empty)
    }

    fn root_proof(&self, index: u64) -> Result<RootProof, LedgerViewError> {
        self.proofs
            .get(&index)
            .cloned()
            .ok_or_else(|| LedgerViewError::Storage(format!("host gave no proof of index {index}")))
    }
}

fn encoding_digest(plain: &[u8]) -> [u8; 32] {
    mcnode_crypto::hash::hash32("mcnode.enclave.verified-tx.v1", &[plain])
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a session lock leaves only caches behind: keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Clone, PartialEq, prost::Message)]
struct TxBatch {
    #[prost(bytes = "vec", repeated, tag = "1")]
    txs: Vec<Vec<u8>>,
}

impl SoftwareEnclave {
    /// Starts the enclave: checks the modes, unseals the block-signing key (or makes a new
    /// one when it does not open here) and creates the channel identity.
    pub fn new(
        config: EnclaveConfig,
        host_secret: HostSecret,
        sealed_key: Option<&[u8]>,
    ) -> Result<(Self, InitReport), EnclaveError> {
        Self::build(
            config,
            host_secret,
            sealed_key,
            BUILD_MEASUREMENT,
            simulated_ias(),
        )
    }

    /// Test-only: an enclave that claims another measurement.
    #[cfg(feature = "test-utils")]
    pub fn new_with_measurement_for_tests(
        config: EnclaveConfig,
        host_secret: HostSecret,
        measurement: Measurement,
    ) -> Result<(Self, InitReport), EnclaveError> {
        Self::build(config, host_secret, None, measurement, simulated_ias())
    }

    /// Test-only: an enclave whose evidence is signed by another authority.
    #[cfg(feature = "test-utils")]
    pub fn new_with_authority_for_tests(
        config: EnclaveConfig,
        host_secret: HostSecret,
        authority: Ed25519Signer,
    ) -> Result<(Self, InitReport), EnclaveError> {
        Self::build(config, host_secret, None, BUILD_MEASUREMENT, authority)
    }

    fn build(
        config: EnclaveConfig,
        host_secret: HostSecret,
        sealed_key: Option<&[u8]>,
        measurement: Measurement,
        authority: Ed25519Signer,
    ) -> Result<(Self, InitReport), EnclaveError> {
        check_modes(config.sgx_mode, config.ias_mode)?;
        let (block_signer, unseal_error) = match sealed_key {
            Some(sealed) => match unseal(sealed, &host_secret, &measurement, BLOCK_KEY_PURPOSE)
                .and_then(|seed| {
                    <[u8; 32]>::try_from(seed.as_slice()).map_err(|_| crate::SealError::Malformed)
                }) {
                Ok(seed) => (Ed25519Signer::from_seed(&seed), None),
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "sealed block-signing key does not open here; creating a new key \
                         (new host or new enclave build): block signatures will show a new signer"
                    );
                    (Ed25519Signer::random(&mut OsRng), Some(e.to_string()))
                }
            },
            None => (Ed25519Signer::random(&mut OsRng), None),
        };
        let created_new_key = sealed_key.is_none() || unseal_error.is_some();
        let sealed = seal(
            &block_signer.seed(),
            &host_secret,
            &measurement,
            BLOCK_KEY_PURPOSE,
        )?;

        let keypair = snow::Builder::new(noise_params(PEER_NOISE))
            .generate_keypair()
            .map_err(|e| ChannelError::Handshake(e.to_string()))?;
        let static_public: [u8; 32] = keypair
            .public
            .as_slice()
            .try_into()
            .map_err(|_| ChannelError::Handshake("X25519 public key is not 32 bytes".into()))?;
        let digest = config.chain.digest();
        let peer_evidence = Evidence::sign(
            measurement,
            static_public,
            digest,
            config.peer_responder_id.clone(),
            &authority,
        );
        let client_evidence = Evidence::sign(
            measurement,
            static_public,
            digest,
            config.client_responder_id.clone(),
            &authority,
        );
        let mut local = [0u8; 32];
        OsRng.fill_bytes(&mut local);
        let enclave = Self {
            config,
            measurement,
            trusted_authority: simulated_ias().public(),
            static_private: keypair.private,
            static_public,
            peer_evidence,
            client_evidence,
            block_signer,
            host_secret,
            local_key: ChaCha20Poly1305::new(Key::from_slice(&local)),
            sessions: Mutex::new(Sessions::default()),
            verified: Mutex::new(VerifiedTxs::default()),
        };
        Ok((
            enclave,
            InitReport {
                sealed_key: sealed,
                created_new_key,
                unseal_error,
            },
        ))
    }

    /// The configuration.
    pub fn config(&self) -> &EnclaveConfig {
        &self.config
    }

    /// The X25519 static key of this enclave's channels.
    pub fn channel_key(&self) -> [u8; 32] {
        self.static_public
    }

    /// The established peer channels and the responder ids their evidence names.
    pub fn peers(&self) -> Vec<(ChannelId, String)> {
        lock(&self.sessions)
            .peers
            .iter()
            .map(|(id, p)| (*id, p.responder_id.clone()))
            .collect()
    }

    /// Numbers of (pending handshakes, peers, clients) held now.
    pub fn session_counts(&self) -> (usize, usize, usize) {
        let s = lock(&self.sessions);
        (s.pending.len(), s.peers.len(), s.clients.len())
    }

    fn check_size(&self, len: usize) -> Result<(), ChannelError> {
        let limit = self.config.limits.max_message_bytes;
        if len > limit {
            return Err(ChannelError::TooLarge { got: len, limit });
        }
        Ok(())
    }

    /// Refuses a handshake whose ephemeral key was seen before; remembers it otherwise.
    fn note_ephemeral(&self, message: &[u8]) -> Result<(), ChannelError> {
        let e: [u8; 32] = message
            .get(..32)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ChannelError::Handshake("handshake message too short".into()))?;
        let mut s = lock(&self.sessions);
        if !s.seen_ephemerals.insert(e) {
            return Err(ChannelError::ReplayedHandshake);
        }
        s.seen_order.push_back(e);
        while s.seen_order.len() > self.config.limits.replay_cache {
            if let Some(old) = s.seen_order.pop_front() {
                s.seen_ephemerals.remove(&old);
            }
        }
        Ok(())
    }

    fn responder(
        &self,
        pattern: &str,
        prologue: &[u8; 32],
    ) -> Result<snow::HandshakeState, ChannelError> {
        snow::Builder::new(noise_params(pattern))
            .local_private_key(&self.static_private)
            .and_then(|b| b.prologue(prologue))
            .and_then(|b| b.build_responder())
            .map_err(|e| ChannelError::Handshake(e.to_string()))
    }

    /// Reads a peer's handshake message and checks the evidence it carries.
    fn read_peer_evidence(
        &self,
        hs: &mut snow::HandshakeState,
        message: &[u8],
    ) -> Result<Evidence, ChannelError> {
        let payload = read_handshake(hs, message)?;
        check_evidence(
            &payload,
            hs.get_remote_static(),
            &self.measurement,
            &self.config.chain,
            &self.trusted_authority,
        )
    }

    fn insert_peer(&self, transport: Transport, responder_id: String) -> PeerChannel {
        let mut s = lock(&self.sessions);
        let tick = s.bump();
        let channel_id = transport.channel_id;
        s.peers.insert(
            channel_id,
            Peer {
                transport: Arc::new(Mutex::new(transport)),
                responder_id: responder_id.clone(),
                last_used: tick,
            },
        );
        while s.peers.len() > self.config.limits.max_peers {
            let oldest = s
                .peers
                .iter()
                .min_by_key(|(_, p)| p.last_used)
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                tracing::info!(channel = %id, "evicting least recently used peer channel");
                s.peers.remove(&id);
            }
        }
        PeerChannel {
            channel_id,
            responder_id,
        }
    }

    fn peer_transport(&self, id: &ChannelId) -> Result<Arc<Mutex<Transport>>, ChannelError> {
        let mut s = lock(&self.sessions);
        let tick = s.bump();
        let p = s
            .peers
            .get_mut(id)
            .ok_or(ChannelError::UnknownChannel(*id))?;
        p.last_used = tick;
        Ok(p.transport.clone())
    }

    fn client_transport(&self, id: &ChannelId) -> Result<Arc<Mutex<Transport>>, ChannelError> {
        let mut s = lock(&self.sessions);
        let tick = s.bump();
        let c = s
            .clients
            .get_mut(id)
            .ok_or(ChannelError::UnknownChannel(*id))?;
        c.last_used = tick;
        Ok(c.transport.clone())
    }

    fn encrypt_locally(&self, plaintext: &[u8]) -> Result<LocallyEncryptedTx, EnclaveError> {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ct = self
            .local_key
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| ChannelError::Encrypt)?;
        Ok(LocallyEncryptedTx([nonce.as_slice(), &ct].concat()))
    }

    fn decrypt_locally(&self, tx: &LocallyEncryptedTx) -> Result<Tx, EnclaveError> {
        Ok(self.decrypt_locally_with_digest(tx)?.0)
    }

    /// The transaction and the digest of its exact encoding.
    fn decrypt_locally_with_digest(
        &self,
        tx: &LocallyEncryptedTx,
    ) -> Result<(Tx, [u8; 32]), EnclaveError> {
        if tx.0.len() < 12 {
            return Err(EnclaveError::LocalDecrypt);
        }
        let plain = self
            .local_key
            .decrypt(Nonce::from_slice(&tx.0[..12]), &tx.0[12..])
            .map_err(|_| EnclaveError::LocalDecrypt)?;
        Ok((encoding::decode_tx(&plain)?, encoding_digest(&plain)))
    }

    fn context(&self, tx: &Tx, encoded: &[u8]) -> Result<TxContext, EnclaveError> {
        Ok(TxContext {
            encrypted_tx: self.encrypt_locally(encoded)?,
            tx_hash: tx.hash(),
            key_images: tx.key_images(),
            output_public_keys: tx.output_public_keys(),
            highest_indices: tx.highest_membership_indices(),
            fee: tx.prefix.fee,
            tombstone_block: tx.prefix.tombstone_block,
        })
    }
}

impl ConsensusEnclave for SoftwareEnclave {
    fn measurement(&self) -> Measurement {
        self.measurement
    }

    fn evidence(&self) -> Evidence {
        self.peer_evidence.clone()
    }

    fn block_signer(&self) -> Ed25519Public {
        self.block_signer.public()
    }

    fn sealed_block_signing_key(&self) -> Result<Vec<u8>, EnclaveError> {
        Ok(seal(
            &self.block_signer.seed(),
            &self.host_secret,
            &self.measurement,
            BLOCK_KEY_PURPOSE,
        )?)
    }

    fn peer_connect(
        &self,
        peer_responder_id: &str,
    ) -> Result<(PendingHandshake, Vec<u8>), EnclaveError> {
        let prologue = peer_prologue(peer_responder_id, &self.config.chain);
        let mut hs = snow::Builder::new(noise_params(PEER_NOISE))
            .local_private_key(&self.static_private)
            .and_then(|b| b.prologue(&prologue))
            .and_then(|b| b.build_initiator())
            .map_err(|e| ChannelError::Handshake(e.to_string()))?;
        let msg = write_handshake(&mut hs, &self.peer_evidence.to_bytes())?;
        let mut s = lock(&self.sessions);
        s.next_pending += 1;
        let id = PendingHandshake(s.next_pending);
        s.pending.push_back(Pending {
            id,
            hs,
            responder_id: peer_responder_id.to_string(),
        });
        while s.pending.len() > self.config.limits.max_pending_handshakes {
            s.pending.pop_front();
        }
        Ok((id, msg))
    }

    fn peer_connect_finish(
        &self,
        pending: PendingHandshake,
        answer: &[u8],
    ) -> Result<PeerChannel, EnclaveError> {
        let Pending {
            mut hs,
            responder_id,
            ..
        } = {
            let mut s = lock(&self.sessions);
            let pos = s
                .pending
                .iter()
                .position(|p| p.id == pending)
                .ok_or(ChannelError::UnknownPendingHandshake)?;
            s.pending
                .remove(pos)
                .ok_or(ChannelError::UnknownPendingHandshake)?
        };
        let evidence = self.read_peer_evidence(&mut hs, answer)?;
        if evidence.responder_id != responder_id {
            return Err(ChannelError::ResponderIdMismatch {
                expected: responder_id,
                got: evidence.responder_id,
            }
            .into());
        }
        Ok(self.insert_peer(Transport::from_handshake(hs), responder_id))
    }

    fn peer_accept(&self, message: &[u8]) -> Result<(PeerChannel, Vec<u8>), EnclaveError> {
        self.note_ephemeral(message)?;
        let prologue = peer_prologue(&self.config.peer_responder_id, &self.config.chain);
        let mut hs = self.responder(PEER_NOISE, &prologue)?;
        let evidence = self.read_peer_evidence(&mut hs, message)?;
        let answer = write_handshake(&mut hs, &self.peer_evidence.to_bytes())?;
        let channel = self.insert_peer(Transport::from_handshake(hs), evidence.responder_id);
        Ok((channel, answer))
    }

    fn peer_close(&self, channel: &ChannelId) {
        lock(&self.sessions).peers.remove(channel);
    }

    fn client_accept(&self, message: &[u8]) -> Result<(ChannelId, Vec<u8>), EnclaveError> {
        self.note_ephemeral(message)?;
        let prologue = client_prologue(&self.config.client_responder_id, &self.config.chain);
        let mut hs = self.responder(CLIENT_NOISE, &prologue)?;
        read_handshake(&mut hs, message)?;
        let answer = write_handshake(&mut hs, &self.client_evidence.to_bytes())?;
        let transport = Transport::from_handshake(hs);
        let id = transport.channel_id;
        let mut s = lock(&self.sessions);
        let tick = s.bump();
        s.clients.insert(
            id,
            Client {
                transport: Arc::new(Mutex::new(transport)),
                last_used: tick,
            },
        );
        while s.clients.len() > self.config.limits.max_clients {
            let oldest = s
                .clients
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(id, _)| *id);
            if let Some(old) = oldest {
                s.clients.remove(&old);
            }
        }
        Ok((id, answer))
    }

    fn client_close(&self, channel: &ChannelId) {
        lock(&self.sessions).clients.remove(channel);
    }

    fn client_tx_propose(&self, message: &EncryptedMessage) -> Result<TxContext, EnclaveError> {
        self.check_size(message.ciphertext.len())?;
        let transport = self.client_transport(&message.channel_id)?;
        let plain = lock(&transport).decrypt(message)?;
        let tx = encoding::decode_tx(&plain)?;
        self.context(&tx, &plain)
    }

    fn tx_is_well_formed(
        &self,
        tx: &LocallyEncryptedTx,
        block_index: u64,
        ledger: &HostLedgerState,
    ) -> Result<[u8; 32], EnclaveError> {
        let (tx, digest) = self.decrypt_locally_with_digest(tx)?;
        let hash = validate(&tx, block_index, self.config.chain.minimum_fee, ledger)?;
        lock(&self.verified).insert(digest);
        Ok(hash)
    }

    fn txs_are_well_formed(
        &self,
        txs: &[LocallyEncryptedTx],
        block_index: u64,
        ledger: &HostLedgerState,
    ) -> Vec<Result<[u8; 32], EnclaveError>> {
        let mut verdicts: Vec<Option<Result<[u8; 32], EnclaveError>>> =
            Vec::with_capacity(txs.len());
        let mut decoded = Vec::new();
        let mut digests = Vec::new();
        for tx in txs {
            match self.decrypt_locally_with_digest(tx) {
                Ok((tx, digest)) => {
                    verdicts.push(None);
                    decoded.push(tx);
                    digests.push(digest);
                }
                Err(e) => verdicts.push(Some(Err(e))),
            }
        }
        let view = ProofIndex::new(ledger);
        let checked = validate_batch(&decoded, block_index, self.config.chain.minimum_fee, &view);
        let mut verified = lock(&self.verified);
        let mut checked = checked.into_iter().zip(digests);
        for slot in verdicts.iter_mut().filter(|v| v.is_none()) {
            if let Some((verdict, digest)) = checked.next() {
                if verdict.is_ok() {
                    verified.insert(digest);
                }
                *slot = Some(verdict.map_err(Into::into));
            }
        }
        drop(verified);
        verdicts
            .into_iter()
            .map(|v| v.unwrap_or(Err(EnclaveError::LocalDecrypt)))
            .collect()
    }

    fn txs_for_peer(
        &self,
        txs: &[LocallyEncryptedTx],
        peer: &ChannelId,
    ) -> Result<EncryptedMessage, EnclaveError> {
        let mut batch = TxBatch {
            txs: Vec::with_capacity(txs.len()),
        };
        for tx in txs {
            batch
                .txs
                .push(encoding::encode_tx(&self.decrypt_locally(tx)?));
        }
        let bytes = batch.encode_to_vec();
        self.check_size(bytes.len())?;
        let transport = self.peer_transport(peer)?;
        let msg = lock(&transport).encrypt(&bytes)?;
        Ok(msg)
    }

    fn peer_tx_propose(&self, message: &EncryptedMessage) -> Result<Vec<TxContext>, EnclaveError> {
        self.check_size(message.ciphertext.len())?;
        let transport = self.peer_transport(&message.channel_id)?;
        let plain = lock(&transport).decrypt(message)?;
        let batch = TxBatch::decode(plain.as_slice()).map_err(|e| {
            mcnode_blockchain::DecodeError::Malformed {
                message: "TxBatch",
                reason: e.to_string(),
            }
        })?;
        if batch.txs.len() > self.config.limits.max_txs_per_peer_message {
            return Err(ChannelError::TooLarge {
                got: batch.txs.len(),
                limit: self.config.limits.max_txs_per_peer_message,
            }
            .into());
        }
        batch
            .txs
            .iter()
            .map(|bytes| {
                let tx = encoding::decode_tx(bytes)?;
                self.context(&tx, bytes)
            })
            .collect()
    }

    fn form_block(&self, inputs: FormBlockInputs) -> Result<FormedBlock, EnclaveError> {
        let FormBlockInputs {
            parent,
            ledger,
            txs,
            spent_key_images,
            existing_output_keys,
            signed_at,
        } = inputs;
        if ledger.root_element != Some(parent.root_element) {
            return Err(FormBlockError::RootMismatch.into());
        }
        if parent.version > self.config.chain.block_version {
            return Err(FormBlockError::VersionBelowParent {
                parent: parent.version,
                configured: self.config.chain.block_version,
            }
            .into());
        }
        let last = parent
            .cumulative_txo_count
            .checked_sub(1)
            .ok_or_else(|| FormBlockError::LastOutput("parent block has no outputs".into()))?;
        let last_proof = ledger
            .root_proof(last)
            .map_err(|e| FormBlockError::LastOutput(e.to_string()))?;
        let mut frontier = Frontier::new(
            &last_proof.proof,
            leaf_hash(&last_proof.tx_out_hash),
            &parent.root_element,
        )
        .map_err(|e| FormBlockError::LastOutput(e.to_string()))?;

        let block_index = parent.index + 1;
        let mut key_images = Vec::new();
        let mut outputs = Vec::new();
        let mut seen_images = BTreeSet::new();
        let mut seen_outputs = BTreeSet::new();
        let mut included = Vec::new();
        let mut dropped = Vec::new();
        for encrypted in &txs {
            let Ok((tx, digest)) = self.decrypt_locally_with_digest(encrypted) else {
                dropped.push((None, DropReason::Undecodable));
                continue;
            };
            let verified = lock(&self.verified).set.contains(&digest);
            let fee = self.config.chain.minimum_fee;
            let checked = if verified {
                revalidate_verified(&tx, block_index, fee, &ledger)
            } else {
                validate(&tx, block_index, fee, &ledger)
            };
            if checked.is_ok() && !verified {
                lock(&self.verified).insert(digest);
            }
            let hash = match checked {
                Ok(h) => h,
                Err(e) => {
                    dropped.push((Some(tx.hash()), DropReason::Invalid(e)));
                    continue;
                }
            };
            let images = tx.key_images();
            if images
                .iter()
                .any(|k| spent_key_images.contains(k) || seen_images.contains(k))
            {
                dropped.push((Some(hash), DropReason::KeyImageSpent));
                continue;
            }
            let keys = tx.output_public_keys();
            if keys
                .iter()
                .any(|k| existing_output_keys.contains(k) || seen_outputs.contains(k))
            {
                dropped.push((Some(hash), DropReason::OutputKeyExists));
                continue;
            }
            seen_images.extend(images.iter().copied());
            seen_outputs.extend(keys.iter().copied());
            key_images.extend(images);
            outputs.extend(tx.prefix.outputs.iter().copied());
            included.push(hash);
        }
        if outputs.is_empty() {
            return Err(FormBlockError::NoValidTransactions.into());
        }
        let contents = BlockContents::new(key_images, outputs);
        for o in &contents.outputs {
            frontier.push(o).map_err(FormBlockError::Frontier)?;
        }
        let root = frontier.root().map_err(FormBlockError::Frontier)?;
        let block = Block::new_child_at(self.config.chain.block_version, &parent, &contents, root);
        let signature = BlockSignature::sign(&block, &self.block_signer, signed_at);
        Ok(FormedBlock {
            block,
            contents,
            signature,
            included,
            dropped,
        })
    }
}
