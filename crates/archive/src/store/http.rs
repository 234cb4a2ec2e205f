//! A read-only archive over HTTP(S) (`https://host/path/`): `GET base + key`.
//!
//! For archives published through a web server or a CDN in front of a bucket. Writes are
//! refused with [`StoreError::ReadOnly`]; listing is not possible over plain HTTP.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;

use super::{ArchiveStore, StoreError, MAX_OBJECT_BYTES};

/// An archive behind an HTTP(S) base URL.
#[derive(Debug, Clone)]
pub struct HttpStore {
    base: url::Url,
    client: reqwest::Client,
}

impl HttpStore {
    /// A client for the archive at `base` (ending in `/`). Installs the ring crypto
    /// provider if none is.
    pub fn new(base: url::Url) -> Result<Self, StoreError> {
        super::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| StoreError::InvalidUrl {
                url: base.to_string(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Self { base, client })
    }

    fn url(&self, key: &str) -> Result<url::Url, StoreError> {
        self.base.join(key).map_err(|e| StoreError::Permanent {
            store: self.describe(),
            op: "resolve",
            key: key.to_string(),
            detail: e.to_string(),
        })
    }

    fn transient(&self, op: &'static str, key: &str, detail: String) -> StoreError {
        StoreError::Transient {
            store: self.describe(),
            op,
            key: key.to_string(),
            detail,
        }
    }

    fn status_err(&self, op: &'static str, key: &str, status: StatusCode) -> StoreError {
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => StoreError::Credentials {
                store: self.describe(),
                detail: format!("HTTP {status} for {key}"),
            },
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                self.transient(op, key, format!("HTTP {s}"))
            }
            s => StoreError::Permanent {
                store: self.describe(),
                op,
                key: key.to_string(),
                detail: format!("HTTP {s}"),
            },
        }
    }
}

impl ArchiveStore for HttpStore {
    fn describe(&self) -> String {
        self.base.to_string()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let mut resp = self
            .client
            .get(self.url(key)?)
            .send()
            .await
            .map_err(|e| self.transient("get", key, e.to_string()))?;
        match resp.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if s.is_success() => {}
            s => return Err(self.status_err("get", key, s)),
        }
        let too_large = |size: u64| StoreError::TooLarge {
            store: self.describe(),
            key: key.to_string(),
            size,
        };
        if let Some(len) = resp.content_length() {
            if len > MAX_OBJECT_BYTES {
                return Err(too_large(len));
            }
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transient("get", key, e.to_string()))?
        {
            if (buf.len() + chunk.len()) as u64 > MAX_OBJECT_BYTES {
                return Err(too_large((buf.len() + chunk.len()) as u64));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Some(buf.freeze()))
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let resp = self
            .client
            .head(self.url(key)?)
            .send()
            .await
            .map_err(|e| self.transient("head", key, e.to_string()))?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            s => Err(self.status_err("head", key, s)),
        }
    }

    async fn put(&self, _key: &str, _bytes: Bytes) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly {
            store: self.describe(),
        })
    }

    async fn delete(&self, _key: &str) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly {
            store: self.describe(),
        })
    }

    async fn list(&self) -> Result<Vec<String>, StoreError> {
        Err(StoreError::Permanent {
            store: self.describe(),
            op: "list",
            key: String::new(),
            detail: "an HTTP archive cannot be listed".into(),
        })
    }

    async fn probe(&self, for_write: bool) -> Result<(), StoreError> {
        if for_write {
            return Err(StoreError::ReadOnly {
                store: self.describe(),
            });
        }
        // Reachable and not refusing us: the origin block's object answers 200 or 404.
        self.exists(&crate::layout::block_key(0)).await.map(|_| ())
    }
}
