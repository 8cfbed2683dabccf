//! `scan --history`: carried patches per package over a git repository's first-parent history.

use crate::util::{forkdebt_ok, git};
use forkdebt_core::store::Store;
use std::fs;
use std::path::Path;

fn spec(patches: &[&str]) -> String {
    let mut s = String::from("Name: demo\nVersion: 1.0\nRelease: 1.hs\n");
    for (i, p) in patches.iter().enumerate() {
        s.push_str(&format!("Patch{i}: {p}\n"));
    }
    s
}

fn commit(repo: &Path, date: &str, patches: &[&str], msg: &str) {
    fs::write(repo.join("rpms/demo/demo.spec"), spec(patches)).expect("write");
    for p in patches {
        fs::write(
            repo.join("rpms/demo").join(p),
            "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        )
        .expect("write");
    }
    git(repo, &["add", "-A"]);
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.org",
            "commit",
            "-q",
            "-m",
            msg,
            "--date",
            date,
        ])
        .env("GIT_COMMITTER_DATE", date)
        .current_dir(repo)
        .output()
        .expect("git commit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn history_records_the_trend_and_dates_patches_from_their_first_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("distgit");
    fs::create_dir_all(repo.join("rpms/demo")).expect("mkdir");
    git(&repo, &["init", "-q"]);
    commit(
        &repo,
        "2024-01-10T10:00:00Z",
        &["a.patch", "b.patch"],
        "two patches",
    );
    commit(
        &repo,
        "2024-02-10T10:00:00Z",
        &["a.patch", "b.patch", "c.patch"],
        "a third",
    );
    // A side branch merged back: first-parent history sees only the merge.
    git(&repo, &["checkout", "-q", "-b", "side"]);
    commit(
        &repo,
        "2024-03-01T10:00:00Z",
        &["a.patch", "b.patch", "c.patch", "d.patch"],
        "side",
    );
    git(&repo, &["checkout", "-q", "main"]);
    commit(
        &repo,
        "2024-03-05T10:00:00Z",
        &["b.patch", "c.patch"],
        "drop a",
    );
    let merge = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.org",
            "merge",
            "-q",
            "-X",
            "ours",
            "side",
            "-m",
            "merge side",
        ])
        .env("GIT_COMMITTER_DATE", "2024-03-10T10:00:00Z")
        .env("GIT_AUTHOR_DATE", "2024-03-10T10:00:00Z")
        .current_dir(&repo)
        .output()
        .expect("merge");
    assert!(
        merge.status.success(),
        "{}",
        String::from_utf8_lossy(&merge.stderr)
    );

    let db = format!("sqlite://{}", dir.path().join("h.db").display());
    let out = forkdebt_ok(
        dir.path(),
        &["--database", &db, "scan", "--history", "distgit"],
    );
    assert!(out.contains("history of distgit:"), "{out}");

    let store = Store::open(&db).await.expect("open");
    let points = store.history("default").await.expect("history");
    let trend: Vec<(String, i64)> = points
        .iter()
        .map(|p| (p.committed_at[..10].to_string(), p.patches))
        .collect();
    // The merge brought d.patch in (with -X ours the spec keeps main's lines plus side's d).
    let current = store.load_packages(None, Some("demo")).await.expect("load");
    let carried: Vec<&str> = current[0]
        .carried()
        .map(|p| p.patch.file.as_str())
        .collect();
    assert_eq!(trend[0], ("2024-01-10".to_string(), 2));
    assert_eq!(trend[1], ("2024-02-10".to_string(), 3));
    assert_eq!(trend[2], ("2024-03-05".to_string(), 2));
    assert!(
        !trend.iter().any(|(d, _)| d == "2024-03-01"),
        "side-branch commits are not on the first-parent line: {trend:?}"
    );
    assert_eq!(
        trend.last().expect("points").1 as usize,
        carried.len(),
        "{trend:?} vs {carried:?}"
    );
    // b.patch has been carried since the first commit; c.patch since the second.
    let first_seen = |f: &str| {
        current[0]
            .patches
            .iter()
            .find(|p| p.patch.file == f)
            .expect(f)
            .first_seen
            .clone()
    };
    assert_eq!(first_seen("b.patch"), "2024-01-10T10:00:00Z");
    assert_eq!(first_seen("c.patch"), "2024-02-10T10:00:00Z");

    // The debt trend reaches back before the first scan through the history.
    let days: Vec<String> = ["2024-01-15", "2024-02-15", "2024-03-07"]
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        store.debt_trend("default", &days).await.expect("trend"),
        vec![Some(2), Some(3), Some(2)]
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        store.debt_trend("default", &[today]).await.expect("trend"),
        vec![Some(carried.len() as i64)],
        "today: the snapshot"
    );
    let table = forkdebt_ok(dir.path(), &["--database", &db, "report"]);
    assert!(
        table.contains("default: carried patches over 12 weeks"),
        "{table}"
    );
    assert_eq!(
        forkdebt_core::store::sparkline(&[Some(1), None, Some(8), Some(1)]),
        "▁ █▁"
    );

    // Walking again adds nothing.
    let again = forkdebt_ok(
        dir.path(),
        &["--database", &db, "scan", "--history", "distgit"],
    );
    assert!(again.contains("(0 new)"), "{again}");
    store.close().await;
}

#[test]
fn history_of_a_folder_that_is_not_a_repository_is_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(dir.path().join("d/rpms/x")).expect("mkdir");
    fs::write(
        dir.path().join("d/rpms/x/x.spec"),
        "Name: x\nVersion: 1\nRelease: 1\n",
    )
    .expect("write");
    let out = crate::util::forkdebt(
        dir.path(),
        &["--database", "sqlite://f.db", "scan", "--history", "d"],
    );
    assert!(out.status.success());
    assert!(
        crate::util::stderr(&out).contains("is not inside a git repository"),
        "{}",
        crate::util::stderr(&out)
    );
}

/// Lifetimes (issue 27): a patch keeps its first date across a move of its folder and a
/// rename of its file (same content, Patch line renamed); dates are read in the committer's
/// own zone; a patch dropped and added again has two lifetimes, each with its drop commit.
#[tokio::test]
async fn history_records_each_patch_s_lifetimes_across_moves_renames_and_zones() {
    use crate::util::git_env;
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("distgit");
    fs::create_dir_all(repo.join("rpms/foo")).expect("mkdir");
    git(&repo, &["init", "-q"]);
    let spec = |patches: &[&str]| {
        let mut s = String::from("Name: foo\nVersion: 1.0\nRelease: 1.hs\n");
        for (i, p) in patches.iter().enumerate() {
            s.push_str(&format!("Patch{}: {p}\n", i + 1));
        }
        s
    };
    let patch = |n: u32| format!("--- a/x\n+++ b/x\n@@ -{n} +{n} @@\n-a{n}\n+b{n}\n");
    let commit = |msg: &str, when: &str| {
        git_env(&repo, &["add", "-A"], &[]);
        git_env(
            &repo,
            &["commit", "-qm", msg],
            &[("GIT_AUTHOR_DATE", when), ("GIT_COMMITTER_DATE", when)],
        );
        git_env(&repo, &["rev-parse", "HEAD"], &[])
    };
    let write = |path: &str, text: &str| fs::write(repo.join(path), text).expect("write");
    write("rpms/foo/foo.spec", &spec(&["a.patch", "b.patch"]));
    write("rpms/foo/a.patch", &patch(1));
    write("rpms/foo/b.patch", &patch(2));
    let first = commit("foo with two patches", "2017-03-01T23:30:00-0800");
    write("rpms/foo/foo.spec", &spec(&["a.patch"]));
    fs::remove_file(repo.join("rpms/foo/b.patch")).expect("rm");
    let drop_b = commit("drop b", "2018-05-05T01:15:00+0200");
    // 2019: the package moves to another folder, then a.patch is renamed (same content).
    fs::create_dir_all(repo.join("foo")).expect("mkdir");
    git(&repo, &["mv", "rpms/foo/foo.spec", "foo/foo.spec"]);
    git(&repo, &["mv", "rpms/foo/a.patch", "foo/a.patch"]);
    commit("move foo", "2019-01-01T12:00:00+0000");
    git(&repo, &["mv", "foo/a.patch", "foo/0001-a.patch"]);
    write("foo/foo.spec", &spec(&["0001-a.patch"]));
    commit("rename a", "2019-06-01T12:00:00+0000");
    // b comes back, and goes again.
    write("foo/b.patch", &patch(2));
    write("foo/foo.spec", &spec(&["0001-a.patch", "b.patch"]));
    let readd_b = commit("b again", "2020-01-01T08:00:00-0800");
    fs::remove_file(repo.join("foo/b.patch")).expect("rm");
    write("foo/foo.spec", &spec(&["0001-a.patch"]));
    let drop_b_again = commit("drop b again", "2021-01-01T09:00:00+0200");

    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let out = forkdebt_ok(
        dir.path(),
        &["--database", &db, "scan", "--history", "distgit"],
    );
    assert!(out.contains("history of distgit:"), "{out}");
    let report = forkdebt_ok(
        dir.path(),
        &["--database", &db, "report", "--format", "json", "--dropped"],
    );
    let v: serde_json::Value = serde_json::from_str(&report).expect("json");
    // Still carried: a, as old as its first commit (not the 2019 move or rename).
    let carried = &v["packages"][0]["patches"][0];
    assert_eq!(carried["file"], "0001-a.patch", "{v:#}");
    assert_eq!(carried["first_seen"], "2017-03-02T07:30:00Z", "{v:#}");
    // Dropped: b twice, dated in each committer's zone, with full shas.
    let dropped = v["dropped"].as_array().expect("dropped");
    assert_eq!(dropped.len(), 2, "{v:#}");
    assert_eq!(dropped[0]["file"], "b.patch");
    assert_eq!(dropped[0]["package"], "foo");
    assert_eq!(dropped[0]["added_at"], "2017-03-01T23:30:00-08:00");
    assert_eq!(dropped[0]["added_in"], first.as_str());
    assert_eq!(dropped[0]["dropped_at"], "2018-05-05T01:15:00+02:00");
    assert_eq!(dropped[0]["dropped_in"], drop_b.as_str());
    assert_eq!(dropped[1]["added_in"], readd_b.as_str());
    assert_eq!(dropped[1]["added_at"], "2020-01-01T08:00:00-08:00");
    assert_eq!(dropped[1]["dropped_in"], drop_b_again.as_str());
    let carried_days = dropped[0]["days_carried"].as_f64().expect("days");
    assert!((carried_days - 428.656).abs() < 0.01, "{carried_days}");
    // Added and dropped per month.
    assert_eq!(
        v["churn"],
        serde_json::json!([
            {"month": "2017-03", "added": 2, "dropped": 0},
            {"month": "2018-05", "added": 0, "dropped": 1},
            {"month": "2020-01", "added": 1, "dropped": 0},
            {"month": "2021-01", "added": 0, "dropped": 1}
        ])
    );
    // Without --dropped the report is as before.
    let plain = forkdebt_ok(
        dir.path(),
        &["--database", &db, "report", "--format", "json"],
    );
    assert!(!plain.contains("\"dropped\""), "{plain}");
}

/// Days from droppable to dropped (issue 27): forkdebt says droppable, dist-git drops the
/// patch a day later; the report, the weekly digest and `/metrics` say so from the same
/// stored figures.
#[tokio::test(flavor = "multi_thread")]
async fn days_from_droppable_to_dropped_are_shown_alike_in_report_digest_and_metrics() {
    use crate::httpd::{Request, Server};
    use crate::util::git_env;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let release = Arc::new(AtomicU32::new(20));
    let (koji, jira) = (
        crate::base_fork::koji(release.clone()),
        crate::base_fork::jira(),
    );
    let server = Server::start(Arc::new(move |req: &Request| {
        if req.path.starts_with("/rest/") {
            jira(req)
        } else {
            koji(req)
        }
    }))
    .await;
    let repo = d.join("distgit");
    fs::create_dir_all(repo.join("rpms/systemd")).expect("mkdir");
    git(&repo, &["init", "-q"]);
    let spec = |patch: bool| {
        format!(
            "Name: systemd\nVersion: 252\nRelease: 1.hs\nSummary: s\nLicense: MIT\n\n{}%description\nd\n",
            if patch {
                "# Resolves: RHEL-12345\nPatch1: 0001-fix.patch\n\n"
            } else {
                ""
            }
        )
    };
    fs::write(repo.join("rpms/systemd/systemd.spec"), spec(true)).expect("spec");
    fs::write(
        repo.join("rpms/systemd/0001-fix.patch"),
        "--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-a\n+b\n",
    )
    .expect("patch");
    let commit = |msg: &str, when: &str| {
        git_env(&repo, &["add", "-A"], &[]);
        git_env(
            &repo,
            &["commit", "-qm", msg],
            &[("GIT_AUTHOR_DATE", when), ("GIT_COMMITTER_DATE", when)],
        );
    };
    commit("systemd for hs", "2026-10-01T10:00:00+0000");
    let web_port = crate::util::free_port();
    fs::write(
        d.join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{db}\"\ncontact = \"mailto:ops@example.org\"\n\
             [sources]\nmin_interval_ms = 0\nmax_retries = 1\n\
             [sources.jira]\nurl = \"{url}\"\n\
             [[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n\
             [[distro]]\nname = \"c9s\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"c9s-candidate\"\n\
             [web]\nlisten = \"127.0.0.1:{web_port}\"\n",
            db = d.join("f.db").display(),
            url = server.url,
        ),
    )
    .expect("config");
    let run = |args: &'static [&'static str]| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all = vec!["--config", "forkdebt.toml"];
                all.extend_from_slice(args);
                forkdebt_ok(&d, &all)
            })
            .await
            .expect("join")
        }
    };
    run(&["scan"]).await;
    // The baseline sync (the base ships 252-20), then the base ships 252-40: droppable now.
    run(&["sync", "--source", "jira", "--source", "koji"]).await;
    release.store(40, Ordering::SeqCst);
    run(&["sync", "--source", "koji"]).await;
    // The dashboard, while the patch is droppable: the command that proposes the drop.
    let mut web = std::process::Command::new(env!("CARGO_BIN_EXE_forkdebt"))
        .args(["--config", "forkdebt.toml", "web"])
        .current_dir(&d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("web");
    crate::util::wait_for_port(
        web_port,
        "the web server",
        std::time::Duration::from_secs(20),
    );
    let page = reqwest::get(format!("http://127.0.0.1:{web_port}/package/systemd"))
        .await
        .expect("package page")
        .text()
        .await
        .expect("text");
    assert!(
        page.contains("<code class=\"propose\">forkdebt propose systemd 0001-fix.patch</code>"),
        "{page}"
    );
    // Dist-git drops the patch a day later.
    fs::write(repo.join("rpms/systemd/systemd.spec"), spec(false)).expect("spec");
    fs::remove_file(repo.join("rpms/systemd/0001-fix.patch")).expect("rm");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    commit("drop the fix: c9s has it", &tomorrow);
    run(&["scan", "--history"]).await;

    let report = run(&["report", "--format", "json", "--dropped"]).await;
    let v: serde_json::Value = serde_json::from_str(&report).expect("json");
    let dropped = &v["dropped"][0];
    assert_eq!(dropped["file"], "0001-fix.patch", "{v:#}");
    assert_eq!(dropped["state_at_drop"], "droppable", "{v:#}");
    let days = dropped["days_droppable_to_dropped"]
        .as_f64()
        .expect("days to drop");
    assert!((days - 1.0).abs() < 0.01, "{days}");
    assert_eq!(
        v["dropped_summary"]["median_days_droppable_to_dropped"],
        1.0
    );

    let digest = run(&["digest", "--dry-run", "--to", "team@example.org"]).await;
    assert!(
        digest.contains("dropped 1 this week, median 1.0 days after they became droppable"),
        "{digest}"
    );

    let metrics = reqwest::get(format!("http://127.0.0.1:{web_port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    // The dashboard: the same median per downstream, and the patch's lifetime as a bar.
    let get = |path: &'static str| async move {
        reqwest::get(format!("http://127.0.0.1:{web_port}{path}"))
            .await
            .expect("page")
            .text()
            .await
            .expect("text")
    };
    let overview = get("/").await;
    assert!(
        overview.contains("How fast we act")
            && overview.contains("<td>hs</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">1.0 d</td>")
            && overview.contains("Median days from droppable to dropped, by month: 1.0 days in"),
        "{overview}"
    );
    let page = get("/package/systemd").await;
    assert!(
        page.contains("Patch lifetimes") && page.contains("<title>0001-fix.patch: 2026-10 to"),
        "{page}"
    );
    let _ = web.kill();
    let _ = web.wait();
    let median = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "forkdebt_days_droppable_to_dropped{downstream=\"hs\",quantile=\"0.5\"} ",
            )
        })
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert_eq!(median, Some(1.0), "{metrics}");
}
