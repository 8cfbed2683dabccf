//! A sync killed (SIGKILL) in the middle leaves no observation without the event it caused,
//! and no event without its observation; a rerun finishes the job without duplicates.

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, forkdebt_ok, stderr};
use forkdebt_core::store::Store;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const PRS: usize = 120;

#[tokio::test(flavor = "multi_thread")]
async fn killing_a_sync_midway_loses_no_event_and_doubles_none() {
    let merged = Arc::new(AtomicBool::new(false));
    let m = merged.clone();
    let handler: Handler = Arc::new(move |req: &Request| {
        let n: usize = req
            .path
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let body = if m.load(Ordering::SeqCst) {
            // Slow enough that the kill lands mid-sync.
            std::thread::sleep(Duration::from_millis(15));
            format!(
                r#"{{"number":{n},"state":"closed","merged":true,"merged_at":"2024-01-01T00:00:00Z","merge_commit_sha":"{n:040}"}}"#
            )
        } else {
            format!(r#"{{"number":{n},"state":"open","merged":false}}"#)
        };
        Reply::json(body.into_bytes())
    });
    let server = Server::start(handler).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = dir.path().join("distgit/rpms/demo");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let mut spec = String::from("Name: demo\nVersion: 1\nRelease: 1\n");
    for i in 1..=PRS {
        spec.push_str(&format!(
            "# https://github.com/o/r/pull/{i}\nPatch{i}: p{i}.patch\n"
        ));
        std::fs::write(
            pkg.join(format!("p{i}.patch")),
            "Subject: x\n\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        )
        .expect("write");
    }
    std::fs::write(pkg.join("demo.spec"), spec).expect("write");
    let db = dir.path().join("f.db");
    std::fs::write(
        dir.path().join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{}\"\n[sources]\nmin_interval_ms = 0\nmax_retries = 0\n[sources.github]\nurl = \"{}\"\n",
            db.display(),
            server.url
        ),
    )
    .expect("config");
    forkdebt_ok(
        dir.path(),
        &["--config", "forkdebt.toml", "scan", "distgit"],
    );
    let args = ["--config", "forkdebt.toml", "sync", "--source", "github"];
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || forkdebt(&path, &args))
        .await
        .expect("join");
    assert!(out.status.success(), "{}", stderr(&out));

    // Every PR gets merged; the sync is killed partway through.
    merged.store(true, Ordering::SeqCst);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(args)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let check = |label: &'static str| {
        let db = db.clone();
        async move {
            let store = Store::open(&format!("sqlite://{}", db.display()))
                .await
                .expect("open");
            let obs = store
                .observations(forkdebt_core::source::Dataset::Github)
                .await
                .expect("observations");
            let merged_prs: BTreeSet<String> = obs
                .iter()
                .filter(|(_, o)| {
                    o.data
                        .as_deref()
                        .is_some_and(|d| d.contains("\"merged\":true"))
                })
                .map(|(id, _)| format!("p{}.patch", id.rsplit('#').next().unwrap_or_default()))
                .collect();
            let events = store.events(None).await.expect("events");
            let evented: Vec<String> = events.iter().map(|e| e.subject.clone()).collect();
            let unique: BTreeSet<String> = evented.iter().cloned().collect();
            assert_eq!(
                unique.len(),
                evented.len(),
                "{label}: an event was written twice"
            );
            assert_eq!(
                unique, merged_prs,
                "{label}: observations and events must match one to one"
            );
            assert!(events.iter().all(|e| e.from_state.as_deref() == Some("submitted") && e.to_state == "merged"));
            store.close().await;
            merged_prs.len()
        }
    };
    let after_kill = check("after the kill").await;
    assert!(
        after_kill < PRS,
        "the kill came too late to test anything ({after_kill} of {PRS} done)"
    );

    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || forkdebt(&path, &args))
        .await
        .expect("join");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(check("after the rerun").await, PRS);
}
