//! Koji hub XML-RPC: which build of each package a tag (`c9s-candidate`) ships.
//!
//! One `multiCall` carries [`MULTICALL_BATCH`] `getLatestBuilds(tag, package=NAME)` calls, so
//! a downstream of 2,000 packages costs 20 requests, not 2,000 (and not one `listTagged` of
//! the whole tag, tens of MB, for the few hundred packages we carry).

use super::xmlrpc::{self, Param, XmlRpcError};
use super::{Context, DistroPart, Fetched, PerDistro, SourceError, fetch_conditional};
use crate::http::Get;
use forkdebt_core::config::Config;
use forkdebt_core::observation::{self, shipped};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun};
use serde::Deserialize;
use serde_json::Value;

pub use forkdebt_core::observation::shipped::Build;

const DATASET: Dataset = Dataset::Koji;
pub const MULTICALL_BATCH: usize = 100;
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// `repoInfo(id)`: a tag's repository.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RepoInfo {
    pub id: i64,
    pub tag_name: String,
    pub state: i64,
    #[serde(default)]
    pub creation_time: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KojiError {
    #[error("{url}: {source}")]
    XmlRpc {
        url: String,
        #[source]
        source: XmlRpcError,
    },
    #[error("{url}: unexpected answer: {what}")]
    Shape { url: String, what: String },
}

/// Reads builds out of a `getLatestBuilds` / `listTagged` result (a list of build structs).
///
/// # Errors
/// Anything but a list of builds.
pub fn parse_builds(url: &str, value: &Value) -> Result<Vec<Build>, KojiError> {
    serde_json::from_value(value.clone()).map_err(|e| KojiError::Shape {
        url: url.into(),
        what: e.to_string(),
    })
}

/// Reads one build (`getBuild`).
///
/// # Errors
/// Not a build struct.
pub fn parse_build(url: &str, value: &Value) -> Result<Build, KojiError> {
    serde_json::from_value(value.clone()).map_err(|e| KojiError::Shape {
        url: url.into(),
        what: e.to_string(),
    })
}

/// Reads `repoInfo`.
///
/// # Errors
/// Not a repo struct.
pub fn parse_repo_info(url: &str, value: &Value) -> Result<RepoInfo, KojiError> {
    serde_json::from_value(value.clone()).map_err(|e| KojiError::Shape {
        url: url.into(),
        what: e.to_string(),
    })
}

/// Parses a `methodResponse` document.
///
/// # Errors
/// Malformed XML or a fault.
pub fn parse_response(url: &str, body: &[u8]) -> Result<Value, KojiError> {
    xmlrpc::parse_response(body).map_err(|source| KojiError::XmlRpc {
        url: url.into(),
        source,
    })
}

/// The Koji source: the tag of every base distribution that has one.
pub type Koji = PerDistro<KojiTag>;

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "koji",
    about: "what each base distribution's Koji tag ships ([[distro]] koji_url, koji_tag)",
    datasets: &[forkdebt_core::source::Dataset::Koji],
    section: None,
    build: Some(|c| Ok(Box::new(from_config(c)))),
};

pub fn from_config(config: &Config) -> Koji {
    PerDistro::from_config(config, |d| {
        Some(KojiTag {
            distro: d.name.clone(),
            hub_url: d.koji_url.clone()?,
            tag: d.koji_tag.clone()?,
            dataset: DATASET,
        })
    })
}

/// The tag of one base distribution (or one of a downstream's own tags).
pub struct KojiTag {
    /// The base distribution, or the downstream whose tag it is.
    pub distro: String,
    pub hub_url: String,
    pub tag: String,
    /// `koji` for a base distribution, `downstream-builds` for a downstream's own tags.
    pub dataset: Dataset,
}

#[async_trait::async_trait]
impl DistroPart for KojiTag {
    fn distro(&self) -> &str {
        &self.distro
    }

    fn url(&self) -> &str {
        &self.hub_url
    }

    /// Asks, in multicalls, for the latest build of each package in the tag.
    async fn sync(
        &self,
        cx: &Context<'_>,
        packages: &[String],
        run: &mut SourceRun,
    ) -> Result<(), SourceError> {
        let (http, store, progress) = (cx.http, cx.store, cx.progress);
        for chunk in packages.chunks(MULTICALL_BATCH) {
            progress(&format!(
                "koji {}: {} packages in {}",
                self.distro,
                chunk.len(),
                self.tag
            ));
            let body = xmlrpc::multi_call(
                chunk
                    .iter()
                    .map(|p| {
                        (
                            "getLatestBuilds",
                            vec![
                                Param::Str(self.tag.clone()),
                                Param::Kwargs(vec![("package".into(), Param::Str(p.clone()))]),
                            ],
                        )
                    })
                    .collect(),
            )
            .into_bytes();
            let get = Get {
                url: self.hub_url.clone(),
                max_bytes: MAX_BODY_BYTES,
                post: Some(("text/xml", body)),
                ..Get::default()
            };
            let item = |p: &String| self.item(p);
            let outcomes: Vec<(String, ItemOutcome)> =
                match fetch_conditional(http, store, get, run).await? {
                    Ok(Fetched::NotModified) => chunk
                        .iter()
                        .map(|p| (item(p), ItemOutcome::Unchanged))
                        .collect(),
                    Ok(Fetched::Body(body)) => match parse_response(&self.hub_url, &body) {
                        Ok(Value::Array(results)) if results.len() == chunk.len() => chunk
                            .iter()
                            .zip(results)
                            .map(|(p, r)| {
                                let o = self.outcome(p, &r);
                                // A result we cannot read is the source's problem, not the package's.
                                if let (ItemOutcome::Failed(e), false) =
                                    (&o, r.get("faultString").is_some())
                                {
                                    run.error.get_or_insert(e.clone());
                                }
                                (item(p), o)
                            })
                            .collect(),
                        Ok(_) => {
                            let e = format!(
                                "{}: the multiCall answer does not have one result per call",
                                self.hub_url
                            );
                            run.error.get_or_insert(e.clone());
                            chunk
                                .iter()
                                .map(|p| (item(p), ItemOutcome::Failed(e.clone())))
                                .collect()
                        }
                        Err(e) => {
                            run.error.get_or_insert(e.to_string());
                            chunk
                                .iter()
                                .map(|p| (item(p), ItemOutcome::Failed(e.to_string())))
                                .collect()
                        }
                    },
                    Err(e) => {
                        run.error.get_or_insert(e.to_string());
                        chunk
                            .iter()
                            .map(|p| (item(p), ItemOutcome::Failed(e.to_string())))
                            .collect()
                    }
                };
            super::record(store, self.dataset, &outcomes, run).await?;
        }
        Ok(())
    }
}

impl KojiTag {
    fn item(&self, package: &str) -> String {
        if self.dataset == Dataset::DownstreamBuilds {
            shipped::downstream_item(&self.distro, package, &self.tag)
        } else {
            shipped::item(&self.distro, package)
        }
    }

    /// One multiCall result: `[builds]`, or a fault struct.
    fn outcome(&self, package: &str, r: &Value) -> ItemOutcome {
        if let Some(msg) = r.get("faultString").and_then(Value::as_str) {
            return ItemOutcome::Failed(format!("koji {}: {package}: {msg}", self.tag));
        }
        let builds = r.get(0).map(|b| parse_builds(&self.hub_url, b));
        match builds {
            Some(Ok(builds)) => {
                // Not in the tag at all: the base distribution does not ship it.
                let latest = shipped::KojiLatest {
                    tag: self.tag.clone(),
                    build: builds.into_iter().next(),
                };
                ItemOutcome::Observed {
                    data: observation::to_data(&latest),
                    upstream_changed_at: None,
                }
            }
            Some(Err(e)) => ItemOutcome::Failed(e.to_string()),
            None => ItemOutcome::Failed(format!("koji {}: {package}: empty result", self.tag)),
        }
    }
}

/// What the downstreams themselves ship: each `[[downstream]]` with `koji_url` and `tags`
/// (the Hyperscale SIG builds in CBS), asked for the downstream's own packages.
pub const DOWNSTREAM_SOURCE: super::Descriptor = super::Descriptor {
    name: "downstream-koji",
    about: "what the downstreams themselves ship ([[downstream]] koji_url, tags: CBS)",
    datasets: &[forkdebt_core::source::Dataset::DownstreamBuilds],
    section: None,
    build: Some(|c| Ok(Box::new(DownstreamKoji::from_config(c)))),
};

/// The Koji tags of the downstreams.
pub struct DownstreamKoji(Vec<(String, KojiTag)>);

impl DownstreamKoji {
    pub fn from_config(config: &Config) -> DownstreamKoji {
        DownstreamKoji(
            config
                .downstream
                .iter()
                .flat_map(|d| {
                    d.koji_url.iter().flat_map(move |hub| {
                        d.tags.iter().map(move |tag| {
                            (
                                d.name.clone(),
                                KojiTag {
                                    distro: d.name.clone(),
                                    hub_url: hub.clone(),
                                    tag: tag.clone(),
                                    dataset: Dataset::DownstreamBuilds,
                                },
                            )
                        })
                    })
                })
                .collect(),
        )
    }
}

#[async_trait::async_trait]
impl super::Source for DownstreamKoji {
    fn hosts(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(_, t)| super::host_of(&t.hub_url))
            .collect()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        for (downstream, tag) in &self.0 {
            let mut packages = cx.store.package_names(downstream).await?;
            packages.retain(|p| cx.keeps_package(p));
            if packages.is_empty() {
                continue;
            }
            let mut r = SourceRun {
                items: packages.len() as i64,
                ..SourceRun::default()
            };
            tag.sync(cx, &packages, &mut r).await?;
            run.add(&r, downstream);
        }
        Ok(())
    }
}
