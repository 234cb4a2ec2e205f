//! The writer's state file: JSON `{"next_block": N}`, the first block not yet known to be
//! in the archive. Written atomically (temporary file, fsync, rename, fsync of the
//! directory) and only after block `N - 1` and the bundles ending with it were stored.

use std::{fs, io, path::Path};

use serde::{Deserialize, Serialize};

use crate::error::ArchiveError;

/// The state file's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// The next block to publish: blocks `0..next_block` are in the archive.
    pub next_block: u64,
}

/// Largest state file read (it is a few bytes).
const MAX_STATE_BYTES: u64 = 4096;

fn err(path: &Path, reason: impl Into<String>) -> ArchiveError {
    ArchiveError::StateFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads the state file; `None` when it does not exist.
pub fn read_state(path: &Path) -> Result<Option<State>, ArchiveError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(path, e.to_string())),
    };
    if meta.len() > MAX_STATE_BYTES {
        return Err(err(
            path,
            format!("{} bytes is too large for a state file", meta.len()),
        ));
    }
    let text = fs::read_to_string(path).map_err(|e| err(path, e.to_string()))?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        err(
            path,
            format!("not a state file ({e}); expected {{\"next_block\": N}}"),
        )
    })
}

/// Writes the state file atomically and durably ([`mcnode_util::fs::write_atomic`]).
pub fn write_state(path: &Path, state: State) -> Result<(), ArchiveError> {
    let mut text = serde_json::to_string(&state).map_err(|e| err(path, e.to_string()))?;
    text.push('\n');
    mcnode_util::fs::write_atomic(path, text.as_bytes(), mcnode_util::fs::Mode::Public)
        .map_err(|e| err(path, format!("cannot write: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        assert_eq!(read_state(&p).unwrap(), None);
        write_state(&p, State { next_block: 42 }).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "{\"next_block\":42}\n");
        assert_eq!(read_state(&p).unwrap(), Some(State { next_block: 42 }));
        fs::write(&p, "{\"next\": 1}").unwrap();
        let e = read_state(&p).unwrap_err().to_string();
        assert!(e.contains("state.json") && e.contains("next_block"), "{e}");
        fs::write(&p, "garbage").unwrap();
        assert!(read_state(&p).is_err());
    }
}
