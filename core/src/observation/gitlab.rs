//! GitLab merge requests.

use super::facts::RequestFact;
use serde::{Deserialize, Serialize};

/// What forkdebt keeps of a merge request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MergeRequest {
    #[serde(default)]
    pub iid: u64,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub title: Option<String>,
    /// `opened`, `closed`, `merged`, `locked`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub squash_commit_sha: Option<String>,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub target_branch: Option<String>,
    #[serde(default)]
    pub source_branch: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

impl MergeRequest {
    pub fn is_merged(&self) -> bool {
        self.state.eq_ignore_ascii_case("merged")
    }

    /// The commit that put the change on the target branch (squash, merge, or the head
    /// itself for a fast-forward merge).
    pub fn landed_commit(&self) -> Option<&str> {
        if !self.is_merged() {
            return None;
        }
        self.squash_commit_sha
            .as_deref()
            .or(self.merge_commit_sha.as_deref())
            .or(self.sha.as_deref())
    }

    pub fn fact(&self) -> RequestFact {
        RequestFact {
            merged: self.is_merged(),
            // `locked` is GitLab's state while a merge is under way: still open.
            open: self.state.eq_ignore_ascii_case("opened")
                || self.state.eq_ignore_ascii_case("locked"),
            merge_commit: self
                .squash_commit_sha
                .clone()
                .or_else(|| self.merge_commit_sha.clone())
                .or_else(|| self.sha.clone()),
            when: self.merged_at.clone(),
            url: self.web_url.clone(),
        }
    }
}
