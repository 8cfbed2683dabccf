//! The observation datasets: namespaces of stored observations, and what each means to the
//! verdict engine. A source (forkdebt-scrapers' registry names them) writes one or more
//! datasets — GitHub its pull requests, and release tags, tag lists and compare answers.
//! Everything that asks "which dataset answers this reference?", "does this observation
//! change a verdict or a Change?" asks here.

use crate::model::RefKind;
use std::fmt;

/// A namespace of stored observations (the `source` column of the `observations` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dataset {
    FedoraWiki,
    Bodhi,
    Bugzilla,
    /// Red Hat Jira issues, by key (`RHEL-12345`).
    Jira,
    Pagure,
    Gitlab,
    Github,
    /// The git mirrors' own status (their answers are `GithubRelease` observations).
    Git,
    Koji,
    Repodata,
    /// The first release tag containing a commit, by `owner/repo@sha`.
    GithubRelease,
    /// Pages of a repository's tag list, by URL (kept for conditional requests).
    GithubTags,
    /// Whether a tag contains a commit, by compare URL.
    GithubCompare,
    /// FESCo tickets of Change pages, by the ticket's link.
    Fesco,
    /// What the base distribution's own fork carries of an upstream change, by
    /// `distro/package@upstream-sha`.
    BaseFork,
    /// What the downstream itself ships (its Koji tags: CBS), by `downstream/package@tag`.
    DownstreamBuilds,
    /// The base's first build containing a merged dist-git merge request, by the request's id.
    BaseBuild,
}

impl Dataset {
    pub const ALL: [Dataset; 17] = [
        Dataset::FedoraWiki,
        Dataset::Bodhi,
        Dataset::Bugzilla,
        Dataset::Jira,
        Dataset::Pagure,
        Dataset::Gitlab,
        Dataset::Github,
        Dataset::Git,
        Dataset::Koji,
        Dataset::Repodata,
        Dataset::GithubRelease,
        Dataset::GithubTags,
        Dataset::GithubCompare,
        Dataset::Fesco,
        Dataset::BaseFork,
        Dataset::DownstreamBuilds,
        Dataset::BaseBuild,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::FedoraWiki => "fedora_wiki",
            Dataset::Bodhi => "bodhi",
            Dataset::Bugzilla => "bugzilla",
            Dataset::Jira => "jira",
            Dataset::Pagure => "pagure",
            Dataset::Gitlab => "gitlab",
            Dataset::Github => "github",
            Dataset::Git => "git",
            Dataset::Koji => "koji",
            Dataset::Repodata => "repodata",
            Dataset::GithubRelease => "github-release",
            Dataset::GithubTags => "github-tags",
            Dataset::GithubCompare => "github-compare",
            Dataset::Fesco => "fesco",
            Dataset::BaseFork => "base-fork",
            Dataset::DownstreamBuilds => "downstream-builds",
            Dataset::BaseBuild => "base-build",
        }
    }

    pub fn parse(s: &str) -> Option<Dataset> {
        Dataset::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The reference kind whose ids are this dataset's items.
    pub fn answers(self) -> Option<RefKind> {
        match self {
            Dataset::Github => Some(RefKind::GithubPr),
            Dataset::Gitlab => Some(RefKind::GitlabMr),
            Dataset::Pagure => Some(RefKind::PagurePr),
            Dataset::Bugzilla => Some(RefKind::Rhbz),
            Dataset::Jira => Some(RefKind::Jira),
            // Found after the `gitlab` answer of the same request (which `answering` gives).
            Dataset::BaseBuild => Some(RefKind::GitlabMr),
            _ => None,
        }
    }

    /// The dataset that answers references of `kind` (a release tag answers a commit).
    pub fn answering(kind: RefKind) -> Option<Dataset> {
        match kind {
            // An issue's answer is the upstream commit naming it, found in upstream's git.
            RefKind::UpstreamCommit | RefKind::GithubIssue => Some(Dataset::GithubRelease),
            _ => Dataset::ALL.into_iter().find(|d| d.answers() == Some(kind)),
        }
    }

    /// Whether an observation here can change a patch's verdict.
    pub fn bears_on_verdicts(self) -> bool {
        matches!(
            self,
            Dataset::Github
                | Dataset::GithubRelease
                | Dataset::Gitlab
                | Dataset::Pagure
                | Dataset::Bugzilla
                | Dataset::Jira
                | Dataset::Koji
                | Dataset::Repodata
                | Dataset::BaseFork
                | Dataset::BaseBuild
        )
    }

    /// Whether an observation here can change where a Fedora Change stands.
    pub fn bears_on_changes(self) -> bool {
        matches!(
            self,
            Dataset::FedoraWiki | Dataset::Bugzilla | Dataset::Bodhi | Dataset::Fesco
        )
    }

    /// What the base distribution ships (items are `distro/package`).
    pub fn is_shipped_builds(self) -> bool {
        matches!(self, Dataset::Koji | Dataset::Repodata)
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in Dataset::ALL {
            assert_eq!(Dataset::parse(d.as_str()), Some(d));
        }
        assert_eq!(Dataset::answering(RefKind::GithubPr), Some(Dataset::Github));
        assert_eq!(Dataset::answering(RefKind::Cve), None);
    }
}
