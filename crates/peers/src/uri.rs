//! Node URIs: where a node listens and how to reach a peer.
//!
//! | scheme | use | default port | TLS |
//! |---|---|---|---|
//! | `mc://` / `insecure-mc://` | client API (`--client-listen-uri`) | 3223 | yes / no |
//! | `mcp://` / `insecure-mcp://` | peer API (`--peer-listen-uri`, `broadcast_peers`) | 8443 | yes / no |
//! | `mca://` / `insecure-mca://` | admin gRPC (`--admin-listen-uri`) | 9091 | yes / no |
//!
//! Query parameters: `tls-chain` and `tls-key` (PEM files, to listen with TLS),
//! `ca-bundle` (PEM, to verify a peer) and `tls-hostname` (name to verify instead of the
//! host), `consensus-msg-key` (the peer's Ed25519 public key: base64url DER or hex) and
//! `responder-id` (`host:port`, the peer's id in quorum sets; defaults to the URI's
//! `host:port`). Each mistake is its own [`UriError`]; nothing is silently ignored.

use core::{fmt, str::FromStr};
use std::path::PathBuf;

use mcnode_crypto::Ed25519Public;

/// What a URI is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// Client transactions (`mc`).
    Client,
    /// Peer consensus (`mcp`).
    Peer,
    /// Admin gRPC (`mca`).
    Admin,
}

impl Service {
    /// The scheme without the `insecure-` prefix.
    pub fn scheme(self) -> &'static str {
        match self {
            Self::Client => "mc",
            Self::Peer => "mcp",
            Self::Admin => "mca",
        }
    }

    /// The port used when a URI names none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Client => 3223,
            Self::Peer => 8443,
            Self::Admin => 9091,
        }
    }
}

/// A node's identity in quorum sets and broadcasts: `host:port`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResponderId(String);

impl ResponderId {
    /// The `host:port` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResponderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ResponderId {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || UriError::BadResponderId(s.to_string());
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let host_ok = !host.is_empty()
            && host.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':')
            });
        if !host_ok || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(bad());
        }
        Ok(Self(s.to_string()))
    }
}

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not a URI at all.
    #[error("{uri:?} is not a URI: {reason}")]
    Parse {
        /// The text.
        uri: String,
        /// What the parser said.
        reason: String,
    },
    /// The scheme is not the expected one (or not one of ours).
    #[error("scheme {got:?} where {expected} or insecure-{expected} was expected")]
    WrongScheme {
        /// What the URI has.
        got: String,
        /// What this URI is for.
        expected: &'static str,
    },
    /// No host.
    #[error("URI has no host")]
    MissingHost,
    /// A path, user or fragment that means nothing here.
    #[error("URI has an unexpected {0}")]
    Unexpected(&'static str),
    /// An unknown query parameter (probably a typo).
    #[error("unknown parameter {0:?} (known: tls-chain, tls-key, ca-bundle, tls-hostname, consensus-msg-key, responder-id)")]
    UnknownParameter(String),
    /// A parameter given twice.
    #[error("parameter {0:?} given twice")]
    DuplicateParameter(String),
    /// A parameter with an empty value.
    #[error("parameter {0:?} is empty")]
    EmptyParameter(String),
    /// `consensus-msg-key` does not parse.
    #[error("consensus-msg-key: {0}")]
    BadConsensusMsgKey(String),
    /// `responder-id` is not `host:port`.
    #[error("responder id {0:?} is not host:port")]
    BadResponderId(String),
    /// A TLS parameter on an `insecure-` URI.
    #[error("{0} makes no sense on an insecure- URI")]
    TlsParameterOnInsecure(&'static str),
    /// Listening with TLS needs both `tls-chain` and `tls-key`.
    #[error("a TLS listen URI needs both tls-chain and tls-key")]
    ListenNeedsCertificate,
    /// A peer to connect to needs `consensus-msg-key`.
    #[error("a peer URI needs consensus-msg-key (the peer's message-signing public key)")]
    PeerNeedsMsgKey,
}

/// A parsed node URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUri {
    /// What it is for.
    pub service: Service,
    /// False for `insecure-` schemes.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port (the service's default if the URI names none).
    pub port: u16,
    /// `tls-chain`.
    pub tls_chain: Option<PathBuf>,
    /// `tls-key`.
    pub tls_key: Option<PathBuf>,
    /// `ca-bundle`.
    pub ca_bundle: Option<PathBuf>,
    /// `tls-hostname`.
    pub tls_hostname: Option<String>,
    /// `consensus-msg-key`.
    pub consensus_msg_key: Option<Ed25519Public>,
    /// `responder-id`.
    pub responder_id_param: Option<ResponderId>,
}

impl NodeUri {
    /// Parses `text` as a URI for `service`.
    pub fn parse(text: &str, service: Service) -> Result<Self, UriError> {
        let url = url::Url::parse(text.trim()).map_err(|e| UriError::Parse {
            uri: text.to_string(),
            reason: e.to_string(),
        })?;
        let expected = service.scheme();
        let tls = match url.scheme() {
            s if s == expected => true,
            s if s.strip_prefix("insecure-") == Some(expected) => false,
            s => {
                return Err(UriError::WrongScheme {
                    got: s.to_string(),
                    expected,
                })
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(UriError::MissingHost)?
            .to_string();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UriError::Unexpected("user name"));
        }
        if !(url.path().is_empty() || url.path() == "/") {
            return Err(UriError::Unexpected("path"));
        }
        if url.fragment().is_some() {
            return Err(UriError::Unexpected("fragment"));
        }
        let mut uri = NodeUri {
            service,
            tls,
            port: url.port().unwrap_or(service.default_port()),
            host,
            tls_chain: None,
            tls_key: None,
            ca_bundle: None,
            tls_hostname: None,
            consensus_msg_key: None,
            responder_id_param: None,
        };
        let mut seen = std::collections::BTreeSet::new();
        for (k, v) in url.query_pairs() {
            let (k, v) = (k.to_string(), v.to_string());
            if !seen.insert(k.clone()) {
                return Err(UriError::DuplicateParameter(k));
            }
            if v.is_empty() {
                return Err(UriError::EmptyParameter(k));
            }
            let tls_only = |name: &'static str| {
                if tls {
                    Ok(())
                } else {
                    Err(UriError::TlsParameterOnInsecure(name))
                }
            };
            match k.as_str() {
                "tls-chain" => {
                    tls_only("tls-chain")?;
                    uri.tls_chain = Some(v.into());
                }
                "tls-key" => {
                    tls_only("tls-key")?;
                    uri.tls_key = Some(v.into());
                }
                "ca-bundle" => {
                    tls_only("ca-bundle")?;
                    uri.ca_bundle = Some(v.into());
                }
                "tls-hostname" => {
                    tls_only("tls-hostname")?;
                    uri.tls_hostname = Some(v);
                }
                "consensus-msg-key" => {
                    uri.consensus_msg_key = Some(
                        Ed25519Public::parse(&v)
                            .map_err(|e| UriError::BadConsensusMsgKey(e.to_string()))?,
                    );
                }
                "responder-id" => uri.responder_id_param = Some(v.parse()?),
                _ => return Err(UriError::UnknownParameter(k)),
            }
        }
        Ok(uri)
    }

    /// Checks the URI can be listened on: with TLS, both `tls-chain` and `tls-key`.
    pub fn check_listen(&self) -> Result<(), UriError> {
        if self.tls && (self.tls_chain.is_none() || self.tls_key.is_none()) {
            return Err(UriError::ListenNeedsCertificate);
        }
        Ok(())
    }

    /// Checks the URI names a peer we can verify: `consensus-msg-key` present.
    pub fn check_peer(&self) -> Result<(), UriError> {
        if self.consensus_msg_key.is_none() {
            return Err(UriError::PeerNeedsMsgKey);
        }
        Ok(())
    }

    /// The responder id: the `responder-id` parameter, else `host:port`.
    pub fn responder_id(&self) -> ResponderId {
        self.responder_id_param
            .clone()
            .unwrap_or_else(|| ResponderId(format!("{}:{}", self.host, self.port)))
    }

    /// `host:port`, to bind or dial.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The name TLS verifies: `tls-hostname`, else the host.
    pub fn tls_name(&self) -> &str {
        self.tls_hostname.as_deref().unwrap_or(&self.host)
    }
}

impl fmt::Display for NodeUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = if self.tls { "" } else { "insecure-" };
        write!(f, "{prefix}{}://{}/", self.service.scheme(), self.address())?;
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(p) = &self.tls_chain {
            params.push(("tls-chain", p.display().to_string()));
        }
        if let Some(p) = &self.tls_key {
            params.push(("tls-key", p.display().to_string()));
        }
        if let Some(p) = &self.ca_bundle {
            params.push(("ca-bundle", p.display().to_string()));
        }
        if let Some(h) = &self.tls_hostname {
            params.push(("tls-hostname", h.clone()));
        }
        if let Some(k) = &self.consensus_msg_key {
            params.push(("consensus-msg-key", k.to_base64url_der()));
        }
        if let Some(r) = &self.responder_id_param {
            params.push(("responder-id", r.to_string()));
        }
        for (i, (k, v)) in params.iter().enumerate() {
            let encoded: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
            write!(f, "{}{k}={encoded}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}
