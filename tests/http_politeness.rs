//! Talking to upstream politely and safely: a rate limit holds across processes, one
//! User-Agent with the contact, Retry-After bounded, redirects counted and kept on one origin,
//! timeouts bounded, and a store failing mid-sync loses nothing.

use crate::builder::{DistGit, Package, patch_text};
use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, forkdebt_ok, stderr};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::Store;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A dist-git package whose patches name `prs` GitHub pull requests of `o/r`, and a config
/// pointing GitHub at `api`.
pub(crate) fn distgit_with_prs(dir: &Path, prs: usize, api: &str) {
    let mut demo = Package::new("demo");
    for i in 0..prs {
        demo = demo.commented_patch(
            &format!("https://github.com/o/r/pull/{}", i + 1),
            &format!("p{i}.patch"),
            &patch_text("x", 1, "x", ""),
        );
    }
    DistGit::new(dir)
        .package(demo)
        .config(&format!("[sources.github]\nurl = \"{api}\"\n"))
        .scanned();
}

pub(crate) fn sync_github(dir: &Path) -> std::process::Output {
    forkdebt(
        dir,
        &["--config", "forkdebt.toml", "sync", "--source", "github"],
    )
}

/// The wait `forkdebt sources` reports for 127.0.0.1, if any.
fn reported_wait(dir: &std::path::Path) -> Option<chrono::DateTime<chrono::Utc>> {
    let out = forkdebt_ok(dir, &["--config", "forkdebt.toml", "sources"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("127.0.0.1: asked us to wait"))?;
    let at = line.split("until ").nth(1)?.split_whitespace().next()?;
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_retry_after_is_bounded_and_can_be_reset() {
    use crate::httpd::{Handler, Reply, Request, Server};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // First 100000000 s (three years), then 10^15 s (past any date), then a normal answer.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let handler: Handler =
        Arc::new(
            move |_req: &Request| match seen.fetch_add(1, Ordering::SeqCst) {
                0 => Reply::status(429, &[("Retry-After", "100000000")], "slow down"),
                1 => Reply::status(429, &[("Retry-After", "1000000000000000")], "slow down"),
                _ => Reply::json(r#"{"number": 1, "state": "open"}"#),
            },
        );
    let server = Server::start(handler).await;
    let dir = tempfile::tempdir().expect("tempdir");
    crate::http_politeness::distgit_with_prs(dir.path(), 1, &server.url);
    for round in 0..2 {
        let path = dir.path().to_path_buf();
        let out = tokio::task::spawn_blocking(move || crate::http_politeness::sync_github(&path))
            .await
            .expect("join");
        let err = stderr(&out);
        assert!(
            !err.contains("panicked") && !err.contains("overflow"),
            "{err}"
        );
        let until = reported_wait(dir.path()).expect("a recorded wait");
        let bound = chrono::Utc::now() + chrono::Duration::hours(24) + chrono::Duration::minutes(1);
        assert!(
            until <= bound,
            "round {round}: waits until {until}, past a day"
        );
        assert!(until > chrono::Utc::now() + chrono::Duration::hours(23));
        // Reset: the next sync asks again.
        let said = forkdebt_ok(
            dir.path(),
            &[
                "--config",
                "forkdebt.toml",
                "sources",
                "--reset",
                "127.0.0.1",
            ],
        );
        assert!(said.contains("no longer waited for"), "{said}");
        assert_eq!(reported_wait(dir.path()), None);
    }
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || crate::http_politeness::sync_github(&path))
        .await
        .expect("join");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let out = forkdebt(
        dir.path(),
        &[
            "--config",
            "forkdebt.toml",
            "sources",
            "--reset",
            "nowhere.example",
        ],
    );
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_followed_on_one_host_counted_and_loops_named() {
    use crate::httpd::{Handler, Reply, Request, Server};
    use std::sync::Arc;
    let handler: Handler = Arc::new(|req: &Request| match req.path.as_str() {
        // A renamed repository: GitHub answers 301 to the new name.
        "/repos/o/r/pulls/1" => Reply::status(301, &[("Location", "/repos/o/renamed/pulls/1")], ""),
        "/repos/o/renamed/pulls/1" => Reply::json(r#"{"number": 1, "state": "open"}"#),
        // A loop.
        "/repos/o/r/pulls/2" => Reply::status(302, &[("Location", "/repos/o/r/pulls/2")], ""),
        // Somewhere else.
        "/repos/o/r/pulls/3" => Reply::status(
            301,
            &[("Location", "http://elsewhere.invalid/repos/o/r/pulls/3")],
            "",
        ),
        _ => Reply::status(404, &[], r#"{"message":"Not Found"}"#),
    });
    let server = Server::start(handler).await;
    let dir = tempfile::tempdir().expect("tempdir");
    crate::http_politeness::distgit_with_prs(dir.path(), 3, &server.url);
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || crate::http_politeness::sync_github(&path))
        .await
        .expect("join");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let loops = server
        .requests()
        .iter()
        .filter(|r| r.path == "/repos/o/r/pulls/2")
        .count();
    assert_eq!(loops, 6, "the first request and five hops, never retried");
    assert_eq!(
        server.requests().len(),
        2 + 6 + 1,
        "{:?}",
        server.requests()
    );
    assert!(said.contains("9 requests"), "every hop is counted: {said}");

    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = forkdebt_core::store::Store::open(&url).await.expect("open");
    let obs = store
        .observations(forkdebt_core::source::Dataset::Github)
        .await
        .expect("observations");
    assert!(
        obs["o/r#1"].data.is_some(),
        "the renamed repository's answer is kept"
    );
    let e2 = obs["o/r#2"].last_error.clone().unwrap_or_default();
    assert!(e2.contains("redirects (a loop?)"), "{e2}");
    let e3 = obs["o/r#3"].last_error.clone().unwrap_or_default();
    assert!(
        e3.contains("another origin (http://elsewhere.invalid)"),
        "{e3}"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_github_is_bounded_by_the_configured_timeout() {
    use crate::httpd::{Handler, Reply, Request, Server};
    use std::sync::Arc;
    let handler: Handler = Arc::new(|_req: &Request| Reply::Hang(Duration::from_secs(120)));
    let server = Server::start(handler).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // `timeout_secs = 5`, one retry: two attempts of at most 5 s each.
    crate::http_politeness::distgit_with_prs(dir.path(), 1, &server.url);
    let started = Instant::now();
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || crate::http_politeness::sync_github(&path))
        .await
        .expect("join");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(said.contains("timed out"), "{said}");
}

#[test]
fn a_sync_without_a_contact_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{}\"\n",
            dir.path().join("f.db").display()
        ),
    )
    .expect("config");
    let out = forkdebt(
        dir.path(),
        &["--config", "forkdebt.toml", "sync", "--source", "bodhi"],
    );
    assert!(
        stderr(&out).contains("no `contact` is configured"),
        "{}",
        stderr(&out)
    );
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
