//! `forkdebt rebase-check PACKAGE [VERSION]`: which carried patches a rebase to an upstream
//! release drops. Each patch whose upstream commit forkdebt knows (named in it, or matched
//! by content in the mirror) is dropped by the rebase when the release's tag contains that
//! commit, or a cherry-pick of it (a stable release: same patch-id or changed lines since
//! the branches diverged), still needed when it does not; a patch that reverts an upstream commit is still
//! needed while the release contains the commit it reverts; anything else is unknown.

use super::Context;
use forkdebt_core::fork::mirror::{self, Mirror};
use forkdebt_core::fork::rebase::{self, Outcome};
use forkdebt_core::git::Git;
use forkdebt_core::report::shown;
use std::process::ExitCode;

pub async fn run(
    ctx: &Context,
    package: &str,
    version: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let found = store.load_packages(None, Some(package)).await?;
    store.close().await;
    let Some(pkg) = found.into_iter().find(|p| p.removed_at.is_none()) else {
        errln!("forkdebt: no package {} has been scanned", shown(package));
        return Ok(ExitCode::FAILURE);
    };
    let project = pkg
        .package
        .upstream
        .as_ref()
        .and_then(forkdebt_core::forge::ForgeProject::of_upstream)
        .and_then(|p| p.project());
    let Some(spec) = project.as_deref().and_then(|p| {
        mirror::configured(&ctx.config)
            .into_iter()
            .find(|m| m.serves(p))
    }) else {
        errln!(
            "forkdebt: {}: no [[upstream]] mirror answers its upstream project; nothing to check against",
            shown(package)
        );
        return Ok(ExitCode::FAILURE);
    };
    let git = Git::detect(Some(ctx.config.user_agent()))?;
    let cache = ctx.config.git.cache_dir();
    let g = git.clone();
    let m: Mirror = tokio::task::spawn_blocking(move || spec.open(&g, &cache)).await??;
    // The release: the one asked for, else the newest.
    let releases = rebase::releases(&git, &m)?;
    let target = match &version {
        Some(v) => releases.iter().find(|(rv, _)| rv == v).cloned(),
        None => releases.last().cloned(),
    };
    let Some((release, tag)) = target else {
        errln!(
            "forkdebt: {}: upstream has no release {} (see `forkdebt tags {}`)",
            shown(package),
            version.as_deref().map_or("at all".to_string(), shown_owned),
            m.project
        );
        return Ok(ExitCode::FAILURE);
    };
    outln!(
        "{} {} -> {release} ({tag}):",
        pkg.package.name,
        pkg.package.version
    )?;
    let patches: Vec<_> = pkg.ours().map(|sp| sp.patch.clone()).collect();
    let (g, t) = (git.clone(), tag.clone());
    let (patches, outcomes) = tokio::task::spawn_blocking(move || {
        let refs: Vec<_> = patches.iter().collect();
        let outcomes = rebase::check(&g, &m, &t, &refs);
        (patches, outcomes)
    })
    .await?;
    let (mut dropped, mut needed, mut unknown) = (0, 0, 0);
    for (patch, outcome) in patches.iter().zip(&outcomes) {
        match outcome {
            Outcome::Dropped { .. } => dropped += 1,
            Outcome::Needed { .. } => needed += 1,
            Outcome::Unknown => unknown += 1,
        }
        outln!("  {}: {}", shown(&patch.file), outcome.text(&tag))?;
    }
    outln!("{dropped} dropped by the rebase, {needed} still needed, {unknown} unknown")?;
    Ok(ExitCode::SUCCESS)
}

fn shown_owned(s: &str) -> String {
    shown(s).into_owned()
}
