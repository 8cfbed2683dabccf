//! The inventory's domain model: what a downstream carries and where each patch comes from.
//!
//! - [`Reference`]: one pointer upstream (a PR, a commit, a bug...) with its [`RefKind`],
//!   [`Role`], [`Confidence`] and where it was found.
//! - [`Patch`]: one carried patch with its header facts, references and claimed status.
//! - [`Package`]: one spec file's package with its EVR, upstream project and patches.
//! - [`Warning`]: a soft error of the scan, naming file and line.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a reference points at. The names are the stable strings of `report --format json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefKind {
    GithubPr,
    GithubIssue,
    UpstreamCommit,
    GitlabMr,
    PagurePr,
    Rhbz,
    /// A Red Hat Jira issue (`RHEL-12345`), RHEL's tracker since 2023.
    Jira,
    Cve,
    FedoraChange,
    Url,
    /// A bare number (`#1234`) whose meaning the context does not settle; `note` lists the
    /// candidates. Kept rather than guessed.
    Ambiguous,
}

impl RefKind {
    pub const ALL: [RefKind; 11] = [
        RefKind::GithubPr,
        RefKind::GithubIssue,
        RefKind::UpstreamCommit,
        RefKind::GitlabMr,
        RefKind::PagurePr,
        RefKind::Rhbz,
        RefKind::Jira,
        RefKind::Cve,
        RefKind::FedoraChange,
        RefKind::Url,
        RefKind::Ambiguous,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::GithubPr => "github-pr",
            RefKind::GithubIssue => "github-issue",
            RefKind::UpstreamCommit => "upstream-commit",
            RefKind::GitlabMr => "gitlab-mr",
            RefKind::PagurePr => "pagure-pr",
            RefKind::Rhbz => "rhbz",
            RefKind::Jira => "jira",
            RefKind::Cve => "cve",
            RefKind::FedoraChange => "fedora-change",
            RefKind::Url => "url",
            RefKind::Ambiguous => "ambiguous",
        }
    }

    pub fn parse(s: &str) -> Option<RefKind> {
        RefKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for RefKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the scanner is that the reference means what its kind says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// Resolved from context: magnitude of a number, a file-name convention.
    Low,
    /// A number with words that name its kind and a known upstream project ("PR 123").
    Medium,
    /// A full URL or an unambiguous trailer (`(cherry picked from commit ...)`).
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Confidence> {
        [Confidence::Low, Confidence::Medium, Confidence::High]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
    /// One step less sure (for a comment shared by several `Patch` lines, for example).
    pub fn lower(self) -> Confidence {
        match self {
            Confidence::High => Confidence::Medium,
            _ => Confidence::Low,
        }
    }
}

/// Whether the reference is the patch itself upstream, or something it relates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The patch's own upstream form: its PR, MR, commit, or the bug it was written for.
    Origin,
    /// Named by `Fixes:`, `Closes:`, DEP-3 `Bug:`: an issue the patch addresses, not the patch.
    Related,
    /// The commit the patch undoes ("revert c58fd46", `This reverts commit X`). X being merged
    /// or released never makes the patch droppable; only an upstream revert of X would.
    Reverts,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Origin => "origin",
            Role::Related => "related",
            Role::Reverts => "reverts",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "origin" => Some(Role::Origin),
            "related" => Some(Role::Related),
            "reverts" => Some(Role::Reverts),
            _ => None,
        }
    }
}

/// One upstream reference of a patch (or of a package's changelog, or a deviation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reference {
    pub kind: RefKind,
    /// Canonical id: `owner/repo#16838`, `owner/repo@<sha>`, `1234567`, `CVE-2020-13776`...
    pub id: String,
    pub url: Option<String>,
    pub role: Role,
    pub confidence: Confidence,
    /// Where it was found: `path:line (what)`.
    pub found_in: String,
    /// For ambiguous references, the candidates; otherwise how it was resolved, if notable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The status a patch claims for itself (Yocto `Upstream-Status`, DEP-3 `Forwarded` /
/// `Applied-Upstream`, openSUSE `PATCH-FIX-*` tags, cherry-pick trailers), before any upstream
/// lookup confirms it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchState {
    /// Written here and never sent upstream (or no reference at all: local-only).
    NotSent,
    Submitted,
    /// Merged upstream (a backport or cherry-pick of an upstream commit).
    Merged,
    /// Merged, and in an upstream release.
    Released,
    /// The base distribution ships a build that contains the fix: the patch can be dropped.
    Droppable,
    /// Upstream said it is not needed there (Yocto `Inappropriate`, DEP-3 `not-needed`).
    NotNeeded,
    /// Upstream rejected it.
    Denied,
    /// References exist but nothing says where they stand.
    Unknown,
    /// No longer in dist-git.
    Dropped,
}

impl PatchState {
    pub const ALL: [PatchState; 9] = [
        PatchState::NotSent,
        PatchState::Submitted,
        PatchState::Merged,
        PatchState::Released,
        PatchState::Droppable,
        PatchState::NotNeeded,
        PatchState::Denied,
        PatchState::Unknown,
        PatchState::Dropped,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            PatchState::NotSent => "not-sent",
            PatchState::Submitted => "submitted",
            PatchState::Merged => "merged",
            PatchState::Released => "released",
            PatchState::Droppable => "droppable",
            PatchState::NotNeeded => "not-needed",
            PatchState::Denied => "denied",
            PatchState::Unknown => "unknown",
            PatchState::Dropped => "dropped",
        }
    }
    pub fn parse(s: &str) -> Option<PatchState> {
        PatchState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The column a carried patch counts in (report, chat, digest, trend).
    pub fn bucket(self) -> Bucket {
        match self {
            PatchState::Droppable => Bucket::Droppable,
            PatchState::Merged | PatchState::Released => Bucket::Merged,
            PatchState::Submitted => Bucket::Sent,
            PatchState::NotSent | PatchState::Denied | PatchState::NotNeeded => Bucket::Kept,
            PatchState::Unknown | PatchState::Dropped => Bucket::Unknown,
        }
    }
}

/// How the debt is counted: "merged" is merged or released upstream, "kept" is not sent,
/// denied or not needed upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bucket {
    Droppable,
    Merged,
    Sent,
    Kept,
    Unknown,
}

impl Bucket {
    pub const ALL: [Bucket; 5] = [
        Bucket::Droppable,
        Bucket::Merged,
        Bucket::Sent,
        Bucket::Kept,
        Bucket::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Droppable => "droppable",
            Bucket::Merged => "merged",
            Bucket::Sent => "sent",
            Bucket::Kept => "kept",
            Bucket::Unknown => "unknown",
        }
    }
}

/// Carried patches counted by [`Bucket`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketCounts([usize; 5]);

impl BucketCounts {
    pub fn add(&mut self, state: PatchState, n: usize) {
        self.add_to(state.bucket(), n);
    }
    pub fn add_to(&mut self, bucket: Bucket, n: usize) {
        self.0[bucket as usize] += n;
    }
    pub fn get(&self, b: Bucket) -> usize {
        self.0[b as usize]
    }
    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }
    pub fn merge(&mut self, o: &BucketCounts) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
    }
}

impl fmt::Display for PatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status claim with the text that made it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Claim {
    pub state: PatchState,
    pub evidence: String,
}

/// One carried patch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Patch {
    /// The file name as the spec names it (macros expanded; a URL's last segment).
    pub file: String,
    /// `N` of `PatchN`, or the position in `%patchlist`.
    pub number: Option<u32>,
    /// Path of the patch file relative to the scanned folder, if it was found.
    pub path: Option<String>,
    /// The spec's `%if` condition around the `Patch` line, when it could not be evaluated.
    pub condition: Option<String>,
    pub subject: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub lines_added: u32,
    pub lines_removed: u32,
    pub refs: Vec<Reference>,
    pub claims: Vec<Claim>,
    /// Set when the patch is a commit carried on a fork branch rather than a file named in a
    /// spec (`file` is then the commit's full sha).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CarriedCommit>,
    /// Whose change it is, when the base distribution's (or Fedora's) dist-git was compared;
    /// `None` is ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<PatchOrigin>,
}

/// Where a patch comes from, by its content in other dist-gits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OriginKind {
    /// The base distribution carries the same change: not our debt.
    Inherited,
    /// Fedora carries it, the base does not: debt the next major release removes.
    FromFedora,
    /// Ours, changed from a base patch.
    DerivedFrom,
    /// Ours first: the base's dist-git added the same change after we did. Our debt until
    /// the base ships a build with it, then droppable.
    TakenByBase,
}

/// A patch's origin with where the same (or the similar) patch was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PatchOrigin {
    pub kind: OriginKind,
    pub distro: String,
    pub branch: String,
    /// The other dist-git's file name for it.
    pub file: String,
    /// The other dist-git's commit that added it (for [`OriginKind::TakenByBase`]: the
    /// commit whose first build carries it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl PatchOrigin {
    /// `ours`, `inherited` or `from-fedora` (report JSON `origin`).
    pub fn label(origin: Option<&PatchOrigin>) -> &'static str {
        match origin.map(|o| o.kind) {
            Some(OriginKind::Inherited) => "inherited",
            Some(OriginKind::FromFedora) => "from-fedora",
            _ => "ours",
        }
    }

    /// Whether the patch counts as our debt.
    pub fn is_ours(origin: Option<&PatchOrigin>) -> bool {
        Self::label(origin) == "ours"
    }

    /// "c9s carries it as systemd-0012-foo.patch (branch c9s)".
    pub fn describe(&self) -> String {
        match self.kind {
            OriginKind::DerivedFrom => format!(
                "derived from {}'s {} (branch {})",
                self.distro, self.file, self.branch
            ),
            OriginKind::TakenByBase => format!(
                "{} took it after us as {} (branch {}, commit {})",
                self.distro,
                self.file,
                self.branch,
                self.commit
                    .as_deref()
                    .map_or("?", |c| c.get(..7).unwrap_or(c))
            ),
            _ => format!(
                "{} carries it as {} (branch {})",
                self.distro, self.file, self.branch
            ),
        }
    }
}

/// How a carried commit was recognised upstream, strongest first. The names are the stable
/// strings of `report --format json` (`commits[].upstream.how`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchHow {
    /// An upstream id in the message (`(cherry picked from commit X)`, `Backport-of:`...),
    /// verified reachable upstream.
    Trailer,
    /// git's stable patch-id equals the upstream commit's.
    PatchId,
    /// The same added/removed lines, whatever the file names (upstream renamed the file).
    Content,
    /// The same subject and author or date, and similar enough lines (weakest).
    Subject,
}

impl MatchHow {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchHow::Trailer => "trailer",
            MatchHow::PatchId => "patch-id",
            MatchHow::Content => "content",
            MatchHow::Subject => "subject",
        }
    }

    /// How sure a match made this way is.
    pub fn confidence(self) -> Confidence {
        match self {
            MatchHow::Trailer | MatchHow::PatchId => Confidence::High,
            MatchHow::Content => Confidence::Medium,
            MatchHow::Subject => Confidence::Low,
        }
    }
}

/// The upstream commit a carried commit (or patch file) is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UpstreamMatch {
    /// The full upstream sha (the earliest released one when several have the same change).
    pub sha: String,
    pub how: MatchHow,
    /// The first release tag of upstream that contains it, from git.
    pub release: Option<String>,
    /// Other upstream commits with the same change (a stable-branch copy, a re-land).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Proof that upstream has the change: "applies as empty onto v253", or why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
}

/// The result of `git merge-tree` of the carried commit onto its release tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Proof {
    pub tag: String,
    /// The merge yields the tag's own tree: the change is already there.
    pub empty: bool,
}

/// An upstream commit that fixes (`Fixes: <sha>`) a change the fork carries, which the fork
/// lacks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MissingFix {
    pub sha: String,
    pub subject: String,
    /// The upstream commit it fixes (the one our carried commit is).
    pub fixes: String,
}

/// A commit carried on a fork branch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CarriedCommit {
    pub sha: String,
    /// The fork branch that carries it (the newest one, when several do).
    pub branch: String,
    pub upstream: Option<UpstreamMatch>,
    /// A subject match too weak to call a match: "same subject as X, 40% of the lines".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revisit: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_fixes: Vec<MissingFix>,
    /// What the matcher found on the way, as evidence: an id in the message that upstream
    /// does not have, a subject match and how alike the lines are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Patch {
    /// A patch with no upstream reference at all, and no claim to have been sent, taken
    /// from upstream, or kept downstream on purpose ("Fedora-specific"), is local-only.
    pub fn is_local_only(&self) -> bool {
        self.commit
            .as_ref()
            .is_none_or(|c| c.upstream.is_none() && c.revisit.is_none())
            && self.refs.is_empty()
            && !self.claims.iter().any(|c| {
                matches!(
                    c.state,
                    PatchState::Submitted
                        | PatchState::Merged
                        | PatchState::Denied
                        | PatchState::NotNeeded
                )
            })
    }

    /// The inventory's view of the patch's state: the strongest claim, else not-sent for a
    /// local-only patch, else unknown (references, but no word on where they stand).
    pub fn inventory_state(&self) -> PatchState {
        // Order of strength: an explicit refusal or "not needed" beats "merged" beats
        // "submitted" beats "pending".
        let rank = |s: PatchState| match s {
            PatchState::Denied => 5,
            PatchState::NotNeeded => 4,
            PatchState::Merged => 3,
            PatchState::Submitted => 2,
            PatchState::NotSent => 1,
            _ => 0,
        };
        if let Some(best) = self.claims.iter().map(|c| c.state).max_by_key(|s| rank(*s)) {
            return best;
        }
        if self.refs.is_empty() {
            PatchState::NotSent
        } else {
            PatchState::Unknown
        }
    }
}

/// The project a package is packaged from, as told by `Source0` / `URL`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "forge", rename_all = "kebab-case")]
pub enum UpstreamProject {
    /// `repo` is where pull requests live (`systemd/systemd` for `systemd/systemd-stable`).
    Github {
        owner: String,
        repo: String,
    },
    Gitlab {
        host: String,
        path: String,
    },
    Pagure {
        host: String,
        path: String,
    },
    Other {
        url: String,
    },
}

impl UpstreamProject {
    /// A web link to one of its commits, where the forge is known.
    pub fn commit_url(&self, sha: &str) -> Option<String> {
        match self {
            UpstreamProject::Github { owner, repo } => {
                Some(format!("https://github.com/{owner}/{repo}/commit/{sha}"))
            }
            UpstreamProject::Gitlab { host, path } => {
                Some(format!("https://{host}/{path}/-/commit/{sha}"))
            }
            UpstreamProject::Pagure { host, path } => {
                Some(format!("https://{host}/{path}/c/{sha}"))
            }
            UpstreamProject::Other { .. } => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            UpstreamProject::Github { owner, repo } => format!("github:{owner}/{repo}"),
            UpstreamProject::Gitlab { host, path } => format!("gitlab:{host}/{path}"),
            UpstreamProject::Pagure { host, path } => format!("pagure:{host}/{path}"),
            UpstreamProject::Other { url } => url.clone(),
        }
    }
}

/// One package of a downstream, from its spec file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    /// Spec path relative to the scanned folder.
    pub spec_path: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    /// The downstream's local release marker found in `release` (`fb6`, `hs+fb`).
    pub local_marker: Option<String>,
    /// The distribution tag found in `release` (`el9`, `fc34`).
    pub dist_tag: Option<String>,
    pub upstream: Option<UpstreamProject>,
    pub url: Option<String>,
    pub source0: Option<String>,
    pub patches: Vec<Patch>,
    /// References in `%changelog` lines that match no carried patch.
    pub changelog_refs: Vec<Reference>,
}

impl Package {
    /// `epoch:version-release`, the epoch left out when absent.
    pub fn evr(&self) -> String {
        evr_text(self.epoch.map(i64::from), &self.version, &self.release)
    }
}

/// Whether `name` is a package name as rpm accepts one (`Name:` after macro expansion):
/// letters, digits and `._+-`, starting with a letter, a digit or `_`. Names end up in
/// file paths, URLs and git refs: `../../victim` or `a/b` must never be one.
pub fn is_package_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        && name.len() <= 255
}

/// `epoch:version-release`, the epoch left out when absent.
pub fn evr_text(epoch: Option<i64>, version: &str, release: &str) -> String {
    match epoch {
        Some(e) => format!("{e}:{version}-{release}"),
        None => format!("{version}-{release}"),
    }
}

/// A soft error: the scan goes on, and says what and where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Warning {
    pub path: String,
    pub line: Option<u32>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.path, l, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// A policy deviation from the TOML inventory: something no spec shows, retired by a Change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Deviation {
    pub name: String,
    pub package: Option<String>,
    pub description: String,
    pub refs: Vec<Reference>,
}
