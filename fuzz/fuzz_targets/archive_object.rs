#![no_main]
// Body: mcnode_fuzzing::archive_object (crates/fuzzing), replayed by its tests.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mcnode_fuzzing::archive_object(data));
