//! What the sources store, typed: the scrapers build these from upstream answers and store
//! them as JSON; the engine reads them back with serde. One definition per shape, so a field
//! name is written once and a rule like "merged, or has a merge time" lives with its type.
//!
//! - [`github`], [`gitlab`], [`pagure`] — pull and merge requests, and release tags.
//! - [`bugzilla`] — bugs; [`jira`] — Red Hat Jira issues, read as bugs.
//! - [`shipped`] — what a base distribution ships (Koji, repodata).
//! - [`base_fork`] — what the base's own fork carries of upstream, from which build on.
//! - [`fedora`] — Change pages and Fedora releases (Bodhi).
//! - [`facts`] — what the verdict engine reads of them.

pub mod base_fork;
pub mod bugzilla;
pub mod facts;
pub mod fedora;
pub mod github;
pub mod gitlab;
pub mod jira;
pub mod pagure;
pub mod shipped;

/// Reads stored observation JSON as `T`; `None` for data this version cannot read (the
/// observation is then as good as absent, never a panic).
pub fn read<T: serde::de::DeserializeOwned>(data: Option<&str>) -> Option<T> {
    serde_json::from_str(data?).ok()
}

/// The JSON to store for `value` (these types always serialize).
pub fn to_data<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}
