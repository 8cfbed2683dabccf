//! The base distribution as upstream (issue 25): its own fork of upstream (a source-git
//! tagged per build, as CentOS Stream's systemd is) took some of the changes we carry. Ours
//! become droppable when the base ships the build that has them, not before; a change the
//! base never took stays ours.

use crate::basedistro::xmlrpc_reply;
use crate::builder::{DistGit, Package};
use crate::httpd::{Handler, Reply, Request, Server};
use crate::recognition::{commit, edit, git, numbered};
use crate::util::forkdebt_ok;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A Koji hub whose latest `systemd` build in every tag is `252-<release>.el9` (the recorded
/// build's shape, its name and numbers set here).
pub(crate) fn koji(release: Arc<AtomicU32>) -> Handler {
    let recorded: Vec<Value> =
        serde_json::from_slice(
            &std::fs::read(crate::util::repo_root().join(
                "../shared/fixtures/koji/reserialized/listTagged_f29-build_latest_inherit.json",
            ))
            .expect("fixture"),
        )
        .expect("json");
    Arc::new(move |req: &Request| {
        if req.path != "/kojihub" {
            return Reply::status(404, &[], "not found");
        }
        let body = String::from_utf8_lossy(&req.body);
        let results: Vec<Value> = body
            .split("<name>package</name><value><string>")
            .skip(1)
            .map(|rest| {
                let pkg = rest.split('<').next().unwrap_or_default();
                let mut found = Vec::new();
                if pkg == "systemd" {
                    let r = release.load(Ordering::SeqCst);
                    let mut b = recorded[0].clone();
                    b["name"] = "systemd".into();
                    b["package_name"] = "systemd".into();
                    b["version"] = "252".into();
                    b["release"] = format!("{r}.el9").into();
                    b["nvr"] = format!("systemd-252-{r}.el9").into();
                    found.push(b);
                }
                Value::Array(vec![Value::Array(found)])
            })
            .collect();
        xmlrpc_reply(&Value::Array(results))
    })
}

/// Upstream systemd: v252, then fixes a, b, c, then v253.
fn upstream(root: &Path) -> (std::path::PathBuf, [String; 3]) {
    let up = root.join("upstream");
    std::fs::create_dir_all(up.join("src")).expect("mkdir");
    git(&up, &["init", "-q", "-b", "main"]);
    for f in ["a.c", "b.c", "c.c"] {
        std::fs::write(up.join("src").join(f), numbered(f)).expect("write");
    }
    git(&up, &["add", "."]);
    git(&up, &["commit", "-qm", "initial"]);
    git(&up, &["tag", "v252"]);
    edit(&up, "src/a.c", &[(5, "a fixed")]);
    let a = commit(&up, "core: fix a");
    edit(&up, "src/b.c", &[(9, "b fixed")]);
    let b = commit(&up, "udev: fix b");
    edit(&up, "src/c.c", &[(12, "c fixed")]);
    let c = commit(&up, "shared: fix c");
    git(&up, &["tag", "v253"]);
    (up, [a, b, c])
}

/// The base's source-git: v252 plus cherry-picks, one build tag per build.
fn base_fork(root: &Path, up: &Path, a: &str, b: &str) -> (std::path::PathBuf, String) {
    let fork = root.join("systemd-rhel9");
    git(
        root,
        &["clone", "-q", &up.display().to_string(), "systemd-rhel9"],
    );
    git(&fork, &["checkout", "-q", "-B", "main", "v252"]);
    git(&fork, &["tag", "v252-1"]);
    // a with its trailer, and the RHEL issue it resolves.
    git(&fork, &["cherry-pick", "-x", a]);
    let message = git(&fork, &["log", "-1", "--format=%B"]);
    git(
        &fork,
        &[
            "commit",
            "-q",
            "--amend",
            "-m",
            &format!("{message}\n\nResolves: RHEL-12345"),
        ],
    );
    let picked_a = git(&fork, &["rev-parse", "HEAD"]);
    git(&fork, &["tag", "v252-2"]);
    // b picked without a trailer: only its content says what it is.
    git(&fork, &["cherry-pick", b]);
    git(&fork, &["tag", "v252-3"]);
    (fork, picked_a)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_the_base_took_is_droppable_once_the_base_ships_that_build() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let (up, [a, b, c]) = upstream(&dir);
    let (fork, picked_a) = base_fork(&dir, &up, &a, &b);
    let release = Arc::new(AtomicU32::new(2));
    let server = Server::start(koji(release.clone())).await;

    let formatted_a = git(&up, &["format-patch", "-1", "--stdout", &a]);
    let diff = |sha: &str| git(&up, &["diff", &format!("{sha}^"), sha]) + "\n";
    let pkg = Package::new("systemd")
        .version("252")
        .release("1.hs")
        .preamble("URL: https://github.com/systemd/systemd")
        .patch("0001-core-fix-a.patch", &format!("{formatted_a}\n"))
        .patch("0002-udev-fix-b.patch", &diff(&b))
        .patch("0003-shared-fix-c.patch", &diff(&c));
    let tree = DistGit::new(&dir).package(pkg).config(&format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n\
         [[distro]]\nname = \"c9s\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"c9s-candidate\"\n\
         [git]\ncache_dir = \"{cache}\"\n\
         [[upstream]]\nname = \"systemd\"\nforge = \"github:systemd/systemd\"\nrepo = \"{up}\"\nrelease_tags = '^v(\\d+)$'\n\
         [[fork]]\nname = \"systemd-c9s\"\ndistro = \"c9s\"\npackage = \"systemd\"\nrepo = \"{fork}\"\n\
         branches = [\"main\"]\nupstream = \"systemd\"\nrelease_tags = '^v252-(\\d+)$'\n",
        url = server.url,
        cache = dir.join("cache").display(),
        up = up.display(),
        fork = fork.display(),
    ));
    let d = tree.dir.clone();
    let run = move |args: Vec<&'static str>| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all = vec!["--config", "forkdebt.toml"];
                all.extend(args);
                forkdebt_ok(&d, &all)
            })
            .await
            .expect("join")
        }
    };
    run(vec!["scan"]).await;
    let synced = run(vec!["sync", "--source", "base-fork", "--source", "koji"]).await;
    assert!(synced.contains("base-fork"), "{synced}");
    let report = |json: String| -> Vec<Value> {
        let v: Value = serde_json::from_str(&json).expect("json");
        v["packages"][0]["patches"]
            .as_array()
            .expect("patches")
            .clone()
    };
    let patch = |patches: &[Value], prefix: &str| -> Value {
        patches
            .iter()
            .find(|p| p["file"].as_str().is_some_and(|f| f.starts_with(prefix)))
            .unwrap_or_else(|| panic!("{prefix} in {patches:#?}"))
            .clone()
    };
    let patches = report(run(vec!["report", "--format", "json"]).await);

    // a: the base carries it (trailer) from build 252-2, which it ships.
    let p = patch(&patches, "0001-");
    assert_eq!(p["state"], "droppable", "{p:#}");
    let evidence = p["evidence"].to_string();
    assert!(
        evidence.contains(&format!(
            "c9s carries upstream {} as {} (Resolves: RHEL-12345), first in v252-2",
            &a[..12],
            &picked_a[..12]
        )),
        "{p:#}"
    );
    assert!(evidence.contains("c9s ships systemd-252-2.el9"), "{p:#}");
    // b: taken without a trailer (content), built in 252-3, not shipped yet.
    let p = patch(&patches, "0002-");
    assert_ne!(p["state"], "droppable", "{p:#}");
    assert!(
        p["evidence"]
            .to_string()
            .contains("coming in 252-3 (built, not shipped: c9s ships systemd-252-2.el9)"),
        "{p:#}"
    );
    // c: upstream has it (v253), the base never took it: ours to carry.
    let p = patch(&patches, "0003-");
    assert_ne!(p["state"], "droppable", "{p:#}");
    assert!(!p["evidence"].to_string().contains("c9s carries"), "{p:#}");

    // The base ships 252-3: b is droppable now, c still is not.
    release.store(3, Ordering::SeqCst);
    run(vec!["sync", "--source", "koji"]).await;
    let patches = report(run(vec!["report", "--format", "json"]).await);
    let p = patch(&patches, "0002-");
    assert_eq!(p["state"], "droppable", "{p:#}");
    assert!(
        p["evidence"]
            .to_string()
            .contains(&format!("c9s carries upstream {} as", &b[..12])),
        "{p:#}"
    );
    assert_ne!(patch(&patches, "0003-")["state"], "droppable");

    // Nothing moved: the fork is not read again.
    let again = run(vec!["sync", "--source", "base-fork"]).await;
    assert!(again.contains("base-fork    0 items"), "{again}");
    // The base takes c in a new build: read again, c is coming in 252-4.
    git(&fork, &["cherry-pick", "-x", &c]);
    git(&fork, &["tag", "v252-4"]);
    let again = run(vec!["sync", "--source", "base-fork"]).await;
    assert!(again.contains("base-fork    3 items"), "{again}");
    let patches = report(run(vec!["report", "--format", "json"]).await);
    let p = patch(&patches, "0003-");
    assert!(
        p["evidence"]
            .to_string()
            .contains("coming in 252-4 (built, not shipped: c9s ships systemd-252-3.el9)"),
        "{p:#}"
    );
}

/// A Red Hat Jira server answering the documented REST shapes: a search of `key in (...)`
/// (400 for the whole search when one key does not exist, as Jira does), and single issues.
pub(crate) fn jira() -> Handler {
    let issue = |key: &str| {
        serde_json::json!({
            "key": key,
            "fields": {
                "status": {"name": "Closed"},
                "resolution": {"name": "Done-Errata"},
                "fixVersions": [{"name": "rhel-9.4.0"}],
                "updated": "2024-02-01T10:00:00.000+0000",
                "customfield_12318450": "systemd-252-23.el9"
            }
        })
    };
    Arc::new(move |req: &Request| {
        if req.path == "/rest/api/2/search" {
            if req.query.contains("RHEL-404") {
                return Reply::status(
                    400,
                    &[("Content-Type", "application/json")],
                    r#"{"errorMessages":["An issue with key 'RHEL-404' does not exist for field 'key'."],"errors":{}}"#,
                );
            }
            return Reply::json(
                serde_json::to_vec(&serde_json::json!({"issues": [issue("RHEL-12345")]}))
                    .expect("json"),
            );
        }
        match req.path.strip_prefix("/rest/api/2/issue/") {
            Some("RHEL-12345") => {
                Reply::json(serde_json::to_vec(&issue("RHEL-12345")).expect("json"))
            }
            _ => Reply::status(
                404,
                &[("Content-Type", "application/json")],
                r#"{"errorMessages":["Issue Does Not Exist"],"errors":{}}"#,
            ),
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jira_issue_fixed_in_a_build_the_base_ships_makes_its_patch_droppable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let release = Arc::new(AtomicU32::new(40));
    let koji = koji(release.clone());
    let jira = jira();
    let server = Server::start(Arc::new(move |req: &Request| {
        if req.path.starts_with("/rest/") {
            jira(req)
        } else {
            koji(req)
        }
    }))
    .await;
    let diff = "--- a/src/a.c\n+++ b/src/a.c\n@@ -1 +1 @@\n-a\n+b\n";
    let pkg = Package::new("systemd")
        .version("252")
        .release("1.hs")
        .commented_patch("Resolves: RHEL-12345", "0001-fix.patch", diff)
        .commented_patch(
            "https://issues.redhat.com/browse/RHEL-404",
            "0002-gone.patch",
            diff,
        );
    let tree = DistGit::new(&dir).package(pkg).config(&format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n\
         [[distro]]\nname = \"c9s\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"c9s-candidate\"\n\
         [sources.jira]\nurl = \"{url}\"\n",
        url = server.url,
    ));
    let d = tree.dir.clone();
    let (synced, report) = tokio::task::spawn_blocking(move || {
        forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"]);
        let synced = forkdebt_ok(
            &d,
            &[
                "--config",
                "forkdebt.toml",
                "sync",
                "--source",
                "jira",
                "--source",
                "koji",
            ],
        );
        let report = forkdebt_ok(
            &d,
            &["--config", "forkdebt.toml", "report", "--format", "json"],
        );
        (synced, report)
    })
    .await
    .expect("join");
    // One search for both, then issue by issue after Jira refused it: 1 + 2 requests.
    assert!(
        synced.contains("jira         2 items, 3 requests, 0 not modified, 1 item errors"),
        "{synced}"
    );
    let v: Value = serde_json::from_str(&report).expect("json");
    let patches = v["packages"][0]["patches"]
        .as_array()
        .expect("patches")
        .clone();
    let p = patches
        .iter()
        .find(|p| p["file"] == "0001-fix.patch")
        .expect("0001");
    assert_eq!(p["state"], "droppable", "{p:#}");
    let evidence = p["evidence"].to_string();
    assert!(
        evidence.contains("bug RHEL-12345 is CLOSED ERRATA")
            && evidence.contains("fixed in 252-23.el9")
            && evidence.contains("c9s ships systemd-252-40.el9"),
        "{p:#}"
    );
    let p = patches
        .iter()
        .find(|p| p["file"] == "0002-gone.patch")
        .expect("0002");
    assert_ne!(p["state"], "droppable", "{p:#}");
}

/// What the downstream itself ships (CBS tags): reported beside the dist-git head, and a
/// patch dropped from dist-git after the shipped build was made is still shipped.
#[tokio::test(flavor = "multi_thread")]
async fn what_the_downstream_ships_is_reported_and_a_dropped_patch_still_ships() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let server = Server::start(koji(Arc::new(AtomicU32::new(40)))).await;
    let diff = "--- a/src/a.c\n+++ b/src/a.c\n@@ -1 +1 @@\n-a\n+b\n";
    let config = format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbranch = \"c9s-hs\"\n\
         koji_url = \"{url}/kojihub\"\ntags = [\"hyperscale9s-packages-main-release\"]\n",
        url = server.url,
    );
    let tree = DistGit::new(&dir)
        .package(
            Package::new("systemd")
                .version("252")
                .release("41.hs.el9")
                .patch("0001-keep.patch", diff)
                .patch("0002-gone.patch", diff),
        )
        .config(&config);
    let d = tree.dir.clone();
    let report = tokio::task::spawn_blocking(move || {
        forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"]);
        let synced = forkdebt_ok(
            &d,
            &[
                "--config",
                "forkdebt.toml",
                "sync",
                "--source",
                "downstream-koji",
            ],
        );
        assert!(
            synced.contains("downstream-koji 1 items, 1 requests"),
            "{synced}"
        );
        // The head drops 0002; CBS still ships 252-40.
        DistGit::new(&d).package(
            Package::new("systemd")
                .version("252")
                .release("42.hs.el9")
                .patch("0001-keep.patch", diff),
        );
        forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"]);
        let shown = forkdebt_ok(&d, &["--config", "forkdebt.toml", "show", "systemd"]);
        assert!(
            shown.contains("  shipped: systemd-252-40.el9 (hyperscale9s-packages-main-release)")
                && shown.contains("  dropped in dist-git but still shipped: 0002-gone.patch"),
            "{shown}"
        );
        forkdebt_ok(
            &d,
            &["--config", "forkdebt.toml", "report", "--format", "json"],
        )
    })
    .await
    .expect("join");
    let v: Value = serde_json::from_str(&report).expect("json");
    let p = &v["packages"][0];
    assert_eq!(p["shipped"][0]["nvr"], "systemd-252-40.el9", "{p:#}");
    assert_eq!(
        p["shipped"][0]["tag"], "hyperscale9s-packages-main-release",
        "{p:#}"
    );
    assert_eq!(
        p["dropped_but_shipped"],
        serde_json::json!(["0002-gone.patch"]),
        "{p:#}"
    );
}

/// A CentOS Stream merge request (gitlab.com/redhat/centos-stream/rpms/PKG): merged, then the
/// first Koji build whose source commit contains the merge, then whether the base ships it.
#[tokio::test(flavor = "multi_thread")]
async fn a_base_merge_request_is_followed_to_its_first_build_and_what_ships() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    // The base's dist-git of systemd: a build from `before`, the MR's merge, builds after.
    let forge = dir.join("forge");
    let distgit = forge.join("redhat/centos-stream/rpms/systemd.git");
    std::fs::create_dir_all(&distgit).expect("mkdir");
    git(&distgit, &["init", "-q", "-b", "c9s"]);
    std::fs::write(distgit.join("systemd.spec"), numbered("spec")).expect("write");
    git(&distgit, &["add", "."]);
    git(&distgit, &["commit", "-qm", "252-1"]);
    let before = git(&distgit, &["rev-parse", "HEAD"]);
    edit(&distgit, "systemd.spec", &[(3, "Patch9: fix.patch")]);
    let merge = commit(&distgit, "Merge branch 'fix' into 'c9s'");
    edit(&distgit, "systemd.spec", &[(4, "Release: 2")]);
    let built = commit(&distgit, "252-2");

    let recorded_build: Value = serde_json::from_slice(
        &std::fs::read(crate::util::repo_root().join(
            "../shared/fixtures/koji/reserialized/getBuild_gumbo-parser-0.10.1-22.fc35.json",
        ))
        .expect("fixture"),
    )
    .expect("json");
    let build = move |release: u32, source: Option<&str>| {
        let mut b = recorded_build.clone();
        b["name"] = "systemd".into();
        b["package_name"] = "systemd".into();
        b["epoch"] = Value::Null;
        b["version"] = "252".into();
        b["release"] = format!("{release}.el9").into();
        b["nvr"] = format!("systemd-252-{release}.el9").into();
        match source {
            Some(sha) => {
                b["source"] =
                    format!("git+https://gitlab.com/redhat/centos-stream/rpms/systemd#{sha}")
                        .into();
            }
            None => {
                b.as_object_mut().map(|o| o.remove("source"));
                b.as_object_mut().map(|o| o.remove("extra"));
            }
        }
        b
    };
    let (before2, built2) = (before.clone(), built.clone());
    let mut mr: Value = serde_json::from_slice(
        &std::fs::read(
            crate::util::repo_root()
                .join("../shared/fixtures/gitlab/gitlab_com_mr_gitlab-ee_14656.json"),
        )
        .expect("fixture"),
    )
    .expect("json");
    mr["iid"] = Value::from(7);
    mr["state"] = "merged".into();
    mr["merged_at"] = "2024-03-01T10:00:00.000Z".into();
    mr["merge_commit_sha"] = merge.clone().into();
    let mr = serde_json::to_vec(&mr).expect("json");
    // The base's production compose ships 252-3 (its source repodata).
    let shipped = crate::util::primary("systemd", "252", "3.el9");
    let server = Server::start(Arc::new(move |req: &Request| {
        if req.path.ends_with("/merge_requests/7") {
            return Reply::json(mr.clone());
        }
        match req.path.as_str() {
            "/compose/repodata/repomd.xml" => {
                return Reply::json(
                    b"<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision>\
                      <data type=\"primary\"><location href=\"repodata/p-primary.xml.gz\"/></data></repomd>"
                        .to_vec(),
                );
            }
            "/compose/repodata/p-primary.xml.gz" => return Reply::json(shipped.clone()),
            _ => {}
        }
        if req.path != "/kojihub" {
            return Reply::status(404, &[], "not found");
        }
        let body = String::from_utf8_lossy(&req.body).to_string();
        let answer = if body.contains("<string>listTagged</string>") {
            // One multiCall result: 252-2 without its source (an older hub's listTagged),
            // asked with getBuild.
            Value::Array(vec![Value::Array(vec![Value::Array(vec![
                build(1, Some(&before2)),
                build(2, None),
                build(3, Some(&built2)),
            ])])])
        } else if body.contains("<string>getBuild</string>") {
            Value::Array(vec![Value::Array(vec![build(2, Some(&built2))])])
        } else {
            return Reply::status(400, &[], "only listTagged and getBuild are asked");
        };
        xmlrpc_reply(&answer)
    }))
    .await;
    let pkg = Package::new("systemd")
        .version("252")
        .release("1.hs")
        .commented_patch(
            "https://gitlab.com/redhat/centos-stream/rpms/systemd/-/merge_requests/7",
            "0001-fix.patch",
            "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        );
    let tree = DistGit::new(&dir).package(pkg).config(&format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n\
         [[distro]]\nname = \"c9s\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"c9s-candidate\"\nrepodata_url = \"{url}/compose\"\n\
         [distro.distgit]\nforge = \"gitlab\"\nurl = \"{forge}\"\ngroup = \"redhat/centos-stream/rpms\"\nbranch = \"c9s\"\n\
         [git]\ncache_dir = \"{cache}\"\n\
         [sources.gitlab]\nurl = \"{url}\"\n",
        url = server.url,
        forge = forge.display(),
        cache = dir.join("cache").display(),
    ));
    let d = tree.dir.clone();
    let report = tokio::task::spawn_blocking(move || {
        forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"]);
        let synced = forkdebt_ok(
            &d,
            &[
                "--config",
                "forkdebt.toml",
                "sync",
                "--source",
                "gitlab",
                "--source",
                "base-builds",
                "--source",
                "repodata",
            ],
        );
        // One listTagged multiCall, one getBuild multiCall, the dist-git fetch.
        assert!(
            synced.contains("base-builds  1 items, 3 requests"),
            "{synced}"
        );
        forkdebt_ok(
            &d,
            &["--config", "forkdebt.toml", "report", "--format", "json"],
        )
    })
    .await
    .expect("join");
    let v: Value = serde_json::from_str(&report).expect("json");
    let p = &v["packages"][0]["patches"][0];
    assert_eq!(p["state"], "droppable", "{p:#}");
    let evidence = p["evidence"].to_string();
    assert!(
        evidence.contains(&format!("merged as {}", &merge[..7]))
            && evidence.contains("first built in systemd-252-2.el9")
            && evidence.contains("c9s ships systemd-252-3.el9 >= 252-2.el9"),
        "{p:#}"
    );
}

/// A patch we carried first that the base's dist-git added later (no source-git): ours, and
/// droppable once the base ships the first build made from the commit that added it. A patch
/// the base had before us stays inherited; one it never took stays ours to carry.
#[tokio::test(flavor = "multi_thread")]
async fn a_patch_the_base_took_after_us_is_ours_until_the_base_ships_it() {
    use crate::util::git_env;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let hunk = |file: &str, at: usize, old: &str, new: &str, subject: &str| {
        format!(
            "From: Dev <dev@example.org>\nSubject: [PATCH] {subject}\n\n---\n--- a/{file}\n+++ b/{file}\n\
             @@ -{at},3 +{at},3 @@\n context above\n-{old}\n+{new}\n context below\n"
        )
    };
    let dated = |repo: &Path, message: &str, when: &str| {
        git_env(repo, &["add", "."], &[]);
        git_env(
            repo,
            &["commit", "-qm", message],
            &[("GIT_AUTHOR_DATE", when), ("GIT_COMMITTER_DATE", when)],
        );
        git_env(repo, &["rev-parse", "HEAD"], &[])
    };
    let base_spec = |release: u32, patches: &[&str]| {
        let mut s = format!(
            "Name: hello\nVersion: 1.0\nRelease: {release}%{{?dist}}\nSummary: s\nLicense: MIT\nURL: https://example.org/hello\n"
        );
        for (i, p) in patches.iter().enumerate() {
            s.push_str(&format!("Patch{}: {p}\n", i + 1));
        }
        s + "\n%description\nd\n\n%prep\n%autosetup -p1\n"
    };

    // The base's dist-git (c9s): the "theirs" patch since 2023, the fix added in March 2024
    // (a +0200 committer), a later build without changes.
    let base = dir.join("forge/redhat/centos-stream/rpms/hello.git");
    std::fs::create_dir_all(&base).expect("mkdir");
    git(&base, &["init", "-q", "-b", "c9s"]);
    std::fs::write(
        base.join("hello-theirs.patch"),
        hunk("src/io.c", 40, "read", "read_all", "io: read all"),
    )
    .expect("write");
    std::fs::write(
        base.join("hello.spec"),
        base_spec(1, &["hello-theirs.patch"]),
    )
    .expect("write");
    let first = dated(&base, "1.0-1", "2023-12-01T10:00:00+0200");
    std::fs::write(
        base.join("hello-fix.patch"),
        hunk("src/main.c", 12, "exit(1)", "exit(0)", "main: exit cleanly"),
    )
    .expect("write");
    std::fs::write(
        base.join("hello.spec"),
        base_spec(2, &["hello-theirs.patch", "hello-fix.patch"]),
    )
    .expect("write");
    let took = dated(
        &base,
        "1.0-2: take the exit fix",
        "2024-03-01T10:00:00+0200",
    );
    std::fs::write(
        base.join("hello.spec"),
        base_spec(3, &["hello-theirs.patch", "hello-fix.patch"]),
    )
    .expect("write");
    let later = dated(&base, "1.0-3", "2024-05-01T10:00:00+0200");

    // Ours: the fix since January 2024 (a -0800 committer, other line numbers and header),
    // theirs, and one of our own.
    let pkg = Package::new("hello")
        .version("1.0")
        .release("1.hs")
        .patch(
            "0001-exit-cleanly.patch",
            &hunk("src/main.c", 15, "exit(1)", "exit(0)", "Exit cleanly"),
        )
        .patch(
            "0002-read-all.patch",
            &hunk("src/io.c", 40, "read", "read_all", "io: read all"),
        )
        .patch(
            "0003-our-default.patch",
            &hunk("src/conf.c", 3, "default 1", "default 2", "hs: our default"),
        );
    let tree = DistGit::new(&dir).package(pkg);
    git(&tree.repo, &["init", "-q"]);
    dated(&tree.repo, "hello for hs", "2024-01-10T09:00:00-0800");

    // Koji: one build per base commit; the compose ships 1.0-1, then 1.0-2.
    let recorded_build: Value = serde_json::from_slice(
        &std::fs::read(crate::util::repo_root().join(
            "../shared/fixtures/koji/reserialized/getBuild_gumbo-parser-0.10.1-22.fc35.json",
        ))
        .expect("fixture"),
    )
    .expect("json");
    let builds: Vec<Value> = [(1, &first), (2, &took), (3, &later)]
        .iter()
        .map(|(release, sha)| {
            let mut b = recorded_build.clone();
            b["name"] = "hello".into();
            b["package_name"] = "hello".into();
            b["epoch"] = Value::Null;
            b["version"] = "1.0".into();
            b["release"] = format!("{release}.el9").into();
            b["nvr"] = format!("hello-1.0-{release}.el9").into();
            b["source"] =
                format!("git+https://gitlab.com/redhat/centos-stream/rpms/hello#{sha}").into();
            b
        })
        .collect();
    let shipped = Arc::new(AtomicU32::new(1));
    let ships = shipped.clone();
    let server = Server::start(Arc::new(move |req: &Request| {
        let release = ships.load(Ordering::SeqCst);
        match req.path.as_str() {
            "/compose/repodata/repomd.xml" => Reply::json(
                format!(
                    "<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>{release}</revision>\
                     <data type=\"primary\"><location href=\"repodata/{release}-primary.xml.gz\"/></data></repomd>"
                )
                .into_bytes(),
            ),
            p if p == format!("/compose/repodata/{release}-primary.xml.gz") => {
                Reply::json(crate::util::primary("hello", "1.0", &format!("{release}.el9")))
            }
            "/kojihub" if String::from_utf8_lossy(&req.body).contains("<string>listTagged</string>") => {
                let answer = Value::Array(vec![Value::Array(vec![Value::Array(builds.clone())])]);
                xmlrpc_reply(&answer)
            }
            _ => Reply::status(404, &[], "not found"),
        }
    }))
    .await;
    let tree = tree.config(&format!(
        "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n\
         [[distro]]\nname = \"c9s\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"c9s-candidate\"\nrepodata_url = \"{url}/compose\"\n\
         [distro.distgit]\nforge = \"gitlab\"\nurl = \"{forge}\"\ngroup = \"redhat/centos-stream/rpms\"\nbranch = \"c9s\"\n\
         [git]\ncache_dir = \"{cache}\"\n",
        url = server.url,
        forge = dir.join("forge").display(),
        cache = dir.join("cache").display(),
    ));
    let d = tree.dir.clone();
    let run = move |args: Vec<&'static str>| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all = vec!["--config", "forkdebt.toml"];
                all.extend(args);
                forkdebt_ok(&d, &all)
            })
            .await
            .expect("join")
        }
    };
    let scanned = run(vec!["scan"]).await;
    assert!(
        scanned.contains("1 patches are the base distribution's or Fedora's, not ours"),
        "{scanned}"
    );
    let patches = || async {
        let v: Value =
            serde_json::from_str(&run(vec!["report", "--format", "json"]).await).expect("json");
        let list = v["packages"][0]["patches"]
            .as_array()
            .expect("patches")
            .clone();
        move |prefix: &str| -> Value {
            list.iter()
                .find(|p| p["file"].as_str().is_some_and(|f| f.starts_with(prefix)))
                .unwrap_or_else(|| panic!("{prefix} in {list:#?}"))
                .clone()
        }
    };
    let patch = patches().await;
    let fix = patch("0001-");
    assert_eq!(fix["origin"], "ours", "{fix:#}");
    assert_eq!(
        fix["origin_detail"],
        format!(
            "c9s took it after us as hello-fix.patch (branch c9s, commit {})",
            &took[..7]
        ),
        "{fix:#}"
    );
    assert_eq!(patch("0002-")["origin"], "inherited");
    assert_eq!(patch("0003-")["origin"], "ours");
    assert!(patch("0003-")["origin_detail"].is_null());

    // Built in 1.0-2, but the compose ships 1.0-1: coming, not droppable.
    let synced = run(vec![
        "sync",
        "--source",
        "base-builds",
        "--source",
        "repodata",
    ])
    .await;
    assert!(synced.contains("base-builds  1 items"), "{synced}");
    let patch = patches().await;
    let fix = patch("0001-");
    assert_ne!(fix["state"], "droppable", "{fix:#}");
    assert!(
        fix["evidence"]
            .to_string()
            .contains("coming in 1.0-2.el9 (built, not shipped: c9s ships hello-1.0-1.el9)"),
        "{fix:#}"
    );

    // The compose ships 1.0-2: droppable, with the chain from the base's commit.
    shipped.store(2, Ordering::SeqCst);
    run(vec!["sync", "--source", "repodata"]).await;
    let patch = patches().await;
    let fix = patch("0001-");
    assert_eq!(fix["state"], "droppable", "{fix:#}");
    let evidence = fix["evidence"].to_string();
    assert!(
        evidence.contains(&format!(
            "c9s took it after us as hello-fix.patch in dist-git commit {}",
            &took[..12]
        )) && evidence.contains("first built in hello-1.0-2.el9")
            && evidence.contains("c9s ships hello-1.0-2.el9 >= 1.0-2.el9"),
        "{fix:#}"
    );
    assert_ne!(patch("0003-")["state"], "droppable");
    // Found once: the first build is not asked again.
    let again = run(vec!["sync", "--source", "base-builds"]).await;
    assert!(again.contains("base-builds  0 items"), "{again}");
}
