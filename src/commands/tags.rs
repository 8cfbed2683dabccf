//! `forkdebt tags UPSTREAM`: how an `[[upstream]]` tags its releases — the scheme forkdebt
//! inferred from the tags (or the configured `release_tags`), three tags with the versions
//! read from them, and the tags it could not read as a release of this package.

use super::Context;
use forkdebt_core::git::Git;
use std::process::ExitCode;

pub async fn run(ctx: &Context, name: &str) -> anyhow::Result<ExitCode> {
    let Some(spec) = forkdebt_core::fork::mirror::configured(&ctx.config)
        .into_iter()
        .find(|m| {
            m.serves(name)
                || ctx
                    .config
                    .upstream
                    .iter()
                    .any(|u| u.name == name && u.forge.project().is_some_and(|p| m.serves(&p)))
        })
    else {
        errln!(
            "forkdebt: no [[upstream]] or [[fork]] upstream is named {}",
            forkdebt_core::report::shown(name)
        );
        return Ok(ExitCode::FAILURE);
    };
    let git = Git::detect(Some(ctx.config.user_agent()))?;
    let cache = ctx.config.git.cache_dir();
    let g = git.clone();
    let mirror = tokio::task::spawn_blocking(move || spec.open(&g, &cache)).await??;
    let tags = git.lines(&mirror.dir, &["tag", "--list"], None)?;
    match &mirror.scheme {
        Some(s) => outln!(
            "{}: scheme inferred from {} tags: prefix {}",
            mirror.project,
            tags.len(),
            if s.prefix.is_empty() {
                "none (or `v`)".to_string()
            } else {
                format!("`{}`", s.prefix)
            }
        )?,
        None => outln!(
            "{}: release_tags = '{}' (configured)",
            mirror.project,
            mirror.release_tags.as_str()
        )?,
    }
    let mut read: Vec<(String, String)> = Vec::new();
    let mut unread: Vec<String> = Vec::new();
    for t in &tags {
        match mirror.version_of(t) {
            Some(v) => read.push((v, t.clone())),
            None => unread.push(t.clone()),
        }
    }
    read.sort_by(|a, b| forkdebt_core::evr::vercmp(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
    for (v, t) in read.iter().rev().take(3) {
        outln!("  {} read as {v}", forkdebt_core::report::shown(t))?;
    }
    outln!("{} tags are releases", read.len())?;
    if !unread.is_empty() {
        let shown: Vec<String> = unread
            .iter()
            .take(10)
            .map(|t| forkdebt_core::report::shown(t).into_owned())
            .collect();
        outln!(
            "{} tags are not (pre-releases, other components, no version): {}{}",
            unread.len(),
            shown.join(", "),
            if unread.len() > 10 { ", …" } else { "" }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
