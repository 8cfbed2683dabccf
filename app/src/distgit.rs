//! Dist-git where it lives: the repositories of a `[[downstream]] git` group (or list),
//! mirrored and read from git objects with bounded parallelism; and the same packages in the
//! base distribution's (and `packaging_from`'s) dist-git, to tell inherited patches from ours.

use crate::added::FirstAdded;
use anyhow::Context as _;
use forkdebt_core::config::Config;
use forkdebt_core::config::{DistgitConfig, DownstreamConfig};
use forkdebt_core::distgit::{self, RepoScan};
use forkdebt_core::git::{Git, redact_userinfo};
use forkdebt_core::inventory::{Inventory, ScanOptions};
use forkdebt_core::origin::{self, BasePatches};
use forkdebt_core::store::{SourceRun, Store};
use std::collections::HashMap;
use std::sync::Arc;

/// Repositories read at once (each is a fetch and two git processes).
const PARALLEL: usize = 4;
/// Fetches from one host at once, as the HTTP layer allows per host.
const PER_HOST: usize = 2;

fn git_for(config: &Config) -> anyhow::Result<Git> {
    Ok(Git::detect(Some(config.user_agent()))?)
}

/// `(package name, repository)` of a dist-git location.
pub async fn repos_of(
    config: &Config,
    g: &DistgitConfig,
) -> anyhow::Result<Vec<(String, String, Option<String>)>> {
    if !g.repos.is_empty() {
        return Ok(g
            .repos
            .iter()
            .map(|r| (forkdebt_scrapers::forges::repo_name(r), r.clone(), None))
            .collect());
    }
    let (Some(kind), Some(url), Some(group)) = (&g.forge, &g.url, &g.group) else {
        anyhow::bail!("a dist-git group needs forge, url and group");
    };
    let forge = forkdebt_scrapers::forges::forge(*kind, url)
        .with_context(|| format!("dist-git is not read from {kind}"))?;
    let http = forkdebt_scrapers::http::Http::new(forkdebt_scrapers::sync::http_options(config))?;
    let listed = forge
        .list_repos(&http, group)
        .await
        .map_err(|e| anyhow::anyhow!("listing {group} on {url}: {e}"))?;
    Ok(listed
        .into_iter()
        .map(|r| (r.name, r.clone_url, r.updated))
        .collect())
}

fn host_of(repo: &str) -> String {
    url::Url::parse(repo)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| format!("{h}:{}", u.port().unwrap_or(0)))
        })
        .unwrap_or_default()
}

/// How long the base's packaging is trusted without fetching it again (it changes at the
/// base's own rebases; our packages changing makes it be fetched again anyway).
const BASE_REFRESH_SECS: i64 = 24 * 3600;

/// A repository's last scan, kept in the cache folder: a rescan with nothing new neither
/// fetches (the forge's activity time is unchanged) nor reads objects (the tip is unchanged).
#[derive(serde::Serialize, serde::Deserialize)]
struct ScanCache {
    /// forkdebt version, branch and scan options: another key is another scan.
    key: String,
    updated: Option<String>,
    fetched_at: i64,
    commit: String,
    scan: RepoScan,
    patch_text: HashMap<String, String>,
}

fn cache_key(branch: &str, opts: &ScanOptions) -> String {
    let mut macros: Vec<_> = opts.macros.iter().collect();
    macros.sort();
    format!(
        "{}|{branch}|{macros:?}|{}",
        env!("CARGO_PKG_VERSION"),
        opts.release_marker.as_str()
    )
}

fn cache_file(cache_dir: &std::path::Path, repo: &str) -> std::path::PathBuf {
    forkdebt_core::git::mirror_path(repo, &cache_dir.join("scans")).with_extension("scan.json")
}

/// One repository: from the cache when nothing can have changed, else fetched and read.
#[allow(clippy::too_many_arguments)]
fn read_one(
    git: &Git,
    cache_dir: &std::path::Path,
    name: &str,
    repo: &str,
    updated: Option<&str>,
    branch: &str,
    base: bool,
    opts: &ScanOptions,
) -> Result<RepoScan, forkdebt_core::git::GitError> {
    let file = cache_file(cache_dir, repo);
    let key = cache_key(branch, opts);
    let now = chrono::Utc::now().timestamp();
    let cached: Option<ScanCache> = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|c: &ScanCache| c.key == key);
    let restore = |c: ScanCache| {
        let mut scan = c.scan;
        scan.patch_bytes = c
            .patch_text
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect();
        scan
    };
    let unchanged = cached.as_ref().is_some_and(|c| {
        if base {
            now - c.fetched_at < BASE_REFRESH_SECS
        } else {
            updated.is_some() && c.updated.as_deref() == updated
        }
    });
    if unchanged && let Some(c) = cached {
        return Ok(restore(c));
    }
    let dir = distgit::open_branch(git, repo, cache_dir, branch, base)?;
    let tip = distgit::tip(git, &dir, branch);
    let scan = match cached {
        Some(c) if tip.as_deref() == Some(c.commit.as_str()) => restore(c),
        _ => distgit::scan_repo(git, &dir, name, branch, opts, true)?,
    };
    if let Some(commit) = scan.commit.clone() {
        let mut stored = scan.clone();
        let patch_text = std::mem::take(&mut stored.patch_bytes)
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let c = ScanCache {
            key,
            updated: updated.map(str::to_string),
            fetched_at: now,
            commit,
            scan: stored,
            patch_text,
        };
        if let Some(parent) = file.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        // A cache that cannot be written only costs the next scan a fetch.
        if let Ok(bytes) = serde_json::to_vec(&c) {
            let tmp = file.with_extension("tmp");
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, &file);
            }
        }
    }
    Ok(scan)
}

/// Reads every repository of `repos` (name, URL, forge activity time) at `branch`:
/// `(name, repository, scan or error)`.
async fn read_all(
    config: &Config,
    git: &Git,
    repos: Vec<(String, String, Option<String>)>,
    branch: &str,
    base: bool,
    opts: &ScanOptions,
) -> Vec<(String, String, Result<RepoScan, String>)> {
    let cache_dir = config.git.cache_dir();
    let all = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut per_host: HashMap<String, Arc<tokio::sync::Semaphore>> = HashMap::new();
    let retries = config.sources.max_retries.unwrap_or(2);
    let backoff_ms = config.sources.backoff_min_ms.unwrap_or(500);
    let mut tasks = Vec::new();
    for (name, repo, updated) in repos {
        let host = per_host
            .entry(host_of(&repo))
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PER_HOST)))
            .clone();
        let all = all.clone();
        let (git, cache_dir, branch, opts) = (
            git.clone(),
            cache_dir.clone(),
            branch.to_string(),
            opts.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _a = all.acquire_owned().await;
            let _h = host.acquire_owned().await;
            let mut attempt = 0;
            let result = loop {
                let (g, c, b, r, n, o, u) = (
                    git.clone(),
                    cache_dir.clone(),
                    branch.clone(),
                    repo.clone(),
                    name.clone(),
                    opts.clone(),
                    updated.clone(),
                );
                let got = tokio::task::spawn_blocking(move || {
                    read_one(&g, &c, &n, &r, u.as_deref(), &b, base, &o)
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| redact_userinfo(&e.to_string())));
                match got {
                    Err(_) if attempt < retries => {
                        // Backoff as the HTTP layer does: doubling from backoff_min_ms.
                        attempt += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(
                            backoff_ms.saturating_mul(1 << attempt.min(6)),
                        ))
                        .await;
                    }
                    other => break other,
                }
            };
            (name, repo, result)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        if let Ok(r) = t.await {
            out.push(r);
        }
    }
    out
}

/// What reading a downstream's git dist-git gave.
pub struct GitScan {
    pub inventory: Inventory,
    pub repos: usize,
    pub failed: Vec<(String, String)>,
    /// Patch contents by shown path (for the origin comparison).
    pub patch_bytes: HashMap<String, Vec<u8>>,
    /// The git folder of each repository read, by name, and the branch read.
    pub dirs: Vec<(String, std::path::PathBuf)>,
    pub branch: String,
}

/// The git folder `spec` is read from: a local repository's own, or its mirror.
fn git_dir(git: &Git, spec: &str, cache_dir: &std::path::Path) -> Option<std::path::PathBuf> {
    match forkdebt_core::git::RepoSpec::parse(spec) {
        forkdebt_core::git::RepoSpec::Local(_) => {
            forkdebt_core::git::open_repository(git, spec, cache_dir).ok()
        }
        forkdebt_core::git::RepoSpec::Remote(url) => {
            Some(forkdebt_core::git::mirror_path(&url, cache_dir))
        }
    }
}

/// Reads the downstream's dist-git repositories. A repository that fails is an error of its
/// own (listed by `forkdebt sources`) and its packages keep their last state.
///
/// # Errors
/// The group could not be listed (then nothing is known about which packages exist).
pub async fn scan_downstream(
    config: &Config,
    store: &Store,
    ds: &DownstreamConfig,
    g: &DistgitConfig,
    opts: &ScanOptions,
    carried: Option<&std::collections::BTreeSet<String>>,
) -> anyhow::Result<GitScan> {
    let git = git_for(config)?;
    let branch = ds
        .branch
        .clone()
        .or_else(|| g.branch.clone())
        .context("no dist-git branch configured")?;
    let mut repos = repos_of(config, g).await?;
    // Archived and retired repositories of the group are not read at all.
    if let Some(carried) = carried {
        repos.retain(|(name, _, _)| carried.contains(name));
    }
    let n = repos.len();
    let read = read_all(config, &git, repos, &branch, false, opts).await;
    let mut inv = Inventory::default();
    let mut failed = Vec::new();
    let mut patch_bytes = HashMap::new();
    let mut dirs = Vec::new();
    let cache_dir = config.git.cache_dir();
    let now = chrono::Utc::now();
    for (name, repo, result) in read {
        let mut run = SourceRun {
            items: 1,
            requests: 1,
            ..SourceRun::default()
        };
        match result {
            Ok(scan) => {
                inv.packages.extend(scan.packages);
                inv.warnings.extend(scan.warnings);
                patch_bytes.extend(scan.patch_bytes);
                dirs.extend(git_dir(&git, &repo, &cache_dir).map(|d| (name.clone(), d)));
            }
            Err(e) => {
                let e = format!("{}: {e}", redact_userinfo(&repo));
                run.errors = 1;
                run.error = Some(e.clone());
                inv.unreadable.push(name.clone());
                failed.push((name.clone(), e));
            }
        }
        store
            .record_named_run(&format!("distgit {}/{name}", ds.name), &run, now)
            .await?;
    }
    Ok(GitScan {
        inventory: inv,
        repos: n,
        failed,
        patch_bytes,
        dirs,
        branch,
    })
}

/// The patches of `packages` in a distribution's dist-git (`None` when it has none
/// configured). Packages it does not have are simply absent.
pub async fn base_patches(
    config: &Config,
    distro: &str,
    packages: &[String],
    opts: &ScanOptions,
    added: &mut FirstAdded,
) -> anyhow::Result<Option<BasePatches>> {
    let Some(d) = config.distro.iter().find(|d| d.name == distro) else {
        return Ok(None);
    };
    let Some(g) = &d.distgit else {
        return Ok(None);
    };
    let branch = g.branch.clone().unwrap_or_else(|| "main".into());
    let repos: Vec<(String, String, Option<String>)> = packages
        .iter()
        .filter_map(|p| {
            if !g.repos.is_empty() {
                return forkdebt_scrapers::forges::repo_named(&g.repos, p)
                    .map(|r| (p.clone(), r.clone(), None));
            }
            let forge = forkdebt_scrapers::forges::forge(g.forge?, g.url.as_deref()?)?;
            Some((p.clone(), forge.repo_url(g.group.as_deref()?, p), None))
        })
        .collect();
    let git = git_for(config)?;
    let read = read_all(config, &git, repos, &branch, true, opts).await;
    let mut base = BasePatches::new(distro, &branch);
    let cache_dir = config.git.cache_dir();
    for (name, repo, result) in read {
        // A package the base does not have (or cannot be read) inherits nothing.
        if let Ok(scan) = result {
            base.add(&name, &scan);
            if let Some(dir) = git_dir(&git, &repo, &cache_dir) {
                added.add_repo(Some(distro), &name, dir, &branch);
            }
        }
    }
    Ok(Some(base))
}

/// Decides every patch's origin: inherited from the base, from Fedora, or ours (also when
/// the base took it after us: `added` knows our dist-git's dates, and learns the bases').
pub async fn decide_origins(
    config: &Config,
    ds: &DownstreamConfig,
    inv: &mut Inventory,
    read: &(dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync),
    mut added: FirstAdded,
    opts: &ScanOptions,
) -> anyhow::Result<Option<usize>> {
    let names: Vec<String> = inv.packages.iter().map(|p| p.name.clone()).collect();
    let mut bases = Vec::new();
    for distro in ds.base.iter().chain(&ds.packaging_from) {
        if let Some(b) = base_patches(config, distro, &names, opts, &mut added).await? {
            bases.push((distro.as_str() == ds.base.as_deref().unwrap_or(""), b));
        }
    }
    if bases.is_empty() {
        return Ok(None);
    }
    // Reads git history in place, once per repository that has a patch in common with a
    // base (a few, at most one per package): short enough not to need a blocking thread.
    let inv_added = |distro: Option<&str>, shown: &str| added.first_added(distro, shown);
    Ok(Some(origin::decide(inv, read, &inv_added, &bases)))
}
