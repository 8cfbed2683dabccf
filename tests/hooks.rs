//! Forge webhooks on `serve`'s web server (issue 26): per forge, a call signed with the
//! configured secret has the request it names asked at once; a wrong or missing signature
//! is refused (403/401) and asks nothing; a replayed delivery and an oversized body are
//! refused too.

use crate::builder::{DistGit, Package};
use crate::httpd::{Reply, Request, Server};
use crate::util::forkdebt_ok;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How many requests the forges' APIs got whose path contains `part`.
fn asked(log: &Mutex<Vec<String>>, part: &str) -> usize {
    log.lock()
        .expect("lock")
        .iter()
        .filter(|p| p.contains(part))
        .count()
}

async fn eventually(log: &Mutex<Vec<String>>, part: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if asked(log, part) > 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn each_forge_s_signed_webhook_asks_its_item_at_once_and_nothing_else_gets_in() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = log.clone();
    let server = Server::start(Arc::new(move |req: &Request| {
        seen.lock()
            .expect("lock")
            .push(format!("{}?{}", req.path, req.query));
        Reply::status(404, &[("Content-Type", "application/json")], "{}")
    }))
    .await;
    let diff = "--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-a\n+b\n";
    let pkg = Package::new("hello")
        .version("1.0")
        .release("1.hs")
        .commented_patch(
            "https://github.com/Owner/Repo/pull/1",
            "0001-gh.patch",
            diff,
        )
        .commented_patch(
            "https://gitlab.com/group/proj/-/merge_requests/7",
            "0002-gl.patch",
            diff,
        )
        .commented_patch(
            "https://pagure.io/someproject/pull-request/3",
            "0003-pg.patch",
            diff,
        )
        .commented_patch(
            "https://fedoraproject.org/wiki/Changes/Drop_Foo",
            "0004-change.patch",
            diff,
        );
    let web_port = crate::util::free_port();
    let tree = DistGit::new(&dir).package(pkg).config(&format!(
        "sync_every_mins = 600\n\
         [sources.github]\nurl = \"{url}\"\n[sources.gitlab]\nurl = \"{url}\"\n\
         [sources.pagure]\nhosts = {{ \"pagure.io\" = \"{url}\" }}\n\
         [sources.fedora_wiki]\nurl = \"{url}/w/api.php\"\nreleases = []\n\
         [[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
         [web]\nlisten = \"127.0.0.1:{web_port}\"\n\
         [hooks]\ngithub_secret_env = \"HOOK_GH\"\ngitlab_secret_env = \"HOOK_GL\"\n\
         forgejo_secret_env = \"HOOK_FJ\"\npagure_secret_env = \"HOOK_PG\"\nmax_body_bytes = 65536\n",
        url = server.url,
    ));
    let d = tree.dir.clone();
    tokio::task::spawn_blocking(move || forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"]))
        .await
        .expect("scan");
    let _serve = crate::irc::serve_with_env(
        &dir,
        &[
            ("HOOK_GH", "gh-s3cret"),
            ("HOOK_GL", "gl-t0ken"),
            ("HOOK_FJ", "fj-s3cret"),
            ("HOOK_PG", "pg-s3cret"),
        ],
    );
    crate::util::wait_for_port(web_port, "the web server", Duration::from_secs(20));
    let client = reqwest::Client::new();
    let hook = |forge: &str| format!("http://127.0.0.1:{web_port}/hooks/{forge}");
    let post = |forge: &str, headers: Vec<(&str, String)>, body: Vec<u8>| {
        let mut r = client.post(hook(forge)).body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        async move {
            let resp = r.send().await.expect("post");
            (
                resp.status().as_u16(),
                resp.text().await.unwrap_or_default(),
            )
        }
    };

    // GitHub: the PR event names Owner/Repo#1 (in the forge's spelling, any case).
    let body = serde_json::to_vec(&serde_json::json!({"action": "closed",
        "repository": {"full_name": "owner/repo"}, "pull_request": {"number": 1, "merged": true}}))
    .expect("json");
    let gh = |sig: String, delivery: &str| {
        vec![
            ("X-GitHub-Event", "pull_request".to_string()),
            ("X-GitHub-Delivery", delivery.to_string()),
            ("X-Hub-Signature-256", sig),
        ]
    };
    let (status, _) = post("github", gh("sha256=00".into(), "d-1"), body.clone()).await;
    assert_eq!(status, 403);
    let (status, _) = post(
        "github",
        vec![("X-GitHub-Event", "pull_request".into())],
        body.clone(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        "github",
        gh(format!("sha256={}", sign("wrong", &body)), "d-1"),
        body.clone(),
    )
    .await;
    assert_eq!(status, 403);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        asked(&log, "/pulls/1"),
        0,
        "an unverified call asked something"
    );
    let good = format!("sha256={}", sign("gh-s3cret", &body));
    let (status, text) = post("github", gh(good.clone(), "d-1"), body.clone()).await;
    assert_eq!((status, text.trim()), (202, "syncing"));
    assert!(
        eventually(&log, "/repos/Owner/Repo/pulls/1").await,
        "{:?}",
        log.lock()
    );
    // Only that item: the others were not asked.
    assert_eq!(asked(&log, "merge_requests"), 0);
    // The same delivery again: recognised, nothing asked.
    let before = asked(&log, "/pulls/1");
    let (status, text) = post("github", gh(good, "d-1"), body.clone()).await;
    assert_eq!((status, text.trim()), (200, "already handled"));
    // Too big: refused before anything reads it.
    let big = vec![b' '; 70_000];
    let (status, _) = post(
        "github",
        gh(format!("sha256={}", sign("gh-s3cret", &big)), "d-2"),
        big,
    )
    .await;
    assert_eq!(status, 413);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(asked(&log, "/pulls/1"), before);

    // GitLab: the shared token.
    let body = serde_json::to_vec(&serde_json::json!({"object_kind": "merge_request",
        "project": {"path_with_namespace": "group/proj"}, "object_attributes": {"iid": 7, "state": "merged"}}))
    .expect("json");
    let gl = |token: &str| {
        vec![
            ("X-Gitlab-Event", "Merge Request Hook".to_string()),
            ("X-Gitlab-Event-UUID", "u-1".to_string()),
            ("X-Gitlab-Token", token.to_string()),
        ]
    };
    let (status, _) = post("gitlab", gl("gl-t0ke"), body.clone()).await;
    assert_eq!(status, 403);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(asked(&log, "merge_requests/7"), 0);
    let (status, _) = post("gitlab", gl("gl-t0ken"), body.clone()).await;
    assert_eq!(status, 202);
    assert!(
        eventually(&log, "merge_requests/7").await,
        "{:?}",
        log.lock()
    );

    // Pagure: its HMAC header, the delivery id in the body.
    let body = serde_json::to_vec(&serde_json::json!({"msg_id": "2026-pg-1",
        "topic": "pull-request.closed",
        "msg": {"pullrequest": {"id": 3, "project": {"fullname": "someproject"}}}}))
    .expect("json");
    let pg = |sig: String| {
        vec![
            ("X-Pagure-Topic", "pull-request.closed".to_string()),
            ("X-Pagure-Signature-256", sig),
        ]
    };
    let (status, _) = post("pagure", pg(sign("nope", &body)), body.clone()).await;
    assert_eq!(status, 403);
    let (status, _) = post("pagure", pg(sign("pg-s3cret", &body)), body.clone()).await;
    assert_eq!(status, 202);
    assert!(eventually(&log, "pull-request/3").await, "{:?}", log.lock());

    // Forgejo (FESCo's tickets): the Changes followed are asked again.
    let body = serde_json::to_vec(&serde_json::json!({"action": "edited",
        "repository": {"name": "fesco", "full_name": "fesco/tickets"}, "issue": {"number": 3300}}))
    .expect("json");
    let fj = |sig: String| {
        vec![
            ("X-Forgejo-Event", "issues".to_string()),
            ("X-Forgejo-Delivery", "f-1".to_string()),
            ("X-Forgejo-Signature", sig),
        ]
    };
    let (status, _) = post("forgejo", fj(sign("fj-s3cre", &body)), body.clone()).await;
    assert_eq!(status, 403);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(asked(&log, "/w/api.php"), 0);
    let (status, _) = post("forgejo", fj(sign("fj-s3cret", &body)), body.clone()).await;
    assert_eq!(status, 202);
    assert!(eventually(&log, "/w/api.php").await, "{:?}", log.lock());

    // A forge that is not one.
    let (status, _) = post("bitbucket", vec![], b"{}".to_vec()).await;
    assert_eq!(status, 404);
    // The secrets never reach the log.
    let serve_log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    for secret in ["gh-s3cret", "gl-t0ken", "fj-s3cret", "pg-s3cret"] {
        assert!(!serve_log.contains(secret), "{serve_log}");
    }
}
