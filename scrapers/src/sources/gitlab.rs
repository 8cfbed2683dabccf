//! GitLab API v4: merge requests by project path and iid (gitlab.com, the CentOS Stream
//! dist-git at gitlab.com/redhat/centos-stream, and other instances), and the commit-to-MR
//! lookup. Pagination follows `X-Next-Page` / `Link`.

use super::{Context, ItemRequest, ParseError, Parsed, Source, SourceError, json, sync_each};
use crate::http::Get;
use forkdebt_core::config::Config;
use forkdebt_core::model::RefKind;
use forkdebt_core::observation;
use forkdebt_core::source::Dataset;
use forkdebt_core::store::SourceRun;

pub use forkdebt_core::observation::gitlab::MergeRequest;

pub const DEFAULT_URL: &str = "https://gitlab.com";
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

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

/// `[sources.gitlab]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The API base for gitlab.com references.
    pub url: Option<String>,
    /// API base per other instance (`"gitlab.freedesktop.org" = "https://..."`); default
    /// `https://HOST`.
    #[serde(default)]
    pub hosts: std::collections::HashMap<String, String>,
}

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "gitlab",
    about: "GitLab merge requests (gitlab.com, CentOS Stream, other instances)",
    datasets: &[forkdebt_core::source::Dataset::Gitlab],
    section: Some(|c| super::read_section::<Section>(c, "gitlab")),
    build: Some(|c| Ok(Box::new(Gitlab::from_config(c)?))),
};

/// The GitLab source: gitlab.com's API base and other instances'.
pub struct Gitlab {
    pub config: Section,
}

impl Gitlab {
    fn base_for(&self, host: &str) -> String {
        let cfg = &self.config;
        if host == "gitlab.com" {
            return cfg.url.clone().unwrap_or_else(|| DEFAULT_URL.to_string());
        }
        cfg.hosts
            .get(host)
            .cloned()
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
            crate::http::path_segment(path)
        ))
    }

    /// # Errors
    /// Its section cannot be read.
    pub fn from_config(config: &Config) -> Result<Gitlab, String> {
        Ok(Gitlab {
            config: config.sources.section("gitlab")?,
        })
    }
}

#[async_trait::async_trait]
impl Source for Gitlab {
    fn hosts(&self) -> Vec<String> {
        super::host_of(&self.base_for("gitlab.com"))
            .into_iter()
            .collect()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        let refs = cx.store.references(RefKind::GitlabMr).await?;
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
            Ok((observation::to_data(&mr), changed))
        };
        sync_each(cx, Dataset::Gitlab, items, &parse, run).await
    }
}
