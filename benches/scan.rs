//! Scan benchmark: a generated dist-git of 2,000 packages and 20,000 patches, scanned by the
//! real binary into a fresh SQLite store, then rescanned. Prints wall time and peak RSS of
//! each run (target: under 3 s and under 200 MB on a 2-core machine).
//!
//! Run with `cargo bench --bench scan`. `FORKDEBT_BENCH_PACKAGES` changes the size;
//! `FORKDEBT_BENCH_DIR` keeps the generated tree there.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

#[path = "measure.rs"]
mod measure;
use measure::run;

const PATCHES_PER_PACKAGE: usize = 10;

/// The header shapes real patches have, in rotation.
fn patch_body(pkg: usize, i: usize) -> String {
    let sha = format!("{:040x}", (pkg as u128) << 64 | (i as u128 * 7919 + 1));
    let header = match i % 5 {
        0 => format!(
            "From {sha} Mon Sep 17 00:00:00 2001\nFrom: Dev <dev@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\
             Subject: [PATCH] fix thing {i} (#{n})\n\nLonger explanation of the change.\n\n\
             (cherry picked from commit {sha})\n---\n src/f{i}.c | 2 +-\n",
            n = 1000 + i
        ),
        1 => format!(
            "Description: tweak {i}\nOrigin: upstream, https://github.com/org{pkg}/proj/commit/{sha}\nBug: https://github.com/org{pkg}/proj/issues/{i}\nForwarded: not-needed\n\n"
        ),
        2 => format!("Subject: local change {i}\nUpstream-Status: Pending\n\n"),
        3 => format!(
            "From: Dev <dev@example.org>\nSubject: backport\nLink: https://github.com/org{pkg}/proj/pull/{n}\nFixes: #{i}\n\n",
            n = 2000 + i
        ),
        _ => String::new(),
    };
    let mut diff = String::new();
    for h in 0..3 {
        let _ = write!(
            diff,
            "--- a/src/f{i}_{h}.c\n+++ b/src/f{i}_{h}.c\n@@ -10,4 +10,5 @@ int f(void)\n {{\n-    return 0;\n+    int r = 1;\n+    return r;\n     /* end */\n }}\n"
        );
    }
    format!("{header}{diff}")
}

fn spec(pkg: usize) -> String {
    let mut s = format!(
        "%global forgeurl https://github.com/org{pkg}/proj\nName: pkg{pkg}\nVersion: 1.{pkg}\nRelease: 3%{{?dist}}.hs\n\
         Summary: benchmark package {pkg}\nLicense: MIT\nURL: %{{forgeurl}}\nSource0: %{{forgeurl}}/archive/v%{{version}}.tar.gz\n\n"
    );
    for i in 0..PATCHES_PER_PACKAGE {
        match i % 4 {
            0 => {
                let _ = writeln!(s, "# PR {} - fix something", 100 + i);
            }
            1 => {
                let _ = writeln!(
                    s,
                    "# https://bugzilla.redhat.com/show_bug.cgi?id={}",
                    2_000_000 + pkg * 10 + i
                );
            }
            _ => {}
        }
        let _ = writeln!(s, "Patch{i}: {:04}-pkg{pkg}-change-{i}.patch", i + 1);
    }
    s.push_str("\n%description\nBenchmark.\n\n%prep\n%autosetup -p1\n\n%changelog\n");
    for e in 0..20 {
        let _ = write!(
            s,
            "* Mon Jan 01 2024 Dev <dev@example.org> - 1.{pkg}-{e}.hs\n- Backport PR #{} to fix a crash\n\n",
            100 + e
        );
    }
    s
}

fn generate(root: &Path, packages: usize) {
    for pkg in 0..packages {
        // Half the packages use each dist-git layout.
        let (spec_dir, patch_dir) = if pkg % 2 == 0 {
            let d = root.join(format!("rpms/pkg{pkg}"));
            (d.clone(), d)
        } else {
            let d = root.join(format!("rpms/pkg{pkg}"));
            (d.join("specfiles"), d.join("sources"))
        };
        std::fs::create_dir_all(&spec_dir).expect("mkdir");
        std::fs::create_dir_all(&patch_dir).expect("mkdir");
        std::fs::write(spec_dir.join(format!("pkg{pkg}.spec")), spec(pkg)).expect("write spec");
        for i in 0..PATCHES_PER_PACKAGE {
            std::fs::write(
                patch_dir.join(format!("{:04}-pkg{pkg}-change-{i}.patch", i + 1)),
                patch_body(pkg, i),
            )
            .expect("write patch");
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let packages: usize = std::env::var("FORKDEBT_BENCH_PACKAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // FORKDEBT_BENCH_DIR keeps the generated tree (and store) for profiling by hand.
    let kept = std::env::var_os("FORKDEBT_BENCH_DIR").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().expect("tempdir");
    let root = kept.unwrap_or_else(|| temp.path().to_path_buf());
    let _ = std::fs::remove_dir_all(root.join("distgit"));
    let _ = std::fs::remove_file(root.join("bench.db"));
    let tree = root.join("distgit");
    let t = Instant::now();
    generate(&tree, packages);
    println!(
        "generated {packages} packages, {} patches in {:.2?}",
        packages * PATCHES_PER_PACKAGE,
        t.elapsed()
    );
    let db = "sqlite://bench.db";
    let first = run(&["--database", db, "scan", "distgit"], &root);
    let second = run(&["--database", db, "scan", "distgit"], &root);
    let report = run(&["--database", db, "report", "--format", "json"], &root);
    first.print("first scan (empty store)");
    second.print("rescan (nothing changed)");
    report.print("report --format json");
    print!("first scan said: {}", first.stdout);
    print!("rescan said:     {}", second.stdout);
    // Where the time goes: the same first scan with per-phase timing (slower by its clocks).
    let (timed, _) = measure::run_any_env(
        &["--database", "sqlite://phases.db", "scan", "distgit"],
        &root,
        &[("FORKDEBT_SCAN_PHASES", "1")],
    );
    if let Some(line) = timed.stdout.lines().find(|l| l.starts_with("phases")) {
        println!("first scan {line}");
    }
    rpmspec_loop(&tree, first.wall);
    corpus();
}

/// `rpmspec -P` on every generated spec, one at a time, as a packager's loop would: the
/// reference the scan is measured against (target: the scan in at most 1/20 of it).
fn rpmspec_loop(tree: &Path, scan: std::time::Duration) {
    let have = std::process::Command::new("rpmspec")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        println!("rpmspec is not installed: no ratio");
        return;
    }
    let specs: Vec<std::path::PathBuf> = walkdir(tree);
    let t = Instant::now();
    let mut failed = 0;
    for spec in &specs {
        let ok = std::process::Command::new("rpmspec")
            .arg("-P")
            .arg(spec)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        failed += usize::from(!ok);
    }
    let rpm = t.elapsed();
    println!(
        "rpmspec -P on {} specs, one at a time: {:.2} s ({failed} failed); forkdebt scan / rpmspec = {:.3} (target <= 0.05)",
        specs.len(),
        rpm.as_secs_f64(),
        scan.as_secs_f64() / rpm.as_secs_f64()
    );
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "spec") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The 600 real Fedora specs of `../shared/corpus/fedora-specs`, each time into a fresh
/// SQLite file: min and median of 5 runs (target: under 1 s on 2 cores).
fn corpus() {
    let corpus =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/fedora-specs");
    let Some(corpus) = corpus.to_str().filter(|_| corpus.is_dir()) else {
        println!("corpus: ../shared/corpus/fedora-specs not found; skipped");
        return;
    };
    let mut runs: Vec<measure::Run> = (0..5)
        .map(|i| {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = format!("sqlite://corpus-{i}.db");
            measure::run(&["--database", &db, "scan", corpus], dir.path())
        })
        .collect();
    runs.sort_by_key(|r| r.wall);
    let (min, median) = (&runs[0], &runs[runs.len() / 2]);
    println!(
        "corpus scan, 600 Fedora specs, fresh SQLite: min {:.3} s, median {:.3} s, peak RSS {:.1} MB",
        min.wall.as_secs_f64(),
        median.wall.as_secs_f64(),
        median.max_rss_kib as f64 / 1024.0
    );
}
