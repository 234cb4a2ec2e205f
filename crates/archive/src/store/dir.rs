//! A directory archive (`file:///dir`): each key is a file under the root.
//!
//! A put writes `<root>/.tmp/<unique>`, fsyncs it, renames it over the key's path and
//! fsyncs the directory (and, when it had to create directories, their parents), so a
//! crash leaves either the old object or the new one, never a torn file. Leftovers in
//! `.tmp/` from a crash are removed by the writer's [`probe`](super::ArchiveStore::probe).

use std::{
    fs, io,
    io::Write,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use bytes::Bytes;

use super::{ArchiveStore, StoreError, MAX_OBJECT_BYTES};

const TMP_DIR: &str = ".tmp";

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A directory holding an archive.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// The archive in `root` (not created until a write probe).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        // Keys come from the layout; refuse anything that could escape the root.
        if key.is_empty()
            || key.starts_with('/')
            || key
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(StoreError::Permanent {
                store: self.describe(),
                op: "resolve",
                key: key.to_string(),
                detail: "not a relative archive key".into(),
            });
        }
        Ok(self.root.join(key))
    }

    fn io_err(&self, op: &'static str, key: &str, e: &io::Error) -> StoreError {
        let store = self.describe();
        let key = key.to_string();
        let detail = e.to_string();
        match e.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                StoreError::Permanent {
                    store,
                    op,
                    key,
                    detail,
                }
            }
            _ => StoreError::Transient {
                store,
                op,
                key,
                detail,
            },
        }
    }
}

async fn blocking<T: Send + 'static>(
    store: String,
    op: &'static str,
    key: &str,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let key = key.to_string();
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Transient {
            store,
            op,
            key,
            detail: format!("worker task failed: {e}"),
        })?
}

fn sync_dir(path: &Path) -> io::Result<()> {
    fs::File::open(path)?.sync_all()
}

/// Writes `bytes` to `dest` durably through a temporary file in `tmp_dir`.
fn durable_write(root: &Path, tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = dest
        .parent()
        .ok_or_else(|| io::Error::other("object path has no parent"))?;
    // Directories created now must themselves be made durable in their parents.
    let mut created = Vec::new();
    let mut p = parent;
    while !p.exists() && p.starts_with(root) && p != root {
        created.push(p.to_path_buf());
        match p.parent() {
            Some(q) => p = q,
            None => break,
        }
    }
    fs::create_dir_all(parent)?;
    fs::create_dir_all(tmp_dir)?;
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let tmp = tmp_dir.join(format!("{}-{n}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    if let Err(e) = fs::rename(&tmp, dest) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(parent)?;
    for dir in created {
        if let Some(up) = dir.parent() {
            sync_dir(up)?;
        }
    }
    Ok(())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ty = entry.file_type()?;
        if ty.is_dir() {
            if dir == root && entry.file_name() == TMP_DIR {
                continue;
            }
            walk(root, &path, out)?;
        } else if ty.is_file() {
            if let Ok(rel) = path.strip_prefix(root) {
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push(key);
            }
        }
    }
    Ok(())
}

impl ArchiveStore for DirStore {
    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let path = self.path_of(key)?;
        let this = self.clone();
        let k = key.to_string();
        blocking(self.describe(), "get", key, move || {
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(this.io_err("get", &k, &e)),
            };
            if meta.len() > MAX_OBJECT_BYTES {
                return Err(StoreError::TooLarge {
                    store: this.describe(),
                    key: k,
                    size: meta.len(),
                });
            }
            match fs::read(&path) {
                Ok(b) => Ok(Some(Bytes::from(b))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(this.io_err("get", &k, &e)),
            }
        })
        .await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path_of(key)?;
        let this = self.clone();
        let k = key.to_string();
        blocking(self.describe(), "head", key, move || {
            match fs::metadata(&path) {
                Ok(m) => Ok(m.is_file()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(this.io_err("head", &k, &e)),
            }
        })
        .await
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        let this = self.clone();
        let k = key.to_string();
        blocking(self.describe(), "put", key, move || {
            let tmp = this.root.join(TMP_DIR);
            durable_write(&this.root, &tmp, &path, &bytes).map_err(|e| this.io_err("put", &k, &e))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        let this = self.clone();
        let k = key.to_string();
        blocking(self.describe(), "delete", key, move || {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(this.io_err("delete", &k, &e)),
            }
            if let Some(parent) = path.parent() {
                sync_dir(parent).map_err(|e| this.io_err("delete", &k, &e))?;
            }
            Ok(())
        })
        .await
    }

    async fn list(&self) -> Result<Vec<String>, StoreError> {
        let this = self.clone();
        blocking(self.describe(), "list", "", move || {
            let mut out = Vec::new();
            match walk(&this.root, &this.root, &mut out) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::Missing {
                        store: this.describe(),
                        what: format!("directory {}", this.root.display()),
                        detail: e.to_string(),
                    })
                }
                Err(e) => return Err(this.io_err("list", "", &e)),
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn probe(&self, for_write: bool) -> Result<(), StoreError> {
        let this = self.clone();
        blocking(self.describe(), "probe", "", move || {
            let missing = |detail: String| StoreError::Missing {
                store: this.describe(),
                what: format!("directory {}", this.root.display()),
                detail,
            };
            if for_write && !this.root.exists() {
                let parent_ok = this.root.parent().is_some_and(Path::is_dir);
                if !parent_ok {
                    return Err(missing("its parent directory does not exist either".into()));
                }
                fs::create_dir(&this.root).map_err(|e| this.io_err("probe", "", &e))?;
            }
            match fs::metadata(&this.root) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(missing("it is not a directory".into())),
                Err(e) => return Err(missing(e.to_string())),
            }
            if for_write {
                let tmp = this.root.join(TMP_DIR);
                // Leftovers of a crash in the middle of a put.
                if tmp.exists() {
                    fs::remove_dir_all(&tmp).map_err(|e| this.io_err("probe", TMP_DIR, &e))?;
                }
                fs::create_dir_all(&tmp).map_err(|e| this.io_err("probe", TMP_DIR, &e))?;
            }
            Ok(())
        })
        .await
    }
}
