//! The base distribution's own forks (`[[fork]]` with `distro`): its source-git, tagged per
//! build. Which upstream changes each carries and from which build on, as `base-fork`
//! observations (`distro/package@upstream-sha`); the verdict engine then calls a change we
//! carry droppable once the base ships that build.

use super::{Context, Source, SourceError};
use forkdebt_core::config::Config;
use forkdebt_core::fork::Repos;
use forkdebt_core::fork::base::{BaseForkSpec, scan_base};
use forkdebt_core::git::{self, Git};
use forkdebt_core::observation::{self, base_fork};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun};

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "base-fork",
    about: "the base distribution's own forks ([[fork]] with distro): upstream changes in its builds",
    datasets: &[Dataset::BaseFork],
    section: None,
    build: Some(|c| Ok(Box::new(BaseForks::from_config(c)?))),
};

/// One base fork, resolved from the configuration.
#[derive(Debug, Clone)]
struct Configured {
    name: String,
    repo: String,
    upstream: String,
    spec: BaseForkSpec,
}

pub struct BaseForks {
    forks: Vec<Configured>,
    cache_dir: std::path::PathBuf,
    user_agent: String,
}

impl BaseForks {
    /// # Errors
    /// A fork's `release_tags` is not a regular expression (validation said so before).
    pub fn from_config(config: &Config) -> Result<BaseForks, String> {
        let mut forks = Vec::new();
        for f in &config.fork {
            let Some(spec) =
                BaseForkSpec::of(f).map_err(|e| format!("fork `{}` release_tags: {e}", f.name))?
            else {
                continue;
            };
            forks.push(Configured {
                name: f.name.clone(),
                repo: f.repo.clone(),
                upstream: f.upstream_repo(config).to_string(),
                spec,
            });
        }
        Ok(BaseForks {
            forks,
            cache_dir: config.git.cache_dir(),
            user_agent: config.user_agent(),
        })
    }
}

#[async_trait::async_trait]
impl Source for BaseForks {
    fn hosts(&self) -> Vec<String> {
        // git goes through the system git, not the HTTP layer's hosts.
        Vec::new()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        if self.forks.is_empty() {
            return Ok(());
        }
        let git = Git::detect(Some(self.user_agent.clone()))
            .map_err(|e| SourceError::Failed(e.to_string()))?;
        // What each fork's last read saw (`read/NAME`), asked of the store once.
        let last_reads = cx.store.observations(Dataset::BaseFork).await?;
        for f in &self.forks {
            (cx.progress)(&format!(
                "base-fork: {} ({} of {})",
                f.name, f.spec.package, f.spec.distro
            ));
            run.requests += 1; // the fetch
            let (g, conf, cache_dir) = (git.clone(), f.clone(), self.cache_dir.clone());
            let opened = tokio::task::spawn_blocking(move || open_fork(&g, &conf, &cache_dir))
                .await
                .map_err(|e| SourceError::Failed(e.to_string()))?;
            let (repos, key) = match opened {
                Ok(opened) => opened,
                Err(e) => {
                    // One failing fork does not stop the others; what was known stays.
                    run.errors += 1;
                    run.error
                        .get_or_insert(format!("{}: {}", f.name, git::redact_userinfo(&e)));
                    continue;
                }
            };
            // Neither the fork nor upstream moved since the last read: nothing to learn. The
            // key is stored with the answers, so a new store reads the fork again.
            let read = format!("read/{}", f.name);
            let last = observation::to_data(&key);
            if last_reads
                .get(&read)
                .is_some_and(|o| o.data.as_deref() == Some(last.as_str()))
            {
                continue;
            }
            let cache = cx.store.fork_cache(&git.version).await?;
            let (g, spec) = (git.clone(), f.spec.clone());
            let scanned = tokio::task::spawn_blocking(move || {
                scan_base(&g, &repos, &spec, &cache).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| SourceError::Failed(e.to_string()))?;
            let scan = match scanned {
                Ok(s) => s,
                Err(e) => {
                    run.errors += 1;
                    run.error
                        .get_or_insert(format!("{}: {}", f.name, git::redact_userinfo(&e)));
                    continue;
                }
            };
            cx.store
                .save_fork_cache(&git.version, &scan.new_facts, &[], &[])
                .await?;
            run.items += scan.taken.len() as i64;
            let outcomes: Vec<(String, ItemOutcome)> = scan
                .taken
                .iter()
                .map(|(sha, taken)| {
                    (
                        base_fork::item(&f.spec.distro, &f.spec.package, sha),
                        ItemOutcome::Observed {
                            data: observation::to_data(taken),
                            upstream_changed_at: None,
                        },
                    )
                })
                .collect();
            super::record(cx.store, Dataset::BaseFork, &outcomes, run).await?;
            let read_now = ItemOutcome::Observed {
                data: last,
                upstream_changed_at: None,
            };
            super::record(cx.store, Dataset::BaseFork, &[(read, read_now)], run).await?;
        }
        Ok(())
    }
}

/// Mirrors the fork and its upstream (blocking git work), with the key of what they hold: a
/// fork neither side of which moved carries what it carried (1,400 commits cost seconds to
/// read again).
fn open_fork(
    git: &Git,
    f: &Configured,
    cache_dir: &std::path::Path,
) -> Result<(Repos, String), String> {
    let fork = git::open_repository(git, &f.repo, cache_dir)
        .map_err(|e| format!("repo {}: {e}", f.repo))?;
    let upstream = git::open_repository(git, &f.upstream, cache_dir)
        .map_err(|e| format!("upstream {}: {e}", f.upstream))?;
    let name = forkdebt_core::display::fingerprint(f.name.as_bytes());
    let mut key = format!(
        "forkdebt {} {} {:?} {:?}\n",
        env!("CARGO_PKG_VERSION"),
        git.version,
        f.spec.branches,
        f.spec.build_tags.as_str()
    )
    .into_bytes();
    for dir in [&fork, &upstream] {
        key.extend(
            git.output(dir, &["for-each-ref", "--format=%(objectname) %(refname)"])
                .map_err(|e| e.to_string())?,
        );
    }
    let key = forkdebt_core::display::fingerprint(&key);
    let ws = git::workspace(
        git,
        &cache_dir.join("forks").join(format!("base-{name}.git")),
        &[&fork, &upstream],
    )
    .map_err(|e| e.to_string())?;
    Ok((
        Repos {
            fork,
            upstream,
            workspace: ws,
        },
        key,
    ))
}
