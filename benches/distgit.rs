//! Dist-git in git benchmark: a forge group of 300 package repositories, each with a spec and
//! 10 patches on the downstream branch, and a base dist-git of the same 300 (5 of each
//! package's patches are the base's), all served over smart HTTP by the real `git
//! http-backend` and listed by a GitLab-shaped API on 127.0.0.1. Scanned by the real binary:
//! first scan (clones) and a rescan with nothing new — wall time, peak RSS and the git
//! processes forkdebt started. Target: the rescan under 5 s, at most one fetch per repository.
//!
//! Run with `cargo bench --bench distgit`. `FORKDEBT_BENCH_PACKAGES` changes the size.

#[path = "../tests/git_http.rs"]
mod git_http;
#[path = "../tests/httpd.rs"]
#[allow(dead_code)]
mod httpd;
#[path = "measure.rs"]
mod measure;

use httpd::{Handler, Reply, Request, Server};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

const PATCHES: usize = 10;
const INHERITED: usize = 5;

fn patch(pkg: usize, i: usize) -> String {
    format!(
        "From: Dev <dev@example.org>\nSubject: [PATCH] fix {i} of package {pkg}\n\n---\n--- a/src/f{i}.c\n+++ b/src/f{i}.c\n@@ -{l},3 +{l},3 @@\n context\n-old {pkg} {i}\n+new {pkg} {i}\n context\n",
        l = 10 + i
    )
}

fn spec(name: &str, files: &[String]) -> String {
    let mut s = format!(
        "Name: {name}\nVersion: 1.0\nRelease: 1.hs%{{?dist}}\nSummary: s\nLicense: MIT\nURL: https://example.org/{name}\n"
    );
    for (i, f) in files.iter().enumerate() {
        s.push_str(&format!(
            "\n# https://github.com/example/{name}/pull/{}\nPatch{}: {f}\n",
            i + 1,
            i + 1
        ));
    }
    s.push_str("\n%description\nd\n\n%prep\n%autosetup -p1\n");
    s
}

/// One bare repository with one commit on `branch` holding `files`, by fast-import.
fn bare_repo(path: &Path, branch: &str, files: &[(String, String)]) {
    std::fs::create_dir_all(path).expect("mkdir");
    let ok = Command::new("git")
        .args(["init", "-q", "--bare"])
        .current_dir(path)
        .status()
        .expect("git init");
    assert!(ok.success());
    let mut s = format!(
        "commit refs/heads/{branch}\ncommitter Dev <dev@example.org> 1700000000 +0000\ndata 6\nimport\n"
    );
    for (name, body) in files {
        s.push_str(&format!(
            "M 100644 inline {name}\ndata {}\n{body}\n",
            body.len()
        ));
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(s.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success());
}

fn generate(srv: &Path, packages: usize) {
    for p in 0..packages {
        let name = format!("pkg{p:03}");
        let ours: Vec<String> = (0..PATCHES)
            .map(|i| format!("{name}-{i:02}.patch"))
            .collect();
        let mut files: Vec<(String, String)> = ours
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), patch(p, i)))
            .collect();
        files.push((format!("{name}.spec"), spec(&name, &ours)));
        bare_repo(
            &srv.join(format!("hs/{name}.git")),
            "c9s-sig-hyperscale",
            &files,
        );
        // The base carries the first half, under its own names.
        let base: Vec<String> = (0..INHERITED)
            .map(|i| format!("{name}-c9s-{i}.patch"))
            .collect();
        let mut files: Vec<(String, String)> = base
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), patch(p, i)))
            .collect();
        files.push((format!("{name}.spec"), spec(&name, &base)));
        bare_repo(&srv.join(format!("c9s/{name}.git")), "c9s", &files);
    }
}

fn main() {
    let packages: usize = std::env::var("FORKDEBT_BENCH_PACKAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let temp = tempfile::tempdir().expect("tempdir");
    let root = temp.path().to_path_buf();
    let srv = root.join("srv");
    let t = Instant::now();
    generate(&srv, packages);
    println!(
        "generated {packages} downstream and {packages} base repositories in {:.1?}",
        t.elapsed()
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = Arc::new(std::sync::Mutex::new(String::new()));
    let git = git_http::handler(srv.clone());
    let u = url.clone();
    // GitLab lists each project's last activity; a forge that does not forces a fetch each time.
    let activity = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let act = activity.clone();
    let handler: Handler = Arc::new(move |req: &Request| {
        let with_activity = act.load(std::sync::atomic::Ordering::Relaxed);
        if req.path.starts_with("/api/v4/groups/") {
            let page: usize = req.param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let base = u.lock().expect("url").clone();
            let list: Vec<serde_json::Value> = (0..packages)
                .skip((page - 1) * 100)
                .take(100)
                .map(|p| {
                    serde_json::json!({
                        "path": format!("pkg{p:03}"),
                        "http_url_to_repo": format!("{base}/hs/pkg{p:03}.git"),
                        "archived": false,
                        "last_activity_at": if with_activity { Some("2026-11-01T10:00:00.000Z") } else { None }
                    })
                })
                .collect();
            return Reply::json(serde_json::to_vec(&list).expect("json"));
        }
        git(req)
    });
    let server = runtime.block_on(Server::start(handler));
    *url.lock().expect("url") = server.url.clone();
    std::fs::write(
        root.join("forkdebt.toml"),
        format!(
            "contact = \"mailto:bench@example.org\"\n\
             [[downstream]]\nname = \"hs\"\nbase = \"c9s\"\nbranch = \"c9s-sig-hyperscale\"\n\
             [downstream.git]\nforge = \"gitlab\"\nurl = \"{u}\"\ngroup = \"hs\"\n\
             [[distro]]\nname = \"c9s\"\n[distro.distgit]\nforge = \"gitlab\"\nurl = \"{u}\"\ngroup = \"c9s\"\nbranch = \"c9s\"\n\
             [git]\ncache_dir = \"{cache}\"\n[sources]\nmin_interval_ms = 0\n",
            u = server.url,
            cache = root.join("cache").display()
        ),
    )
    .expect("config");
    let args = [
        "--config",
        "forkdebt.toml",
        "--database",
        "sqlite://d.db",
        "scan",
    ];
    let first = measure::run(&args, &root);
    let fetches_first = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/info/refs"))
        .count();
    server.clear();
    let second = measure::run(&args, &root);
    let fetches_second = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/info/refs"))
        .count();
    let packs_second = server
        .requests()
        .iter()
        .filter(|r| r.body.windows(5).any(|w| w == b"want "))
        .count();
    // The same rescan when the listing has no activity times: every repository is fetched.
    activity.store(false, std::sync::atomic::Ordering::Relaxed);
    server.clear();
    let third = measure::run(&args, &root);
    let fetches_third = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/info/refs"))
        .count();
    first.print("first scan (clones)");
    second.print("rescan (nothing new)");
    third.print("rescan, no activity times");
    println!("fetches without activity times: {fetches_third}");
    println!(
        "fetches: first scan {fetches_first}, rescan {fetches_second} for {} repositories ({packs_second} pack downloads on the rescan)",
        2 * packages
    );
    print!("first scan said: {}", first.stdout);
    print!("rescan said:     {}", second.stdout);
    drop(server);
}
