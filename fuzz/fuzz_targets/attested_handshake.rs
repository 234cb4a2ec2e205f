#![no_main]
// Body: mcnode_fuzzing::attested_handshake (crates/fuzzing), replayed by its tests.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mcnode_fuzzing::attested_handshake(data));
