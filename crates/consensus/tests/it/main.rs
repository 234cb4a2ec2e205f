//! Integration tests of mcnode-consensus's pure parts: which refusals are permanent, and
//! the metrics every dashboard relies on exist from the start.
#![allow(clippy::unwrap_used, missing_docs)]

use mcnode_api::result_code;
use mcnode_consensus::{intake::is_permanent, metrics::Metrics};
use mcnode_transaction::ValidationError;

#[test]
fn only_refusals_about_the_transaction_itself_are_permanent() {
    assert!(is_permanent(ValidationError::NoInputs.code()));
    assert!(is_permanent(result_code::KEY_IMAGE_SPENT));
    assert!(is_permanent(result_code::OUTPUT_KEY_EXISTS));
    assert!(is_permanent(result_code::UNDECODABLE));
    // Not about the transaction: a ledger this node lacks, capacity, channels.
    assert!(!is_permanent(
        ValidationError::MembershipProofBeyondLedger(3).code()
    ));
    assert!(!is_permanent(result_code::OVER_CAPACITY));
    assert!(!is_permanent(result_code::CATCHING_UP));
    assert!(!is_permanent(result_code::CHANNEL_ERROR));
}

#[test]
fn every_labelled_series_exists_before_the_first_event() {
    let m = Metrics::default();
    let mut registry = prometheus_client::registry::Registry::default();
    m.register(&mut registry);
    let text = mcnode_metrics::encode(&registry).unwrap();
    for series in [
        "consensus_msgs_total{outcome=\"late\"} 0",
        "consensus_msgs_total{outcome=\"waiting\"} 0",
        "consensus_msgs_dropped_total{reason=\"scp_refused\"} 0",
        "consensus_msgs_dropped_total{reason=\"inbox_full\"} 0",
        "consensus_errors_total{reason=\"tx_fetch_gave_up\"} 0",
        "consensus_scp_slot_phase{phase=\"idle\"} 1",
        "consensus_stalls_total 0",
        "consensus_txs_fetching 0",
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
}
