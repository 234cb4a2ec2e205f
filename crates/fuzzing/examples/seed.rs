//! Writes every target's seeds under `fuzz/corpus/<target>/` (or under the directory given
//! as the first argument): `cargo run -p mcnode-fuzzing --example seed`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus"));
    for (name, _) in mcnode_fuzzing::TARGETS {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)?;
        let seeds = mcnode_fuzzing::seeds::seeds(name);
        for (file, bytes) in &seeds {
            std::fs::write(dir.join(file), bytes)?;
        }
        println!("{name}: {} seeds in {}", seeds.len(), dir.display());
    }
    Ok(())
}
