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
//! Adding a source: a module here declaring its `[sources.NAME]` section (if any) and its
//! [`Descriptor`], and one line in [`REGISTRY`]. `sync --help`, `forkdebt sources`, config
//! checking and its secrets (`*_env` fields typed [`forkdebt_core::config::EnvName`]) follow.

pub mod base_builds;
pub mod base_fork;
pub mod bodhi;
pub mod bugzilla;
pub mod fedora_wiki;
pub mod forgejo;
pub mod git;
pub mod github;
pub mod gitlab;
pub mod jira;
pub mod koji;
pub mod pagure;
pub mod repodata;
#[cfg(test)]
mod testing;
pub mod xmlrpc;

use crate::http::{Get, Http, HttpError, Response};
use forkdebt_core::config::{Config, ConfigError};
use forkdebt_core::source::Dataset;
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
    /// A sync of what a bus message or a webhook named, not of everything.
    pub focus: Option<&'a Focus>,
}

impl Context<'_> {
    /// Whether this sync asks about `package` (every package unless focused).
    pub fn keeps_package(&self, package: &str) -> bool {
        self.focus.is_none_or(|f| f.packages.contains(package))
    }

    /// Whether this sync asks about the item `id` (every item unless focused).
    pub fn keeps_item(&self, id: &str) -> bool {
        self.focus.is_none_or(|f| f.items.contains(id))
    }
}

/// What one message named, among what is tracked: the packages (what a distribution ships of
/// them, their builds) and the items (a pull request `owner/repo#N`, a bug number, a Change
/// page) a focused sync asks about, and the sources that answer them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Focus {
    pub sources: std::collections::BTreeSet<&'static str>,
    pub packages: std::collections::BTreeSet<String>,
    pub items: std::collections::BTreeSet<String>,
}

impl Focus {
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Adds what `other` named.
    pub fn merge(&mut self, other: Focus) {
        self.sources.extend(other.sources);
        self.packages.extend(other.packages);
        self.items.extend(other.items);
    }
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

/// Everything forkdebt knows of one source.
pub struct Descriptor {
    /// `sync --source NAME`, its `[sources.NAME]` section, its line in `forkdebt sources`.
    pub name: &'static str,
    /// What it asks, in a few words (`sync --help`).
    pub about: &'static str,
    /// The datasets its observations are stored under.
    pub datasets: &'static [Dataset],
    /// Reads its `[sources.NAME]` section, so that every key in it is checked; `None`: it
    /// has no section.
    pub section: Option<ReadSection>,
    /// Builds it for a sync; `None`: a section other sources read, not a sync of its own.
    pub build: Option<Build>,
}

/// Reads a source's section (errors name what is wrong).
pub type ReadSection = fn(&Config) -> Result<(), String>;
/// Builds a source from the configuration.
pub type Build = fn(&Config) -> Result<Box<dyn Source>, String>;

/// Every source, in the order a sync runs them: the wiki first (its Change pages name the
/// tracker bugs the Bugzilla step then asks about), Bodhi before the Change decisions that
/// read release states, the base distribution last.
pub const REGISTRY: &[Descriptor] = &[
    fedora_wiki::SOURCE,
    bodhi::SOURCE,
    bugzilla::SOURCE,
    jira::SOURCE,
    pagure::SOURCE,
    gitlab::SOURCE,
    github::SOURCE,
    git::SOURCE,
    base_fork::SOURCE,
    koji::SOURCE,
    koji::DOWNSTREAM_SOURCE,
    base_builds::SOURCE,
    repodata::SOURCE,
    forgejo::SOURCE,
    #[cfg(test)]
    testing::SOURCE,
];

/// The source named `name`.
pub fn descriptor(name: &str) -> Option<&'static Descriptor> {
    REGISTRY.iter().find(|d| d.name == name)
}

/// The sources a sync can run, in sync order.
pub fn syncable() -> impl Iterator<Item = &'static Descriptor> {
    REGISTRY.iter().filter(|d| d.build.is_some())
}

/// Their names, comma separated (help texts, errors).
pub fn names() -> String {
    syncable().map(|d| d.name).collect::<Vec<_>>().join(", ")
}

/// `forkdebt sources`' rows: every source of the registry in sync order (a source never run
/// says so), then what else recorded runs (dist-git repositories, proposals).
pub fn every_status(
    mut recorded: Vec<forkdebt_core::store::SourceStatus>,
) -> Vec<forkdebt_core::store::SourceStatus> {
    let mut out = Vec::new();
    for d in syncable() {
        match recorded.iter().position(|s| s.source == d.name) {
            Some(i) => out.push(recorded.remove(i)),
            None => out.push(forkdebt_core::store::SourceStatus {
                source: d.name.to_string(),
                ..Default::default()
            }),
        }
    }
    out.extend(recorded);
    out
}

/// Builds the source `name` from the configuration.
///
/// # Errors
/// No such source, or its section or secrets cannot be read.
pub fn build(name: &str, config: &Config) -> Result<Box<dyn Source>, String> {
    match descriptor(name).and_then(|d| d.build) {
        Some(build) => build(config),
        None => Err(format!("unknown source `{name}`; sources are: {}", names())),
    }
}

/// Reads `[sources.NAME]` as `T` (the check behind a [`Descriptor`]'s `section`).
pub(crate) fn read_section<T: serde::de::DeserializeOwned + Default>(
    config: &Config,
    name: &str,
) -> Result<(), String> {
    config.sources.section::<T>(name).map(|_| ())
}

/// Checks every `[sources.NAME]` section against its source: an unknown section, a key the
/// source does not have or a value of the wrong type is an error naming the key and, when the
/// file says where, its line.
///
/// # Errors
/// The first such mistake.
pub fn check(config: &Config, path: &str) -> Result<(), ConfigError> {
    for (name, value) in &config.sources.sections {
        let fail = |key: Option<&str>, message: String| {
            let shown = match key {
                Some(k) => format!("sources.{name}.{k}"),
                None => format!("sources.{name}"),
            };
            match forkdebt_core::config::section_line(&config.sources, name, key)
                .or_else(|| forkdebt_core::config::section_line(&config.sources, name, None))
            {
                Some(line) => ConfigError::Parse {
                    path: path.to_string(),
                    line,
                    message: format!("{shown}: {message}"),
                },
                None => ConfigError::Invalid {
                    path: path.to_string(),
                    key: shown,
                    message,
                },
            }
        };
        let Some(check) = descriptor(name).map(|d| d.section) else {
            return Err(fail(
                None,
                format!(
                    "not a [sources] setting nor a source; sources with a section are: {}",
                    REGISTRY
                        .iter()
                        .filter(|d| d.section.is_some())
                        .map(|d| d.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        let Some(check) = check else {
            return Err(fail(
                None,
                format!("the {name} source has no settings of its own"),
            ));
        };
        if !value.is_table() {
            return Err(fail(None, "must be a table of settings".into()));
        }
        if let Err(message) = check(config) {
            // serde names the key it could not take: "unknown field `tokn_env`, expected...".
            // A value its type refused (a token pasted as a variable's name) is not named
            // by serde: the `*_env` key whose value is no variable's name is the one.
            let key = message
                .split('`')
                .nth(1)
                .filter(|k| value.get(*k).is_some())
                .map(str::to_string)
                .or_else(|| {
                    value.as_table()?.iter().find_map(|(k, v)| {
                        (k.ends_with("_env")
                            && v.as_str()
                                .is_none_or(|s| !forkdebt_core::config::is_env_name(s)))
                        .then(|| k.clone())
                    })
                });
            return Err(fail(key.as_deref(), message));
        }
    }
    Ok(())
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
    let items: Vec<ItemRequest> = items
        .into_iter()
        .filter(|i| cx.keeps_item(&i.item))
        .collect();
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
    packages.retain(|p| cx.keeps_package(p));
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
