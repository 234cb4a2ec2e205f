//! The node core's configuration: plain data with a `validate()`.

use crate::{
    admit::AdmitConfig, fetch::FetchConfig, store::StoreLimits, value::DEFAULT_MAX_BLOCK_TXS,
};

/// Timing and limits of the node core. Times are milliseconds of the clock the caller
/// passes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreConfig {
    /// SCP's own timing and limits.
    pub scp: mcnode_scp::Config,
    /// Transaction store limits.
    pub limits: StoreLimits,
    /// Most transactions in one block (and in one nominated value).
    pub max_block_txs: usize,
    /// Envelopes are held for slots up to this many beyond the current one. Default 8.
    pub max_slots_ahead: u64,
    /// How long peers may be ahead before the node catches up from them, ms. Default
    /// 1500.
    pub behind_grace_ms: u64,
    /// How often the node asks its peers for their heights when nothing else tells it
    /// that it is behind, ms. Default 3000.
    pub probe_interval_ms: u64,
    /// A slot with work to do (transactions pending or peers talking about it) that has
    /// not moved for this long is reported as stalled, and again every this long while it
    /// stays so, ms. Default 10 000.
    pub stall_warn_ms: u64,
    /// Fetching of missing transactions.
    pub fetch: FetchConfig,
    /// Most transactions in one validation request handed to the shell. Default 64.
    pub validate_batch: usize,
    /// Most transactions handed to the shell for validation at once; the rest wait in the
    /// core, where the ones the current slot needs go first. Default 256.
    pub max_validations_in_flight: usize,
    /// Most validation requests out at once (the shell's validation lanes). While they are
    /// busy, arrivals wait here and go out together in the next request, so that the
    /// request sizes follow the load (one at a time when idle, up to `validate_batch`
    /// under load) and the shell can verify each as one batch. Default 2.
    pub max_validation_batches: usize,
    /// Most transactions relayed to peers in one go. Default 200.
    pub relay_batch: usize,
    /// A transaction accepted from a client and still pending this long after it was
    /// relayed is relayed again (a peer may have been down or the relay lost), the wait
    /// doubling each time up to 30 s, ms. Default 2000.
    pub relay_retry_ms: u64,
    /// How much clients may add ([`crate::admit`]).
    pub admit: AdmitConfig,
    /// A node nominates only transactions it has held for as long as relayed ones wait
    /// for validation here (what peers need for the ones it relays), but never waits
    /// longer than this, ms. 0 nominates everything at once. Default 2000.
    pub nominate_settle_cap_ms: u64,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            scp: mcnode_scp::Config::default(),
            limits: StoreLimits::default(),
            max_block_txs: DEFAULT_MAX_BLOCK_TXS,
            max_slots_ahead: 8,
            behind_grace_ms: 1_500,
            probe_interval_ms: 3_000,
            stall_warn_ms: 10_000,
            fetch: FetchConfig::default(),
            validate_batch: 64,
            max_validations_in_flight: 256,
            max_validation_batches: 2,
            relay_batch: 200,
            relay_retry_ms: 2_000,
            admit: AdmitConfig::default(),
            nominate_settle_cap_ms: 2_000,
        }
    }
}

/// A configuration value out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid node core configuration: {0}")]
pub struct ConfigError(pub &'static str);

impl CoreConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.scp
            .validate()
            .map_err(|_| ConfigError("the SCP configuration is invalid"))?;
        if self.max_block_txs == 0 {
            return Err(ConfigError("max_block_txs must be positive"));
        }
        if self.limits.max_txs == 0 || self.limits.max_pending == 0 {
            return Err(ConfigError("store limits must be positive"));
        }
        if self.max_slots_ahead == 0 {
            return Err(ConfigError("max_slots_ahead must be positive"));
        }
        if self.stall_warn_ms == 0 || self.probe_interval_ms == 0 {
            return Err(ConfigError(
                "stall_warn_ms and probe_interval_ms must be positive",
            ));
        }
        if self.fetch.max_per_request == 0
            || self.fetch.max_in_flight_per_peer == 0
            || self.fetch.timeout_ms == 0
            || self.fetch.max_attempts == 0
        {
            return Err(ConfigError("fetch limits must be positive"));
        }
        if self.validate_batch == 0
            || self.max_validations_in_flight == 0
            || self.max_validation_batches == 0
            || self.relay_batch == 0
            || self.relay_retry_ms == 0
        {
            return Err(ConfigError("batch sizes must be positive"));
        }
        if self.admit.drain_ms == 0 || self.admit.floor == 0 || self.admit.window_ms == 0 {
            return Err(ConfigError("admission limits must be positive"));
        }
        Ok(())
    }
}
