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
