//! What a base distribution ships of a package: the latest build in a Koji tag, or the
//! newest source package in a yum repository. Items are `distro/package`.

use super::facts::ShippedFact;
use crate::evr::Evr;
use serde::{Deserialize, Serialize};

/// A Koji build, as `getLatestBuilds`, `listTagged` and `getBuild` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Build {
    /// `getLatestBuilds`/`getBuild` say `name`, `listTagged` says both.
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing)]
    pub package_name: Option<String>,
    #[serde(default)]
    pub epoch: Option<i64>,
    pub version: String,
    pub release: String,
    #[serde(default)]
    pub nvr: Option<String>,
    #[serde(default)]
    pub build_id: Option<i64>,
    #[serde(default)]
    pub tag_name: Option<String>,
    #[serde(default)]
    pub completion_time: Option<String>,
}

impl Build {
    /// `epoch:version-release`, the epoch left out when absent.
    pub fn evr(&self) -> String {
        crate::model::evr_text(self.epoch, &self.version, &self.release)
    }
}

/// The latest build of a package in a Koji tag (`build: None`: not in the tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KojiLatest {
    pub tag: String,
    pub build: Option<Build>,
}

/// The newest source package of a name in a repository's primary.xml (`evr: None`: the
/// repository does not have it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RepoLatest {
    pub evr: Option<String>,
    #[serde(default)]
    pub nvr: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
}

/// The item a shipped build is stored under.
pub fn item(distro: &str, package: &str) -> String {
    format!("{distro}/{package}")
}

/// The item of what a downstream ships of a package from one of its Koji tags.
pub fn downstream_item(downstream: &str, package: &str, tag: &str) -> String {
    format!("{downstream}/{package}@{tag}")
}

/// `(downstream, package, tag)` of a [`downstream_item`].
pub fn split_downstream_item(item: &str) -> Option<(&str, &str, &str)> {
    let (downstream, rest) = item.split_once('/')?;
    let (package, tag) = rest.rsplit_once('@')?;
    Some((downstream, package, tag))
}

fn distro_of(item: &str) -> String {
    item.split('/').next().unwrap_or_default().to_string()
}

impl KojiLatest {
    pub fn fact(&self, item: &str) -> Option<ShippedFact> {
        let b = self.build.as_ref()?;
        Some(ShippedFact {
            distro: distro_of(item),
            nvr: b.nvr.clone().unwrap_or_default(),
            evr: Evr::new(
                b.epoch.map(|e| e.to_string()).unwrap_or_default(),
                b.version.clone(),
                b.release.clone(),
            ),
            from: format!("koji {}", self.tag),
        })
    }
}

impl RepoLatest {
    pub fn fact(&self, item: &str) -> Option<ShippedFact> {
        Some(ShippedFact {
            distro: distro_of(item),
            nvr: self.nvr.clone()?,
            evr: Evr::parse(self.evr.as_deref()?),
            from: "repodata".into(),
        })
    }
}
