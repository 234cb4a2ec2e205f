//! S3 archives against a real S3 API server (s3s-fs, in process): publish, read back over
//! S3 and plain HTTP, and the binary's start-up errors.

use std::{process::Command, sync::Arc};

use mcnode_archive::{
    test_server::TestS3Server, ArchiveMetrics, ArchiveReader, ArchiveStore, HttpStore, S3Config,
    S3Store, StartFrom, StoreError,
};
use mcnode_ledger::{Ledger, LmdbLedger};

use crate::common::{assert_archive_exact, publish, rt, shared_ledger, BLOCKS};

const BUCKETS: [u64; 3] = [100, 1000, 10_000];

#[test]
fn publish_1000_blocks_to_s3_and_sync_back() {
    let (_, ledger) = shared_ledger();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("s3");
    std::fs::create_dir_all(root.join("archive")).unwrap();
    let server = TestS3Server::start(&root).unwrap();
    let store = S3Store::new("archive", "net/node1", &server.config()).unwrap();
    rt().block_on(async {
        store.probe(true).await.unwrap();
        let next = publish(
            &store,
            ledger.clone(),
            &tmp.path().join("state.json"),
            StartFrom::Next,
            &BUCKETS,
            BLOCKS,
        )
        .await
        .unwrap();
        assert_eq!(next, BLOCKS);
        assert_archive_exact(&store, &ledger, BLOCKS, &BUCKETS).await;

        // Catch-up from S3.
        let copy = Arc::new(LmdbLedger::create(tmp.path().join("from-s3")).unwrap());
        let reader = ArchiveReader::new(&store, &BUCKETS, ArchiveMetrics::default());
        let r = reader
            .sync_ledger(copy.clone(), None, |_| {})
            .await
            .unwrap();
        assert_eq!(r.to, BLOCKS);
        for i in 0..BLOCKS {
            assert_eq!(copy.block(i).unwrap().id, ledger.block(i).unwrap().id);
        }

        // The same archive read as a plain HTTP(S) archive (anonymous path-style GETs).
        let anon = TestS3Server::start_with(&root, false).unwrap();
        let http = HttpStore::new(
            format!("{}/archive/net/node1/", anon.endpoint())
                .parse()
                .unwrap(),
        )
        .unwrap();
        http.probe(false).await.unwrap();
        assert!(matches!(
            http.put("x", bytes::Bytes::new()).await,
            Err(StoreError::ReadOnly { .. })
        ));
        let copy = Arc::new(LmdbLedger::create(tmp.path().join("from-http")).unwrap());
        let reader = ArchiveReader::new(&http, &BUCKETS, ArchiveMetrics::default());
        assert_eq!(reader.height(32).await.unwrap(), BLOCKS);
        let r = reader
            .sync_ledger(copy.clone(), Some(700), |_| {})
            .await
            .unwrap();
        assert_eq!(r.to, 700);
        assert_eq!(copy.last_block().unwrap().id, ledger.block(699).unwrap().id);
        // Unsigned requests to the authenticated server are refused as credentials.
        let http =
            HttpStore::new(format!("{}/archive/", server.endpoint()).parse().unwrap()).unwrap();
        assert!(matches!(
            http.get("00/00/00/00/00/00/00/0000000000000000.pb").await,
            Err(StoreError::Credentials { .. })
        ));
    });
}

#[test]
fn store_errors_are_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("s3");
    std::fs::create_dir_all(root.join("archive")).unwrap();
    let server = TestS3Server::start(&root).unwrap();
    rt().block_on(async {
        let missing = S3Store::new("nobucket", "", &server.config()).unwrap();
        let e = missing.probe(true).await.unwrap_err();
        assert!(matches!(e, StoreError::Missing { .. }), "{e:?}");
        assert!(
            e.to_string().contains("bucket nobucket does not exist"),
            "{e}"
        );

        let wrong = S3Config {
            secret_access_key: Some("wrong".into()),
            ..server.config()
        };
        let e = S3Store::new("archive", "", &wrong)
            .unwrap()
            .probe(true)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Credentials { .. }), "{e:?}");
        assert!(e.is_fatal());

        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let unreachable = S3Config {
            endpoint: Some(format!("http://127.0.0.1:{closed}")),
            client_retries: 0,
            ..server.config()
        };
        let e = S3Store::new("archive", "", &unreachable)
            .unwrap()
            .probe(true)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Transient { .. }), "{e:?}");
    });
}

fn run_binary(envs: &[(&str, String)], args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ledger-distribution"))
        .args(args)
        .env_remove("AWS_PATH")
        .env_remove("MC_DEST")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn binary_exits_clearly_on_startup_errors() {
    let (ledger_path, _) = shared_ledger();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("s3");
    std::fs::create_dir_all(root.join("archive")).unwrap();
    let server = TestS3Server::start(&root).unwrap();
    let ledger = ledger_path.to_str().unwrap();
    let state = tmp.path().join("state.json");
    let state = state.to_str().unwrap();
    let base = ["--ledger-path", ledger, "--state-file", state];

    // Bad credentials.
    let mut env = server.env();
    env.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SECRET_ACCESS_KEY", "not-the-secret".into()));
    let (ok, err) = run_binary(&env, &[&base[..], &["--dest", "s3://archive/p"]].concat());
    assert!(!ok);
    assert!(
        err.contains("access refused") && err.contains("AWS_SECRET_ACCESS_KEY"),
        "{err}"
    );

    // A missing bucket, named by AWS_PATH (no --dest).
    let mut env = server.env();
    env.push(("AWS_PATH", "s3://no-such-bucket/p".into()));
    let (ok, err) = run_binary(&env, &base);
    assert!(!ok);
    assert!(
        err.contains("bucket no-such-bucket does not exist"),
        "{err}"
    );

    // An endpoint nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut env = server.env();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}")));
    let (ok, err) = run_binary(&env, &[&base[..], &["--dest", "s3://archive/p"]].concat());
    assert!(!ok);
    assert!(
        err.contains("list p failed") && err.contains("s3://archive/p"),
        "{err}"
    );

    // No destination at all; a read-only one; a bad bucket list; a corrupt state file.
    let (ok, err) = run_binary(&[], &base);
    assert!(!ok && err.contains("AWS_PATH"), "{err}");
    let (ok, err) = run_binary(
        &[],
        &[&base[..], &["--dest", "https://example.invalid/x"]].concat(),
    );
    assert!(!ok && err.contains("read-only"), "{err}");
    let dir = format!("file://{}", tmp.path().join("a").display());
    let (ok, err) = run_binary(
        &[],
        &[&base[..], &["--dest", &dir, "--merge-buckets", "100,150"]].concat(),
    );
    assert!(!ok && err.contains("150"), "{err}");
    std::fs::write(state, "{oops").unwrap();
    let (ok, err) = run_binary(&[], &[&base[..], &["--dest", &dir]].concat());
    assert!(
        !ok && err.contains("state.json") && err.contains("next_block"),
        "{err}"
    );
}
