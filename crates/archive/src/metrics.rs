//! The archive's metrics (prometheus-client). [`ArchiveMetrics::register`] adds them to a
//! registry; the process that serves `/metrics` owns the registry.

use prometheus_client::{
    metrics::{
        counter::Counter,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::{Registry, Unit},
};

/// Counters and gauges of the writer and the reader. Cloning shares the values.
#[derive(Clone, Debug)]
pub struct ArchiveMetrics {
    /// `archive_height`: blocks published (the writer's next block index).
    pub height: Gauge,
    /// `archive_ledger_height`: blocks in the local ledger, as the writer last read it.
    pub ledger_height: Gauge,
    /// `archive_lag_blocks`: ledger height minus archive height (negative when the archive
    /// is ahead: a rolled-back ledger).
    pub lag: Gauge,
    /// `archive_upload_latency_seconds`: time of each successful object upload.
    pub upload_latency: Histogram,
    /// `archive_upload_retries_total`: failed upload attempts that were retried.
    pub upload_retries: Counter,
    /// `archive_uploaded_bytes_total`: bytes of objects uploaded.
    pub uploaded_bytes: Counter,
    /// `archive_uploaded_objects_total`: objects (blocks and bundles) uploaded.
    pub uploaded_objects: Counter,
    /// `archive_fetched_bytes_total`: bytes of objects read.
    pub fetched_bytes: Counter,
    /// `archive_verified_blocks_total`: blocks read and verified.
    pub verified_blocks: Counter,
    /// `archive_rejected_objects_total`: objects refused by verification.
    pub rejected_objects: Counter,
}

impl Default for ArchiveMetrics {
    fn default() -> Self {
        Self {
            height: Gauge::default(),
            ledger_height: Gauge::default(),
            lag: Gauge::default(),
            // 1 ms .. ~33 s
            upload_latency: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            upload_retries: Counter::default(),
            uploaded_bytes: Counter::default(),
            uploaded_objects: Counter::default(),
            fetched_bytes: Counter::default(),
            verified_blocks: Counter::default(),
            rejected_objects: Counter::default(),
        }
    }
}

impl ArchiveMetrics {
    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "archive_height",
            "Blocks published to the archive (next block index)",
            self.height.clone(),
        );
        registry.register(
            "archive_ledger_height",
            "Blocks in the local ledger, as ledger-distribution last read it",
            self.ledger_height.clone(),
        );
        registry.register(
            "archive_lag_blocks",
            "Ledger height minus archive height (negative: the archive is ahead of the ledger)",
            self.lag.clone(),
        );
        registry.register_with_unit(
            "archive_upload_latency",
            "Time to upload one archive object",
            Unit::Seconds,
            self.upload_latency.clone(),
        );
        registry.register(
            "archive_upload_retries",
            "Archive uploads retried after a failure",
            self.upload_retries.clone(),
        );
        registry.register_with_unit(
            "archive_uploaded",
            "Bytes uploaded to the archive",
            Unit::Bytes,
            self.uploaded_bytes.clone(),
        );
        registry.register(
            "archive_uploaded_objects",
            "Archive objects (blocks and bundles) uploaded",
            self.uploaded_objects.clone(),
        );
        registry.register_with_unit(
            "archive_fetched",
            "Bytes read from archives",
            Unit::Bytes,
            self.fetched_bytes.clone(),
        );
        registry.register(
            "archive_verified_blocks",
            "Archive blocks read and verified",
            self.verified_blocks.clone(),
        );
        registry.register(
            "archive_rejected_objects",
            "Archive objects refused by verification",
            self.rejected_objects.clone(),
        );
    }
}
