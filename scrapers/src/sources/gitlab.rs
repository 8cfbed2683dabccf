//! GitLab API v4: merge requests by project path and iid (gitlab.com, the CentOS Stream
//! dist-git at gitlab.com/redhat/centos-stream, and other instances), and the commit-to-MR
//! lookup. Pagination follows `X-Next-Page` / `Link`.

use super::{ItemRequest, ParseError, Parsed, json, sync_each};
use crate::http::{Get, Http};
use forkdebt_core::config::UrlSource;
use forkdebt_core::model::RefKind;
use forkdebt_core::store::{SourceRun, Store};
use serde::{Deserialize, Serialize};

pub const SOURCE: &str = "gitlab";
pub const DEFAULT_URL: &str = "https://gitlab.com";
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What forkdebt keeps of a merge request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MergeRequest {
    pub iid: u64,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub title: Option<String>,
    /// `opened`, `closed`, `merged`, `locked`.
    pub state: String,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub squash_commit_sha: Option<String>,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub target_branch: Option<String>,
    #[serde(default)]
    pub source_branch: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

impl MergeRequest {
    /// The commit that put the change on the target branch (squash, merge, or the head
    /// itself for a fast-forward merge).
    pub fn landed_commit(&self) -> Option<&str> {
        if self.state != "merged" {
            return None;
        }
        self.squash_commit_sha
            .as_deref()
            .or(self.merge_commit_sha.as_deref())
            .or(self.sha.as_deref())
    }
}

/// Parses one merge request.
///
/// # Errors
/// Empty, HTML, malformed, or GitLab's `{"message": ...}` error object.
pub fn parse_merge_request(url: &str, body: &[u8]) -> Result<MergeRequest, ParseError> {
    let v: serde_json::Value = json(url, body)?;
    if v.get("iid").is_none() {
        let msg = v
            .get("message")
            .or_else(|| v.get("error"))
            .map(|m| m.to_string());
        return Err(ParseError::Service {
            url: url.to_string(),
            message: msg.unwrap_or_else(|| "not a merge request".into()),
        });
    }
    serde_json::from_value(v).map_err(|source| ParseError::Json {
        url: url.to_string(),
        source,
    })
}

/// Parses a list of merge requests (project MRs, a commit's MRs).
///
/// # Errors
/// As [`parse_merge_request`].
pub fn parse_merge_requests(url: &str, body: &[u8]) -> Result<Vec<MergeRequest>, ParseError> {
    json(url, body)
}

/// The next page from GitLab's pagination headers: `X-Next-Page` (empty on the last page),
/// else a `Link: <...>; rel="next"`.
pub fn next_page(x_next_page: Option<&str>, link: Option<&str>) -> Option<String> {
    if let Some(n) = x_next_page.map(str::trim).filter(|n| !n.is_empty()) {
        return Some(n.to_string());
    }
    link?.split(',').find_map(|part| {
        let (target, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// The GitLab source: gitlab.com's API base and other instances'.
pub struct Gitlab {
    pub config: Option<UrlSource>,
}

impl Gitlab {
    fn base_for(&self, host: &str) -> String {
        let cfg = self.config.as_ref();
        if host == "gitlab.com" {
            return cfg
                .and_then(|c| c.url.clone())
                .unwrap_or_else(|| DEFAULT_URL.to_string());
        }
        cfg.and_then(|c| c.hosts.get(host).cloned())
            .unwrap_or_else(|| format!("https://{host}"))
    }

    /// The API URL of a reference `group/project!iid` found at `ref_url`.
    pub fn api_url(&self, id: &str, ref_url: Option<&str>) -> Option<String> {
        let (path, iid) = id.rsplit_once('!')?;
        let host = ref_url
            .and_then(super::host_of)
            .unwrap_or_else(|| "gitlab.com".into());
        Some(format!(
            "{}/api/v4/projects/{}/merge_requests/{iid}",
            self.base_for(&host).trim_end_matches('/'),
            super::encode_segment(path)
        ))
    }

    pub async fn sync(
        &self,
        http: &Http,
        store: &Store,
        progress: &(dyn Fn(&str) + Sync),
    ) -> SourceRun {
        let refs = match store.references(RefKind::GitlabMr).await {
            Ok(r) => r,
            Err(e) => {
                return SourceRun {
                    error: Some(e.to_string()),
                    ..SourceRun::default()
                };
            }
        };
        let items = refs
            .into_iter()
            .filter_map(|(id, url)| {
                let api = self.api_url(&id, url.as_deref())?;
                Some(ItemRequest {
                    item: id,
                    get: Get {
                        url: api,
                        max_bytes: MAX_BODY_BYTES,
                        ..Get::default()
                    },
                })
            })
            .collect();
        let parse = |url: &str, body: &[u8]| -> Result<Parsed, ParseError> {
            let mr = parse_merge_request(url, body)?;
            let changed = mr.updated_at.clone();
            Ok((serde_json::to_string(&mr).unwrap_or_default(), changed))
        };
        sync_each(http, store, SOURCE, items, &parse, progress).await
    }
}
