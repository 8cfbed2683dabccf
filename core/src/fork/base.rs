//! The base distribution's own fork of an upstream project: its source-git (CentOS Stream's
//! systemd is v252 plus 1,370 commits, tagged per build `v252-N`). Which upstream changes it
//! carries, recognised as our fork commits are (an id in the message verified upstream, then
//! patch-id, content key, subject), and from which of its builds on. A change we carry that
//! the base took is droppable once the base ships that build.
//!
//! Leaner than [`super::scan`]: no follow-up fixes, no proofs, and upstream commits are read
//! only for the base's commits without an id (most cherry-picks say which commit they are).

use super::Cache;
use super::facts::{self, CommitFacts};
use super::matcher::{BySubject, Index, by_subject, resolve_prefix};
use crate::evr::vercmp;
use crate::git::{Git, Result};
use crate::inventory::trailers;
use crate::model::MatchHow;
use crate::observation::base_fork::Taken;
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One `[[fork]]` with `distro`, resolved.
#[derive(Debug, Clone)]
pub struct BaseForkSpec {
    pub distro: String,
    pub package: String,
    /// Glob patterns of the base's branches (`main`, `c9s`).
    pub branches: Vec<String>,
    /// The base's build tags; group 1 is the build's release number (`^v252-(\d+)$`).
    pub build_tags: Regex,
}

impl BaseForkSpec {
    /// The spec of a `[[fork]]` with `distro` (`None` for our own forks).
    ///
    /// # Errors
    /// `release_tags` is not a regular expression.
    pub fn of(f: &crate::config::ForkConfig) -> std::result::Result<Option<Self>, regex::Error> {
        let Some(distro) = &f.distro else {
            return Ok(None);
        };
        Ok(Some(BaseForkSpec {
            distro: distro.clone(),
            package: f.package.clone(),
            branches: f.branches.clone(),
            build_tags: Regex::new(f.release_tags())?,
        }))
    }
}

/// What reading a base fork found.
#[derive(Debug, Clone, Default)]
pub struct BaseScan {
    /// Upstream sha -> what the base carries of it.
    pub taken: Vec<(String, Taken)>,
    /// Commits the base carries on top of upstream.
    pub carried: usize,
    /// Of those, recognised as an upstream commit.
    pub matched: usize,
    pub new_facts: Vec<CommitFacts>,
}

/// `(name, peeled sha)` of the refs under `prefix` (`refs/heads/`, `refs/tags/`).
fn refs(git: &Git, dir: &Path, prefix: &str) -> Result<Vec<(String, String)>> {
    let lines = git.lines(
        dir,
        &[
            "for-each-ref",
            "--format=%(refname) %(objectname) %(*objectname)",
            prefix,
        ],
        None,
    )?;
    Ok(lines
        .iter()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            let name = parts.next()?.strip_prefix(prefix)?;
            let obj = parts.next()?;
            let peeled = parts.next().filter(|p| !p.is_empty()).unwrap_or(obj);
            Some((name.to_string(), peeled.to_string()))
        })
        .collect())
}

/// Reads the base's fork in `repos.fork` against upstream in `repos.upstream` (both visible
/// in `repos.workspace`).
///
/// # Errors
/// git failed.
pub fn scan_base(
    git: &Git,
    repos: &super::Repos,
    spec: &BaseForkSpec,
    cache: &Cache,
) -> Result<BaseScan> {
    let ws = repos.workspace.as_path();
    let mut out = BaseScan::default();
    let patterns: Vec<glob::Pattern> = spec
        .branches
        .iter()
        .filter_map(|b| glob::Pattern::new(b).ok())
        .collect();
    let tips: Vec<String> = refs(git, &repos.fork, "refs/heads/")?
        .into_iter()
        .filter(|(b, _)| patterns.iter().any(|p| p.matches(b)))
        .map(|(_, s)| s)
        .collect();
    if tips.is_empty() {
        return Ok(out);
    }
    // The base's build tags, oldest build first.
    let mut builds: Vec<(String, String, String)> = refs(git, &repos.fork, "refs/tags/")?
        .into_iter()
        .filter_map(|(name, sha)| {
            let c = spec.build_tags.captures(&name)?;
            let release = c.get(1)?;
            Some((name.clone(), release.as_str().to_string(), sha))
        })
        .collect();
    builds.sort_by(|a, b| vercmp(&a.1, &b.1).then_with(|| a.0.cmp(&b.0)));

    // Upstream as negative revisions: its heads and tags.
    let upstream: Vec<String> = refs(git, &repos.upstream, "refs/heads/")?
        .into_iter()
        .chain(refs(git, &repos.upstream, "refs/tags/")?)
        .map(|(_, s)| s)
        .collect();
    let not_upstream: String = upstream.iter().map(|s| format!("^{s}\n")).collect();
    let positive = |shas: &[String]| -> String { shas.iter().map(|s| format!("{s}\n")).collect() };
    let mut carried_tips = tips.clone();
    carried_tips.extend(builds.iter().map(|b| b.2.clone()));
    let carried = git.lines(
        ws,
        &["rev-list", "--no-merges", "--stdin"],
        Some(format!("{}{not_upstream}", positive(&carried_tips)).as_bytes()),
    )?;
    out.carried = carried.len();
    if carried.is_empty() {
        return Ok(out);
    }
    let missing: Vec<String> = carried
        .iter()
        .filter(|s| !cache.facts.contains_key(*s))
        .cloned()
        .collect();
    let computed = facts::compute(git, ws, &missing)?;
    let mut known: HashMap<String, CommitFacts> = carried
        .iter()
        .filter_map(|sha| Some((sha.clone(), cache.facts.get(sha)?.clone())))
        .collect();
    for f in &computed {
        known.insert(f.sha.clone(), f.clone());
    }
    out.new_facts = computed;

    // 1. The id a cherry-pick names, verified upstream.
    let mut upstream_all = git.lines(
        ws,
        &["rev-list", "--stdin"],
        Some(positive(&upstream).as_bytes()),
    )?;
    upstream_all.sort_unstable();
    let mut found: HashMap<String, (String, MatchHow)> = HashMap::new();
    let mut unresolved: Vec<&CommitFacts> = Vec::new();
    for sha in &carried {
        let Some(f) = known.get(sha) else { continue };
        let named = trailers::upstream_ids(&f.message)
            .into_iter()
            .find_map(|id| resolve_prefix(&upstream_all, &id).map(str::to_string));
        match named {
            Some(up) => {
                found.insert(sha.clone(), (up, MatchHow::Trailer));
            }
            None => unresolved.push(f),
        }
    }
    // 2-4. The rest by content, against the upstream commits the base does not have that
    // touch the same files (and change no more files than the largest of them).
    if !unresolved.is_empty() {
        let shas: Vec<String> = unresolved.iter().map(|f| f.sha.clone()).collect();
        let by_content = match_by_content(git, ws, &shas, &unresolved, &upstream, &tips, cache)?;
        out.new_facts.extend(by_content.1);
        found.extend(by_content.0);
    }
    out.matched = found.len();

    // The first build of each carried commit: walk the build tags oldest first.
    let mut first_build: HashMap<String, usize> = HashMap::new();
    let mut earlier = not_upstream.clone();
    for (i, (_, _, sha)) in builds.iter().enumerate() {
        let new = git.lines(
            ws,
            &["rev-list", "--no-merges", "--stdin"],
            Some(format!("{sha}\n{earlier}").as_bytes()),
        )?;
        for c in new {
            first_build.entry(c).or_insert(i);
        }
        earlier.push_str(&format!("^{sha}\n"));
    }
    let version_of = |tag: &str, release: &str| -> Option<String> {
        // `v252-23` -> `252`: what the tag says before the release number.
        let at = tag.rfind(release)?;
        let v = tag[..at]
            .trim_end_matches(['-', '.', '_'])
            .trim_start_matches(|c: char| !c.is_ascii_digit());
        (!v.is_empty()).then(|| v.to_string())
    };
    for sha in &carried {
        let (Some((up, how)), Some(f)) = (found.get(sha), known.get(sha)) else {
            continue;
        };
        let build = first_build.get(sha).map(|i| &builds[*i]);
        out.taken.push((
            up.clone(),
            Taken {
                commit: sha.clone(),
                subject: f.subject.clone(),
                how: *how,
                tag: build.map(|b| b.0.clone()),
                version: build.and_then(|b| version_of(&b.0, &b.1)),
                release: build.map(|b| b.1.clone()),
                resolves: resolves(&f.message),
            },
        ));
    }
    Ok(out)
}

type ContentMatches = (HashMap<String, (String, MatchHow)>, Vec<CommitFacts>);

/// The content and subject steps for the base's commits that name no upstream id.
fn match_by_content(
    git: &Git,
    ws: &Path,
    shas: &[String],
    ours: &[&CommitFacts],
    upstream: &[String],
    tips: &[String],
    cache: &Cache,
) -> Result<ContentMatches> {
    let mut out = HashMap::new();
    let input: String = shas.iter().map(|s| format!("{s}\n")).collect();
    let names = git.lines(
        ws,
        &[
            "log",
            "--no-walk=unsorted",
            "--stdin",
            "--format=",
            "--name-only",
            "--no-renames",
        ],
        Some(input.as_bytes()),
    )?;
    let paths: Vec<String> = names
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if paths.is_empty() {
        return Ok((out, Vec::new()));
    }
    let touched_ours = facts::files_touched(git, ws, shas)?;
    let most = touched_ours.values().copied().max().unwrap_or(0);
    let mut revs: String = upstream.iter().map(|s| format!("{s}\n")).collect();
    for t in tips {
        revs.push_str(&format!("^{t}\n"));
    }
    let mut candidates: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for part in paths.chunks(1_000) {
        let mut args = vec!["rev-list", "--no-merges", "--stdin", "--"];
        args.extend(part.iter().map(String::as_str));
        for c in git.lines(ws, &args, Some(revs.as_bytes()))? {
            if seen.insert(c.clone()) {
                candidates.push(c);
            }
        }
    }
    let new: Vec<String> = candidates
        .iter()
        .filter(|s| !cache.facts.contains_key(*s))
        .cloned()
        .collect();
    let touched = facts::files_touched(git, ws, &new)?;
    let new: Vec<String> = new
        .into_iter()
        .filter(|s| touched.get(s).is_none_or(|n| *n <= most))
        .collect();
    let computed = facts::compute(git, ws, &new)?;
    let by_sha: HashMap<&str, &CommitFacts> = computed
        .iter()
        .map(|f| (f.sha.as_str(), f))
        .chain(cache.facts.iter().map(|(k, v)| (k.as_str(), v)))
        .collect();
    let cand: Vec<&CommitFacts> = candidates
        .iter()
        .filter_map(|s| by_sha.get(s.as_str()).copied())
        .collect();
    let index = Index::new(&cand);
    for f in ours {
        if let Some((shas, how)) = index.find(&f.patch_id, &f.content_key) {
            out.insert(f.sha.clone(), (shas[0].clone(), how));
            continue;
        }
        let mut lines = || facts::changed_lines(git, ws, &f.sha);
        if let BySubject::Alike { sha, .. } = by_subject(
            git,
            ws,
            &f.subject,
            &f.author,
            &f.authored,
            &mut lines,
            &index,
        )? {
            out.insert(f.sha.clone(), (sha, MatchHow::Subject));
        }
    }
    Ok((out, computed))
}

/// The `Resolves:`/`Related:` lines of a base commit's message (RHEL's convention).
fn resolves(message: &str) -> Vec<String> {
    message
        .lines()
        .map(str::trim)
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            lower.starts_with("resolves:") || lower.starts_with("related:")
        })
        .map(|l| l.chars().take(200).collect())
        .collect()
}
