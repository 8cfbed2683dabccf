//! Fedora: Change pages on the wiki (with the status categories they are listed in) and
//! the state of a Fedora release in Bodhi.

use serde::{Deserialize, Serialize};

/// What a Change page says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ChangePage {
    pub title: String,
    /// The page's `= Name =` heading.
    pub name: Option<String>,
    pub summary: Option<String>,
    pub owners: Vec<String>,
    /// `self-contained` or `system-wide`.
    pub kind: Option<String>,
    /// Categories on the page (outside comments), `Category:` left out.
    pub categories: Vec<String>,
    pub targeted_release: Option<u32>,
    pub tracker_bug: Option<String>,
    pub fesco_ticket: Option<String>,
    pub release_notes_ticket: Option<String>,
}

/// A Change as the wiki describes it: its page and the status categories (`ChangeAcceptedF42`,
/// `ChangeAnnounced`...) it is a member of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ChangeObservation {
    pub page: ChangePage,
    #[serde(default)]
    pub status_categories: Vec<String>,
}

/// A Fedora release in Bodhi.
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

/// The item a Bodhi release is stored under: `F42`.
pub fn release_item(n: u32) -> String {
    format!("F{n}")
}

/// A FESCo ticket (pagure.io/fesco, or forge.fedoraproject.org where FESCo moved): its state,
/// labels and close time are evidence of a Change's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FescoTicket {
    pub number: u64,
    pub open: bool,
    /// Pagure's `close_status` (`Accepted`, `Rejected`...).
    #[serde(default)]
    pub close_status: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// RFC 3339.
    #[serde(default)]
    pub closed_at: Option<String>,
}

impl FescoTicket {
    /// `accepted` or `rejected`, when the closed ticket says so (close status or label).
    pub fn decision(&self) -> Option<&'static str> {
        if self.open {
            return None;
        }
        let words = self
            .close_status
            .iter()
            .chain(&self.labels)
            .map(|s| s.to_ascii_lowercase());
        for w in words {
            if w.contains("accept") || w.contains("approved") {
                return Some("accepted");
            }
            if w.contains("reject") || w.contains("denied") {
                return Some("rejected");
            }
        }
        None
    }

    /// "FESCo #3667 closed as accepted on 2025-03-04", "FESCo #3667 open (meeting)".
    pub fn text(&self) -> String {
        let labels = if self.labels.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.labels.join(", "))
        };
        if self.open {
            return format!("FESCo #{} open{labels}", self.number);
        }
        format!(
            "FESCo #{} closed{}{}",
            self.number,
            self.decision()
                .map(|d| format!(" as {d}"))
                .or_else(|| self.close_status.as_ref().map(|s| format!(" ({s})")))
                .unwrap_or_default(),
            self.closed_at
                .as_deref()
                .map(|t| format!(" on {}", &t[..t.len().min(10)]))
                .unwrap_or_default()
        )
    }

    /// A Pagure v0 issue (`GET /api/0/fesco/issue/N`).
    pub fn from_pagure(v: &serde_json::Value) -> Option<FescoTicket> {
        let closed_at = v.get("closed_at").and_then(|c| match c {
            serde_json::Value::String(s) => s.parse::<i64>().ok(),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        });
        Some(FescoTicket {
            number: v.get("id")?.as_u64()?,
            open: v.get("status")?.as_str()?.eq_ignore_ascii_case("open"),
            close_status: v
                .get("close_status")
                .and_then(|c| c.as_str())
                .map(str::to_string),
            labels: v
                .get("tags")
                .and_then(|t| t.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            closed_at: closed_at
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        })
    }

    /// A Forgejo (Gitea API) issue (`GET /api/v1/repos/{owner}/{repo}/issues/{n}`).
    pub fn from_forgejo(v: &serde_json::Value) -> Option<FescoTicket> {
        Some(FescoTicket {
            number: v.get("number")?.as_u64()?,
            open: v.get("state")?.as_str()? == "open",
            close_status: None,
            labels: v
                .get("labels")
                .and_then(|t| t.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("name")?.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            closed_at: v
                .get("closed_at")
                .and_then(|c| c.as_str())
                .map(str::to_string),
        })
    }
}

/// Where a FESCo ticket link is asked: `(API URL, is Forgejo)`. `base_for` maps a host to its
/// API base (tests point pagure.io and forge.fedoraproject.org at local servers).
pub fn fesco_api(link: &str, base_for: &dyn Fn(&str) -> String) -> Option<(String, bool)> {
    let url = url::Url::parse(link).ok()?;
    let host = url.host_str()?;
    let segs: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    let base = base_for(host);
    let base = base.trim_end_matches('/');
    match segs.as_slice() {
        // pagure.io/fesco/issue/3300
        [project, "issue", n] if n.bytes().all(|b| b.is_ascii_digit()) => {
            Some((format!("{base}/api/0/{project}/issue/{n}"), false))
        }
        // forge.fedoraproject.org/fesco/tickets/issues/3667
        [owner, repo, "issues", n] if n.bytes().all(|b| b.is_ascii_digit()) => Some((
            format!("{base}/api/v1/repos/{owner}/{repo}/issues/{n}"),
            true,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod fesco_tests {
    use super::*;

    #[test]
    fn both_fesco_homes_resolve() {
        let base = |h: &str| format!("https://{h}");
        assert_eq!(
            fesco_api("https://pagure.io/fesco/issue/3300", &base),
            Some(("https://pagure.io/api/0/fesco/issue/3300".into(), false))
        );
        assert_eq!(
            fesco_api(
                "https://forge.fedoraproject.org/fesco/tickets/issues/3667",
                &base
            ),
            Some((
                "https://forge.fedoraproject.org/api/v1/repos/fesco/tickets/issues/3667".into(),
                true
            ))
        );
        assert_eq!(fesco_api("https://example.org/x", &base), None);
        let t = FescoTicket::from_forgejo(&serde_json::json!({
            "number": 3667, "state": "closed", "closed_at": "2025-03-04T15:00:00Z",
            "labels": [{"name": "accepted"}, {"name": "meeting"}]
        }))
        .expect("ticket");
        assert_eq!(t.decision(), Some("accepted"));
        assert_eq!(t.text(), "FESCo #3667 closed as accepted on 2025-03-04");
    }
}
