//! Fedora Change lifecycle: where a Change proposal stands, from its wiki categories and its
//! tracker bug.
//!
//! announced / ready for FESCo / accepted for F<NN> / testable (tracker MODIFIED) /
//! code complete (tracker ON_QA) / landed (tracker CLOSED as fixed, or the release it was
//! accepted for has shipped, as Bodhi says) / deferred (accepted for a later release than it
//! targeted) / withdrawn (tracker closed as not done, or a withdrawn/rejected category).

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
/// "status_categories": [..]}`), its tracker bug (`(status, resolution)`), if known, and the
/// Bodhi state of the Fedora releases (`shipped(42)` is `Some("current")` once F42 shipped).
pub fn status(
    wiki: &serde_json::Value,
    tracker: Option<(&str, Option<&str>)>,
    release_state: &dyn Fn(u32) -> Option<String>,
) -> ChangeStatus {
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
        // Accepted and its release shipped: landed, whatever the tracker still says.
        let shipped = release_state(n).filter(|st| st == "current" || st == "archived");
        let state = match (state, shipped) {
            ("accepted" | "testable" | "code-complete", Some(st)) => {
                evidence.push(format!("Fedora {n} has shipped (Bodhi: {st})"));
                "landed"
            }
            (s, _) => s,
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

    fn none(_: u32) -> Option<String> {
        None
    }

    #[test]
    fn a_change_lands_when_its_release_ships() {
        let shipped = |n: u32| (n == 42).then(|| "current".to_string());
        let l = status(
            &wiki(&["ChangeAcceptedF42"], 42),
            Some(("ON_QA", None)),
            &shipped,
        );
        assert_eq!((l.state.as_str(), l.release), ("landed", Some(42)));
        assert!(
            l.evidence
                .iter()
                .any(|e| e == "Fedora 42 has shipped (Bodhi: current)")
        );
        // F43 is still pending: accepted, not landed.
        let pending = |_: u32| Some("pending".to_string());
        assert_eq!(
            status(&wiki(&["ChangeAcceptedF43"], 43), None, &pending).state,
            "accepted"
        );
        // A tracker closed as not done stays withdrawn even after the release.
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("CLOSED", Some("WONTFIX"))),
                &shipped
            )
            .state,
            "withdrawn"
        );
    }

    #[test]
    fn the_lifecycle() {
        assert_eq!(
            status(&wiki(&["ChangeAnnounced"], 42), None, &none).state,
            "announced"
        );
        assert_eq!(
            status(&wiki(&["ChangeReadyForFesco"], 42), None, &none).state,
            "ready-for-fesco"
        );
        let a = status(&wiki(&["ChangeAcceptedF42"], 42), None, &none);
        assert_eq!(
            (a.state.as_str(), a.key()),
            ("accepted", "accepted-f42".to_string())
        );
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("MODIFIED", None)),
                &none
            )
            .state,
            "testable"
        );
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("ON_QA", None)),
                &none
            )
            .state,
            "code-complete"
        );
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("CLOSED", Some("CURRENTRELEASE"))),
                &none
            )
            .state,
            "landed"
        );
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("CLOSED", Some("WONTFIX"))),
                &none
            )
            .state,
            "withdrawn"
        );
        let d = status(&wiki(&["ChangeAcceptedF43"], 42), None, &none);
        assert_eq!((d.state.as_str(), d.release), ("deferred", Some(43)));
        assert_eq!(
            tracker_id("https://bugzilla.redhat.com/show_bug.cgi?id=2300001").as_deref(),
            Some("2300001")
        );
    }
}
