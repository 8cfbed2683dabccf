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
