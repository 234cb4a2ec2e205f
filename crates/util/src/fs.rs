//! Durable atomic file replacement: the one way mcnode writes a file it must not lose.
//!
//! Every write goes to a temporary file beside the target (same directory, so the same
//! file system), which is written in full and fsynced, then renamed over the target (or,
//! for [`write_new`], linked to it, which fails if the target exists), and finally the
//! directory is fsynced so the new name survives a power cut. A process killed at any
//! moment leaves the target either absent, or whole with its old contents, or whole with
//! its new ones; at worst a temporary file is left behind, named
//! `.<target name>.<random>.mcnode-tmp`, which [`is_temp_leftover`] recognises and
//! [`dir_is_empty`] ignores (and removes).
//!
//! Callers: the sealed block-signing key (`consensus-service`), the origin ledger copied
//! into an empty ledger directory (`consensus-service` and `mcnode-entrypoint`), the
//! `ledger-distribution` state file, and the key files `mcnode` writes.

use std::{
    ffi::OsStr,
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

/// Suffix of every temporary file of this module.
pub const TEMP_SUFFIX: &str = ".mcnode-tmp";

/// Who may read the written file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Mode 0644 (less the process's umask): certificates, addresses, state files.
    Public,
    /// Mode 0600: keys and sealed secrets.
    Secret,
}

impl Mode {
    fn bits(self) -> u32 {
        match self {
            Self::Public => 0o644,
            Self::Secret => 0o600,
        }
    }
}

/// Which step of a durable write failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Creating the parent directory.
    CreateDir,
    /// Creating the temporary file.
    CreateTemp,
    /// Reading the source of a copy.
    ReadSource,
    /// Writing the temporary file.
    Write,
    /// Fsyncing the temporary file.
    SyncFile,
    /// Renaming (or linking) the temporary file to the target.
    Rename,
    /// Fsyncing the directory.
    SyncDir,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::CreateDir => "cannot create its directory",
            Self::CreateTemp => "cannot create a temporary file beside it",
            Self::ReadSource => "cannot read the source",
            Self::Write => "cannot write",
            Self::SyncFile => "cannot fsync",
            Self::Rename => "cannot rename the temporary file over it",
            Self::SyncDir => "cannot fsync its directory",
        })
    }
}

/// Why a durable write failed. The target is unchanged in every case.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// [`write_new`]: the target exists already (it is never overwritten).
    #[error("{} exists already (it is never overwritten)", .0.display())]
    Exists(PathBuf),
    /// A step failed.
    #[error("{}: {step}: {source}", .path.display())]
    Io {
        /// The target.
        path: PathBuf,
        /// The step.
        step: Step,
        /// What the OS said.
        source: io::Error,
    },
}

impl WriteError {
    fn io(path: &Path, step: Step) -> impl FnOnce(io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            step,
            source,
        }
    }
}

/// The directory `path` lives in (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Creates the temporary file beside `path`, with `mode`.
fn temp_beside(path: &Path, mode: Mode) -> Result<tempfile::NamedTempFile, WriteError> {
    let dir = parent_of(path);
    fs::create_dir_all(dir).map_err(WriteError::io(path, Step::CreateDir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    #[cfg(unix)]
    let perms = {
        use std::os::unix::fs::PermissionsExt;
        fs::Permissions::from_mode(mode.bits())
    };
    #[cfg(not(unix))]
    let perms = {
        let _ = mode.bits();
        fs::metadata(dir)
            .map_err(WriteError::io(path, Step::CreateTemp))?
            .permissions()
    };
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(TEMP_SUFFIX)
        .permissions(perms)
        .tempfile_in(dir)
        .map_err(WriteError::io(path, Step::CreateTemp))
}

/// Fsyncs the directory holding `path`.
fn sync_dir(path: &Path) -> Result<(), WriteError> {
    fs::File::open(parent_of(path))
        .and_then(|d| d.sync_all())
        .map_err(WriteError::io(path, Step::SyncDir))
}

/// Replaces `path` with `bytes` durably and atomically (created if absent).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), WriteError> {
    let mut tmp = temp_beside(path, mode)?;
    tmp.write_all(bytes)
        .map_err(WriteError::io(path, Step::Write))?;
    tmp.as_file()
        .sync_all()
        .map_err(WriteError::io(path, Step::SyncFile))?;
    tmp.persist(path)
        .map_err(|e| WriteError::io(path, Step::Rename)(e.error))?;
    sync_dir(path)
}

/// Writes `bytes` to `path`, which must not exist: durably and atomically, and never over
/// an existing file (also not one that appears while it writes).
pub fn write_new(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), WriteError> {
    if path.exists() {
        return Err(WriteError::Exists(path.to_path_buf()));
    }
    let mut tmp = temp_beside(path, mode)?;
    tmp.write_all(bytes)
        .map_err(WriteError::io(path, Step::Write))?;
    tmp.as_file()
        .sync_all()
        .map_err(WriteError::io(path, Step::SyncFile))?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == io::ErrorKind::AlreadyExists {
            WriteError::Exists(path.to_path_buf())
        } else {
            WriteError::io(path, Step::Rename)(e.error)
        }
    })?;
    sync_dir(path)
}

/// Copies `src` over `dst` durably and atomically (streaming, so a large ledger file is
/// not held in memory).
pub fn copy_atomic(src: &Path, dst: &Path, mode: Mode) -> Result<(), WriteError> {
    let mut input = fs::File::open(src).map_err(WriteError::io(dst, Step::ReadSource))?;
    let mut tmp = temp_beside(dst, mode)?;
    io::copy(&mut input, tmp.as_file_mut()).map_err(|e| {
        // Either side may have failed; say which when we can.
        if input.metadata().is_err() {
            WriteError::io(dst, Step::ReadSource)(e)
        } else {
            WriteError::io(dst, Step::Write)(e)
        }
    })?;
    tmp.as_file()
        .sync_all()
        .map_err(WriteError::io(dst, Step::SyncFile))?;
    tmp.persist(dst)
        .map_err(|e| WriteError::io(dst, Step::Rename)(e.error))?;
    sync_dir(dst)
}

/// Whether `name` is a temporary file this module left behind (its writer was killed).
pub fn is_temp_leftover(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

/// Whether `dir` holds nothing but this module's leftovers (a missing directory counts
/// as empty). Leftovers found are removed, so an interrupted copy into an empty directory
/// is simply done again.
pub fn dir_is_empty(dir: &Path) -> io::Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e),
    };
    let mut leftovers = Vec::new();
    for entry in entries {
        let entry = entry?;
        if is_temp_leftover(&entry.file_name()) {
            leftovers.push(entry.path());
        } else {
            return Ok(false);
        }
    }
    for p in leftovers {
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn replaces_creates_and_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/key");
        write_atomic(&p, b"one", Mode::Secret).unwrap();
        write_atomic(&p, b"two", Mode::Secret).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let err = write_new(&p, b"three", Mode::Secret).unwrap_err();
        assert!(matches!(err, WriteError::Exists(_)), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let q = dir.path().join("sub/new");
        write_new(&q, b"fresh", Mode::Public).unwrap();
        assert_eq!(fs::read(&q).unwrap(), b"fresh");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn copy_and_errors_name_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, vec![7u8; 100_000]).unwrap();
        let dst = dir.path().join("ledger/data.mdb");
        copy_atomic(&src, &dst, Mode::Public).unwrap();
        assert_eq!(fs::read(&dst).unwrap(), vec![7u8; 100_000]);
        let err = copy_atomic(&dir.path().join("missing"), &dst, Mode::Public).unwrap_err();
        assert!(
            matches!(
                err,
                WriteError::Io {
                    step: Step::ReadSource,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(fs::read(&dst).unwrap().len(), 100_000);
    }

    #[test]
    fn leftovers_do_not_make_a_directory_non_empty() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("ledger");
        assert!(dir_is_empty(&d).unwrap());
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(".data.mdb.abc123.mcnode-tmp"), b"half").unwrap();
        assert!(dir_is_empty(&d).unwrap());
        assert_eq!(fs::read_dir(&d).unwrap().count(), 0, "leftover removed");
        fs::write(d.join("data.mdb"), b"x").unwrap();
        assert!(!dir_is_empty(&d).unwrap());
        assert!(!is_temp_leftover(OsStr::new("data.mdb")));
        assert!(!is_temp_leftover(OsStr::new(".hidden")));
    }
}
