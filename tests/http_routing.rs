//! Which client, token and method a request goes out with is decided by the source that made
//! it — its origin (scheme, host, port) and base path — never by the host name alone: GitHub's
//! API and a base distribution's Koji and repodata behind one host (another port, or the same
//! port under other paths, as one corporate proxy serves both).

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, stderr};
use std::sync::Arc;

/// GitHub's answer for the one PR the dist-git names.
fn github(req: &Request) -> Reply {
    if req.path.ends_with("/repos/o/x/pulls/1") {
        return Reply::json(
            br#"{"number":1,"state":"open","merged":false,"html_url":"https://github.com/o/x/pull/1"}"#
                .to_vec(),
        );
    }
    Reply::status(404, &[], r#"{"message":"Not Found"}"#)
}

/// Scans a dist-git of the recorded Koji/repodata packages plus one that names a GitHub PR,
/// then syncs GitHub, Koji and repodata with GitHub at `github_url` and the base at `base_url`.
fn sync_all(dir: &std::path::Path, github_url: &str, base_url: &str) -> String {
    for name in ["rnv", "eclipse", "dwm", "only-here"] {
        let pkg = dir.join(format!("distgit/rpms/{name}"));
        std::fs::create_dir_all(&pkg).expect("mkdir");
        std::fs::write(
            pkg.join(format!("{name}.spec")),
            format!(
                "Name: {name}\nVersion: 1\nRelease: 1.hs\nURL: https://github.com/o/x\n\
                 # https://github.com/o/x/pull/1\nPatch0: a.patch\n"
            ),
        )
        .expect("write");
        std::fs::write(
            pkg.join("a.patch"),
            "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        )
        .expect("write");
    }
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{db}\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"f29\"\n\
             [[distro]]\nname = \"f29\"\nkoji_url = \"{base_url}/kojihub\"\nkoji_tag = \"f29-build\"\nrepodata_url = \"{base_url}/repo\"\n\
             [sources]\ntimeout_secs = 5\nmax_retries = 0\nmin_interval_ms = 0\n\
             [sources.github]\nurl = \"{github_url}\"\ntoken_env = \"FORKDEBT_TEST_GH_TOKEN\"\n",
            db = dir.join("f.db").display()
        ),
    )
    .expect("config");
    let out = forkdebt(dir, &["--config", "forkdebt.toml", "scan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml", "sync"])
        .args([
            "--source", "github", "--source", "koji", "--source", "repodata",
        ])
        .current_dir(dir)
        .env("FORKDEBT_TEST_GH_TOKEN", "gh-s3cret")
        .output()
        .expect("run forkdebt");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}\n{}", stderr(&out));
    said
}

/// Every request `server` saw: GitHub's carry the token, the base distribution's never; Koji's
/// XML-RPC calls are POSTs.
fn check(requests: &[Request], github_prefix: &str) {
    let (gh, base): (Vec<&Request>, Vec<&Request>) = requests
        .iter()
        .partition(|r| r.path.starts_with(&format!("{github_prefix}/repos/")));
    for r in &gh {
        assert_eq!(r.header("authorization"), Some("Bearer gh-s3cret"), "{r:?}");
    }
    for r in &base {
        assert_eq!(
            r.header("authorization"),
            None,
            "the token left GitHub: {r:?}"
        );
        if r.path.ends_with("/kojihub") {
            assert_eq!(r.method, "POST", "{r:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn github_and_the_base_on_one_host_another_port() {
    let base = Server::start(crate::basedistro::fake_distro_handler()).await;
    let gh = Server::start(Arc::new(github)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let (g, b) = (gh.url.clone(), base.url.clone());
    let said = tokio::task::spawn_blocking(move || sync_all(&path, &g, &b))
        .await
        .expect("join");
    assert!(said.contains("koji         4 items, 1 requests"), "{said}");
    assert!(said.contains("repodata     4 items, 2 requests"), "{said}");
    assert!(said.contains("github       1 items, 1 requests"), "{said}");
    check(&gh.requests(), "");
    check(&base.requests(), "");
    assert!(base.requests().iter().any(|r| r.path == "/kojihub"));
}

#[tokio::test(flavor = "multi_thread")]
async fn github_and_the_base_on_one_port_under_other_paths() {
    let distro = crate::basedistro::fake_distro_handler();
    let handler: Handler = Arc::new(move |req: &Request| {
        if req.path.starts_with("/gh/") {
            github(req)
        } else {
            distro(req)
        }
    });
    let server = Server::start(handler).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let url = server.url.clone();
    let said = tokio::task::spawn_blocking(move || sync_all(&path, &format!("{url}/gh"), &url))
        .await
        .expect("join");
    assert!(said.contains("koji         4 items, 1 requests"), "{said}");
    assert!(said.contains("repodata     4 items, 2 requests"), "{said}");
    assert!(said.contains("github       1 items, 1 requests"), "{said}");
    check(&server.requests(), "/gh");
    assert!(server.requests().iter().any(|r| r.path == "/kojihub"));
}
