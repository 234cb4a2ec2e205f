// The measurement algorithm, shared by build.rs (which computes this build's measurement)
// and by tests (which recompute it). Plain functions with no crate dependencies beyond
// sha2, so that build.rs can `include!` this file.

/// The crates whose code runs inside the enclave boundary, relative to `crates/`.
pub const MEASURED_CRATES: [&str; 4] = ["enclave", "transaction", "blockchain", "crypto"];

/// What is measured in each crate: `(directory, file extension)`. The `.proto` schema is
/// part of what the enclave decodes, so it is measured with the code.
pub const MEASURED_FILES: [(&str, &str); 2] = [("src", "rs"), ("proto", "proto")];

fn measured_files(dir: &std::path::Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            measured_files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// SHA-256 over every `.rs` file under `crates/<name>/src` and every `.proto` file under
/// `crates/<name>/proto` for the measured crates, in path order, each framed by its
/// relative path and length.
pub fn measure_sources(crates_dir: &std::path::Path) -> std::io::Result<[u8; 32]> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"mcnode.enclave.measurement.v1");
    for name in MEASURED_CRATES {
        let mut files = Vec::new();
        for (dir, ext) in MEASURED_FILES {
            measured_files(&crates_dir.join(name).join(dir), ext, &mut files);
        }
        files.sort();
        for f in files {
            let rel = f
                .strip_prefix(crates_dir)
                .unwrap_or(&f)
                .to_string_lossy()
                .replace('\\', "/");
            let body = std::fs::read(&f)?;
            h.update((rel.len() as u64).to_le_bytes());
            h.update(rel.as_bytes());
            h.update((body.len() as u64).to_le_bytes());
            h.update(&body);
        }
    }
    Ok(h.finalize().into())
}
