//! `forkdebt sync`: runs the sources, records per-source status, keeps going when one fails.

use crate::http::{Http, HttpOptions};
use crate::sources::{self, Context, Focus};
use forkdebt_core::config::Config;
use forkdebt_core::store::{SourceRun, Store, StoreError};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("unknown source `{name}`; sources are: {}", sources::names())]
    UnknownSource { name: String },
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store failed while recording what `source` did: the sync stops there.
    #[error("{source_id}: {error}")]
    SourceStore {
        source_id: &'static str,
        #[source]
        error: StoreError,
    },
}

/// What one source did in this sync.
#[derive(Debug, Clone)]
pub struct SourceResult {
    /// The source's registry name.
    pub source: &'static str,
    pub run: SourceRun,
}

/// The HTTP layer as the configuration sets it.
pub fn http_options(config: &Config) -> HttpOptions {
    let mut o = HttpOptions::new(config.contact.as_deref());
    let s = &config.sources;
    if let Some(t) = s.timeout_secs {
        o.timeout = Duration::from_secs(t);
        o.connect_timeout = o.connect_timeout.min(o.timeout);
    }
    if let Some(r) = s.max_retries {
        o.max_retries = r as usize;
    }
    if let Some(ms) = s.min_interval_ms {
        o.min_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = s.backoff_min_ms {
        o.backoff_min = Duration::from_millis(ms);
    }
    if let Some(secs) = s.max_retry_after_secs {
        o.max_retry_after = Duration::from_secs(secs);
    }
    if let Some(secs) = s.max_wait_secs {
        o.max_wait = Duration::from_secs(secs);
    }
    o
}

/// The sources `only` names (every source when empty), in sync order.
///
/// # Errors
/// A name that is no source.
pub fn selected(only: &[String]) -> Result<Vec<&'static str>, SyncError> {
    for s in only {
        if !sources::syncable().any(|d| d.name == s) {
            return Err(SyncError::UnknownSource { name: s.clone() });
        }
    }
    Ok(sources::syncable()
        .map(|d| d.name)
        .filter(|name| only.is_empty() || only.iter().any(|o| o == name))
        .collect())
}

/// Runs `only` (or every source) with ONE HTTP layer, each recorded as it finishes. A host
/// that asked us to wait (`Retry-After`, GitHub's rate limit), now or in an earlier process,
/// is not asked before then.
///
/// # Errors
/// An unknown source name, the HTTP client cannot be built, or the store fails (the error
/// names the source whose results could not be stored; what was stored before stays).
pub async fn run(
    store: &Store,
    config: &Config,
    only: &[String],
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<SourceResult>, SyncError> {
    run_with(store, config, only, None, progress).await
}

/// Asks the sources `focus` names about its packages and items alone: what a bus message or a
/// webhook announced, through the same sources and verdict engine as every sync.
///
/// # Errors
/// As [`run`].
pub async fn run_focused(
    store: &Store,
    config: &Config,
    focus: &Focus,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<SourceResult>, SyncError> {
    let only: Vec<String> = focus.sources.iter().map(|s| s.to_string()).collect();
    if only.is_empty() {
        return Ok(Vec::new());
    }
    run_with(store, config, &only, Some(focus), progress).await
}

async fn run_with(
    store: &Store,
    config: &Config,
    only: &[String],
    focus: Option<&Focus>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<SourceResult>, SyncError> {
    let wanted = selected(only)?;
    if config.contact.is_none() {
        tracing::warn!(
            "no `contact` is configured: every upstream service sees \"no contact configured\" \
             in our User-Agent; set contact = \"mailto:you@example.org\" in the config"
        );
    }
    let http = Http::new(http_options(config))?;
    for (host, at) in store.host_next_allowed().await? {
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&at) {
            http.set_embargo(&host, at.with_timezone(&chrono::Utc));
        }
    }
    let cx = Context {
        http: &http,
        store,
        config,
        progress,
        focus,
    };
    let mut results = Vec::new();
    for id in wanted {
        let mut run = SourceRun::default();
        match sources::build(id, config) {
            Err(e) => run.error = Some(e),
            Ok(source) => {
                let waiting = source
                    .hosts()
                    .into_iter()
                    .find_map(|h| http.embargo_of(&h).map(|until| (h, until)));
                if let Some((host, until)) = waiting {
                    run.error = Some(format!(
                        "{host} asked us to wait until {}; not asked before then",
                        forkdebt_core::store::timestamp(until)
                    ));
                } else {
                    match source.sync(&cx, &mut run).await {
                        Ok(()) => {}
                        Err(sources::SourceError::Store(error)) => {
                            // Best effort: the store just failed, it may fail again.
                            run.error = Some(format!("the store failed: {error}"));
                            let _ = store.record_source_run(id, &run, chrono::Utc::now()).await;
                            return Err(SyncError::SourceStore {
                                source_id: id,
                                error,
                            });
                        }
                        Err(e) => {
                            run.error.get_or_insert(e.to_string());
                        }
                    }
                }
            }
        }
        let recorded = async {
            store
                .record_source_run(id, &run, chrono::Utc::now())
                .await?;
            for (host, until) in http.embargoes() {
                store.set_host_next_allowed(&host, until).await?;
            }
            Ok::<(), StoreError>(())
        };
        recorded.await.map_err(|error| SyncError::SourceStore {
            source_id: id,
            error,
        })?;
        results.push(SourceResult { source: id, run });
    }
    // Where each Fedora Change stands, once, from everything the sources recorded.
    let ran = |id: &str| sources::descriptor(id).map_or(&[][..], |d| d.datasets);
    if results
        .iter()
        .any(|r| ran(r.source).iter().any(|d| d.bears_on_changes()))
    {
        store.decide_changes(chrono::Utc::now()).await?;
    }
    if only.is_empty() && focus.is_none() && config.propose.is_some() {
        let run = sync_proposals(store, config).await?;
        store
            .record_named_run("proposals", &run, chrono::Utc::now())
            .await?;
    }
    // The first completed sync is the baseline; later changes are announced.
    store.mark_synced(chrono::Utc::now()).await?;
    // Today's point of the fork-debt trend, with the verdicts this sync decided.
    store.snapshot_debt(chrono::Utc::now()).await?;
    Ok(results)
}

/// The merge/pull requests forkdebt opened, read back: a merged or closed one is recorded and
/// announced once ("proposal merged: <link>"); the patch itself leaves at the next scan.
async fn sync_proposals(store: &Store, config: &Config) -> Result<SourceRun, StoreError> {
    let mut run = SourceRun::default();
    let open = store.open_proposal_requests().await?;
    if open.is_empty() {
        return Ok(run);
    }
    let client = match crate::forges::requests::client(config) {
        Ok(c) => c,
        Err(e) => {
            run.error = Some(e);
            return Ok(run);
        }
    };
    for p in open {
        run.items += 1;
        run.requests += 1;
        let Some(kind) = forkdebt_core::forge::ForgeKind::parse(&p.forge) else {
            run.errors += 1;
            run.error
                .get_or_insert(format!("{}: no such forge `{}`", p.url, p.forge));
            continue;
        };
        match crate::forges::requests::state(&client, kind, &p.api_url).await {
            Ok(crate::forges::requests::RequestState::Open) => {}
            Ok(state) => {
                store
                    .set_proposal_state(&p, state.as_str(), chrono::Utc::now())
                    .await?;
            }
            Err(e) => {
                run.errors += 1;
                run.error.get_or_insert(e);
            }
        }
    }
    Ok(run)
}
