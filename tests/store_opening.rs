//! Opening the store: a file that is not SQLite, a server that is not there, a store that
//! cannot be written are said at once, with the cause and without the password; several
//! processes opening one new store at once all succeed.

use crate::util::{forkdebt, forkdebt_ok, stderr};
use std::time::{Duration, Instant};

#[test]
fn a_file_that_is_not_sqlite_is_said_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.db"),
        "this is a text file, not a database\n".repeat(20),
    )
    .expect("write");
    let started = Instant::now();
    let out = forkdebt(dir.path(), &["--database", "sqlite://bad.db", "report"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        err.contains("bad.db") && err.contains("not a database"),
        "{err}"
    );
    assert!(!err.contains("pool timed out"), "{err}");
}

#[test]
fn an_unreachable_postgres_is_said_at_once_without_the_password() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("postgres://u@127.0.0.1:{port}/db?password=hunter2&sslmode=disable");
    let started = Instant::now();
    let out = forkdebt(dir.path(), &["--database", &url, "init"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.contains("Connection refused"), "{err}");
    assert!(err.contains("password=***"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // The cause is said once, not repeated by every layer.
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
}

#[test]
fn a_read_only_store_is_said_at_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = crate::util::forkdebt_as_nobody(dir.path(), &["--database", "sqlite://f.db", "init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for f in ["f.db", "f.db-wal", "f.db-shm"] {
        let _ =
            std::fs::set_permissions(dir.path().join(f), std::fs::Permissions::from_mode(0o444));
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let started = Instant::now();
    let out =
        crate::util::forkdebt_as_nobody(dir.path(), &["--database", "sqlite://f.db", "report"]);
    let err = stderr(&out);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert!(!out.status.success(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        err.contains("f.db") && !err.contains("pool timed out"),
        "{err}"
    );
    assert!(
        err.contains("readonly") || err.contains("read-only") || err.contains("unable to open"),
        "{err}"
    );
}

/// Eight `init`s at once on one new store: every one succeeds (migrations take turns).
fn concurrent_first_use(dir: &std::path::Path, url: &str) {
    let children: Vec<std::process::Child> = (0..8)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_forkdebt"))
                .args(["--database", url, "init"])
                .current_dir(dir)
                .env_remove("FORKDEBT_DATABASE")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[test]
fn eight_processes_open_a_new_sqlite_store_at_once() {
    for trial in 0..30 {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("new{trial}.db")).display()
        );
        concurrent_first_use(dir.path(), &url);
        let out = forkdebt_ok(dir.path(), &["--database", &url, "report"]);
        assert!(out.contains("Nothing scanned yet"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_processes_open_a_new_postgres_database_at_once() {
    let url = crate::util::postgres_database().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || concurrent_first_use(&path, &url))
        .await
        .expect("join");
}
