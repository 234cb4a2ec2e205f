#![no_main]
// Body: mcnode_fuzzing::consensus_envelope (crates/fuzzing), replayed by its tests.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mcnode_fuzzing::consensus_envelope(data));
