//! Red Hat Jira (`issues.redhat.com`; any Jira's REST API v2): the issues patches and
//! changelogs name (`Resolves: RHEL-12345`). Public issues need no account.
//!
//! Batched: one `search` of `key in (…)` per [`BATCH`] issues. Jira answers 400 to the whole
//! search when one key does not exist (or is not public), so a batch that fails is asked
//! again issue by issue, and only the missing ones are recorded as failed.
//!
//! No recorded answer of issues.redhat.com was found in public test data; the shapes read
//! here are Jira's documented ones (`/rest/api/2/search`, `/rest/api/2/issue/{key}`), with
//! RHEL's "Fixed in Build" custom field (`customfield_12318450`, configurable).

use super::{Context, ParseError, Source, SourceError, json};
use crate::http::{Get, Http};
use forkdebt_core::config::{Config, Secret};
use forkdebt_core::observation::{self, jira::Issue};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun, StoreError};
use serde::Deserialize;
use serde_json::Value;

pub const DEFAULT_URL: &str = "https://issues.redhat.com";
/// RHEL's "Fixed in Build" field.
pub const DEFAULT_FIXED_IN_BUILD_FIELD: &str = "customfield_12318450";
/// Issues per search: the JQL stays a short URL.
pub const BATCH: usize = 50;
/// The largest answer accepted (50 issues with five fields are a few kB).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// `[sources.jira]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub url: Option<String>,
    /// The custom field holding the NVR of the build with the fix.
    pub fixed_in_build_field: Option<String>,
    pub token_env: Option<forkdebt_core::config::EnvName>,
    pub token_file: Option<std::path::PathBuf>,
}

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "jira",
    about: "Red Hat Jira: RHEL issues (status, resolution, Fixed in Build), batched",
    datasets: &[Dataset::Jira],
    section: Some(|c| super::read_section::<Section>(c, "jira")),
    build: Some(|c| Ok(Box::new(Jira::from_config(c)?))),
};

pub struct Jira {
    base_url: String,
    field: String,
    token: Option<Secret>,
}

/// A search answer, or one issue.
#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    issues: Vec<RawIssue>,
}

#[derive(Debug, Deserialize)]
struct RawIssue {
    key: String,
    #[serde(default)]
    fields: serde_json::Map<String, Value>,
}

impl RawIssue {
    fn issue(&self, field: &str) -> Issue {
        let name = |v: Option<&Value>| -> Option<String> {
            match v? {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o
                    .get("name")
                    .or_else(|| o.get("value"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => None,
            }
        };
        let fix_versions = self
            .fields
            .get("fixVersions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| name(Some(v))).collect())
            .unwrap_or_default();
        Issue {
            key: self.key.clone(),
            status: name(self.fields.get("status")),
            resolution: name(self.fields.get("resolution")),
            fix_versions,
            fixed_in_build: name(self.fields.get(field)).filter(|s| !s.trim().is_empty()),
            updated: name(self.fields.get("updated")),
        }
    }
}

/// Parses a `/rest/api/2/search` answer into issues.
///
/// # Errors
/// Not JSON, or not a search answer.
pub fn parse_search(url: &str, body: &[u8], field: &str) -> Result<Vec<Issue>, ParseError> {
    let value: Value = json(url, body)?;
    if value.get("issues").is_none() {
        return Err(ParseError::Service {
            url: url.to_string(),
            message: jira_error(&value),
        });
    }
    let search: Search = serde_json::from_value(value).map_err(|source| ParseError::Json {
        url: url.to_string(),
        source,
    })?;
    Ok(search.issues.iter().map(|i| i.issue(field)).collect())
}

/// Parses a `/rest/api/2/issue/{key}` answer.
///
/// # Errors
/// Not JSON, or not an issue.
pub fn parse_issue(url: &str, body: &[u8], field: &str) -> Result<Issue, ParseError> {
    let value: Value = json(url, body)?;
    if value.get("key").is_none() {
        return Err(ParseError::Service {
            url: url.to_string(),
            message: jira_error(&value),
        });
    }
    let raw: RawIssue = serde_json::from_value(value).map_err(|source| ParseError::Json {
        url: url.to_string(),
        source,
    })?;
    Ok(raw.issue(field))
}

/// Jira's `{"errorMessages": [...], "errors": {...}}`, in one line.
fn jira_error(value: &Value) -> String {
    let messages: Vec<String> = value
        .get("errorMessages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if messages.is_empty() {
        "not a Jira answer".to_string()
    } else {
        messages.join("; ")
    }
}

/// `RHEL-12345`: what may go into a JQL list and a URL path as it is.
fn is_key(key: &str) -> bool {
    key.split_once('-').is_some_and(|(project, n)| {
        !project.is_empty()
            && project.len() <= 32
            && project
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && project.as_bytes()[0].is_ascii_uppercase()
            && !n.is_empty()
            && n.len() <= 12
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

impl Jira {
    /// # Errors
    /// `[sources.jira]` cannot be read, or its token cannot.
    pub fn from_config(config: &Config) -> Result<Jira, String> {
        let cfg: Section = config.sources.section("jira")?;
        let token = Secret::load(cfg.token_env.as_deref(), cfg.token_file.as_deref())
            .map_err(|e| format!("sources.jira: {e}"))?;
        Ok(Jira {
            base_url: cfg
                .url
                .unwrap_or_else(|| DEFAULT_URL.to_string())
                .trim_end_matches('/')
                .to_string(),
            field: cfg
                .fixed_in_build_field
                .unwrap_or_else(|| DEFAULT_FIXED_IN_BUILD_FIELD.to_string()),
            token,
        })
    }

    fn fields(&self) -> String {
        format!("status,resolution,fixVersions,updated,{}", self.field)
    }

    fn search_url(&self, keys: &[&String]) -> String {
        let jql = format!(
            "key in ({})",
            keys.iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("jql", &jql)
            .append_pair("fields", &self.fields())
            .append_pair("maxResults", &keys.len().to_string())
            .finish();
        format!("{}/rest/api/2/search?{query}", self.base_url)
    }

    fn issue_url(&self, key: &str) -> String {
        format!(
            "{}/rest/api/2/issue/{}?fields={}",
            self.base_url,
            forkdebt_core::display::path_segment(key),
            self.fields()
        )
    }

    async fn get(&self, http: &Http, url: &str, run: &mut SourceRun) -> Result<Vec<u8>, String> {
        let mut headers = Vec::new();
        if let Some(t) = &self.token {
            headers.push(("authorization", format!("Bearer {}", t.expose())));
        }
        let get = Get {
            url: url.to_string(),
            headers,
            max_bytes: MAX_BODY_BYTES,
            ..Get::default()
        };
        let (answer, attempts) = http.get_counted(&get).await;
        run.requests += attempts as i64;
        match answer {
            Ok(crate::http::Response::Fresh { body, .. }) => Ok(body),
            // No conditional headers are sent, so none comes back; as an empty answer.
            Ok(crate::http::Response::NotModified) => Err("304 without a request for it".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// One batch: a search, else issue by issue.
    async fn batch(
        &self,
        http: &Http,
        keys: &[&String],
        run: &mut SourceRun,
    ) -> Vec<(String, ItemOutcome)> {
        let observed = |issue: &Issue| ItemOutcome::Observed {
            data: observation::to_data(issue),
            upstream_changed_at: issue.updated.clone(),
        };
        let url = self.search_url(keys);
        let searched = match self.get(http, &url, run).await {
            Ok(body) => parse_search(&url, &body, &self.field).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        if let Ok(issues) = searched {
            return keys
                .iter()
                .map(|k| {
                    let outcome = match issues.iter().find(|i| &i.key == *k) {
                        Some(issue) => observed(issue),
                        None => ItemOutcome::Failed(format!(
                            "{k}: not in Jira's answer (no such issue, or not public)"
                        )),
                    };
                    ((*k).clone(), outcome)
                })
                .collect();
        }
        let mut out = Vec::new();
        for k in keys {
            let url = self.issue_url(k);
            let outcome = match self.get(http, &url, run).await {
                Ok(body) => match parse_issue(&url, &body, &self.field) {
                    Ok(issue) => observed(&issue),
                    Err(e) => ItemOutcome::Failed(format!("{k}: {e}")),
                },
                Err(e) => ItemOutcome::Failed(format!("{k}: {e}")),
            };
            out.push(((*k).clone(), outcome));
        }
        out
    }
}

#[async_trait::async_trait]
impl Source for Jira {
    fn hosts(&self) -> Vec<String> {
        super::host_of(&self.base_url).into_iter().collect()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        let ids = cx
            .store
            .reference_ids(forkdebt_core::model::RefKind::Jira)
            .await?;
        run.items = ids.len() as i64;
        let (keys, bad): (Vec<&String>, Vec<&String>) = ids.iter().partition(|k| is_key(k));
        let bad: Vec<(String, ItemOutcome)> = bad
            .into_iter()
            .map(|k| {
                (
                    k.clone(),
                    ItemOutcome::Failed(format!("`{k}` is not a Jira issue key")),
                )
            })
            .collect();
        record(cx, &bad, run).await?;
        for chunk in keys.chunks(BATCH) {
            (cx.progress)(&format!("jira: {} issues", chunk.len()));
            // A missing issue is an item error; the source goes on.
            let outcomes = self.batch(cx.http, chunk, run).await;
            record(cx, &outcomes, run).await?;
        }
        Ok(())
    }
}

async fn record(
    cx: &Context<'_>,
    outcomes: &[(String, ItemOutcome)],
    run: &mut SourceRun,
) -> Result<(), StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    super::record(cx.store, Dataset::Jira, outcomes, run).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_before_they_reach_a_query() {
        assert!(is_key("RHEL-12345"));
        assert!(is_key("OSCI2-7"));
        assert!(!is_key("RHEL-12345) OR project=SECRET"));
        assert!(!is_key("rhel-1"));
        assert!(!is_key("RHEL-"));
    }

    #[test]
    fn an_error_answer_is_named() {
        let body = br#"{"errorMessages":["An issue with key 'RHEL-1' does not exist for field 'key'."],"errors":{}}"#;
        let e = parse_search("u", body, DEFAULT_FIXED_IN_BUILD_FIELD).expect_err("error");
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
}
