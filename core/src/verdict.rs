//! The verdict engine: from a carried patch, its references and what upstream said about
//! them, decide where the patch stands, why, and how sure that is.
//!
//! Pure: no I/O. [`Facts`] is built from stored observations (see [`Facts::from_observations`]);
//! [`decide`] returns a [`Verdict`] whose evidence is the chain a maintainer would check by
//! hand: "PR systemd/systemd#16838 merged as 3335de9 -> first in v247 -> c9s ships
//! systemd-252-14.el9 >= 247".
//!
//! Rules, strongest first; what upstream says beats what the patch claims about itself:
//! 1. the base distribution ships a build at or past the first release with the fix
//!    (`Droppable`), from a release tag containing the merge or a bug's `cf_fixed_in`;
//! 2. an upstream release contains the merge (`Released`);
//! 3. a pull/merge request is merged, or the bug is fixed in the distribution's git
//!    (`Merged`);
//! 4. a request is open, or the bug is open again (`Submitted`);
//! 5. every request was closed unmerged (`Denied`);
//! 6. otherwise the patch's own claims, else not-sent (local-only) or unknown.

use crate::evr::{Evr, vercmp};
use crate::model::{Confidence, Package, Patch, PatchState, RefKind, Reference, Role};
use crate::observation::{self, base_fork, bugzilla, github, gitlab, jira, pagure, shipped};
use crate::source::Dataset;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;

pub use crate::evidence::Hop;
use crate::evidence::RequestRef;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub state: PatchState,
    pub confidence: Confidence,
    pub evidence: Vec<Hop>,
    /// The downstream's own Version already contains the upstream fix: the patch is
    /// probably obsolete even if the base distribution does not ship it yet.
    pub rebased_past: Option<String>,
}

/// Everything upstream said that bears on one package's patches.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// By `(kind, id)` of a github-pr / gitlab-mr / pagure-pr reference.
    pub requests: HashMap<(RefKind, String), RequestFact>,
    /// First release tag containing a commit, by `owner/repo@sha`.
    pub releases: HashMap<String, String>,
    /// When each of those tags was made (RFC 3339), by the same key, when known.
    pub released_at: HashMap<String, String>,
    /// Cherry-picks of a commit into other branches' releases, by the same key.
    pub picked: HashMap<String, Vec<github::Picked>>,
    /// By Red Hat bug id.
    pub bugs: HashMap<String, BugFact>,
    /// What each base distribution ships, by `distro/package`.
    pub shipped: HashMap<String, ShippedFact>,
    /// Upstream commits (`owner/repo@sha`) that upstream's git does not have.
    pub not_upstream: std::collections::HashSet<String>,
    /// Pull requests closed unmerged whose change landed as another commit that names them:
    /// by request id (`owner/repo#N`), that commit's sha.
    pub superseded: HashMap<String, String>,
    /// Upstream changes the base's own fork carries, by `distro/package@upstream-sha`.
    pub base_taken: HashMap<String, base_fork::Taken>,
    /// The base's first build containing a merged dist-git merge request, by its id.
    pub base_builds: HashMap<String, base_fork::FirstBuild>,
}

pub use crate::observation::facts::{BugFact, ObservationsBySource, RequestFact, ShippedFact};

impl Facts {
    /// What `distro` ships of `package`.
    pub fn shipped_by(&self, distro: Option<&str>, package: &str) -> Option<&ShippedFact> {
        self.shipped.get(&shipped::item(distro?, package))
    }

    /// Reads the typed observations the sync stored. Koji wins over repodata when both know a
    /// package. Data this version cannot read counts as not observed.
    pub fn from_observations(obs: &ObservationsBySource) -> Facts {
        fn each<'a, T: serde::de::DeserializeOwned>(
            obs: &'a ObservationsBySource,
            dataset: Dataset,
        ) -> impl Iterator<Item = (&'a String, T)> + 'a {
            obs.get(&dataset)
                .into_iter()
                .flatten()
                .filter_map(|(k, data)| Some((k, observation::read::<T>(Some(data))?)))
        }
        let mut f = Facts::default();
        for (id, pr) in each::<github::PullRequest>(obs, Dataset::Github) {
            f.requests
                .insert((RefKind::GithubPr, id.clone()), pr.fact());
        }
        for (id, mr) in each::<gitlab::MergeRequest>(obs, Dataset::Gitlab) {
            f.requests
                .insert((RefKind::GitlabMr, id.clone()), mr.fact());
        }
        for (id, pr) in each::<pagure::PullRequest>(obs, Dataset::Pagure) {
            f.requests
                .insert((RefKind::PagurePr, id.clone()), pr.fact());
        }
        for (id, r) in each::<github::ReleaseTag>(obs, Dataset::GithubRelease) {
            if r.missing {
                f.not_upstream.insert(id.clone());
            }
            if let Some(sha) = r.superseded_by {
                // Stored under the request's id; the commit's release goes under the commit.
                let repo = id.rsplit_once('#').map_or(id.as_str(), |(repo, _)| repo);
                let item = github::release_item(repo, &sha);
                if let Some(at) = r.tagged_at {
                    f.released_at.insert(item.clone(), at);
                }
                if let Some(tag) = r.tag {
                    f.releases.insert(item, tag);
                }
                f.superseded.insert(id.clone(), sha);
                continue;
            }
            if let Some(at) = r.tagged_at {
                f.released_at.insert(id.clone(), at);
            }
            if !r.picked.is_empty() {
                f.picked.insert(id.clone(), r.picked);
            }
            if let Some(tag) = r.tag {
                f.releases.insert(id.clone(), tag);
            }
        }
        for (id, issue) in each::<jira::Issue>(obs, Dataset::Jira) {
            f.bugs.insert(id.clone(), issue.fact());
        }
        for (id, build) in each::<base_fork::FirstBuild>(obs, Dataset::BaseBuild) {
            f.base_builds.insert(id.clone(), build);
        }
        for (id, taken) in each::<base_fork::Taken>(obs, Dataset::BaseFork) {
            f.base_taken.insert(id.clone(), taken);
        }
        for (id, bug) in each::<bugzilla::Bug>(obs, Dataset::Bugzilla) {
            f.bugs.insert(id.clone(), bug.fact());
        }
        for (key, r) in each::<shipped::RepoLatest>(obs, Dataset::Repodata) {
            if let Some(fact) = r.fact(key) {
                f.shipped.insert(key.clone(), fact);
            }
        }
        for (key, k) in each::<shipped::KojiLatest>(obs, Dataset::Koji) {
            if let Some(fact) = k.fact(key) {
                f.shipped.insert(key.clone(), fact);
            }
        }
        f
    }
}

/// `v247`, `systemd-247`, `247.1` -> `247`/`247.1`: the version a release tag names.
pub fn tag_version(tag: &str) -> Option<String> {
    // Every shape upstreams tag with (`FILE5_46`, dated `…-Release-2.10.0`, `v3.0.0rc1`).
    if let Some(v) = crate::releases::read(tag) {
        return Some(v.version);
    }
    let start = tag.find(|c: char| c.is_ascii_digit())?;
    let v = &tag[start..];
    Some(v.replace(['_'], ".")).filter(|v| !v.is_empty())
}

/// A `cf_fixed_in` as an EVR of `package`: `systemd-252-10.el9` -> `252-10.el9`; a bare
/// version (`252.4`) -> `252.4`. `None` for prose ("jQuery 3.5.0" of another product).
pub fn fixed_in_evr(fixed_in: &str, package: &str) -> Option<Evr> {
    let f = fixed_in.trim();
    if let Some(rest) = f.strip_prefix(package).and_then(|r| r.strip_prefix('-')) {
        return Some(Evr::parse(rest));
    }
    if f.starts_with(|c: char| c.is_ascii_digit()) && !f.contains(' ') {
        return Some(Evr::parse(f));
    }
    None
}

/// Whether the shipped EVR contains `fixed`: with a release, the full EVR order; with only
/// a version, the shipped version alone decides (any release of that version has it).
fn ships(shipped: &Evr, fixed: &Evr) -> bool {
    if fixed.release.is_empty() {
        let epoch_cmp = vercmp(
            if shipped.epoch.is_empty() {
                "0"
            } else {
                &shipped.epoch
            },
            if fixed.epoch.is_empty() {
                "0"
            } else {
                &fixed.epoch
            },
        );
        return epoch_cmp == Ordering::Greater
            || (epoch_cmp == Ordering::Equal
                && vercmp(&shipped.version, &fixed.version) != Ordering::Less);
    }
    shipped >= fixed
}

/// A change we carry that the base's fork carries too: droppable once the base ships the
/// first build with it, "coming in" that build before.
fn base_fork_chains(
    patch: &Patch,
    origins: &[&Reference],
    package: &Package,
    base: &str,
    facts: &Facts,
    shipped: Option<&ShippedFact>,
    consider: &mut impl FnMut(Standing, Vec<Hop>, Confidence),
) {
    let mut upstream: Vec<(&str, Confidence)> = origins
        .iter()
        .filter(|r| r.kind == RefKind::UpstreamCommit)
        .filter_map(|r| Some((r.id.rsplit_once('@')?.1, r.confidence)))
        .collect();
    if let Some(u) = patch.commit.as_ref().and_then(|c| c.upstream.as_ref()) {
        let conf = u.how.confidence();
        upstream.push((u.sha.as_str(), conf));
        upstream.extend(u.also.iter().map(|s| (s.as_str(), conf)));
    }
    for (sha, conf) in upstream {
        let Some(t) = facts
            .base_taken
            .get(&base_fork::item(base, &package.name, sha))
        else {
            continue;
        };
        let hops = vec![Hop::BaseCarries {
            distro: base.to_string(),
            upstream: sha.to_string(),
            commit: t.commit.clone(),
            tag: t.tag.clone(),
            resolves: t.resolves.clone(),
        }];
        let (Some(version), Some(release)) = (&t.version, &t.release) else {
            consider(Standing::Merged, hops, conf);
            continue;
        };
        let fixed = Evr::new("", version.clone(), release.clone());
        match shipped {
            Some(s) if ships(&s.evr, &fixed) => {
                let mut h = hops;
                h.push(Hop::Ships {
                    distro: s.distro.clone(),
                    nvr: s.nvr.clone(),
                    fixed: fixed.to_string(),
                    from: s.from.clone(),
                });
                consider(Standing::Droppable, h, conf);
            }
            _ => {
                let mut h = hops;
                h.push(Hop::BaseNotShipped {
                    distro: base.to_string(),
                    fixed: fixed.to_string(),
                    ships: shipped.map(|s| s.nvr.clone()),
                });
                consider(Standing::Released, h, conf);
            }
        }
    }
}

/// A patch we carried first that the base's dist-git added after us: droppable once the base
/// ships the first build made from a commit with it, "coming in" that build before.
fn taken_by_base_chain(
    patch: &Patch,
    package: &Package,
    facts: &Facts,
    shipped: Option<&ShippedFact>,
    consider: &mut impl FnMut(Standing, Vec<Hop>, Confidence),
) {
    let Some(o) = patch
        .origin
        .as_ref()
        .filter(|o| o.kind == crate::model::OriginKind::TakenByBase)
    else {
        return;
    };
    let Some(commit) = &o.commit else {
        return;
    };
    let mut hops = vec![Hop::BaseTook {
        distro: o.distro.clone(),
        file: o.file.clone(),
        commit: commit.clone(),
    }];
    // The same content, compared in full: as sure as a matching patch-id.
    let conf = Confidence::High;
    let Some(b) = facts
        .base_builds
        .get(&base_fork::distgit_item(&o.distro, &package.name, commit))
    else {
        consider(Standing::Merged, hops, conf);
        return;
    };
    hops.push(Hop::FirstBuild { nvr: b.nvr.clone() });
    let fixed = Evr::parse(&b.evr);
    match shipped {
        Some(s) if ships(&s.evr, &fixed) => {
            hops.push(Hop::Ships {
                distro: s.distro.clone(),
                nvr: s.nvr.clone(),
                fixed: fixed.to_string(),
                from: s.from.clone(),
            });
            consider(Standing::Droppable, hops, conf);
        }
        _ => {
            hops.push(Hop::BaseNotShipped {
                distro: o.distro.clone(),
                fixed: fixed.to_string(),
                ships: shipped.map(|s| s.nvr.clone()),
            });
            consider(Standing::Released, hops, conf);
        }
    }
}

fn request_of(r: &Reference) -> RequestRef {
    RequestRef {
        kind: r.kind,
        id: r.id.clone(),
    }
}

/// The first release of upstream commit `sha` of `repo`, when known.
fn commit_release(facts: &Facts, repo: &str, sha: &str) -> Option<String> {
    facts
        .releases
        .get(&github::release_item(repo, sha))
        .cloned()
}

fn github_commit_url(repo: &str, sha: &str) -> Option<String> {
    let (owner, repo) = repo.split_once('/')?;
    crate::model::UpstreamProject::Github {
        owner: owner.to_string(),
        repo: repo.to_string(),
    }
    .commit_url(sha)
}

fn repo_of(r: &Reference) -> Option<String> {
    r.id.split(['#', '!', '@']).next().map(str::to_string)
}

/// What upstream says of a patch, weakest first: a stronger standing wins over a weaker
/// one, and among equals the more confident reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Standing {
    Denied,
    Submitted,
    Merged,
    Released,
    Droppable,
}

impl Standing {
    fn state(self) -> PatchState {
        match self {
            Standing::Denied => PatchState::Denied,
            Standing::Submitted => PatchState::Submitted,
            Standing::Merged => PatchState::Merged,
            Standing::Released => PatchState::Released,
            Standing::Droppable => PatchState::Droppable,
        }
    }
}

impl Verdict {
    /// Where a patch stands when upstream has said nothing about it: what its inventory
    /// (references, claims) says. Verdicts equal to this are not stored.
    pub fn from_inventory(patch: &Patch) -> Verdict {
        Verdict {
            state: patch.inventory_state(),
            confidence: if patch.claims.is_empty() {
                Confidence::Low
            } else {
                Confidence::Medium
            },
            evidence: patch
                .claims
                .iter()
                .map(|c| Hop::Claim {
                    state: c.state,
                    evidence: c.evidence.clone(),
                })
                .collect(),
            rebased_past: None,
        }
    }
}

/// Decides one carried patch of `package`, whose downstream is based on `base`.
pub fn decide(patch: &Patch, package: &Package, facts: &Facts, base: Option<&str>) -> Verdict {
    let shipped = facts.shipped_by(base, &package.name);
    let origins: Vec<&Reference> = patch
        .refs
        .iter()
        .filter(|r| r.role == Role::Origin)
        .collect();
    let mut best: Option<(Standing, Vec<Hop>, Confidence)> = None;
    let mut consider = |rank: Standing, hops: Vec<Hop>, conf: Confidence| {
        if best
            .as_ref()
            .is_none_or(|(r, _, c)| rank > *r || (rank == *r && conf > *c))
        {
            best = Some((rank, hops, conf));
        }
    };
    let mut rebased_past = None;

    // Pull / merge requests, and what became of their merge commits.
    let mut any_request = false;
    let mut all_denied = true;
    for r in origins.iter().filter(|r| {
        matches!(
            r.kind,
            RefKind::GithubPr | RefKind::GitlabMr | RefKind::PagurePr
        )
    }) {
        let Some(f) = facts.requests.get(&(r.kind, r.id.clone())) else {
            continue;
        };
        any_request = true;
        if f.open {
            all_denied = false;
            consider(
                Standing::Submitted,
                vec![Hop::RequestOpen {
                    request: request_of(r),
                    url: f.url.clone(),
                }],
                r.confidence,
            );
            continue;
        }
        if !f.merged {
            // Closed unmerged, but upstream landed the change as another commit naming it.
            if let Some(sha) = facts.superseded.get(&r.id) {
                all_denied = false;
                let mut hops = vec![
                    Hop::ClosedUnmerged {
                        requests: vec![request_of(r)],
                    },
                    Hop::SupersededBy {
                        commit: sha.clone(),
                        url: repo_of(r).and_then(|repo| github_commit_url(&repo, sha)),
                    },
                ];
                consider(Standing::Merged, hops.clone(), r.confidence);
                if let Some(repo) = repo_of(r)
                    && let Some(tag) = commit_release(facts, &repo, sha)
                {
                    hops.push(first_release(
                        &tag,
                        Some((facts, &github::release_item(&repo, sha))),
                    ));
                    release_tag_chain(
                        hops,
                        &tag,
                        package,
                        shipped,
                        r.confidence,
                        &mut consider,
                        &mut rebased_past,
                    );
                }
            }
            continue;
        }
        all_denied = false;
        let sha = f.merge_commit.clone().unwrap_or_default();
        let mut hops = vec![Hop::Merged {
            request: request_of(r),
            sha: sha.clone(),
            url: f.url.clone(),
            at: f.when.clone(),
        }];
        consider(Standing::Merged, hops.clone(), r.confidence);
        // A base dist-git merge request: its first build, then what the base ships.
        if let Some(b) = facts.base_builds.get(&r.id) {
            let mut h = hops.clone();
            h.push(Hop::FirstBuild { nvr: b.nvr.clone() });
            consider(Standing::Released, h.clone(), r.confidence);
            released_chain(
                h,
                &Evr::parse(&b.evr),
                package,
                shipped,
                r.confidence,
                &mut consider,
                &mut rebased_past,
            );
        }
        let key = repo_of(r).map(|repo| github::release_item(&repo, &sha));
        if let Some(key) = &key {
            picked_chain(facts, key, &hops, shipped, r.confidence, &mut consider);
        }
        if let Some(key) = key
            && let Some(tag) = facts.releases.get(&key).cloned()
        {
            hops.push(first_release(&tag, Some((facts, &key))));
            release_tag_chain(
                hops,
                &tag,
                package,
                shipped,
                r.confidence,
                &mut consider,
                &mut rebased_past,
            );
        }
    }
    // Issues upstream fixed: the commit whose message names the issue, and its release.
    for r in origins.iter().filter(|r| r.kind == RefKind::GithubIssue) {
        let (Some(sha), Some(repo)) = (facts.superseded.get(&r.id), repo_of(r)) else {
            continue;
        };
        let mut hops = vec![Hop::IssueFixedBy {
            issue: r.id.clone(),
            commit: sha.clone(),
            url: github_commit_url(&repo, sha),
        }];
        consider(Standing::Merged, hops.clone(), r.confidence);
        if let Some(tag) = commit_release(facts, &repo, sha) {
            hops.push(first_release(
                &tag,
                Some((facts, &github::release_item(&repo, sha))),
            ));
            release_tag_chain(
                hops,
                &tag,
                package,
                shipped,
                r.confidence,
                &mut consider,
                &mut rebased_past,
            );
        }
    }
    if any_request && all_denied {
        let closed: Vec<RequestRef> = origins
            .iter()
            .filter(|r| {
                facts
                    .requests
                    .get(&(r.kind, r.id.clone()))
                    .is_some_and(|f| !f.merged && !f.open)
            })
            .map(|r| request_of(r))
            .collect();
        consider(
            Standing::Denied,
            vec![Hop::ClosedUnmerged { requests: closed }],
            Confidence::High,
        );
    }

    // Upstream commits named with enough confidence (cherry-pick trailers, commit URLs).
    for r in origins
        .iter()
        .filter(|r| r.kind == RefKind::UpstreamCommit && r.confidence >= Confidence::Medium)
    {
        if let Some(tag) = facts.releases.get(&r.id) {
            let upstream = Hop::CommitUpstream {
                commit: r.id.clone(),
                url: r.url.clone(),
            };
            picked_chain(
                facts,
                &r.id,
                std::slice::from_ref(&upstream),
                shipped,
                r.confidence,
                &mut consider,
            );
            let hops = vec![upstream, first_release(tag, Some((facts, &r.id)))];
            release_tag_chain(
                hops,
                tag,
                package,
                shipped,
                r.confidence,
                &mut consider,
                &mut rebased_past,
            );
        }
    }

    // A carried commit matched to an upstream commit by git.
    let mut revisit = None;
    if let Some(c) = &patch.commit {
        revisit = c.revisit.clone();
        if let Some(u) = &c.upstream {
            carried_commit_chain(c, u, package, shipped, &mut consider, &mut rebased_past);
        }
    }

    // The base took the change into its own builds (its source-git fork).
    if let Some(base) = base {
        base_fork_chains(
            patch,
            &origins,
            package,
            base,
            facts,
            shipped,
            &mut consider,
        );
    }

    // The base's dist-git took the same patch after us.
    taken_by_base_chain(patch, package, facts, shipped, &mut consider);

    // Red Hat bugs and Jira issues the patch was written for.
    for r in origins
        .iter()
        .filter(|r| matches!(r.kind, RefKind::Rhbz | RefKind::Jira))
    {
        let Some(b) = facts.bugs.get(&r.id) else {
            continue;
        };
        let status = b.status.to_ascii_uppercase();
        let label = Hop::Bug {
            id: r.id.clone(),
            status: status.clone(),
            resolution: b.resolution.clone(),
            url: r.url.clone(),
            at: b.changed.clone(),
        };
        let fixed = b
            .fixed_in
            .as_deref()
            .and_then(|f| fixed_in_evr(f, &package.name));
        match status.as_str() {
            "NEW" | "ASSIGNED" => {
                consider(Standing::Submitted, vec![label], r.confidence);
            }
            "POST" | "MODIFIED" | "ON_QA" | "VERIFIED" | "RELEASE_PENDING" | "CLOSED" => {
                let fix_res = matches!(
                    b.resolution.as_deref(),
                    None | Some(
                        "ERRATA" | "CURRENTRELEASE" | "NEXTRELEASE" | "RAWHIDE" | "UPSTREAM"
                    )
                );
                if !fix_res {
                    continue;
                }
                let mut hops = vec![label];
                consider(Standing::Merged, hops.clone(), r.confidence);
                if let Some(evr) = fixed {
                    hops.push(Hop::FixedIn {
                        evr: evr.to_string(),
                    });
                    consider(Standing::Released, hops.clone(), r.confidence);
                    released_chain(
                        hops,
                        &evr,
                        package,
                        shipped,
                        r.confidence,
                        &mut consider,
                        &mut rebased_past,
                    );
                }
            }
            _ => {}
        }
    }

    // A revert of an upstream commit, and nothing upstream that makes it obsolete (upstream
    // reverting the commit too is an origin, decided above).
    if best.is_none() {
        let reverted: Vec<Hop> = patch
            .refs
            .iter()
            .filter(|r| r.role == Role::Reverts && r.kind == RefKind::UpstreamCommit)
            .map(|r| Hop::Reverts {
                commit: r.id.clone(),
                how: r.note.clone().unwrap_or_else(|| "its text says so".into()),
                url: r.url.clone(),
            })
            .collect();
        if !reverted.is_empty() {
            return Verdict {
                state: PatchState::NotSent,
                confidence: Confidence::High,
                evidence: reverted,
                rebased_past,
            };
        }
    }

    match best {
        Some((rank, evidence, confidence)) => Verdict {
            state: rank.state(),
            confidence,
            evidence,
            rebased_past,
        },
        None if revisit.is_some() => Verdict {
            state: PatchState::Unknown,
            confidence: Confidence::Low,
            evidence: vec![Hop::Revisit {
                text: revisit.unwrap_or_default(),
            }],
            rebased_past,
        },
        None => {
            let mut v = Verdict {
                rebased_past,
                ..Verdict::from_inventory(patch)
            };
            // What the matcher saw of a carried commit it could not match.
            if let Some(c) = &patch.commit {
                v.evidence.extend(c.notes.iter().map(Hop::note));
            }
            // Ids people wrote that upstream never had: say so, never call them released.
            for r in origins
                .iter()
                .filter(|r| r.kind == RefKind::UpstreamCommit && facts.not_upstream.contains(&r.id))
            {
                v.evidence.push(Hop::NotUpstream {
                    commit: r.id.clone(),
                    url: r.url.clone(),
                });
            }
            v
        }
    }
}

/// A carried commit that git matched upstream: merged; released in the first tag containing
/// it; droppable only when the base ships that release AND the commit applies as empty onto
/// the tag (the proof). Without the proof it stays released, with the reason.
fn carried_commit_chain(
    c: &crate::model::CarriedCommit,
    u: &crate::model::UpstreamMatch,
    package: &Package,
    shipped: Option<&ShippedFact>,
    consider: &mut impl FnMut(Standing, Vec<Hop>, Confidence),
    rebased_past: &mut Option<String>,
) {
    let conf = u.how.confidence();
    let commit_url = match &package.upstream {
        Some(crate::model::UpstreamProject::Github { owner, repo }) => Some(format!(
            "https://github.com/{owner}/{repo}/commit/{}",
            u.sha
        )),
        _ => None,
    };
    let mut hops = vec![Hop::Carried {
        commit: c.sha.clone(),
        branch: c.branch.clone(),
        upstream: u.sha.clone(),
        how: u.how,
        url: commit_url,
    }];
    hops.extend(c.notes.iter().map(Hop::note));
    let Some(tag) = &u.release else {
        hops.push(Hop::NoRelease);
        consider(Standing::Merged, hops, conf);
        return;
    };
    hops.push(first_release(tag, None));
    let Some(v) = tag_version(tag) else {
        consider(Standing::Released, hops, conf);
        return;
    };
    match &u.proof {
        Some(p) if p.empty => {
            hops.push(Hop::AppliesEmpty { tag: p.tag.clone() });
            consider(Standing::Released, hops.clone(), conf);
            released_chain(
                hops,
                &Evr::new("", v, ""),
                package,
                shipped,
                conf,
                consider,
                rebased_past,
            );
        }
        Some(p) => {
            // Not provable: the fork's version of the change differs from the release's.
            let mut h = hops;
            h.push(Hop::NotEmpty { tag: p.tag.clone() });
            consider(Standing::Released, h, conf);
            let ours = Evr::new("", package.version.clone(), "");
            if !package.version.is_empty() && ships(&ours, &Evr::new("", v, "")) {
                rebased_past.get_or_insert_with(|| {
                    format!("our Version {} already contains {tag}", package.version)
                });
            }
        }
        None => consider(Standing::Released, hops, conf),
    }
}

/// "first in TAG", with the version the tag reads as and when it was made (by the
/// `owner/repo@sha` key its release was found under, when known).
fn first_release(tag: &str, facts: Option<(&Facts, &str)>) -> Hop {
    Hop::FirstRelease {
        tag: tag.to_string(),
        version: tag_version(tag),
        at: facts.and_then(|(f, key)| f.released_at.get(key).cloned()),
    }
}

/// From a release that contains the fix: does the base ship it, has our own Version passed it?
/// `hops` end with the first release `tag`: released, and droppable when the base ships it.
fn release_tag_chain(
    hops: Vec<Hop>,
    tag: &str,
    package: &Package,
    shipped: Option<&ShippedFact>,
    conf: Confidence,
    consider: &mut impl FnMut(Standing, Vec<Hop>, Confidence),
    rebased_past: &mut Option<String>,
) {
    consider(Standing::Released, hops.clone(), conf);
    if let Some(v) = tag_version(tag) {
        released_chain(
            hops,
            &Evr::new("", v, ""),
            package,
            shipped,
            conf,
            consider,
            rebased_past,
        );
    }
}

/// A stable release that cherry-picked the change: droppable when the base ships that
/// release's series at or past it (2.13.7 has the pick first released in 2.13.6), though the
/// first release by ancestry (3.0.0) is later. `hops` end before the first release.
fn picked_chain(
    facts: &Facts,
    key: &str,
    hops: &[Hop],
    shipped: Option<&ShippedFact>,
    conf: Confidence,
    consider: &mut impl FnMut(Standing, Vec<Hop>, Confidence),
) {
    let Some(s) = shipped else { return };
    for p in facts.picked.get(key).into_iter().flatten() {
        let Some(v) = tag_version(&p.tag) else {
            continue;
        };
        let fixed = Evr::new("", v.clone(), "");
        if ships(&s.evr, &fixed) && same_series(&s.evr.version, &v) {
            let mut h = hops.to_vec();
            h.push(Hop::CherryPicked {
                tag: p.tag.clone(),
                version: Some(v.clone()),
                commit: p.sha.clone(),
                how: p.how.clone(),
            });
            h.push(Hop::Ships {
                distro: s.distro.clone(),
                nvr: s.nvr.clone(),
                fixed: v,
                from: s.from.clone(),
            });
            consider(Standing::Droppable, h, conf);
            return;
        }
    }
}

/// Two versions of one release series: the same components but the last (`2.13.6` and
/// `2.13.9`; `255.4` and `255.10`).
fn same_series(a: &str, b: &str) -> bool {
    let series = |v: &str| {
        v.rsplit_once('.')
            .map_or(String::new(), |(s, _)| s.to_string())
    };
    !series(a).is_empty() && series(a) == series(b)
}

fn released_chain(
    hops: Vec<Hop>,
    fixed: &Evr,
    package: &Package,
    shipped: Option<&ShippedFact>,
    conf: Confidence,
    consider: &mut impl FnMut(Standing, Vec<Hop>, Confidence),
    rebased_past: &mut Option<String>,
) {
    if let Some(s) = shipped
        && ships(&s.evr, fixed)
    {
        let mut h = hops;
        h.push(Hop::Ships {
            distro: s.distro.clone(),
            nvr: s.nvr.clone(),
            fixed: fixed.to_string(),
            from: s.from.clone(),
        });
        consider(Standing::Droppable, h, conf);
    }
    let ours = Evr::new("", package.version.clone(), "");
    if !package.version.is_empty() && ships(&ours, fixed) && rebased_past.is_none() {
        *rebased_past = Some(format!(
            "our Version {} already contains {fixed}",
            package.version
        ));
    }
}

#[cfg(test)]
mod tests;
