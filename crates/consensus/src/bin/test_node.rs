//! `mcnode-test-node`: `consensus-service` whose enclave claims the measurement in
//! `MCNODE_TEST_MEASUREMENT` (64 hex digits). Built only with the `test-node` feature, for
//! the end-to-end tests that check peers refuse an enclave running other code.

use clap::Parser;
use mcnode_consensus::{config::ServiceArgs, service};
use mcnode_enclave::{Measurement, SoftwareEnclave};

fn main() -> std::process::ExitCode {
    let args = ServiceArgs::parse();
    service::init_logging(args.log_format);
    let measurement = std::env::var("MCNODE_TEST_MEASUREMENT")
        .ok()
        .and_then(|h| hex::decode(h.trim()).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok());
    let Some(measurement) = measurement else {
        eprintln!("error: set MCNODE_TEST_MEASUREMENT to 64 hex digits");
        return std::process::ExitCode::FAILURE;
    };
    let factory: service::EnclaveFactory = Box::new(move |config, secret, _sealed| {
        SoftwareEnclave::new_with_measurement_for_tests(config, secret, Measurement(measurement))
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(service::run_with(args, factory)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
