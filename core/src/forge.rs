//! Forges, one notion for everything that names one: which kind a dist-git group, a
//! proposal's target or an upstream project lives on (`forge = "gitlab"`), and a project on
//! a forge (`forge = "github:systemd/systemd"`), parsed once, where the configuration is read.

use crate::model::UpstreamProject;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A kind of forge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    Github,
    Gitlab,
    Pagure,
    Forgejo,
}

impl ForgeKind {
    pub const ALL: [ForgeKind; 4] = [
        ForgeKind::Github,
        ForgeKind::Gitlab,
        ForgeKind::Pagure,
        ForgeKind::Forgejo,
    ];

    /// What dist-git groups are listed on and proposals are opened on.
    pub const DISTGIT: [ForgeKind; 3] = [ForgeKind::Gitlab, ForgeKind::Pagure, ForgeKind::Forgejo];

    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitlab => "gitlab",
            ForgeKind::Pagure => "pagure",
            ForgeKind::Forgejo => "forgejo",
        }
    }

    pub fn parse(s: &str) -> Option<ForgeKind> {
        ForgeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether dist-git can be read from, and proposals opened on, this kind.
    pub fn hosts_distgit(self) -> bool {
        ForgeKind::DISTGIT.contains(&self)
    }

    /// `gitlab, pagure, forgejo` (for errors).
    pub fn distgit_names() -> String {
        ForgeKind::DISTGIT.map(ForgeKind::as_str).join(", ")
    }
}

impl fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A project on a forge: `github:owner/repo`, `gitlab:host/group/project`, `pagure:host/path`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForgeProject {
    pub kind: ForgeKind,
    /// What follows the kind: `owner/repo`, or `host/path` for GitLab and Pagure.
    pub location: String,
}

impl ForgeProject {
    /// Parses `kind:location`.
    ///
    /// # Errors
    /// Not that shape, or a location its kind cannot have.
    pub fn parse(s: &str) -> Result<ForgeProject, String> {
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not KIND:PROJECT"))?;
        let kind = ForgeKind::parse(kind)
            .filter(|k| *k != ForgeKind::Forgejo)
            .ok_or_else(|| format!("`{kind}` is not github, gitlab or pagure"))?;
        let p = ForgeProject {
            kind,
            location: rest.trim_matches('/').to_string(),
        };
        match p.project() {
            Some(_) => Ok(p),
            None => Err(format!(
                "`{s}` is not github:OWNER/REPO, gitlab:HOST/PATH or pagure:HOST/PATH"
            )),
        }
    }

    /// How reference ids name the project: `systemd/systemd` (GitHub), `group/project`
    /// (GitLab, Pagure: the path without the host).
    pub fn project(&self) -> Option<String> {
        let project = match self.kind {
            ForgeKind::Github => {
                let (owner, repo) = self.location.split_once('/')?;
                (!owner.is_empty() && !repo.is_empty() && !repo.contains('/'))
                    .then(|| self.location.clone())
            }
            ForgeKind::Gitlab | ForgeKind::Pagure => {
                self.location.split_once('/').map(|(_, p)| p.to_string())
            }
            ForgeKind::Forgejo => None,
        }?;
        (!project.is_empty()).then_some(project)
    }

    /// The project a spec's URL or sources point at, when it is on a forge.
    pub fn of_upstream(u: &UpstreamProject) -> Option<ForgeProject> {
        let (kind, location) = match u {
            UpstreamProject::Github { owner, repo } => {
                (ForgeKind::Github, format!("{owner}/{repo}"))
            }
            UpstreamProject::Gitlab { host, path } => (ForgeKind::Gitlab, format!("{host}/{path}")),
            UpstreamProject::Pagure { host, path } => (ForgeKind::Pagure, format!("{host}/{path}")),
            UpstreamProject::Other { .. } => return None,
        };
        Some(ForgeProject { kind, location })
    }
}

impl ForgeProject {
    /// The project as a package's upstream (the inverse of [`ForgeProject::of_upstream`]).
    pub fn upstream(&self) -> Option<UpstreamProject> {
        let (first, rest) = self.location.split_once('/')?;
        Some(match self.kind {
            ForgeKind::Github => UpstreamProject::Github {
                owner: first.to_string(),
                repo: rest.to_string(),
            },
            ForgeKind::Gitlab => UpstreamProject::Gitlab {
                host: first.to_string(),
                path: rest.to_string(),
            },
            ForgeKind::Pagure => UpstreamProject::Pagure {
                host: first.to_string(),
                path: rest.to_string(),
            },
            ForgeKind::Forgejo => return None,
        })
    }
}

impl fmt::Display for ForgeProject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.location)
    }
}

impl<'de> Deserialize<'de> for ForgeProject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ForgeProject::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_parse_and_name_their_references() {
        let p = |s: &str| ForgeProject::parse(s).ok().and_then(|p| p.project());
        assert_eq!(
            p("github:systemd/systemd").as_deref(),
            Some("systemd/systemd")
        );
        assert_eq!(
            p("gitlab:gitlab.freedesktop.org/NetworkManager/NetworkManager").as_deref(),
            Some("NetworkManager/NetworkManager")
        );
        assert_eq!(p("pagure:pagure.io/fesco").as_deref(), Some("fesco"));
        assert!(ForgeProject::parse("github:systemd").is_err());
        assert!(ForgeProject::parse("svn:x/y").is_err());
        assert!(ForgeProject::parse("systemd").is_err());
        assert_eq!(ForgeKind::parse("forgejo"), Some(ForgeKind::Forgejo));
        assert!(!ForgeKind::Github.hosts_distgit());
    }
}
