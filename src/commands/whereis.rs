//! `forkdebt whereis REF`: where a fix is — merged? in which upstream release? which of our
//! patches carry it, and what the base distributions ship of those packages.

use super::Context;
use anyhow::bail;
use forkdebt_core::inventory::refs::{self, TextContext};
use forkdebt_core::model::{RefKind, Role};
use forkdebt_core::verdict::{FACT_SOURCES, Facts, ObservationsBySource};
use std::process::ExitCode;

pub async fn run(ctx: &Context, reference: &str) -> anyhow::Result<ExitCode> {
    let text = if reference.starts_with('#') || reference.bytes().all(|b| b.is_ascii_digit()) {
        format!("rhbz#{}", reference.trim_start_matches('#'))
    } else if reference.contains('#') && !reference.contains("://") && !reference.contains(' ') {
        format!("PR {reference}")
    } else {
        reference.to_string()
    };
    let found = refs::extract(&text, &TextContext::new(None, String::new(), Role::Origin));
    let Some(r) = found.into_iter().find(|r| r.kind != RefKind::Ambiguous) else {
        bail!(
            "`{reference}` names no reference forkdebt understands (a PR/MR URL, owner/repo#N, rhbz#N, a commit URL)"
        );
    };
    let store = ctx.store().await?;
    let mut obs = ObservationsBySource::new();
    for source in FACT_SOURCES {
        obs.insert(source.to_string(), store.observations(source).await?);
    }
    let facts = Facts::from_observations(&obs);
    println!(
        "{} {}{}",
        r.kind,
        r.id,
        r.url
            .as_deref()
            .map(|u| format!("  {u}"))
            .unwrap_or_default()
    );
    let mut merge_commit = None;
    match r.kind {
        RefKind::GithubPr | RefKind::GitlabMr | RefKind::PagurePr => {
            match facts.requests.get(&(r.kind, r.id.clone())) {
                Some(f) if f.merged => {
                    merge_commit = f.merge_commit.clone();
                    println!(
                        "  merged{} as {}",
                        f.when
                            .as_deref()
                            .map(|w| format!(" on {w}"))
                            .unwrap_or_default(),
                        f.merge_commit.as_deref().unwrap_or("?")
                    );
                }
                Some(f) if f.open => println!("  open"),
                Some(_) => println!("  closed without merging"),
                None => println!("  not observed yet (run `forkdebt sync`)"),
            }
        }
        RefKind::Rhbz => match facts.bugs.get(&r.id) {
            Some(b) => println!(
                "  {}{}{}",
                b.status,
                b.resolution
                    .as_deref()
                    .map(|x| format!(" {x}"))
                    .unwrap_or_default(),
                b.fixed_in
                    .as_deref()
                    .map(|x| format!(", fixed in {x}"))
                    .unwrap_or_default()
            ),
            None => println!("  not observed yet (run `forkdebt sync`)"),
        },
        RefKind::UpstreamCommit => merge_commit = r.id.rsplit('@').next().map(str::to_string),
        _ => {}
    }
    if let (Some(sha), Some(repo)) = (&merge_commit, r.id.split(['#', '!', '@']).next()) {
        match facts.releases.get(&format!("{repo}@{sha}")) {
            Some(tag) => println!("  first upstream release with it: {tag}"),
            None => println!("  in no upstream release yet (as far as forkdebt has looked)"),
        }
    }
    // Our patches carrying it, and what the base distributions ship of those packages.
    let packages = store.load_packages(None, None).await?;
    store.close().await;
    let mut carried = false;
    for p in &packages {
        for sp in p.carried().filter(|sp| {
            sp.patch
                .refs
                .iter()
                .any(|x| x.kind == r.kind && x.id == r.id)
        }) {
            carried = true;
            println!(
                "  carried by {} {} ({}, {})",
                p.package.name,
                sp.patch.file,
                p.downstream,
                p.package.evr()
            );
            let base = ctx
                .config
                .downstream
                .iter()
                .find(|d| d.name == p.downstream)
                .and_then(|d| d.base.clone());
            if let Some(s) = facts.shipped_by(base.as_deref(), &p.package.name) {
                println!("    {} ships {} ({})", s.distro, s.nvr, s.from);
            }
        }
    }
    if !carried {
        println!("  carried by no patch of ours");
    }
    Ok(ExitCode::SUCCESS)
}
