//! Reading the `[[fork]]` branches for `forkdebt scan`: mirrors, the workspace, the fork
//! scan itself (blocking git work off the async runtime) and its cache in the store.

use anyhow::Context as _;
use forkdebt_core::config::Config;
use forkdebt_core::config::ForkConfig;
use forkdebt_core::fork::{self, ForkScan, ForkSpec, Repos};
use forkdebt_core::git::{self, Git};
use forkdebt_core::inventory::{Inventory, project};
use forkdebt_core::model::Package;
use forkdebt_core::store::Store;
use regex::Regex;

/// The downstream a fork's debt belongs to: its `downstream`, else the only configured one,
/// else one named after the fork.
pub fn downstream_of(config: &Config, f: &ForkConfig) -> String {
    f.downstream
        .clone()
        .unwrap_or_else(|| match config.downstream.as_slice() {
            [only] => only.name.clone(),
            _ => f.name.clone(),
        })
}

/// Scans one fork and caches what git computed.
pub async fn scan(config: &Config, store: &Store, f: &ForkConfig) -> anyhow::Result<ForkScan> {
    let git = Git::detect(Some(config.user_agent()))?;
    let cache = store.fork_cache(&git.version).await?;
    let cache_dir = config.git.cache_dir();
    let spec = ForkSpec {
        name: f.name.clone(),
        package: f.package.clone(),
        branches: f.branches.clone(),
        upstream_branch: f.upstream_branch.clone(),
        release_tags: Regex::new(f.release_tags()).context("release_tags")?,
        backports_file: f.backports_file.clone(),
        upstream_project: project::from_url(&f.upstream),
    };
    let (repo, upstream, name) = (
        f.repo.clone(),
        f.upstream_repo(config).to_string(),
        f.name.clone(),
    );
    let g = git.clone();
    let scanned = tokio::task::spawn_blocking(move || -> anyhow::Result<ForkScan> {
        let fork_dir = git::open_repository(&g, &repo, &cache_dir)
            .with_context(|| format!("repo {}", git::redact_userinfo(&repo)))?;
        let up_dir = git::open_repository(&g, &upstream, &cache_dir)
            .with_context(|| format!("upstream {}", git::redact_userinfo(&upstream)))?;
        let ws = git::workspace(
            &g,
            &cache_dir.join("forks").join(safe_name(&name)),
            &[&fork_dir, &up_dir],
        )?;
        let repos = Repos {
            fork: fork_dir,
            upstream: up_dir,
            workspace: ws,
        };
        Ok(fork::scan(&g, &repos, &spec, &cache)?)
    })
    .await
    .context("the fork scan stopped unexpectedly")??;
    store
        .save_fork_cache(
            &git.version,
            &scanned.new_facts,
            &scanned.new_releases,
            &scanned.new_proofs,
        )
        .await?;
    Ok(scanned)
}

fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{s}.git")
}

/// Puts a fork's carried commits into the downstream's inventory: beside the dist-git
/// package of the same name when there is one, else as a package of their own.
pub fn merge_into(inv: &mut Inventory, scanned: ForkScan) {
    inv.forks_read = true;
    inv.warnings.extend(scanned.warnings);
    let ForkScan {
        package,
        backports_refs,
        ..
    } = scanned;
    match inv.packages.iter_mut().find(|p| p.name == package.name) {
        Some(existing) => {
            let taken: std::collections::HashSet<String> =
                existing.patches.iter().map(|p| p.file.clone()).collect();
            for mut p in package.patches {
                if taken.contains(&p.file) {
                    p.file = format!("{} [commit]", p.file);
                }
                existing.patches.push(p);
            }
            existing.changelog_refs.extend(backports_refs);
            if existing.upstream.is_none() {
                existing.upstream = package.upstream;
            }
        }
        None => {
            let mut p: Package = package;
            p.changelog_refs.extend(backports_refs);
            inv.packages.push(p);
        }
    }
}

/// Matches the dist-git patch files of `inv` against the upstream mirrors of their packages'
/// projects (`[[upstream]]`, forks' upstreams). `None` when no package has one.
pub async fn match_files(
    config: &Config,
    store: &Store,
    inv: Inventory,
    roots: &[std::path::PathBuf],
) -> (
    Inventory,
    anyhow::Result<Option<forkdebt_core::fork::files::FileMatches>>,
) {
    let specs: Vec<_> = forkdebt_core::fork::mirror::configured(config)
        .into_iter()
        .filter(|m| {
            inv.packages.iter().any(|p| {
                p.upstream
                    .as_ref()
                    .and_then(forkdebt_core::forge::ForgeProject::of_upstream)
                    .and_then(|p| p.project())
                    .is_some_and(|p| m.serves(&p))
            })
        })
        .collect();
    if specs.is_empty() {
        return (inv, Ok(None));
    }
    let git = match Git::detect(Some(config.user_agent())) {
        Ok(g) => g,
        Err(e) => return (inv, Err(e.into())),
    };
    let cache = match store.fork_cache(&git.version).await {
        Ok(c) => c,
        Err(e) => return (inv, Err(e.into())),
    };
    let cache_dir = config.git.cache_dir();
    let roots = roots.to_vec();
    let g = git.clone();
    // Kept in case the matcher panics: the scan must still store what it read.
    let fallback = inv.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut inv = inv;
        let result = (|| {
            let mirrors = specs
                .iter()
                .map(|s| s.open(&g, &cache_dir))
                .collect::<Result<Vec<_>, _>>()?;
            forkdebt_core::fork::files::match_patch_files(&g, &mut inv, &roots, &mirrors, &cache)
        })();
        (inv, result)
    })
    .await;
    let (inv, result) = match joined {
        Ok(x) => x,
        Err(e) => {
            return (
                fallback,
                Err(anyhow::anyhow!(
                    "matching patch files stopped unexpectedly: {e}"
                )),
            );
        }
    };
    let (mut inv, mut m) = match result {
        Ok(m) => (inv, m),
        Err(e) => return (inv, Err(e.into())),
    };
    inv.warnings.append(&mut m.warnings);
    if let Err(e) = store
        .save_fork_cache(&git.version, &m.new_facts, &[], &[])
        .await
    {
        return (inv, Err(e.into()));
    }
    (inv, Ok(Some(m)))
}
