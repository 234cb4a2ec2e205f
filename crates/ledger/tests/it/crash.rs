//! Crash safety: a child process appends blocks in a loop and is SIGKILLed 50 times at
//! random moments; every time, the ledger reopens and verifies at a block boundary.
//!
//! The child is this test binary run again with `MCNODE_CRASH_CHILD` set, executing only
//! [`crash_child`] (which does nothing in a normal run).

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use mcnode_ledger::{
    test_utils::{append_random, Signers},
    Ledger, LmdbLedger,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

const CHILD_ENV: &str = "MCNODE_CRASH_CHILD";
const KILLS: usize = 50;

/// The child: appends blocks until killed.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let ledger = LmdbLedger::open(&path).unwrap();
    let seed = std::process::id() as u64 ^ ledger.num_blocks().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let signers = Signers::from_seed(7);
    println!("\ncrash-child-ready");
    std::io::stdout().flush().unwrap();
    loop {
        let outputs = rng.gen_range(1..200);
        let key_images = rng.gen_range(0..8);
        append_random(&ledger, &mut rng, outputs, key_images, Some(&signers)).unwrap();
    }
}

#[test]
fn sigkill_at_random_moments_leaves_a_valid_ledger() {
    let start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    {
        let ledger = LmdbLedger::create(&path).unwrap();
        append_random(&ledger, &mut ChaCha20Rng::seed_from_u64(1), 10, 0, None).unwrap();
        ledger.close();
    }
    let exe = std::env::current_exe().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(60);
    let mut height = 1;
    let mut grew = 0;
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_child",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("crash-child-ready") => break,
                Some(Ok(_)) => {}
                other => panic!("round {round}: child ended before ready: {other:?}"),
            }
        }
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..60_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        let ledger = LmdbLedger::open(&path).unwrap();
        let report = ledger
            .verify(&mut |_, _| {})
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(report.num_blocks >= height, "round {round}: ledger shrank");
        if report.num_blocks > height {
            grew += 1;
        }
        height = report.num_blocks;
        ledger.close();
    }
    eprintln!(
        "{KILLS} kills, ledger grew in {grew} rounds to {height} blocks, {:?}",
        start.elapsed()
    );
    assert!(
        grew >= KILLS / 2,
        "children were killed before appending anything"
    );
}
