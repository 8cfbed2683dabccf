//! Pagure pull requests.

use super::facts::RequestFact;
use serde::{Deserialize, Deserializer, Serialize};

/// Pagure writes times as epoch seconds in strings (`"1568190932"`), sometimes as numbers;
/// the stored form is already RFC 3339 and is read as it is.
pub fn epoch<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    let secs = match v {
        Some(serde_json::Value::String(s)) => match s.parse::<i64>() {
            Ok(secs) => Some(secs),
            Err(_) => return Ok(Some(s).filter(|s| s.contains('T'))),
        },
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    Ok(secs
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProjectRef {
    #[serde(default)]
    pub fullname: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// What forkdebt keeps of a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullRequest {
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub title: Option<String>,
    /// `Open`, `Merged`, `Closed` (compared without case: forges differ in how they write it).
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "epoch")]
    pub date_created: Option<String>,
    #[serde(default, deserialize_with = "epoch")]
    pub last_updated: Option<String>,
    #[serde(default, deserialize_with = "epoch")]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub commit_start: Option<String>,
    #[serde(default)]
    pub commit_stop: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub full_url: Option<String>,
    #[serde(default)]
    pub project: Option<ProjectRef>,
}

impl PullRequest {
    pub fn is_merged(&self) -> bool {
        self.status.eq_ignore_ascii_case("merged")
    }

    pub fn fact(&self) -> RequestFact {
        RequestFact {
            merged: self.is_merged(),
            open: self.status.eq_ignore_ascii_case("open"),
            merge_commit: self.commit_stop.clone(),
            when: self.closed_at.clone(),
            url: self.full_url.clone(),
        }
    }
}
