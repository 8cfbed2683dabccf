//! What the base distribution's own fork of an upstream project (its source-git, tagged per
//! build) carries of an upstream change. Items are `distro/package@upstream-sha`.

use crate::model::MatchHow;
use serde::{Deserialize, Serialize};

/// An upstream change the base took into its own builds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    /// The base's commit that carries it.
    pub commit: String,
    pub subject: String,
    /// How the base's commit was recognised as the upstream one.
    pub how: MatchHow,
    /// The first build tag containing it (`v252-23`); `None`: on the branch, in no build yet.
    #[serde(default)]
    pub tag: Option<String>,
    /// The build that tag stands for: the package's version and release number.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub release: Option<String>,
    /// `Resolves: RHEL-12345`, `Related: …` lines of the base's commit message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolves: Vec<String>,
}

/// The item a taken change is stored under.
pub fn item(distro: &str, package: &str, upstream_sha: &str) -> String {
    format!("{distro}/{package}@{upstream_sha}")
}

/// `(distro, package)` of an item.
pub fn split_item(item: &str) -> Option<(&str, &str)> {
    let (distro, rest) = item.split_once('/')?;
    let (package, _) = rest.rsplit_once('@')?;
    Some((distro, package))
}

/// The item of the first build containing a base dist-git commit that took one of our
/// patches (the same dataset as merge requests, whose ids have a `!`).
pub fn distgit_item(distro: &str, package: &str, commit: &str) -> String {
    format!("{distro}/{package}@{commit}")
}

/// The first build of the base's package whose source commit contains a merged dist-git
/// merge request (a CentOS Stream MR), by the request's id (`group/rpms/pkg!N`), or a dist-git
/// commit that took one of our patches (by [`distgit_item`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstBuild {
    pub nvr: String,
    /// `epoch:version-release`, the epoch left out when absent.
    pub evr: String,
}
