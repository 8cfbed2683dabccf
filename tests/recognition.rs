//! Recognising a carried patch file by its content in upstream git, in the shapes real
//! downstreams write (issue: the last real drops): a revert carrying the header of the commit
//! it reverts, a revert upstream made too, a pre-merge PR commit that upstream squashed (its
//! subject in RFC 2047 encoded words), a `From <sha>` line naming a commit on upstream's main,
//! a package whose upstream only the configuration knows.

use crate::builder::{DistGit, Package};
use crate::util::{forkdebt_ok, git_env};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    git_env(
        dir,
        args,
        &[
            ("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z"),
            ("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z"),
        ],
    )
}

pub(crate) fn numbered(prefix: &str) -> String {
    (1..=30).map(|i| format!("{prefix} line {i}\n")).collect()
}

/// Rewrites lines of `file` (1-based numbers).
pub(crate) fn edit(dir: &Path, file: &str, lines: &[(usize, &str)]) {
    let path = dir.join(file);
    let body = std::fs::read_to_string(&path).expect("read");
    let mut all: Vec<String> = body.lines().map(str::to_string).collect();
    for (n, text) in lines {
        all[n - 1] = (*text).to_string();
    }
    std::fs::write(&path, all.join("\n") + "\n").expect("write");
}

/// Commits as Dev, returns the sha.
pub(crate) fn commit(dir: &Path, message: &str) -> String {
    git(
        dir,
        &[
            "commit",
            "-qam",
            message,
            "--author",
            "Dev <dev@example.org>",
        ],
    );
    git(dir, &["rev-parse", "HEAD"])
}

/// Upstream `o/r`: v1, then the commits the patches are about, v2, an upstream revert, v3.
fn upstream(root: &Path) -> (std::path::PathBuf, HashMap<&'static str, String>) {
    let up = root.join("upstream");
    std::fs::create_dir_all(up.join("src")).expect("mkdir");
    git(&up, &["init", "-q"]);
    for f in ["t.c", "z.c", "c.c", "m.c", "g.c"] {
        std::fs::write(up.join("src").join(f), numbered(f)).expect("write");
    }
    git(&up, &["add", "."]);
    git(&up, &["commit", "-qm", "initial"]);
    git(&up, &["tag", "v1"]);
    let mut u = HashMap::new();
    edit(&up, "src/g.c", &[(7, "g fixed")]);
    u.insert("g", commit(&up, "g: fix"));
    // Issue #9 was fixed by a commit that names it.
    edit(&up, "src/g.c", &[(15, "g no crash")]);
    u.insert("fixes_9", commit(&up, "g: do not crash\n\nFixes #9\n"));
    edit(&up, "src/t.c", &[(3, "private root")]);
    u.insert("x", commit(&up, "tests: make / private"));
    edit(&up, "src/z.c", &[(4, "z changed")]);
    u.insert("z", commit(&up, "z: change behaviour"));
    // The PR's branch had three lines; upstream squash-merged it with a fourth.
    edit(
        &up,
        "src/c.c",
        &[(2, "c two"), (3, "c three"), (4, "c four"), (5, "c five")],
    );
    u.insert(
        "squash",
        commit(&up, "core: when deserializing, keep the order (#12)"),
    );
    edit(&up, "src/m.c", &[(6, "m fixed")]);
    u.insert("main", commit(&up, "m: fix the thing"));
    // Pull request #7 was closed unmerged; this commit landed its change another way.
    edit(&up, "src/m.c", &[(20, "m another way")]);
    u.insert(
        "another_way",
        commit(
            &up,
            "m: do it another way\n\nReplaces #7, which took the long road.\n",
        ),
    );
    git(&up, &["tag", "v2"]);
    git(&up, &["revert", "--no-edit", &u["z"]]);
    u.insert("revert_z", git(&up, &["rev-parse", "HEAD"]));
    git(&up, &["tag", "v3"]);
    (up, u)
}

/// A format-patch header of `sha` (From line, author, subject) over `diff`.
fn header_over(up: &Path, sha: &str, diff: &str) -> String {
    let formatted = git(up, &["format-patch", "-1", "--stdout", sha]);
    let header = formatted.split("\n---\n").next().expect("header");
    format!("{header}\n---\n{diff}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_files_are_recognised_by_their_content_in_upstream_git() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let (up, u) = upstream(&dir);

    // 1. `FB-revert-<x>.patch`: x's header over the reverse of x's diff.
    let reverse_x = git(&up, &["diff", &u["x"], &format!("{}^", u["x"])]);
    let revert_x = header_over(&up, &u["x"], &reverse_x);
    // 2. A revert of z that upstream made too (as revert_z, in v3).
    let reverse_z = git(&up, &["diff", &u["z"], &format!("{}^", u["z"])]);
    let revert_z = format!(
        "From: Dev <dev@example.org>\nSubject: [PATCH] Revert \"z: change behaviour\"\n---\n{reverse_z}\n"
    );
    // 3. The PR branch's commit (a sha upstream never had), three of the squash's four lines.
    let pr_diff = "--- a/src/c.c\n+++ b/src/c.c\n@@ -1,5 +1,5 @@\n c.c line 1\n-c.c line 2\n-c.c line 3\n-c.c line 4\n+c two\n+c three\n+c four\n c.c line 5\n";
    let pr_commit = format!(
        "From 0badc0de0badc0de0badc0de0badc0de0badc0de Mon Sep 17 00:00:00 2001\n\
         From: Dev <dev@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\
         Subject: [PATCH] =?UTF-8?q?core:=20when=20deserializing,?=\n =?UTF-8?q?=20keep=20the=20order?=\n---\n{pr_diff}\n"
    );
    // 4. Upstream main's commit, its `From <sha>` line alone, with an adjusted diff and
    // another subject (a backport written again).
    let adjusted = "--- a/src/m.c\n+++ b/src/m.c\n@@ -5,3 +5,3 @@\n m.c line 5\n-m.c line 6\n+m fixed here\n m.c line 7\n";
    let from_main = format!(
        "From {} Mon Sep 17 00:00:00 2001\nFrom: Packager <p@example.org>\nSubject: [PATCH] backport m\n---\n{adjusted}\n",
        u["main"]
    );
    // The spec's URL names a retired host: `[[upstream]] packages` says where it comes from.
    // 5. Sent upstream as pull request #7, which was closed unmerged.
    let sent = "--- a/src/m.c\n+++ b/src/m.c\n@@ -20 +20 @@\n-m.c line 20\n+m our way\n";
    let pkg = Package::new("r")
        .version("1")
        .preamble("URL: http://fedorahosted.org/releases/r/")
        .patch(&format!("FB-revert-{}.patch", u["x"]), &revert_x)
        .patch("0002-revert-z.patch", &revert_z)
        .patch("0003-keep-order.patch", &pr_commit)
        .patch("0004-backport-m.patch", &from_main)
        .commented_patch("https://github.com/o/r/pull/7", "0005-sent.patch", sent)
        // 6. Made in the tarball's own layout (gendiff: `r-1/src/g.c.orig`): other paths.
        .patch(
            "0006-gendiff.patch",
            "--- r-1/src/g.c.orig\n+++ r-1/src/g.c\n@@ -6,3 +6,3 @@\n g.c line 6\n-g.c line 7\n+g fixed\n g.c line 8\n",
        )
        // 7. Our own fix of issue #9 (upstream fixed it another way).
        .commented_patch(
            "https://github.com/o/r/issues/9",
            "0007-issue.patch",
            "--- a/src/g.c\n+++ b/src/g.c\n@@ -16 +16 @@\n-g.c line 16\n+g guarded\n",
        );
    // GitHub answers #7 with the recorded closed, unmerged pull request.
    let recorded = std::fs::read(
        crate::util::repo_root()
            .join("../shared/fixtures/github/pull_MarcoFalke_PyGithub_1_closed_not_merged.json"),
    )
    .expect("fixture");
    let mut pr: Value = serde_json::from_slice(&recorded).expect("json");
    pr["number"] = Value::from(7);
    let body = serde_json::to_vec(&pr).expect("json");
    let github =
        crate::httpd::Server::start(std::sync::Arc::new(move |req: &crate::httpd::Request| {
            if req.path == "/repos/o/r/pulls/7" {
                return crate::httpd::Reply::json(body.clone());
            }
            crate::httpd::Reply::status(404, &[], r#"{"message":"Not Found"}"#)
        }))
        .await;
    let ninja = Package::new("ninja")
        .preamble("URL: http://martine.github.com/ninja/")
        .patch("0001-x.patch", "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n");
    // A bare `#12` needs the project to be settled.
    let plain = Package::new("plain")
        .preamble("URL: http://example.org/plain/")
        .commented_patch(
            "see #12",
            "0001-x.patch",
            "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        );
    let tree = DistGit::new(&dir).package(pkg).package(ninja).package(plain).config(&format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
         [git]\ncache_dir = \"{cache}\"\n\
         [[upstream]]\nname = \"r\"\nforge = \"github:o/r\"\nrepo = \"{up}\"\nrelease_tags = '^v(\\d+)$'\npackages = [\"r\"]\n\
         [sources.github]\nurl = \"{url}\"\n",
        cache = dir.join("cache").display(),
        up = up.display(),
        url = github.url
    ));
    let d = tree.dir.clone();
    let said = tokio::task::spawn_blocking(move || {
        let scan = forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"]);
        forkdebt_ok(
            &d,
            &[
                "--config",
                "forkdebt.toml",
                "sync",
                "--source",
                "github",
                "--source",
                "git",
            ],
        );
        let report = forkdebt_ok(
            &d,
            &["--config", "forkdebt.toml", "report", "--format", "json"],
        );
        (scan, report)
    })
    .await
    .expect("scan");
    let (scan, report) = said;
    assert!(
        scan.contains("1 by subject and author (0 to revisit); 1 revert an upstream commit"),
        "{scan}"
    );
    // GitHub Pages name the project; a home page elsewhere is said once, with the fix.
    assert!(
        scan.contains("no upstream known for plain: their URL and sources name no forge project; name it in an [[upstream]] `packages` list"),
        "{scan}"
    );
    let report: Value = serde_json::from_str(&report).expect("json");
    let r = report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "r")
        .expect("package r")
        .clone();
    let patches = r["patches"].as_array().expect("patches");
    let patch = |prefix: &str| {
        patches
            .iter()
            .find(|p| p["file"].as_str().is_some_and(|f| f.starts_with(prefix)))
            .unwrap_or_else(|| panic!("{prefix} in {patches:#?}"))
            .clone()
    };

    // 1. Never droppable nor released on x's release: a revert, kept.
    let p = patch("FB-revert-");
    assert_eq!(p["state"], "not-sent", "{p:#}");
    let evidence = p["evidence"].to_string();
    assert!(
        evidence.contains(&format!("reverts o/r@{}", u["x"]))
            && evidence.contains("the reverse of its diff"),
        "{p:#}"
    );
    // 2. Upstream reverted z too: the patch is upstream's revert, first in v3.
    let p = patch("0002-");
    assert_eq!(p["state"], "released", "{p:#}");
    assert!(p["evidence"].to_string().contains("first in v3"), "{p:#}");
    assert!(p["refs"].to_string().contains(&u["revert_z"]), "{p:#}");
    // 3. The squash, by subject and author with most lines alike; the PR sha is said to be
    // unknown upstream.
    let p = patch("0003-");
    assert_eq!(p["state"], "released", "{p:#}");
    let refs = p["refs"].to_string();
    assert!(refs.contains(&u["squash"]), "{p:#}");
    assert!(refs.contains("upstream's git has no such commit"), "{p:#}");
    assert!(p["evidence"].to_string().contains("first in v2"), "{p:#}");
    // 5. Closed unmerged, but upstream's commit names it: superseded, released in v2.
    let p = patch("0005-");
    assert_eq!(p["state"], "released", "{p:#}");
    let evidence = p["evidence"].to_string();
    assert!(
        evidence.contains(&format!("superseded by {}", &u["another_way"][..12]))
            && evidence.contains("first in v2"),
        "{p:#}"
    );
    // 6. Other paths, the same changed lines: upstream's commit.
    let p = patch("0006-");
    assert_eq!(p["state"], "released", "{p:#}");
    assert!(p["refs"].to_string().contains(&u["g"]), "{p:#}");
    // 7. The issue is fixed by the upstream commit that names it, first in v2.
    let p = patch("0007-");
    assert_eq!(p["state"], "released", "{p:#}");
    let evidence = p["evidence"].to_string();
    assert!(
        evidence.contains(&format!("fixed by {}", &u["fixes_9"][..12]))
            && evidence.contains("first in v2"),
        "{p:#}"
    );
    // 4. The `From` sha is upstream's (on main): as sure as git, released in v2.
    let p = patch("0004-");
    assert_eq!(p["state"], "released", "{p:#}");
    assert!(
        p["refs"]
            .to_string()
            .contains("upstream's git has this commit on its branches"),
        "{p:#}"
    );
}

/// An upstream object that cannot be read (a blob a partial clone lacks, a damaged object)
/// leaves that commit out of the content match, says which, and matches the rest.
#[test]
fn an_unreadable_upstream_commit_does_not_stop_the_content_match() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let up = dir.join("upstream");
    std::fs::create_dir_all(up.join("src")).expect("mkdir");
    git(&up, &["init", "-q"]);
    for f in ["k.c", "m.c"] {
        std::fs::write(up.join("src").join(f), numbered(f)).expect("write");
    }
    git(&up, &["add", "."]);
    git(&up, &["commit", "-qm", "initial"]);
    git(&up, &["tag", "v1"]);
    edit(&up, "src/k.c", &[(4, "k changed")]);
    let broken = commit(&up, "k: change");
    edit(&up, "src/m.c", &[(6, "m fixed")]);
    let fixed = commit(&up, "m: fix");
    // The blob k.c has after `broken` is gone from the object store.
    let blob = git(&up, &["rev-parse", &format!("{broken}:src/k.c")]);
    std::fs::remove_file(up.join(".git/objects").join(&blob[..2]).join(&blob[2..]))
        .expect("remove the blob");

    let diff = git(&up, &["diff", &format!("{fixed}^"), &fixed]);
    let pkg = Package::new("r")
        .version("1")
        .preamble("URL: https://github.com/o/r")
        .patch("0001-m.patch", &format!("{diff}\n"))
        // A local change to k.c: upstream's commits touching k.c are candidates.
        .patch(
            "0002-k.patch",
            "--- a/src/k.c\n+++ b/src/k.c\n@@ -8 +8 @@\n-k.c line 8\n+ours\n",
        );
    let tree = DistGit::new(dir).package(pkg).config(&format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
         [git]\ncache_dir = \"{cache}\"\n\
         [[upstream]]\nname = \"r\"\nforge = \"github:o/r\"\nrepo = \"{up}\"\nrelease_tags = '^v(\\d+)$'\n",
        cache = dir.join("cache").display(),
        up = up.display(),
    ));
    let out = crate::util::forkdebt(&tree.dir, &["--config", "forkdebt.toml", "scan"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!(
            "1 upstream commit(s) could not be read and were left out of the content match of r (first: {}",
            &broken[..12]
        )),
        "{said}"
    );
    assert!(
        said.contains("1 patch files are upstream commits by patch-id"),
        "{said}"
    );
    let shown = forkdebt_ok(&tree.dir, &["--config", "forkdebt.toml", "show", "r"]);
    assert!(shown.contains(&fixed[..7]), "{shown}");
}

/// Issue 30 (3): forges treat `OpenPrinting/cups` and `openprinting/cups` as one repository;
/// an `[[upstream]]` written in another case than the spec's URL still answers its patches.
#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_configured_in_another_case_answers_the_spec_s_project() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let (up, u) = upstream(&dir);
    let x = git(&up, &["format-patch", "-1", "--stdout", &u["x"]]);
    let pkg = Package::new("cups")
        .version("1")
        .preamble("URL: https://github.com/OpenPrinting/CUPS")
        .patch("0001-x.patch", &format!("{x}\n"));
    let tree = DistGit::new(&dir).package(pkg).config(&format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
         [git]\ncache_dir = \"{cache}\"\n\
         [[upstream]]\nname = \"cups\"\nforge = \"github:openprinting/cups\"\nrepo = \"{up}\"\nrelease_tags = '^v(\\d+)$'\n",
        cache = dir.join("cache").display(),
        up = up.display(),
    ));
    let d = tree.dir.clone();
    let said = tokio::task::spawn_blocking(move || {
        forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"])
    })
    .await
    .expect("scan");
    assert!(
        said.contains("upstream git mirrors: 1 patch files are upstream commits by patch-id"),
        "{said}"
    );
}

/// Issue 30 (1): with no `release_tags`, each upstream's own scheme is read from its tags:
/// `FILE5_46` is file 5.46; in a repository tagging two components, the package's tags
/// count; a release candidate that has the fix is not its first release.
#[tokio::test(flavor = "multi_thread")]
async fn release_tags_are_read_in_each_upstream_s_own_scheme() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    // file: FILE5_45, the fix, FILE5_46.
    let file_up = dir.join("file");
    std::fs::create_dir_all(file_up.join("src")).expect("mkdir");
    git(&file_up, &["init", "-q"]);
    std::fs::write(file_up.join("src/magic.c"), numbered("magic.c")).expect("write");
    git(&file_up, &["add", "."]);
    git(&file_up, &["commit", "-qm", "initial"]);
    git(&file_up, &["tag", "FILE5_45"]);
    edit(&file_up, "src/magic.c", &[(4, "magic fixed")]);
    let file_fix = commit(&file_up, "magic: fix");
    // An annotated tag made in +0200: its tagger's date is when upstream released the fix.
    git_env(
        &file_up,
        &["tag", "-a", "FILE5_46", "-m", "file 5.46"],
        &[("GIT_COMMITTER_DATE", "2024-11-27T10:00:00+02:00")],
    );
    // jpegxl: two crates in one repository, and a release candidate before the release.
    let jx = dir.join("jpegxl-rs");
    std::fs::create_dir_all(jx.join("src")).expect("mkdir");
    git(&jx, &["init", "-q"]);
    std::fs::write(jx.join("src/lib.rs"), numbered("lib.rs")).expect("write");
    git(&jx, &["add", "."]);
    git(&jx, &["commit", "-qm", "initial"]);
    git(&jx, &["tag", "jpegxl-rs-v0.11.1"]);
    git(&jx, &["tag", "jpegxl-sys-v0.11.1"]);
    edit(&jx, "src/lib.rs", &[(9, "decode fixed")]);
    let jx_fix = commit(&jx, "decode: fix");
    // The other crate's release comes first, then the rc, then the release.
    git(&jx, &["tag", "jpegxl-sys-v0.11.2"]);
    git(&jx, &["tag", "jpegxl-rs-v0.11.2-rc.1"]);
    git(&jx, &["commit", "-q", "--allow-empty", "-m", "release"]);
    git(&jx, &["tag", "jpegxl-rs-v0.11.2"]);
    let patch = |up: &Path, sha: &str| git(up, &["format-patch", "-1", "--stdout", sha]) + "\n";
    let tree = DistGit::new(&dir)
        .package(
            Package::new("file")
                .version("5.45")
                .preamble("URL: https://github.com/file/file")
                .patch("0001-magic-fix.patch", &patch(&file_up, &file_fix)),
        )
        .package(
            Package::new("rust-jpegxl-rs")
                .version("0.11.1")
                .preamble("URL: https://github.com/inflation/jpegxl-rs")
                .patch("0001-decode-fix.patch", &patch(&jx, &jx_fix)),
        )
        .config(&format!(
            "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n\
             [git]\ncache_dir = \"{cache}\"\n\
             [[upstream]]\nname = \"file\"\nforge = \"github:file/file\"\nrepo = \"{file}\"\n\
             [[upstream]]\nname = \"jpegxl-rs\"\nforge = \"github:inflation/jpegxl-rs\"\nrepo = \"{jx}\"\npackages = [\"rust-jpegxl-rs\"]\n",
            cache = dir.join("cache").display(),
            file = file_up.display(),
            jx = jx.display(),
        ));
    let v = scan_sync_git_report(&tree).await;
    let evidence = |package: &str| first_patch_evidence(&v, package);
    assert!(
        evidence("file").contains("first in FILE5_46"),
        "{}",
        evidence("file")
    );
    // Issue 27: when upstream released it, in the tagger's own zone; the lightweight tag of
    // the other upstream is dated by its commit.
    let patch_of = |package: &str| {
        v["packages"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == package))
            .map(|p| p["patches"][0].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        patch_of("file")["upstream_released_at"],
        "2024-11-27T10:00:00+02:00"
    );
    assert!(
        patch_of("rust-jpegxl-rs")["upstream_released_at"]
            .as_str()
            .is_some_and(|d| chrono::DateTime::parse_from_rfc3339(d).is_ok()),
        "{v:#}"
    );
    let jx_evidence = evidence("rust-jpegxl-rs");
    assert!(
        jx_evidence.contains("first in jpegxl-rs-v0.11.2"),
        "{jx_evidence}"
    );
    assert!(
        !jx_evidence.contains("jpegxl-sys") && !jx_evidence.contains("rc.1"),
        "{jx_evidence}"
    );
}

/// `scan`, `sync --source git` and the JSON report of `tree`.
async fn scan_sync_git_report(tree: &DistGit) -> Value {
    let d = tree.dir.clone();
    let report = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut all = vec!["--config", "forkdebt.toml"];
            all.extend_from_slice(args);
            forkdebt_ok(&d, &all)
        };
        run(&["scan"]);
        run(&["sync", "--source", "git"]);
        run(&["report", "--format", "json"])
    })
    .await
    .expect("scan and sync");
    serde_json::from_str(&report).expect("json")
}

/// The evidence of `package`'s first patch in a JSON report, as one string.
fn first_patch_evidence(v: &Value, package: &str) -> String {
    v["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == package))
        .map(|p| p["patches"][0]["evidence"].to_string())
        .unwrap_or_else(|| panic!("{package} in {v:#}"))
}

/// A pybind11-like upstream in `dir/pybind11`: `src/cast.h` and `src/pytypes.h`, tagged
/// v2.13.5 with its stable branch `v2.13`, on `master`.
fn pybind11_upstream(dir: &Path) -> std::path::PathBuf {
    let up = dir.join("pybind11");
    std::fs::create_dir_all(up.join("src")).expect("mkdir");
    git(&up, &["init", "-q", "-b", "master"]);
    for f in ["cast.h", "pytypes.h"] {
        std::fs::write(up.join("src").join(f), numbered(f)).expect("write");
    }
    git(&up, &["add", "."]);
    git(&up, &["commit", "-qm", "initial"]);
    git(&up, &["tag", "v2.13.5"]);
    git(&up, &["branch", "v2.13"]);
    up
}

/// On master: a fix (`src/cast.h`), then a feature no stable branch takes
/// (`src/pytypes.h`); their shas.
fn fix_and_feature(up: &Path) -> (String, String) {
    edit(up, "src/cast.h", &[(3, "gcc 14 fixed")]);
    let fix = commit(up, "fix: gcc 14 build");
    edit(up, "src/pytypes.h", &[(12, "not picked")]);
    (fix, commit(up, "feature: not for stable"))
}

/// A dist-git with pybind11 2.13.5 carrying upstream's commits `(file, sha)` as
/// format-patch files, and `up` as its `[[upstream]]` mirror; `base` names the downstream's
/// base distribution and `more` is appended to the configuration.
fn pybind11_tree(
    dir: &Path,
    up: &Path,
    carried: &[(&str, &str)],
    base: &str,
    more: &str,
) -> DistGit {
    let mut package = Package::new("pybind11")
        .version("2.13.5")
        .preamble("URL: https://github.com/pybind/pybind11");
    for (file, sha) in carried {
        let body = git(up, &["format-patch", "-1", "--stdout", sha]) + "\n";
        package = package.patch(file, &body);
    }
    DistGit::new(dir).package(package).config(&format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n{base}\n\
         [git]\ncache_dir = \"{cache}\"\n\
         [[upstream]]\nname = \"pybind11\"\nforge = \"github:pybind/pybind11\"\nrepo = \"{up}\"\n{more}",
        cache = dir.join("cache").display(),
        up = up.display(),
    ))
}

/// Issue 30 (2): a stable release that cherry-picked the fix (pybind11's v2.13.6 took
/// 51c2aa16 from master as 639ca6a7) drops the patch on a rebase to it, though the fix's
/// first release by ancestry is v3.0.0; with `-x` and without.
#[tokio::test(flavor = "multi_thread")]
async fn a_rebase_to_a_stable_release_that_cherry_picked_the_fix_drops_the_patch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let up = pybind11_upstream(&dir);
    // master: an unrelated change, then the two fixes, released in v3.0.0.
    edit(&up, "src/cast.h", &[(20, "master only")]);
    commit(&up, "master: something else");
    edit(&up, "src/cast.h", &[(3, "gcc 14 fixed")]);
    let fix_x = commit(&up, "fix: gcc 14 build");
    edit(&up, "src/pytypes.h", &[(7, "leak fixed")]);
    let fix_plain = commit(&up, "fix: a leak");
    edit(&up, "src/pytypes.h", &[(12, "not picked")]);
    let not_picked = commit(&up, "feature: not for stable");
    git(&up, &["tag", "v3.0.0"]);
    // v2.13: both fixes picked (one with -x), released as v2.13.6.
    git(&up, &["checkout", "-q", "v2.13"]);
    git(&up, &["cherry-pick", "-x", &fix_x]);
    let picked_x = git(&up, &["rev-parse", "HEAD"]);
    git(&up, &["cherry-pick", &fix_plain]);
    git(&up, &["tag", "v2.13.6"]);
    git(&up, &["checkout", "-q", "master"]);
    let tree = pybind11_tree(
        &dir,
        &up,
        &[
            ("0001-gcc14.patch", &fix_x),
            ("0002-leak.patch", &fix_plain),
            ("0003-feature.patch", &not_picked),
        ],
        "",
        "",
    );
    let d = tree.dir.clone();
    let said = tokio::task::spawn_blocking(move || {
        forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"]);
        forkdebt_ok(
            &d,
            &[
                "--config",
                "forkdebt.toml",
                "rebase-check",
                "pybind11",
                "2.13.6",
            ],
        )
    })
    .await
    .expect("rebase-check");
    assert!(
        said.contains(&format!(
            "0001-gcc14.patch: dropped by the rebase: upstream {} was cherry-picked into v2.13.6 as {} (same patch-id)",
            &fix_x[..12],
            &picked_x[..12]
        )) && said.contains("0002-leak.patch: dropped by the rebase")
            && said.contains(&format!(
                "0003-feature.patch: still needed: upstream {} is not in v2.13.6",
                &not_picked[..12]
            ))
            && said.contains("2 dropped by the rebase, 1 still needed, 0 unknown"),
        "{said}"
    );
}

/// Issue 30 (4): when upstream tags a new release (here a stable one, v2.13.6, that
/// cherry-picked one of the two fixes we carry), one event per package says which carried
/// patches a rebase to it drops; chat lines and the digest show it. The first look at the
/// project announces nothing, and a release is announced once.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_upstream_release_is_announced_with_the_patches_the_rebase_drops() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let up = pybind11_upstream(&dir);
    let (fix, feature) = fix_and_feature(&up);
    let tree = pybind11_tree(
        &dir,
        &up,
        &[
            ("0001-fixed-a-compilation.patch", &fix),
            ("0002-feature.patch", &feature),
        ],
        "",
        "",
    );
    let d = tree.dir.clone();
    let run = move |args: &[&str]| {
        let mut all = vec!["--config", "forkdebt.toml"];
        all.extend_from_slice(args);
        forkdebt_ok(&d, &all)
    };
    let (first, events_before) = {
        let run = run.clone();
        tokio::task::spawn_blocking(move || {
            run(&["scan"]);
            let first = run(&["sync", "--source", "git"]);
            (first, run(&["events"]))
        })
        .await
        .expect("first sync")
    };
    assert!(
        !events_before.contains("upstream released"),
        "the first look announces nothing: {first}\n{events_before}"
    );
    // Upstream releases 2.13.6 from the stable branch with the fix picked.
    git(&up, &["checkout", "-q", "v2.13"]);
    git(&up, &["cherry-pick", "-x", &fix]);
    git(&up, &["tag", "v2.13.6"]);
    git(&up, &["checkout", "-q", "master"]);
    let (events, again, digest, report, table) = tokio::task::spawn_blocking(move || {
        run(&["sync", "--source", "git"]);
        let events = run(&["events"]);
        run(&["sync", "--source", "git"]);
        let again = run(&["events"]);
        let digest = run(&["digest", "--dry-run", "--to", "team@example.org"]);
        let report = run(&["report", "--format", "json"]);
        let table = run(&["report"]);
        (events, again, digest, report, table)
    })
    .await
    .expect("second sync");
    let line = "hs pybind11 v2.13.6: - -> upstream-release (upstream released 2.13.6: it has 1 of 2 carried patches (0001-fixed-a-compilation.patch))";
    assert!(events.contains(line), "{events}");
    assert_eq!(events.matches("upstream released").count(), 1, "{events}");
    assert_eq!(again.matches("upstream released").count(), 1, "{again}");
    assert!(
        digest.contains("Upstream released (what a rebase to it drops):")
            && digest.contains("upstream released 2.13.6: it has 1 of 2 carried patches"),
        "{digest}"
    );
    // The report: the release, and what the rebase drops.
    let v: Value = serde_json::from_str(&report).expect("json");
    let release = &v["upstream_releases"][0];
    assert_eq!(release["package"], "pybind11", "{v:#}");
    assert_eq!(release["tag"], "v2.13.6");
    assert_eq!(release["version"], "2.13.6");
    assert_eq!(
        release["dropped_by_rebase"],
        serde_json::json!(["0001-fixed-a-compilation.patch"])
    );
    assert_eq!(release["carried"], 2);
    assert!(
        table.contains("Upstream released (what a rebase to it drops):")
            && table.contains("[hs] pybind11 v2.13.6: upstream released 2.13.6: it has 1 of 2"),
        "{table}"
    );
}

/// Issue 30 (2): the base ships the stable release v2.13.6, which cherry-picked the fix we
/// carry (with `-x`); its first release by ancestry is v3.0.0. The patch is droppable, with
/// the pick in its evidence; a change that stable release did not pick is not.
#[tokio::test(flavor = "multi_thread")]
async fn a_fix_cherry_picked_into_the_stable_release_the_base_ships_is_droppable() {
    use crate::httpd::{Reply, Request, Server};
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let up = pybind11_upstream(&dir);
    let (fix, feature) = fix_and_feature(&up);
    git(&up, &["tag", "v3.0.0"]);
    git(&up, &["checkout", "-q", "v2.13"]);
    git(&up, &["cherry-pick", "-x", &fix]);
    let picked = git(&up, &["rev-parse", "HEAD"]);
    git(&up, &["tag", "v2.13.6"]);
    git(&up, &["checkout", "-q", "master"]);
    // The base's compose ships pybind11 2.13.6.
    let shipped = crate::util::primary("pybind11", "2.13.6", "1.el9");
    let server = Server::start(std::sync::Arc::new(move |req: &Request| {
        match req.path.as_str() {
            "/compose/repodata/repomd.xml" => Reply::json(
                b"<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision>\
                  <data type=\"primary\"><location href=\"repodata/p-primary.xml.gz\"/></data></repomd>"
                    .to_vec(),
            ),
            "/compose/repodata/p-primary.xml.gz" => Reply::json(shipped.clone()),
            _ => Reply::status(404, &[], "not found"),
        }
    }))
    .await;
    let tree = pybind11_tree(
        &dir,
        &up,
        &[("0001-gcc14.patch", &fix), ("0002-feature.patch", &feature)],
        "base = \"c9s\"",
        &format!(
            "[[distro]]\nname = \"c9s\"\nrepodata_url = \"{url}/compose\"\n",
            url = server.url
        ),
    );
    let d = tree.dir.clone();
    let report = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut all = vec!["--config", "forkdebt.toml"];
            all.extend_from_slice(args);
            forkdebt_ok(&d, &all)
        };
        run(&["scan"]);
        run(&["sync", "--source", "git", "--source", "repodata"]);
        run(&["report", "--format", "json"])
    })
    .await
    .expect("sync");
    let v: Value = serde_json::from_str(&report).expect("json");
    let patch = |file: &str| {
        v["packages"][0]["patches"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["file"] == file))
            .cloned()
            .unwrap_or_else(|| panic!("{file} in {v:#}"))
    };
    let fixed = patch("0001-gcc14.patch");
    assert_eq!(fixed["state"], "droppable", "{fixed:#}");
    let evidence = fixed["evidence"].to_string();
    assert!(
        evidence.contains(&format!(
            "cherry-picked into v2.13.6 as {} (same patch-id)",
            &picked[..12]
        )) && evidence.contains("c9s ships pybind11-2.13.6-1.el9"),
        "{evidence}"
    );
    let other = patch("0002-feature.patch");
    assert_ne!(other["state"], "droppable", "{other:#}");
}

/// Issue 30 (1), more real shapes, none with `release_tags`: alembic's `rel_1_14_1`, a
/// project tagging `YYYY-MM-DD-Release-X` with a `-Development-…-beta` tag holding the fix in
/// between (a pre-release is never the first release), and a `.postN` release.
#[tokio::test(flavor = "multi_thread")]
async fn underscored_dated_and_post_release_tags_are_read_without_a_pattern() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    // (repository, tags before the fix, tags after it in order, package, its version)
    type Shape<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a str, &'a str);
    let shapes: [Shape<'_>; 3] = [
        (
            "alembic",
            &["rel_1_14_0"],
            &["rel_1_14_1"],
            "python-alembic",
            "1.14.0",
        ),
        (
            "gsl",
            &["2024-01-10-Release-2.9.0"],
            &[
                "2024-06-16-Development-2.9.1-beta",
                "2025-02-10-Release-2.10.0",
            ],
            "gsl",
            "2.9.0",
        ),
        ("tool", &["1.3.0"], &["1.3.0.post6"], "python-tool", "1.3.0"),
    ];
    let mut tree = DistGit::new(&dir);
    let mut config = format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\n[git]\ncache_dir = \"{}\"\n",
        dir.join("cache").display()
    );
    for (repo, before, after, package, version) in shapes {
        let up = dir.join(repo);
        std::fs::create_dir_all(up.join("src")).expect("mkdir");
        git(&up, &["init", "-q"]);
        std::fs::write(up.join("src/main.c"), numbered("main.c")).expect("write");
        git(&up, &["add", "."]);
        git(&up, &["commit", "-qm", "initial"]);
        for t in before {
            git(&up, &["tag", t]);
        }
        edit(&up, "src/main.c", &[(5, "fixed")]);
        let fix = commit(&up, "fix a crash");
        for (i, t) in after.iter().enumerate() {
            if i > 0 {
                git(&up, &["commit", "-q", "--allow-empty", "-m", "release"]);
            }
            git(&up, &["tag", t]);
        }
        let body = git(&up, &["format-patch", "-1", "--stdout", &fix]) + "\n";
        tree = tree.package(
            Package::new(package)
                .version(version)
                .preamble(&format!("URL: https://github.com/upstream/{repo}"))
                .patch("0001-fix-a-crash.patch", &body),
        );
        config.push_str(&format!(
            "[[upstream]]\nname = \"{repo}\"\nforge = \"github:upstream/{repo}\"\nrepo = \"{}\"\npackages = [\"{package}\"]\n",
            up.display()
        ));
    }
    let tree = tree.config(&config);
    let v = scan_sync_git_report(&tree).await;
    let evidence = |package: &str| first_patch_evidence(&v, package);
    for (package, first) in [
        ("python-alembic", "first in rel_1_14_1 (read as 1.14.1)"),
        ("gsl", "first in 2025-02-10-Release-2.10.0"),
        ("python-tool", "first in 1.3.0.post6"),
    ] {
        let e = evidence(package);
        assert!(e.contains(first), "{package}: {e}");
        assert!(!e.contains("Development"), "{package}: {e}");
    }
}
