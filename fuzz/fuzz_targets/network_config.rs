#![no_main]
// Body: mcnode_fuzzing::network_config (crates/fuzzing), replayed by its tests.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mcnode_fuzzing::network_config(data));
