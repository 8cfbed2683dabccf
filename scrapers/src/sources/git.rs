//! Upstream projects answered from their git repositories (`[[upstream]]`, the upstream of
//! every `[[fork]]`, and with `[sources.github] mirror = true` every GitHub project our
//! references name): for each upstream commit a patch names and each merge commit of a merged
//! pull request, whether upstream has it at all and which release tag first contains it.
//!
//! This replaces, for mirrored projects, the GitHub tag list and compare bisection (about ten
//! requests per merged PR) with git: a merged PR then costs the one request that reads it.
//! Answers are `github-release` observations, the same the API path writes, so the verdict
//! engine reads both alike.

use super::{Context, Source, SourceError};
use forkdebt_core::evr::vercmp;
use forkdebt_core::forge::ForgeProject;
use forkdebt_core::fork::mirror::{self, MirrorSpec};
use forkdebt_core::fork::rebase;
use forkdebt_core::git::Git;
use forkdebt_core::model::Patch;
use forkdebt_core::model::RefKind;
use forkdebt_core::observation::{self, github::PullRequest, github::ReleaseTag};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun};
use forkdebt_core::store::{PAGE_PACKAGES, ReleaseNews, StoredPackage};
use std::collections::BTreeMap;

/// New release tags announced per project in one sync, newest first kept: more at once is a
/// mirror that moved or a project first tagging its history, not news.
const MAX_RELEASES_ANNOUNCED: usize = 3;

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "git",
    about: "upstream git mirrors ([[upstream]], forks' upstreams): releases and commits from git",
    datasets: &[Dataset::Git, Dataset::GithubRelease],
    section: None,
    build: Some(|c| Ok(Box::new(GitMirrors::from_config(c)?))),
};

pub struct GitMirrors {
    configured: Vec<MirrorSpec>,
    github_auto: bool,
    cache_dir: std::path::PathBuf,
    user_agent: String,
}

impl GitMirrors {
    /// # Errors
    /// `[sources.github]` (whether to mirror every GitHub project) cannot be read.
    pub fn from_config(config: &forkdebt_core::config::Config) -> Result<GitMirrors, String> {
        let github: super::github::Section = config.sources.section("github")?;
        Ok(GitMirrors {
            configured: mirror::configured(config),
            github_auto: github.mirror,
            cache_dir: config.git.cache_dir(),
            user_agent: config.user_agent(),
        })
    }

    /// The mirror that answers `project`, if any (`github` says the project is on GitHub).
    pub fn spec_for(&self, project: &str, github: bool) -> Option<MirrorSpec> {
        self.configured
            .iter()
            .find(|m| m.serves(project))
            .cloned()
            .or_else(|| (self.github_auto && github).then(|| mirror::github_auto(project)))
    }
}

/// What one project's mirror must answer: store item -> sha as written.
type Wanted = BTreeMap<String, BTreeMap<String, String>>;

#[async_trait::async_trait]
impl Source for GitMirrors {
    fn hosts(&self) -> Vec<String> {
        // git goes through the system git, not the HTTP layer's hosts.
        Vec::new()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        self.answer_commits(cx, run).await?;
        self.announce_releases(cx, run).await
    }
}

impl GitMirrors {
    /// For each upstream commit a patch names and each merged or superseded pull request:
    /// whether upstream has it, and its first release.
    async fn answer_commits(
        &self,
        cx: &Context<'_>,
        run: &mut SourceRun,
    ) -> Result<(), SourceError> {
        let store = cx.store;
        let placed = store.observations(Dataset::GithubRelease).await?;
        let done = |item: &str| {
            placed
                .get(item)
                .and_then(|p| observation::read::<ReleaseTag>(p.data.as_deref()))
                .is_some_and(|r| r.tag.is_some())
        };
        let mut wanted: Wanted = BTreeMap::new();
        let mut specs: BTreeMap<String, MirrorSpec> = BTreeMap::new();
        let mut want = |project: &str, github: bool, item: String, sha: String| {
            if done(&item) {
                return;
            }
            if let Some(spec) = self.spec_for(project, github) {
                specs.entry(project.to_string()).or_insert(spec);
                wanted
                    .entry(project.to_string())
                    .or_default()
                    .insert(item, sha);
            }
        };
        // Upstream commits the patches name (`owner/repo@sha`).
        for (id, url) in store.references(RefKind::UpstreamCommit).await? {
            let Some((project, sha)) = id.rsplit_once('@') else {
                continue;
            };
            let github = url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://github.com/"));
            want(project, github, id.clone(), sha.to_string());
        }
        // Merged GitHub pull requests: their merge commits' releases. Closed unmerged: did
        // upstream land the change another way (a commit naming the request)? Requests and
        // issues found in commit messages, by number, in `closed`.
        let mut closed: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
        for o in store.observations(Dataset::Github).await?.values() {
            let Some(pr) = observation::read::<PullRequest>(o.data.as_deref()) else {
                continue;
            };
            let Some((repo, n)) = o.item.rsplit_once('#') else {
                continue;
            };
            if let Some(sha) = pr.landed_commit() {
                want(
                    repo,
                    true,
                    observation::github::release_item(repo, sha),
                    sha.to_string(),
                );
                continue;
            }
            let fact = pr.fact();
            let Ok(n) = n.parse::<u64>() else { continue };
            if fact.merged || fact.open || done(&o.item) {
                continue;
            }
            closed
                .entry(repo.to_string())
                .or_default()
                .push((o.item.clone(), n));
        }
        // Issues the patches name: did upstream fix them with a commit that says so?
        for (id, _) in store.references(RefKind::GithubIssue).await? {
            let Some((repo, n)) = id.rsplit_once('#') else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            if !done(&id) {
                closed
                    .entry(repo.to_string())
                    .or_default()
                    .push((id.clone(), n));
            }
        }
        closed.retain(|repo, _| match self.spec_for(repo, true) {
            Some(spec) => {
                specs.entry(repo.clone()).or_insert(spec);
                wanted.entry(repo.clone()).or_default();
                true
            }
            None => false,
        });
        if wanted.is_empty() {
            return Ok(());
        }
        let git = Git::detect(Some(self.user_agent.clone()))
            .map_err(|e| SourceError::Failed(e.to_string()))?;
        for (project, items) in wanted {
            let Some(spec) = specs.get(&project).cloned() else {
                continue;
            };
            (cx.progress)(&format!(
                "git: releases of {project} ({} commits)",
                items.len()
            ));
            run.items += items.len() as i64;
            run.requests += 1; // the fetch
            let (g, cache) = (git.clone(), self.cache_dir.clone());
            let requests = closed.remove(&project).unwrap_or_default();
            run.items += requests.len() as i64;
            let answered = tokio::task::spawn_blocking(move || {
                let m = spec.open(&g, &cache)?;
                // Every tag's date, read once when the first release is found.
                let mut dates = None;
                let mut tagged =
                    |tag: &Option<String>| -> Result<Option<String>, forkdebt_core::git::GitError> {
                        let Some(tag) = tag else { return Ok(None) };
                        if dates.is_none() {
                            dates = Some(m.tag_dates(&g)?);
                        }
                        Ok(dates.as_ref().and_then(|d| d.get(tag).cloned()))
                    };
                let mut out = Vec::new();
                for (item, n) in requests {
                    if let Some(sha) = m.commit_naming_request(&g, n)? {
                        let tag = m.first_release(&g, &sha)?;
                        let tagged_at = tagged(&tag)?;
                        out.push((
                            item,
                            ReleaseTag {
                                tag,
                                superseded_by: Some(sha),
                                tagged_at,
                                ..ReleaseTag::default()
                            },
                        ));
                    }
                }
                for (item, sha) in items {
                    let outcome = match m.resolve(&g, &sha)? {
                        None => ReleaseTag {
                            missing: true,
                            ..ReleaseTag::default()
                        },
                        Some(full) => {
                            let tag = m.first_release(&g, &full)?;
                            // Stable releases that cherry-picked it: extra evidence, so a
                            // failure here must not cost the first release found above.
                            let picked = rebase::picks_elsewhere(&g, &m, &full, tag.as_deref())
                                .unwrap_or_default();
                            ReleaseTag {
                                tagged_at: tagged(&tag)?,
                                tag,
                                picked,
                                ..ReleaseTag::default()
                            }
                        }
                    };
                    out.push((item, outcome));
                }
                Ok::<_, forkdebt_core::git::GitError>(out)
            })
            .await
            .map_err(|e| SourceError::Failed(e.to_string()))?;
            match answered {
                Ok(answers) => {
                    let outcomes: Vec<(String, ItemOutcome)> = answers
                        .into_iter()
                        .map(|(item, r)| {
                            (
                                item,
                                ItemOutcome::Observed {
                                    data: observation::to_data(&r),
                                    upstream_changed_at: None,
                                },
                            )
                        })
                        .collect();
                    super::record(store, Dataset::GithubRelease, &outcomes, run).await?;
                }
                Err(e) => {
                    // One failing mirror does not stop the others; what was known stays.
                    let msg = forkdebt_core::git::redact_userinfo(&e.to_string());
                    run.errors += 1;
                    run.error.get_or_insert(msg);
                }
            }
        }
        Ok(())
    }

    /// New release tags of each configured upstream that serves a scanned package with
    /// carried patches of ours: one `upstream-release` event per package that is not at that
    /// version yet, saying which of its patches a rebase to the release drops. The first look
    /// at a project records its tags and announces nothing; pre-releases are never announced,
    /// and of many new tags at once (a mirror moved) only the newest few.
    async fn announce_releases(
        &self,
        cx: &Context<'_>,
        run: &mut SourceRun,
    ) -> Result<(), SourceError> {
        let store = cx.store;
        let mut served: BTreeMap<usize, Vec<StoredPackage>> = BTreeMap::new();
        for page in store.package_ids(None).await?.chunks(PAGE_PACKAGES) {
            for p in store.load_packages_by_id(page).await? {
                if p.removed_at.is_some()
                    || p.ours().next().is_none()
                    || !cx.keeps_package(&p.package.name)
                {
                    continue;
                }
                let project = p
                    .package
                    .upstream
                    .as_ref()
                    .and_then(ForgeProject::of_upstream)
                    .and_then(|f| f.project());
                let Some(i) =
                    project.and_then(|pr| self.configured.iter().position(|m| m.serves(&pr)))
                else {
                    continue;
                };
                served.entry(i).or_default().push(p);
            }
        }
        if served.is_empty() {
            return Ok(());
        }
        let git = Git::detect(Some(self.user_agent.clone()))
            .map_err(|e| SourceError::Failed(e.to_string()))?;
        for (i, packages) in served {
            let spec = self.configured[i].clone();
            let project = spec.project.clone();
            let seen = store.seen_releases(&project).await?;
            (cx.progress)(&format!("git: new releases of {project}"));
            let (g, cache) = (git.clone(), self.cache_dir.clone());
            let looked = tokio::task::spawn_blocking(move || {
                let m = spec.open(&g, &cache)?;
                let all = rebase::releases(&g, &m)?;
                let Some(seen) = seen else {
                    return Ok((all, Vec::new()));
                };
                let mut new: Vec<(String, String)> = all
                    .iter()
                    .filter(|(version, tag)| !seen.contains(tag) && !version.contains('~'))
                    .cloned()
                    .collect();
                let backlog = new.len().saturating_sub(MAX_RELEASES_ANNOUNCED);
                new.drain(..backlog);
                let mut news = Vec::new();
                for (version, tag) in new {
                    let mut per_package = Vec::new();
                    for p in &packages {
                        if vercmp(&p.package.version, &version) != std::cmp::Ordering::Less {
                            continue; // already at (or past) that release
                        }
                        let patches: Vec<&Patch> = p.ours().map(|sp| &sp.patch).collect();
                        let outcomes = rebase::check(&g, &m, &tag, &patches);
                        per_package.push(ReleaseNews {
                            downstream: p.downstream.clone(),
                            package: p.package.name.clone(),
                            dropped: patches
                                .iter()
                                .zip(&outcomes)
                                .filter(|(_, o)| matches!(o, rebase::Outcome::Dropped { .. }))
                                .map(|(p, _)| p.file.clone())
                                .collect(),
                            carried: patches.len(),
                        });
                    }
                    news.push((version, tag, per_package));
                }
                Ok::<_, forkdebt_core::git::GitError>((all, news))
            })
            .await
            .map_err(|e| SourceError::Failed(e.to_string()))?;
            match looked {
                Ok((all, news)) => {
                    let now = chrono::Utc::now();
                    for (version, tag, per_package) in &news {
                        run.items += 1;
                        store
                            .record_release(&project, tag, version, per_package, now)
                            .await?;
                    }
                    // The rest (the first look, pre-releases, a backlog): seen, not news.
                    store.remember_releases(&project, &all, now).await?;
                }
                Err(e) => {
                    run.errors += 1;
                    run.error
                        .get_or_insert(forkdebt_core::git::redact_userinfo(&e.to_string()));
                }
            }
        }
        Ok(())
    }
}
