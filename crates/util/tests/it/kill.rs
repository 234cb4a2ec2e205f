//! Kill-during-write: a child process (this test binary, re-run as the ignored test
//! `kill::child_writer`) writes version after version (numbered on from the last child's) of a file with one of the helpers
//! while the parent SIGKILLs it at random moments; after every kill the file must be
//! absent (before the first write) or exactly one whole version, never a torn one, and no
//! later than the last one the child started.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use mcnode_util::fs::{copy_atomic, dir_is_empty, write_atomic, write_new, Mode};
use rand::{Rng, SeedableRng};

const ENV_FUNC: &str = "MCNODE_KILL_TEST_FUNC";
const ENV_PATH: &str = "MCNODE_KILL_TEST_PATH";
const ENV_FIRST: &str = "MCNODE_KILL_TEST_FIRST";

/// Version `v`'s bytes: a header naming it, then 64 KiB .. 320 KiB derived from it, so a
/// torn or mixed file cannot pass [`parse`].
fn contents(v: u64) -> Vec<u8> {
    let len = 65_536 + (v as usize * 7_919) % 262_144;
    let mut out = format!("v{v} {len}\n").into_bytes();
    out.extend((0..len).map(|i| (i as u64 ^ v.wrapping_mul(0x9e37_79b9)) as u8));
    out
}

/// The version a file holds, if it is exactly one.
fn parse(bytes: &[u8]) -> Option<u64> {
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    let head = std::str::from_utf8(&bytes[..nl]).ok()?;
    let v: u64 = head.strip_prefix('v')?.split(' ').next()?.parse().ok()?;
    (contents(v) == bytes).then_some(v)
}

/// The child: writes versions 1, 2, ... of the file forever with the helper named in
/// the environment, noting each version in `<path>.started` before it writes it.
#[test]
#[ignore = "the child half of the kill tests; they run it"]
fn child_writer() {
    let (Ok(func), Some(path)) = (std::env::var(ENV_FUNC), std::env::var_os(ENV_PATH)) else {
        return; // run directly: nothing to write
    };
    let path = PathBuf::from(path);
    // The marker is overwritten in place with one fixed-width write (never truncated), so
    // a kill cannot leave it empty.
    let mut started = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.with_extension("started"))
        .unwrap();
    let first: u64 = std::env::var(ENV_FIRST).unwrap().parse().unwrap();
    for v in first.. {
        use std::io::{Seek, Write};
        started.seek(std::io::SeekFrom::Start(0)).unwrap();
        started.write_all(format!("{v:020}").as_bytes()).unwrap();
        let bytes = contents(v);
        match func.as_str() {
            "write_atomic" => write_atomic(&path, &bytes, Mode::Secret).unwrap(),
            "write_new" => {
                // A fresh name per version (it refuses to overwrite); the parent checks
                // every name written so far.
                let p = path.with_extension(format!("{v}"));
                write_new(&p, &bytes, Mode::Secret).unwrap();
            }
            "copy_atomic" => {
                let src = path.with_extension("src");
                std::fs::write(&src, &bytes).unwrap();
                copy_atomic(&src, &path, Mode::Public).unwrap();
            }
            other => panic!("unknown helper {other}"),
        }
    }
}

fn run_kills(func: &str, kills: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target.file");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
    let mut started = 0;
    for round in 0..kills {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "kill::child_writer", "--ignored", "--nocapture"])
            .env(ENV_FUNC, func)
            .env(ENV_PATH, &path)
            .env(ENV_FIRST, (started + 1).to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        std::thread::sleep(Duration::from_micros(rng.gen_range(2_000..40_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        started = std::fs::read_to_string(path.with_extension("started"))
            .map(|s| s.parse().unwrap())
            .unwrap_or(started);
        check(func, &path, started, round, t.elapsed());
        // The numbered files go, so the next child can write them again.
        if func == "write_new" {
            for e in std::fs::read_dir(dir.path()).unwrap() {
                let p = e.unwrap().path();
                if p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| x.parse::<u64>().is_ok())
                {
                    std::fs::remove_file(p).unwrap();
                }
            }
        }
    }
    // Kills landed in the middle of writes (their temporary files are left), and those
    // are recognised as leftovers: without the real files the directory counts as empty.
    let mut leftovers = 0;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        if mcnode_util::fs::is_temp_leftover(&e.file_name()) {
            leftovers += 1;
        } else {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    eprintln!("{func}: {kills} kills, the child reached version {started}, {leftovers} interrupted writes");
    assert!(leftovers > 0, "no kill landed during a write");
    assert!(dir_is_empty(dir.path()).unwrap());
}

fn check(func: &str, path: &Path, started: u64, round: usize, after: Duration) {
    let ctx = format!("{func}, kill {round} after {after:?}, child started version {started}");
    if func == "write_new" {
        // Every numbered file is whole and is the version its name says.
        let dir = path.parent().unwrap();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let Some(n) = p
                .extension()
                .and_then(|x| x.to_str())
                .and_then(|x| x.parse::<u64>().ok())
            else {
                continue;
            };
            let v = parse(&std::fs::read(&p).unwrap());
            assert_eq!(v, Some(n), "{ctx}: {} is torn", p.display());
            assert!(n <= started, "{ctx}");
        }
        return;
    }
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("{ctx}: {e}"),
        Ok(bytes) => {
            let v = parse(&bytes)
                .unwrap_or_else(|| panic!("{ctx}: the file is torn ({} bytes)", bytes.len()));
            assert!(v <= started, "{ctx}: holds version {v}");
        }
    }
}

#[test]
fn write_atomic_survives_sigkill() {
    run_kills("write_atomic", 40);
}

#[test]
fn write_new_survives_sigkill() {
    run_kills("write_new", 30);
}

#[test]
fn copy_atomic_survives_sigkill() {
    run_kills("copy_atomic", 30);
}
