//! Fedora Change lifecycle: where a Change proposal stands, from its wiki categories and its
//! tracker bug.
//!
//! announced / ready for FESCo / accepted for F<NN> / testable (tracker MODIFIED) /
//! code complete (tracker ON_QA) / landed (tracker CLOSED as fixed) / deferred (accepted for a
//! later release than it targeted) / withdrawn (tracker closed as not done, or a
//! withdrawn/rejected category).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStatus {
    /// `incomplete`, `proposed`, `announced`, `ready-for-fesco`, `accepted`, `testable`,
    /// `code-complete`, `landed`, `deferred`, `withdrawn`, `unknown`.
    pub state: String,
    /// The release it is accepted for (or deferred to).
    pub release: Option<u32>,
    pub evidence: Vec<String>,
}

impl ChangeStatus {
    /// `accepted-f42`, `landed-f42`, `deferred-f43`...: what a transition compares.
    pub fn key(&self) -> String {
        match self.release {
            Some(r) => format!("{}-f{r}", self.state),
            None => self.state.clone(),
        }
    }
}

fn accepted_in(category: &str) -> Option<u32> {
    category.strip_prefix("ChangeAcceptedF")?.parse().ok()
}

/// Decides a Change's status from its stored wiki observation (`{"page": ..,
/// "status_categories": [..]}`) and its tracker bug (`(status, resolution)`), if known.
pub fn status(wiki: &serde_json::Value, tracker: Option<(&str, Option<&str>)>) -> ChangeStatus {
    let page = &wiki["page"];
    let mut cats: Vec<String> = Vec::new();
    for list in [&wiki["status_categories"], &page["categories"]] {
        cats.extend(
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string)),
        );
    }
    let targeted = page["targeted_release"].as_u64().map(|r| r as u32);
    let accepted = cats.iter().filter_map(|c| accepted_in(c)).max();
    let mut evidence: Vec<String> = Vec::new();
    if cats
        .iter()
        .any(|c| c.contains("Withdrawn") || c.contains("Rejected"))
    {
        return ChangeStatus {
            state: "withdrawn".into(),
            release: targeted,
            evidence: vec!["a withdrawn/rejected category".into()],
        };
    }
    if let Some(n) = accepted {
        evidence.push(format!("in Category:ChangeAcceptedF{n}"));
        if let Some(t) = targeted.filter(|t| *t < n) {
            evidence.push(format!("it targeted Fedora {t}"));
            return ChangeStatus {
                state: "deferred".into(),
                release: Some(n),
                evidence,
            };
        }
        let state = match tracker {
            Some((status, resolution)) => {
                evidence.push(format!(
                    "tracker bug {status}{}",
                    resolution.map(|r| format!(" {r}")).unwrap_or_default()
                ));
                match status {
                    "MODIFIED" => "testable",
                    "ON_QA" | "VERIFIED" => "code-complete",
                    "CLOSED" => match resolution {
                        Some(
                            "CURRENTRELEASE" | "ERRATA" | "RAWHIDE" | "NEXTRELEASE" | "UPSTREAM",
                        )
                        | None => "landed",
                        _ => "withdrawn",
                    },
                    _ => "accepted",
                }
            }
            None => "accepted",
        };
        return ChangeStatus {
            state: state.into(),
            release: Some(n),
            evidence,
        };
    }
    for (cat, state) in [
        ("ChangeReadyForFesco", "ready-for-fesco"),
        ("ChangeAnnounced", "announced"),
        ("ChangeReadyForWrangler", "proposed"),
        ("ChangePageIncomplete", "incomplete"),
    ] {
        if cats.iter().any(|c| c == cat) {
            return ChangeStatus {
                state: state.into(),
                release: targeted,
                evidence: vec![format!("in Category:{cat}")],
            };
        }
    }
    ChangeStatus {
        state: "unknown".into(),
        release: targeted,
        evidence,
    }
}

/// The Red Hat bug id of a tracker-bug field (a URL or an id).
pub fn tracker_id(field: &str) -> Option<String> {
    let digits: String = field
        .rsplit(['=', '/'])
        .next()?
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wiki(status: &[&str], targeted: u32) -> serde_json::Value {
        json!({"page": {"targeted_release": targeted, "categories": ["SystemWideChange"], "tracker_bug": "https://bugzilla.redhat.com/show_bug.cgi?id=2300001"}, "status_categories": status})
    }

    #[test]
    fn the_lifecycle() {
        assert_eq!(
            status(&wiki(&["ChangeAnnounced"], 42), None).state,
            "announced"
        );
        assert_eq!(
            status(&wiki(&["ChangeReadyForFesco"], 42), None).state,
            "ready-for-fesco"
        );
        let a = status(&wiki(&["ChangeAcceptedF42"], 42), None);
        assert_eq!(
            (a.state.as_str(), a.key()),
            ("accepted", "accepted-f42".to_string())
        );
        assert_eq!(
            status(&wiki(&["ChangeAcceptedF42"], 42), Some(("MODIFIED", None))).state,
            "testable"
        );
        assert_eq!(
            status(&wiki(&["ChangeAcceptedF42"], 42), Some(("ON_QA", None))).state,
            "code-complete"
        );
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("CLOSED", Some("CURRENTRELEASE")))
            )
            .state,
            "landed"
        );
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("CLOSED", Some("WONTFIX")))
            )
            .state,
            "withdrawn"
        );
        let d = status(&wiki(&["ChangeAcceptedF43"], 42), None);
        assert_eq!((d.state.as_str(), d.release), ("deferred", Some(43)));
        assert_eq!(
            tracker_id("https://bugzilla.redhat.com/show_bug.cgi?id=2300001").as_deref(),
            Some("2300001")
        );
    }
}
