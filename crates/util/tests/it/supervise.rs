//! The shared supervisor against shell scripts that note what happens to them: stop
//! order by rank (each rank finished before the next is asked), restart of a child that
//! dies, giving up on one that keeps failing, output into a log file.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use mcnode_util::{
    policy::RestartPolicy,
    supervise::{ChildSpec, Event, Output, SuperviseError, Supervisor},
};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    let ev = dir.join("events");
    fs::write(&p, format!("#!/bin/sh\nEV='{}'\n{body}\n", ev.display())).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A daemon that notes its start, and on SIGTERM its stop, taking `stop_secs`.
fn daemon(dir: &Path, name: &str, stop_secs: &str) -> PathBuf {
    script(
        dir,
        name,
        &format!(
            "echo \"start {name}\" >> \"$EV\"\n\
             trap 'echo \"term {name}\" >> \"$EV\"; sleep {stop_secs}; echo \"exit {name}\" >> \"$EV\"; exit 0' TERM\n\
             echo \"hello from {name}\"\n\
             while true; do sleep 0.05; done"
        ),
    )
}

fn spec(dir: &Path, name: &str, program: PathBuf, rank: u32) -> ChildSpec {
    ChildSpec {
        name: name.into(),
        program,
        args: vec![],
        env: vec![],
        env_remove: vec![],
        output: Output::File {
            path: dir.join(format!("{name}.log")),
            header: "--- test: starting".into(),
        },
        stop_rank: rank,
        grace: Duration::from_secs(5),
        restart: true,
    }
}

fn events(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("events"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn wait_for(dir: &Path, lines: &[&str]) {
    for _ in 0..400 {
        let ev = events(dir);
        if lines.iter().all(|l| ev.iter().any(|e| e == l)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("waited for {lines:?}; events: {:?}", events(dir));
}

fn pos(ev: &[String], line: &str) -> usize {
    ev.iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no {line:?} in {ev:?}"))
}

fn quick() -> RestartPolicy {
    RestartPolicy {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        stable_after: Duration::from_secs(2),
        max_failures: 3,
    }
}

fn recorder() -> (Arc<Mutex<Vec<String>>>, mcnode_util::supervise::EventSink) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let sink = Arc::new(move |e: &Event<'_>| {
        let line = match e {
            Event::Started { spec, .. } => format!("started {}", spec.name),
            Event::Restarting { spec, .. } => format!("restarting {}", spec.name),
            Event::GivingUp { spec, .. } => format!("giving up {}", spec.name),
            Event::Stopped { spec, .. } => format!("stopped {}", spec.name),
            other => format!("{other:?}").chars().take(20).collect(),
        };
        s.lock().unwrap().push(line);
    });
    (seen, sink)
}

#[tokio::test]
async fn stops_by_rank_and_restarts_a_child_that_dies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let consensus = daemon(d, "consensus", "0.4");
    let distribution = daemon(d, "distribution", "0.3");
    let gateway = daemon(d, "gateway", "0.1");
    let (seen, sink) = recorder();
    let mut sup = Supervisor::new(quick(), sink);
    // Started in another order than they stop.
    sup.start(spec(d, "gateway", gateway, 2)).unwrap();
    sup.start(spec(d, "distribution", distribution, 1)).unwrap();
    sup.start(spec(d, "consensus", consensus, 0)).unwrap();
    wait_for(
        d,
        &["start consensus", "start distribution", "start gateway"],
    )
    .await;

    // The archive writer dies: it is started again.
    let pid = sup.pid("distribution").unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        let r = sup
            .run(async {
                let _ = stop_rx.await;
            })
            .await;
        (sup, r)
    });
    for _ in 0..200 {
        if events(d)
            .iter()
            .filter(|l| *l == "start distribution")
            .count()
            == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        events(d)
            .iter()
            .filter(|l| *l == "start distribution")
            .count(),
        2,
        "{:?}",
        events(d)
    );
    stop_tx.send(()).unwrap();
    let (_, r) = run.await.unwrap();
    r.unwrap();

    let ev = events(d);
    // Each rank has exited before the next is asked to stop.
    assert!(
        pos(&ev, "exit consensus") < pos(&ev, "term distribution"),
        "{ev:?}"
    );
    assert!(
        pos(&ev, "exit distribution") < pos(&ev, "term gateway"),
        "{ev:?}"
    );
    assert!(ev.contains(&"exit gateway".to_string()));
    let seen = seen.lock().unwrap();
    assert!(
        seen.contains(&"restarting distribution".to_string()),
        "{seen:?}"
    );
    // The output went to the log, after a header per start.
    let log = fs::read_to_string(d.join("distribution.log")).unwrap();
    assert_eq!(log.matches("--- test: starting").count(), 2, "{log}");
    assert_eq!(log.matches("hello from distribution").count(), 2, "{log}");
}

#[tokio::test]
async fn a_child_that_keeps_failing_is_given_up_and_the_others_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad = script(d, "bad", "echo \"start bad\" >> \"$EV\"\nexit 1");
    let good = daemon(d, "good", "0.1");
    let (seen, sink) = recorder();
    let mut sup = Supervisor::new(quick(), sink);
    sup.start(spec(d, "good", good, 1)).unwrap();
    sup.start(spec(d, "bad", bad, 0)).unwrap();
    let err = sup.run(std::future::pending()).await.unwrap_err();
    let SuperviseError::GaveUp { name, reason, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(name, "bad");
    assert!(reason.contains("3 times in a row"), "{reason}");
    let ev = events(d);
    assert_eq!(ev.iter().filter(|l| *l == "start bad").count(), 3, "{ev:?}");
    assert!(ev.contains(&"exit good".to_string()), "{ev:?}");
    assert!(seen.lock().unwrap().contains(&"giving up bad".to_string()));

    // Not to be restarted: the exit is only reported, and once every child has exited
    // the supervisor says so.
    let once = script(d, "once", "echo \"start once\" >> \"$EV\"\nexit 0");
    let (seen, sink) = recorder();
    let mut sup = Supervisor::new(quick(), sink);
    sup.start(ChildSpec {
        restart: false,
        ..spec(d, "once", once, 0)
    })
    .unwrap();
    let err = sup.run(std::future::pending()).await.unwrap_err();
    assert!(matches!(err, SuperviseError::AllExited), "{err}");
    assert_eq!(events(d).iter().filter(|l| *l == "start once").count(), 1);
    assert!(!seen
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.starts_with("restarting")));

    // A program that cannot start is a typed error, not a panic.
    let mut sup = Supervisor::new(quick(), Arc::new(|_: &Event<'_>| {}));
    let err = sup
        .start(spec(d, "missing", d.join("no-such-program"), 0))
        .unwrap_err();
    assert!(matches!(err, SuperviseError::Spawn { .. }), "{err}");
}
