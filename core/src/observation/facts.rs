//! What the verdict engine reads of upstream's answers, per kind of thing: a request, a bug,
//! a shipped build. Each observation type says its fact (`PullRequest::fact`...).

use crate::evr::Evr;
use crate::source::Dataset;
use std::collections::HashMap;

/// Stored observations with data, by dataset, then by item: the data (JSON) as stored.
pub type ObservationsBySource = HashMap<Dataset, HashMap<String, String>>;

/// A pull or merge request, as upstream reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestFact {
    pub merged: bool,
    pub open: bool,
    pub merge_commit: Option<String>,
    pub when: Option<String>,
    pub url: Option<String>,
}

/// A bug, as Bugzilla reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BugFact {
    pub status: String,
    pub resolution: Option<String>,
    pub fixed_in: Option<String>,
    pub changed: Option<String>,
}

/// What the base distribution ships of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedFact {
    pub distro: String,
    pub nvr: String,
    pub evr: Evr,
    /// `koji tag` or `repodata`.
    pub from: String,
}
