//! Fedora Change lifecycle: where a Change proposal stands, from its wiki categories and its
//! tracker bug.
//!
//! announced / ready for FESCo / accepted for F<NN> / testable (tracker MODIFIED) /
//! code complete (tracker ON_QA) / landed (tracker CLOSED as fixed, or the release it was
//! accepted for has shipped, as Bodhi says) / deferred (accepted for a later release than it
//! targeted) / withdrawn (tracker closed as not done, or a withdrawn/rejected category).

use crate::observation::fedora::ChangeObservation;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a Change stands, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeState {
    Unknown,
    Incomplete,
    Proposed,
    Announced,
    ReadyForFesco,
    Accepted,
    Testable,
    CodeComplete,
    Landed,
    Deferred,
    Withdrawn,
}

impl ChangeState {
    pub const ALL: [ChangeState; 11] = [
        ChangeState::Unknown,
        ChangeState::Incomplete,
        ChangeState::Proposed,
        ChangeState::Announced,
        ChangeState::ReadyForFesco,
        ChangeState::Accepted,
        ChangeState::Testable,
        ChangeState::CodeComplete,
        ChangeState::Landed,
        ChangeState::Deferred,
        ChangeState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::Unknown => "unknown",
            ChangeState::Incomplete => "incomplete",
            ChangeState::Proposed => "proposed",
            ChangeState::Announced => "announced",
            ChangeState::ReadyForFesco => "ready-for-fesco",
            ChangeState::Accepted => "accepted",
            ChangeState::Testable => "testable",
            ChangeState::CodeComplete => "code-complete",
            ChangeState::Landed => "landed",
            ChangeState::Deferred => "deferred",
            ChangeState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeState> {
        ChangeState::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for ChangeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStatus {
    pub state: ChangeState,
    /// The release it is accepted for (or deferred to).
    pub release: Option<u32>,
    pub evidence: Vec<String>,
}

impl ChangeStatus {
    /// `accepted-f42`, `landed-f42`, `deferred-f43`...: what a transition compares.
    pub fn key(&self) -> String {
        match self.release {
            Some(r) => format!("{}-f{r}", self.state),
            None => self.state.to_string(),
        }
    }
}

fn accepted_in(category: &str) -> Option<u32> {
    category.strip_prefix("ChangeAcceptedF")?.parse().ok()
}

/// Decides a Change's status from its wiki observation, its tracker bug (`(status,
/// resolution)`), if known, and the Bodhi state of the Fedora releases (`release_state(42)`
/// is `Some("current")` once F42 shipped).
pub fn status(
    wiki: &ChangeObservation,
    tracker: Option<(&str, Option<&str>)>,
    release_state: &dyn Fn(u32) -> Option<String>,
) -> ChangeStatus {
    status_with_fesco(wiki, tracker, release_state, None)
}

/// [`status`], with what the Change's FESCo ticket says: its state, labels and close time are
/// evidence, and a ticket closed as accepted makes a Change the wiki has not moved yet
/// accepted (rejected: withdrawn).
pub fn status_with_fesco(
    wiki: &ChangeObservation,
    tracker: Option<(&str, Option<&str>)>,
    release_state: &dyn Fn(u32) -> Option<String>,
    fesco: Option<&crate::observation::fedora::FescoTicket>,
) -> ChangeStatus {
    let mut st = status_of_wiki(wiki, tracker, release_state);
    let Some(t) = fesco else { return st };
    st.evidence.push(t.text());
    let undecided = matches!(
        st.state,
        ChangeState::Unknown
            | ChangeState::Incomplete
            | ChangeState::Proposed
            | ChangeState::Announced
            | ChangeState::ReadyForFesco
    );
    match t.decision() {
        Some("accepted") if undecided => st.state = ChangeState::Accepted,
        Some("rejected") if undecided => st.state = ChangeState::Withdrawn,
        _ => {}
    }
    st
}

fn status_of_wiki(
    wiki: &ChangeObservation,
    tracker: Option<(&str, Option<&str>)>,
    release_state: &dyn Fn(u32) -> Option<String>,
) -> ChangeStatus {
    let page = &wiki.page;
    let cats: Vec<&String> = wiki
        .status_categories
        .iter()
        .chain(&page.categories)
        .collect();
    let targeted = page.targeted_release;
    let accepted = cats.iter().filter_map(|c| accepted_in(c)).max();
    let mut evidence: Vec<String> = Vec::new();
    if cats
        .iter()
        .any(|c| c.contains("Withdrawn") || c.contains("Rejected"))
    {
        return ChangeStatus {
            state: ChangeState::Withdrawn,
            release: targeted,
            evidence: vec!["a withdrawn/rejected category".into()],
        };
    }
    if let Some(n) = accepted {
        evidence.push(format!("in Category:ChangeAcceptedF{n}"));
        if let Some(t) = targeted.filter(|t| *t < n) {
            evidence.push(format!("it targeted Fedora {t}"));
            return ChangeStatus {
                state: ChangeState::Deferred,
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
                    "MODIFIED" => ChangeState::Testable,
                    "ON_QA" | "VERIFIED" => ChangeState::CodeComplete,
                    "CLOSED" => match resolution {
                        Some(
                            "CURRENTRELEASE" | "ERRATA" | "RAWHIDE" | "NEXTRELEASE" | "UPSTREAM",
                        )
                        | None => ChangeState::Landed,
                        _ => ChangeState::Withdrawn,
                    },
                    _ => ChangeState::Accepted,
                }
            }
            None => ChangeState::Accepted,
        };
        // Accepted and its release shipped: landed, whatever the tracker still says.
        let shipped = release_state(n).filter(|st| st == "current" || st == "archived");
        let state = match (state, shipped) {
            (
                ChangeState::Accepted | ChangeState::Testable | ChangeState::CodeComplete,
                Some(st),
            ) => {
                evidence.push(format!("Fedora {n} has shipped (Bodhi: {st})"));
                ChangeState::Landed
            }
            (s, _) => s,
        };
        return ChangeStatus {
            state,
            release: Some(n),
            evidence,
        };
    }
    for (cat, state) in [
        ("ChangeReadyForFesco", ChangeState::ReadyForFesco),
        ("ChangeAnnounced", ChangeState::Announced),
        ("ChangeReadyForWrangler", ChangeState::Proposed),
        ("ChangePageIncomplete", ChangeState::Incomplete),
    ] {
        if cats.iter().any(|c| *c == cat) {
            return ChangeStatus {
                state,
                release: targeted,
                evidence: vec![format!("in Category:{cat}")],
            };
        }
    }
    ChangeStatus {
        state: ChangeState::Unknown,
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

    fn wiki(status: &[&str], targeted: u32) -> ChangeObservation {
        serde_json::from_value(json!({"page": {"title": "Changes/X", "targeted_release": targeted, "categories": ["SystemWideChange"], "tracker_bug": "https://bugzilla.redhat.com/show_bug.cgi?id=2300001", "owners": []}, "status_categories": status}))
            .expect("a change observation")
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
            status(&wiki(&["ChangeAcceptedF43"], 43), None, &pending)
                .state
                .as_str(),
            "accepted"
        );
        // A tracker closed as not done stays withdrawn even after the release.
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("CLOSED", Some("WONTFIX"))),
                &shipped
            )
            .state
            .as_str(),
            "withdrawn"
        );
    }

    #[test]
    fn the_lifecycle() {
        assert_eq!(
            status(&wiki(&["ChangeAnnounced"], 42), None, &none)
                .state
                .as_str(),
            "announced"
        );
        assert_eq!(
            status(&wiki(&["ChangeReadyForFesco"], 42), None, &none)
                .state
                .as_str(),
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
            .state
            .as_str(),
            "testable"
        );
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("ON_QA", None)),
                &none
            )
            .state
            .as_str(),
            "code-complete"
        );
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("CLOSED", Some("CURRENTRELEASE"))),
                &none
            )
            .state
            .as_str(),
            "landed"
        );
        assert_eq!(
            status(
                &wiki(&["ChangeAcceptedF42"], 42),
                Some(("CLOSED", Some("WONTFIX"))),
                &none
            )
            .state
            .as_str(),
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
