//! What the one-shape redesign fixed, end to end: GitHub's rate limit survives the process,
//! one User-Agent with the contact, a store that fails mid-sync loses nothing and names the
//! source, a closed pipe ends `report` quietly.

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, forkdebt_ok, stderr};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::Store;
use std::path::Path;
use std::sync::Arc;

/// A dist-git package whose patches name `prs` GitHub pull requests of `o/r`, and a config
/// pointing GitHub at `api`.
pub(crate) fn distgit_with_prs(dir: &Path, prs: usize, api: &str) {
    let pkg = dir.join("distgit/rpms/demo");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let mut spec = String::from("Name: demo\nVersion: 1\nRelease: 1\n");
    for i in 0..prs {
        spec.push_str(&format!(
            "# https://github.com/o/r/pull/{}\nPatch{i}: p{i}.patch\n",
            i + 1
        ));
        std::fs::write(
            pkg.join(format!("p{i}.patch")),
            "Subject: x\n\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        )
        .expect("write");
    }
    std::fs::write(pkg.join("demo.spec"), spec).expect("write");
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{}\"\ncontact = \"mailto:ops@example.org\"\n\
             [sources]\ntimeout_secs = 5\nmax_retries = 1\nmin_interval_ms = 0\n\
             [sources.github]\nurl = \"{api}\"\n",
            dir.join("f.db").display()
        ),
    )
    .expect("config");
    forkdebt_ok(dir, &["--config", "forkdebt.toml", "scan", "distgit"]);
}

pub(crate) fn sync_github(dir: &Path) -> std::process::Output {
    forkdebt(
        dir,
        &["--config", "forkdebt.toml", "sync", "--source", "github"],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_rate_limit_holds_across_processes_and_requests_carry_one_user_agent() {
    let reset = (chrono::Utc::now() + chrono::Duration::minutes(10)).timestamp();
    let handler: Handler = Arc::new(move |_req: &Request| {
        Reply::status(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset.to_string()),
            ],
            r#"{"message":"API rate limit exceeded"}"#,
        )
    });
    let server = Server::start(handler).await;
    let dir = tempfile::tempdir().expect("tempdir");
    distgit_with_prs(dir.path(), 2, &server.url);

    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || sync_github(&path))
        .await
        .expect("join");
    assert!(
        !out.status.success(),
        "a rate-limited source fails the sync"
    );
    let first = server.requests();
    assert!(!first.is_empty(), "the first sync asked GitHub");
    for r in &first {
        let agents: Vec<&str> = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(agents.len(), 1, "one User-Agent header: {agents:?}");
        assert!(agents[0].contains("mailto:ops@example.org"), "{agents:?}");
        assert!(agents[0].starts_with("forkdebt/"), "{agents:?}");
    }

    // A second process: GitHub is not asked at all, and says why.
    server.clear();
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || sync_github(&path))
        .await
        .expect("join");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        server.requests().is_empty(),
        "sent {} requests while rate limited",
        server.requests().len()
    );
    assert!(said.contains("asked us to wait until"), "{said}");
    let sources = forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "sources"]);
    let until = chrono::DateTime::from_timestamp(reset, 0).expect("time");
    let minute = until.format("%Y-%m-%dT%H:%M").to_string();
    assert!(
        sources.contains("127.0.0.1: asked us to wait; not asked again until")
            && sources.contains(&minute),
        "{sources}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_write_failing_mid_sync_fails_the_source_and_keeps_what_was_stored() {
    let handler: Handler = Arc::new(|req: &Request| {
        let n: u64 = req
            .path
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Reply::json(
            serde_json::json!({
                "number": n, "state": "open", "merged": false,
                "html_url": format!("https://github.com/o/r/pull/{n}")
            })
            .to_string(),
        )
    });
    let server = Server::start(handler).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // More pull requests than one recorded batch (50).
    distgit_with_prs(dir.path(), 60, &server.url);
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    {
        let store = Store::open(&url).await.expect("open");
        // The disk "turns read-only" once the first batch is in.
        sqlx::query(
            "CREATE TRIGGER read_only_after_first_batch BEFORE INSERT ON observations \
             WHEN (SELECT COUNT(*) FROM observations WHERE source = 'github') >= 50 \
             BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END",
        )
        .execute(store.pool())
        .await
        .expect("trigger");
        store.close().await;
    }
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || sync_github(&path))
        .await
        .expect("join");
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("github") && err.contains("readonly"),
        "names the source and the cause: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let store = Store::open(&url).await.expect("open");
    let obs = store
        .observations(Dataset::Github)
        .await
        .expect("observations");
    assert_eq!(
        obs.len(),
        50,
        "the first batch stays, the failed one is not half-written"
    );
    assert!(obs.values().all(|o| o.data.is_some()));
    // The verdicts decided with the first batch are there too.
    let demo = store.load_packages(None, Some("demo")).await.expect("load");
    let submitted = demo[0]
        .carried()
        .filter(|p| p.state == forkdebt_core::model::PatchState::Submitted)
        .count();
    assert_eq!(submitted, 50);
    let statuses = store.source_statuses().await.expect("statuses");
    let github = statuses
        .iter()
        .find(|s| s.source == "github")
        .expect("github status");
    assert!(
        github
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("readonly")),
        "{github:?}"
    );
    store.close().await;
}

#[test]
fn report_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Enough packages that the report outgrows the pipe before `head` is gone.
    for i in 0..400 {
        let pkg = dir.path().join(format!("distgit/rpms/pkg{i}"));
        std::fs::create_dir_all(&pkg).expect("mkdir");
        let mut spec = format!("Name: pkg{i}\nVersion: 1\nRelease: 1\n");
        for j in 0..5 {
            spec.push_str(&format!(
                "# https://github.com/o/r/pull/{j}\nPatch{j}: p{j}.patch\n"
            ));
        }
        std::fs::write(pkg.join(format!("pkg{i}.spec")), spec).expect("spec");
    }
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    forkdebt_ok(dir.path(), &["--database", &db, "scan", "distgit"]);
    for format in ["json", "table"] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "\"$0\" --database '{db}' report --format {format} | head -1"
            ))
            .arg(env!("CARGO_BIN_EXE_forkdebt"))
            .current_dir(dir.path())
            .output()
            .expect("sh");
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{format}: {err}"
        );
    }
}
