//! GitHub through octocrab: the recorded responses parse; a sync against a local server
//! records pull request state and finds the first release tag containing a merge.

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, stderr};
use forkdebt_core::store::Store;
use forkdebt_scrapers::sources::github;
use serde_json::Value;
use std::sync::Arc;

fn fixture(rel: &str) -> Vec<u8> {
    let path = crate::util::repo_root()
        .join("../shared/fixtures/github")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn github_recordings_parse() {
    let merged =
        github::parse_pull("u", &fixture("pull_austinsasko_PyGithub_21_merged.json")).expect("pr");
    assert!(merged.is_merged());
    assert_eq!(
        merged.merge_commit_sha.as_deref(),
        Some("40abf8b68f4c86d0001cc9a03f19cf8f1bd018e1")
    );
    assert_eq!(merged.merged_at.as_deref(), Some("2020-12-11T22:17:20Z"));
    let closed = github::parse_pull(
        "u",
        &fixture("pull_MarcoFalke_PyGithub_1_closed_not_merged.json"),
    )
    .expect("pr");
    assert_eq!(
        (closed.state.as_str(), closed.is_merged()),
        ("closed", false)
    );
    let open =
        github::parse_pull("u", &fixture("pull_PyGithub_PyGithub_1171_open.json")).expect("pr");
    assert_eq!(
        (open.number, open.state.as_str(), open.is_merged()),
        (1171, "open", false)
    );
    assert_eq!(open.base.and_then(|b| b.name).as_deref(), Some("master"));
    let list =
        github::parse_pulls("u", &fixture("pulls_list_docs_example_octocat.json")).expect("list");
    assert_eq!((list[0].number, list[0].state.as_str()), (1347, "open"));
    let for_commit =
        github::parse_pulls("u", &fixture("commit_mawkee_PyGithub_e44d11d_pulls.json"))
            .expect("list");
    assert_eq!(for_commit[0].number, 1431);

    let cmp =
        github::parse_compare("u", &fixture("compare_PyGithub_v0.6...v0.7.json")).expect("compare");
    assert_eq!(
        (
            cmp.status.as_str(),
            cmp.ahead_by,
            cmp.behind_by,
            cmp.total_commits
        ),
        ("ahead", 4, 0, 4)
    );
    assert!(
        !cmp.base_contains_head(),
        "v0.6 does not contain what v0.7 adds"
    );
    let cmp = github::parse_compare(
        "u",
        &fixture("compare_XAMPPRocky_octocrab_ad64898...main.json"),
    )
    .expect("compare");
    assert_eq!((cmp.status.as_str(), cmp.ahead_by), ("ahead", 1));

    let c = github::parse_commit("u", &fixture("commit_jacquev6_PyGithub_1292bf0.json"))
        .expect("commit");
    assert_eq!(c.sha, "1292bf0e22c796e91cc3d6e24b544aece8c21f2a");
    let commits = github::parse_commits("u", &fixture("pull_PyGithub_PyGithub_31_commits.json"))
        .expect("commits");
    assert_eq!(commits.len(), 3);
    let err = github::parse_pull(
        "u",
        br#"{"message":"Not Found","documentation_url":"https://docs.github.com"}"#,
    )
    .expect_err("error");
    assert!(err.to_string().contains("Not Found"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn github_sync_records_prs_and_the_first_release_with_the_merge() {
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
    let compare_template: Value =
        serde_json::from_slice(&fixture("compare_PyGithub_v0.6...v0.7.json")).expect("json");
    let handler: Handler = Arc::new(move |req: &Request| {
        if let Some((_, body)) = routes.iter().find(|(p, _)| *p == req.path) {
            let etag = format!("\"{}\"", body.len());
            if req.header("if-none-match") == Some(etag.as_str()) {
                return Reply::status(304, &[], "");
            }
            return Reply::Send {
                status: 200,
                headers: vec![
                    ("ETag".into(), etag),
                    ("Content-Type".into(), "application/json".into()),
                ],
                body: body.clone(),
            };
        }
        if req.path == "/repos/austinsasko/PyGithub/tags" {
            // Unordered, with a pre-release that must be skipped.
            return Reply::json(br#"[{"name":"v1.10"},{"name":"v1.2"},{"name":"v1.9"},{"name":"v2.0-rc1"},{"name":"v1.1"},{"name":"docs"}]"#.to_vec());
        }
        if let Some(rest) = req
            .path
            .strip_prefix("/repos/austinsasko/PyGithub/compare/")
        {
            let (tag, sha) = rest.split_once("...").expect("base...head");
            assert_eq!(sha, merged_sha);
            // The merge landed between v1.2 and v1.9.
            let contains = matches!(tag, "v1.9" | "v1.10");
            let mut v = compare_template.clone();
            v["status"] = if contains { "behind" } else { "ahead" }.into();
            return Reply::json(serde_json::to_vec(&v).expect("json"));
        }
        Reply::status(404, &[], r#"{"message":"Not Found"}"#)
    });
    let server = Server::start(handler).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = dir.path().join("distgit/rpms/demo");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let mut spec = String::from("Name: demo\nVersion: 1\nRelease: 1\n");
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
    std::fs::write(
        dir.path().join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{}\"\n[sources]\ntimeout_secs = 5\nmax_retries = 1\nmin_interval_ms = 0\n[sources.github]\nurl = \"{}\"\n",
            dir.path().join("f.db").display(),
            server.url
        ),
    )
    .expect("config");
    let out = forkdebt(
        dir.path(),
        &["--config", "forkdebt.toml", "scan", "distgit"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let path = dir.path().to_path_buf();
    let sync = move || {
        forkdebt(
            &path,
            &["--config", "forkdebt.toml", "sync", "--source", "github"],
        )
    };
    let out = tokio::task::spawn_blocking(sync.clone())
        .await
        .expect("join");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}\n{}", stderr(&out));
    assert!(said.contains("github       3 items"), "{said}");
    // 3 PRs, 1 page of tags, bisection over 4 release tags: at most 3 compares.
    let compares = server
        .requests()
        .iter()
        .filter(|r| r.path.contains("/compare/"))
        .count();
    assert!((1..=3).contains(&compares), "{compares} compares");

    let store = Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()))
        .await
        .expect("open");
    let prs = store
        .observations(forkdebt_core::source::Dataset::Github)
        .await
        .expect("github");
    let pr: Value = serde_json::from_str(
        prs["austinsasko/PyGithub#21"]
            .data
            .as_deref()
            .expect("data"),
    )
    .expect("json");
    assert_eq!(
        (pr["state"].as_str(), pr["merged"].as_bool()),
        (Some("closed"), Some(true))
    );
    let rel = store
        .observations(forkdebt_core::source::Dataset::GithubRelease)
        .await
        .expect("release");
    let placed: Value = serde_json::from_str(
        rel[&format!("austinsasko/PyGithub@{merged_sha}")]
            .data
            .as_deref()
            .expect("data"),
    )
    .expect("json");
    assert_eq!(
        placed["tag"], "v1.9",
        "the first release (by version order) that contains the merge"
    );
    store.close().await;

    // Again: PRs answer 304, the found release is not looked up again.
    server.clear();
    let out = tokio::task::spawn_blocking(sync).await.expect("join");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("3 requests, 3 not modified"), "{said}");
    assert!(server.requests().iter().all(|r| r.path.contains("/pulls/")));
}
