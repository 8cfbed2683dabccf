//! GitHub through octocrab: pull requests (state, merge commit) and the first release tag
//! that contains a merged commit.
//!
//! octocrab is the client; every call still goes through [`Http`] (as a [`Transport`]) so
//! GitHub gets the same per-host pacing, retries, `Retry-After` / `x-ratelimit-reset`
//! handling, body caps and conditional requests (a 304 does not count against the rate
//! limit) as every other source. The models are ours: only the fields forkdebt uses.
//!
//! The first tag containing a commit: GitHub has no such endpoint. Version-like tags are
//! sorted by RPM version order and searched by bisection with the compare API (`tag...sha`
//! is `behind` or `identical` when the tag contains the commit). That assumes later
//! releases contain earlier ones, which holds for a project's release line; each answer is
//! cached (ETag), and a found tag is kept for good.

use super::{Fetched, ItemRequest, ParseError, Parsed, fetch_conditional, json, sync_each};
use crate::http::{Get, Http, HttpError, HttpOptions, Raw, Transport};
use forkdebt_core::config::Secret;
use forkdebt_core::evr::vercmp;
use forkdebt_core::model::RefKind;
use forkdebt_core::store::{ItemOutcome, SourceRun, Store};
use futures_util::future::BoxFuture;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const SOURCE: &str = "github";
/// Where release-tag answers are kept, per `owner/repo@sha`.
pub const RELEASE_SOURCE: &str = "github-release";
pub const DEFAULT_API: &str = "https://api.github.com";
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Tags read per repository (100 per page): enough for any release history.
pub const MAX_TAG_PAGES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BranchRef {
    #[serde(rename = "ref", default)]
    pub name: Option<String>,
}

/// What forkdebt keeps of a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullRequest {
    pub number: u64,
    pub state: String,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The merge, squash or rebase commit once merged (a test merge before).
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub base: Option<BranchRef>,
}

impl PullRequest {
    /// Merged: GitHub sets `merged_at` (the `merged` flag is absent from list answers).
    pub fn is_merged(&self) -> bool {
        self.merged || self.merged_at.is_some()
    }
}

/// `GET /repos/{o}/{r}/compare/{base}...{head}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Compare {
    /// `ahead`, `behind`, `identical`, `diverged` (head relative to base).
    pub status: String,
    #[serde(default)]
    pub ahead_by: u64,
    #[serde(default)]
    pub behind_by: u64,
    #[serde(default)]
    pub total_commits: u64,
}

impl Compare {
    /// The base (a tag) already contains the head (a commit).
    pub fn base_contains_head(&self) -> bool {
        self.status == "behind" || self.status == "identical"
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommitDetail {
    #[serde(default)]
    pub message: String,
}

/// `GET /repos/{o}/{r}/commits/{sha}` (or an entry of a commit list).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Commit {
    pub sha: String,
    #[serde(default)]
    pub commit: Option<CommitDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Tag {
    pub name: String,
}

fn github_error(url: &str, body: &[u8]) -> Option<ParseError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let msg = v.get("message")?.as_str()?;
    (v.get("number").is_none() && v.get("sha").is_none() && v.get("status").is_none()).then(|| {
        ParseError::Service {
            url: url.into(),
            message: msg.into(),
        }
    })
}

fn parse_as<T: serde::de::DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, ParseError> {
    if let Some(e) = github_error(url, body) {
        return Err(e);
    }
    json(url, body)
}

/// # Errors
/// Empty, HTML, malformed, or GitHub's `{"message": ...}`.
pub fn parse_pull(url: &str, body: &[u8]) -> Result<PullRequest, ParseError> {
    parse_as(url, body)
}

/// A list of pull requests (`/pulls`, `/commits/{sha}/pulls`).
///
/// # Errors
/// As [`parse_pull`].
pub fn parse_pulls(url: &str, body: &[u8]) -> Result<Vec<PullRequest>, ParseError> {
    parse_as(url, body)
}

/// # Errors
/// As [`parse_pull`].
pub fn parse_compare(url: &str, body: &[u8]) -> Result<Compare, ParseError> {
    parse_as(url, body)
}

/// # Errors
/// As [`parse_pull`].
pub fn parse_commit(url: &str, body: &[u8]) -> Result<Commit, ParseError> {
    parse_as(url, body)
}

/// # Errors
/// As [`parse_pull`].
pub fn parse_commits(url: &str, body: &[u8]) -> Result<Vec<Commit>, ParseError> {
    parse_as(url, body)
}

/// # Errors
/// As [`parse_pull`].
pub fn parse_tags(url: &str, body: &[u8]) -> Result<Vec<Tag>, ParseError> {
    parse_as(url, body)
}

/// octocrab as the client under [`Http`].
pub struct OctocrabTransport {
    octo: octocrab::Octocrab,
}

impl OctocrabTransport {
    /// # Errors
    /// A bad API URL or token.
    pub fn new(
        api: &str,
        token: Option<&Secret>,
        opts: &HttpOptions,
    ) -> Result<OctocrabTransport, String> {
        let mut b = octocrab::Octocrab::builder()
            .base_uri(api)
            .map_err(|e| format!("sources.github.url `{api}`: {e}"))?
            .add_header(http::header::USER_AGENT, opts.user_agent.clone())
            .set_connect_timeout(Some(opts.connect_timeout))
            .set_read_timeout(Some(opts.timeout));
        if let Some(t) = token {
            b = b.personal_token(t.expose().to_string());
        }
        let octo = b
            .build()
            .map_err(|e| format!("cannot set up the GitHub client: {e}"))?;
        Ok(OctocrabTransport { octo })
    }
}

impl Transport for OctocrabTransport {
    fn send<'a>(
        &'a self,
        url: &'a reqwest::Url,
        req: &'a Get,
        headers: reqwest::header::HeaderMap,
    ) -> BoxFuture<'a, Result<Raw, HttpError>> {
        Box::pin(async move {
            let mut h = http::HeaderMap::new();
            for (k, v) in &headers {
                h.insert(k.clone(), v.clone());
            }
            let resp = match tokio::time::timeout(
                std::time::Duration::from_secs(120),
                self.octo._get_with_headers(url.as_str(), Some(h)),
            )
            .await
            {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    let text = e.to_string();
                    return Err(
                        if text.to_lowercase().contains("timed out")
                            || text.to_lowercase().contains("timeout")
                        {
                            HttpError::Timeout {
                                url: req.url.clone(),
                            }
                        } else {
                            HttpError::Transport {
                                url: req.url.clone(),
                                message: text,
                            }
                        },
                    );
                }
                Err(_) => {
                    return Err(HttpError::Timeout {
                        url: req.url.clone(),
                    });
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let success = (200..300).contains(&status);
            let max = if success {
                req.max_bytes
            } else {
                crate::http::transport_snippet_bytes()
            };
            let mut body_stream = resp.into_body();
            let mut body = Vec::new();
            while let Some(frame) = body_stream.frame().await {
                let frame = frame.map_err(|e| HttpError::Transport {
                    url: req.url.clone(),
                    message: format!("the response was cut off: {e}"),
                })?;
                if let Ok(data) = frame.into_data() {
                    if body.len() + data.len() > max {
                        if !success {
                            body.extend_from_slice(&data[..max - body.len()]);
                            break;
                        }
                        return Err(HttpError::TooLarge {
                            url: req.url.clone(),
                            limit: req.max_bytes,
                        });
                    }
                    body.extend_from_slice(&data);
                }
            }
            Ok(Raw {
                status,
                headers,
                body,
            })
        })
    }
}

/// The GitHub source.
pub struct Github {
    pub api: String,
    pub token: Option<Secret>,
}

impl Github {
    fn pull_url(&self, id: &str) -> Option<String> {
        let (repo, n) = id.rsplit_once('#')?;
        Some(format!(
            "{}/repos/{repo}/pulls/{n}",
            self.api.trim_end_matches('/')
        ))
    }

    pub async fn sync(
        &self,
        opts: &HttpOptions,
        store: &Store,
        progress: &(dyn Fn(&str) + Sync),
    ) -> SourceRun {
        let transport = match OctocrabTransport::new(&self.api, self.token.as_ref(), opts) {
            Ok(t) => t,
            Err(e) => {
                return SourceRun {
                    error: Some(e),
                    ..SourceRun::default()
                };
            }
        };
        let http = Http::with_transport(opts.clone(), Arc::new(transport));
        let refs = match store.references(RefKind::GithubPr).await {
            Ok(r) => r,
            Err(e) => {
                return SourceRun {
                    error: Some(e.to_string()),
                    ..SourceRun::default()
                };
            }
        };
        let items: Vec<ItemRequest> = refs
            .into_iter()
            .filter_map(|(id, _)| {
                let url = self.pull_url(&id)?;
                Some(ItemRequest {
                    item: id,
                    get: Get {
                        url,
                        max_bytes: MAX_BODY_BYTES,
                        ..Get::default()
                    },
                })
            })
            .collect();
        let parse = |url: &str, body: &[u8]| -> Result<Parsed, ParseError> {
            let pr = parse_pull(url, body)?;
            let changed = pr.updated_at.clone();
            Ok((serde_json::to_string(&pr).unwrap_or_default(), changed))
        };
        let mut run = sync_each(&http, store, SOURCE, items, &parse, progress).await;

        // Release tags of merged PRs' commits not placed yet.
        let observed = store.observations(SOURCE).await.unwrap_or_default();
        let placed = store.observations(RELEASE_SOURCE).await.unwrap_or_default();
        let mut merged: Vec<(String, String)> = observed
            .values()
            .filter_map(|o| {
                let pr: PullRequest = serde_json::from_str(o.data.as_deref()?).ok()?;
                let repo = o.item.rsplit_once('#')?.0.to_string();
                let merged = pr.is_merged();
                Some((repo, pr.merge_commit_sha.filter(|_| merged)?))
            })
            .filter(|(repo, sha)| {
                placed
                    .get(&format!("{repo}@{sha}"))
                    .and_then(|p| p.data.as_deref())
                    .is_none_or(|d| d.contains("\"tag\":null"))
            })
            .collect();
        merged.sort();
        merged.dedup();
        let mut tag_cache: std::collections::HashMap<String, Result<Vec<String>, String>> =
            Default::default();
        for (repo, sha) in merged {
            progress(&format!(
                "github: first release of {repo}@{}",
                &sha[..sha.len().min(12)]
            ));
            if !tag_cache.contains_key(&repo) {
                let tags = self.tags(&http, store, &repo, &mut run).await;
                tag_cache.insert(repo.clone(), tags);
            }
            let outcome = match &tag_cache[&repo] {
                Ok(tags) => match self
                    .first_tag_containing(&http, store, &repo, &sha, tags, &mut run)
                    .await
                {
                    Ok(tag) => ItemOutcome::Observed {
                        data: serde_json::json!({ "tag": tag, "tags_checked": tags.len() })
                            .to_string(),
                        upstream_changed_at: None,
                    },
                    Err(e) => {
                        run.error.get_or_insert(e.clone());
                        ItemOutcome::Failed(e)
                    }
                },
                Err(e) => ItemOutcome::Failed(e.clone()),
            };
            if matches!(outcome, ItemOutcome::Failed(_)) {
                run.errors += 1;
            }
            let _ = store
                .record_outcomes(
                    RELEASE_SOURCE,
                    &[(format!("{repo}@{sha}"), outcome)],
                    chrono::Utc::now(),
                )
                .await;
        }
        run
    }

    /// Version-like tags of `repo`, oldest release first.
    async fn tags(
        &self,
        http: &Http,
        store: &Store,
        repo: &str,
        run: &mut SourceRun,
    ) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        for page in 1..=MAX_TAG_PAGES {
            let url = format!(
                "{}/repos/{repo}/tags?per_page=100&page={page}",
                self.api.trim_end_matches('/')
            );
            let body = match fetch_conditional(
                http,
                store,
                Get {
                    url: url.clone(),
                    max_bytes: MAX_BODY_BYTES,
                    ..Get::default()
                },
                run,
            )
            .await
            {
                Ok(Fetched::Body(b)) => {
                    // Kept so that a 304 next time still has the page.
                    let _ = store
                        .record_outcomes(
                            "github-tags",
                            &[(
                                url.clone(),
                                ItemOutcome::Observed {
                                    data: String::from_utf8_lossy(&b).into_owned(),
                                    upstream_changed_at: None,
                                },
                            )],
                            chrono::Utc::now(),
                        )
                        .await;
                    b
                }
                Ok(Fetched::NotModified) => store
                    .observations("github-tags")
                    .await
                    .ok()
                    .and_then(|o| o.get(&url).and_then(|x| x.data.clone()))
                    .map(String::into_bytes)
                    .unwrap_or_default(),
                Err(e) => {
                    run.error.get_or_insert(e.to_string());
                    return Err(e.to_string());
                }
            };
            let tags = parse_tags(&url, &body).map_err(|e| e.to_string())?;
            let n = tags.len();
            names.extend(tags.into_iter().map(|t| t.name));
            if n < 100 {
                break;
            }
        }
        let version = |t: &str| t.trim_start_matches(['v', 'V']).to_string();
        names.retain(|t| {
            version(t).starts_with(|c: char| c.is_ascii_digit())
                && !t.contains("rc")
                && !t.contains("-pre")
        });
        names.sort_by(|a, b| vercmp(&version(a), &version(b)));
        Ok(names)
    }

    /// Bisection over `tags` (oldest first) with the compare API.
    async fn first_tag_containing(
        &self,
        http: &Http,
        store: &Store,
        repo: &str,
        sha: &str,
        tags: &[String],
        run: &mut SourceRun,
    ) -> Result<Option<String>, String> {
        let (mut lo, mut hi) = (0usize, tags.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let url = format!(
                "{}/repos/{repo}/compare/{}...{sha}",
                self.api.trim_end_matches('/'),
                tags[mid]
            );
            let get = Get {
                url: url.clone(),
                max_bytes: MAX_BODY_BYTES,
                ..Get::default()
            };
            let contains = match fetch_conditional(http, store, get, run)
                .await
                .map_err(|e| e.to_string())?
            {
                Fetched::Body(b) => {
                    let c = parse_compare(&url, &b).map_err(|e| e.to_string())?;
                    let _ = store
                        .record_outcomes(
                            "github-compare",
                            &[(
                                url.clone(),
                                ItemOutcome::Observed {
                                    data: c.base_contains_head().to_string(),
                                    upstream_changed_at: None,
                                },
                            )],
                            chrono::Utc::now(),
                        )
                        .await;
                    c.base_contains_head()
                }
                Fetched::NotModified => store
                    .observations("github-compare")
                    .await
                    .ok()
                    .and_then(|o| o.get(&url).and_then(|x| x.data.clone()))
                    .is_some_and(|d| d == "true"),
            };
            if contains {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(tags.get(lo).cloned())
    }
}
