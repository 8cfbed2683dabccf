//! Every source against a server that misbehaves in every way: each item gets a recorded
//! error, the sync says which source failed and exits non-zero, nothing panics, and a 429
//! with Retry-After is waited out. (Keeping the previous observation is shown per source in
//! bugzilla.rs and forges.rs; all sources record through the same store call.)

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, stderr};
use forkdebt_core::store::Store;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Status500,
    RateLimitThen500,
    /// GitHub's way: 403 with no requests left until `x-ratelimit-reset`.
    RateLimitResetThen500,
    Hang,
    CutShort,
    Truncated,
    Html,
    Empty,
    Huge,
}

fn reply(f: Fault, first: bool) -> Reply {
    match f {
        Fault::Status500 => Reply::status(500, &[], "oops"),
        Fault::RateLimitThen500 if first => Reply::status(429, &[("Retry-After", "1")], ""),
        Fault::RateLimitThen500 => Reply::status(500, &[], "still broken"),
        Fault::RateLimitResetThen500 if first => {
            let reset = (chrono::Utc::now().timestamp() + 2).to_string();
            Reply::status(
                403,
                &[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset),
                ],
                "{\"message\":\"API rate limit exceeded\"}",
            )
        }
        Fault::RateLimitResetThen500 => Reply::status(500, &[], "still broken"),
        Fault::Hang => Reply::Hang(Duration::from_secs(4)),
        Fault::CutShort => Reply::CutShort {
            declared: 4096,
            body: b"{\"a\": [1, 2".to_vec(),
        },
        Fault::Truncated => Reply::json(b"{\"number\": 1, \"state\": \"op".to_vec()),
        Fault::Html => Reply::status(
            200,
            &[("Content-Type", "text/html")],
            "<!DOCTYPE html><html><body>maintenance</body></html>",
        ),
        Fault::Empty => Reply::json(Vec::new()),
        Fault::Huge => Reply::json(vec![b' '; 17 * 1024 * 1024]),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_source_records_every_fault_and_keeps_going() {
    let faults = [
        (Fault::Status500, "HTTP 500"),
        (Fault::RateLimitThen500, "HTTP 500"),
        (Fault::RateLimitResetThen500, "HTTP 500"),
        (Fault::Hang, "timed out"),
        (Fault::CutShort, "cut off"),
        (Fault::Truncated, ""),
        (Fault::Html, ""),
        (Fault::Empty, ""),
        (Fault::Huge, "larger than"),
    ];
    for (fault, expect) in faults {
        let seen: Arc<Mutex<bool>> = Arc::default();
        let s = seen.clone();
        let handler: Handler = Arc::new(move |_req: &Request| {
            let mut first = s.lock().expect("lock");
            let was_first = !*first;
            *first = true;
            reply(fault, was_first)
        });
        let server = Server::start(handler).await;
        let url = &server.url;
        let dir = tempfile::tempdir().expect("tempdir");
        let pkg = dir.path().join("distgit/rpms/demo");
        std::fs::create_dir_all(&pkg).expect("mkdir");
        std::fs::write(
            pkg.join("demo.spec"),
            "Name: demo\nVersion: 1\nRelease: 1\n# https://github.com/o/r/pull/1\nPatch0: a.patch\n\
             # https://fedoraproject.org/wiki/Changes/X\nPatch1: b.patch\n",
        )
        .expect("write");
        for f in ["a.patch", "b.patch"] {
            std::fs::write(
                pkg.join(f),
                "Subject: x\n\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
            )
            .expect("write");
        }
        std::fs::write(
            dir.path().join("forkdebt.toml"),
            format!(
                "database = \"sqlite://{db}\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"el\"\n\
                 [[distro]]\nname = \"el\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"t\"\nrepodata_url = \"{url}/repo\"\n\
                 [sources]\ntimeout_secs = 1\nmax_retries = 1\nmin_interval_ms = 0\nbackoff_min_ms = 20\n\
                 [sources.github]\nurl = \"{url}\"\n[sources.fedora_wiki]\nurl = \"{url}/w/api.php\"\nreleases = []\n",
                db = dir.path().join("f.db").display()
            ),
        )
        .expect("config");
        assert!(
            forkdebt(dir.path(), &["--config", "forkdebt.toml", "scan"])
                .status
                .success()
        );
        // What each source knew before: a failed sync must keep it.
        let known = [
            ("github", "o/r#1"),
            ("fedora_wiki", "Changes/X"),
            ("koji", "el/demo"),
            ("repodata", "el/demo"),
        ];
        let store = Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()))
            .await
            .expect("open");
        for (source, item) in known {
            let o = forkdebt_core::store::ItemOutcome::Observed {
                data: format!("{{\"known\":\"{source}\"}}"),
                upstream_changed_at: None,
            };
            store
                .record_outcomes(
                    forkdebt_core::source::Dataset::parse(source).expect("dataset"),
                    &[(item.to_string(), o)],
                    chrono::Utc::now(),
                )
                .await
                .expect("seed");
        }
        store.close().await;
        let path = dir.path().to_path_buf();
        let started = std::time::Instant::now();
        let out = tokio::task::spawn_blocking(move || {
            forkdebt(
                &path,
                &[
                    "--config",
                    "forkdebt.toml",
                    "sync",
                    "--source",
                    "github",
                    "--source",
                    "fedora_wiki",
                    "--source",
                    "koji",
                    "--source",
                    "repodata",
                ],
            )
        })
        .await
        .expect("join");
        let said = String::from_utf8_lossy(&out.stdout).to_string();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{fault:?}: {err}");
        assert_eq!(out.status.code(), Some(1), "{fault:?}: {said}\n{err}");
        assert_eq!(
            said.matches("FAILED").count(),
            4,
            "{fault:?}: every source failed and said so:\n{said}"
        );
        assert!(said.contains(expect), "{fault:?}: `{expect}` in\n{said}");
        if matches!(
            fault,
            Fault::RateLimitThen500 | Fault::RateLimitResetThen500
        ) {
            let reqs = server.requests();
            assert!(
                reqs[1].at - reqs[0].at >= Duration::from_secs(1),
                "{fault:?}: Retry-After not honoured"
            );
            assert!(started.elapsed() >= Duration::from_secs(1));
        }
        let store = Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()))
            .await
            .expect("open");
        for source in ["github", "fedora_wiki", "koji", "repodata"] {
            let obs = store
                .observations(forkdebt_core::source::Dataset::parse(source).expect("dataset"))
                .await
                .expect("observations");
            assert!(!obs.is_empty(), "{fault:?}: {source} recorded its items");
            assert!(
                obs.values().all(|o| o.last_error.is_some()),
                "{fault:?}: {source}: {obs:?}"
            );
            let (_, item) = known.iter().find(|(s, _)| *s == source).expect("known");
            assert_eq!(
                obs[*item].data.as_deref(),
                Some(format!("{{\"known\":\"{source}\"}}").as_str()),
                "{fault:?}: {source} kept what it knew"
            );
        }
        let status = store.source_statuses().await.expect("status");
        assert!(
            status
                .iter()
                .all(|s| s.last_error.is_some() && s.last_success.is_none()),
            "{status:?}"
        );
        store.close().await;
    }
}
