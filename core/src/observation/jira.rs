//! Red Hat Jira issues (`issues.redhat.com`, RHEL's tracker since 2023), as the REST API's
//! search answers them: status, resolution, fix versions and the "Fixed in Build" NVR. Read
//! by the verdict as a Bugzilla bug is: the same states, the same `fixed in` chain.

use super::facts::BugFact;
use serde::{Deserialize, Serialize};

/// What forkdebt keeps of an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Issue {
    pub key: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub fix_versions: Vec<String>,
    /// The NVR of the build with the fix (`systemd-252-23.el9`).
    #[serde(default)]
    pub fixed_in_build: Option<String>,
    #[serde(default)]
    pub updated: Option<String>,
}

impl Issue {
    /// In Bugzilla's words, which the verdict reads: RHEL's Jira workflow (New, Planning,
    /// In Progress, Integration, Release Pending, Closed) and resolutions (Done,
    /// Done-Errata, Won't Do, …) mapped to the bug states they stand for.
    pub fn fact(&self) -> BugFact {
        let word = |s: &str| s.trim().to_ascii_uppercase().replace([' ', '-'], "_");
        let status = self.status.as_deref().map(word).map(|s| match s.as_str() {
            "PLANNING" | "REFINEMENT" | "IN_PROGRESS" | "TO_DO" | "BACKLOG" => {
                "ASSIGNED".to_string()
            }
            "INTEGRATION" | "CODE_REVIEW" | "REVIEW" => "MODIFIED".to_string(),
            "DONE" => "CLOSED".to_string(),
            _ => s,
        });
        let resolution = self
            .resolution
            .as_deref()
            .map(word)
            .map(|r| match r.as_str() {
                "DONE" | "DONE_ERRATA" | "ERRATA" | "FIXED" => "ERRATA".to_string(),
                "CURRENT_RELEASE" => "CURRENTRELEASE".to_string(),
                "NEXT_RELEASE" => "NEXTRELEASE".to_string(),
                _ => r,
            });
        BugFact {
            status: status.unwrap_or_default(),
            resolution,
            fixed_in: self.fixed_in_build.clone(),
            changed: self.updated.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_states_read_as_the_bug_states_they_stand_for() {
        let issue = |status: &str, resolution: Option<&str>| Issue {
            key: "RHEL-1".into(),
            status: Some(status.into()),
            resolution: resolution.map(str::to_string),
            ..Issue::default()
        };
        let f = issue("Closed", Some("Done-Errata")).fact();
        assert_eq!(
            (f.status.as_str(), f.resolution.as_deref()),
            ("CLOSED", Some("ERRATA"))
        );
        let f = issue("Closed", Some("Won't Do")).fact();
        assert_eq!(f.resolution.as_deref(), Some("WON'T_DO"));
        assert_eq!(issue("In Progress", None).fact().status, "ASSIGNED");
        assert_eq!(issue("Integration", None).fact().status, "MODIFIED");
        assert_eq!(
            issue("Release Pending", None).fact().status,
            "RELEASE_PENDING"
        );
    }
}
