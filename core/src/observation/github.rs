//! GitHub pull requests and the first release tag that contains a commit.

use super::facts::RequestFact;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BranchRef {
    #[serde(rename = "ref", default)]
    pub name: Option<String>,
}

/// What forkdebt keeps of a pull request (`GET /repos/{o}/{r}/pulls/{n}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullRequest {
    #[serde(default)]
    pub number: u64,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The merge, squash or rebase commit once merged (a test merge before).
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub base: Option<BranchRef>,
}

impl PullRequest {
    /// Merged: GitHub sets `merged_at` (the `merged` flag is absent from list answers).
    pub fn is_merged(&self) -> bool {
        self.merged || self.merged_at.is_some()
    }

    /// The commit that landed, once merged (before, `merge_commit_sha` is a test merge).
    pub fn landed_commit(&self) -> Option<&str> {
        self.merge_commit_sha
            .as_deref()
            .filter(|_| self.is_merged())
    }

    pub fn fact(&self) -> RequestFact {
        RequestFact {
            merged: self.is_merged(),
            open: self.state.eq_ignore_ascii_case("open"),
            merge_commit: self.merge_commit_sha.clone(),
            when: self.merged_at.clone(),
            url: self.html_url.clone(),
        }
    }
}

/// The first release tag of a repository that contains a commit (`None`: none yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReleaseTag {
    pub tag: Option<String>,
    #[serde(default)]
    pub tags_checked: usize,
    /// Upstream's git has no such commit (a PR-branch or downstream sha): never "released".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing: bool,
    /// For a pull request closed unmerged (stored under `owner/repo#N`): the upstream commit
    /// whose message names it ("Fixes #N", "Replaces #N", its URL), found in upstream's git;
    /// `tag` is then that commit's first release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// When `tag` was made (RFC 3339), when known: "days carried after upstream released".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged_at: Option<String>,
    /// Releases on other branches that cherry-picked the commit (a stable release before
    /// `tag`): where each pick first shipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub picked: Vec<Picked>,
}

/// A cherry-pick of an upstream commit on another branch, and its first release there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Picked {
    pub sha: String,
    /// `same patch-id` or `same changed lines`.
    pub how: String,
    pub tag: String,
}

/// The item a release tag is stored under: `owner/repo@sha`.
pub fn release_item(repo: &str, sha: &str) -> String {
    format!("{repo}@{sha}")
}
