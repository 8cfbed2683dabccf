//! Rescans, dropped patches, and the three report formats through the CLI.

use crate::util::{copy_tree, forkdebt, forkdebt_ok, sample_distgit, stderr};
use serde_json::Value;

fn db(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("f.db").display())
}

#[test]
fn rescan_is_idempotent_and_a_removed_patch_is_recorded_as_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("distgit");
    copy_tree(&sample_distgit(), &tree);
    let db = db(dir.path());
    let first = forkdebt_ok(dir.path(), &["--database", &db, "scan", "distgit"]);
    assert!(
        first.contains("63 patches (63 new, 0 changed, 0 unchanged, 0 dropped)"),
        "{first}"
    );
    let again = forkdebt_ok(dir.path(), &["--database", &db, "scan", "distgit"]);
    assert!(
        again.contains("63 patches (0 new, 0 changed, 63 unchanged, 0 dropped)"),
        "{again}"
    );

    // Drop util-linux's lscpu patch from the spec, change another patch's header.
    let spec = tree.join("rpms/util-linux/specfiles/util-linux.spec");
    let text = std::fs::read_to_string(&spec).expect("spec");
    std::fs::write(
        &spec,
        text.replace("Patch4: util-linux-hs-lscpu-cluster.patch\n", ""),
    )
    .expect("write");
    let p = tree.join("rpms/systemd/systemd-hs-unified-cgroup-only.patch");
    let body = std::fs::read_to_string(&p).expect("patch");
    std::fs::write(
        &p,
        format!("Forwarded: https://github.com/systemd/systemd/pull/31000\n\n{body}"),
    )
    .expect("write");

    let third = forkdebt_ok(dir.path(), &["--database", &db, "scan", "distgit"]);
    // Changed: the systemd patch, and the agetty patch whose spec comment moved up a line.
    assert!(
        third.contains("62 patches (0 new, 2 changed, 60 unchanged, 1 dropped)"),
        "{third}"
    );

    let report: Value = serde_json::from_str(&forkdebt_ok(
        dir.path(),
        &["--database", &db, "report", "--format", "json"],
    ))
    .expect("json");
    let pkg = |n: &str| {
        report["packages"]
            .as_array()
            .expect("p")
            .iter()
            .find(|p| p["name"] == n)
            .expect("pkg")
            .clone()
    };
    let ul = pkg("util-linux");
    let dropped = ul["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .find(|p| p["file"] == "util-linux-hs-lscpu-cluster.patch")
        .expect("kept");
    assert_eq!(dropped["state"], "dropped");
    let when = dropped["dropped_at"].as_str().expect("dropped_at");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(when.starts_with(&today), "{when}");
    let sd = pkg("systemd");
    let changed = sd["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .find(|p| p["file"] == "systemd-hs-unified-cgroup-only.patch")
        .expect("p");
    assert_eq!(changed["state"], "submitted");
    assert_eq!(changed["refs"][0]["id"], "systemd/systemd#31000");

    // Putting it back carries it again (the agetty comment moves back down too).
    std::fs::write(&spec, text).expect("restore");
    let fourth = forkdebt_ok(dir.path(), &["--database", &db, "scan", "distgit"]);
    assert!(
        fourth.contains("63 patches (0 new, 2 changed, 61 unchanged, 0 dropped)"),
        "{fourth}"
    );
    let report: Value = serde_json::from_str(&forkdebt_ok(
        dir.path(),
        &["--database", &db, "report", "--format", "json"],
    ))
    .expect("json");
    assert!(!report.to_string().contains("\"state\":\"dropped\""));
}

#[test]
fn a_missing_folder_is_refused_and_nothing_is_marked_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db(dir.path());
    let sample = sample_distgit();
    forkdebt_ok(
        dir.path(),
        &["--database", &db, "scan", sample.to_str().expect("utf-8")],
    );
    let out = forkdebt(dir.path(), &["--database", &db, "scan", "no-such-folder"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no-such-folder: not a folder"),
        "{}",
        stderr(&out)
    );
    let report = forkdebt_ok(
        dir.path(),
        &["--database", &db, "report", "--format", "json"],
    );
    let report: Value = serde_json::from_str(&report).expect("json");
    let patches: Vec<&Value> = report["packages"]
        .as_array()
        .expect("p")
        .iter()
        .flat_map(|p| p["patches"].as_array().expect("patches"))
        .collect();
    assert_eq!(patches.len(), 63);
    assert!(
        patches.iter().all(|p| p["dropped_at"].is_null()),
        "nothing was marked dropped"
    );
}

#[test]
fn the_table_fits_100_columns_and_markdown_and_show_name_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db(dir.path());
    let sample = sample_distgit();
    forkdebt_ok(
        dir.path(),
        &["--database", &db, "scan", sample.to_str().expect("utf-8")],
    );
    let table = forkdebt_ok(dir.path(), &["--database", &db, "report"]);
    let total = table_row(&table, "total").expect("total row");
    assert_eq!(total[1..3], ["12 packages", "63"], "{table}");
    let systemd = table_row(&table, "systemd").expect("systemd row");
    assert_eq!(systemd[1..3], ["252.23-2.hs", "9"], "{table}");
    for line in table.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(table.contains("NetworkManager"), "{table}");

    let md = forkdebt_ok(
        dir.path(),
        &["--database", &db, "report", "--format", "markdown"],
    );
    assert!(md.contains("## systemd `252.23-2.hs` (default)"), "{md}");
    assert!(
        md.contains("| 2 | `16803.patch` | merged | github-pr systemd/systemd#16803"),
        "{md}"
    );

    let show = forkdebt_ok(dir.path(), &["--database", &db, "show", "systemd"]);
    assert!(show.contains("upstream: github:systemd/systemd"), "{show}");
    assert!(show.contains("github-pr systemd/systemd#16838 (origin, low) in 16838_16857_improve_path_search.patch (file name)"), "{show}");

    let missing = forkdebt(dir.path(), &["--database", &db, "show", "nosuch"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no package named `nosuch`"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn init_creates_the_database_and_bad_urls_hide_passwords() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = forkdebt_ok(dir.path(), &["init"]);
    assert!(out.contains("sqlite://forkdebt.db"), "{out}");
    assert!(dir.path().join("forkdebt.db").exists());
    let empty = forkdebt_ok(dir.path(), &["report"]);
    assert!(empty.contains("Nothing scanned yet"), "{empty}");

    let bad = forkdebt(
        dir.path(),
        &["--database", "mysql://u:hunter2@h/db", "init"],
    );
    assert!(!bad.status.success());
    let err = stderr(&bad);
    assert!(
        err.contains("unsupported database URL")
            && err.contains("u:***@h/db")
            && !err.contains("hunter2"),
        "{err}"
    );
    let refused = forkdebt(
        dir.path(),
        &["--database", "postgres://u:hunter2@127.0.0.1:1/db", "init"],
    );
    assert!(!refused.status.success());
    assert!(
        !stderr(&refused).contains("hunter2"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn the_demo_runs_offline_from_the_repository_and_is_repeatable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = sample_distgit();
    let args = ["demo", "--sample", sample.to_str().expect("utf-8")];
    let first = forkdebt_ok(dir.path(), &args);
    // The sample dist-git plus the package whose upstream answers are recorded.
    assert!(
        first.contains("13 packages, 69 carried patches, 2 policy deviations"),
        "{first}"
    );
    // The table after the sync counts verdicts: python-github's three patches are one
    // droppable, one sent (open PR) and one kept (PR denied); its fork's three commits are
    // two droppable (proved by merge-tree) and one local-only whose PR is not observed.
    let header = table_row(&first, "package").expect("table header");
    assert_eq!(
        header,
        [
            "package",
            "evr",
            "carried",
            "droppable",
            "merged",
            "sent",
            "kept",
            "unknown",
            "lines",
            "oldest"
        ]
    );
    let row = table_row(&first, "python-github").expect("python-github row");
    assert_eq!(
        row[1..8],
        ["1.53-2.hs", "6", "3", "0", "1", "1", "1"],
        "{first}"
    );
    let total = table_row(&first, "total").expect("total row");
    assert_eq!(total[1..5], ["13 packages", "69", "3", "12"], "{first}");
    // The demo fork: carried commits decided by git, with the proof and the missing fix.
    assert!(
        first.contains("Fork python-github-hs (forkdebt-demo-git/python-github-hs, branch hs-v1.53): 3 carried commits, 2 matched upstream by git, 1 local-only, 1 upstream follow-up fix missing"),
        "{first}"
    );
    assert!(
        first.contains("(by trailer) -> first in v1.54 -> applies as empty onto v1.54 -> c9s ships python-github-1.55-1.el9 >= 1.54 (repodata)"),
        "{first}"
    );
    assert!(
        first.contains("- -> missing-fix (upstream fixed a bug in a change we carry:")
            && first.contains("Never retry a POST on 502"),
        "{first}"
    );
    assert!(
        first.contains("demo: carried patches over 12 weeks"),
        "{first}"
    );
    assert!(
        first.contains("openssh openssh-8.7p1-scp-remote-to-remote.patch: #35"),
        "{first}"
    );
    // Droppable patches with their evidence, and the event that announced it.
    let chain = "PR austinsasko/PyGithub#21 merged as 40abf8b -> first in v1.54 -> c9s ships python-github-1.55-1.el9 >= 1.54 (repodata)";
    assert!(
        first.contains(&format!(
            "python-github 0001-fix-pagination-of-review-comments.patch: {chain}"
        )),
        "{first}"
    );
    assert!(first.contains("0002-retry-on-secondary-rate-limit.patch: denied (PR MarcoFalke/PyGithub#1 closed without merging)"), "{first}");
    assert!(
        first.contains(
            "0003-small-fixes-for-python-3.patch: submitted (PR PyGithub/PyGithub#1171 is open)"
        ),
        "{first}"
    );
    let events: Vec<&str> = first
        .split("== Events a maintainer is told about")
        .nth(1)
        .expect("events")
        .split("== Fork debt per package")
        .next()
        .expect("events")
        .lines()
        .filter(|l| l.starts_with("  "))
        .collect();
    // The missing fix (at the scan) and three patches/commits becoming droppable.
    assert_eq!(events.len(), 4, "{first}");
    assert!(events[0].contains("-> missing-fix"), "{first}");
    assert!(
        events[1..]
            .iter()
            .all(|e| e.contains("released -> droppable")),
        "{first}"
    );
    assert_eq!(
        forkdebt_ok(dir.path(), &args).lines().count(),
        first.lines().count(),
        "a second run starts afresh"
    );
    // Right after the demo, the droppable patch can be proposed in its git dist-git.
    let proposed = forkdebt_ok(
        dir.path(),
        &[
            "--database",
            "sqlite://forkdebt-demo.db",
            "propose",
            "python-github",
            "0001-fix-pagination-of-review-comments.patch",
        ],
    );
    assert!(
        proposed.contains("changed rpms/python-github/python-github.spec")
            && proposed.contains("branch forkdebt/drop-0001-fix-pagination-of-review-comments"),
        "{proposed}"
    );
}

/// The cells of the table row whose first cell is `first`, split on runs of two or more
/// spaces (cells themselves hold at most single spaces).
fn table_row(table: &str, first: &str) -> Option<Vec<String>> {
    table.lines().find_map(|l| {
        let inner = l.trim().strip_prefix('│')?.strip_suffix('│')?;
        let cells: Vec<String> = inner
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        (cells.first().map(String::as_str) == Some(first)).then_some(cells)
    })
}

/// The SIG's own package list decides what is carried: an archived package's repository in
/// the dist-git is not debt; a manifest that cannot be read stops the scan before anything
/// stored changes.
#[test]
fn a_manifest_leaves_archived_and_retired_packages_out() {
    use crate::builder::{DistGit, Package};
    let dir = tempfile::tempdir().expect("tempdir");
    let diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n";
    let tree = DistGit::new(dir.path())
        .package(Package::new("systemd").patch("0001-a.patch", diff))
        .package(Package::new("fish").patch("0001-b.patch", diff))
        .package(Package::new("btrfs-progs").patch("0001-c.patch", diff))
        .config(
            "[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbranch = \"c10s-sig-hyperscale\"\nmanifest = \"inventory.toml\"\n",
        );
    std::fs::write(
        tree.dir.join("inventory.toml"),
        "[inventory]\nname = \"hyperscale-packages\"\n\n[[package]]\nname = \"systemd\"\nworkloads = [\"hyperscale\"]\n\n\
         [[package]]\nname = \"fish\"\nretired_on = [\"c9s-sig-hyperscale\"]\n\n\
         [[package]]\nname = \"btrfs-progs\"\nretired_on = [\"c10s-sig-hyperscale\"]\n",
    )
    .expect("manifest");
    let said = forkdebt_ok(&tree.dir, &["--config", "forkdebt.toml", "scan"]);
    assert!(
        said.contains("hs: manifest inventory.toml: 2 packages carried, 1 left out"),
        "{said}"
    );
    assert!(said.contains("hs: 2 packages, 2 patches"), "{said}");
    // A broken manifest names itself and where; what was stored stays.
    std::fs::write(tree.dir.join("inventory.toml"), "[inventory\n").expect("write");
    let out = forkdebt(&tree.dir, &["--config", "forkdebt.toml", "scan"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("inventory.toml:1:"), "{err}");
    let report = forkdebt_ok(
        &tree.dir,
        &["--config", "forkdebt.toml", "report", "--format", "json"],
    );
    let v: Value = serde_json::from_str(&report).expect("json");
    assert_eq!(v["packages"].as_array().map(Vec::len), Some(2), "{v:#}");
}
