//! The scan: every configured downstream (or the folders named), read from its dist-git
//! folders, its dist-git repositories in git and its forks, compared with the base's
//! packaging and the upstream mirrors, and stored — one downstream at a time, each stored
//! whole or not at all.

use crate::{Said, Tell};
use anyhow::{Context as _, bail};
use forkdebt_core::config::{Config, DownstreamConfig, ForkConfig};
use forkdebt_core::inventory::{self, ScanOptions, history};
use forkdebt_core::model::RefKind;
use forkdebt_core::store::Store;
use regex::Regex;
use std::path::PathBuf;

macro_rules! say {
    ($tell:expr, $($arg:tt)*) => {
        $tell(Said::Info(format!($($arg)*)))
    };
}
macro_rules! say_err {
    ($tell:expr, $($arg:tt)*) => {
        $tell(Said::Warn(format!($($arg)*)))
    };
}

/// What to scan, as asked.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Folders to scan instead of the configured ones (then no forks, no git dist-git).
    pub paths: Vec<PathBuf>,
    /// Only this downstream.
    pub downstream: Option<String>,
    /// Also walk each folder's git history for the debt trend.
    pub history: bool,
}

/// How a scan went: everything readable is stored either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Files, repositories or forks that could not be read (their packages keep their
    /// last state).
    pub failures: usize,
}

/// At most this many warnings are printed; all of them are stored with the scan.
const MAX_PRINTED_WARNINGS: usize = 50;

/// The scan, written to `store` (`serve` passes its fenced handle); what it did goes to
/// `tell`.
///
/// # Errors
/// Nothing to scan, a named folder that is not there, or the store fails (what was stored
/// before stays).
pub async fn run(
    config: &Config,
    store: &Store,
    request: Request,
    tell: Tell<'_>,
) -> anyhow::Result<Outcome> {
    let Request {
        paths,
        downstream,
        history: with_history,
    } = request;
    let from_config = paths.is_empty();
    let targets = targets(config, paths, downstream)?;
    let mut unreadable = 0;
    let mut failed_forks = 0;
    let mut failed_repos = 0;
    for (ds, roots, forks) in targets {
        // A folder that is not there would make every patch look dropped: refuse instead.
        for root in &roots {
            if !root.is_dir() {
                bail!(
                    "{}: not a folder; nothing was recorded for downstream {}",
                    root.display(),
                    ds.name
                );
            }
        }
        let opts = ScanOptions {
            macros: ds.macros.clone(),
            release_marker: Regex::new(ds.release_marker()).context("release_marker")?,
            upstreams: config
                .upstream
                .iter()
                .filter_map(|u| Some((u.forge.upstream()?, &u.packages)))
                .flat_map(|(project, names)| {
                    names.iter().map(move |n| (n.clone(), project.clone()))
                })
                .collect(),
        };
        // The SIG's own list of what it carries, when it keeps one.
        let manifest = match &ds.manifest {
            Some(path) => {
                let branch = ds
                    .branch
                    .as_deref()
                    .or_else(|| ds.git.as_ref().and_then(|g| g.branch.as_deref()));
                let m = forkdebt_core::manifest::read(path, branch).with_context(|| {
                    format!("{}: manifest; nothing was recorded for it", ds.name)
                })?;
                say!(
                    tell,
                    "{}: manifest {}: {} packages carried, {} left out (archived, retired or unshipped)",
                    ds.name,
                    path.display(),
                    m.carried.len(),
                    m.left_out.len()
                );
                Some(m.carried)
            }
            None => None,
        };
        let scan_roots = roots.clone();
        let scan_opts = opts.clone();
        let started = std::time::Instant::now();
        let mut inv = if roots.is_empty() {
            inventory::Inventory::default()
        } else {
            tokio::task::spawn_blocking(move || inventory::scan(&scan_roots, &scan_opts))
                .await
                .context("the scan stopped unexpectedly")?
        };
        // Dist-git repositories in git (only when no folders were named on the command line).
        let mut git_bytes = std::collections::HashMap::new();
        let mut git_dirs = Vec::new();
        let mut read_git = false;
        if let (Some(g), true) = (&ds.git, from_config) {
            let started = std::time::Instant::now();
            match crate::distgit::scan_downstream(config, store, &ds, g, &opts, manifest.as_ref())
                .await
            {
                Ok(scan) => {
                    say!(
                        tell,
                        "{}: dist-git in git: {} repositories read, {} failed ({:.2} s, {} git processes so far)",
                        ds.name,
                        scan.repos - scan.failed.len(),
                        scan.failed.len(),
                        started.elapsed().as_secs_f64(),
                        forkdebt_core::git::processes_spawned()
                    );
                    for (name, e) in &scan.failed {
                        say_err!(
                            tell,
                            "forkdebt: {}: repository {}: {}",
                            ds.name,
                            forkdebt_core::report::shown(name),
                            forkdebt_core::report::shown(e)
                        );
                    }
                    failed_repos += scan.failed.len();
                    inv.packages.extend(scan.inventory.packages);
                    inv.warnings.extend(scan.inventory.warnings);
                    inv.unreadable.extend(scan.inventory.unreadable);
                    git_bytes = scan.patch_bytes;
                    git_dirs = scan
                        .dirs
                        .into_iter()
                        .map(|(n, d)| (n, d, scan.branch.clone()))
                        .collect();
                    read_git = true;
                }
                Err(e) => {
                    // Without the group's list nothing says which packages still exist.
                    say_err!(
                        tell,
                        "forkdebt: {}: dist-git in git: {}; nothing was recorded for it",
                        ds.name,
                        forkdebt_core::git::redact_userinfo(&format!("{e:#}"))
                    );
                    failed_repos += 1;
                    continue;
                }
            }
        }
        if let Some(carried) = &manifest {
            inv.packages.retain(|p| carried.contains(&p.name));
        }
        // Ours or inherited: compared with the base's (and packaging_from's) dist-git.
        if !inv.packages.is_empty() && (read_git || !roots.is_empty()) {
            let read_roots = roots.clone();
            let read = move |rel: &str| -> Option<Vec<u8>> {
                git_bytes.get(rel).cloned().or_else(|| {
                    read_roots
                        .iter()
                        .find_map(|r| std::fs::read(r.join(rel)).ok())
                })
            };
            // When our dist-git first had each patch: from the repositories and folders read.
            let mut added = crate::added::FirstAdded::new(
                forkdebt_core::git::Git::detect(Some(config.user_agent())).ok(),
            );
            for (name, dir, branch) in std::mem::take(&mut git_dirs) {
                added.add_repo(None, &name, dir, &branch);
            }
            for root in &roots {
                added.add_folder(root);
            }
            match crate::distgit::decide_origins(config, &ds, &mut inv, &read, added, &opts).await {
                Ok(Some(n)) => say!(
                    tell,
                    "{}: {n} patches are the base distribution's or Fedora's, not ours",
                    ds.name
                ),
                Ok(None) => {}
                Err(e) => say_err!(
                    tell,
                    "warning: {}: comparing with the base's dist-git: {}",
                    ds.name,
                    forkdebt_core::git::redact_userinfo(&format!("{e:#}"))
                ),
            }
        }
        tracing::info!(downstream = %ds.name, elapsed = ?started.elapsed(), "read specs and patches");
        if !roots.is_empty() {
            let (back, matched) = crate::forks::match_files(config, store, inv, &roots).await;
            inv = back;
            match matched {
                Ok(Some(m)) => say!(
                    tell,
                    "{}: upstream git mirrors: {} patch files are upstream commits by patch-id, {} by their changed lines, {} by subject and author ({} to revisit); {} revert an upstream commit; {} header shas upstream never had, {} confirmed on its branches; {} upstream commits over {} files left out",
                    ds.name,
                    m.by_patch_id,
                    m.by_content,
                    m.by_subject,
                    m.revisit,
                    m.reverts,
                    m.not_upstream,
                    m.confirmed,
                    m.huge,
                    forkdebt_core::fork::facts::MAX_FILES_PER_CANDIDATE
                ),
                Ok(None) => {}
                // The patches are stored as scanned; only the content match is missing.
                Err(e) => say_err!(
                    tell,
                    "warning: {}: matching patch files against upstream git: {}",
                    ds.name,
                    forkdebt_core::git::redact_userinfo(&format!("{e:#}"))
                ),
            }
        }
        say_unknown_upstreams(&inv, &ds.name, &mut *tell);
        let mut fork_failed = false;
        for f in &forks {
            let started = std::time::Instant::now();
            match crate::forks::scan(config, store, f).await {
                Ok(scanned) => {
                    let st = scanned.stats;
                    say!(
                        tell,
                        "{}: fork {} ({}, {} branches): {} carried commits ({} matched upstream, {} revisit, {} local-only, {} missing upstream fixes); {} upstream candidates; {} patch-ids computed ({:.2} s)",
                        ds.name,
                        f.name,
                        forkdebt_core::report::shown(&scanned.branch),
                        st.branches,
                        st.carried,
                        st.matched,
                        st.revisit,
                        st.local_only,
                        st.missing_fixes,
                        st.upstream_candidates,
                        st.computed,
                        started.elapsed().as_secs_f64()
                    );
                    crate::forks::merge_into(&mut inv, scanned);
                }
                Err(e) => {
                    // Its carried commits keep their last state; the others go on.
                    say_err!(
                        tell,
                        "forkdebt: fork {}: {}",
                        f.name,
                        forkdebt_core::git::redact_userinfo(&format!("{e:#}"))
                    );
                    fork_failed = true;
                }
            }
        }
        if fork_failed {
            inv.forks_read = false;
            failed_forks += 1;
        }
        if roots.is_empty() && !inv.forks_read && !read_git {
            continue; // nothing was read: everything stored stays as it was
        }
        for w in inv.warnings.iter().take(MAX_PRINTED_WARNINGS) {
            // File names and spec text are not ours: escape control characters.
            say_err!(
                tell,
                "warning: {}",
                forkdebt_core::report::shown(&w.to_string())
            );
        }
        if inv.warnings.len() > MAX_PRINTED_WARNINGS {
            say_err!(
                tell,
                "warning: ... and {} more",
                inv.warnings.len() - MAX_PRINTED_WARNINGS
            );
        }
        store
            .set_downstream_base(&ds.name, ds.base.as_deref())
            .await?;
        let started = std::time::Instant::now();
        let s = store
            .apply_inventory(&ds.name, &inv, chrono::Utc::now())
            .await?;
        tracing::info!(downstream = %ds.name, elapsed = ?started.elapsed(), "stored the scan");
        inventory::phases::add(inventory::phases::Phase::Store, started.elapsed());
        if !roots.is_empty() {
            let abs: Vec<String> = roots
                .iter()
                .filter_map(|r| r.canonicalize().ok())
                .map(|r| r.display().to_string())
                .collect();
            store.set_downstream_roots(&ds.name, &abs).await?;
        }
        say!(
            tell,
            "{}: {} packages, {} patches ({} new, {} changed, {} unchanged, {} dropped), {} deviations, {} warnings",
            ds.name,
            s.packages,
            s.patches,
            s.added,
            s.changed,
            s.unchanged,
            s.dropped,
            inv.deviations.len(),
            s.warnings
        );
        if !inv.unreadable.is_empty() {
            unreadable += inv.unreadable.len();
            say_err!(
                tell,
                "forkdebt: {}: {} file(s) or folder(s) could not be read ({}); {} package(s) keep their last state",
                ds.name,
                inv.unreadable.len(),
                inv.unreadable
                    .iter()
                    .take(5)
                    .map(|u| forkdebt_core::report::shown(u).into_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
                s.kept_unreadable
            );
        }
        if with_history {
            for root in &roots {
                let macros = opts.macros.clone();
                let dir = root.clone();
                let walked = tokio::task::spawn_blocking(move || {
                    let mut w = Vec::new();
                    history::walk(&dir, &macros, &mut w).map(|p| (p, w))
                })
                .await
                .context("the history walk stopped unexpectedly")?;
                match walked {
                    Ok((points, _spec_warnings)) => {
                        let n = store.record_history(&ds.name, &points).await?;
                        say!(
                            tell,
                            "{}: history of {}: {} points ({} new)",
                            ds.name,
                            root.display(),
                            points.len(),
                            n
                        );
                    }
                    Err(e) => say_err!(tell, "warning: --history skipped: {e}"),
                }
            }
        }
    }
    let started = std::time::Instant::now();
    store.snapshot_debt(chrono::Utc::now()).await?;
    inventory::phases::add(inventory::phases::Phase::Store, started.elapsed());
    // FORKDEBT_SCAN_PHASES=1 (the scan benchmark): CPU time per phase.
    if let Some(phases) = inventory::phases::report() {
        say!(tell, "phases (CPU, all threads): {phases}");
    }
    // Everything readable is stored; what could not be read fails the scan.
    Ok(Outcome {
        failures: unreadable + failed_forks + failed_repos,
    })
}

/// What to scan: downstreams with their folders and forks.
type Target = (DownstreamConfig, Vec<PathBuf>, Vec<ForkConfig>);

/// Which downstreams to scan, with which folders and forks. Folders on the command line scan
/// only those (no forks); without them every configured folder and fork is scanned.
fn targets(
    config: &Config,
    paths: Vec<PathBuf>,
    downstream: Option<String>,
) -> anyhow::Result<Vec<Target>> {
    let configured = &config.downstream;
    let by_name = |name: &str| configured.iter().find(|d| d.name == name).cloned();
    if !paths.is_empty() {
        let ds = match downstream {
            Some(name) => by_name(&name).unwrap_or_else(|| unconfigured(&name)),
            None if configured.len() == 1 => configured[0].clone(),
            None => unconfigured("default"),
        };
        return Ok(vec![(ds, paths, Vec::new())]);
    }
    let mut chosen: Vec<DownstreamConfig> = match &downstream {
        Some(name) => vec![
            by_name(name)
                .or_else(|| {
                    config
                        .downstream_forks()
                        .any(|f| crate::forks::downstream_of(config, f) == *name)
                        .then(|| unconfigured(name))
                })
                .with_context(|| format!("no [[downstream]] named `{name}` in the config"))?,
        ],
        None => configured.clone(),
    };
    // Forks whose downstream is not configured get one named after them.
    if downstream.is_none() {
        for f in config.downstream_forks() {
            let name = crate::forks::downstream_of(config, f);
            if !chosen.iter().any(|d| d.name == name) {
                chosen.push(unconfigured(&name));
            }
        }
    }
    let out: Vec<Target> = chosen
        .into_iter()
        .map(|d| {
            let forks: Vec<ForkConfig> = config
                .downstream_forks()
                .filter(|f| crate::forks::downstream_of(config, f) == d.name)
                .cloned()
                .collect();
            let p = d.paths.clone();
            (d, p, forks)
        })
        .filter(|(d, p, f)| !p.is_empty() || !f.is_empty() || d.git.is_some())
        .collect();
    if out.is_empty() {
        bail!(
            "nothing to scan: give folders (forkdebt scan DIR...) or set `paths` of a [[downstream]] or a [[fork]] in the config"
        );
    }
    Ok(out)
}

fn unconfigured(name: &str) -> DownstreamConfig {
    DownstreamConfig {
        name: name.to_string(),
        paths: Vec::new(),
        base: None,
        release_marker: None,
        macros: Default::default(),
        branch: None,
        git: None,
        packaging_from: Vec::new(),
        manifest: None,
        koji_url: None,
        tags: Vec::new(),
    }
}

/// Packages that name no forge project while their patches need one: their bare `#N` stay
/// ambiguous and their commit ids cannot be looked up. Said once per scan, naming them and
/// the fix.
fn say_unknown_upstreams(inv: &inventory::Inventory, downstream: &str, tell: Tell<'_>) {
    let unknown: Vec<&str> = inv
        .packages
        .iter()
        // Only where knowing the project would settle something: a bare number left
        // ambiguous, a commit id with no project to look it up in.
        .filter(|p| {
            p.patches.iter().flat_map(|x| &x.refs).any(|r| {
                r.kind == RefKind::Ambiguous
                    || (r.kind == RefKind::UpstreamCommit && !r.id.contains('@'))
            })
        })
        .filter(|p| {
            p.upstream
                .as_ref()
                .and_then(forkdebt_core::forge::ForgeProject::of_upstream)
                .is_none()
        })
        .map(|p| p.name.as_str())
        .collect();
    if unknown.is_empty() {
        return;
    }
    const SHOWN: usize = 10;
    let more = unknown.len().saturating_sub(SHOWN);
    say!(
        tell,
        "{downstream}: no upstream known for {}{}: their URL and sources name no forge project; \
         name it in an [[upstream]] `packages` list (or a forge URL in the spec)",
        unknown[..unknown.len().min(SHOWN)].join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
}
