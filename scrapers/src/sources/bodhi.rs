//! Bodhi (Fedora's update system): whether a Fedora release has shipped. `GET
//! /releases/F<NN>` answers the release object whose `state` is `pending` before the
//! release, `current` once it shipped, `archived` after its end of life. A Fedora Change
//! accepted for F<NN> has landed when F<NN> shipped.

use super::{ItemRequest, ParseError, Parsed, json, sync_each};
use crate::http::{Get, Http};
use forkdebt_core::store::{SourceRun, Store};
use serde::{Deserialize, Serialize};

pub const DEFAULT_URL: &str = "https://bodhi.fedoraproject.org";
pub const SOURCE: &str = "bodhi";
const MAX_BODY_BYTES: usize = 1 << 20;

/// What is kept of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub name: String,
    pub version: String,
    /// `pending`, `frozen`, `current`, `archived`, `disabled`.
    pub state: String,
}

impl Release {
    /// Whether the release has shipped.
    pub fn shipped(&self) -> bool {
        matches!(self.state.as_str(), "current" | "archived")
    }
}

/// Parses a Bodhi release object.
///
/// # Errors
/// Not JSON, or no `name`/`version`/`state`.
pub fn parse_release(url: &str, body: &[u8]) -> Result<Release, ParseError> {
    json(url, body)
}

pub struct Bodhi {
    pub base_url: String,
    /// The Fedora releases followed (`[sources.fedora_wiki] releases`).
    pub releases: Vec<u32>,
}

impl Bodhi {
    pub async fn sync(
        &self,
        http: &Http,
        store: &Store,
        progress: &(dyn Fn(&str) + Sync),
    ) -> SourceRun {
        let base = self.base_url.trim_end_matches('/');
        let items: Vec<ItemRequest> = self
            .releases
            .iter()
            .map(|nn| ItemRequest {
                item: format!("F{nn}"),
                get: Get {
                    url: format!("{base}/releases/F{nn}"),
                    max_bytes: MAX_BODY_BYTES,
                    ..Get::default()
                },
            })
            .collect();
        let parse = |url: &str, body: &[u8]| -> Result<Parsed, ParseError> {
            let r = parse_release(url, body)?;
            Ok((serde_json::to_string(&r).unwrap_or_default(), None))
        };
        sync_each(http, store, SOURCE, items, &parse, progress).await
    }
}
