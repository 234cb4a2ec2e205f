//! The supervisor against stand-in programs (shell scripts named like the node's binaries
//! that note what happens to them in an events file): start order, shutdown order, the
//! migration gate, giving up on a process that keeps failing, and the origin copy.

#![allow(clippy::unwrap_used)]

use std::{
    collections::HashMap,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use mcnode_entrypoint::{
    logline::Logger, Config, Exit, Grace, RestartPolicy, Supervisor, SupervisorError,
};

/// A directory of stand-in binaries, a ledger directory, an origin ledger and an events
/// file.
struct Rig {
    dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Self {
        let rig = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(rig.path("bin")).unwrap();
        fs::create_dir_all(rig.path("origin")).unwrap();
        fs::write(rig.path("origin/data.mdb"), b"origin ledger bytes").unwrap();
        fs::write(rig.path("events"), b"").unwrap();
        rig
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Writes `bin/<name>` running `body` (sh), with `$EV` the events file.
    fn script(&self, name: &str, body: &str) {
        let p = self.path(&format!("bin/{name}"));
        let ev = self.path("events");
        fs::write(&p, format!("#!/bin/sh\nEV='{}'\n{body}\n", ev.display())).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A long-running process that notes its start and, on SIGTERM, its stop (taking
    /// `stop_secs` to stop).
    fn daemon(&self, name: &str, stop_secs: &str) {
        self.script(
            name,
            &format!(
                "echo \"start {name} $*\" >> \"$EV\"\n\
                 trap 'echo \"term {name}\" >> \"$EV\"; sleep {stop_secs}; echo \"exit {name}\" >> \"$EV\"; exit 0' TERM\n\
                 echo '{{\"level\":\"INFO\",\"fields\":{{\"message\":\"json from {name}\"}}}}'\n\
                 while true; do sleep 0.05; done"
            ),
        );
    }

    fn standard(&self) {
        self.script(
            "mc-ledger-migration",
            "echo \"migrate $*\" >> \"$EV\"\necho 'ledger is at schema 2: nothing to do' >&2",
        );
        self.daemon("ledger-distribution", "0.1");
        self.daemon("mc-admin-http-gateway", "0.1");
        self.daemon("consensus-service", "0.5");
    }

    fn events(&self) -> Vec<String> {
        fs::read_to_string(self.path("events"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn config(&self, extra: &[(&str, &str)], args: &[&str]) -> Config {
        let mut env: HashMap<String, String> = [
            ("LOCAL_NODE_ID", "node0:8443".to_string()),
            ("NODE_LEDGER_DIR", self.path("ledger").display().to_string()),
            (
                "CONSENSUS_ADMIN_URI",
                "insecure-mca://127.0.0.1:9091/".into(),
            ),
            (
                "AWS_PATH",
                format!("file://{}", self.path("archive").display()),
            ),
            ("NODE_STATE_DIR", self.path("state").display().to_string()),
            (
                "ORIGIN_BLOCK_PATH",
                self.path("origin").display().to_string(),
            ),
            ("MCNODE_BIN_DIR", self.path("bin").display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        Config::from_lookup(
            |k| env.get(k).cloned(),
            args.iter().map(|s| s.to_string()).collect(),
            Path::new("/nonexistent"),
        )
        .unwrap()
    }

    fn supervisor(&self, cfg: Config) -> Supervisor {
        let mut s = Supervisor::new(cfg, Logger::new("node0:8443"));
        s.policy = RestartPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            stable_after: Duration::from_secs(2),
            max_failures: 3,
        };
        s.grace = Grace {
            consensus: Duration::from_secs(5),
            others: Duration::from_secs(5),
        };
        s
    }

    /// Waits until the events file has a line starting with each of `prefixes`.
    async fn wait_for(&self, prefixes: &[&str]) {
        for _ in 0..200 {
            let ev = self.events();
            if prefixes.iter().all(|p| ev.iter().any(|l| l.starts_with(p))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("waited for {prefixes:?}; events: {:?}", self.events());
    }
}

fn position(ev: &[String], line: &str) -> usize {
    ev.iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no {line:?} in {ev:?}"))
}

#[tokio::test]
async fn starts_after_the_migration_and_stops_consensus_first() {
    let rig = Rig::new();
    rig.standard();
    let sup = rig.supervisor(rig.config(&[], &["--network", "/n.toml"]));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        sup.run(async {
            let _ = stop_rx.await;
        })
        .await
    });
    rig.wait_for(&[
        "start ledger-distribution",
        "start mc-admin-http-gateway",
        "start consensus-service",
    ])
    .await;
    stop_tx.send(()).unwrap();
    run.await.unwrap().unwrap();

    let ev = rig.events();
    let ledger = rig.path("ledger").display().to_string();
    assert_eq!(ev[0], format!("migrate --ledger-db {ledger}"), "{ev:?}");
    assert!(ev.contains(&"start consensus-service --network /n.toml".to_string()));
    assert!(ev.contains(&format!(
        "start ledger-distribution --ledger-path {ledger} --dest file://{} --state-file {} --start-from next --metrics-listen 0.0.0.0:9092",
        rig.path("archive").display(),
        rig.path("state/ledger-distribution-state.json").display()
    )));
    assert!(ev.contains(
        &"start mc-admin-http-gateway --admin-uri insecure-mca://127.0.0.1:9091/".to_string()
    ));
    // consensus-service has finished stopping before the others are asked to.
    let consensus_exit = position(&ev, "exit consensus-service");
    assert!(position(&ev, "term consensus-service") < consensus_exit);
    assert!(
        consensus_exit < position(&ev, "term ledger-distribution"),
        "{ev:?}"
    );
    assert!(
        consensus_exit < position(&ev, "term mc-admin-http-gateway"),
        "{ev:?}"
    );
    assert!(ev.contains(&"exit ledger-distribution".to_string()));
    // The origin was copied in, and is not copied again over a ledger.
    assert_eq!(
        fs::read(rig.path("ledger/data.mdb")).unwrap(),
        b"origin ledger bytes"
    );
    assert!(rig.path("state").is_dir());
}

#[tokio::test]
async fn a_failed_migration_starts_nothing() {
    let rig = Rig::new();
    rig.standard();
    rig.script(
        "mc-ledger-migration",
        "echo 'error: migration of x failed' >&2; exit 1",
    );
    let err = rig
        .supervisor(rig.config(&[], &[]))
        .run(std::future::pending())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SupervisorError::Migration {
                exit: Exit::Code(1)
            }
        ),
        "{err}"
    );
    assert!(rig.events().is_empty(), "{:?}", rig.events());
}

#[tokio::test]
async fn a_consensus_service_that_keeps_failing_is_given_up_and_the_others_stopped() {
    let rig = Rig::new();
    rig.standard();
    rig.script(
        "consensus-service",
        "echo \"start consensus-service\" >> \"$EV\"\necho 'error: network.toml line 3: bad' >&2\nexit 1",
    );
    let err = rig
        .supervisor(rig.config(&[], &[]))
        .run(std::future::pending())
        .await
        .unwrap_err();
    let SupervisorError::GaveUp { name, reason } = &err else {
        panic!("{err}");
    };
    assert_eq!(*name, "consensus-service");
    assert!(reason.contains("3 times in a row"), "{reason}");
    let ev = rig.events();
    assert_eq!(
        ev.iter()
            .filter(|l| *l == "start consensus-service")
            .count(),
        3,
        "{ev:?}"
    );
    assert!(
        ev.contains(&"exit ledger-distribution".to_string()),
        "{ev:?}"
    );
    assert!(
        ev.contains(&"exit mc-admin-http-gateway".to_string()),
        "{ev:?}"
    );
}

#[tokio::test]
async fn a_usage_error_is_given_up_at_once() {
    let rig = Rig::new();
    rig.standard();
    rig.script(
        "consensus-service",
        "echo \"start consensus-service\" >> \"$EV\"\necho 'error: unexpected argument' >&2\nexit 2",
    );
    let err = rig
        .supervisor(rig.config(&[], &["--bogus"]))
        .run(std::future::pending())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("rejected its arguments"), "{err}");
    assert_eq!(
        rig.events()
            .iter()
            .filter(|l| *l == "start consensus-service")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_crashed_child_is_restarted() {
    let rig = Rig::new();
    rig.standard();
    // ledger-distribution crashes on its first run only.
    rig.script(
        "ledger-distribution",
        &format!(
            "if [ ! -e '{}' ]; then touch '{}'; echo crash1 >> \"$EV\"; exit 1; fi\n\
             echo restarted >> \"$EV\"\n\
             trap 'exit 0' TERM\nwhile true; do sleep 0.05; done",
            rig.path("crashed").display(),
            rig.path("crashed").display()
        ),
    );
    let sup = rig.supervisor(rig.config(&[], &[]));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        sup.run(async {
            let _ = stop_rx.await;
        })
        .await
    });
    rig.wait_for(&["crash1", "restarted", "start consensus-service"])
        .await;
    stop_tx.send(()).unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn without_aws_path_or_gateway_only_consensus_runs() {
    let rig = Rig::new();
    rig.standard();
    fs::remove_file(rig.path("bin/mc-admin-http-gateway")).unwrap();
    let mut cfg = rig.config(&[], &[]);
    cfg.archive = None;
    let sup = rig.supervisor(cfg);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        sup.run(async {
            let _ = stop_rx.await;
        })
        .await
    });
    rig.wait_for(&["start consensus-service"]).await;
    stop_tx.send(()).unwrap();
    run.await.unwrap().unwrap();
    let ev = rig.events();
    assert!(
        !ev.iter().any(|l| l.contains("ledger-distribution")),
        "{ev:?}"
    );
}

#[tokio::test]
async fn a_ledger_directory_without_a_ledger_or_an_origin_is_refused() {
    let rig = Rig::new();
    rig.standard();
    fs::remove_file(rig.path("origin/data.mdb")).unwrap();
    let err = rig
        .supervisor(rig.config(&[], &[]))
        .run(std::future::pending())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is empty and there is no origin ledger"),
        "{err}"
    );
    fs::create_dir_all(rig.path("ledger")).unwrap();
    fs::write(rig.path("ledger/stray"), b"x").unwrap();
    let err = rig
        .supervisor(rig.config(&[], &[]))
        .run(std::future::pending())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("holds no data.mdb"), "{err}");
    assert!(rig.events().is_empty());
}
