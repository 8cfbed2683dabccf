//! Evidence: why a patch (or a Fedora Change) stands where it does, as a chain of typed hops
//! — "PR systemd/systemd#16838 merged as 3335de9 -> first in v247 -> c9s ships
//! systemd-252-14.el9 >= 247". A hop is data with fields (the merge commit, the release tag
//! and its version, what the base ships); readers that need a field read the field, and
//! [`Hop::text`] is the one place a hop becomes words.
//!
//! Stored as JSON of [`Hop`] (tag `hop`); a row that does not decode is reported as damaged
//! by the store, never read as an empty chain.

use crate::model::{MatchHow, PatchState, RefKind};
use serde::{Deserialize, Serialize};

/// A pull or merge request a hop names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRef {
    pub kind: RefKind,
    /// `owner/repo#N`, `group/project!N`.
    pub id: String,
}

impl RequestRef {
    /// `PR systemd/systemd#16838`, `MR group/project!7`, `Pagure PR rpms/x#3`.
    pub fn label(&self) -> String {
        match self.kind {
            RefKind::GithubPr => format!("PR {}", self.id),
            RefKind::GitlabMr => format!("MR {}", self.id),
            RefKind::PagurePr => format!("Pagure PR {}", self.id),
            _ => self.id.clone(),
        }
    }
}

/// One hop of an evidence chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "hop", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Hop {
    /// A pull/merge request is open.
    RequestOpen {
        request: RequestRef,
        url: Option<String>,
    },
    /// A request was merged as `sha` (at `at`).
    Merged {
        request: RequestRef,
        sha: String,
        url: Option<String>,
        at: Option<String>,
    },
    /// Every request named was closed without merging.
    ClosedUnmerged { requests: Vec<RequestRef> },
    /// A request closed unmerged whose change upstream landed as this commit (its message
    /// names the request).
    SupersededBy { commit: String, url: Option<String> },
    /// An upstream commit whose message says it fixes (closes, resolves) the issue named.
    IssueFixedBy {
        issue: String,
        commit: String,
        url: Option<String>,
    },
    /// An upstream commit named by the patch is in upstream's git.
    CommitUpstream { commit: String, url: Option<String> },
    /// An upstream commit named by the patch is not in upstream's git.
    NotUpstream { commit: String, url: Option<String> },
    /// The first release tag that has the change, and the version it reads as.
    FirstRelease {
        tag: String,
        version: Option<String>,
        /// When the tag was made (RFC 3339; the tagger's date, or the commit's for a
        /// lightweight tag), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<String>,
    },
    /// A release on another branch has a cherry-pick of the change (a stable release).
    CherryPicked {
        tag: String,
        version: Option<String>,
        commit: String,
        how: String,
    },
    /// A bug's fix is in this build or version (Bugzilla `cf_fixed_in`).
    FixedIn { evr: String },
    /// A bug's status.
    Bug {
        id: String,
        status: String,
        resolution: Option<String>,
        url: Option<String>,
        at: Option<String>,
    },
    /// The base distribution ships a build at or past the fix.
    Ships {
        distro: String,
        nvr: String,
        fixed: String,
        /// `koji tag` or `repodata`.
        from: String,
    },
    /// The base distribution's own fork carries the upstream change, from a build on.
    BaseCarries {
        distro: String,
        upstream: String,
        commit: String,
        /// The first build tag containing it; `None`: in no build yet.
        tag: Option<String>,
        resolves: Vec<String>,
    },
    /// The base's dist-git added the same patch after we did.
    BaseTook {
        distro: String,
        /// The base's file name for it.
        file: String,
        /// The base dist-git commit that added it.
        commit: String,
    },
    /// The base's first build whose source contains the merged request (or commit).
    FirstBuild { nvr: String },
    /// The base built the change but does not ship that build yet.
    BaseNotShipped {
        distro: String,
        /// `version-release` of the first build with the change.
        fixed: String,
        /// What it ships now, if known.
        ships: Option<String>,
    },
    /// A commit carried on a fork branch is this upstream commit.
    Carried {
        commit: String,
        branch: String,
        upstream: String,
        how: MatchHow,
        url: Option<String>,
    },
    /// A matched carried commit is in no upstream release yet.
    NoRelease,
    /// `git merge-tree` of the carried commit onto the tag gives the tag's own tree.
    AppliesEmpty { tag: String },
    /// It does not: the fork's version of the change differs.
    NotEmpty { tag: String },
    /// What the patch says of itself (a status line without an id).
    Claim { state: PatchState, evidence: String },
    /// A carried commit to look at again (a weak match).
    Revisit { text: String },
    /// The patch reverts an upstream commit (its diff is that commit's reverse, or it says
    /// so): kept until upstream reverts it too, never droppable on the commit's release.
    Reverts {
        commit: String,
        /// How it is known: `the reverse of its diff` or `its name and header say so`.
        how: String,
        url: Option<String>,
    },
    /// A patch or carried commit new in dist-git.
    New {
        /// The carried commit's sha and branch, for a fork commit.
        commit: Option<(String, String)>,
        lines_added: u32,
        lines_removed: u32,
        url: Option<String>,
    },
    /// Upstream fixed a bug in a change we carry, and the fork lacks the fix.
    MissingFix {
        sha: String,
        subject: String,
        fixes: String,
        url: Option<String>,
    },
    /// Upstream tagged a new release: what a rebase to it does to the carried patches.
    UpstreamReleased {
        tag: String,
        version: String,
        /// The carried patches the rebase drops, by file.
        dropped: Vec<String>,
        /// Carried patches in all.
        carried: usize,
    },
    /// A drop was proposed for review.
    Proposed { url: String },
    /// A proposal was merged or closed.
    ProposalState { state: String, url: String },
    /// Anything else, as prose: what a matcher saw, a Fedora Change's lifecycle.
    Note {
        text: String,
        url: Option<String>,
        at: Option<String>,
    },
}

fn short(sha: &str, n: usize) -> &str {
    &sha[..sha.len().min(n)]
}

impl Hop {
    /// A hop that is only words.
    pub fn note(text: impl Into<String>) -> Hop {
        Hop::Note {
            text: text.into(),
            url: None,
            at: None,
        }
    }

    /// The hop in words: the one place evidence becomes text.
    pub fn text(&self) -> String {
        match self {
            Hop::RequestOpen { request, .. } => format!("{} is open", request.label()),
            Hop::Merged { request, sha, .. } => {
                format!("{} merged as {}", request.label(), short(sha, 7))
            }
            Hop::ClosedUnmerged { requests } => format!(
                "{} closed without merging",
                requests
                    .iter()
                    .map(RequestRef::label)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Hop::SupersededBy { commit, .. } => {
                format!(
                    "superseded by {} (its message names the request)",
                    short(commit, 12)
                )
            }
            Hop::IssueFixedBy { issue, commit, .. } => format!(
                "{issue} fixed by {} (its message names the issue)",
                short(commit, 12)
            ),
            Hop::CommitUpstream { commit, .. } => format!("commit {commit} is upstream"),
            Hop::NotUpstream { commit, .. } => {
                format!("commit {commit} is not in upstream's git (a PR-branch or downstream sha?)")
            }
            // Say how a tag that does not spell its version was read ("FILE5_46 read as 5.46").
            Hop::FirstRelease { tag, version, .. } => match version {
                Some(v) if !tag.contains(v.as_str()) => {
                    format!("first in {tag} (read as {v})")
                }
                _ => format!("first in {tag}"),
            },
            Hop::CherryPicked {
                tag, commit, how, ..
            } => format!("cherry-picked into {tag} as {} ({how})", short(commit, 12)),
            Hop::FixedIn { evr } => format!("fixed in {evr}"),
            Hop::Bug {
                id,
                status,
                resolution,
                ..
            } => format!(
                "bug {id} is {status}{}",
                resolution
                    .as_deref()
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default()
            ),
            Hop::Ships {
                distro,
                nvr,
                fixed,
                from,
            } => format!("{distro} ships {nvr} >= {fixed} ({from})"),
            Hop::BaseCarries {
                distro,
                upstream,
                commit,
                tag,
                resolves,
            } => {
                let why = if resolves.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", resolves.join(", "))
                };
                let when = match tag {
                    Some(t) => format!("first in {t}"),
                    None => "in no build yet".to_string(),
                };
                format!(
                    "{distro} carries upstream {} as {}{why}, {when}",
                    short(upstream, 12),
                    short(commit, 12)
                )
            }
            Hop::BaseTook {
                distro,
                file,
                commit,
            } => format!(
                "{distro} took it after us as {file} in dist-git commit {}",
                short(commit, 12)
            ),
            Hop::FirstBuild { nvr } => format!("first built in {nvr}"),
            Hop::BaseNotShipped {
                distro,
                fixed,
                ships,
            } => match ships {
                Some(nvr) => {
                    format!("coming in {fixed} (built, not shipped: {distro} ships {nvr})")
                }
                None => format!("coming in {fixed} (built; what {distro} ships is not known yet)"),
            },
            Hop::Carried {
                commit,
                branch,
                upstream,
                how,
                ..
            } => format!(
                "{} on {branch} is upstream {} (by {})",
                short(commit, 12),
                short(upstream, 12),
                how.as_str()
            ),
            Hop::NoRelease => "in no upstream release yet".into(),
            Hop::AppliesEmpty { tag } => format!("applies as empty onto {tag}"),
            Hop::NotEmpty { tag } => {
                format!("does not apply as empty onto {tag}: compare by hand before dropping")
            }
            Hop::Claim { state, evidence } => format!("claims {state}: {evidence}"),
            Hop::Revisit { text } => text.clone(),
            Hop::Reverts { commit, how, .. } => format!(
                "reverts {commit} ({how}), which upstream still has: kept until upstream reverts it too"
            ),
            Hop::New {
                commit,
                lines_added,
                lines_removed,
                ..
            } => match commit {
                Some((sha, branch)) => format!(
                    "new carried commit {} on {branch}: +{lines_added} -{lines_removed} lines",
                    short(sha, 12)
                ),
                None => format!("new in dist-git: +{lines_added} -{lines_removed} lines"),
            },
            Hop::MissingFix {
                sha,
                subject,
                fixes,
                ..
            } => format!(
                "upstream fixed a bug in a change we carry: {} {subject} (fixes {})",
                short(sha, 12),
                short(fixes, 12)
            ),
            Hop::UpstreamReleased {
                tag,
                version,
                dropped,
                carried,
            } => {
                let read_as = if tag.contains(version.as_str()) {
                    String::new()
                } else {
                    format!(" ({tag})")
                };
                let which = if dropped.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", dropped.join(", "))
                };
                format!(
                    "upstream released {version}{read_as}: it has {} of {carried} carried patches{which}",
                    dropped.len()
                )
            }
            Hop::Proposed { url } => format!("proposed: {url}"),
            Hop::ProposalState { state, url } => format!("proposal {state}: {url}"),
            Hop::Note { text, .. } => text.clone(),
        }
    }

    /// Where to look, when the hop has a link.
    pub fn url(&self) -> Option<&str> {
        match self {
            Hop::RequestOpen { url, .. }
            | Hop::Merged { url, .. }
            | Hop::CommitUpstream { url, .. }
            | Hop::SupersededBy { url, .. }
            | Hop::IssueFixedBy { url, .. }
            | Hop::NotUpstream { url, .. }
            | Hop::Bug { url, .. }
            | Hop::Carried { url, .. }
            | Hop::Reverts { url, .. }
            | Hop::New { url, .. }
            | Hop::MissingFix { url, .. }
            | Hop::Note { url, .. } => url.as_deref(),
            Hop::Proposed { url } | Hop::ProposalState { url, .. } => Some(url),
            _ => None,
        }
    }

    /// When upstream did it (a merge, a bug's change), when known.
    pub fn at(&self) -> Option<&str> {
        match self {
            Hop::Merged { at, .. }
            | Hop::Bug { at, .. }
            | Hop::Note { at, .. }
            | Hop::FirstRelease { at, .. } => at.as_deref(),
            _ => None,
        }
    }

    /// The version of the first release this hop names (`v253` -> `253`).
    pub fn first_release(&self) -> Option<&str> {
        match self {
            Hop::FirstRelease { version, .. } => version.as_deref(),
            _ => None,
        }
    }
}

/// "upstream fixed a bug in a change we carry: SHA SUBJECT (fixes SHA)".
pub fn missing_fix_text(f: &crate::model::MissingFix) -> String {
    Hop::MissingFix {
        sha: f.sha.clone(),
        subject: f.subject.clone(),
        fixes: f.fixes.clone(),
        url: None,
    }
    .text()
}

/// A chain as one line: hops joined by ` -> `.
pub fn chain_text(hops: &[Hop]) -> String {
    hops.iter().map(Hop::text).collect::<Vec<_>>().join(" -> ")
}

/// The version of the first release a chain names, if any.
pub fn first_release(hops: &[Hop]) -> Option<&str> {
    hops.iter().find_map(Hop::first_release)
}

/// When upstream made the first release a chain names, if known.
pub fn released_at(hops: &[Hop]) -> Option<&str> {
    hops.iter().find_map(|h| match h {
        Hop::FirstRelease { at, .. } => at.as_deref(),
        _ => None,
    })
}

/// Decodes a stored chain; `Err` names what is wrong (the store reports it as damaged).
///
/// # Errors
/// The text is not a chain of hops this version knows.
pub fn decode(json: &str) -> Result<Vec<Hop>, serde_json::Error> {
    serde_json::from_str(json)
}

/// A chain as stored.
pub fn encode(hops: &[Hop]) -> String {
    serde_json::to_string(hops).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_read_as_before_and_round_trip() {
        let pr = RequestRef {
            kind: RefKind::GithubPr,
            id: "systemd/systemd#16838".into(),
        };
        let chain = vec![
            Hop::Merged {
                request: pr,
                sha: "3335de91437f2b1c8b0b1b0d3b2c9c8d8e8f8a8b".into(),
                url: None,
                at: Some("2020-08-01T00:00:00Z".into()),
            },
            Hop::FirstRelease {
                tag: "v247".into(),
                version: Some("247".into()),
                at: None,
            },
            Hop::Ships {
                distro: "c9s".into(),
                nvr: "systemd-252-14.el9".into(),
                fixed: "247".into(),
                from: "repodata".into(),
            },
        ];
        assert_eq!(
            chain_text(&chain),
            "PR systemd/systemd#16838 merged as 3335de9 -> first in v247 -> c9s ships systemd-252-14.el9 >= 247 (repodata)"
        );
        assert_eq!(first_release(&chain), Some("247"));
        assert_eq!(decode(&encode(&chain)).expect("round trip"), chain);
        // The shape before hops were typed, and broken ones, do not decode.
        assert!(decode(r#"[{"text":"first in v247","url":null,"at":null}]"#).is_err());
        assert!(decode(r#"[{"hop":"first-release","tag":"v1","version":null,"x":1}]"#).is_err());
        assert!(decode("not json").is_err());
    }
}
