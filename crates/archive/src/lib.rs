//! The ledger archive: how blocks are published for other nodes and wallets, and how they
//! are read back.
//!
//! * [`layout`]: one object per block under a key from its index
//!   (`00/00/00/00/00/00/00/0000000000000001.pb`) holding the ledger's own protobuf
//!   `ArchiveBlock` bytes, and bundles of `N` blocks under `merged-N/` (format
//!   [`layout::BUNDLE_FORMAT_VERSION`]).
//! * [`store`]: one interface, [`ArchiveStore`], over S3 (object_store, path-style, custom
//!   endpoints, AWS environment credentials), `file://` directories (durable, atomic
//!   writes) and read-only `http(s)://`; [`AnyStore`] picks one from an [`ArchiveUrl`].
//! * [`writer`]: the loop behind the `ledger-distribution` binary ([`Writer`]): follows the
//!   local ledger, uploads each block once, writes bundles, retries with backoff, keeps the
//!   state file ([`state`]).
//! * [`reader`]: [`ArchiveReader`] fetches ranges (bundles first, then single blocks),
//!   verifies each block against its predecessor ([`verify`]: linkage, id, contents hash,
//!   signatures) and catches a ledger up; errors name the object.
//! * [`rollback`]: deletes published blocks and bundles above a height.
//! * [`audit`]: compares an archive with a ledger block by block (holes, lag, blocks past
//!   the ledger, divergence).
//! * [`metrics`]: archive height, upload latency, retries, bytes (prometheus-client).
//! * `test_server` (feature `s3-test-server`): an s3s-fs S3 server for tests and
//!   benchmarks (in process), and the `mcnode-s3-server` binary (the compose network's S3).
//!
//! Not here: deciding which archives to trust or when to catch up (the node's), and the
//! block encoding itself (`mcnode_blockchain::encoding`).

pub mod audit;
pub mod error;
pub mod layout;
pub mod metrics;
pub mod reader;
pub mod rollback;
pub mod state;
pub mod store;
#[cfg(feature = "s3-test-server")]
pub mod test_server;
pub mod verify;
pub mod writer;

pub use error::{ArchiveError, InvalidObject};
pub use metrics::ArchiveMetrics;
pub use reader::{ArchiveReader, SyncReport};
pub use rollback::{rollback, RollbackReport};
pub use store::{
    install_crypto_provider, AnyStore, ArchiveStore, ArchiveUrl, DirStore, HttpStore, S3Config,
    S3Store, StoreError,
};
pub use writer::{RetryPolicy, StartFrom, Writer, WriterConfig};
