//! `forkdebt sync`: runs the sources, records per-source status, keeps going when one fails.

use crate::http::{Http, HttpOptions};
use crate::sources::bugzilla::{self, Bugzilla};
use forkdebt_core::config::{Config, Secret};
use forkdebt_core::store::{SourceRun, Store};
use std::time::Duration;

/// Every source name `--source` accepts, in the order a sync runs them.
/// The wiki first: its Change pages name the tracker bugs the Bugzilla step then asks about.
pub const SOURCES: [&str; 8] = [
    "fedora_wiki",
    "bodhi",
    "bugzilla",
    "pagure",
    "gitlab",
    "github",
    "koji",
    "repodata",
];
/// The sources this version implements.
pub const IMPLEMENTED: [&str; 8] = [
    "bodhi",
    "bugzilla",
    "fedora_wiki",
    "pagure",
    "gitlab",
    "github",
    "koji",
    "repodata",
];

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("unknown source `{name}`; sources are: {}", SOURCES.join(", "))]
    UnknownSource { name: String },
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    #[error(transparent)]
    Store(#[from] forkdebt_core::store::StoreError),
}

/// What one source did in this sync.
#[derive(Debug, Clone)]
pub struct SourceResult {
    pub source: String,
    pub run: SourceRun,
    /// Asked for, but not in this version: nothing was contacted.
    pub not_implemented: bool,
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
    o
}

/// Runs `only` (or every implemented source), each recorded as it finishes.
///
/// # Errors
/// An unknown source name, or the HTTP client cannot be built; a failing source is reported
/// in its [`SourceResult`], not here.
pub async fn run(
    store: &Store,
    config: &Config,
    only: &[String],
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<SourceResult>, SyncError> {
    for s in only {
        if !SOURCES.contains(&s.as_str()) {
            return Err(SyncError::UnknownSource { name: s.clone() });
        }
    }
    let http = Http::new(http_options(config))?;
    for (host, at) in store.host_next_allowed().await? {
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&at) {
            http.set_embargo(&host, at.with_timezone(&chrono::Utc));
        }
    }
    let wanted: Vec<&str> = if only.is_empty() {
        IMPLEMENTED.to_vec()
    } else {
        SOURCES
            .iter()
            .copied()
            .filter(|s| only.iter().any(|o| o == s))
            .collect()
    };
    let mut results = Vec::new();
    for source in wanted {
        if !IMPLEMENTED.contains(&source) {
            results.push(SourceResult {
                source: source.to_string(),
                run: SourceRun {
                    error: Some("not implemented in this version of forkdebt".into()),
                    ..SourceRun::default()
                },
                not_implemented: true,
            });
            continue;
        }
        let run = match source {
            "bugzilla" => match bugzilla_source(config) {
                Ok(b) => b.sync(&http, store, progress).await,
                Err(e) => SourceRun {
                    error: Some(e),
                    ..SourceRun::default()
                },
            },
            "gitlab" => {
                let g = crate::sources::gitlab::Gitlab {
                    config: config.sources.gitlab.clone(),
                };
                g.sync(&http, store, progress).await
            }
            "pagure" => {
                let p = crate::sources::pagure::Pagure {
                    config: config.sources.pagure.clone(),
                };
                p.sync(&http, store, progress).await
            }
            "fedora_wiki" => {
                let cfg = config.sources.fedora_wiki.as_ref();
                let w = crate::sources::fedora_wiki::FedoraWiki {
                    api: cfg
                        .and_then(|c| c.url.clone())
                        .unwrap_or_else(|| crate::sources::fedora_wiki::DEFAULT_URL.to_string()),
                    releases: cfg.map(|c| c.releases.clone()).unwrap_or_default(),
                };
                w.sync(&http, store, progress).await
            }
            "bodhi" => {
                let b = crate::sources::bodhi::Bodhi {
                    base_url: config
                        .sources
                        .bodhi
                        .as_ref()
                        .and_then(|c| c.url.clone())
                        .unwrap_or_else(|| crate::sources::bodhi::DEFAULT_URL.to_string()),
                    releases: config
                        .sources
                        .fedora_wiki
                        .as_ref()
                        .map(|c| c.releases.clone())
                        .unwrap_or_default(),
                };
                b.sync(&http, store, progress).await
            }
            "github" => match github_source(config) {
                Ok(g) => g.sync(http.options(), store, progress).await,
                Err(e) => SourceRun {
                    error: Some(e),
                    ..SourceRun::default()
                },
            },
            "koji" | "repodata" => {
                base_distributions(source, config, &http, store, progress).await?
            }
            _ => SourceRun::default(),
        };
        store
            .record_source_run(source, &run, chrono::Utc::now())
            .await?;
        for (host, until) in http.embargoes() {
            store.set_host_next_allowed(&host, until).await?;
        }
        results.push(SourceResult {
            source: source.to_string(),
            run,
            not_implemented: false,
        });
    }
    // The first completed sync is the baseline; later changes are announced.
    store.mark_synced(chrono::Utc::now()).await?;
    // Today's point of the fork-debt trend, with the verdicts this sync decided.
    store.snapshot_debt(chrono::Utc::now()).await?;
    Ok(results)
}

fn bugzilla_source(config: &Config) -> Result<Bugzilla, String> {
    let cfg = config.sources.bugzilla.as_ref();
    let base_url = cfg
        .and_then(|c| c.url.clone())
        .unwrap_or_else(|| bugzilla::DEFAULT_URL.to_string());
    let api_key = match cfg {
        Some(c) => Secret::load(c.api_key_env.as_deref(), c.api_key_file.as_deref())
            .map_err(|e| format!("sources.bugzilla: {e}"))?,
        None => None,
    };
    Ok(Bugzilla { base_url, api_key })
}

/// What the base distributions ship, from Koji or repodata, for every package of the
/// downstreams based on them. A distribution without that source configured is skipped.
async fn base_distributions(
    source: &str,
    config: &Config,
    http: &Http,
    store: &Store,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<SourceRun, SyncError> {
    let mut total = SourceRun::default();
    for distro in &config.distro {
        let mut packages = Vec::new();
        for ds in config
            .downstream
            .iter()
            .filter(|d| d.base.as_deref() == Some(distro.name.as_str()))
        {
            packages.extend(store.package_names(&ds.name).await?);
        }
        packages.sort();
        packages.dedup();
        if packages.is_empty() {
            continue;
        }
        let run = match (
            source,
            &distro.koji_url,
            &distro.koji_tag,
            &distro.repodata_url,
        ) {
            ("koji", Some(hub), Some(tag), _) => {
                let k = crate::sources::koji::Koji {
                    distro: distro.name.clone(),
                    hub_url: hub.clone(),
                    tag: tag.clone(),
                };
                k.sync(http, store, &packages, progress).await
            }
            ("repodata", _, _, Some(url)) => {
                let r = crate::sources::repodata::Repodata {
                    distro: distro.name.clone(),
                    url: url.clone(),
                };
                r.sync(http, store, &packages, progress).await
            }
            _ => continue,
        };
        total.items += run.items;
        total.requests += run.requests;
        total.not_modified += run.not_modified;
        total.errors += run.errors;
        if let Some(e) = run.error {
            total.error.get_or_insert(format!("{}: {e}", distro.name));
        }
    }
    Ok(total)
}

fn github_source(config: &Config) -> Result<crate::sources::github::Github, String> {
    let cfg = config.sources.github.as_ref();
    let api = cfg
        .and_then(|c| c.url.clone())
        .unwrap_or_else(|| crate::sources::github::DEFAULT_API.to_string());
    let token = match cfg {
        Some(c) => Secret::load(c.token_env.as_deref(), c.token_file.as_deref())
            .map_err(|e| format!("sources.github: {e}"))?,
        None => None,
    };
    Ok(crate::sources::github::Github { api, token })
}
