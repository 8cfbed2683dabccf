//! `forkdebt rebase-check PACKAGE [VERSION]`: which carried patches a rebase to an upstream
//! release drops. Each patch whose upstream commit forkdebt knows (named in it, or matched
//! by content in the mirror) is dropped by the rebase when the release's tag contains that
//! commit, or a cherry-pick of it (a stable release: same patch-id or changed lines since
//! the branches diverged), still needed when it does not; a patch that reverts an upstream commit is still
//! needed while the release contains the commit it reverts; anything else is unknown.

use super::Context;
use forkdebt_core::fork::mirror::{self, Mirror};
use forkdebt_core::git::Git;
use forkdebt_core::model::{RefKind, Role};
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
    let tags = git.lines(&m.dir, &["tag", "--list"], None)?;
    let mut releases: Vec<(String, String)> = tags
        .iter()
        .filter_map(|t| Some((m.version_of(t)?, t.clone())))
        .collect();
    releases.sort_by(|a, b| forkdebt_core::evr::vercmp(&a.0, &b.0));
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
    let contains = |sha: &str| {
        git.command(&m.dir)
            .args(["merge-base", "--is-ancestor", sha, &tag])
            .status()
            .is_ok_and(|s| s.success())
    };
    // Not an ancestor: was it cherry-picked onto the release's branch (a stable release)?
    // Upstream's commits since the two diverged, on the same files, compared as the
    // matcher compares carried patches: patch-id, then the changed lines.
    let picked = |sha: &str| -> Option<(String, &'static str)> {
        let base = git
            .lines(&m.dir, &["merge-base", sha, &tag], None)
            .ok()?
            .into_iter()
            .next()?;
        let paths = git
            .lines(
                &m.dir,
                &["diff-tree", "--no-commit-id", "--name-only", "-r", sha],
                None,
            )
            .ok()?;
        let range = format!("{base}..{tag}");
        let mut argv = vec!["rev-list", range.as_str(), "--"];
        argv.extend(paths.iter().map(String::as_str));
        let candidates = git.lines(&m.dir, &argv, None).ok()?;
        if candidates.is_empty() {
            return None;
        }
        let mut all = vec![sha.to_string()];
        all.extend(candidates);
        let facts = forkdebt_core::fork::facts::compute(&git, &m.dir, &all).ok()?;
        let me = facts.iter().find(|f| f.sha == sha)?;
        facts.iter().filter(|f| f.sha != sha).find_map(|f| {
            if !me.patch_id.is_empty() && f.patch_id == me.patch_id {
                Some((f.sha.clone(), "same patch-id"))
            } else if !me.content_key.is_empty() && f.content_key == me.content_key {
                Some((f.sha.clone(), "same changed lines"))
            } else {
                None
            }
        })
    };
    let (mut dropped, mut needed, mut unknown) = (0, 0, 0);
    for sp in pkg.ours() {
        let upstream: Vec<(&str, Role)> = sp
            .patch
            .refs
            .iter()
            .filter(|r| r.kind == RefKind::UpstreamCommit && r.role != Role::Related)
            .filter_map(|r| {
                let (p, sha) = r.id.rsplit_once('@')?;
                m.serves(p).then_some((sha, r.role))
            })
            .collect();
        let line = if let Some((sha, _)) = upstream.iter().find(|(_, role)| *role == Role::Reverts)
        {
            needed += 1;
            format!(
                "still needed: it reverts upstream {}{}",
                short(sha),
                if contains(sha) {
                    format!(", which {tag} contains")
                } else {
                    String::new()
                }
            )
        } else if let Some((sha, _)) = upstream.iter().find(|(sha, _)| contains(sha)) {
            dropped += 1;
            format!("dropped by the rebase: upstream {} is in {tag}", short(sha))
        } else if let Some((sha, (pick, how))) = upstream
            .iter()
            .find_map(|(sha, _)| Some((*sha, picked(sha)?)))
        {
            dropped += 1;
            format!(
                "dropped by the rebase: upstream {} was cherry-picked into {tag} as {} ({how})",
                short(sha),
                short(&pick)
            )
        } else if let Some((sha, _)) = upstream.first() {
            needed += 1;
            format!("still needed: upstream {} is not in {tag}", short(sha))
        } else {
            unknown += 1;
            "unknown: no upstream commit is known for it".to_string()
        };
        outln!("  {}: {line}", shown(&sp.patch.file))?;
    }
    outln!("{dropped} dropped by the rebase, {needed} still needed, {unknown} unknown")?;
    Ok(ExitCode::SUCCESS)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

fn shown_owned(s: &str) -> String {
    shown(s).into_owned()
}
