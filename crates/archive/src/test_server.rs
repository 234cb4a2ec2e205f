//! An in-process S3 API server (s3s-fs over a directory) for tests and benchmarks
//! (feature `s3-test-server`). A real S3 protocol implementation with SigV4
//! authentication, not a mock of the client.
//!
//! Note: s3s-fs creates a missing bucket on `PUT` instead of failing; a missing bucket is
//! seen by the writer's start-up probe (ListObjects answers `NoSuchBucket`).

use std::{net::SocketAddr, path::Path, thread};

use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder as ConnBuilder,
};
use s3s::{auth::SimpleAuth, service::S3ServiceBuilder};
use tokio::sync::oneshot;

use crate::store::S3Config;

/// Access key the test server accepts.
pub const TEST_ACCESS_KEY: &str = "mcnode-test-access";
/// Secret key the test server accepts.
pub const TEST_SECRET_KEY: &str = "mcnode-test-secret-key";

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct TestS3Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the test S3 server: {0}")]
pub struct TestServerError(String);

/// The S3 API over a directory (each bucket a subdirectory), ready to serve on any
/// listener: what [`TestS3Server`] runs on loopback, and what the `mcnode-s3-server`
/// binary (the compose network's S3) runs on a container's address.
#[derive(Clone)]
pub struct S3Server {
    service: s3s::service::S3Service,
}

impl std::fmt::Debug for S3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Server").finish_non_exhaustive()
    }
}

impl S3Server {
    /// Serves the buckets under `root` (which must exist); with `credentials` (access
    /// key, secret key) every request must be signed with them (SigV4), without them
    /// every request is accepted unsigned.
    pub fn new(root: &Path, credentials: Option<(&str, &str)>) -> Result<Self, TestServerError> {
        let fs = s3s_fs::FileSystem::new(root).map_err(|e| TestServerError(format!("{e:?}")))?;
        let mut b = S3ServiceBuilder::new(fs);
        if let Some((access, secret)) = credentials {
            b.set_auth(SimpleAuth::from_single(access, secret));
        }
        Ok(Self { service: b.build() })
    }

    /// Accepts connections on `listener` until `stop` completes; connections already
    /// open finish on their own.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            tokio::select! {
                r = listener.accept() => {
                    let Ok((socket, _)) = r else { continue };
                    // Small responses must not wait for delayed ACKs.
                    let _ = socket.set_nodelay(true);
                    let conn = http
                        .serve_connection(TokioIo::new(socket), self.service.clone())
                        .into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
                () = &mut stop => break,
            }
        }
    }
}

impl TestS3Server {
    /// Serves the buckets in `root` (each bucket a subdirectory) on `127.0.0.1:0`, on its
    /// own thread and runtime, with the fixed [`TEST_ACCESS_KEY`] / [`TEST_SECRET_KEY`].
    pub fn start(root: &Path) -> Result<Self, TestServerError> {
        Self::start_with(root, true)
    }

    /// As [`start`](Self::start); without `auth` every request is accepted unsigned, so
    /// `http://127.0.0.1:PORT/bucket/` also serves as a plain read-only HTTP archive.
    pub fn start_with(root: &Path, auth: bool) -> Result<Self, TestServerError> {
        let server = S3Server::new(root, auth.then_some((TEST_ACCESS_KEY, TEST_SECRET_KEY)))?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| TestServerError(e.to_string()))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| TestServerError(e.to_string()))?;
        let addr = std_listener
            .local_addr()
            .map_err(|e| TestServerError(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| TestServerError(e.to_string()))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("test-s3".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                        return;
                    };
                    server
                        .serve(listener, async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })
            .map_err(|e| TestServerError(e.to_string()))?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Client settings for this server with its credentials.
    pub fn config(&self) -> S3Config {
        S3Config {
            access_key_id: Some(TEST_ACCESS_KEY.into()),
            secret_access_key: Some(TEST_SECRET_KEY.into()),
            region: Some("us-east-1".into()),
            endpoint: Some(self.endpoint()),
            ..S3Config::new()
        }
    }

    /// The environment a child process (e.g. `ledger-distribution`) needs to reach it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
        ]
    }
}

impl Drop for TestS3Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
