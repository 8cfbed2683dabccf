//! One module per upstream source: its typed requests, a parser of its real responses, and
//! its [`Source`] implementation.
//!
//! - [`fedora_wiki`] — Fedora Change pages and their status categories (MediaWiki API).
//! - [`bodhi`] — whether a Fedora release has shipped (for Changes that land with it).
//! - [`bugzilla`] — Red Hat Bugzilla REST (batched lookups, incremental by `last_change_time`).
//! - [`pagure`] — Pagure API v0 pull requests and issues (pagure.io, src.fedoraproject.org).
//! - [`gitlab`] — GitLab API v4 merge requests (gitlab.com, CentOS Stream, other instances).
//! - [`github`] — GitHub pull requests and release tags, through octocrab.
//! - [`git`] — releases and existence of upstream commits from git mirrors.
//! - [`koji`], [`repodata`] — what the base distributions ship.
//! - this module: the [`Source`] trait and the [`Context`] a sync hands every source (ONE
//!   HTTP layer, the store, the configuration), conditional fetches, the per-item loop the
//!   forges share, and [`record`], the one way a source writes what it observed.
//!
//! Adding a source: a module here, a [`SourceId`] variant in forkdebt-core, and its arm in
//! [`build`].

pub mod bodhi;
pub mod bugzilla;
pub mod fedora_wiki;
pub mod git;
pub mod github;
pub mod gitlab;
pub mod koji;
pub mod pagure;
pub mod repodata;
pub mod xmlrpc;

use crate::http::{Get, Http, HttpError, Response};
use forkdebt_core::config::Config;
use forkdebt_core::source::{Dataset, SourceId};
use forkdebt_core::store::{ItemOutcome, SourceRun, Store, StoreError};
use futures_util::StreamExt;

/// Requests in flight at once in a per-item sync (the per-host limit still applies).
const ITEM_CONCURRENCY: usize = 4;
/// Outcomes written per transaction: an interrupted sync loses at most this many.
const RECORD_BATCH: usize = 50;

/// What a source runs with: shared by every source of one sync.
pub struct Context<'a> {
    /// The one HTTP layer of this sync (GitHub's octocrab sits under it as a transport).
    pub http: &'a Http,
    pub store: &'a Store,
    pub config: &'a Config,
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// Why a source's run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// What was observed could not be stored: the run stops, what was stored before stays.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{0}")]
    Failed(String),
}

/// An upstream source.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// The API hosts it asks: while one of them asked us to wait, the source is not run.
    fn hosts(&self) -> Vec<String>;

    /// Asks upstream about what the store refers to and records what it says, counting in
    /// `run`. Item failures are counted there; an `Err` fails the whole run.
    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError>;
}

/// One base distribution's part of a source: a Koji tag, a yum repository.
#[async_trait::async_trait]
pub trait DistroPart: Send + Sync {
    /// The `[[distro]]` it describes.
    fn distro(&self) -> &str;

    /// Where it is asked (the Koji hub, the repository).
    fn url(&self) -> &str;

    /// What the distribution ships of `packages`, recorded as `distro/package` items
    /// (`run.items` already counts them).
    async fn sync(
        &self,
        cx: &Context<'_>,
        packages: &[String],
        run: &mut SourceRun,
    ) -> Result<(), SourceError>;
}

/// A source asked once per base distribution, for the packages of the downstreams based on
/// it (a distribution without such a downstream is not asked).
pub struct PerDistro<T>(pub Vec<T>);

impl<T> PerDistro<T> {
    /// The parts `part` makes of the configured distributions (`None`: that distribution
    /// has no such source).
    pub fn from_config(
        config: &Config,
        part: impl Fn(&forkdebt_core::config::DistroConfig) -> Option<T>,
    ) -> PerDistro<T> {
        PerDistro(config.distro.iter().filter_map(part).collect())
    }
}

#[async_trait::async_trait]
impl<T: DistroPart> Source for PerDistro<T> {
    fn hosts(&self) -> Vec<String> {
        self.0.iter().filter_map(|p| host_of(p.url())).collect()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        for part in &self.0 {
            let packages = packages_based_on(cx, part.distro()).await?;
            if packages.is_empty() {
                continue;
            }
            let mut r = SourceRun {
                items: packages.len() as i64,
                ..SourceRun::default()
            };
            part.sync(cx, &packages, &mut r).await?;
            run.add(&r, part.distro());
        }
        Ok(())
    }
}

/// The source `id` as the configuration sets it up.
///
/// # Errors
/// A configuration the source cannot use (a secret that cannot be read, a bad URL).
pub fn build(id: SourceId, config: &Config) -> Result<Box<dyn Source>, String> {
    Ok(match id {
        SourceId::FedoraWiki => Box::new(fedora_wiki::FedoraWiki::from_config(config)),
        SourceId::Bodhi => Box::new(bodhi::Bodhi::from_config(config)),
        SourceId::Bugzilla => Box::new(bugzilla::Bugzilla::from_config(config)?),
        SourceId::Pagure => Box::new(pagure::Pagure::from_config(config)),
        SourceId::Gitlab => Box::new(gitlab::Gitlab::from_config(config)),
        SourceId::Github => Box::new(github::Github::from_config(config)?),
        SourceId::Git => Box::new(git::GitMirrors::from_config(config)),
        SourceId::Koji => Box::new(koji::from_config(config)),
        SourceId::Repodata => Box::new(repodata::from_config(config)),
    })
}

/// A fetch that may be answered "not modified".
pub(crate) enum Fetched {
    Body(Vec<u8>),
    NotModified,
}

/// GETs `get.url` with the stored validators, stores the new ones, counts requests. The
/// outer error is the store's (it stops the source), the inner one the request's.
pub(crate) async fn fetch_conditional(
    http: &Http,
    store: &Store,
    mut get: Get,
    run: &mut SourceRun,
) -> Result<Result<Fetched, HttpError>, StoreError> {
    let (etag, last_modified) = store.validators(&get.url).await?;
    get.etag = etag;
    get.last_modified = last_modified;
    let (resp, attempts) = http.get_counted(&get).await;
    run.requests += attempts as i64;
    Ok(match resp {
        Err(e) => Err(e),
        Ok(Response::NotModified) => {
            run.not_modified += 1;
            Ok(Fetched::NotModified)
        }
        Ok(Response::Fresh {
            body,
            etag,
            last_modified,
            ..
        }) => {
            if etag.is_some() || last_modified.is_some() {
                store
                    .store_validators(&get.url, etag.as_deref(), last_modified.as_deref())
                    .await?;
            }
            Ok(Fetched::Body(body))
        }
    })
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
/// batches. A 4xx fails the item; anything else that fails also marks the source failed; a
/// store error stops the run.
pub(crate) async fn sync_each(
    cx: &Context<'_>,
    dataset: Dataset,
    items: Vec<ItemRequest>,
    parse: &ParseItem,
    run: &mut SourceRun,
) -> Result<(), SourceError> {
    run.items += items.len() as i64;
    let total = items.len();
    let (http, store) = (cx.http, cx.store);
    let mut results = futures_util::stream::iter(items.into_iter().map(|req| async move {
        let mut r = SourceRun::default();
        let url = req.get.url.clone();
        let outcome = match fetch_conditional(http, store, req.get, &mut r).await {
            Err(e) => Err(e),
            Ok(Ok(Fetched::NotModified)) => Ok(Ok(ItemOutcome::Unchanged)),
            Ok(Ok(Fetched::Body(body))) => Ok(match parse(&url, &body) {
                Ok((data, upstream_changed_at)) => Ok(ItemOutcome::Observed {
                    data,
                    upstream_changed_at,
                }),
                Err(e) => Err((e.to_string(), true)),
            }),
            Ok(Err(e @ HttpError::Status { status, .. }))
                if (400..500).contains(&status) && status != 429 =>
            {
                Ok(Err((e.to_string(), false)))
            }
            Ok(Err(e)) => Ok(Err((e.to_string(), true))),
        };
        (req.item, outcome, r)
    }))
    .buffer_unordered(ITEM_CONCURRENCY);
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    let mut done = 0;
    while let Some((item, outcome, r)) = results.next().await {
        run.requests += r.requests;
        run.not_modified += r.not_modified;
        let outcome = match outcome? {
            Ok(o) => o,
            Err((e, source_failed)) => {
                if source_failed {
                    run.error.get_or_insert(e.clone());
                }
                ItemOutcome::Failed(e)
            }
        };
        batch.push((item, outcome));
        done += 1;
        if batch.len() == RECORD_BATCH || done == total {
            (cx.progress)(&format!("{dataset}: {done}/{total}"));
            record(store, dataset, &batch, run).await?;
            batch.clear();
        }
    }
    Ok(())
}

/// Records one batch of outcomes: failed items are counted (an item's fault does not fail
/// the source); a store error is returned, and the batch is not recorded at all.
///
/// # Errors
/// The store could not record the batch.
pub(crate) async fn record(
    store: &Store,
    dataset: Dataset,
    outcomes: &[(String, ItemOutcome)],
    run: &mut SourceRun,
) -> Result<(), StoreError> {
    run.errors += outcomes
        .iter()
        .filter(|(_, o)| matches!(o, ItemOutcome::Failed(_)))
        .count() as i64;
    store
        .record_outcomes(dataset, outcomes, chrono::Utc::now())
        .await
}

/// The packages of the downstreams based on `distro`, sorted.
async fn packages_based_on(cx: &Context<'_>, distro: &str) -> Result<Vec<String>, StoreError> {
    let mut packages = Vec::new();
    for ds in cx
        .config
        .downstream
        .iter()
        .filter(|d| d.base.as_deref() == Some(distro))
    {
        packages.extend(cx.store.package_names(&ds.name).await?);
    }
    packages.sort();
    packages.dedup();
    Ok(packages)
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
