//! GitLab and Pagure: the recorded responses parse into the values users need, and a sync
//! against a local server serving them is conditional (ETag) and survives failures.

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, stderr};
use forkdebt_core::store::Store;
use forkdebt_scrapers::sources::{gitlab, pagure};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn fixture(rel: &str) -> Vec<u8> {
    let path = crate::util::repo_root()
        .join("../shared/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `*.http.txt` recording: status line and headers, a blank line, the body.
fn http_recording(rel: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let raw = fixture(rel);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)))
        .expect("blank line");
    let head = String::from_utf8_lossy(&raw[..split.0]).to_string();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    (headers, raw[split.0 + split.1..].to_vec())
}

#[test]
fn gitlab_recordings_parse() {
    let (headers, body) = http_recording("gitlab/gitlab_com_mr_k0nserv_danger-test_1.http.txt");
    let mr = gitlab::parse_merge_request("u", &body).expect("mr");
    assert_eq!(
        (mr.iid, mr.state.as_str(), mr.target_branch.as_deref()),
        (1, "opened", Some("master"))
    );
    assert_eq!(
        mr.sha.as_deref(),
        Some("04e58de1fa97502d7e28c1394d471bb8fb1fc4a8")
    );
    assert_eq!(mr.landed_commit(), None, "an open MR landed nowhere");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "Etag" && v == "W/\"63fa6da2558d13827e3ce19a6c61f5a1\"")
    );

    let (headers, body) = http_recording("gitlab/gitlab_com_commit_merge_requests.http.txt");
    let list = gitlab::parse_merge_requests("u", &body).expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].iid, 1);
    let get = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("X-Total"), Some("1"));
    assert_eq!(
        gitlab::next_page(get("X-Next-Page"), get("Link")),
        None,
        "one page only"
    );
    assert_eq!(
        gitlab::next_page(None, Some("<https://gitlab.com/api/v4/x?page=2>; rel=\"next\", <https://gitlab.com/api/v4/x?page=9>; rel=\"last\"")).as_deref(),
        Some("https://gitlab.com/api/v4/x?page=2")
    );

    let merged = gitlab::parse_merge_request(
        "u",
        &fixture("gitlab/reserialized/gitlab_com_ogr-tests_mr_71_merge_put_response.json"),
    )
    .expect("mr");
    assert_eq!(
        (merged.state.as_str(), merged.merged_at.as_deref()),
        ("merged", Some("2021-04-27T07:18:37.595Z"))
    );
    assert_eq!(
        merged.landed_commit(),
        Some("dd9b6c54c0788301c86bdf058a8e91e3594a0a17")
    );
    let mr1 = gitlab::parse_merge_request(
        "u",
        &fixture("gitlab/reserialized/gitlab_com_ogr-tests_mr_1.json"),
    )
    .expect("mr");
    assert_eq!(
        mr1.merge_commit_sha.as_deref(),
        Some("101a42bbbe174d04b465d49caf274dc3b4defeca")
    );
    let ee =
        gitlab::parse_merge_request("u", &fixture("gitlab/gitlab_com_mr_gitlab-ee_14656.json"))
            .expect("mr");
    assert_eq!(
        (ee.iid, ee.project_id, ee.state.as_str()),
        (14656, Some(278964), "opened")
    );
    let list =
        gitlab::parse_merge_requests("u", &fixture("gitlab/gitlab_com_mr_list_gitlab-ee.json"))
            .expect("list");
    assert_eq!(
        list.iter().map(|m| m.state.as_str()).collect::<Vec<_>>(),
        vec!["opened"; 3]
    );
    let commits: serde_json::Value = serde_json::from_slice(&fixture(
        "gitlab/reserialized/gitlab_com_ogr-tests_mr_1_commits.json",
    ))
    .expect("json");
    assert!(commits.as_array().is_some_and(|c| {
        c.iter()
            .all(|c| c["id"].as_str().is_some_and(|s| s.len() == 40))
    }));
    let project: serde_json::Value =
        serde_json::from_slice(&fixture("gitlab/gitlab_com_project_42823949.json")).expect("json");
    assert_eq!(project["path_with_namespace"], "gridhead/protop2g-test");
    // An error object is an error.
    let err =
        gitlab::parse_merge_request("u", br#"{"message":"404 Not found"}"#).expect_err("error");
    assert!(err.to_string().contains("404 Not found"), "{err}");
}

#[test]
fn pagure_recordings_parse() {
    let pr = pagure::parse_pull_request(
        "u",
        &fixture("pagure/reserialized/pagure_io_ogr-tests_pull-request_5_merged.json"),
    )
    .expect("pr");
    assert_eq!((pr.id, pr.status.as_str()), (5, "Merged"));
    assert_eq!(pr.closed_at.as_deref(), Some("2019-11-26T19:02:42Z"));
    assert_eq!(
        pr.commit_stop.as_deref(),
        Some("517121273b142293807606dbd7a2e0f514b21cc8")
    );
    assert_eq!(
        pr.project.and_then(|p| p.fullname).as_deref(),
        Some("ogr-tests")
    );
    let open = pagure::parse_pull_request(
        "u",
        &fixture("pagure/reserialized/pagure_io_ogr-tests_pull-request_4.json"),
    )
    .expect("pr");
    assert_eq!((open.status.as_str(), open.closed_at), ("Open", None));
    let page = pagure::parse_pull_request_page(
        "u",
        &fixture("pagure/reserialized/pagure_io_ogr-tests_pull-requests_status_All.json"),
    )
    .expect("page");
    assert_eq!(
        (page.items.len(), page.total, page.next),
        (5, Some(5), None)
    );

    let issue = pagure::parse_issue("u", &fixture("pagure/pagure_io_issue_2.json")).expect("issue");
    assert_eq!((issue.id, issue.status.as_str()), (2, "Closed"));
    assert_eq!(
        issue.full_url.as_deref(),
        Some("https://pagure.io/protop2g-test-srce/issue/2")
    );
    let page = pagure::parse_issue_page(
        "u",
        &fixture("pagure/pagure_io_issues_status_closed_per_page1.json"),
    )
    .expect("page");
    assert_eq!(
        page.next.as_deref(),
        Some("https://pagure.io/api/0/protop2g-test-srce/issues?per_page=1&status=closed&page=2")
    );
    let last = pagure::parse_issue_page(
        "u",
        &fixture("pagure/pagure_io_fedora-infrastructure_issues_status_all_page352.json"),
    )
    .expect("page");
    assert_eq!((last.items.len(), last.next), (22, None));

    let project = pagure::parse_project(
        "u",
        &fixture("pagure/pagure_io_project_protop2g-test-srce.json"),
    )
    .expect("project");
    assert_eq!(
        project.full_url.as_deref(),
        Some("https://pagure.io/protop2g-test-srce")
    );
    let fork = pagure::parse_project(
        "u",
        &fixture("pagure/src_stg_fedoraproject_org_fork_zlopez_rpms_0ad.json"),
    )
    .expect("fork");
    assert_eq!(
        (fork.namespace.as_deref(), fork.parent.map(|p| p.fullname)),
        (Some("rpms"), Some("rpms/0ad".to_string()))
    );
    let flags = pagure::parse_flags(
        "u",
        &fixture("pagure/reserialized/pagure_io_ogr-tests_commit_flags.json"),
    )
    .expect("flags");
    assert_eq!(flags.len(), 1);
    let urls = pagure::parse_value(
        "u",
        &fixture("pagure/src_stg_fedoraproject_org_fork_git_urls.json"),
    )
    .expect("urls");
    assert_eq!(
        urls["urls"]["git"],
        "https://src.stg.fedoraproject.org/forks/zlopez/rpms/0ad.git"
    );
    let me = pagure::parse_value(
        "u",
        &fixture("pagure/src_stg_fedoraproject_org_whoami.json"),
    )
    .expect("whoami");
    assert_eq!(me["username"], "zlopez");

    for (file, message) in [
        (
            "pagure/pagure_io_project_not_found_404.json",
            "Project not found (ENOPROJECT)",
        ),
        ("pagure/pagure_io_issue_not_found_404.json", "ENOISSUE"),
        (
            "pagure/pagure_io_issues_invalid_per_page_400.json",
            "EINVALIDPERPAGEVALUE",
        ),
        (
            "pagure/src_fedoraproject_org_user_not_found_404.json",
            "No such user found (ENOUSER)",
        ),
        (
            "pagure/src_stg_fedoraproject_org_pull_request_new_404.json",
            "EPULLREQUESTSDISABLED",
        ),
    ] {
        let err = pagure::parse_value("u", &fixture(file))
            .expect_err(file)
            .to_string();
        assert!(err.contains(message), "{file}: {err}");
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Mode {
    Normal,
    Status500,
    RateLimitOnce,
    Hang,
    TruncatedJson,
    Html,
    Empty,
    Huge,
}

struct FakeForges {
    server: Server,
    mode: Arc<Mutex<Mode>>,
}

/// gitlab.com and both Pagure instances on one local server, serving the recordings with
/// an ETag each (and 304 for a matching If-None-Match).
async fn fake_forges() -> FakeForges {
    let (_, danger) = http_recording("gitlab/gitlab_com_mr_k0nserv_danger-test_1.http.txt");
    let routes: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "/api/v4/projects/k0nserv%2Fdanger-test/merge_requests/1",
            danger,
        ),
        (
            "/api/v4/projects/packit-service%2Fogr-tests/merge_requests/1",
            fixture("gitlab/reserialized/gitlab_com_ogr-tests_mr_1.json"),
        ),
        (
            "/api/0/ogr-tests/pull-request/5",
            fixture("pagure/reserialized/pagure_io_ogr-tests_pull-request_5_merged.json"),
        ),
        (
            "/api/0/ogr-tests/pull-request/4",
            fixture("pagure/reserialized/pagure_io_ogr-tests_pull-request_4.json"),
        ),
    ];
    let not_found = fixture("pagure/pagure_io_project_not_found_404.json");
    let mode = Arc::new(Mutex::new(Mode::Normal));
    let m = mode.clone();
    let handler: Handler = Arc::new(move |req: &Request| {
        let mut mode = m.lock().expect("mode");
        match *mode {
            Mode::Normal => {}
            Mode::Status500 => return Reply::status(500, &[], "Internal Server Error"),
            Mode::RateLimitOnce => {
                *mode = Mode::Normal;
                return Reply::status(429, &[("Retry-After", "1")], "");
            }
            Mode::Hang => return Reply::Hang(Duration::from_secs(5)),
            Mode::TruncatedJson => return Reply::json(b"{\"iid\": 1, \"state\": \"mer".to_vec()),
            Mode::Html => {
                return Reply::status(
                    200,
                    &[("Content-Type", "text/html")],
                    "<html><body>502 Bad Gateway</body></html>",
                );
            }
            Mode::Empty => return Reply::json(Vec::new()),
            Mode::Huge => return Reply::json(vec![b' '; 10 * 1024 * 1024]),
        }
        drop(mode);
        match routes.iter().position(|(p, _)| *p == req.path) {
            Some(i) => {
                let etag = format!("\"v{i}\"");
                if req.header("if-none-match") == Some(etag.as_str()) {
                    return Reply::status(304, &[("ETag", &etag)], "");
                }
                Reply::Send {
                    status: 200,
                    headers: vec![
                        ("Content-Type".into(), "application/json".into()),
                        ("ETag".into(), etag),
                    ],
                    body: routes[i].1.clone(),
                }
            }
            None => Reply::Send {
                status: 404,
                headers: vec![],
                body: not_found.clone(),
            },
        }
    });
    FakeForges {
        server: Server::start(handler).await,
        mode,
    }
}

fn downstream(dir: &Path, url: &str) {
    let pkg = dir.join("distgit/rpms/demo");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let refs = [
        "https://gitlab.com/k0nserv/danger-test/-/merge_requests/1",
        "https://gitlab.com/packit-service/ogr-tests/-/merge_requests/1",
        "https://pagure.io/ogr-tests/pull-request/5",
        "https://pagure.io/ogr-tests/pull-request/4",
    ];
    let mut spec = String::from("Name: demo\nVersion: 1\nRelease: 1.hs\n");
    for (i, r) in refs.iter().enumerate() {
        spec.push_str(&format!("# {r}\nPatch{i}: p{i}.patch\n"));
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
            "database = \"sqlite://{db}\"\n[sources]\ntimeout_secs = 1\nmax_retries = 2\nmin_interval_ms = 0\nbackoff_min_ms = 20\n\
             [sources.gitlab]\nurl = \"{url}\"\n[sources.pagure]\nhosts = {{ \"pagure.io\" = \"{url}\", \"src.fedoraproject.org\" = \"{url}\" }}\n",
            db = dir.join("f.db").display()
        ),
    )
    .expect("config");
    let out = forkdebt(dir, &["--config", "forkdebt.toml", "scan", "distgit"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

async fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = ["--config", "forkdebt.toml"]
        .iter()
        .chain(args)
        .map(|s| s.to_string())
        .collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        forkdebt(&dir, &a)
    })
    .await
    .expect("join")
}

async fn observed(
    dir: &Path,
    source: &str,
) -> std::collections::HashMap<String, forkdebt_core::store::StoredObservation> {
    let store = Store::open(&format!("sqlite://{}", dir.join("f.db").display()))
        .await
        .expect("open");
    let o = store
        .observations(forkdebt_core::source::Dataset::parse(source).expect("dataset"))
        .await
        .expect("observations");
    store.close().await;
    o
}

#[tokio::test(flavor = "multi_thread")]
async fn forge_sync_records_state_and_the_second_sync_is_all_304s() {
    let fake = fake_forges().await;
    let dir = tempfile::tempdir().expect("tempdir");
    downstream(dir.path(), &fake.server.url);
    let out = run(
        dir.path(),
        &["sync", "--source", "gitlab", "--source", "pagure"],
    )
    .await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}\n{}", stderr(&out));
    assert!(
        said.contains("gitlab       2 items, 2 requests, 0 not modified, 0 item errors: ok"),
        "{said}\n{}",
        stderr(&out)
    );
    assert!(
        said.contains("pagure       2 items, 2 requests, 0 not modified, 0 item errors: ok"),
        "{said}"
    );

    let gl = observed(dir.path(), "gitlab").await;
    let mr: serde_json::Value = serde_json::from_str(
        gl["packit-service/ogr-tests!1"]
            .data
            .as_deref()
            .expect("data"),
    )
    .expect("json");
    assert_eq!(
        (mr["state"].as_str(), mr["merge_commit_sha"].as_str()),
        (
            Some("merged"),
            Some("101a42bbbe174d04b465d49caf274dc3b4defeca")
        )
    );
    let pg = observed(dir.path(), "pagure").await;
    let pr: serde_json::Value =
        serde_json::from_str(pg["ogr-tests#5"].data.as_deref().expect("data")).expect("json");
    assert_eq!(pr["status"], "Merged");

    fake.server.clear();
    let out = run(
        dir.path(),
        &["sync", "--source", "gitlab", "--source", "pagure"],
    )
    .await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}");
    assert!(said.contains("2 requests, 2 not modified"), "{said}");
    assert!(
        fake.server
            .requests()
            .iter()
            .all(|r| r.header("if-none-match").is_some())
    );
    let table = crate::util::forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "sources"]);
    assert!(
        table.contains("gitlab") && table.contains("pagure"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forge_faults_are_recorded_per_item_and_keep_what_was_known() {
    for (mode, expect) in [
        (Mode::Status500, "HTTP 500"),
        (Mode::Hang, "timed out"),
        (Mode::TruncatedJson, "malformed JSON"),
        (Mode::Html, "expected JSON, got an HTML page"),
        (Mode::Empty, "empty response body"),
        (Mode::Huge, "larger than"),
    ] {
        let fake = fake_forges().await;
        let dir = tempfile::tempdir().expect("tempdir");
        downstream(dir.path(), &fake.server.url);
        let out = run(
            dir.path(),
            &["sync", "--source", "gitlab", "--source", "pagure"],
        )
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
        let before = (
            observed(dir.path(), "gitlab").await,
            observed(dir.path(), "pagure").await,
        );
        // A fresh start for the validators, so every item is asked in full and fails.
        let store = Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()))
            .await
            .expect("open");
        sqlx::query("DELETE FROM http_validators")
            .execute(store.pool())
            .await
            .expect("clear validators");
        store.close().await;

        *fake.mode.lock().expect("mode") = mode.clone();
        let out = run(
            dir.path(),
            &["sync", "--source", "gitlab", "--source", "pagure"],
        )
        .await;
        let said = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{mode:?}: {said}\n{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"));
        assert_eq!(said.matches("FAILED").count(), 2, "{mode:?}: {said}");
        assert!(said.contains(expect), "{mode:?}: {said}");
        let after = (
            observed(dir.path(), "gitlab").await,
            observed(dir.path(), "pagure").await,
        );
        for (b, a) in [(&before.0, &after.0), (&before.1, &after.1)] {
            for (item, o) in a {
                assert_eq!(
                    o.data, b[item].data,
                    "{mode:?}: {item} keeps its last good observation"
                );
                assert!(
                    o.last_error.as_deref().is_some_and(|e| e.contains(expect)),
                    "{mode:?}: {o:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forge_rate_limits_wait_as_told_and_a_missing_pr_is_an_item_error() {
    let fake = fake_forges().await;
    let dir = tempfile::tempdir().expect("tempdir");
    downstream(dir.path(), &fake.server.url);
    // A reference to a PR the server does not know.
    let spec = dir.path().join("distgit/rpms/demo/demo.spec");
    let text = std::fs::read_to_string(&spec).expect("spec");
    std::fs::write(
        &spec,
        format!("{text}# https://pagure.io/ogr-tests/pull-request/999\nPatch9: p9.patch\n"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("distgit/rpms/demo/p9.patch"),
        "Subject: y\n\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n",
    )
    .expect("write");
    let out = forkdebt(
        dir.path(),
        &["--config", "forkdebt.toml", "scan", "distgit"],
    );
    assert!(out.status.success());

    *fake.mode.lock().expect("mode") = Mode::RateLimitOnce;
    let out = run(dir.path(), &["sync", "--source", "pagure"]).await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    // A PR that is not there is an item error, not a failed source.
    assert!(out.status.success(), "{said}\n{}", stderr(&out));
    assert!(
        said.contains("3 items") && said.contains("1 item errors: ok"),
        "{said}"
    );
    // Requests go out side by side: the one that was refused is the one asked twice.
    let reqs = fake.server.requests();
    let (first, retried) = reqs
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            reqs[i + 1..]
                .iter()
                .find(|b| b.path == a.path && b.query == a.query)
                .map(|b| (a, b))
        })
        .expect("the rate-limited request was retried");
    assert!(
        retried.at - first.at >= Duration::from_secs(1),
        "Retry-After: 1 not honoured"
    );
    let pg = observed(dir.path(), "pagure").await;
    assert!(
        pg["ogr-tests#999"]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 404") && e.contains("ENOPROJECT")),
        "{:?}",
        pg["ogr-tests#999"]
    );
}
