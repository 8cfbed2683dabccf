//! Forks kept as git branches, end to end with real git repositories: an upstream with
//! release tags and a stable branch, a fork branch carrying every kind of commit the matcher
//! tells apart, scanned by the binary into SQLite and PostgreSQL.

use crate::util::{forkdebt, forkdebt_ok, postgres_database, stderr};
use serde_json::Value;
use std::path::Path;

/// git with fixed dates, so commit ids and release order are the same every run.
fn git(dir: &Path, args: &[&str]) -> String {
    crate::util::git_env(
        dir,
        args,
        &[
            ("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z"),
            ("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z"),
        ],
    )
}

/// Rewrites line `n` (1-based) of `file`.
fn edit(dir: &Path, file: &str, n: usize, text: &str) {
    let path = dir.join(file);
    let body = std::fs::read_to_string(&path).expect("read");
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    lines[n - 1] = text.to_string();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
}

fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["commit", "-qam", message]);
    git(dir, &["rev-parse", "HEAD"])
}

fn numbered(prefix: &str) -> String {
    (1..=20).map(|i| format!("{prefix} line {i}\n")).collect()
}

struct Repos {
    upstream: std::path::PathBuf,
    fork: std::path::PathBuf,
    /// Upstream shas by name.
    u: std::collections::HashMap<&'static str, String>,
}

/// The upstream and the fork of the acceptance story.
fn build(root: &Path) -> Repos {
    let up = root.join("upstream");
    std::fs::create_dir_all(up.join("src")).expect("mkdir");
    git(&up, &["init", "-q"]);
    for f in ["a.c", "b.c", "old.c"] {
        std::fs::write(up.join("src").join(f), numbered(f)).expect("write");
    }
    std::fs::write(up.join("README"), "upstream\n").expect("write");
    git(&up, &["add", "."]);
    git(&up, &["commit", "-qm", "initial"]);
    git(&up, &["tag", "v1"]);
    let mut u = std::collections::HashMap::new();
    edit(&up, "src/a.c", 2, "a fixed");
    u.insert("fix_a", commit(&up, "core: fix a"));
    edit(&up, "src/b.c", 3, "b fixed");
    u.insert("fix_b", commit(&up, "core: fix b"));
    git(&up, &["mv", "src/old.c", "src/old.cc"]);
    commit(&up, "old: rename to C++");
    edit(&up, "src/old.cc", 5, "old fixed");
    u.insert("fix_old", commit(&up, "old: fix thing"));
    edit(&up, "src/a.c", 8, "helper upstream way");
    u.insert("helper", commit(&up, "util: add helper"));
    git(&up, &["tag", "v2"]);
    // The stable branch of v1 gets fix_a too, as its own commit.
    git(&up, &["checkout", "-q", "-b", "v1-stable", "v1"]);
    git(&up, &["cherry-pick", "-x", &u["fix_a"]]);
    git(&up, &["tag", "v1.1"]);
    git(&up, &["checkout", "-q", "main"]);
    edit(&up, "src/a.c", 2, "a fixed better");
    let fixes = format!("core: fix the fix of a\n\nFixes: {}\n", &u["fix_a"][..12]);
    u.insert("fix_fix", commit(&up, &fixes));
    git(&up, &["tag", "v3"]);

    // The fork: branch hs-v1 off v1.
    let fork = root.join("fork");
    git(root, &["clone", "-q", up.to_str().expect("utf-8"), "fork"]);
    git(&fork, &["checkout", "-q", "-b", "hs-v1", "v1"]);
    // 1. The same change as fix_b, no trailer, another subject: patch-id.
    edit(&fork, "src/b.c", 3, "b fixed");
    commit(&fork, "Backport the b fix");
    // 2. A clean cherry-pick with its trailer.
    git(&fork, &["cherry-pick", "-x", &u["fix_a"]]);
    // 3. fix_old on the file's old name: content key.
    edit(&fork, "src/old.c", 5, "old fixed");
    commit(&fork, "Fix thing in old");
    // 4. Same subject and author as upstream's helper, different code: revisit.
    edit(&fork, "src/a.c", 9, "helper our own way");
    edit(&fork, "src/a.c", 10, "and more of it");
    commit(&fork, "util: add helper");
    // 5. Local-only, with a Link: to the pull request that proposes it.
    std::fs::write(fork.join("hs.conf"), "hyperscale=1\n").expect("write");
    git(&fork, &["add", "hs.conf"]);
    commit(
        &fork,
        "hs: enable the hyperscale defaults\n\nLink: https://github.com/systemd/systemd/pull/31337\n",
    );
    // 6. A merge of the stable release: the merge commit is not a carried commit.
    git(
        &fork,
        &["merge", "--no-ff", "-q", "-m", "Merge v1.1", "v1.1"],
    );
    std::fs::write(
        fork.join("BACKPORTS"),
        format!(
            "https://github.com/systemd/systemd/commit/{}\nhttps://github.com/systemd/systemd/commit/{}\n",
            u["fix_a"], u["fix_fix"]
        ),
    )
    .expect("write");
    git(&fork, &["add", "BACKPORTS"]);
    commit(&fork, "hs: list backports");
    // Branches that are not forks of ours, and an older fork branch.
    git(&fork, &["branch", "-q", "hs-v0", "v1"]);
    Repos {
        upstream: up,
        fork,
        u,
    }
}

fn config(dir: &Path, repos: &Repos) {
    let cfg = format!(
        "[[downstream]]\nname = \"hyperscale\"\n\n[git]\ncache_dir = \"{cache}\"\n\n[[fork]]\nname = \"systemd-hs\"\npackage = \"systemd\"\nrepo = \"{fork}\"\nbranches = [\"hs-v*\"]\nupstream = \"{up}\"\nupstream_branch = \"main\"\nrelease_tags = '^v(\\d+(?:\\.\\d+)*)$'\nbackports_file = \"BACKPORTS\"\n",
        cache = dir.join("cache").display(),
        fork = repos.fork.display(),
        up = repos.upstream.display(),
    );
    std::fs::write(dir.join("forkdebt.toml"), cfg).expect("config");
}

fn commits(report: &Value) -> Vec<Value> {
    report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["name"] == "systemd")
        .flat_map(|p| p["commits"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn by_subject<'a>(commits: &'a [Value], subject: &str) -> &'a Value {
    commits
        .iter()
        .find(|c| c["subject"] == subject)
        .unwrap_or_else(|| panic!("no carried commit `{subject}` in {commits:#?}"))
}

fn story(db: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let repos = build(dir);
    config(dir, &repos);
    let args = |rest: &[&str]| -> Vec<String> {
        ["--config", "forkdebt.toml", "--database", db]
            .iter()
            .chain(rest)
            .map(|s| s.to_string())
            .collect()
    };
    let run = |rest: &[&str]| {
        let a = args(rest);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        forkdebt(dir, &a)
    };
    let ok = |rest: &[&str]| {
        let a = args(rest);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        forkdebt_ok(dir, &a)
    };

    let out = run(&["scan"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("fork systemd-hs (hs-v1, 2 branches): 5 carried commits (3 matched upstream, 1 revisit, 1 local-only, 1 missing upstream fixes)"),
        "{text}"
    );
    // The BACKPORTS file names a commit the branch does not carry.
    assert!(
        stderr(&out).contains(&format!(
            "listed in BACKPORTS but not on the branch: https://github.com/systemd/systemd/commit/{}",
            repos.u["fix_fix"]
        )),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(&format!("commit/{} ", repos.u["fix_a"])));

    let report: Value = serde_json::from_str(&ok(&["report", "--format", "json"])).expect("json");
    let c = commits(&report);
    assert_eq!(c.len(), 5, "{c:#?}");
    let trailer = by_subject(&c, "core: fix a");
    assert_eq!(trailer["upstream"]["how"], "trailer");
    assert_eq!(trailer["upstream"]["sha"], repos.u["fix_a"].as_str());
    assert_eq!(trailer["upstream"]["release"], "v2");
    assert_eq!(trailer["branch"], "hs-v1");
    assert_eq!(trailer["state"], "released");
    let ev = trailer["evidence"].to_string();
    assert!(ev.contains("first in v2"), "{ev}");
    assert!(ev.contains("applies as empty onto v2"), "{ev}");
    let pid = by_subject(&c, "Backport the b fix");
    assert_eq!(pid["upstream"]["how"], "patch-id");
    assert_eq!(pid["upstream"]["sha"], repos.u["fix_b"].as_str());
    let content = by_subject(&c, "Fix thing in old");
    assert_eq!(content["upstream"]["how"], "content");
    assert_eq!(content["upstream"]["sha"], repos.u["fix_old"].as_str());
    assert_eq!(content["upstream"]["release"], "v2");
    let revisit = by_subject(&c, "util: add helper");
    assert!(revisit["upstream"].is_null(), "{revisit:#}");
    assert_eq!(revisit["state"], "unknown");
    assert!(revisit["evidence"].to_string().contains("revisit"));
    let local = by_subject(&c, "hs: enable the hyperscale defaults");
    assert!(local["upstream"].is_null());
    assert!(
        local["refs"]
            .as_array()
            .expect("refs")
            .iter()
            .any(|r| r["kind"] == "github-pr" && r["id"] == "systemd/systemd#31337"),
        "{local:#}"
    );
    assert!(c.iter().all(|x| x["subject"] != "Merge v1.1"));
    assert!(c.iter().all(|x| x["subject"] != "hs: list backports"));

    // The missing follow-up fix: in the report, `why`, `show`, and once as an event.
    let fix = &trailer["missing_fixes"][0];
    assert_eq!(fix["sha"], repos.u["fix_fix"].as_str());
    let why = ok(&["why", "systemd", &repos.u["fix_a"][..10]]);
    assert!(
        why.contains("upstream fixed a bug in a change we carry")
            && why.contains("core: fix the fix of a"),
        "{why}"
    );
    let show = ok(&["show", "systemd"]);
    assert!(show.contains("core: fix the fix of a"), "{show}");
    // Proposing it: the rebase that drops it, with the merge-tree proof (no branch, no edit).
    let proposed = ok(&["propose", "systemd", &repos.u["fix_a"][..10], "--force"]);
    assert!(
        proposed.contains("rebase hs-v1 onto v2 (`git rebase v2 hs-v1`)")
            && proposed.contains("applies as empty there"),
        "{proposed}"
    );
    let whereis = ok(&["whereis", &repos.u["fix_b"][..12]]);
    assert!(
        whereis.contains("Backport the b fix") && whereis.contains("patch-id"),
        "{whereis}"
    );
    let events = ok(&["events"]);
    assert_eq!(events.matches("missing-fix").count(), 1, "{events}");
    let digest = ok(&["digest", "--dry-run", "--to", "team@example.org"]);
    assert!(
        digest.contains("Upstream fixed a bug in a change we carry")
            && digest.contains("core: fix the fix of a"),
        "{digest}"
    );

    // Rescan after one new commit: only that one is computed, and nothing is told twice.
    std::fs::write(repos.fork.join("hs2.conf"), "more=1\n").expect("write");
    git(&repos.fork, &["add", "hs2.conf"]);
    commit(&repos.fork, "hs: one more default");
    let text = ok(&["scan"]);
    assert!(
        text.contains("6 carried commits") && text.contains("; 1 patch-ids computed"),
        "{text}"
    );
    let events = ok(&["events"]);
    assert_eq!(events.matches("missing-fix").count(), 1, "{events}");

    // A dist-git-only scan leaves the carried commits alone.
    std::fs::create_dir_all(dir.join("distgit")).expect("mkdir");
    ok(&["scan", "distgit", "--downstream", "hyperscale"]);
    let report: Value = serde_json::from_str(&ok(&["report", "--format", "json"])).expect("json");
    assert_eq!(commits(&report).len(), 6);
    let table = ok(&["report"]);
    assert!(table.contains("systemd"), "{table}");
}

#[test]
fn fork_branches_on_sqlite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    story(&format!("sqlite://{}", tmp.path().join("f.db").display()));
}

#[tokio::test(flavor = "multi_thread")]
async fn fork_branches_on_postgres() {
    let url = postgres_database().await;
    tokio::task::spawn_blocking(move || story(&url))
        .await
        .expect("story");
}

#[test]
fn a_broken_fork_keeps_what_was_stored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let repos = build(dir);
    config(dir, &repos);
    let db = format!("sqlite://{}", dir.join("f.db").display());
    forkdebt_ok(
        dir,
        &["--config", "forkdebt.toml", "--database", &db, "scan"],
    );
    // The fork goes away: the scan fails, naming it, and keeps the commits.
    std::fs::rename(&repos.fork, dir.join("gone")).expect("mv");
    let out = forkdebt(
        dir,
        &["--config", "forkdebt.toml", "--database", &db, "scan"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("fork systemd-hs") && stderr(&out).contains("not a git repository"),
        "{}",
        stderr(&out)
    );
    let report: Value = serde_json::from_str(&forkdebt_ok(
        dir,
        &[
            "--config",
            "forkdebt.toml",
            "--database",
            &db,
            "report",
            "--format",
            "json",
        ],
    ))
    .expect("json");
    assert_eq!(commits(&report).len(), 5);
}

/// A patch file in `distgit/rpms/systemd/`.
fn patch_file(dir: &Path, name: &str, text: &str) {
    let p = dir.join("distgit/rpms/systemd");
    std::fs::create_dir_all(&p).expect("mkdir");
    std::fs::write(p.join(name), text).expect("write");
}

/// Dist-git patch files matched against an upstream git mirror by content, header shas
/// upstream never had flagged, and releases answered by git: a merged PR costs one GitHub
/// request, no tag list or compare bisection.
#[tokio::test(flavor = "multi_thread")]
async fn patch_files_are_matched_against_the_upstream_git() {
    use crate::httpd::{Reply, Request, Server};
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let repos = build(&dir);
    let up = repos.upstream.clone();
    // 0001: upstream's fix_b as format-patch wrote it, but its header names the PR-branch sha
    // the packager had (upstream never had it).
    let fake = "0badc0de0badc0de0badc0de0badc0de0badc0de";
    let formatted = git(&up, &["format-patch", "-1", "--stdout", &repos.u["fix_b"]]);
    let formatted = formatted.replace(&repos.u["fix_b"], fake) + "\n";
    patch_file(
        &dir,
        "0001-fix-b.patch",
        &formatted.replace(
            "Subject: [PATCH] core: fix b\n",
            &format!("Subject: [PATCH] core: fix b\n\n(cherry picked from commit {fake})\n"),
        ),
    );
    // 0002: fix_old as a bare diff against the file's old name.
    patch_file(
        &dir,
        "0002-old.patch",
        "--- a/src/old.c\n+++ b/src/old.c\n@@ -4,3 +4,3 @@\n old.c line 4\n-old.c line 5\n+old fixed\n old.c line 6\n",
    );
    patch_file(
        &dir,
        "0003-local.patch",
        "--- /dev/null\n+++ b/hs.conf\n@@ -0,0 +1 @@\n+hyperscale=1\n",
    );
    patch_file(
        &dir,
        "systemd.spec",
        "Name: systemd\nVersion: 1\nRelease: 1.hs\nSummary: s\nLicense: MIT\nURL: https://github.com/systemd/systemd\n\
         Patch1: 0001-fix-b.patch\n\nPatch2: 0002-old.patch\n\nPatch3: 0003-local.patch\n\n\
         # https://github.com/systemd/systemd/pull/4242\nPatch4: 0004-fix-fix.patch\n\n%description\nd\n\n%prep\n%autosetup -p1\n",
    );
    patch_file(
        &dir,
        "0004-fix-fix.patch",
        "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
    );

    // GitHub: the recorded merged PR, its merge commit pointed at our upstream's fix_fix
    // (the local upstream cannot have the recorded sha).
    let recorded = std::fs::read(
        crate::util::repo_root()
            .join("../shared/fixtures/github/pull_austinsasko_PyGithub_21_merged.json"),
    )
    .expect("fixture");
    let mut pr: Value = serde_json::from_slice(&recorded).expect("json");
    pr["merge_commit_sha"] = Value::String(repos.u["fix_fix"].clone());
    pr["number"] = Value::from(4242);
    let body = serde_json::to_vec(&pr).expect("json");
    let handler: crate::httpd::Handler = std::sync::Arc::new(move |req: &Request| {
        if req.path == "/repos/systemd/systemd/pulls/4242" {
            return Reply::json(body.clone());
        }
        Reply::status(404, &[], r#"{"message":"Not Found"}"#)
    });
    let server = Server::start(handler).await;
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "contact = \"mailto:t@example.org\"\n[[downstream]]\nname = \"hyperscale\"\npaths = [\"distgit\"]\n\n\
             [git]\ncache_dir = \"{cache}\"\n\n[[upstream]]\nname = \"systemd\"\nforge = \"github:systemd/systemd\"\n\
             repo = \"{up}\"\nrelease_tags = '^v(\\d+(?:\\.\\d+)*)$'\n\n\
             [sources]\nmin_interval_ms = 0\nmax_retries = 0\n[sources.github]\nurl = \"{url}\"\n",
            cache = dir.join("cache").display(),
            up = up.display(),
            url = server.url
        ),
    )
    .expect("config");
    let d = dir.clone();
    let run = move |args: &[&str]| {
        let mut all = vec!["--config", "forkdebt.toml", "--database", "sqlite://m.db"];
        all.extend_from_slice(args);
        forkdebt_ok(&d, &all)
    };
    let run2 = run.clone();
    let said = tokio::task::spawn_blocking(move || run2(&["scan"]))
        .await
        .expect("scan");
    assert!(
        said.contains("upstream git mirrors: 1 patch files are upstream commits by patch-id, 1 by their changed lines, 0 by subject and author (0 to revisit); 0 revert an upstream commit; 1 header shas upstream never had"),
        "{said}"
    );
    let run2 = run.clone();
    let said = tokio::task::spawn_blocking(move || {
        run2(&["sync", "--source", "github", "--source", "git"])
    })
    .await
    .expect("sync");
    // One request for the merged PR; its release and the commits' come from git.
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}\n{said}");
    let run2 = run.clone();
    let report = tokio::task::spawn_blocking(move || run2(&["report", "--format", "json"]))
        .await
        .expect("report");
    let report: Value = serde_json::from_str(&report).expect("json");
    let patches = report["packages"][0]["patches"]
        .as_array()
        .expect("patches")
        .clone();
    let by_file = |f: &str| {
        patches
            .iter()
            .find(|p| p["file"] == f)
            .unwrap_or_else(|| panic!("{f} in {patches:#?}"))
            .clone()
    };
    let p1 = by_file("0001-fix-b.patch");
    let refs = p1["refs"].to_string();
    assert!(
        refs.contains(&format!("systemd/systemd@{}", repos.u["fix_b"])),
        "{refs}"
    );
    assert!(refs.contains("upstream's git has no such commit"), "{refs}");
    assert_eq!(p1["state"], "released", "{p1:#}");
    assert!(p1["evidence"].to_string().contains("first in v2"), "{p1:#}");
    let p2 = by_file("0002-old.patch");
    assert_eq!(p2["state"], "released", "{p2:#}");
    assert!(
        p2["refs"].to_string().contains("the same changed lines as"),
        "{p2:#}"
    );
    assert_eq!(by_file("0003-local.patch")["state"], "not-sent");
    let p4 = by_file("0004-fix-fix.patch");
    assert_eq!(p4["state"], "released", "{p4:#}");
    assert!(p4["evidence"].to_string().contains("first in v3"), "{p4:#}");
}

/// Remote repositories: mirrored bare under the cache folder over smart HTTP (the real `git
/// http-backend`), fetched incrementally, asked with forkdebt's User-Agent and contact.
#[tokio::test(flavor = "multi_thread")]
async fn remote_forks_are_mirrored_and_fetched_over_http() {
    use crate::httpd::Server;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let repos = build(&dir);
    let server = Server::start(crate::git_http::handler(dir.clone())).await;
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "contact = \"mailto:sig@example.org\"\n[[downstream]]\nname = \"hyperscale\"\n\n[git]\ncache_dir = \"{cache}\"\n\n\
             [[fork]]\nname = \"systemd-hs\"\npackage = \"systemd\"\nrepo = \"{url}/fork\"\nbranches = [\"hs-v*\"]\n\
             upstream = \"{url}/upstream\"\nrelease_tags = '^v(\\d+(?:\\.\\d+)*)$'\n",
            cache = dir.join("cache").display(),
            url = server.url
        ),
    )
    .expect("config");
    let d = dir.clone();
    let scan = move || {
        forkdebt_ok(
            &d,
            &[
                "--config",
                "forkdebt.toml",
                "--database",
                "sqlite://r.db",
                "scan",
            ],
        )
    };
    let s1 = scan.clone();
    let said = tokio::task::spawn_blocking(s1).await.expect("scan");
    assert!(
        said.contains("6 carried commits (3 matched upstream"),
        "{said}"
    );
    let mirrors = dir.join("cache/mirrors");
    let host = std::fs::read_dir(&mirrors)
        .expect("mirrors")
        .next()
        .expect("a host folder")
        .expect("entry")
        .path();
    assert!(host.join("fork.git/HEAD").exists() && host.join("upstream.git/HEAD").exists());
    let agents: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| r.header("user-agent").map(str::to_string))
        .collect();
    assert!(!agents.is_empty());
    assert!(
        agents
            .iter()
            .all(|a| a.contains("forkdebt/") && a.contains("mailto:sig@example.org")),
        "{agents:?}"
    );
    // One more fork commit: fetched, and only it is new.
    std::fs::write(repos.fork.join("more.conf"), "x\n").expect("write");
    git(&repos.fork, &["add", "more.conf"]);
    commit(&repos.fork, "hs: more");
    server.clear();
    let said = tokio::task::spawn_blocking(scan).await.expect("scan");
    assert!(
        said.contains("7 carried commits") && said.contains("; 1 patch-ids computed"),
        "{said}"
    );
}
