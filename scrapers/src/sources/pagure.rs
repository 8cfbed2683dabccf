//! Pagure API v0 (pagure.io, src.fedoraproject.org): pull requests by project and number,
//! issues (FESCo tickets), projects, and pagination of lists.

use super::{Context, ItemRequest, ParseError, Parsed, Source, SourceError, json, sync_each};
use crate::http::Get;
use forkdebt_core::config::Config;
use forkdebt_core::model::RefKind;
use forkdebt_core::observation;
use forkdebt_core::observation::pagure::epoch;
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun};
use serde::{Deserialize, Serialize};

pub use forkdebt_core::observation::pagure::{ProjectRef, PullRequest};

pub const DEFAULT_URLS: [&str; 2] = ["https://pagure.io", "https://src.fedoraproject.org"];
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// An issue (a FESCo ticket, a tracker entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Issue {
    pub id: u64,
    #[serde(default)]
    pub title: Option<String>,
    pub status: String,
    #[serde(default)]
    pub close_status: Option<String>,
    #[serde(default, deserialize_with = "epoch")]
    pub date_created: Option<String>,
    #[serde(default, deserialize_with = "epoch")]
    pub last_updated: Option<String>,
    #[serde(default, deserialize_with = "epoch")]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub full_url: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A project (`GET /api/0/<project>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Project {
    pub fullname: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub full_url: Option<String>,
    #[serde(default)]
    pub parent: Option<Box<Project>>,
}

/// A page of a list: the items and the next page's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
    pub total: Option<u64>,
}

fn check_error(url: &str, v: &serde_json::Value) -> Result<(), ParseError> {
    if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
        let code = v
            .get("error_code")
            .and_then(|c| c.as_str())
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        return Err(ParseError::Service {
            url: url.to_string(),
            message: format!("{err}{code}"),
        });
    }
    Ok(())
}

fn parse_as<T: serde::de::DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, ParseError> {
    let v: serde_json::Value = json(url, body)?;
    check_error(url, &v)?;
    serde_json::from_value(v).map_err(|source| ParseError::Json {
        url: url.to_string(),
        source,
    })
}

/// # Errors
/// Empty, HTML, malformed, or Pagure's `{"error", "error_code"}`.
pub fn parse_pull_request(url: &str, body: &[u8]) -> Result<PullRequest, ParseError> {
    parse_as(url, body)
}

/// # Errors
/// As [`parse_pull_request`].
pub fn parse_issue(url: &str, body: &[u8]) -> Result<Issue, ParseError> {
    parse_as(url, body)
}

/// # Errors
/// As [`parse_pull_request`].
pub fn parse_project(url: &str, body: &[u8]) -> Result<Project, ParseError> {
    parse_as(url, body)
}

fn parse_page<T: serde::de::DeserializeOwned>(
    url: &str,
    body: &[u8],
    key: &str,
    total_key: &str,
) -> Result<Page<T>, ParseError> {
    let v: serde_json::Value = json(url, body)?;
    check_error(url, &v)?;
    let items =
        serde_json::from_value(v.get(key).cloned().unwrap_or_default()).map_err(|source| {
            ParseError::Json {
                url: url.to_string(),
                source,
            }
        })?;
    // `pagination.next` (issues) or top-level `pagination` (pull requests).
    let next = v
        .get("pagination")
        .and_then(|p| p.get("next"))
        .and_then(|n| n.as_str())
        .map(str::to_string);
    Ok(Page {
        items,
        next,
        total: v.get(total_key).and_then(|t| t.as_u64()),
    })
}

/// A CI flag on a commit or PR (`GET /api/0/<project>/c/<sha>/flag`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Flag {
    #[serde(default)]
    pub username: Option<String>,
    /// `success`, `failure`, `pending`, `error`, `canceled`.
    pub status: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub commit_hash: Option<String>,
}

/// # Errors
/// As [`parse_pull_request`].
pub fn parse_flags(url: &str, body: &[u8]) -> Result<Vec<Flag>, ParseError> {
    #[derive(Deserialize)]
    struct Flags {
        flags: Vec<Flag>,
    }
    parse_as::<Flags>(url, body).map(|f| f.flags)
}

/// Any other Pagure answer, with Pagure's error object turned into an error.
///
/// # Errors
/// As [`parse_pull_request`].
pub fn parse_value(url: &str, body: &[u8]) -> Result<serde_json::Value, ParseError> {
    parse_as(url, body)
}

/// `GET /api/0/<project>/issues`.
///
/// # Errors
/// As [`parse_pull_request`].
pub fn parse_issue_page(url: &str, body: &[u8]) -> Result<Page<Issue>, ParseError> {
    parse_page(url, body, "issues", "total_issues")
}

/// `GET /api/0/<project>/pull-requests`.
///
/// # Errors
/// As [`parse_pull_request`].
pub fn parse_pull_request_page(url: &str, body: &[u8]) -> Result<Page<PullRequest>, ParseError> {
    parse_page(url, body, "requests", "total_requests")
}

/// `[sources.pagure]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The instances followed.
    #[serde(default)]
    pub urls: Vec<String>,
    /// API base per instance host when it is not `https://HOST`.
    #[serde(default)]
    pub hosts: std::collections::HashMap<String, String>,
}

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "pagure",
    about: "Pagure pull requests (pagure.io, src.fedoraproject.org)",
    datasets: &[forkdebt_core::source::Dataset::Pagure],
    section: Some(|c| super::read_section::<Section>(c, "pagure")),
    build: Some(|c| Ok(Box::new(Pagure::from_config(c)?))),
};

/// The Pagure source: which instances, and where their API is.
pub struct Pagure {
    pub config: Section,
}

impl Pagure {
    fn base_for(&self, host: &str) -> Option<String> {
        if let Some(b) = self.config.hosts.get(host) {
            return Some(b.clone());
        }
        self.urls()
            .into_iter()
            .find(|u| super::host_of(u).as_deref() == Some(host))
    }

    /// The API URL of a reference `namespace/project#N` found at `ref_url`.
    pub fn api_url(&self, id: &str, ref_url: Option<&str>) -> Result<String, String> {
        let (path, n) = id
            .rsplit_once('#')
            .ok_or_else(|| format!("`{id}` is not project#number"))?;
        let host = ref_url
            .and_then(super::host_of)
            .unwrap_or_else(|| "pagure.io".into());
        let base = self
            .base_for(&host)
            .ok_or_else(|| format!("Pagure instance {host} is not in sources.pagure.urls"))?;
        Ok(format!(
            "{}/api/0/{path}/pull-request/{n}",
            base.trim_end_matches('/')
        ))
    }

    /// # Errors
    /// Its section cannot be read.
    pub fn from_config(config: &Config) -> Result<Pagure, String> {
        Ok(Pagure {
            config: config.sources.section("pagure")?,
        })
    }

    fn urls(&self) -> Vec<String> {
        match Some(&self.config).filter(|c| !c.urls.is_empty()) {
            Some(c) => c.urls.clone(),
            None => DEFAULT_URLS.iter().map(|u| u.to_string()).collect(),
        }
    }
}

#[async_trait::async_trait]
impl Source for Pagure {
    fn hosts(&self) -> Vec<String> {
        self.urls()
            .iter()
            .filter_map(|u| super::host_of(u))
            .collect()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        let refs = cx.store.references(RefKind::PagurePr).await?;
        let mut unusable = Vec::new();
        let mut items = Vec::new();
        for (id, url) in refs {
            match self.api_url(&id, url.as_deref()) {
                Ok(api) => items.push(ItemRequest {
                    item: id,
                    get: Get {
                        url: api,
                        max_bytes: MAX_BODY_BYTES,
                        ..Get::default()
                    },
                }),
                Err(e) => unusable.push((id, ItemOutcome::Failed(e))),
            }
        }
        let parse = |url: &str, body: &[u8]| -> Result<Parsed, ParseError> {
            let pr = parse_pull_request(url, body)?;
            let changed = pr.last_updated.clone();
            Ok((observation::to_data(&pr), changed))
        };
        let dataset = Dataset::Pagure;
        sync_each(cx, dataset, items, &parse, run).await?;
        if !unusable.is_empty() {
            run.items += unusable.len() as i64;
            super::record(cx.store, dataset, &unusable, run).await?;
        }
        Ok(())
    }
}
