//! Forks kept as git branches: the commits a fork branch carries on top of upstream, each
//! matched to the upstream commit it is (if any), with the first upstream release containing
//! it, a `merge-tree` proof, and the upstream follow-up fixes the fork lacks.
//!
//! The matcher is ordered, strongest first (see [`MatchHow`]): an upstream id in the message
//! verified reachable upstream; git's stable patch-id; a path-insensitive content key; the
//! same subject with the same author or date and similar lines (below the threshold it is
//! "revisit", never a match); otherwise the commit is local-only and its links are references.
//!
//! All git work is plumbing in a scratch workspace repository that sees the fork's and the
//! upstream's objects through alternates (see [`crate::git::workspace`]).

mod backports;
pub mod base;
mod branches;
mod carried;
pub mod facts;
pub mod files;
mod matcher;
mod memo;
pub mod mirror;
pub mod rebase;
mod releases;

use crate::git::{Git, Result};
use crate::model::{
    CarriedCommit, MissingFix, Package, Proof, Reference, UpstreamMatch, UpstreamProject, Warning,
};
use backports::backports;
pub use branches::link_refs;
use branches::{fork_branches, lead_branch, upstream_refs, without_bookkeeping};
use carried::carried_patch;
pub use facts::CommitFacts;
use matcher::{Index, choose_earliest, match_commit, missing_fixes};
pub use matcher::{SUBJECT_SIMILARITY, normalise_subject};
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// One `[[fork]]`, resolved.
#[derive(Debug, Clone)]
pub struct ForkSpec {
    pub name: String,
    pub package: String,
    /// Glob patterns of fork branches.
    pub branches: Vec<String>,
    pub upstream_branch: String,
    /// Group 1 is the release version.
    pub release_tags: Regex,
    pub backports_file: Option<String>,
    /// The upstream project (for the links and references of the commits).
    pub upstream_project: Option<UpstreamProject>,
}

/// The repositories of a fork: where its branches and its upstream are, and the workspace.
#[derive(Debug, Clone)]
pub struct Repos {
    pub fork: PathBuf,
    pub upstream: PathBuf,
    pub workspace: PathBuf,
}

/// What earlier scans computed (from the store).
#[derive(Debug, Clone, Default)]
pub struct Cache {
    pub facts: HashMap<String, CommitFacts>,
    /// First release tag of an upstream commit.
    pub releases: HashMap<String, String>,
    /// `(carried sha, tag)` -> applies as empty.
    pub proofs: HashMap<(String, String), bool>,
}

/// What a fork scan found, and what it computed that the store should cache.
#[derive(Debug, Clone, Default)]
pub struct ForkScan {
    /// The package with one patch per carried commit (`Patch::commit` set).
    pub package: Package,
    /// The leading branch (the newest version).
    pub branch: String,
    /// References listed in the backports file.
    pub backports_refs: Vec<Reference>,
    pub warnings: Vec<Warning>,
    pub new_facts: Vec<CommitFacts>,
    pub new_releases: Vec<(String, String)>,
    pub new_proofs: Vec<(String, String, bool)>,
    pub stats: ForkStats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ForkStats {
    pub branches: usize,
    pub carried: usize,
    pub matched: usize,
    pub local_only: usize,
    pub revisit: usize,
    /// Upstream commits the carried ones were compared with.
    pub upstream_candidates: usize,
    /// Commits whose patch-id was computed now (not cached).
    pub computed: usize,
    pub missing_fixes: usize,
}

/// Scans one fork.
///
/// # Errors
/// A git command failed, or the upstream branch does not exist.
pub fn scan(git: &Git, repos: &Repos, spec: &ForkSpec, cache: &Cache) -> Result<ForkScan> {
    let ws = repos.workspace.as_path();
    let mut out = ForkScan::default();
    link_refs(git, repos)?;
    let up = upstream_refs(git, &repos.upstream, spec)?;
    let branches = fork_branches(git, &repos.fork, spec)?;
    out.stats.branches = branches.len();
    let Some((lead, lead_sha, version)) = lead_branch(git, ws, &branches, &up) else {
        out.warnings.push(Warning {
            path: format!("fork {}", spec.name),
            line: None,
            message: format!(
                "no branch matches {} in {}",
                spec.branches.join(", "),
                repos.fork.display()
            ),
        });
        return Ok(out);
    };
    out.branch = lead.clone();

    // Upstream as a set of negative revisions: its heads and release tags.
    let mut not_upstream = String::new();
    for sha in up.heads.iter().chain(up.tags.iter().map(|t| &t.2)) {
        not_upstream.push('^');
        not_upstream.push_str(sha);
        not_upstream.push('\n');
    }
    let carried = git.lines(
        ws,
        &["rev-list", "--no-merges", "--reverse", "--stdin"],
        Some(format!("{lead_sha}\n{not_upstream}").as_bytes()),
    )?;
    let carried = match &spec.backports_file {
        Some(file) => without_bookkeeping(git, ws, carried, file)?,
        None => carried,
    };
    let mut upstream_positive = format!("{}\n", up.branch_sha);
    for t in &up.tags {
        upstream_positive.push_str(&t.2);
        upstream_positive.push('\n');
    }
    // Candidates: what upstream has that the fork branch does not (newest first).
    let candidates = git.lines(
        ws,
        &["rev-list", "--no-merges", "--stdin"],
        Some(format!("{upstream_positive}^{lead_sha}\n").as_bytes()),
    )?;
    out.stats.upstream_candidates = candidates.len();
    // Every upstream commit, for verifying the ids people wrote.
    let mut upstream_all = git.lines(
        ws,
        &["rev-list", "--stdin"],
        Some(upstream_positive.as_bytes()),
    )?;
    upstream_all.sort_unstable();

    // Facts: cached, or computed in one pass for all that are new.
    // Upstream candidates the size of a release import are left out (never carried, and
    // costlier to diff than all the rest); every carried commit is kept.
    let new_candidates: Vec<String> = candidates
        .iter()
        .filter(|s| !cache.facts.contains_key(*s))
        .cloned()
        .collect();
    let (new_candidates, _huge) = facts::without_huge(git, ws, new_candidates)?;
    let missing: Vec<String> = carried
        .iter()
        .filter(|s| !cache.facts.contains_key(*s))
        .cloned()
        .chain(new_candidates)
        .collect();
    let computed = facts::compute(git, ws, &missing)?;
    out.stats.computed = computed.len();
    let mut known: HashMap<&str, &CommitFacts> =
        cache.facts.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for f in &computed {
        known.insert(f.sha.as_str(), f);
    }
    let cand_facts: Vec<&CommitFacts> = candidates
        .iter()
        .filter_map(|s| known.get(s.as_str()).copied())
        .collect();
    let index = Index::new(&cand_facts);

    // Match every carried commit.
    let mut matches: Vec<(Option<UpstreamMatch>, Option<String>, Vec<String>)> = Vec::new();
    for sha in &carried {
        let Some(f) = known.get(sha.as_str()) else {
            matches.push((None, None, Vec::new()));
            continue;
        };
        matches.push(match_commit(git, ws, f, &index, &upstream_all)?);
    }

    // First releases of every matched upstream commit (and its copies).
    let wanted: HashSet<String> = matches
        .iter()
        .filter_map(|m| m.0.as_ref())
        .flat_map(|u| std::iter::once(u.sha.clone()).chain(u.also.iter().cloned()))
        .collect();
    let mut release_of: HashMap<String, String> = wanted
        .iter()
        .filter_map(|s| Some((s.clone(), cache.releases.get(s)?.clone())))
        .collect();
    let unknown: HashSet<String> = wanted
        .iter()
        .filter(|s| !release_of.contains_key(*s))
        .cloned()
        .collect();
    for (sha, tag) in releases::first_releases(git, ws, &up.tags, &unknown)? {
        out.new_releases.push((sha.clone(), tag.clone()));
        release_of.insert(sha, tag);
    }
    let version_of: HashMap<&str, &str> = up
        .tags
        .iter()
        .map(|(n, v, _)| (n.as_str(), v.as_str()))
        .collect();
    for (m, _, _) in &mut matches {
        if let Some(u) = m.as_mut() {
            choose_earliest(u, &release_of, &version_of);
        }
    }

    // Proofs: does the carried commit apply as empty onto the release that has it?
    let tag_sha: HashMap<&str, &str> = up
        .tags
        .iter()
        .map(|(n, _, s)| (n.as_str(), s.as_str()))
        .collect();
    let mut to_prove = Vec::new();
    for (sha, (m, _, _)) in carried.iter().zip(&matches) {
        let Some(tag) = m.as_ref().and_then(|u| u.release.as_ref()) else {
            continue;
        };
        if !cache.proofs.contains_key(&(sha.clone(), tag.clone()))
            && let Some(t) = tag_sha.get(tag.as_str())
        {
            to_prove.push((sha.clone(), tag.clone(), (*t).to_string()));
        }
    }
    let proved = releases::prove_empty(git, ws, &to_prove)?;
    for ((sha, tag, _), empty) in to_prove.iter().zip(&proved) {
        out.new_proofs.push((sha.clone(), tag.clone(), *empty));
    }
    let mut proofs = cache.proofs.clone();
    for (sha, tag, empty) in &out.new_proofs {
        proofs.insert((sha.clone(), tag.clone()), *empty);
    }

    // Upstream follow-up fixes of the changes we carry.
    let matched_ids: HashSet<&str> = matches
        .iter()
        .filter_map(|m| m.0.as_ref())
        .flat_map(|u| std::iter::once(u.sha.as_str()).chain(u.also.iter().map(String::as_str)))
        .collect();
    let fixes = missing_fixes(&cand_facts, &matched_ids);

    // The package: one patch per carried commit.
    let mut names = HashSet::new();
    for (sha, (m, revisit, notes)) in carried.iter().zip(matches) {
        let Some(f) = known.get(sha.as_str()) else {
            continue;
        };
        let upstream = m.map(|mut u| {
            if let Some(tag) = &u.release {
                u.proof = proofs.get(&(sha.clone(), tag.clone())).map(|e| Proof {
                    tag: tag.clone(),
                    empty: *e,
                });
            }
            u
        });
        let mut missing: Vec<MissingFix> = Vec::new();
        if let Some(u) = &upstream {
            for id in std::iter::once(&u.sha).chain(&u.also) {
                missing.extend(fixes.get(id.as_str()).into_iter().flatten().cloned());
            }
        }
        match (&upstream, &revisit) {
            (Some(_), _) => out.stats.matched += 1,
            (None, Some(_)) => out.stats.revisit += 1,
            (None, None) => out.stats.local_only += 1,
        }
        out.stats.missing_fixes += missing.len();
        let patch = carried_patch(
            f,
            &lead,
            spec,
            CarriedCommit {
                sha: sha.clone(),
                branch: lead.clone(),
                upstream,
                revisit,
                missing_fixes: missing,
                notes,
            },
            &mut names,
        );
        out.package.patches.push(patch);
    }
    out.stats.carried = out.package.patches.len();

    if let Some(file) = &spec.backports_file {
        backports(git, ws, &lead, &lead_sha, file, spec, &cand_facts, &mut out)?;
    }
    out.package.name = spec.package.clone();
    out.package.spec_path = format!("{}:{lead}", spec.name);
    out.package.version = version.unwrap_or_default();
    out.package.upstream = spec.upstream_project.clone();
    out.new_facts = computed;
    Ok(out)
}
