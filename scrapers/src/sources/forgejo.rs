//! `[sources.forgejo]`: Forgejo instances (forge.fedoraproject.org, where FESCo tickets
//! moved). Not a sync of its own: the Fedora wiki source reads FESCo tickets there.

/// `[sources.forgejo]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub url: Option<String>,
    /// API base per instance host.
    #[serde(default)]
    pub hosts: std::collections::HashMap<String, String>,
}

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "forgejo",
    about: "Forgejo instances (FESCo tickets, read by fedora_wiki)",
    datasets: &[],
    section: Some(|c| super::read_section::<Section>(c, "forgejo")),
    build: None,
};
