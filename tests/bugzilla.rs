//! Red Hat Bugzilla: the recorded responses parse into what users need; a sync against a
//! local server serving them is batched, incremental and survives every kind of failure.

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, stderr};
use forkdebt_core::store::Store;
use forkdebt_scrapers::sources::bugzilla::{parse_bugs, parse_comments, parse_service_error};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn fixture(name: &str) -> Vec<u8> {
    let path = crate::util::repo_root()
        .join("../shared/fixtures/bugzilla")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const RECORDED: [(&str, u64); 5] = [
    ("rhbz_bug_2217733_closed_errata_many_depends.json", 2217733),
    ("rhbz_bug_2044578_external_bugs.json", 2044578),
    ("rhbz_bug_1629664_fedora_epel_tracker.json", 1629664),
    (
        "rhbz_bug_1343542_fedora_epel_tracker_two_blocks.json",
        1343542,
    ),
    ("rhbz_bug_1765663_rdo_tracker.json", 1765663),
];

#[test]
fn recorded_bugs_parse_into_what_a_maintainer_needs() {
    let b = parse_bugs("u", &fixture(RECORDED[0].0))
        .expect("parse")
        .bugs
        .remove(0);
    assert_eq!(
        (b.id, b.status.as_deref(), b.resolution.as_deref()),
        (2217733, Some("CLOSED"), Some("ERRATA"))
    );
    assert_eq!(b.cf_fixed_in.as_deref(), Some("jQuery 3.5.0"));
    assert_eq!(
        (b.product.as_deref(), b.component.as_slice()),
        (
            Some("Security Response"),
            &["vulnerability".to_string()][..]
        )
    );
    assert_eq!(b.depends_on.len(), 33);
    assert_eq!(b.last_change_time.as_deref(), Some("2024-06-13T14:46:22Z"));

    let b = parse_bugs("u", &fixture(RECORDED[1].0))
        .expect("parse")
        .bugs
        .remove(0);
    assert_eq!(
        (b.status.as_deref(), b.resolution.as_deref()),
        (Some("NEW"), None)
    );
    assert_eq!(b.cf_fixed_in.as_deref(), Some("Linux kernel 5.17-rc1"));
    let ext: Vec<(&str, &str, Option<&str>)> = b
        .external_bugs
        .iter()
        .map(|e| (e.tracker.as_str(), e.id.as_str(), e.url.as_deref()))
        .collect();
    assert_eq!(
        ext,
        vec![
            (
                "Red Hat Customer Portal",
                "03269484",
                Some("https://example.com//access.redhat.com/support/cases/03269484")
            ),
            (
                "Red Hat Product Errata",
                "RHSA-2024:0724",
                Some("https://example.com/errata/RHSA-2024:0724")
            ),
        ]
    );

    for (file, id, product, component, version, blocks) in [
        (
            RECORDED[2].0,
            1629664,
            "Fedora EPEL",
            "jhead",
            "epel7",
            vec![1629662],
        ),
        (
            RECORDED[3].0,
            1343542,
            "Fedora EPEL",
            "struts",
            "epel7",
            vec![1343538, 1343540],
        ),
        (
            RECORDED[4].0,
            1765663,
            "RDO",
            "novnc",
            "unspecified",
            vec![1765660],
        ),
    ] {
        let b = parse_bugs(file, &fixture(file))
            .expect("parse")
            .bugs
            .remove(0);
        assert_eq!(b.id, id);
        assert_eq!(b.product.as_deref(), Some(product));
        assert_eq!(
            (b.component[0].as_str(), b.version[0].as_str()),
            (component, version)
        );
        assert_eq!(b.blocks, blocks);
        assert_eq!(b.cf_fixed_in, None, "an empty cf_fixed_in is no version");
    }

    // Upstream Bugzilla (BMO): component and version are strings, not lists.
    let two = parse_bugs("u", &fixture("bmo_rest_bug_search_two_bugs.json")).expect("parse");
    assert_eq!(
        two.bugs.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![1273442, 1273439]
    );
    assert_eq!(
        two.bugs[0].component,
        vec!["Project Sensor Web".to_string()]
    );

    // Cheap change checks and partial answers.
    let cheap = parse_bugs(
        "u",
        &fixture("rhbz_bug_2044578_include_fields_id_last_change_time.json"),
    )
    .expect("parse");
    assert_eq!(
        (cheap.bugs[0].id, cheap.bugs[0].last_change_time.as_deref()),
        (2044578, Some("2024-06-17T08:46:13Z"))
    );
    let partial = parse_bugs(
        "u",
        &fixture("rhbz_bug_2050770_include_fields_assigned_to_id_product.json"),
    )
    .expect("parse");
    assert_eq!(partial.bugs[0].product.as_deref(), Some("Product Security"));
    let put = parse_bugs("u", &fixture("rhbz_bug_2044578_put_update_changes.json")).expect("parse");
    assert_eq!(
        put.bugs[0].last_change_time.as_deref(),
        Some("2024-06-17T10:36:57Z")
    );

    let comments = parse_comments("u", &fixture("rhbz_bug_2044578_comments.json")).expect("parse");
    assert_eq!((comments[0].0, comments[0].1.len()), (2044578, 8));
    assert_eq!(
        comments[0].1[0].creator.as_deref(),
        Some("psampaio@redhat.com")
    );

    // Bugzilla's error object is an error, with its message.
    let body = fixture("bmo_rest_error_api_key_required.json");
    let e = parse_service_error(&body).expect("error object");
    assert_eq!(
        (e.code, e.message.as_str()),
        (Some(32000), "API key authentication is required.")
    );
    let err = parse_bugs("https://bz/rest/bug", &body).expect_err("an error");
    assert!(
        err.to_string()
            .contains("API key authentication is required. (code 32000)"),
        "{err}"
    );
}

/// What the fake Bugzilla does for the next requests.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    Normal,
    Status500,
    /// The first request gets 429 with `Retry-After: 1`, the rest are normal.
    RateLimitOnce,
    Hang,
    CutShort,
    TruncatedJson,
    Html,
    Empty,
    Huge,
}

struct FakeBugzilla {
    server: Server,
    mode: Arc<Mutex<Mode>>,
}

/// Serves the recorded bugs: a single id with the recorded bytes as they are, several ids as
/// one `{"bugs": [...]}` of the recorded objects; ids from 3,000,000 up are generated copies
/// (for batch counts); others are faults, as `permissive=1` answers.
async fn fake_bugzilla() -> FakeBugzilla {
    let recorded: Vec<(u64, Vec<u8>, Value)> = RECORDED
        .iter()
        .map(|(f, id)| {
            let bytes = fixture(f);
            let v: Value = serde_json::from_slice(&bytes).expect("fixture json");
            (*id, bytes, v["bugs"][0].clone())
        })
        .collect();
    let mode = Arc::new(Mutex::new(Mode::Normal));
    let m = mode.clone();
    let handler: Handler = Arc::new(move |req: &Request| {
        let mut mode = m.lock().expect("mode");
        match *mode {
            Mode::Normal => {}
            Mode::Status500 => {
                return Reply::status(500, &[], "<html><body>Internal Server Error</body></html>");
            }
            Mode::RateLimitOnce => {
                *mode = Mode::Normal;
                return Reply::status(429, &[("Retry-After", "1")], "slow down");
            }
            Mode::Hang => return Reply::Hang(Duration::from_secs(5)),
            Mode::CutShort => {
                return Reply::CutShort {
                    declared: 5000,
                    body: b"{\"bugs\": [{\"id\": 2".to_vec(),
                };
            }
            Mode::TruncatedJson => {
                return Reply::json(b"{\"bugs\": [{\"id\": 2217733, \"status\": \"CLO".to_vec());
            }
            Mode::Html => {
                return Reply::Send {
                    status: 200,
                    headers: vec![("Content-Type".into(), "text/html".into())],
                    body:
                        b"<!DOCTYPE html><html><body>Bugzilla is down for maintenance</body></html>"
                            .to_vec(),
                };
            }
            Mode::Empty => return Reply::json(Vec::new()),
            Mode::Huge => return Reply::json(vec![b' '; 10 * 1024 * 1024]),
        }
        drop(mode);
        assert_eq!(req.path, "/rest/bug");
        assert_eq!(req.param("permissive"), Some("1"));
        let ids: Vec<u64> = req
            .param("id")
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.parse().ok())
            .collect();
        let fields = req.param("include_fields").unwrap_or_default();
        let cheap = fields == "id,last_change_time";
        if ids.len() == 1
            && !cheap
            && let Some((_, bytes, _)) = recorded.iter().find(|(id, _, _)| *id == ids[0])
        {
            return Reply::json(bytes.clone());
        }
        let mut bugs = Vec::new();
        let mut faults = Vec::new();
        for id in ids {
            let bug = match recorded.iter().find(|(r, _, _)| *r == id) {
                Some((_, _, v)) => Some(v.clone()),
                None if id >= 3_000_000 => {
                    let mut v = recorded[0].2.clone();
                    v["id"] = id.into();
                    Some(v)
                }
                None => None,
            };
            match bug {
                Some(mut v) if cheap => {
                    bugs.push(serde_json::json!({"id": v["id"].take(), "last_change_time": v["last_change_time"].take()}))
                }
                Some(v) => bugs.push(v),
                None => faults.push(serde_json::json!({"id": id, "faultString": format!("Bug #{id} does not exist."), "faultCode": 101})),
            }
        }
        Reply::json(
            serde_json::to_vec(&serde_json::json!({"bugs": bugs, "faults": faults})).expect("json"),
        )
    });
    FakeBugzilla {
        server: Server::start(handler).await,
        mode,
    }
}

/// A downstream whose patches name these bugs, scanned into a fresh store, with a config
/// pointing Bugzilla at `url` and short timings.
fn downstream(dir: &Path, url: &str, bugs: &[u64]) -> PathBuf {
    let pkg = dir.join("distgit/rpms/demo");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let mut spec = String::from("Name: demo\nVersion: 1\nRelease: 1.hs\n");
    for (i, b) in bugs.iter().enumerate() {
        spec.push_str(&format!("# rhbz#{b}\nPatch{i}: p{i}.patch\n"));
        std::fs::write(
            pkg.join(format!("p{i}.patch")),
            "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        )
        .expect("write");
    }
    std::fs::write(pkg.join("demo.spec"), spec).expect("write");
    let cfg = dir.join("forkdebt.toml");
    std::fs::write(
        &cfg,
        format!(
            "database = \"sqlite://{db}\"\ncontact = \"mailto:ci@example.org\"\n[sources]\ntimeout_secs = 1\nmax_retries = 2\n\
             min_interval_ms = 0\nbackoff_min_ms = 20\n[sources.bugzilla]\nurl = \"{url}\"\napi_key_env = \"FORKDEBT_TEST_BZ_KEY\"\n",
            db = dir.join("f.db").display()
        ),
    )
    .expect("write config");
    let out = forkdebt(dir, &["--config", "forkdebt.toml", "scan", "distgit"]);
    assert!(out.status.success(), "{}", stderr(&out));
    cfg
}

async fn sync(dir: &Path) -> std::process::Output {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_forkdebt"))
            .args(["--config", "forkdebt.toml", "sync"])
            .current_dir(&dir)
            .env("FORKDEBT_TEST_BZ_KEY", "s3cret-key")
            .output()
            .expect("run forkdebt")
    })
    .await
    .expect("join")
}

async fn observations(
    dir: &Path,
) -> std::collections::HashMap<String, forkdebt_core::store::StoredObservation> {
    let store = Store::open(&format!("sqlite://{}", dir.join("f.db").display()))
        .await
        .expect("open");
    let o = store
        .observations(forkdebt_core::source::Dataset::Bugzilla)
        .await
        .expect("observations");
    store.close().await;
    o
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_is_batched_and_a_second_sync_only_checks_for_changes() {
    let fake = fake_bugzilla().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bugs: Vec<u64> = RECORDED.iter().map(|(_, id)| *id).collect();
    bugs.push(1_999_999); // not on the server
    bugs.extend(3_000_000..3_000_244); // 250 bugs in all
    downstream(dir.path(), &fake.server.url, &bugs);

    let out = sync(dir.path()).await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}\n{}", stderr(&out));
    let reqs = fake.server.requests();
    assert_eq!(reqs.len(), 3, "250 bugs, 100 per request");
    assert!(
        reqs.iter()
            .all(|r| r.header("authorization") == Some("Bearer s3cret-key")
                && !r.query.contains("s3cret"))
    );
    assert!(
        !said.contains("s3cret") && !stderr(&out).contains("s3cret"),
        "the key never shows"
    );
    assert!(reqs.iter().all(|r| {
        r.header("user-agent")
            .is_some_and(|ua| ua.contains("mailto:ci@example.org"))
    }));
    assert!(
        said.contains("bugzilla     250 items, 3 requests, 0 not modified, 1 item errors: ok"),
        "{said}"
    );

    let obs = observations(dir.path()).await;
    let closed: Value =
        serde_json::from_str(obs["2217733"].data.as_deref().expect("data")).expect("json");
    assert_eq!(
        (closed["status"].as_str(), closed["resolution"].as_str()),
        (Some("CLOSED"), Some("ERRATA"))
    );
    assert_eq!(closed["cf_fixed_in"], "jQuery 3.5.0");
    let missing = &obs["1999999"];
    assert!(missing.data.is_none());
    assert!(
        missing
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("Bug #1999999 does not exist")),
        "{missing:?}"
    );

    // Nothing changed upstream: one cheap request for the 249 known bugs, one full retry of
    // the missing one; no full answer for anything already known.
    fake.server.clear();
    let out = sync(dir.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let reqs = fake.server.requests();
    let full: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.param("include_fields") != Some("id,last_change_time"))
        .collect();
    assert_eq!(reqs.len() - full.len(), 1, "one change check for 249 bugs");
    assert_eq!(full.len(), 1);
    assert_eq!(full[0].param("id"), Some("1999999"));

    let table = crate::util::forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "sources"]);
    assert!(
        table.contains("bugzilla") && table.contains(" 5 "),
        "{table}"
    );
}

async fn fault(mode: Mode, expect: &str) -> Vec<Request> {
    let fake = fake_bugzilla().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ids: Vec<u64> = RECORDED.iter().map(|(_, id)| *id).collect();
    downstream(dir.path(), &fake.server.url, &ids);
    let out = sync(dir.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let before = observations(dir.path()).await;

    // Upstream changed (as far as forkdebt can tell: the check fails), and fails.
    *fake.mode.lock().expect("mode") = mode.clone();
    fake.server.clear();
    let out = sync(dir.path()).await;
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        stderr(&out),
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{mode:?}: {said}\n{err}");
    assert!(
        said.contains("FAILED") && said.contains(expect),
        "{mode:?}: expected `{expect}` in:\n{said}"
    );
    assert!(err.contains("1 source(s) failed"), "{err}");

    let after = observations(dir.path()).await;
    for (id, o) in &after {
        assert_eq!(
            o.data, before[id].data,
            "{mode:?}: bug {id} kept what was known"
        );
        assert!(
            o.last_error.as_deref().is_some_and(|e| e.contains(expect)),
            "{mode:?}: {o:?}"
        );
    }
    let table = crate::util::forkdebt_ok(dir.path(), &["--config", "forkdebt.toml", "sources"]);
    assert!(
        table.contains("bugzilla") && table.contains(expect.split(' ').next().unwrap_or_default()),
        "{table}"
    );
    fake.server.requests()
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_then_recorded() {
    let reqs = fault(Mode::Status500, "HTTP 500").await;
    // The change check and then the full fetch: each tried once and retried twice.
    assert_eq!(reqs.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_is_recorded() {
    fault(Mode::Hang, "timed out").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_cut_short_is_recorded() {
    fault(Mode::CutShort, "cut off").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_json_is_recorded() {
    fault(Mode::TruncatedJson, "malformed JSON").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_html_error_page_is_recorded() {
    // A 200 with HTML is not retried: asking again gives the same page.
    let reqs = fault(Mode::Html, "expected JSON, got an HTML page").await;
    assert_eq!(reqs.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_body_is_recorded() {
    fault(Mode::Empty, "empty response body").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_10_mb_body_is_refused() {
    fault(Mode::Huge, "larger than 8388608 bytes").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_wait_as_told_by_retry_after() {
    let fake = fake_bugzilla().await;
    let dir = tempfile::tempdir().expect("tempdir");
    downstream(dir.path(), &fake.server.url, &[2217733]);
    *fake.mode.lock().expect("mode") = Mode::RateLimitOnce;
    let out = sync(dir.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let reqs = fake.server.requests();
    assert_eq!(reqs.len(), 2);
    let waited = reqs[1].at - reqs[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured: {waited:?}"
    );
    let obs = observations(dir.path()).await;
    assert!(obs["2217733"].data.is_some());
}
