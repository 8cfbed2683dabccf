//! A large store for the benchmarks that read one: packages of ten patches each, every
//! patch sent upstream as a GitHub pull request, scanned by the binary into SQLite; then every
//! tenth package's first patch decided droppable by the engine (merged, released, shipped).

use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, Store};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

pub const PATCHES_PER_PACKAGE: usize = 10;

pub fn generate(root: &Path, packages: usize) {
    for pkg in 0..packages {
        let dir = root.join(format!("rpms/pkg{pkg}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut spec = format!("Name: pkg{pkg}\nVersion: 1.0\nRelease: 1%{{?dist}}.hs\n\n");
        for i in 0..PATCHES_PER_PACKAGE {
            let _ = writeln!(
                spec,
                "# https://github.com/org{pkg}/proj/pull/{}\nPatch{i}: {:04}-change-{i}.patch",
                100 + i,
                i + 1
            );
            std::fs::write(
                dir.join(format!("{:04}-change-{i}.patch", i + 1)),
                format!("Subject: change {i}\n\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"),
            )
            .expect("patch");
        }
        std::fs::write(dir.join(format!("pkg{pkg}.spec")), spec).expect("spec");
    }
}

/// Generates `packages` packages under `root`, scans them into `root/bench.db` and decides a
/// tenth droppable; the store's URL.
pub async fn build(root: &Path, packages: usize) -> String {
    let t = Instant::now();
    generate(&root.join("distgit"), packages);
    std::fs::write(
        root.join("forkdebt.toml"),
        "database = \"sqlite://bench.db\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n[[distro]]\nname = \"c9s\"\n",
    )
    .expect("config");
    let scan = super::measure::run(&["--config", "forkdebt.toml", "scan"], root);
    println!(
        "store of {packages} packages, {} patches: generated and scanned in {:.1?}",
        packages * PATCHES_PER_PACKAGE,
        t.elapsed(),
    );
    scan.print("scan");
    assert!(
        scan.stdout.contains("packages"),
        "the scan said: {}",
        scan.stdout
    );
    let url = format!("sqlite://{}", root.join("bench.db").display());
    let store = Store::open(&url).await.expect("open");
    decide_droppable(&store, packages).await;
    store.close().await;
    url
}

/// Every tenth package: its first PR merged, released, and shipped by c9s.
pub async fn decide_droppable(store: &Store, packages: usize) {
    let t = Instant::now();
    let decided: Vec<usize> = (0..packages).step_by(10).collect();
    for chunk in decided.chunks(200) {
        let prs: Vec<(String, ItemOutcome)> = chunk
            .iter()
            .map(|p| {
                (
                    format!("org{p}/proj#100"),
                    ItemOutcome::Observed {
                        data: serde_json::json!({"number": 100, "state": "closed", "merged": true,
                            "merged_at": "2026-01-01T00:00:00Z", "merge_commit_sha": format!("{p:07x}abc")})
                        .to_string(),
                        upstream_changed_at: None,
                    },
                )
            })
            .collect();
        store
            .record_outcomes(Dataset::Github, &prs, chrono::Utc::now())
            .await
            .expect("prs");
        let tags: Vec<(String, ItemOutcome)> = chunk
            .iter()
            .map(|p| {
                (
                    format!("org{p}/proj@{p:07x}abc"),
                    ItemOutcome::Observed {
                        data: r#"{"tag":"v1.0","tags_checked":3}"#.into(),
                        upstream_changed_at: None,
                    },
                )
            })
            .collect();
        store
            .record_outcomes(Dataset::GithubRelease, &tags, chrono::Utc::now())
            .await
            .expect("tags");
        let builds: Vec<(String, ItemOutcome)> = chunk
            .iter()
            .map(|p| {
                (
                    format!("c9s/pkg{p}"),
                    ItemOutcome::Observed {
                        data: serde_json::json!({"tag": "c9s-candidate", "build": {"name": format!("pkg{p}"),
                            "version": "1.1", "release": "1.el9", "nvr": format!("pkg{p}-1.1-1.el9")}})
                        .to_string(),
                        upstream_changed_at: None,
                    },
                )
            })
            .collect();
        store
            .record_outcomes(Dataset::Koji, &builds, chrono::Utc::now())
            .await
            .expect("koji");
    }
    println!(
        "{} patches decided droppable in {:.1?}",
        decided.len(),
        t.elapsed()
    );
}
