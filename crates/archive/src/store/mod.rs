//! Where archives are kept: one interface ([`ArchiveStore`]) over S3 ([`S3Store`]),
//! directories ([`DirStore`]) and read-only HTTP(S) ([`HttpStore`]); [`AnyStore`] picks one
//! from an [`ArchiveUrl`].
//!
//! Keys are the relative paths of [`crate::layout`]; each store puts them under its root
//! (bucket prefix, directory, base URL). A `put` that returned `Ok` is durable (S3 answered
//! 200; a directory write was fsynced and renamed into place), which is what lets the writer
//! record progress after it.

mod dir;
mod http;
mod s3;

use std::{fmt, future::Future, path::PathBuf};

use bytes::Bytes;

pub use dir::DirStore;
pub use http::HttpStore;
pub use s3::{S3Config, S3Store};

/// Largest object a store returns (a 10 000-block bundle of small blocks is a few MB; this
/// bounds memory against a hostile or broken server).
pub const MAX_OBJECT_BYTES: u64 = 1 << 30;

/// Why a store operation failed. [`StoreError::is_fatal`] separates what retrying cannot
/// fix (credentials, a missing bucket, a read-only store) from what it may (network, 5xx).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The archive URL is not one this build understands.
    #[error("invalid archive url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server refused the credentials or their permissions.
    #[error(
        "{store}: access refused ({detail}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
         and that they may read and write the bucket"
    )]
    Credentials {
        /// The store (URL).
        store: String,
        /// What the server said.
        detail: String,
    },
    /// The bucket (or the archive directory) does not exist.
    #[error("{store}: {what} does not exist; create it or fix --dest / AWS_PATH ({detail})")]
    Missing {
        /// The store (URL).
        store: String,
        /// "bucket NAME" or "directory PATH".
        what: String,
        /// What the server or the file system said.
        detail: String,
    },
    /// The store cannot be written (HTTP archives are read-only).
    #[error("{store} is read-only (use s3:// or file:// to write an archive)")]
    ReadOnly {
        /// The store (URL).
        store: String,
    },
    /// An object is larger than [`MAX_OBJECT_BYTES`].
    #[error("{store}: object {key} is {size} bytes, over the limit of {MAX_OBJECT_BYTES}")]
    TooLarge {
        /// The store (URL).
        store: String,
        /// The object's key.
        key: String,
        /// Its size.
        size: u64,
    },
    /// A request failed in a way a retry may fix (network, timeout, server error).
    #[error("{store}: {op} {key} failed: {detail}")]
    Transient {
        /// The store (URL).
        store: String,
        /// The operation (`get`, `put`, ...).
        op: &'static str,
        /// The object's key.
        key: String,
        /// What went wrong.
        detail: String,
    },
    /// A request failed in a way a retry will not fix (a local file that cannot be
    /// written for lack of permission, an unexpected answer).
    #[error("{store}: {op} {key} failed: {detail}")]
    Permanent {
        /// The store (URL).
        store: String,
        /// The operation (`get`, `put`, ...).
        op: &'static str,
        /// The object's key.
        key: String,
        /// What went wrong.
        detail: String,
    },
}

impl StoreError {
    /// True when retrying cannot help: stop and tell the operator.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, StoreError::Transient { .. })
    }
}

/// An archive URL: `s3://bucket/prefix`, `file:///dir`, or `http(s)://host/path/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveUrl {
    /// An S3 bucket and key prefix (no leading or trailing `/`; may be empty).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
    /// A local directory.
    Dir(PathBuf),
    /// An HTTP(S) base URL (always ends with `/`), read-only.
    Http(url::Url),
}

impl fmt::Display for ArchiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            ArchiveUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            ArchiveUrl::Dir(p) => write!(f, "file://{}", p.display()),
            ArchiveUrl::Http(u) => write!(f, "{u}"),
        }
    }
}

impl std::str::FromStr for ArchiveUrl {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        let bad = |reason: &str| StoreError::InvalidUrl {
            url: s.to_string(),
            reason: reason.to_string(),
        };
        let url = url::Url::parse(s).map_err(|e| {
            bad(&format!(
                "{e}; expected s3://bucket/prefix, file:///dir or https://host/path"
            ))
        })?;
        match url.scheme() {
            "s3" => {
                let bucket = url
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| bad("no bucket name"))?
                    .to_string();
                let prefix = url.path().trim_matches('/').to_string();
                if prefix.split('/').any(|p| p == "." || p == "..") {
                    return Err(bad("the prefix may not hold . or .. segments"));
                }
                Ok(ArchiveUrl::S3 { bucket, prefix })
            }
            "file" => {
                if url
                    .host_str()
                    .is_some_and(|h| !h.is_empty() && h != "localhost")
                {
                    return Err(bad(
                        "file URLs name a local directory: file:///absolute/path",
                    ));
                }
                let path = url
                    .to_file_path()
                    .map_err(|()| bad("not an absolute local path"))?;
                Ok(ArchiveUrl::Dir(path))
            }
            "http" | "https" => {
                let mut url = url;
                if url.host_str().is_none() {
                    return Err(bad("no host"));
                }
                if !url.path().ends_with('/') {
                    let p = format!("{}/", url.path());
                    url.set_path(&p);
                }
                url.set_query(None);
                url.set_fragment(None);
                Ok(ArchiveUrl::Http(url))
            }
            other => Err(bad(&format!(
                "unsupported scheme {other:?}; expected s3://, file://, http:// or https://"
            ))),
        }
    }
}

/// The one interface every archive store offers. Keys are the layout's relative paths.
pub trait ArchiveStore: Send + Sync {
    /// The store's URL, for messages.
    fn describe(&self) -> String;

    /// The object at `key`, `None` when there is none.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, StoreError>> + Send;

    /// True when an object is at `key`.
    fn exists(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores `bytes` at `key`, replacing what was there. Durable when it returns `Ok`.
    fn put(&self, key: &str, bytes: Bytes) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the object at `key` (no error when there is none).
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every key under the store's root (for rollback and checks; never called in a loop).
    fn list(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Checks once that the store is reachable, the credentials are accepted and the bucket
    /// or directory exists (`for_write`: creates a missing directory whose parent exists).
    fn probe(&self, for_write: bool) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<T: ArchiveStore> ArchiveStore for &T {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, StoreError>> + Send {
        (**self).get(key)
    }
    fn exists(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).exists(key)
    }
    fn put(&self, key: &str, bytes: Bytes) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put(key, bytes)
    }
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).delete(key)
    }
    fn list(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        (**self).list()
    }
    fn probe(&self, for_write: bool) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).probe(for_write)
    }
}

/// Any of the stores, chosen from an [`ArchiveUrl`].
#[derive(Debug)]
pub enum AnyStore {
    /// S3.
    S3(S3Store),
    /// A directory.
    Dir(DirStore),
    /// HTTP(S), read-only.
    Http(HttpStore),
}

impl AnyStore {
    /// Opens the store `url` names; S3 settings (credentials, endpoint, region) come from
    /// `s3` (usually [`S3Config::from_env`]).
    pub fn open(url: &ArchiveUrl, s3: &S3Config) -> Result<Self, StoreError> {
        Ok(match url {
            ArchiveUrl::S3 { bucket, prefix } => AnyStore::S3(S3Store::new(bucket, prefix, s3)?),
            ArchiveUrl::Dir(p) => AnyStore::Dir(DirStore::new(p.clone())),
            ArchiveUrl::Http(u) => AnyStore::Http(HttpStore::new(u.clone())?),
        })
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::S3($s) => $e,
            AnyStore::Dir($s) => $e,
            AnyStore::Http($s) => $e,
        }
    };
}

impl ArchiveStore for AnyStore {
    fn describe(&self) -> String {
        dispatch!(self, s => s.describe())
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        dispatch!(self, s => s.get(key).await)
    }
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.exists(key).await)
    }
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        dispatch!(self, s => s.put(key, bytes).await)
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete(key).await)
    }
    async fn list(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.list().await)
    }
    async fn probe(&self, for_write: bool) -> Result<(), StoreError> {
        dispatch!(self, s => s.probe(for_write).await)
    }
}

/// Installs rustls' `ring` crypto provider as the process default (HTTPS to S3 and HTTP
/// archives needs one; this build ships no other). Safe to call more than once.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_urls() {
        assert_eq!(
            "s3://bkt/a/b/".parse::<ArchiveUrl>().unwrap(),
            ArchiveUrl::S3 {
                bucket: "bkt".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            "s3://bkt".parse::<ArchiveUrl>().unwrap(),
            ArchiveUrl::S3 {
                bucket: "bkt".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            "file:///var/arch".parse::<ArchiveUrl>().unwrap(),
            ArchiveUrl::Dir("/var/arch".into())
        );
        let h = "https://example.invalid/ledger"
            .parse::<ArchiveUrl>()
            .unwrap();
        assert_eq!(h.to_string(), "https://example.invalid/ledger/");
        for bad in ["", "/tmp/x", "ftp://x/y", "s3:///x", "file://host/x"] {
            assert!(bad.parse::<ArchiveUrl>().is_err(), "{bad}");
        }
    }
}
