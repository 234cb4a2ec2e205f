//! Computes the software enclave's measurement (its MRENCLAVE) at build time: a SHA-256
//! over the source of every crate whose code runs inside the enclave boundary (see
//! `src/measure.rs`). Changing any of that code changes the measurement, and peers of
//! another measurement refuse to pair.

use std::path::PathBuf;

#[allow(dead_code)]
mod measure {
    include!("src/measure.rs");
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let crates = manifest.parent().expect("crates/ directory").to_path_buf();
    for name in measure::MEASURED_CRATES {
        for (dir, _) in measure::MEASURED_FILES {
            // A path that does not exist (most crates have no `proto/`) makes cargo rerun
            // this script, and rebuild every crate above this one, on every build: watch
            // the crate's own directory instead, whose mtime changes when it is created.
            let path = crates.join(name).join(dir);
            let watched = if path.exists() {
                path
            } else {
                crates.join(name)
            };
            println!("cargo:rerun-if-changed={}", watched.display());
        }
    }
    let digest = measure::measure_sources(&crates).expect("read enclave sources");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("measurement.rs");
    std::fs::write(
        out,
        format!("/// The measurement of this build's enclave code.\npub const MEASUREMENT: [u8; 32] = {digest:?};\n"),
    )
    .expect("write measurement.rs");
}
