//! Red Hat Bugzilla bugs.

use super::facts::BugFact;
use serde::{Deserialize, Deserializer, Serialize};

/// What forkdebt keeps of a bug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Bug {
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub resolution: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub cf_fixed_in: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
    /// A list on Red Hat Bugzilla, a string on upstream Bugzilla.
    #[serde(default, deserialize_with = "one_or_many")]
    pub component: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub version: Vec<String>,
    #[serde(default)]
    pub blocks: Vec<u64>,
    #[serde(default)]
    pub depends_on: Vec<u64>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub alias: Vec<String>,
    #[serde(default)]
    pub last_change_time: Option<String>,
    #[serde(default)]
    pub external_bugs: Vec<ExternalBug>,
}

/// A link from the bug to another tracker (GitHub PR, GitLab MR, errata, a support case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ExternalBug {
    pub tracker: String,
    pub id: String,
    pub url: Option<String>,
    pub status: Option<String>,
}

impl<'de> Deserialize<'de> for ExternalBug {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Type {
            #[serde(default)]
            description: Option<String>,
            #[serde(default)]
            url: Option<String>,
        }
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            ext_bz_bug_id: Option<serde_json::Value>,
            #[serde(default, rename = "type")]
            kind: Option<Type>,
            #[serde(default)]
            ext_status: Option<String>,
            // The stored form (what `Serialize` writes).
            #[serde(default)]
            tracker: Option<String>,
            #[serde(default)]
            id: Option<serde_json::Value>,
            #[serde(default)]
            url: Option<String>,
            #[serde(default)]
            status: Option<String>,
        }
        let raw = Raw::deserialize(d)?;
        if let (Some(tracker), Some(serde_json::Value::String(id))) = (raw.tracker, &raw.id) {
            return Ok(ExternalBug {
                tracker,
                id: id.clone(),
                url: raw.url,
                status: raw.status,
            });
        }
        let id = match raw.ext_bz_bug_id {
            Some(serde_json::Value::String(s)) => s,
            Some(v) => v.to_string(),
            None => String::new(),
        };
        let (tracker, template) = raw
            .kind
            .map(|t| (t.description.unwrap_or_default(), t.url))
            .unwrap_or_default();
        // The tracker's URL template has `%id%` where the external id goes; without one,
        // Bugzilla appends the id.
        let url = template
            .filter(|t| !t.is_empty() && !id.is_empty())
            .map(|t| {
                if t.contains("%id%") {
                    t.replace("%id%", &id)
                } else {
                    format!("{t}{id}")
                }
            });
        Ok(ExternalBug {
            tracker,
            id,
            url,
            status: raw.ext_status.filter(|s| !s.is_empty()),
        })
    }
}

fn empty_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Nothing(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) if s.is_empty() => Vec::new(),
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
        OneOrMany::Nothing(()) => Vec::new(),
    })
}

impl Bug {
    pub fn fact(&self) -> BugFact {
        BugFact {
            status: self.status.clone().unwrap_or_default(),
            resolution: self.resolution.clone(),
            fixed_in: self.cf_fixed_in.clone(),
            changed: self.last_change_time.clone(),
        }
    }
}
