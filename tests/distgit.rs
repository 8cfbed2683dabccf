//! Dist-git where it lives: bare repositories served over smart HTTP by the real `git
//! http-backend`, listed by a local GitLab-shaped API; the base distribution's and Fedora's
//! dist-git beside them, to tell inherited patches from ours.

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, git, stderr};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A diff of `file` changing line `n` of a 30-line file (hunk at `at`, for other line
/// numbers), with a header unless `bare`.
fn diff(file: &str, old: &str, new: &str, at: usize, subject: &str) -> String {
    format!(
        "From: Dev <dev@example.org>\nSubject: [PATCH] {subject}\n\n---\n--- a/{file}\n+++ b/{file}\n@@ -{at},3 +{at},3 @@\n context above\n-{old}\n+{new}\n context below\n"
    )
}

fn spec(name: &str, patches: &[&str]) -> String {
    let mut s = format!(
        "Name: {name}\nVersion: 1.0\nRelease: 1.hs%{{?dist}}\nSummary: s\nLicense: MIT\nURL: https://example.org/{name}\n"
    );
    for (i, p) in patches.iter().enumerate() {
        s.push_str(&format!("\nPatch{}: {p}\n", i + 1));
    }
    s.push_str("\n%description\nd\n\n%prep\n%autosetup -p1\n");
    s
}

/// A bare repository `srv/<path>.git` whose `branch` holds `files`.
fn repo(srv: &Path, path: &str, branch: &str, files: &[(&str, String)]) -> PathBuf {
    let work = srv.join("work").join(path);
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", branch]);
    for (f, text) in files {
        std::fs::write(work.join(f), text).expect("write");
    }
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "import"]);
    let bare = srv.join(format!("{path}.git"));
    std::fs::create_dir_all(bare.parent().expect("parent")).expect("mkdir");
    git(
        srv,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf-8"),
            bare.to_str().expect("utf-8"),
        ],
    );
    git(
        &work,
        &["remote", "add", "origin", bare.to_str().expect("utf-8")],
    );
    work
}

fn push(work: &Path, file: &str, text: &str, spec_text: Option<(&str, String)>) {
    std::fs::write(work.join(file), text).expect("write");
    if let Some((name, s)) = spec_text {
        std::fs::write(work.join(name), s).expect("write");
    }
    git(work, &["add", "."]);
    git(work, &["commit", "-qm", "add a patch"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_distgit_is_mirrored_listed_and_compared_with_the_base() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let srv = dir.join("srv");
    let branch = "c9s-sig-hyperscale";
    // The base (c9s) carries foo and bar; Fedora carries baz too.
    let foo_base = diff("src/core.c", "old foo", "new foo", 10, "core: foo");
    let bar_base = diff("src/core.c", "old bar", "new bar", 20, "core: bar");
    let baz = diff("src/util.c", "old baz", "new baz", 5, "util: baz");
    repo(
        &srv,
        "c9s/systemd",
        "c9s",
        &[
            (
                "systemd.spec",
                spec(
                    "systemd",
                    &["systemd-0012-foo.patch", "systemd-0013-bar.patch"],
                ),
            ),
            ("systemd-0012-foo.patch", foo_base.clone()),
            ("systemd-0013-bar.patch", bar_base.clone()),
        ],
    );
    repo(
        &srv,
        "fedora/systemd",
        "rawhide",
        &[
            ("systemd.spec", spec("systemd", &["0099-baz.patch"])),
            ("0099-baz.patch", baz.clone()),
        ],
    );
    // Ours: foo under another name at other line numbers (inherited), bar with one line
    // changed (ours, derived from), baz (from Fedora), and our own.
    let foo_ours = diff("src/core.c", "old foo", "new foo", 14, "Backport foo");
    let bar_ours = diff("src/core.c", "old bar", "new bar, our way", 20, "core: bar");
    let own = diff("src/hs.c", "default 1", "default 2", 3, "hs: our default");
    repo(
        &srv,
        "hs/systemd",
        branch,
        &[
            (
                "systemd.spec",
                spec(
                    "systemd",
                    &[
                        "0001-foo.patch",
                        "0002-bar.patch",
                        "0003-baz.patch",
                        "0004-hs.patch",
                    ],
                ),
            ),
            ("0001-foo.patch", foo_ours),
            ("0002-bar.patch", bar_ours),
            ("0003-baz.patch", baz),
            ("0004-hs.patch", own.clone()),
        ],
    );
    let bash = repo(
        &srv,
        "hs/bash",
        branch,
        &[
            ("bash.spec", spec("bash", &["bash-hs.patch"])),
            ("bash-hs.patch", diff("shell.c", "a", "b", 1, "bash: hs")),
        ],
    );
    repo(
        &srv,
        "hs/util-linux",
        branch,
        &[("util-linux.spec", spec("util-linux", &[]))],
    );

    // The group's listing: the recorded GitLab project object, one per repository, with its
    // name and clone URL pointing here (the recording's own repository is not served).
    let recorded: Value = serde_json::from_slice(
        &std::fs::read(
            crate::util::repo_root()
                .join("../shared/fixtures/gitlab/gitlab_com_project_42823949.json"),
        )
        .expect("fixture"),
    )
    .expect("json");
    // Repositories in the group, with their activity time (GitLab's `last_activity_at`).
    let listed: Arc<Mutex<Vec<(&'static str, String)>>> = Arc::new(Mutex::new(
        ["systemd", "bash", "util-linux", "broken"]
            .map(|n| (n, "2026-11-01T10:00:00.000Z".to_string()))
            .to_vec(),
    ));
    let url_cell: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let git_handler = crate::git_http::handler(srv.clone());
    let (l, u) = (listed.clone(), url_cell.clone());
    let handler: Handler = Arc::new(move |req: &Request| {
        if req.path.starts_with("/api/v4/groups/") {
            let base = u.lock().expect("url").clone();
            let page: Vec<Value> = l
                .lock()
                .expect("listed")
                .iter()
                .map(|(name, active)| {
                    let mut p = recorded.clone();
                    p["path"] = Value::from(*name);
                    p["http_url_to_repo"] = Value::from(format!("{base}/hs/{name}.git"));
                    p["last_activity_at"] = Value::from(active.clone());
                    p
                })
                .collect();
            return Reply::json(serde_json::to_vec(&page).expect("json"));
        }
        git_handler(req)
    });
    let server = Server::start(handler).await;
    *url_cell.lock().expect("url") = server.url.clone();
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "contact = \"mailto:sig@example.org\"\n\
             [[downstream]]\nname = \"hyperscale\"\nbase = \"c9s\"\nbranch = \"{branch}\"\npackaging_from = [\"fedora\"]\n\
             [downstream.git]\nforge = \"gitlab\"\nurl = \"{url}\"\ngroup = \"CentOS/Hyperscale/rpms\"\n\n\
             [[distro]]\nname = \"c9s\"\n[distro.distgit]\nforge = \"gitlab\"\nurl = \"{url}\"\ngroup = \"c9s\"\nbranch = \"c9s\"\n\n\
             [[distro]]\nname = \"fedora\"\n[distro.distgit]\nforge = \"pagure\"\nurl = \"{url}\"\ngroup = \"fedora\"\nbranch = \"rawhide\"\n\n\
             [git]\ncache_dir = \"{cache}\"\n[sources]\nmax_retries = 0\nmin_interval_ms = 0\n",
            url = server.url,
            cache = dir.join("cache").display()
        ),
    )
    .expect("config");
    let d = dir.clone();
    let run = move |args: &'static [&'static str]| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all = vec!["--config", "forkdebt.toml", "--database", "sqlite://d.db"];
                all.extend_from_slice(args);
                forkdebt(&d, &all)
            })
            .await
            .expect("run")
        }
    };
    let out = run(&["scan"]).await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    // The unreachable repository is its own error; the others are read.
    assert!(!out.status.success());
    assert!(
        said.contains("dist-git in git: 3 repositories read, 1 failed"),
        "{said}\n{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("repository broken"),
        "{}",
        stderr(&out)
    );
    assert!(
        said.contains("2 patches are the base distribution's or Fedora's, not ours"),
        "{said}"
    );

    let report = run(&["report", "--format", "json"]).await;
    let report: Value = serde_json::from_slice(&report.stdout).expect("json");
    let pkg = |name: &str| {
        report["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {report:#}"))
    };
    let systemd = pkg("systemd");
    let patch = |file: &str| {
        systemd["patches"]
            .as_array()
            .expect("patches")
            .iter()
            .find(|p| p["file"] == file)
            .cloned()
            .unwrap_or_else(|| panic!("{file} in {systemd:#}"))
    };
    assert_eq!(patch("0001-foo.patch")["origin"], "inherited");
    assert_eq!(
        patch("0001-foo.patch")["origin_detail"],
        "c9s carries it as systemd-0012-foo.patch (branch c9s)"
    );
    assert_eq!(patch("0002-bar.patch")["origin"], "ours");
    assert_eq!(
        patch("0002-bar.patch")["origin_detail"],
        "derived from c9s's systemd-0013-bar.patch (branch c9s)"
    );
    assert_eq!(patch("0003-baz.patch")["origin"], "from-fedora");
    assert_eq!(patch("0004-hs.patch")["origin"], "ours");
    assert!(patch("0004-hs.patch")["origin_detail"].is_null());
    assert_eq!(systemd["spec"], "systemd/systemd.spec");
    // The table counts ours only: bar and hs.
    let table = run(&["report"]).await;
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    let row = table
        .lines()
        .find(|l| l.contains("│ systemd"))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[3], "2", "{table}");
    // The digest counts ours only too: systemd's bar and hs, bash's one.
    let digest = run(&["digest", "--dry-run", "--to", "team@example.org"]).await;
    let digest = String::from_utf8_lossy(&digest.stdout).to_string();
    assert!(
        digest.contains("* 3 carried patches in 3 packages"),
        "{digest}"
    );
    // The failing repository is listed like a source.
    let sources = run(&["sources"]).await;
    let sources = String::from_utf8_lossy(&sources.stdout).to_string();
    // (The table wraps the name: `distgit hyperscale/broken`.)
    assert!(
        sources.contains("distgit") && sources.contains("/broken") && sources.contains("never"),
        "{sources}"
    );

    // One push to bash: the rescan fetches packs only for bash; util-linux left the group.
    push(
        &bash,
        "bash-hs2.patch",
        &diff("shell.c", "c", "d", 9, "bash: more"),
        Some((
            "bash.spec",
            spec("bash", &["bash-hs.patch", "bash-hs2.patch"]),
        )),
    );
    git(&bash, &["push", "-q", "origin", &format!("HEAD:{branch}")]);
    {
        let mut l = listed.lock().expect("listed");
        l.retain(|(n, _)| *n != "util-linux" && *n != "broken");
        for (n, active) in l.iter_mut() {
            if *n == "bash" {
                *active = "2026-11-27T10:00:00.000Z".into(); // the push
            }
        }
    }
    server.clear();
    let out = run(&["scan"]).await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}\n{}", stderr(&out));
    let packs: Vec<String> = server
        .requests()
        .iter()
        // A pack is asked for with `want <oid>` (listing refs is a request of its own).
        .filter(|r| {
            r.path.ends_with("/git-upload-pack") && r.body.windows(5).any(|w| w == b"want ")
        })
        .map(|r| r.path.clone())
        .filter(|p| p.starts_with("/hs/"))
        .collect();
    assert_eq!(
        packs,
        vec!["/hs/bash.git/git-upload-pack".to_string()],
        "{said}"
    );
    let report = run(&["report", "--format", "json"]).await;
    let report: Value = serde_json::from_slice(&report.stdout).expect("json");
    let find = |name: &str| {
        report["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .expect("package")
    };
    assert_eq!(
        find("bash")["patches"].as_array().expect("patches").len(),
        2
    );
    assert!(find("util-linux")["removed_at"].is_string());
    assert!(find("systemd")["removed_at"].is_null());
}

/// `serve` reads dist-git again every `scan_every_mins`: a patch pushed to the dist-git
/// branch is announced in the IRC channel once, without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn serve_announces_a_patch_pushed_to_distgit_once() {
    use crate::ircd::{Ngircd, User};
    use std::time::Duration;
    let ircd = Ngircd::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let srv = dir.join("srv");
    let branch = "c9s-sig-hyperscale";
    let work = repo(
        &srv,
        "hs/bash",
        branch,
        &[
            ("bash.spec", spec("bash", &["bash-hs.patch"])),
            ("bash-hs.patch", diff("shell.c", "a", "b", 1, "bash: hs")),
        ],
    );
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "database = \"sqlite://s.db\"\n\
             [[downstream]]\nname = \"hyperscale\"\nbranch = \"{branch}\"\n\
             [downstream.git]\nrepos = [\"{repo}\"]\n\n\
             [git]\ncache_dir = \"{cache}\"\n[sources]\nscan_every_mins = 0.02\n\
             [chat]\nprefix = \"!\"\npoll_secs = 1\n\
             [chat.irc]\nserver = \"127.0.0.1\"\nport = {port}\ntls = false\nnick = \"forkdebt\"\nchannels = [\"#hs\"]\n",
            repo = srv.join("hs/bash.git").display(),
            cache = dir.join("cache").display(),
            port = ircd.port
        ),
    )
    .expect("config");
    let d = dir.clone();
    tokio::task::spawn_blocking(move || {
        crate::util::forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"]);
        // The baseline: from now on new debt is news.
        crate::util::forkdebt_ok(
            &d,
            &["--config", "forkdebt.toml", "sync", "--source", "koji"],
        );
    })
    .await
    .expect("scan and sync");
    let mut serve = crate::irc::serve(&dir);
    let mut alice = User::connect(ircd.port, "alice").await;
    crate::irc::join_with_bot(&mut alice).await;
    push(
        &work,
        "bash-hs2.patch",
        &diff("shell.c", "c", "d", 9, "bash: more"),
        Some((
            "bash.spec",
            spec("bash", &["bash-hs.patch", "bash-hs2.patch"]),
        )),
    );
    git(&work, &["push", "-q", "origin", &format!("HEAD:{branch}")]);
    let notices = alice
        .notices("forkdebt", Duration::from_secs(30), Duration::from_secs(5))
        .await;
    let texts: Vec<String> = notices
        .iter()
        .map(|l| l.params.last().cloned().unwrap_or_default())
        .collect();
    let about: Vec<&String> = texts
        .iter()
        .filter(|t| t.contains("bash-hs2.patch"))
        .collect();
    assert_eq!(about.len(), 1, "{texts:?}");
    assert!(about[0].contains("new in dist-git"), "{texts:?}");
    assert!(
        !texts.iter().any(|t| t.contains("bash bash-hs.patch")),
        "{texts:?}"
    );
    serve.terminate();
}

/// Forgejo (forge.fedoraproject.org speaks its Gitea-compatible API): the same dist-git read
/// through `orgs/{org}/repos`, so moving a dist-git there is `forge = "forgejo"`. No recorded
/// Forgejo answer exists in the shared fixtures; this one follows the documented shape
/// (`name`, `clone_url`, `archived`, `updated_at`).
#[tokio::test(flavor = "multi_thread")]
async fn a_forgejo_organisation_lists_the_distgit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let srv = dir.join("srv");
    let branch = "rawhide";
    repo(
        &srv,
        "rpms/bash",
        branch,
        &[
            ("bash.spec", spec("bash", &["bash-hs.patch"])),
            ("bash-hs.patch", diff("shell.c", "a", "b", 1, "bash: hs")),
        ],
    );
    repo(
        &srv,
        "rpms/archived",
        branch,
        &[("archived.spec", spec("archived", &[]))],
    );
    let url_cell: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let git_handler = crate::git_http::handler(srv.clone());
    let u = url_cell.clone();
    let handler: Handler = Arc::new(move |req: &Request| {
        if req.path == "/api/v1/orgs/rpms/repos" {
            let base = u.lock().expect("url").clone();
            let page: u32 = req.param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let list = if page == 1 {
                serde_json::json!([
                    {"id": 1, "name": "bash", "full_name": "rpms/bash", "clone_url": format!("{base}/rpms/bash.git"),
                     "archived": false, "updated_at": "2026-11-20T08:00:00Z"},
                    {"id": 2, "name": "archived", "full_name": "rpms/archived", "clone_url": format!("{base}/rpms/archived.git"),
                     "archived": true, "updated_at": "2020-01-01T00:00:00Z"}
                ])
            } else {
                serde_json::json!([])
            };
            return Reply::json(serde_json::to_vec(&list).expect("json"));
        }
        git_handler(req)
    });
    let server = Server::start(handler).await;
    *url_cell.lock().expect("url") = server.url.clone();
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "[[downstream]]\nname = \"fedora-hs\"\nbranch = \"{branch}\"\n\
             [downstream.git]\nforge = \"forgejo\"\nurl = \"{url}\"\ngroup = \"rpms\"\n\
             [git]\ncache_dir = \"{cache}\"\n[sources]\nmin_interval_ms = 0\n",
            url = server.url,
            cache = dir.join("cache").display()
        ),
    )
    .expect("config");
    let d = dir.clone();
    let (said, report) = tokio::task::spawn_blocking(move || {
        let said = crate::util::forkdebt_ok(
            &d,
            &[
                "--config",
                "forkdebt.toml",
                "--database",
                "sqlite://f.db",
                "scan",
            ],
        );
        let report = crate::util::forkdebt_ok(
            &d,
            &[
                "--config",
                "forkdebt.toml",
                "--database",
                "sqlite://f.db",
                "report",
                "--format",
                "json",
            ],
        );
        (said, report)
    })
    .await
    .expect("scan");
    assert!(
        said.contains("dist-git in git: 1 repositories read, 0 failed"),
        "{said}"
    );
    let report: Value = serde_json::from_str(&report).expect("json");
    let names: Vec<&str> = report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, vec!["bash"]);
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.path == "/api/v1/orgs/rpms/repos" && r.query.contains("limit=50"))
    );
}
