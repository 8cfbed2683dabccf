//! Bodhi (Fedora's update system): whether a Fedora release has shipped. `GET
//! /releases/F<NN>` answers the release object whose `state` is `pending` before the
//! release, `current` once it shipped, `archived` after its end of life. A Fedora Change
//! accepted for F<NN> has landed when F<NN> shipped.

use super::{Context, ItemRequest, ParseError, Parsed, Source, SourceError, json, sync_each};
use crate::http::Get;
use forkdebt_core::config::Config;
use forkdebt_core::observation::{self, fedora};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::SourceRun;

pub use fedora::Release;

pub const DEFAULT_URL: &str = "https://bodhi.fedoraproject.org";
const MAX_BODY_BYTES: usize = 1 << 20;

/// Parses a Bodhi release object.
///
/// # Errors
/// Not JSON, or no `name`/`version`/`state`.
pub fn parse_release(url: &str, body: &[u8]) -> Result<Release, ParseError> {
    json(url, body)
}

/// `[sources.bodhi]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub url: Option<String>,
}

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "bodhi",
    about: "Bodhi: whether a Fedora release has shipped (Changes land with it)",
    datasets: &[forkdebt_core::source::Dataset::Bodhi],
    section: Some(|c| super::read_section::<Section>(c, "bodhi")),
    build: Some(|c| Ok(Box::new(Bodhi::from_config(c)?))),
};

pub struct Bodhi {
    pub base_url: String,
    /// The Fedora releases followed (`[sources.fedora_wiki] releases`).
    pub releases: Vec<u32>,
}

impl Bodhi {
    /// # Errors
    /// Its section, or `[sources.fedora_wiki]` (the releases it follows), cannot be read.
    pub fn from_config(config: &Config) -> Result<Bodhi, String> {
        let cfg: Section = config.sources.section("bodhi")?;
        let wiki: super::fedora_wiki::Section = config.sources.section("fedora_wiki")?;
        Ok(Bodhi {
            base_url: cfg.url.unwrap_or_else(|| DEFAULT_URL.to_string()),
            releases: wiki.releases,
        })
    }
}

#[async_trait::async_trait]
impl Source for Bodhi {
    fn hosts(&self) -> Vec<String> {
        super::host_of(&self.base_url).into_iter().collect()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        let base = self.base_url.trim_end_matches('/');
        let items: Vec<ItemRequest> = self
            .releases
            .iter()
            .map(|nn| ItemRequest {
                item: fedora::release_item(*nn),
                get: Get {
                    url: format!("{base}/releases/F{nn}"),
                    max_bytes: MAX_BODY_BYTES,
                    ..Get::default()
                },
            })
            .collect();
        let parse = |url: &str, body: &[u8]| -> Result<Parsed, ParseError> {
            Ok((observation::to_data(&parse_release(url, body)?), None))
        };
        sync_each(cx, Dataset::Bodhi, items, &parse, run).await
    }
}
