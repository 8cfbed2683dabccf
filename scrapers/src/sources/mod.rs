//! One module per upstream source: its typed requests, a parser of its real responses, and
//! its sync step.
//!
//! - [`bugzilla`]: Red Hat Bugzilla REST (batched lookups, incremental by `last_change_time`).
//! - [`gitlab`]: GitLab API v4 merge requests (gitlab.com, CentOS Stream, other instances).
//! - [`pagure`]: Pagure API v0 pull requests and issues (pagure.io, src.fedoraproject.org).
//! - [`bodhi`]: whether a Fedora release has shipped (for Changes that land with it).
//! - this module: JSON parsing helpers, conditional fetches, and the per-item sync loop the
//!   forges share.
//!
//! Still to come (see the project's issues): GitHub, the Fedora wiki, Koji and yum repodata.

pub mod bodhi;
pub mod bugzilla;
pub mod fedora_wiki;
pub mod github;
pub mod gitlab;
pub mod koji;
pub mod pagure;
pub mod repodata;
pub mod xmlrpc;

use crate::http::{Get, Http, HttpError, Response};
use forkdebt_core::store::{ItemOutcome, SourceRun, Store};
use futures_util::StreamExt;

/// Requests in flight at once in a per-item sync (the per-host limit still applies).
const ITEM_CONCURRENCY: usize = 4;
/// Outcomes written per transaction: an interrupted sync loses at most this many.
const RECORD_BATCH: usize = 50;

/// A fetch that may be answered "not modified".
pub(crate) enum Fetched {
    Body(Vec<u8>),
    NotModified,
}

/// GETs `get.url` with the stored validators, stores the new ones, counts requests.
pub(crate) async fn fetch_conditional(
    http: &Http,
    store: &Store,
    mut get: Get,
    run: &mut SourceRun,
) -> Result<Fetched, HttpError> {
    if let Ok((etag, last_modified)) = store.validators(&get.url).await {
        get.etag = etag;
        get.last_modified = last_modified;
    }
    let (resp, attempts) = http.get_counted(&get).await;
    run.requests += attempts as i64;
    match resp? {
        Response::NotModified => {
            run.not_modified += 1;
            Ok(Fetched::NotModified)
        }
        Response::Fresh {
            body,
            etag,
            last_modified,
            ..
        } => {
            if etag.is_some() || last_modified.is_some() {
                // Best effort: without validators the next sync simply asks in full.
                let _ = store
                    .store_validators(&get.url, etag.as_deref(), last_modified.as_deref())
                    .await;
            }
            Ok(Fetched::Body(body))
        }
    }
}

/// One item of a per-item sync: its key in the store and the API URL that describes it.
pub(crate) struct ItemRequest {
    pub item: String,
    pub get: Get,
}

/// A parsed item: its JSON for the store and its upstream change time.
pub(crate) type Parsed = (String, Option<String>);

/// Turns one item's answer into what is stored.
pub(crate) type ParseItem = dyn Fn(&str, &[u8]) -> Result<Parsed, ParseError> + Sync;

/// Fetches every item (conditionally, a few at a time), parses, and records outcomes in
/// batches. A 4xx fails the item; anything else that fails also marks the source failed.
pub(crate) async fn sync_each(
    http: &Http,
    store: &Store,
    source: &str,
    items: Vec<ItemRequest>,
    parse: &ParseItem,
    progress: &(dyn Fn(&str) + Sync),
) -> SourceRun {
    let mut run = SourceRun {
        items: items.len() as i64,
        ..SourceRun::default()
    };
    let total = items.len();
    let mut results = futures_util::stream::iter(items.into_iter().map(|req| async move {
        let mut r = SourceRun::default();
        let url = req.get.url.clone();
        let outcome = match fetch_conditional(http, store, req.get, &mut r).await {
            Ok(Fetched::NotModified) => Ok(ItemOutcome::Unchanged),
            Ok(Fetched::Body(body)) => match parse(&url, &body) {
                Ok((data, upstream_changed_at)) => Ok(ItemOutcome::Observed {
                    data,
                    upstream_changed_at,
                }),
                Err(e) => Err((e.to_string(), true)),
            },
            Err(e @ HttpError::Status { status, .. })
                if (400..500).contains(&status) && status != 429 =>
            {
                Err((e.to_string(), false))
            }
            Err(e) => Err((e.to_string(), true)),
        };
        (req.item, outcome, r)
    }))
    .buffer_unordered(ITEM_CONCURRENCY);
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    let mut done = 0;
    while let Some((item, outcome, r)) = results.next().await {
        run.requests += r.requests;
        run.not_modified += r.not_modified;
        let outcome = match outcome {
            Ok(o) => o,
            Err((e, source_failed)) => {
                run.errors += 1;
                if source_failed {
                    run.error.get_or_insert(e.clone());
                }
                ItemOutcome::Failed(e)
            }
        };
        batch.push((item, outcome));
        done += 1;
        if batch.len() == RECORD_BATCH || done == total {
            progress(&format!("{source}: {done}/{total}"));
            if let Err(e) = store
                .record_outcomes(source, &batch, chrono::Utc::now())
                .await
            {
                run.error.get_or_insert(e.to_string());
            }
            batch.clear();
        }
    }
    run
}

/// Records one batch of outcomes: failed items are counted (an item's fault does not fail
/// the source), and a store error is the run's error.
pub(crate) async fn record(
    store: &Store,
    source: &str,
    outcomes: &[(String, ItemOutcome)],
    run: &mut SourceRun,
) {
    run.errors += outcomes
        .iter()
        .filter(|(_, o)| matches!(o, ItemOutcome::Failed(_)))
        .count() as i64;
    if let Err(e) = store
        .record_outcomes(source, outcomes, chrono::Utc::now())
        .await
    {
        run.error.get_or_insert(e.to_string());
    }
}

/// The host of a URL, lowercased.
pub(crate) fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// Percent-encodes a project path for a URL path segment (`group/project` -> `group%2Fproject`).
pub(crate) fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A response that is not what the source expected: names the URL and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{url}: empty response body")]
    Empty { url: String },
    #[error("{url}: expected JSON, got {what}")]
    NotJson { url: String, what: String },
    #[error("{url}: malformed JSON: {source}")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{url}: the service answered with an error: {message}")]
    Service { url: String, message: String },
}

/// Parses a JSON body, telling an HTML error page or an empty body apart from broken JSON.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    url: &str,
    body: &[u8],
) -> Result<T, ParseError> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Err(ParseError::Empty {
            url: url.to_string(),
        });
    };
    if body[start] == b'<' {
        let head =
            String::from_utf8_lossy(&body[start..body.len().min(start + 200)]).to_lowercase();
        let what = if head.contains("<html") || head.contains("<!doctype html") {
            "an HTML page"
        } else {
            "XML or markup"
        };
        return Err(ParseError::NotJson {
            url: url.to_string(),
            what: what.to_string(),
        });
    }
    serde_json::from_slice(body).map_err(|source| ParseError::Json {
        url: url.to_string(),
        source,
    })
}
