#![no_main]
// Body: mcnode_fuzzing::client_tx (crates/fuzzing), replayed by its tests.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mcnode_fuzzing::client_tx(data));
