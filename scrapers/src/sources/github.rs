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

use super::{
    Context, Fetched, ItemRequest, ParseError, Parsed, Source, SourceError, fetch_conditional,
    json, sync_each,
};
use crate::http::{Get, Http, HttpError, HttpOptions, Raw, Transport};
use forkdebt_core::config::{Config, Secret};
use forkdebt_core::evr::vercmp;
use forkdebt_core::model::RefKind;
use forkdebt_core::observation::{self, github::ReleaseTag};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun, Store};
use futures_util::future::BoxFuture;
use http_body_util::BodyExt;
use serde::Deserialize;
use std::sync::Arc;

pub use forkdebt_core::observation::github::{BranchRef, PullRequest};

pub const DEFAULT_API: &str = "https://api.github.com";
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Tags read per repository (100 per page): enough for any release history.
pub const MAX_TAG_PAGES: usize = 10;

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

/// octocrab as the client under [`Http`]: it builds the request (base URI, headers); our
/// reqwest client sends it through octocrab's reqwest connector, so a request carries one
/// User-Agent (ours, with the contact) and the configured timeouts, and octocrab logs
/// nothing of its own.
pub struct OctocrabTransport {
    octo: octocrab::Octocrab,
    token: Option<Secret>,
}

impl OctocrabTransport {
    /// # Errors
    /// A bad API URL, or the HTTP client cannot be set up.
    pub fn new(
        api: &str,
        token: Option<&Secret>,
        opts: &HttpOptions,
    ) -> Result<OctocrabTransport, String> {
        use octocrab::service::middleware::base_uri::BaseUriLayer;
        use octocrab::service::middleware::reqwest_connector::ReqwestConnector;
        let uri: http::Uri = api
            .parse()
            .map_err(|e| format!("sources.github.url `{api}`: {e}"))?;
        let client = crate::http::client(opts).map_err(|e| e.to_string())?;
        let octo = octocrab::OctocrabBuilder::new_empty()
            .with_service(ReqwestConnector::new(client))
            .with_layer(&BaseUriLayer::new(uri))
            .with_auth(octocrab::AuthState::None)
            .build()
            .map_err(|e| format!("cannot set up the GitHub client: {e}"))?;
        Ok(OctocrabTransport {
            octo,
            token: token.cloned(),
        })
    }
}

/// What went wrong under octocrab, said plainly: the innermost cause (connection refused,
/// a timeout), not octocrab's wrapper ("Service Error: client error (Connect)").
fn octocrab_error(url: &str, e: &octocrab::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(r) = err.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() {
                return HttpError::Timeout { url: url.into() };
            }
            let mut inner: &dyn std::error::Error = r;
            while let Some(next) = inner.source() {
                inner = next;
            }
            let what = if r.is_connect() {
                "cannot connect"
            } else {
                "the response was cut off"
            };
            return HttpError::Transport {
                url: url.into(),
                message: format!("{what}: {inner}"),
            };
        }
        source = err.source();
    }
    HttpError::Transport {
        url: url.into(),
        message: e.to_string(),
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
            if let Some(t) = &self.token
                && let Ok(v) = http::HeaderValue::from_str(&format!("Bearer {}", t.expose()))
            {
                let mut v = v;
                v.set_sensitive(true);
                h.insert(http::header::AUTHORIZATION, v);
            }
            let resp = self
                .octo
                ._get_with_headers(url.as_str(), Some(h))
                .await
                .map_err(|e| octocrab_error(&req.url, &e))?;
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
                let frame = frame.map_err(|e| octocrab_error(&req.url, &e))?;
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

/// `[sources.github]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The API base.
    pub url: Option<String>,
    pub token_env: Option<forkdebt_core::config::EnvName>,
    pub token_file: Option<std::path::PathBuf>,
    /// Keep a blobless git mirror of every GitHub project the references name.
    #[serde(default)]
    pub mirror: bool,
}

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "github",
    about: "GitHub pull requests, their merge commits and first release tags (octocrab)",
    datasets: &[
        Dataset::Github,
        Dataset::GithubRelease,
        Dataset::GithubTags,
        Dataset::GithubCompare,
    ],
    section: Some(|c| super::read_section::<Section>(c, "github")),
    build: Some(|c| Ok(Box::new(Github::from_config(c)?))),
};

/// The GitHub source.
pub struct Github {
    pub api: String,
    pub token: Option<Secret>,
    /// Projects whose releases git answers (see [`super::git`]): no tag list, no compare.
    mirrors: super::git::GitMirrors,
}

impl Github {
    pub fn from_config(config: &Config) -> Result<Github, String> {
        let cfg: Section = config.sources.section("github")?;
        let api = cfg.url.unwrap_or_else(|| DEFAULT_API.to_string());
        let token = Secret::load(cfg.token_env.as_deref(), cfg.token_file.as_deref())
            .map_err(|e| format!("sources.github: {e}"))?;
        Ok(Github {
            api,
            token,
            mirrors: super::git::GitMirrors::from_config(config)?,
        })
    }

    fn pull_url(&self, id: &str) -> Option<String> {
        let (repo, n) = id.rsplit_once('#')?;
        Some(format!(
            "{}/repos/{repo}/pulls/{n}",
            self.api.trim_end_matches('/')
        ))
    }

    /// Version-like tags of `repo`, oldest release first.
    async fn tags(
        &self,
        http: &Http,
        store: &Store,
        repo: &str,
        run: &mut SourceRun,
    ) -> Result<Result<Vec<String>, String>, SourceError> {
        let mut names = Vec::new();
        for page in 1..=MAX_TAG_PAGES {
            let url = format!(
                "{}/repos/{repo}/tags?per_page=100&page={page}",
                self.api.trim_end_matches('/')
            );
            let get = Get {
                url: url.clone(),
                max_bytes: MAX_BODY_BYTES,
                ..Get::default()
            };
            let body = match fetch_conditional(http, store, get, run).await? {
                Ok(Fetched::Body(b)) => {
                    // Kept so that a 304 next time still has the page.
                    let page = ItemOutcome::Observed {
                        data: String::from_utf8_lossy(&b).into_owned(),
                        upstream_changed_at: None,
                    };
                    super::record(store, Dataset::GithubTags, &[(url.clone(), page)], run).await?;
                    b
                }
                Ok(Fetched::NotModified) => store
                    .observation(Dataset::GithubTags, &url)
                    .await?
                    .and_then(|x| x.data)
                    .map(String::into_bytes)
                    .unwrap_or_default(),
                Err(e) => {
                    run.error.get_or_insert(e.to_string());
                    return Ok(Err(e.to_string()));
                }
            };
            let tags = match parse_tags(&url, &body) {
                Ok(t) => t,
                Err(e) => return Ok(Err(e.to_string())),
            };
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
        Ok(Ok(names))
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
    ) -> Result<Result<Option<String>, String>, SourceError> {
        let (mut lo, mut hi) = (0usize, tags.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let url = format!(
                "{}/repos/{repo}/compare/{}...{sha}",
                self.api.trim_end_matches('/'),
                crate::http::path_segment(&tags[mid])
            );
            let get = Get {
                url: url.clone(),
                max_bytes: MAX_BODY_BYTES,
                ..Get::default()
            };
            let contains = match fetch_conditional(http, store, get, run).await? {
                Err(e) => return Ok(Err(e.to_string())),
                Ok(Fetched::Body(b)) => {
                    let c = match parse_compare(&url, &b) {
                        Ok(c) => c,
                        Err(e) => return Ok(Err(e.to_string())),
                    };
                    let answer = ItemOutcome::Observed {
                        data: c.base_contains_head().to_string(),
                        upstream_changed_at: None,
                    };
                    super::record(store, Dataset::GithubCompare, &[(url.clone(), answer)], run)
                        .await?;
                    c.base_contains_head()
                }
                Ok(Fetched::NotModified) => store
                    .observation(Dataset::GithubCompare, &url)
                    .await?
                    .and_then(|x| x.data)
                    .is_some_and(|d| d == "true"),
            };
            if contains {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(Ok(tags.get(lo).cloned()))
    }
}

#[async_trait::async_trait]
impl Source for Github {
    fn hosts(&self) -> Vec<String> {
        super::host_of(&self.api).into_iter().collect()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        let (http, store, progress) = (cx.http, cx.store, cx.progress);
        // GitHub's requests go through octocrab, under the same HTTP layer as every source.
        let transport: Arc<dyn Transport> = Arc::new(
            OctocrabTransport::new(&self.api, self.token.as_ref(), http.options())
                .map_err(SourceError::Failed)?,
        );
        http.route(&self.api, transport)
            .map_err(|e| SourceError::Failed(format!("sources.github.url: {e}")))?;
        let refs = store.references(RefKind::GithubPr).await?;
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
            Ok((observation::to_data(&pr), changed))
        };
        sync_each(cx, Dataset::Github, items, &parse, run).await?;

        // Release tags of merged PRs' commits not placed yet (mirrored projects: by git).
        let observed = store.observations(Dataset::Github).await?;
        let placed = store.observations(Dataset::GithubRelease).await?;
        let mut merged: Vec<(String, String)> = observed
            .values()
            .filter_map(|o| {
                let pr: PullRequest = observation::read(o.data.as_deref())?;
                let repo = o.item.rsplit_once('#')?.0.to_string();
                Some((repo, pr.landed_commit()?.to_string()))
            })
            .filter(|(repo, _)| self.mirrors.spec_for(repo, true).is_none())
            .filter(|(repo, sha)| {
                placed
                    .get(&observation::github::release_item(repo, sha))
                    .and_then(|p| observation::read::<ReleaseTag>(p.data.as_deref()))
                    .is_none_or(|r| r.tag.is_none())
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
                let tags = self.tags(http, store, &repo, run).await?;
                tag_cache.insert(repo.clone(), tags);
            }
            let outcome = match &tag_cache[&repo] {
                Ok(tags) => match self
                    .first_tag_containing(http, store, &repo, &sha, tags, run)
                    .await?
                {
                    Ok(tag) => ItemOutcome::Observed {
                        data: observation::to_data(&ReleaseTag {
                            tag,
                            tags_checked: tags.len(),
                            ..ReleaseTag::default()
                        }),
                        upstream_changed_at: None,
                    },
                    Err(e) => {
                        run.error.get_or_insert(e.clone());
                        ItemOutcome::Failed(e)
                    }
                },
                Err(e) => ItemOutcome::Failed(e.clone()),
            };
            super::record(
                store,
                Dataset::GithubRelease,
                &[(observation::github::release_item(&repo, &sha), outcome)],
                run,
            )
            .await?;
        }
        Ok(())
    }
}
