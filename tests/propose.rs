//! `forkdebt propose`: a branch in the real dist-git repository whose spec drops the patch,
//! checked with real rpm (Debian's `rpm`): `rpmspec -P` accepts it, `rpm -q --changelog
//! --specfile` reads the new entry, `rpmbuild -bp` applies the remaining patches to real
//! sources. And a Fedora Change draft from a policy deviation.

use crate::builder::{DistGit, Package};
use crate::util::{copy_tree, forkdebt, forkdebt_ok, git, sample_distgit, stderr};
use std::path::Path;
use std::process::Command;

fn run(dir: &Path, cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (apt-get install rpm; .ci/run does it)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One line of `hello.c` changed: line `n` from `from` to `to`.
fn hunk(n: usize, from: &str, to: &str) -> String {
    format!("--- a/hello.c\n+++ b/hello.c\n@@ -{n} +{n} @@\n-{from}\n+{to}\n")
}

#[test]
fn propose_drops_a_patch_on_a_branch_that_rpm_accepts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // Real sources: a tarball of hello-1.0/hello.c with five lines.
    let src = dir.join("hello-1.0");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(
        src.join("hello.c"),
        "line 1\nline 2\nline 3\nline 4\nline 5\n",
    )
    .expect("write");
    let repo = dir.join("distgit");
    let pkg = repo.join("rpms/hello");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    run(
        dir,
        "tar",
        &[
            "czf",
            pkg.join("hello-1.0.tar.gz").to_str().expect("utf-8"),
            "hello-1.0",
        ],
    );
    std::fs::write(pkg.join("0001-one.patch"), hunk(1, "line 1", "line one")).expect("write");
    std::fs::write(
        pkg.join("0002-three.patch"),
        hunk(3, "line 3", "line three"),
    )
    .expect("write");
    std::fs::write(pkg.join("0003-five.patch"), hunk(5, "line 5", "line five")).expect("write");
    std::fs::write(
        pkg.join("hello.spec"),
        "Name: hello\nVersion: 1.0\nRelease: 2.hs%{?dist}\nSummary: Hello\nLicense: MIT\nURL: https://example.org/hello\n\
         Source0: hello-1.0.tar.gz\n\n\
         # Upstream: https://github.com/example/hello/pull/1\nPatch1: 0001-one.patch\n\n\
         # Upstream: https://github.com/example/hello/pull/3\n# (backported for the SIG)\nPatch2: 0002-three.patch\n\n\
         Patch3: 0003-five.patch\n\n\
         %description\nHello.\n\n%prep\n%setup -q\n%patch -P 1 -p1\n%patch -P 2 -p1\n%patch -P 3 -p1\n\n\
         %build\n\n%files\n\n%changelog\n* Mon Nov 02 2026 Packager <p@example.org> - 1.0-2.hs\n- Backports\n",
    )
    .expect("spec");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "hello"]);
    std::fs::write(
        dir.join("forkdebt.toml"),
        "contact = \"mailto:sig@example.org\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n",
    )
    .expect("config");
    let db = "sqlite://p.db";
    forkdebt_ok(
        dir,
        &["--config", "forkdebt.toml", "--database", db, "scan"],
    );

    // Not droppable: refused, with why.
    let out = forkdebt(
        dir,
        &[
            "--config",
            "forkdebt.toml",
            "--database",
            db,
            "propose",
            "hello",
            "0002-three.patch",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not droppable"), "{}", stderr(&out));
    let said = forkdebt_ok(
        dir,
        &[
            "--config",
            "forkdebt.toml",
            "--database",
            db,
            "propose",
            "hello",
            "0002-three.patch",
            "--force",
        ],
    );
    assert!(said.contains("changed rpms/hello/hello.spec"), "{said}");
    assert!(said.contains("branch forkdebt/drop-0002-three"), "{said}");
    // The user's checkout is untouched; the branch has the change.
    assert!(pkg.join("0002-three.patch").exists());
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    let files = git(
        &repo,
        &["ls-tree", "-r", "--name-only", "forkdebt/drop-0002-three"],
    );
    assert!(
        !files.contains("0002-three.patch") && files.contains("0003-five.patch"),
        "{files}"
    );
    let message = git(
        &repo,
        &["log", "-1", "--format=%B", "forkdebt/drop-0002-three"],
    );
    assert!(
        message.starts_with("Drop 0002-three.patch") && message.contains("Forkdebt-Evidence:"),
        "{message}"
    );
    // A second proposal of the same patch opens nothing.
    let again = forkdebt(
        dir,
        &[
            "--config",
            "forkdebt.toml",
            "--database",
            db,
            "propose",
            "hello",
            "0002-three.patch",
            "--force",
        ],
    );
    assert!(!again.status.success() && stderr(&again).contains("proposed before"));

    // Real rpm on the branch.
    let wt = dir.join("review");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            wt.to_str().expect("utf-8"),
            "forkdebt/drop-0002-three",
        ],
    );
    let spec = wt.join("rpms/hello/hello.spec");
    let spec_s = spec.to_str().expect("utf-8");
    let parsed = run(dir, "rpmspec", &["-P", spec_s]);
    let body = parsed.split("%changelog").next().unwrap_or_default();
    assert!(
        !body.contains("0002-three") && !body.contains("%patch -P 2"),
        "{parsed}"
    );
    let raw = std::fs::read_to_string(&spec).expect("spec");
    assert!(
        !raw.contains("backported for the SIG") && raw.contains("pull/1"),
        "{raw}"
    );
    assert!(parsed.contains("0001-one.patch") && parsed.contains("0003-five.patch"));
    assert!(parsed.contains("Release: 3.hs"), "{parsed}");
    let changelog = run(dir, "rpm", &["-q", "--changelog", "--specfile", spec_s]);
    assert!(
        changelog.contains("forkdebt <sig@example.org> - 1.0-3.hs")
            && changelog.contains("- Drop 0002-three.patch"),
        "{changelog}"
    );
    let top = dir.join("rpmbuild");
    let sources = wt.join("rpms/hello");
    run(
        dir,
        "rpmbuild",
        &[
            "-bp",
            "--nodeps",
            "--define",
            &format!("_topdir {}", top.display()),
            "--define",
            &format!("_sourcedir {}", sources.display()),
            spec_s,
        ],
    );
    let built = std::fs::read_to_string(top.join("BUILD/hello-1.0/hello.c"))
        .or_else(|_| {
            // rpm 4.20 builds in BUILD/<name>-<version>-build/.
            std::fs::read_to_string(top.join("BUILD/hello-1.0-build/hello-1.0/hello.c"))
        })
        .expect("the prepared sources");
    assert_eq!(built, "line one\nline 2\nline 3\nline 4\nline five\n");
}

#[test]
fn a_change_draft_comes_from_a_policy_deviation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    copy_tree(&sample_distgit(), &dir.join("distgit"));
    forkdebt_ok(dir, &["--database", "sqlite://c.db", "scan", "distgit"]);
    let inventory =
        std::fs::read_to_string(dir.join("distgit/forkdebt-inventory.toml")).expect("inventory");
    let name = inventory
        .lines()
        .find_map(|l| l.trim().strip_prefix("name = \""))
        .and_then(|r| r.split('"').next())
        .expect("a deviation name")
        .to_string();
    let draft = forkdebt_ok(
        dir,
        &["--database", "sqlite://c.db", "propose", "--change", &name],
    );
    // MediaWiki sections, in the template's order.
    let sections: Vec<&str> = draft
        .lines()
        .filter(|l| l.starts_with("== ") && l.ends_with(" =="))
        .map(|l| l.trim_matches(|c| c == '=' || c == ' '))
        .collect();
    for want in [
        "Summary",
        "Owner",
        "Current status",
        "Detailed Description",
        "Benefit to Fedora",
        "Scope",
        "Upgrade/compatibility impact",
        "How To Test",
        "Contingency Plan",
    ] {
        assert!(sections.contains(&want), "{want} missing in {sections:?}");
    }
    assert!(draft.starts_with(&format!("= {name} =")), "{draft}");
    let package = inventory
        .lines()
        .find_map(|l| l.trim().strip_prefix("package = \""))
        .and_then(|r| r.split('"').next())
        .expect("a package");
    assert!(draft.contains(package), "{draft}");
}

/// The forge API a proposal talks to, as a local server records it: the request opened
/// (GitLab merge request, Pagure or Forgejo pull request), and its state read back.
#[derive(Clone, Copy)]
struct Forge {
    kind: &'static str,
    project: &'static str,
    web_url: &'static str,
}

const FORGES: [Forge; 3] = [
    Forge {
        kind: "gitlab",
        project: "hs/rpms/{package}",
        web_url: "https://gitlab.example/hs/rpms/hello/-/merge_requests/7",
    },
    Forge {
        kind: "pagure",
        project: "rpms/{package}",
        web_url: "https://src.example/rpms/hello/pull-request/7",
    },
    Forge {
        kind: "forgejo",
        project: "rpms/{package}",
        web_url: "https://forgejo.example/rpms/hello/pulls/7",
    },
];

/// The forge's answer to `req` while the request is `merged` or not; `None`: not the API.
fn forge_api(f: &Forge, req: &crate::httpd::Request, merged: bool) -> Option<crate::httpd::Reply> {
    use crate::httpd::Reply;
    let json = |v: serde_json::Value| Some(Reply::json(v.to_string().into_bytes()));
    match f.kind {
        "gitlab" if req.path.contains("/merge_requests") => json(serde_json::json!({
            "iid": 7, "state": if merged { "merged" } else { "opened" }, "web_url": f.web_url})),
        "pagure" if req.path.contains("/pull-request") => json(serde_json::json!({
            "id": 7, "status": if merged { "Merged" } else { "Open" }, "full_url": f.web_url})),
        "forgejo" if req.path.ends_with("/labels") => json(serde_json::json!([
            {"id": 11, "name": "forkdebt"}, {"id": 12, "name": "drop"}, {"id": 13, "name": "other"}])),
        "forgejo" if req.path.contains("/pulls") => json(serde_json::json!({
            "number": 7, "state": if merged { "closed" } else { "open" }, "merged": merged,
            "html_url": f.web_url})),
        _ => None,
    }
}

/// The forge's copy of `repo`: `dir/srv/hello.git`, bare, accepting pushes over HTTP (served
/// by `git http-backend` from `dir/srv`).
fn forge_copy(dir: &Path, repo: &Path) -> std::path::PathBuf {
    let srv = dir.join("srv");
    std::fs::create_dir_all(&srv).expect("mkdir");
    git(
        &srv,
        &[
            "clone",
            "-q",
            "--bare",
            repo.to_str().expect("utf-8"),
            "hello.git",
        ],
    );
    git(
        &srv.join("hello.git"),
        &["config", "http.receivepack", "true"],
    );
    srv
}

/// Whether `r` opened a request (not a read of one).
fn opens(f: &Forge, r: &crate::httpd::Request) -> bool {
    match f.kind {
        "gitlab" => r.path.ends_with("/merge_requests"),
        "pagure" => r.path.ends_with("/pull-request/new"),
        _ => r.path.ends_with("/pulls"),
    }
}

/// `--push`: the branch goes to the dist-git's remote (smart HTTP, real `git http-backend`) and
/// a merge/pull request is opened at a local forge API that records it, for GitLab, Pagure
/// and Forgejo; never twice for one patch; `[propose] max_open` respected; its state is read
/// back at the next sync (merged is an event, and frees a place); the digest lists it.
#[tokio::test(flavor = "multi_thread")]
async fn push_opens_one_request_per_patch_on_every_forge() {
    for f in &FORGES {
        push_on(f).await;
    }
}

async fn push_on(f: &Forge) {
    use crate::httpd::{Handler, Request, Server};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let repo = dir.join("distgit");
    let pkg = repo.join("rpms/hello");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    for (file, n) in [
        ("0001-one.patch", 1),
        ("0002-three.patch", 3),
        ("0003-five.patch", 5),
    ] {
        std::fs::write(pkg.join(file), hunk(n, "x", "y")).expect("write");
    }
    std::fs::write(
        pkg.join("hello.spec"),
        "Name: hello\nVersion: 1.0\nRelease: 1.hs\nSummary: s\nLicense: MIT\n\
         Patch1: 0001-one.patch\n\nPatch2: 0002-three.patch\n\nPatch3: 0003-five.patch\n\n%description\nd\n\n%changelog\n",
    )
    .expect("spec");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "hello"]);
    let srv = forge_copy(&dir, &repo);
    let git_handler = crate::git_http::handler(srv.clone());
    let merged = Arc::new(AtomicBool::new(false));
    let handler: Handler = {
        let merged = Arc::clone(&merged);
        let forge = *f;
        Arc::new(move |req: &Request| {
            forge_api(&forge, req, merged.load(Ordering::SeqCst))
                .unwrap_or_else(|| git_handler(req))
        })
    };
    let server = Server::start(handler).await;
    git(
        &repo,
        &[
            "remote",
            "add",
            "origin",
            &format!("{}/hello.git", server.url),
        ],
    );
    std::fs::write(dir.join("token"), "s3cret-token\n").expect("token");
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "contact = \"mailto:sig@example.org\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
             [propose]\nforge = \"{}\"\nurl = \"{}\"\nproject = \"{}\"\nlabels = [\"forkdebt\", \"drop\"]\n\
             max_open = 1\ntoken_file = \"{}\"\n\
             [email]\nsmtp_url = \"smtp://127.0.0.1:1\"\n[[email.recipient]]\naddress = \"team@example.org\"\n",
            f.kind,
            server.url,
            f.project,
            dir.join("token").display()
        ),
    )
    .expect("config");
    let d = dir.clone();
    let run_fd = move |args: &'static [&'static str]| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all = vec!["--config", "forkdebt.toml", "--database", "sqlite://p.db"];
                all.extend_from_slice(args);
                forkdebt(&d, &all)
            })
            .await
            .expect("run")
        }
    };
    let kind = f.kind;
    assert!(run_fd(&["scan"]).await.status.success());
    let out = run_fd(&["propose", "hello", "0002-three.patch", "--force", "--push"]).await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{kind}: {said}\n{}", stderr(&out));
    assert!(
        said.contains(&format!("proposed: {}", f.web_url)),
        "{kind}: {said}"
    );
    let opened: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| opens(f, r))
        .collect();
    assert_eq!(opened.len(), 1, "{kind}");
    let o = &opened[0];
    let text = String::from_utf8_lossy(&o.body).to_string();
    match kind {
        "gitlab" => {
            assert!(
                o.path.contains("/api/v4/projects/hs%2Frpms%2Fhello/"),
                "{}",
                o.path
            );
            assert_eq!(o.header("private-token"), Some("s3cret-token"));
            let body: serde_json::Value = serde_json::from_slice(&o.body).expect("json");
            assert_eq!(body["title"], "Drop 0002-three.patch");
            assert_eq!(body["source_branch"], "forkdebt/drop-0002-three");
            assert_eq!(body["target_branch"], "main");
            assert_eq!(body["labels"], "forkdebt,drop");
            assert!(
                body["description"]
                    .as_str()
                    .expect("text")
                    .contains("Forkdebt-Evidence:")
            );
        }
        "pagure" => {
            assert_eq!(o.path, "/api/0/rpms/hello/pull-request/new");
            assert_eq!(o.header("authorization"), Some("token s3cret-token"));
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(&o.body).into_owned().collect();
            assert_eq!(form["title"], "Drop 0002-three.patch");
            assert_eq!(form["branch_from"], "forkdebt/drop-0002-three");
            assert_eq!(form["branch_to"], "main");
            assert!(
                form["initial_comment"].contains("Forkdebt-Evidence:"),
                "{text}"
            );
        }
        _ => {
            assert_eq!(o.path, "/api/v1/repos/rpms/hello/pulls");
            assert_eq!(o.header("authorization"), Some("token s3cret-token"));
            let body: serde_json::Value = serde_json::from_slice(&o.body).expect("json");
            assert_eq!(body["title"], "Drop 0002-three.patch");
            assert_eq!(body["head"], "forkdebt/drop-0002-three");
            assert_eq!(body["base"], "main");
            // Forgejo takes label ids: the repository's labels by name.
            assert_eq!(body["labels"], serde_json::json!([11, 12]));
            assert!(
                body["body"]
                    .as_str()
                    .expect("text")
                    .contains("Forkdebt-Evidence:")
            );
        }
    }
    let remote = git(&srv.join("hello.git"), &["branch", "--list"]);
    assert!(
        remote.contains("forkdebt/drop-0002-three"),
        "{kind}: {remote}"
    );

    // The proposal is an event (chat announces "proposed: <link>").
    let events = run_fd(&["events"]).await;
    let events = String::from_utf8_lossy(&events.stdout).to_string();
    assert!(
        events.contains(&format!("proposed: {}", f.web_url)),
        "{kind}: {events}"
    );
    // The same patch again: nothing new is opened.
    let again = run_fd(&["propose", "hello", "0002-three.patch", "--force", "--push"]).await;
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already proposed (open)"));
    // max_open = 1: another patch waits.
    let more = run_fd(&["propose", "hello", "0003-five.patch", "--force", "--push"]).await;
    assert!(!more.status.success());
    assert!(
        stderr(&more).contains("max_open = 1"),
        "{kind}: {}",
        stderr(&more)
    );
    assert_eq!(
        server.requests().iter().filter(|r| opens(f, r)).count(),
        1,
        "{kind}"
    );

    // Someone merges it: the next sync reads its state, announces it once, and frees the
    // place, so the next patch can be proposed.
    merged.store(true, Ordering::SeqCst);
    let sync = run_fd(&["sync"]).await;
    assert!(sync.status.success(), "{kind}: {}", stderr(&sync));
    let sync = run_fd(&["sync"]).await;
    assert!(sync.status.success(), "{kind}: {}", stderr(&sync));
    let events = run_fd(&["events"]).await;
    let events = String::from_utf8_lossy(&events.stdout).to_string();
    assert_eq!(
        events
            .matches(&format!("proposal merged: {}", f.web_url))
            .count(),
        1,
        "{kind}: {events}"
    );
    let next = run_fd(&["propose", "hello", "0003-five.patch", "--force", "--push"]).await;
    assert!(next.status.success(), "{kind}: {}", stderr(&next));
    // This week's digest lists the proposals.
    let digest = run_fd(&["digest", "--dry-run"]).await;
    let digest = String::from_utf8_lossy(&digest.stdout).to_string();
    assert!(
        digest.contains("Drop proposals (for review):")
            && digest.contains(&format!("proposal merged: {}", f.web_url)),
        "{kind}: {digest}"
    );
}

/// A downstream read from a forge (`[[downstream]] git`), with no local checkout: the proposal
/// is made in forkdebt's own mirror of the package's repository and pushed to `push_url`.
#[tokio::test(flavor = "multi_thread")]
async fn propose_works_from_the_dist_git_mirror() {
    use crate::httpd::{Handler, Request, Server};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let work = dir.join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    for (file, n) in [("0001-one.patch", 1), ("0002-three.patch", 3)] {
        std::fs::write(work.join(file), hunk(n, "x", "y")).expect("write");
    }
    std::fs::write(
        work.join("hello.spec"),
        "Name: hello\nVersion: 1.0\nRelease: 4.hs\nSummary: s\nLicense: MIT\n\
         Patch1: 0001-one.patch\nPatch2: 0002-three.patch\n\n%description\nd\n\n%changelog\n",
    )
    .expect("spec");
    git(&work, &["init", "-q", "-b", "c9s-sig-hyperscale"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "hello"]);
    let srv = forge_copy(&dir, &work);
    let forge = FORGES[0];
    let git_handler = crate::git_http::handler(srv.clone());
    let handler: Handler = Arc::new(move |req: &Request| {
        forge_api(&forge, req, false).unwrap_or_else(|| git_handler(req))
    });
    let server = Server::start(handler).await;
    let repo_url = format!("{}/hello.git", server.url);
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "contact = \"mailto:sig@example.org\"\n[git]\ncache_dir = \"{}\"\n\
             [[downstream]]\nname = \"hs\"\nbranch = \"c9s-sig-hyperscale\"\n\
             [downstream.git]\nrepos = [\"{repo_url}\"]\n\
             [propose]\nforge = \"gitlab\"\nurl = \"{}\"\nproject = \"hs/rpms/{{package}}\"\npush_url = \"{repo_url}\"\n",
            dir.join("cache").display(),
            server.url,
        ),
    )
    .expect("config");
    let d = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut all = vec!["--config", "forkdebt.toml", "--database", "sqlite://p.db"];
            all.extend_from_slice(args);
            forkdebt(&d, &all)
        };
        let scan = run(&["scan"]);
        assert!(scan.status.success(), "{}", stderr(&scan));
        run(&["propose", "hello", "0002-three.patch", "--force", "--push"])
    })
    .await
    .expect("run");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}\n{}", stderr(&out));
    assert!(said.contains("(the dist-git mirror)"), "{said}");
    assert!(said.contains("proposed: https://gitlab.example/"), "{said}");
    // The branch reached the forge, off the dist-git branch, without the patch.
    let served = srv.join("hello.git");
    let files = git(
        &served,
        &["ls-tree", "--name-only", "forkdebt/drop-0002-three"],
    );
    assert!(
        files.contains("0001-one.patch") && !files.contains("0002-three.patch"),
        "{files}"
    );
    let spec = git(&served, &["show", "forkdebt/drop-0002-three:hello.spec"]);
    assert!(
        spec.contains("Release: 5.hs") && !spec.contains("Patch2:"),
        "{spec}"
    );
    let opened: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/merge_requests"))
        .collect();
    assert_eq!(opened.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&opened[0].body).expect("json");
    assert_eq!(body["target_branch"], "c9s-sig-hyperscale");
}

/// Upstream text reaches the evidence chain, and so the proposal's `%changelog`: a base
/// repository whose release is rpm code, a release tag and a PR title that are too. The
/// proposed spec expands to them literally with real `rpmspec -P` and `rpm -q --changelog`,
/// and neither runs them (the files they would create are never there).
#[tokio::test(flavor = "multi_thread")]
async fn upstream_text_in_a_proposal_is_never_run_by_rpm() {
    use crate::httpd::{Handler, Reply, Request, Server};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let mark = |n: &str| dir.join(format!("pwned-{n}"));
    let lua = |n: &str| format!("%{{lua:io.open('{}','w')}}", mark(n).display());
    let shell = |n: &str| format!("%(id>{})", mark(n).display());
    let release = format!("1.el9{}{}", lua("release"), shell("release"));
    let tag = format!("v2{}{}", lua("tag"), shell("tag"));
    let title = format!("Fix {} {}", lua("title"), shell("title"));
    let pr = serde_json::json!({
        "number": 1, "state": "closed", "merged": true, "merged_at": "2026-01-02T03:04:05Z",
        "merge_commit_sha": "40abf8b68f4c86d0001cc9a03f19cf8f1bd018e1", "title": title,
        "html_url": "https://github.com/o/x/pull/1"
    });
    let tags = serde_json::json!([{"name": "v1.0"}, {"name": tag}]);
    let shipped = crate::util::primary("hello", "2.0", &release);
    let tag_for_compare = tag.clone();
    let handler: Handler = Arc::new(move |req: &Request| {
        match req.path.as_str() {
        "/gh/repos/o/x/pulls/1" => Reply::json(pr.to_string().into_bytes()),
        "/gh/repos/o/x/tags" => Reply::json(tags.to_string().into_bytes()),
        p if p.starts_with("/gh/repos/o/x/compare/") => {
            let decoded: String = url::form_urlencoded::parse(p.as_bytes())
                .map(|(k, v)| format!("{k}{v}"))
                .collect();
            let status = if decoded.contains(&tag_for_compare) || p.contains("v2") {
                "behind"
            } else {
                "ahead"
            };
            Reply::json(format!("{{\"status\":\"{status}\"}}").into_bytes())
        }
        "/repo/repodata/repomd.xml" => Reply::json(
            b"<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision><data type=\"primary\">\
              <location href=\"repodata/p-primary.xml.gz\"/></data></repomd>"
                .to_vec(),
        ),
        "/repo/repodata/p-primary.xml.gz" => Reply::json(shipped.clone()),
        _ => Reply::status(404, &[], "{\"message\":\"Not Found\"}"),
    }
    });
    let server = Server::start(handler).await;
    let repo = dir.join("distgit");
    let pkg = repo.join("rpms/hello");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    std::fs::write(pkg.join("0001-one.patch"), hunk(1, "line 1", "line one")).expect("write");
    std::fs::write(
        pkg.join("hello.spec"),
        "Name: hello\nVersion: 1.0\nRelease: 2.hs%{?dist}\nSummary: Hello\nLicense: MIT\nURL: https://github.com/o/x\n\n\
         # https://github.com/o/x/pull/1\nPatch1: 0001-one.patch\n\n\
         %description\nHello.\n\n%prep\n%patch -P 1 -p1\n\n%files\n\n\
         %changelog\n* Mon Nov 02 2026 Packager <p@example.org> - 1.0-2.hs\n- Backports\n",
    )
    .expect("spec");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "hello"]);
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "contact = \"mailto:sig@example.org\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n\
             [[distro]]\nname = \"c9s\"\nrepodata_url = \"{url}/repo\"\n\
             [sources]\nmin_interval_ms = 0\nmax_retries = 0\n[sources.github]\nurl = \"{url}/gh\"\n",
            url = server.url
        ),
    )
    .expect("config");
    let d = dir.clone();
    let said = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut all = vec!["--config", "forkdebt.toml", "--database", "sqlite://p.db"];
            all.extend_from_slice(args);
            let out = forkdebt(&d, &all);
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        run(&["scan"]);
        run(&["sync", "--source", "github", "--source", "repodata"]);
        let why = run(&["why", "hello", "1"]);
        assert!(why.contains("droppable"), "{why}");
        run(&["propose", "hello", "0001-one.patch"])
    })
    .await
    .expect("run");
    assert!(said.contains("branch forkdebt/drop-0001-one"), "{said}");
    let wt = dir.join("review");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            wt.to_str().expect("utf-8"),
            "forkdebt/drop-0001-one",
        ],
    );
    let spec = wt.join("rpms/hello/hello.spec");
    let spec_s = spec.to_str().expect("utf-8");
    let parsed = run(&dir, "rpmspec", &["-P", spec_s]);
    let changelog = run(&dir, "rpm", &["-q", "--changelog", "--specfile", spec_s]);
    for shown in [&parsed, &changelog] {
        assert!(shown.contains(&release), "{shown}");
        assert!(shown.contains(&lua("tag")), "{shown}");
    }
    for n in ["release", "tag", "title"] {
        assert!(!mark(n).exists(), "rpm ran the {n}'s code");
    }
}

/// A one-package dist-git (`hello`, three patches) in `dir/distgit`, committed.
pub(crate) fn hello_distgit(dir: &Path) -> std::path::PathBuf {
    let hello = Package::new("hello")
        .release("1.hs")
        .patch("0001-one.patch", &hunk(1, "x", "y"))
        .patch("0002-three.patch", &hunk(3, "x", "y"))
        .patch("0003-five.patch", &hunk(5, "x", "y"));
    DistGit::new(dir).package(hello).committed().repo
}

/// A forge that answers a request with a redirect to another origin, or with a gigabyte:
/// the token never reaches the other origin, nothing is opened there, and the gigabyte is
/// refused by its size, for GitLab, Pagure and Forgejo; reading a proposal's state back
/// follows the same rules.
#[tokio::test(flavor = "multi_thread")]
async fn forge_answers_never_take_the_token_elsewhere_nor_memory() {
    use crate::httpd::{Handler, Reply, Request, Server};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU8, Ordering};
    for f in &FORGES {
        let elsewhere = Server::start(Arc::new(|_: &Request| Reply::json(b"{}".to_vec()))).await;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let repo = hello_distgit(&dir);
        let srv = forge_copy(&dir, &repo);
        let git_handler = crate::git_http::handler(srv.clone());
        // 0: redirect elsewhere; 1: a gigabyte; 2: behave.
        let mode = Arc::new(AtomicU8::new(0));
        let handler: Handler = {
            let (mode, forge, target) = (Arc::clone(&mode), *f, elsewhere.url.clone());
            Arc::new(move |req: &Request| {
                if forge_api(&forge, req, false).is_none() {
                    return git_handler(req);
                }
                match mode.load(Ordering::SeqCst) {
                    0 => Reply::status(
                        307,
                        &[("Location", &format!("{target}/steal{}", req.path))],
                        "",
                    ),
                    1 => Reply::CutShort {
                        declared: 1 << 30,
                        body: vec![b' '; 64 * 1024],
                    },
                    _ => forge_api(&forge, req, false).expect("the API"),
                }
            })
        };
        let server = Server::start(handler).await;
        git(
            &repo,
            &[
                "remote",
                "add",
                "origin",
                &format!("{}/hello.git", server.url),
            ],
        );
        std::fs::write(dir.join("token"), "s3cret-token\n").expect("token");
        std::fs::write(
            dir.join("forkdebt.toml"),
            format!(
                "contact = \"mailto:sig@example.org\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
                 [sources]\nmin_interval_ms = 0\nmax_retries = 0\n\
                 [propose]\nforge = \"{}\"\nurl = \"{}\"\nproject = \"{}\"\nlabels = [\"forkdebt\"]\ntoken_file = \"{}\"\n",
                f.kind,
                server.url,
                f.project,
                dir.join("token").display()
            ),
        )
        .expect("config");
        let run_fd = |args: &'static [&'static str]| {
            let d = dir.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut all = vec!["--config", "forkdebt.toml", "--database", "sqlite://p.db"];
                    all.extend_from_slice(args);
                    forkdebt(&d, &all)
                })
                .await
                .expect("run")
            }
        };
        let kind = f.kind;
        assert!(run_fd(&["scan"]).await.status.success());
        let out = run_fd(&["propose", "hello", "0001-one.patch", "--force", "--push"]).await;
        assert!(!out.status.success(), "{kind}");
        assert!(
            stderr(&out).contains("redirect"),
            "{kind}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("s3cret"), "{kind}: {}", stderr(&out));
        assert!(
            elsewhere.requests().is_empty(),
            "{kind}: {:?}",
            elsewhere.requests()
        );

        mode.store(1, Ordering::SeqCst);
        let out = run_fd(&["propose", "hello", "0002-three.patch", "--force", "--push"]).await;
        assert!(!out.status.success(), "{kind}");
        assert!(
            stderr(&out).contains("larger than"),
            "{kind}: {}",
            stderr(&out)
        );

        // A request opened as usual, whose state is then read back through a redirect.
        mode.store(2, Ordering::SeqCst);
        let out = run_fd(&["propose", "hello", "0003-five.patch", "--force", "--push"]).await;
        assert!(out.status.success(), "{kind}: {}", stderr(&out));
        mode.store(0, Ordering::SeqCst);
        let out = run_fd(&["sync"]).await;
        assert!(out.status.success(), "{kind}: {}", stderr(&out));
        let sources = run_fd(&["sources"]).await;
        let sources = String::from_utf8_lossy(&sources.stdout).to_string();
        assert!(sources.contains("redirect"), "{kind}: {sources}");
        assert!(
            elsewhere.requests().is_empty(),
            "{kind}: {:?}",
            elsewhere.requests()
        );
    }
}

/// A spec whose `Name:` is a path (`../../victim`) never names the package: the scan says so
/// and uses the spec's file name, so the branch and the token-bearing request stay in the
/// configured project.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_name_never_leaves_the_project() {
    use crate::httpd::{Handler, Request, Server};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let repo = hello_distgit(&dir);
    let spec = repo.join("rpms/hello/hello.spec");
    let text = std::fs::read_to_string(&spec).expect("spec");
    std::fs::write(&spec, text.replace("Name: hello", "Name: ../../victim")).expect("spec");
    git(&repo, &["commit", "-qam", "hostile name"]);
    let srv = forge_copy(&dir, &repo);
    let forge = FORGES[0];
    let git_handler = crate::git_http::handler(srv.clone());
    let handler: Handler = Arc::new(move |req: &Request| {
        forge_api(&forge, req, false).unwrap_or_else(|| git_handler(req))
    });
    let server = Server::start(handler).await;
    std::fs::write(dir.join("token"), "s3cret-token\n").expect("token");
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "contact = \"mailto:sig@example.org\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
             [propose]\nforge = \"gitlab\"\nurl = \"{url}\"\nproject = \"hs/rpms/{{package}}\"\n\
             push_url = \"{url}/{{package}}.git\"\ntoken_file = \"{}\"\n",
            dir.join("token").display(),
            url = server.url,
        ),
    )
    .expect("config");
    let d = dir.clone();
    let (scan, out) = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut all = vec!["--config", "forkdebt.toml", "--database", "sqlite://p.db"];
            all.extend_from_slice(args);
            forkdebt(&d, &all)
        };
        let scan = run(&["scan"]);
        let victim = run(&[
            "propose",
            "../../victim",
            "0001-one.patch",
            "--force",
            "--push",
        ]);
        assert!(!victim.status.success());
        (
            scan,
            run(&["propose", "hello", "0001-one.patch", "--force", "--push"]),
        )
    })
    .await
    .expect("run");
    assert!(
        stderr(&scan).contains("Name `../../victim` is not a package name"),
        "{}",
        stderr(&scan)
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let posts: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(!posts.is_empty());
    for r in &posts {
        assert!(
            r.path.starts_with("/hello.git/")
                || r.path.starts_with("/api/v4/projects/hs%2Frpms%2Fhello/"),
            "{}",
            r.path
        );
    }
    let branches = git(&srv.join("hello.git"), &["branch", "--list"]);
    assert!(branches.contains("forkdebt/drop-0001-one"), "{branches}");
}

/// A forge that refuses with terminal escapes in its answer: the error says what it said with
/// the escapes written out, on the terminal and in what `sources` shows from the store.
#[tokio::test(flavor = "multi_thread")]
async fn a_forge_error_with_terminal_escapes_is_shown_escaped() {
    use crate::httpd::{Handler, Reply, Request, Server};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let repo = hello_distgit(&dir);
    let srv = forge_copy(&dir, &repo);
    let forge = FORGES[0];
    let git_handler = crate::git_http::handler(srv.clone());
    let refuse = Arc::new(AtomicBool::new(true));
    let handler: Handler = {
        let refuse = Arc::clone(&refuse);
        Arc::new(move |req: &Request| match forge_api(&forge, req, false) {
            Some(_) if refuse.load(Ordering::SeqCst) => Reply::status(
                403,
                &[],
                "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[31mdenied\r\nfake: line",
            ),
            Some(ok) => ok,
            None => git_handler(req),
        })
    };
    let server = Server::start(handler).await;
    git(
        &repo,
        &[
            "remote",
            "add",
            "origin",
            &format!("{}/hello.git", server.url),
        ],
    );
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "contact = \"mailto:sig@example.org\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
             [sources]\nmax_retries = 0\nmin_interval_ms = 0\n\
             [propose]\nforge = \"gitlab\"\nurl = \"{}\"\nproject = \"hs/rpms/{{package}}\"\n",
            server.url
        ),
    )
    .expect("config");
    let d = dir.clone();
    let run = move |args: &'static [&'static str]| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all = vec!["--config", "forkdebt.toml", "--database", "sqlite://p.db"];
                all.extend_from_slice(args);
                forkdebt(&d, &all)
            })
            .await
            .expect("run")
        }
    };
    assert!(run(&["scan"]).await.status.success());
    let out = run(&["propose", "hello", "0001-one.patch", "--force", "--push"]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("denied") && err.contains("\\u{1b}"), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    // Opened after all; reading its state back is refused the same way.
    refuse.store(false, Ordering::SeqCst);
    let out = run(&["propose", "hello", "0002-three.patch", "--force", "--push"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    refuse.store(true, Ordering::SeqCst);
    assert!(run(&["sync"]).await.status.success());
    let shown = run(&["sources"]).await;
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(shown.contains("denied"), "{shown}");
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
}

/// A patch file named like a glob (`000?-*.patch`) is dropped alone: git gets every path as
/// a literal name, never as a pattern that takes 0001, 0002 and 0003 with it. And a Patch
/// line written with macros (`%{name}-fix.patch`) is found as the scanner finds it.
#[test]
fn paths_are_names_and_patch_lines_are_read_with_macros() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let repo = hello_distgit(dir);
    let pkg = repo.join("rpms/hello");
    std::fs::write(pkg.join("000?-*.patch"), hunk(2, "x", "y")).expect("write");
    std::fs::write(pkg.join("hello-fix.patch"), hunk(4, "x", "y")).expect("write");
    let spec = pkg.join("hello.spec");
    let text = std::fs::read_to_string(&spec).expect("spec").replace(
        "Patch3: 0003-five.patch\n",
        "Patch3: 0003-five.patch\n\nPatch4: 000?-*.patch\n\nPatch9: %{name}-fix.patch\n",
    );
    std::fs::write(&spec, text).expect("spec");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "odd names"]);
    forkdebt_ok(dir, &["--database", "sqlite://p.db", "scan", "distgit"]);
    for (patch, branch) in [
        ("000?-*.patch", "forkdebt/drop-000---"),
        ("hello-fix.patch", "forkdebt/drop-hello-fix"),
    ] {
        let said = forkdebt_ok(
            dir,
            &[
                "--database",
                "sqlite://p.db",
                "propose",
                "hello",
                patch,
                "--force",
            ],
        );
        assert!(said.contains(&format!("branch {branch}")), "{said}");
        let files = git(&repo, &["ls-tree", "-r", "--name-only", branch]);
        for kept in ["0001-one.patch", "0002-three.patch", "0003-five.patch"] {
            assert!(files.contains(kept), "{patch}: {kept} went too: {files}");
        }
        assert!(!files.contains(patch), "{patch}: {files}");
        let spec = git(&repo, &["show", &format!("{branch}:rpms/hello/hello.spec")]);
        let number = if patch.starts_with("000") {
            "Patch4:"
        } else {
            "Patch9:"
        };
        assert!(!spec.contains(number) && spec.contains("Patch3:"), "{spec}");
    }
}
