//! An S3 archive (`s3://bucket/prefix`) through `object_store`'s Amazon S3 client.
//!
//! Path-style requests (`https://endpoint/bucket/key`), so any S3-compatible server with a
//! custom endpoint works; virtual-hosted style when `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`.
//! Credentials and endpoint come from the standard AWS environment ([`S3Config::from_env`]).

use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::{
    aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey},
    path::Path,
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};

use super::{ArchiveStore, StoreError, MAX_OBJECT_BYTES};

/// S3 connection settings. Unset fields fall back to `object_store`'s defaults (region
/// `us-east-1`, AWS endpoints, instance credentials).
#[derive(Clone, Default)]
pub struct S3Config {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<String>,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`): a custom endpoint such as
    /// `http://127.0.0.1:9000`. `http://` endpoints are allowed without TLS.
    pub endpoint: Option<String>,
    /// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`: `bucket.endpoint` instead of path style.
    pub virtual_hosted_style: bool,
    /// Requests retried inside the client (`object_store`) before an error reaches the
    /// caller, which has its own backoff. Default 2.
    pub client_retries: usize,
    /// Connect timeout (default 5 s).
    pub connect_timeout: Duration,
    /// Whole-request timeout (default 60 s).
    pub request_timeout: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// Settings with the defaults and no credentials.
    pub fn new() -> Self {
        Self {
            client_retries: 2,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            ..Self::default()
        }
    }

    /// Settings from the standard AWS environment variables.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            endpoint: var("AWS_ENDPOINT_URL_S3")
                .or_else(|| var("AWS_ENDPOINT_URL"))
                .or_else(|| var("AWS_ENDPOINT")),
            virtual_hosted_style: var("AWS_VIRTUAL_HOSTED_STYLE_REQUEST")
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1"),
            ..Self::new()
        }
    }
}

/// An S3 bucket and prefix.
#[derive(Debug)]
pub struct S3Store {
    inner: AmazonS3,
    prefix: String,
    bucket: String,
    desc: String,
}

impl S3Store {
    /// A client for `bucket` with keys under `prefix`. Installs the ring crypto provider if
    /// none is.
    pub fn new(bucket: &str, prefix: &str, config: &S3Config) -> Result<Self, StoreError> {
        super::install_crypto_provider();
        let desc = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(config.virtual_hosted_style)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: config.client_retries,
                retry_timeout: config.request_timeout,
            });
        let mut client = ClientOptions::new()
            .with_connect_timeout(config.connect_timeout)
            .with_timeout(config.request_timeout);
        if let Some(v) = &config.access_key_id {
            b = b.with_access_key_id(v);
        }
        if let Some(v) = &config.secret_access_key {
            b = b.with_secret_access_key(v);
        }
        if let Some(v) = &config.session_token {
            b = b.with_token(v);
        }
        if let Some(v) = &config.region {
            b = b.with_region(v);
        }
        if let Some(v) = &config.endpoint {
            b = b.with_endpoint(v);
            if v.starts_with("http://") {
                client = client.with_allow_http(true);
            }
        }
        // Never reach for an instance-metadata service when no credentials were given.
        if config.access_key_id.is_none() && config.secret_access_key.is_none() {
            b = b.with_config(AmazonS3ConfigKey::SkipSignature, "true");
        }
        let inner = b
            .with_client_options(client)
            .build()
            .map_err(|e| StoreError::InvalidUrl {
                url: desc.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            inner,
            prefix: prefix.to_string(),
            bucket: bucket.to_string(),
            desc,
        })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    fn map_err(&self, op: &'static str, key: &str, e: object_store::Error) -> StoreError {
        let store = self.desc.clone();
        let detail = error_chain(&e);
        let key = key.to_string();
        match e {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => {
                StoreError::Credentials { store, detail }
            }
            _ if detail.contains("InvalidAccessKeyId")
                || detail.contains("SignatureDoesNotMatch")
                || detail.contains("AccessDenied") =>
            {
                StoreError::Credentials { store, detail }
            }
            _ if detail.contains("NoSuchBucket") => StoreError::Missing {
                store,
                what: format!("bucket {}", self.bucket),
                detail,
            },
            _ => StoreError::Transient {
                store,
                op,
                key,
                detail,
            },
        }
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

impl ArchiveStore for S3Store {
    fn describe(&self) -> String {
        self.desc.clone()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let res = match self.inner.get(&self.path(key)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { source, .. })
                if !source.to_string().contains("NoSuchBucket") =>
            {
                return Ok(None)
            }
            Err(e) => return Err(self.map_err("get", key, e)),
        };
        if res.meta.size > MAX_OBJECT_BYTES {
            return Err(StoreError::TooLarge {
                store: self.describe(),
                key: key.to_string(),
                size: res.meta.size,
            });
        }
        res.bytes()
            .await
            .map(Some)
            .map_err(|e| self.map_err("get", key, e))
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.inner.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.map_err("head", key, e)),
        }
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.inner
            .put(&self.path(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.map_err("put", key, e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.map_err("delete", key, e)),
        }
    }

    async fn list(&self) -> Result<Vec<String>, StoreError> {
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        let metas: Vec<_> = self
            .inner
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => StoreError::Missing {
                    store: self.describe(),
                    what: format!("bucket {}", self.bucket),
                    detail: error_chain(&e),
                },
                e => self.map_err("list", "", e),
            })?;
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut keys: Vec<String> = metas
            .into_iter()
            .filter_map(|m| m.location.as_ref().strip_prefix(&strip).map(str::to_string))
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn probe(&self, _for_write: bool) -> Result<(), StoreError> {
        // One ListObjects call at the prefix, one level deep: it fails with 404 when the
        // bucket is missing and 403 when the credentials are refused, which a GET of a
        // missing key cannot tell apart.
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        match self.inner.list_with_delimiter(prefix.as_ref()).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::NotFound { source, .. }) => Err(StoreError::Missing {
                store: self.describe(),
                what: format!("bucket {}", self.bucket),
                detail: error_chain(source.as_ref()),
            }),
            Err(e) => Err(self.map_err(
                "list",
                if self.prefix.is_empty() {
                    "/"
                } else {
                    &self.prefix
                },
                e,
            )),
        }
    }
}
