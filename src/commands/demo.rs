//! `forkdebt demo`: the offline quick start. Scans the sample dist-git shipped in the
//! repository into a fresh SQLite file and shows what a maintainer would look at first.
//! It grows with the project: upstream sync and verdicts join it as they land.

use super::Context;
use anyhow::{Context as _, bail};
use forkdebt_core::inventory::{self, ScanOptions};
use forkdebt_core::model::RefKind;
use forkdebt_core::report;
use forkdebt_core::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

/// The demo's own database, rebuilt on every run so its output is always the same.
const DEMO_DB_FILE: &str = "forkdebt-demo.db";

fn default_sample() -> PathBuf {
    let local = PathBuf::from("sample/distgit");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample/distgit")
}

pub async fn run(_ctx: &Context, sample: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let sample = sample.unwrap_or_else(default_sample);
    if !sample.is_dir() {
        bail!(
            "{}: the sample dist-git is not there (run from the repository, or pass --sample DIR)",
            sample.display()
        );
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{DEMO_DB_FILE}{suffix}"));
    }
    let url = format!("sqlite://{DEMO_DB_FILE}");
    let store = Store::open(&url).await?;
    println!(
        "== Scanning {} (offline, into {DEMO_DB_FILE})\n",
        sample.display()
    );
    let roots = vec![sample.clone()];
    let inv = tokio::task::spawn_blocking(move || inventory::scan(&roots, &ScanOptions::default()))
        .await
        .context("the scan stopped unexpectedly")?;
    let s = store
        .apply_inventory("demo", &inv, chrono::Utc::now())
        .await?;
    println!(
        "{} packages, {} carried patches, {} policy deviations, {} warnings (bare diffs nothing names the origin of, for example: `forkdebt scan` prints them)\n",
        s.packages,
        s.patches,
        inv.deviations.len(),
        s.warnings
    );
    let packages = store.load_packages(Some("demo"), None).await?;
    println!(
        "== Fork debt per package\n\n{}\n",
        report::table_text(&packages)
    );

    let all: Vec<_> = packages
        .iter()
        .flat_map(|p| p.carried().map(move |x| (p, x)))
        .collect();
    let refs: usize = all.iter().map(|(_, x)| x.patch.refs.len()).sum();
    let ambiguous: Vec<String> = all
        .iter()
        .flat_map(|(p, x)| {
            x.patch
                .refs
                .iter()
                .filter(|r| r.kind == RefKind::Ambiguous)
                .map(move |r| {
                    format!(
                        "  {} {}: {} ({})",
                        p.package.name,
                        x.patch.file,
                        r.id,
                        r.note.as_deref().unwrap_or("")
                    )
                })
        })
        .collect();
    println!(
        "== {refs} upstream references found; {} ambiguous, kept rather than guessed:",
        ambiguous.len()
    );
    for a in &ambiguous {
        println!("{a}");
    }
    println!("\n== One package in detail: forkdebt show systemd\n");
    if let Some(p) = packages.iter().find(|p| p.package.name == "systemd") {
        print!("{}", report::show_text(p));
    }
    println!("\nNext: forkdebt --database {url} report --format json | show PACKAGE");
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
