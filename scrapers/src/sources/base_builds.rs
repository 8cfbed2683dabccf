//! The base distribution's merged dist-git merge requests (a CentOS Stream MR on
//! gitlab.com/redhat/centos-stream/rpms/PKG), and the base's dist-git commits that took a
//! patch we carried first, followed to the first Koji build whose source commit contains them: `listTagged` of the package in the base's tag, `getBuild` (one
//! `multiCall`) for the builds whose source it did not give, and ancestry in a mirror of the
//! package's dist-git. The verdict then asks whether the base ships that build.
//!
//! A request's first build never changes once found: found ones are not asked again.

use super::koji::{self, Build};
use super::xmlrpc::{self, Param};
use super::{Context, Source, SourceError};
use crate::http::{Get, Response};
use forkdebt_core::config::Config;
use forkdebt_core::git::{self, Git};
use forkdebt_core::observation::{self, base_fork::FirstBuild, gitlab::MergeRequest};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun};
use serde_json::Value;
use std::collections::BTreeMap;

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "base-builds",
    about: "the base's merged dist-git merge requests, and its commits that took our patches: the first Koji build with each",
    datasets: &[Dataset::BaseBuild],
    section: None,
    build: Some(|c| Ok(Box::new(BaseBuilds::from_config(c)))),
};

/// One base distribution with a Koji tag and a dist-git group.
struct Base {
    distro: String,
    hub_url: String,
    tag: String,
    /// `https://gitlab.com`
    forge_url: String,
    /// `redhat/centos-stream/rpms`
    group: String,
}

pub struct BaseBuilds {
    bases: Vec<Base>,
    cache_dir: std::path::PathBuf,
    user_agent: String,
}

impl BaseBuilds {
    pub fn from_config(config: &Config) -> BaseBuilds {
        let bases = config
            .distro
            .iter()
            .filter_map(|d| {
                let g = d.distgit.as_ref()?;
                Some(Base {
                    distro: d.name.clone(),
                    hub_url: d.koji_url.clone()?,
                    tag: d.koji_tag.clone()?,
                    forge_url: g.url.clone()?.trim_end_matches('/').to_string(),
                    group: g.group.clone()?.trim_matches('/').to_string(),
                })
            })
            .collect();
        BaseBuilds {
            bases,
            cache_dir: config.git.cache_dir(),
            user_agent: config.user_agent(),
        }
    }
}

/// A package name as a dist-git project under the group: one path segment, no tricks.
fn is_package(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
}

/// The commit a build was made from (`git+https://…/rpms/pkg#<sha>`).
fn source_commit(b: &Value) -> Option<String> {
    let source = b.get("source").and_then(Value::as_str).or_else(|| {
        b.pointer("/extra/source/original_url")
            .and_then(Value::as_str)
    })?;
    let sha = source.rsplit_once('#')?.1;
    forkdebt_core::inventory::refs::is_sha(sha).then(|| sha.to_string())
}

impl Base {
    async fn call(
        &self,
        cx: &Context<'_>,
        body: String,
        run: &mut SourceRun,
    ) -> Result<Value, String> {
        let get = Get {
            url: self.hub_url.clone(),
            max_bytes: koji::MAX_BODY_BYTES,
            post: Some(("text/xml", body.into_bytes())),
            ..Get::default()
        };
        let (answer, attempts) = cx.http.get_counted(&get).await;
        run.requests += attempts as i64;
        match answer {
            Ok(Response::Fresh { body, .. }) => {
                koji::parse_response(&self.hub_url, &body).map_err(|e| e.to_string())
            }
            Ok(Response::NotModified) => Err(format!("{}: 304 to a POST", self.hub_url)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The builds of each of `packages` in the tag, with the commit each was made from: one
    /// `multiCall` of `listTagged` per [`koji::MULTICALL_BATCH`] packages, then one of
    /// `getBuild` for the builds whose source `listTagged` did not give (older hubs).
    async fn builds(
        &self,
        cx: &Context<'_>,
        packages: &[String],
        run: &mut SourceRun,
    ) -> Result<Vec<Vec<(Build, String)>>, String> {
        let mut listed: Vec<Vec<Value>> = Vec::with_capacity(packages.len());
        for chunk in packages.chunks(koji::MULTICALL_BATCH) {
            let calls = chunk
                .iter()
                .map(|p| {
                    (
                        "listTagged",
                        vec![
                            Param::Str(self.tag.clone()),
                            Param::Kwargs(vec![
                                ("package".into(), Param::Str(p.clone())),
                                ("inherit".into(), Param::Bool(true)),
                            ]),
                        ],
                    )
                })
                .collect();
            let answered = self.call(cx, xmlrpc::multi_call(calls), run).await?;
            let results = answered.as_array().cloned().unwrap_or_default();
            if results.len() != chunk.len() {
                return Err(format!(
                    "{}: the multiCall answer does not have one result per call",
                    self.hub_url
                ));
            }
            for r in results {
                // `[builds]`, or a fault (no such package in the tag: no builds).
                listed.push(
                    r.get(0)
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
        let mut out: Vec<Vec<(Value, String)>> = vec![Vec::new(); packages.len()];
        let mut without: Vec<(usize, String)> = Vec::new();
        for (i, builds) in listed.into_iter().enumerate() {
            for b in builds {
                match source_commit(&b) {
                    Some(sha) => out[i].push((b, sha)),
                    None => {
                        if let Some(nvr) = b.get("nvr").and_then(Value::as_str) {
                            without.push((i, nvr.to_string()));
                        }
                    }
                }
            }
        }
        for chunk in without.chunks(koji::MULTICALL_BATCH) {
            let calls = chunk
                .iter()
                .map(|(_, nvr)| ("getBuild", vec![Param::Str(nvr.clone())]))
                .collect();
            let answered = self.call(cx, xmlrpc::multi_call(calls), run).await?;
            for ((i, _), r) in chunk.iter().zip(answered.as_array().into_iter().flatten()) {
                if let Some(b) = r.get(0)
                    && let Some(sha) = source_commit(b)
                {
                    out[*i].push((b.clone(), sha));
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|builds| {
                let mut builds: Vec<(Build, String)> = builds
                    .into_iter()
                    .filter_map(|(b, sha)| Some((koji::parse_build(&self.hub_url, &b).ok()?, sha)))
                    .collect();
                builds.sort_by(|a, b| {
                    forkdebt_core::evr::Evr::parse(&a.0.evr())
                        .cmp(&forkdebt_core::evr::Evr::parse(&b.0.evr()))
                });
                builds
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl Source for BaseBuilds {
    fn hosts(&self) -> Vec<String> {
        self.bases
            .iter()
            .filter_map(|b| super::host_of(&b.hub_url))
            .collect()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        if self.bases.is_empty() {
            return Ok(());
        }
        let known = cx.store.observations(Dataset::BaseBuild).await?;
        let requests = cx.store.observations(Dataset::Gitlab).await?;
        let taken = cx.store.taken_by_base().await?;
        let git = Git::detect(Some(self.user_agent.clone()))
            .map_err(|e| SourceError::Failed(e.to_string()))?;
        for base in &self.bases {
            // Merged requests of the base's packages, by package: (request id, merge commit).
            let mut by_package: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
            for (id, o) in &requests {
                if known.get(id).is_some_and(|k| k.data.is_some()) {
                    continue;
                }
                let Some(mr) = observation::read::<MergeRequest>(o.data.as_deref()) else {
                    continue;
                };
                let (Some(sha), Some((project, _))) = (mr.landed_commit(), id.rsplit_once('!'))
                else {
                    continue;
                };
                let Some(package) = project
                    .strip_prefix(&base.group)
                    .and_then(|p| p.strip_prefix('/'))
                    .filter(|p| is_package(p))
                else {
                    continue;
                };
                by_package
                    .entry(package.to_string())
                    .or_default()
                    .push((id.clone(), sha.to_string()));
            }
            // Dist-git commits in which the base took a patch we carried first.
            for (_, package, commit) in taken
                .iter()
                .filter(|(d, p, _)| *d == base.distro && is_package(p))
            {
                let id = observation::base_fork::distgit_item(&base.distro, package, commit);
                if known.get(&id).is_some_and(|k| k.data.is_some()) {
                    continue;
                }
                by_package
                    .entry(package.clone())
                    .or_default()
                    .push((id, commit.clone()));
            }
            by_package.retain(|p, _| cx.keeps_package(p));
            let packages: Vec<String> = by_package.keys().cloned().collect();
            if packages.is_empty() {
                continue;
            }
            (cx.progress)(&format!(
                "base-builds: {} packages in {}",
                packages.len(),
                base.tag
            ));
            let all_builds = match base.builds(cx, &packages, run).await {
                Ok(b) => b,
                Err(e) => {
                    let failed: Vec<(String, ItemOutcome)> = by_package
                        .values()
                        .flatten()
                        .map(|(id, _)| (id.clone(), ItemOutcome::Failed(e.clone())))
                        .collect();
                    run.items += failed.len() as i64;
                    super::record(cx.store, Dataset::BaseBuild, &failed, run).await?;
                    continue;
                }
            };
            for ((package, mrs), builds) in by_package.into_iter().zip(all_builds) {
                run.items += mrs.len() as i64;
                let repo = format!("{}/{}/{package}.git", base.forge_url, base.group);
                let (g, cache_dir) = (git.clone(), self.cache_dir.clone());
                let found = tokio::task::spawn_blocking(move || {
                    first_builds(&g, &repo, &cache_dir, &builds, &mrs)
                })
                .await
                .map_err(|e| SourceError::Failed(e.to_string()))?;
                run.requests += 1; // the dist-git fetch
                let outcomes: Vec<(String, ItemOutcome)> = match found {
                    Ok(found) => found
                        .into_iter()
                        .filter_map(|(id, build)| {
                            // Not built yet: nothing to record, asked again next time.
                            let b = build?;
                            Some((
                                id,
                                ItemOutcome::Observed {
                                    data: observation::to_data(&FirstBuild {
                                        nvr: b.nvr.clone().unwrap_or_else(|| b.evr()),
                                        evr: b.evr(),
                                    }),
                                    upstream_changed_at: b.completion_time.clone(),
                                },
                            ))
                        })
                        .collect(),
                    Err(e) => {
                        run.errors += 1;
                        run.error.get_or_insert(git::redact_userinfo(&e));
                        Vec::new()
                    }
                };
                super::record(cx.store, Dataset::BaseBuild, &outcomes, run).await?;
            }
        }
        Ok(())
    }
}

/// For each merged request (or dist-git commit), the oldest build (by EVR) whose source
/// commit contains it.
fn first_builds(
    git: &Git,
    repo: &str,
    cache_dir: &std::path::Path,
    builds: &[(Build, String)],
    mrs: &[(String, String)],
) -> Result<Vec<(String, Option<Build>)>, String> {
    let dir = git::open_repository(git, repo, cache_dir).map_err(|e| format!("{repo}: {e}"))?;
    let mut out = Vec::new();
    for (id, merge) in mrs {
        let first = builds.iter().find(|(_, source)| {
            git.command(&dir)
                .args(["merge-base", "--is-ancestor", merge, source])
                .status()
                .is_ok_and(|s| s.success())
        });
        out.push((id.clone(), first.map(|(b, _)| b.clone())));
    }
    Ok(out)
}
