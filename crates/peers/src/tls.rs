//! TLS for node URIs (rustls with the ring provider, through tonic).
//!
//! A TLS listen URI (`mcp://`, `mc://`, `mca://`) names its certificate chain and key
//! (`tls-chain`, `tls-key`, PEM); a TLS peer URI may name a CA bundle (`ca-bundle`) and the
//! name to verify (`tls-hostname`). `insecure-` URIs use plain TCP.

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::NodeUri;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file does not hold what it should.
    #[error("{path} holds no {what} in PEM form")]
    NotPem {
        /// The file.
        path: String,
        /// What was expected.
        what: &'static str,
    },
    /// A listen URI lacks its certificate or key.
    #[error(transparent)]
    Uri(#[from] crate::UriError),
}

/// Installs rustls' ring provider as the process default (idempotent). Call once at
/// start, before any TLS is set up: several providers may be compiled in.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read_pem(path: &Path, what: &'static str, marker: &str) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    if !String::from_utf8_lossy(&bytes).contains(marker) {
        return Err(TlsError::NotPem {
            path: path.display().to_string(),
            what,
        });
    }
    Ok(bytes)
}

/// The server TLS configuration of a listen URI; `None` for `insecure-` URIs.
pub fn server_tls(uri: &NodeUri) -> Result<Option<ServerTlsConfig>, TlsError> {
    if !uri.tls {
        return Ok(None);
    }
    uri.check_listen()?;
    let (Some(chain), Some(key)) = (&uri.tls_chain, &uri.tls_key) else {
        return Err(crate::UriError::ListenNeedsCertificate.into());
    };
    let chain = read_pem(chain, "certificate", "-----BEGIN CERTIFICATE-----")?;
    let key = read_pem(key, "private key", "PRIVATE KEY-----")?;
    Ok(Some(
        ServerTlsConfig::new().identity(Identity::from_pem(chain, key)),
    ))
}

/// The client TLS configuration to reach a peer URI; `None` for `insecure-` URIs. Without
/// `ca-bundle`, the system's usual trust applies (none is bundled here: name a CA).
pub fn client_tls(uri: &NodeUri) -> Result<Option<ClientTlsConfig>, TlsError> {
    if !uri.tls {
        return Ok(None);
    }
    let mut config = ClientTlsConfig::new().domain_name(uri.tls_name().to_string());
    if let Some(ca) = &uri.ca_bundle {
        config = config.ca_certificate(Certificate::from_pem(read_pem(
            ca,
            "CA certificate",
            "-----BEGIN CERTIFICATE-----",
        )?));
    }
    Ok(Some(config))
}
