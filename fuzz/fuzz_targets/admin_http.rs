#![no_main]
// Body: mcnode_fuzzing::admin_http (crates/fuzzing), replayed by its tests.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mcnode_fuzzing::admin_http(data));
