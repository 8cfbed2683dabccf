//! From dist-git to a verdict: scan, sync against local servers serving the recorded GitHub
//! answers and a repository, then `why` and `report` tell which patch can be dropped and why.

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, forkdebt_ok, stderr};
use serde_json::Value;
use std::io::Write as _;
use std::sync::Arc;

fn fixture(rel: &str) -> Vec<u8> {
    let path = crate::util::repo_root()
        .join("../shared/fixtures/github")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A primary.xml.gz shipping `demo` at `version`.
fn primary(version: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    write!(
        gz,
        "<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\
         <package type=\"rpm\"><name>demo</name><arch>src</arch><version epoch=\"0\" ver=\"{version}\" rel=\"3.el9\"/></package></metadata>"
    )
    .expect("gzip");
    gz.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread")]
async fn merged_released_and_shipped_is_droppable_with_its_evidence() {
    let merged_sha = "40abf8b68f4c86d0001cc9a03f19cf8f1bd018e1";
    let routes: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "/repos/austinsasko/PyGithub/pulls/21",
            fixture("pull_austinsasko_PyGithub_21_merged.json"),
        ),
        (
            "/repos/MarcoFalke/PyGithub/pulls/1",
            fixture("pull_MarcoFalke_PyGithub_1_closed_not_merged.json"),
        ),
        (
            "/repos/PyGithub/PyGithub/pulls/1171",
            fixture("pull_PyGithub_PyGithub_1171_open.json"),
        ),
    ];
    let compare: Value =
        serde_json::from_slice(&fixture("compare_PyGithub_v0.6...v0.7.json")).expect("json");
    let shipped = Arc::new(std::sync::Mutex::new(primary("1.2")));
    let s = shipped.clone();
    let handler: Handler = Arc::new(move |req: &Request| {
        if let Some((_, body)) = routes.iter().find(|(p, _)| *p == req.path) {
            return Reply::json(body.clone());
        }
        if req.path == "/repos/austinsasko/PyGithub/tags" {
            return Reply::json(
                br#"[{"name":"v1.1"},{"name":"v1.2"},{"name":"v1.9"},{"name":"v1.10"}]"#.to_vec(),
            );
        }
        if let Some(rest) = req
            .path
            .strip_prefix("/repos/austinsasko/PyGithub/compare/")
        {
            let (tag, _) = rest.split_once("...").expect("base...head");
            let mut v = compare.clone();
            v["status"] = if matches!(tag, "v1.9" | "v1.10") {
                "behind"
            } else {
                "ahead"
            }
            .into();
            return Reply::json(serde_json::to_vec(&v).expect("json"));
        }
        match req.path.as_str() {
            "/repo/repodata/repomd.xml" => Reply::json(
                b"<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision><data type=\"primary\">\
                  <location href=\"repodata/p-primary.xml.gz\"/></data></repomd>"
                    .to_vec(),
            ),
            "/repo/repodata/p-primary.xml.gz" => Reply::json(s.lock().expect("lock").clone()),
            _ => Reply::status(404, &[], "{\"message\":\"Not Found\"}"),
        }
    });
    let server = Server::start(handler).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = dir.path().join("distgit/rpms/demo");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let mut spec = String::from("Name: demo\nVersion: 1.0\nRelease: 1.hs\n");
    for (i, r) in [
        "austinsasko/PyGithub/pull/21",
        "MarcoFalke/PyGithub/pull/1",
        "PyGithub/PyGithub/pull/1171",
    ]
    .iter()
    .enumerate()
    {
        spec.push_str(&format!("# https://github.com/{r}\nPatch{i}: p{i}.patch\n"));
        std::fs::write(
            pkg.join(format!("p{i}.patch")),
            "Subject: x\n\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        )
        .expect("write");
    }
    std::fs::write(pkg.join("demo.spec"), spec).expect("write");
    let url = &server.url;
    std::fs::write(
        dir.path().join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{}\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n\
             [[distro]]\nname = \"c9s\"\nrepodata_url = \"{url}/repo\"\n\
             [sources]\nmin_interval_ms = 0\nmax_retries = 0\n[sources.github]\nurl = \"{url}\"\n",
            dir.path().join("f.db").display()
        ),
    )
    .expect("config");
    forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "scan"]);
    let path = dir.path().to_path_buf();
    let sync = move || {
        forkdebt(
            &path,
            &[
                "--config",
                "forkdebt.toml",
                "sync",
                "--source",
                "github",
                "--source",
                "repodata",
            ],
        )
    };
    let out = tokio::task::spawn_blocking(sync.clone())
        .await
        .expect("join");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );

    // c9s ships 1.2, the merge is first in v1.9: released, not yet droppable.
    let why = forkdebt_ok(
        dir.path(),
        &["--config", "forkdebt.toml", "why", "demo", "p0.patch"],
    );
    assert!(
        why.starts_with("demo p0.patch (hs): released (confidence high)"),
        "{why}"
    );
    assert!(
        why.contains("PR austinsasko/PyGithub#21 merged as 40abf8b (2020-12-11T22:17:20Z)"),
        "{why}"
    );
    assert!(why.contains("-> first in v1.9"), "{why}");
    let compares: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/compare/"))
        .collect();
    assert!(
        !compares.is_empty()
            && compares
                .iter()
                .all(|r| r.path.ends_with(&format!("...{merged_sha}")))
    );

    // The first sync is the baseline: nothing old is announced.
    let none = forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "events"]);
    assert_eq!(none.trim(), "No events.");

    // The base distribution moves to 2.0: droppable, with the whole chain.
    *shipped.lock().expect("lock") = primary("2.0");
    let out = tokio::task::spawn_blocking(sync).await.expect("join");
    assert!(out.status.success(), "{}", stderr(&out));
    let why = forkdebt_ok(
        dir.path(),
        &["--config", "forkdebt.toml", "why", "demo", "0"],
    );
    assert!(
        why.starts_with("demo p0.patch (hs): droppable (confidence high)"),
        "{why}"
    );
    assert!(
        why.contains("-> c9s ships demo-2.0-3.el9 >= 1.9 (repodata)"),
        "{why}"
    );
    assert!(
        why.contains("https://github.com/austinsasko/PyGithub/pull/21"),
        "{why}"
    );

    let report: Value = serde_json::from_str(&forkdebt_ok(
        dir.path(),
        &["--config", "forkdebt.toml", "report", "--format", "json"],
    ))
    .expect("json");
    let states: Vec<(String, String)> = report["packages"][0]["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .map(|p| {
            (
                p["file"].as_str().unwrap_or_default().to_string(),
                p["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("p0.patch".into(), "droppable".into()),
            ("p1.patch".into(), "denied".into()),
            ("p2.patch".into(), "submitted".into())
        ]
    );
    let chain = report["packages"][0]["patches"][0]["evidence"][0]
        .as_str()
        .expect("evidence");
    assert_eq!(
        chain,
        "PR austinsasko/PyGithub#21 merged as 40abf8b -> first in v1.9 -> c9s ships demo-2.0-3.el9 >= 1.9 (repodata)"
    );

    let whereis = forkdebt_ok(
        dir.path(),
        &[
            "--config",
            "forkdebt.toml",
            "whereis",
            "https://github.com/austinsasko/PyGithub/pull/21",
        ],
    );
    assert!(
        whereis
            .contains("merged on 2020-12-11T22:17:20Z as 40abf8b68f4c86d0001cc9a03f19cf8f1bd018e1"),
        "{whereis}"
    );
    assert!(
        whereis.contains("first upstream release with it: v1.9"),
        "{whereis}"
    );
    assert!(
        whereis.contains("carried by demo p0.patch (hs, 1.0-1.hs)")
            && whereis.contains("c9s ships demo-2.0-3.el9 (repodata)"),
        "{whereis}"
    );
    let short = forkdebt_ok(
        dir.path(),
        &[
            "--config",
            "forkdebt.toml",
            "whereis",
            "MarcoFalke/PyGithub#1",
        ],
    );
    assert!(short.contains("closed without merging"), "{short}");

    // Exactly one event, written with the observation that caused it; syncing again adds none.
    let events = forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "events"]);
    assert_eq!(events.lines().count(), 1, "{events}");
    assert!(events.contains("hs demo p0.patch: released -> droppable (PR austinsasko/PyGithub#21 merged as 40abf8b -> first in v1.9"), "{events}");
    let path = dir.path().to_path_buf();
    let again = tokio::task::spawn_blocking(move || {
        forkdebt(
            &path,
            &[
                "--config",
                "forkdebt.toml",
                "sync",
                "--source",
                "github",
                "--source",
                "repodata",
            ],
        )
    })
    .await
    .expect("join");
    assert!(again.status.success());
    assert_eq!(
        forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "events"]),
        events,
        "no duplicate event"
    );

    // The patch leaves dist-git: one more event, from the scan.
    let spec = dir.path().join("distgit/rpms/demo/demo.spec");
    let text = std::fs::read_to_string(&spec).expect("spec");
    std::fs::write(&spec, text.replace("Patch0: p0.patch\n", "")).expect("write");
    forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "scan"]);
    let events = forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "events"]);
    assert!(
        events
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("demo p0.patch: droppable -> dropped")),
        "{events}"
    );

    let missing = forkdebt(
        dir.path(),
        &["--config", "forkdebt.toml", "why", "demo", "nope.patch"],
    );
    assert!(
        !missing.status.success()
            && stderr(&missing).contains("carries no patch `nope.patch`; it has: p0.patch"),
        "{}",
        stderr(&missing)
    );
}
