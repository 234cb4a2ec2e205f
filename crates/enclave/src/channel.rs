//! Attested channels: Noise handshakes that carry attestation evidence, then AEAD frames
//! with channel ids and explicit nonces.
//!
//! * Peers: `Noise_IX_25519_ChaChaPoly_SHA256`. Each side sends its evidence; each checks
//!   the other's authority, measurement, chain settings and that the evidence names the
//!   static key the handshake authenticated.
//! * Clients: `Noise_NX_25519_ChaChaPoly_SHA256`. Only the enclave is authenticated; the
//!   client checks the evidence against the measurement it expects.
//! * The prologue binds the responder's id and the chain-settings digest, so mismatched
//!   nodes cannot complete a handshake even if a check were skipped.
//! * After the handshake, both directions use ChaCha20-Poly1305 under the Noise split keys
//!   with an explicit 64-bit nonce per frame (no 64 KiB Noise message limit); the
//!   associated data is `channel id || nonce`; a receiver accepts each nonce once, within
//!   a sliding window of [`REPLAY_WINDOW`] below the highest seen.

use core::fmt;

use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    ChaCha20Poly1305, Key, Nonce,
};
use mcnode_crypto::hash::DomainHasher;

use crate::{
    attestation::{simulated_ias, Evidence},
    ChainSettings, ChannelError, Measurement,
};

/// Noise pattern of peer channels.
pub const PEER_NOISE: &str = "Noise_IX_25519_ChaChaPoly_SHA256";
/// Noise pattern of client channels.
pub const CLIENT_NOISE: &str = "Noise_NX_25519_ChaChaPoly_SHA256";
/// Largest handshake message.
pub const MAX_HANDSHAKE_MESSAGE: usize = 65_535;
/// How far below the highest nonce seen a frame may still arrive (reordering tolerance).
pub const REPLAY_WINDOW: u64 = 64;

/// Identifies a channel: the first 16 bytes of the Noise handshake hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub [u8; 16]);

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({})", hex::encode(self.0))
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// One encrypted frame on an attested channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedMessage {
    /// The channel it belongs to.
    pub channel_id: ChannelId,
    /// The sender's frame counter.
    pub nonce: u64,
    /// ChaCha20-Poly1305 ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

/// The prologue of a peer handshake with the node serving as `responder_id`.
pub fn peer_prologue(responder_id: &str, chain: &ChainSettings) -> [u8; 32] {
    let mut h = DomainHasher::new("mcnode.channel.peer-prologue.v1");
    h.update(responder_id.as_bytes()).update(&chain.digest());
    h.finish()
}

/// The prologue of a client handshake with the node serving as `client_responder_id`.
pub fn client_prologue(client_responder_id: &str, chain: &ChainSettings) -> [u8; 32] {
    let mut h = DomainHasher::new("mcnode.channel.client-prologue.v1");
    h.update(client_responder_id.as_bytes())
        .update(&chain.digest());
    h.finish()
}

/// Accepts each nonce at most once, tolerating reordering within [`REPLAY_WINDOW`].
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplayWindow {
    /// One more than the highest nonce accepted (0: none yet).
    next: u64,
    /// Bit `i` set: nonce `next - 1 - i` was accepted.
    seen: u64,
}

impl ReplayWindow {
    /// Whether `nonce` would be fresh (does not record it).
    pub(crate) fn is_fresh(&self, nonce: u64) -> bool {
        if nonce >= self.next {
            return true;
        }
        let back = self.next - 1 - nonce;
        back < REPLAY_WINDOW && self.seen & (1 << back) == 0
    }

    /// Records `nonce` (call only after the frame authenticated).
    pub(crate) fn record(&mut self, nonce: u64) {
        if nonce >= self.next {
            let shift = nonce - self.next + 1;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.next = nonce + 1;
        } else {
            self.seen |= 1 << (self.next - 1 - nonce);
        }
    }
}

/// The symmetric half of an established channel.
pub(crate) struct Transport {
    pub(crate) channel_id: ChannelId,
    send: ChaCha20Poly1305,
    recv: ChaCha20Poly1305,
    next_nonce: u64,
    window: ReplayWindow,
}

fn nonce_bytes(n: u64) -> Nonce {
    let mut b = [0u8; 12];
    b[4..].copy_from_slice(&n.to_le_bytes());
    Nonce::from(b)
}

fn aad(channel: &ChannelId, nonce: u64) -> [u8; 24] {
    let mut a = [0u8; 24];
    a[..16].copy_from_slice(&channel.0);
    a[16..].copy_from_slice(&nonce.to_le_bytes());
    a
}

impl Transport {
    /// From a finished Noise handshake.
    pub(crate) fn from_handshake(mut hs: snow::HandshakeState) -> Self {
        let mut id = [0u8; 16];
        id.copy_from_slice(&hs.get_handshake_hash()[..16]);
        let initiator = hs.is_initiator();
        let (i_to_r, r_to_i) = hs.dangerously_get_raw_split();
        let (send, recv) = if initiator {
            (i_to_r, r_to_i)
        } else {
            (r_to_i, i_to_r)
        };
        Self {
            channel_id: ChannelId(id),
            send: ChaCha20Poly1305::new(Key::from_slice(&send)),
            recv: ChaCha20Poly1305::new(Key::from_slice(&recv)),
            next_nonce: 0,
            window: ReplayWindow::default(),
        }
    }

    pub(crate) fn encrypt(&mut self, plaintext: &[u8]) -> Result<EncryptedMessage, ChannelError> {
        let nonce = self.next_nonce;
        self.next_nonce = nonce.checked_add(1).ok_or(ChannelError::NoncesExhausted)?;
        let ciphertext = self
            .send
            .encrypt(
                &nonce_bytes(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad(&self.channel_id, nonce),
                },
            )
            .map_err(|_| ChannelError::Encrypt)?;
        Ok(EncryptedMessage {
            channel_id: self.channel_id,
            nonce,
            ciphertext,
        })
    }

    pub(crate) fn decrypt(&mut self, msg: &EncryptedMessage) -> Result<Vec<u8>, ChannelError> {
        if !self.window.is_fresh(msg.nonce) {
            return Err(ChannelError::ReplayedFrame(msg.nonce));
        }
        let plain = self
            .recv
            .decrypt(
                &nonce_bytes(msg.nonce),
                Payload {
                    msg: &msg.ciphertext,
                    aad: &aad(&self.channel_id, msg.nonce),
                },
            )
            .map_err(|_| ChannelError::Decrypt)?;
        self.window.record(msg.nonce);
        Ok(plain)
    }
}

/// Reads one handshake message; returns its payload.
pub(crate) fn read_handshake(
    hs: &mut snow::HandshakeState,
    message: &[u8],
) -> Result<Vec<u8>, ChannelError> {
    let mut payload = vec![0u8; MAX_HANDSHAKE_MESSAGE];
    let n = hs
        .read_message(message, &mut payload)
        .map_err(|e| ChannelError::Handshake(e.to_string()))?;
    payload.truncate(n);
    Ok(payload)
}

/// Writes one handshake message carrying `payload`.
pub(crate) fn write_handshake(
    hs: &mut snow::HandshakeState,
    payload: &[u8],
) -> Result<Vec<u8>, ChannelError> {
    let mut message = vec![0u8; MAX_HANDSHAKE_MESSAGE];
    let n = hs
        .write_message(payload, &mut message)
        .map_err(|e| ChannelError::Handshake(e.to_string()))?;
    message.truncate(n);
    Ok(message)
}

pub(crate) fn noise_params(pattern: &str) -> snow::params::NoiseParams {
    pattern
        .parse()
        .unwrap_or_else(|_| unreachable!("valid Noise pattern {pattern}"))
}

/// Checks a remote enclave's evidence: authority, signature, measurement, chain settings,
/// and that it names the static key the handshake authenticated.
pub(crate) fn check_evidence(
    payload: &[u8],
    remote_static: Option<&[u8]>,
    measurement: &Measurement,
    chain: &ChainSettings,
    authority: &mcnode_crypto::Ed25519Public,
) -> Result<Evidence, ChannelError> {
    let evidence = Evidence::from_bytes(payload).map_err(ChannelError::Evidence)?;
    evidence.verify(authority).map_err(ChannelError::Evidence)?;
    if evidence.measurement != *measurement {
        return Err(ChannelError::MeasurementMismatch {
            ours: *measurement,
            theirs: evidence.measurement,
        });
    }
    if evidence.chain_digest != chain.digest() {
        return Err(ChannelError::ChainSettingsMismatch);
    }
    if remote_static != Some(&evidence.channel_key[..]) {
        return Err(ChannelError::EvidenceKeyMismatch);
    }
    Ok(evidence)
}

/// The wallet's side of a client channel: checks the node's enclave and encrypts
/// transactions for it.
pub struct ClientChannel {
    transport: Transport,
    evidence: Evidence,
}

/// A client handshake waiting for the node's answer.
pub struct PendingClientChannel {
    hs: snow::HandshakeState,
    expected_measurement: Measurement,
    chain: ChainSettings,
    responder_id: String,
}

impl ClientChannel {
    /// Starts a handshake with the node at `client_responder_id`, expecting an enclave of
    /// `measurement` enforcing `chain`. Returns the first handshake message to send.
    pub fn start(
        client_responder_id: &str,
        measurement: Measurement,
        chain: ChainSettings,
    ) -> Result<(PendingClientChannel, Vec<u8>), ChannelError> {
        let prologue = client_prologue(client_responder_id, &chain);
        let mut hs = snow::Builder::new(noise_params(CLIENT_NOISE))
            .prologue(&prologue)
            .and_then(|b| b.build_initiator())
            .map_err(|e| ChannelError::Handshake(e.to_string()))?;
        let msg = write_handshake(&mut hs, &[])?;
        Ok((
            PendingClientChannel {
                hs,
                expected_measurement: measurement,
                chain,
                responder_id: client_responder_id.to_string(),
            },
            msg,
        ))
    }

    /// The node's evidence, as checked.
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// The channel id.
    pub fn channel_id(&self) -> ChannelId {
        self.transport.channel_id
    }

    /// Encrypts a payload (an encoded transaction) for the enclave.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<EncryptedMessage, ChannelError> {
        self.transport.encrypt(plaintext)
    }

    /// Decrypts a frame from the enclave.
    pub fn decrypt(&mut self, msg: &EncryptedMessage) -> Result<Vec<u8>, ChannelError> {
        self.transport.decrypt(msg)
    }
}

impl PendingClientChannel {
    /// Finishes the handshake with the node's answer, checking its evidence.
    pub fn finish(mut self, answer: &[u8]) -> Result<ClientChannel, ChannelError> {
        let payload = read_handshake(&mut self.hs, answer)?;
        let evidence = check_evidence(
            &payload,
            self.hs.get_remote_static(),
            &self.expected_measurement,
            &self.chain,
            &simulated_ias().public(),
        )?;
        if evidence.responder_id != self.responder_id {
            return Err(ChannelError::ResponderIdMismatch {
                expected: self.responder_id,
                got: evidence.responder_id,
            });
        }
        Ok(ClientChannel {
            transport: Transport::from_handshake(self.hs),
            evidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window_accepts_each_nonce_once() {
        let mut w = ReplayWindow::default();
        for n in [0u64, 2, 1, 5, 3, 70, 10] {
            assert!(w.is_fresh(n), "{n}");
            w.record(n);
            assert!(!w.is_fresh(n), "{n} twice");
        }
        assert!(!w.is_fresh(70), "seen");
        assert!(w.is_fresh(9), "within window, unseen");
        assert!(!w.is_fresh(6), "below the window");
        assert!(w.is_fresh(71));
    }
}
