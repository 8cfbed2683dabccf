//! Chat answers benchmark: a store of 100,000 carried patches (10,000 packages), a tenth of
//! them decided droppable by the engine, then the router's answers to `debt`, `debt
//! PACKAGE`, `droppable`, `why` and `whereis`, 1,000 calls each: p50 and p99 latency.
//! Target: p99 < 50 ms for every command.
//!
//! Run with `cargo bench --bench chat_answers`; `FORKDEBT_BENCH_PACKAGES` changes the size.

use forkdebt_bot::router::{Asked, Router};
use forkdebt_core::config::Config;
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, Store};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "measure.rs"]
mod measure;

const PATCHES_PER_PACKAGE: usize = 10;
const CALLS: usize = 1000;

fn generate(root: &Path, packages: usize) {
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let packages: usize = std::env::var("FORKDEBT_BENCH_PACKAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let temp = tempfile::tempdir().expect("tempdir");
    let root = temp.path();
    let t = Instant::now();
    generate(&root.join("distgit"), packages);
    std::fs::write(
        root.join("forkdebt.toml"),
        "database = \"sqlite://bench.db\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"c9s\"\n[[distro]]\nname = \"c9s\"\n",
    )
    .expect("config");
    let scan = measure::run(&["--config", "forkdebt.toml", "scan"], root);
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let url = format!("sqlite://{}", root.join("bench.db").display());
        let store = Store::open(&url).await.expect("open");
        // Every tenth package: its first PR merged, released, and shipped by c9s.
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
            store.record_outcomes(Dataset::Github, &prs, chrono::Utc::now()).await.expect("prs");
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
            store.record_outcomes(Dataset::GithubRelease, &tags, chrono::Utc::now()).await.expect("tags");
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
            store.record_outcomes(Dataset::Koji, &builds, chrono::Utc::now()).await.expect("koji");
        }
        println!("{} patches decided droppable in {:.1?}", decided.len(), t.elapsed());

        let router = Router::new(store.clone(), Arc::new(Config::default()), None);
        let asked = Asked {
            sender: "bench".into(),
            in_channel: false,
            destination: "irc:bench".into(),
        };
        type Question = Box<dyn Fn(usize) -> String>;
        let commands: Vec<(&str, Question)> = vec![
            ("debt", Box::new(|_| "!debt".to_string())),
            ("debt PACKAGE", Box::new(move |i| format!("!debt pkg{}", (i * 7) % packages))),
            ("droppable", Box::new(|_| "!droppable".to_string())),
            ("why", Box::new(move |i| format!("!why pkg{} {}", (i * 13) % packages, i % 10))),
            (
                "whereis",
                Box::new(move |i| format!("!whereis org{}/proj#100", ((i * 10) % packages))),
            ),
        ];
        println!("{:14} {:>10} {:>10} {:>10}  (over {CALLS} calls, private replies)", "command", "p50", "p99", "max");
        for (name, text) in &commands {
            let mut times = Vec::with_capacity(CALLS);
            let mut lines = 0;
            for i in 0..CALLS {
                let t = Instant::now();
                let reply = router.handle(&asked, &text(i)).await.expect("a reply");
                times.push(t.elapsed());
                lines += reply.len();
            }
            times.sort();
            println!(
                "{name:14} {:>8.2}ms {:>8.2}ms {:>8.2}ms  ({:.1} lines per reply)",
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.99).as_secs_f64() * 1e3,
                times[times.len() - 1].as_secs_f64() * 1e3,
                lines as f64 / CALLS as f64
            );
        }
        store.close().await;
    });
}
