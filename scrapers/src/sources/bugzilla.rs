//! Red Hat Bugzilla (any Bugzilla 5 REST API).
//!
//! Lookups are batched (`/rest/bug?id=1,2,3&include_fields=...`, never one request per bug).
//! A sync first asks, for bugs already known, only `id,last_change_time` in large batches, and
//! fetches the full fields only of bugs that changed or are new.

use super::{Context, ParseError, Source, SourceError, json};
use crate::http::{Get, Http};
use forkdebt_core::config::{Config, Secret};
use forkdebt_core::observation::{self, fedora::ChangeObservation};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun, Store, StoreError};
use serde::{Deserialize, Deserializer};

pub use forkdebt_core::observation::bugzilla::{Bug, ExternalBug};

pub const DEFAULT_URL: &str = "https://bugzilla.redhat.com";

/// Full lookups per request: 100 bugs keep the URL and the answer small.
pub const FULL_BATCH: usize = 100;
/// Change checks per request (`id,last_change_time` only).
pub const CHECK_BATCH: usize = 500;
/// The largest answer accepted: 100 bugs with these fields are well under 1 MB.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

pub const FULL_FIELDS: &str = "id,summary,status,resolution,cf_fixed_in,product,component,version,\
                               blocks,depends_on,alias,last_change_time,external_bugs";

/// A bug the server could not return (no such bug, or not visible to us).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Fault {
    #[serde(default, deserialize_with = "id_as_string")]
    pub id: String,
    #[serde(default, alias = "faultString")]
    pub message: Option<String>,
}

fn id_as_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    })
}

/// A `/rest/bug` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct Bugs {
    #[serde(default)]
    pub bugs: Vec<Bug>,
    #[serde(default)]
    pub faults: Vec<Fault>,
}

/// Bugzilla's error object: `{"error": true, "code": 410, "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceError {
    pub code: Option<i64>,
    pub message: String,
}

/// Parses a `/rest/bug` answer (any `include_fields`).
///
/// # Errors
/// Empty, HTML, malformed, or a Bugzilla error object.
pub fn parse_bugs(url: &str, body: &[u8]) -> Result<Bugs, ParseError> {
    let value: serde_json::Value = json(url, body)?;
    if value.get("error").and_then(|e| e.as_bool()) == Some(true) {
        let e: ServiceError = serde_json::from_value(value).map_err(|source| ParseError::Json {
            url: url.to_string(),
            source,
        })?;
        let code = e.code.map(|c| format!(" (code {c})")).unwrap_or_default();
        return Err(ParseError::Service {
            url: url.to_string(),
            message: format!("{}{code}", e.message),
        });
    }
    if value.get("bugs").is_none() {
        return Err(ParseError::NotJson {
            url: url.to_string(),
            what: "JSON without a `bugs` list".into(),
        });
    }
    serde_json::from_value(value).map_err(|source| ParseError::Json {
        url: url.to_string(),
        source,
    })
}

/// One comment of a bug (`/rest/bug/ID/comment`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Comment {
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub creator: Option<String>,
    #[serde(default)]
    pub creation_time: Option<String>,
    #[serde(default)]
    pub text: String,
}

/// Parses `/rest/bug/ID/comment`: `{"bugs": {"ID": {"comments": [...]}}}`.
///
/// # Errors
/// As [`parse_bugs`].
pub fn parse_comments(url: &str, body: &[u8]) -> Result<Vec<(u64, Vec<Comment>)>, ParseError> {
    #[derive(Deserialize)]
    struct Wrapper {
        comments: Vec<Comment>,
    }
    #[derive(Deserialize)]
    struct Top {
        bugs: std::collections::BTreeMap<String, Wrapper>,
    }
    let top: Top = json(url, body)?;
    Ok(top
        .bugs
        .into_iter()
        .map(|(id, w)| (id.parse().unwrap_or(0), w.comments))
        .collect())
}

/// Parses Bugzilla's error object out of an error answer.
pub fn parse_service_error(body: &[u8]) -> Option<ServiceError> {
    serde_json::from_slice(body).ok()
}

/// `[sources.bugzilla]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub url: Option<String>,
    pub api_key_env: Option<forkdebt_core::config::EnvName>,
    pub api_key_file: Option<std::path::PathBuf>,
}

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "bugzilla",
    about: "Red Hat Bugzilla: bugs, batched, incremental by last_change_time",
    datasets: &[forkdebt_core::source::Dataset::Bugzilla],
    section: Some(|c| super::read_section::<Section>(c, "bugzilla")),
    build: Some(|c| Ok(Box::new(Bugzilla::from_config(c)?))),
};

/// The Bugzilla source: where it is, and the key to use.
pub struct Bugzilla {
    pub base_url: String,
    pub api_key: Option<Secret>,
}

impl Bugzilla {
    fn url(&self, ids: &[u64], fields: &str) -> String {
        let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
        format!(
            "{}/rest/bug?id={}&include_fields={}&permissive=1",
            self.base_url.trim_end_matches('/'),
            ids.join(","),
            fields
        )
    }

    async fn fetch(
        &self,
        http: &Http,
        store: &Store,
        url: &str,
        run: &mut SourceRun,
    ) -> Result<Result<Option<Bugs>, String>, StoreError> {
        let mut headers = Vec::new();
        if let Some(key) = &self.api_key {
            headers.push(("authorization", format!("Bearer {}", key.expose())));
        }
        let get = Get {
            url: url.to_string(),
            headers,
            max_bytes: MAX_BODY_BYTES,
            ..Get::default()
        };
        Ok(
            match super::fetch_conditional(http, store, get, run).await? {
                Err(e) => Err(e.to_string()),
                Ok(super::Fetched::NotModified) => Ok(None),
                Ok(super::Fetched::Body(body)) => {
                    parse_bugs(url, &body).map(Some).map_err(|e| e.to_string())
                }
            },
        )
    }

    pub fn from_config(config: &Config) -> Result<Bugzilla, String> {
        let cfg: Section = config.sources.section("bugzilla")?;
        let base_url = cfg.url.unwrap_or_else(|| DEFAULT_URL.to_string());
        let api_key = Secret::load(cfg.api_key_env.as_deref(), cfg.api_key_file.as_deref())
            .map_err(|e| format!("sources.bugzilla: {e}"))?;
        Ok(Bugzilla { base_url, api_key })
    }
}

const DATASET: Dataset = Dataset::Bugzilla;

#[async_trait::async_trait]
impl Source for Bugzilla {
    fn hosts(&self) -> Vec<String> {
        super::host_of(&self.base_url).into_iter().collect()
    }

    /// Refreshes every Red Hat bug the inventory refers to.
    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        let (http, store, progress) = (cx.http, cx.store, cx.progress);
        let mut ids = store
            .reference_ids(forkdebt_core::model::RefKind::Rhbz)
            .await?;
        // The tracker bugs of the Fedora Changes we follow tell where those Changes stand.
        let changes = store.observations(Dataset::FedoraWiki).await?;
        ids.extend(changes.values().filter_map(|o| {
            let c: ChangeObservation = observation::read(o.data.as_deref())?;
            forkdebt_core::change::tracker_id(c.page.tracker_bug.as_deref()?)
        }));
        ids.retain(|id| cx.keeps_item(id));
        ids.sort();
        ids.dedup();
        let known = store.observations(DATASET).await?;
        let mut numeric: Vec<u64> = Vec::new();
        let mut bad = Vec::new();
        for id in &ids {
            match id.parse::<u64>() {
                Ok(n) => numeric.push(n),
                Err(_) => bad.push((
                    id.clone(),
                    ItemOutcome::Failed(format!("`{id}` is not a bug number")),
                )),
            }
        }
        run.items = ids.len() as i64;
        if !bad.is_empty() {
            super::record(store, DATASET, &bad, run).await?;
        }
        let (seen, new): (Vec<u64>, Vec<u64>) = numeric
            .iter()
            .partition(|id| known.get(&id.to_string()).is_some_and(|o| o.data.is_some()));
        let mut to_fetch = new;

        // 1. Which known bugs changed? One cheap request per CHECK_BATCH bugs.
        for chunk in seen.chunks(CHECK_BATCH) {
            let url = self.url(chunk, "id,last_change_time");
            progress(&format!(
                "bugzilla: checking {} known bugs for changes",
                chunk.len()
            ));
            match self.fetch(http, store, &url, run).await? {
                Ok(None) => {
                    let outcomes: Vec<_> = chunk
                        .iter()
                        .map(|id| (id.to_string(), ItemOutcome::Unchanged))
                        .collect();
                    super::record(store, DATASET, &outcomes, run).await?;
                }
                Ok(Some(answer)) => {
                    let mut unchanged = Vec::new();
                    for id in chunk {
                        let stored = known
                            .get(&id.to_string())
                            .and_then(|o| o.upstream_changed_at.clone());
                        let now = answer
                            .bugs
                            .iter()
                            .find(|b| b.id == *id)
                            .and_then(|b| b.last_change_time.clone());
                        if now.is_some() && now == stored {
                            unchanged.push((id.to_string(), ItemOutcome::Unchanged));
                        } else {
                            to_fetch.push(*id);
                        }
                    }
                    super::record(store, DATASET, &unchanged, run).await?;
                }
                Err(e) => {
                    // Cannot tell what changed: fetch them in full instead (that may fail too,
                    // and then it is recorded per bug).
                    tracing::warn!(error = %e, "bugzilla change check failed");
                    to_fetch.extend_from_slice(chunk);
                }
            }
        }

        // 2. Full fields of new and changed bugs, FULL_BATCH per request.
        to_fetch.sort_unstable();
        for chunk in to_fetch.chunks(FULL_BATCH) {
            let url = self.url(chunk, FULL_FIELDS);
            progress(&format!("bugzilla: fetching {} bugs", chunk.len()));
            let outcomes: Vec<(String, ItemOutcome)> =
                match self.fetch(http, store, &url, run).await? {
                    Ok(None) => chunk
                        .iter()
                        .map(|id| (id.to_string(), ItemOutcome::Unchanged))
                        .collect(),
                    Ok(Some(answer)) => chunk
                        .iter()
                        .map(|id| {
                            let outcome = match answer.bugs.iter().find(|b| b.id == *id) {
                                Some(bug) => ItemOutcome::Observed {
                                    data: observation::to_data(bug),
                                    upstream_changed_at: bug.last_change_time.clone(),
                                },
                                None => {
                                    let fault =
                                        answer.faults.iter().find(|f| f.id == id.to_string());
                                    let why = fault.and_then(|f| f.message.clone()).unwrap_or_else(
                                        || "not in the answer (no such bug, or not public)".into(),
                                    );
                                    ItemOutcome::Failed(format!("bug {id}: {why}"))
                                }
                            };
                            (id.to_string(), outcome)
                        })
                        .collect(),
                    Err(e) => {
                        run.error.get_or_insert(e.clone());
                        chunk
                            .iter()
                            .map(|id| (id.to_string(), ItemOutcome::Failed(e.clone())))
                            .collect()
                    }
                };
            super::record(store, DATASET, &outcomes, run).await?;
        }
        Ok(())
    }
}
