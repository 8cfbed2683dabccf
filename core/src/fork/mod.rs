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

pub mod facts;
pub mod files;
pub mod mirror;
mod releases;

use crate::evr::vercmp;
use crate::git::{Git, Result};
use crate::inventory::patch as patch_file;
use crate::inventory::refs::{self, TextContext};
use crate::model::{
    CarriedCommit, Confidence, MatchHow, MissingFix, Package, Patch, Proof, RefKind, Reference,
    Role, UpstreamMatch, UpstreamProject, Warning,
};
pub use facts::CommitFacts;
use regex::Regex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Lines of a subject match that must be the same for it to count (Dice similarity).
pub const SUBJECT_SIMILARITY: f64 = 0.7;

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

struct UpstreamRefs {
    branch_sha: String,
    heads: Vec<String>,
    /// Release tags: (name, version, commit sha), oldest version first.
    tags: Vec<(String, String, String)>,
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
    let missing: Vec<String> = carried
        .iter()
        .chain(&candidates)
        .filter(|s| !cache.facts.contains_key(*s))
        .cloned()
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

/// Commits that only edit the backports file are the fork's bookkeeping, not debt.
fn without_bookkeeping(
    git: &Git,
    ws: &Path,
    carried: Vec<String>,
    file: &str,
) -> Result<Vec<String>> {
    if carried.is_empty() {
        return Ok(carried);
    }
    let input: String = carried.iter().map(|s| format!("{s}\n")).collect();
    let out = git.output_with_input(
        ws,
        &[
            "log",
            "--no-walk=unsorted",
            "--stdin",
            "--format=%x00%H",
            "--name-only",
            "--no-renames",
        ],
        Some(input.as_bytes()),
    )?;
    let text = String::from_utf8_lossy(&out);
    let only_file: HashSet<&str> = text
        .split('\0')
        .filter_map(|chunk| {
            let mut lines = chunk.lines().filter(|l| !l.is_empty());
            let sha = lines.next()?;
            let paths: Vec<&str> = lines.collect();
            (paths == [file]).then_some(sha)
        })
        .collect();
    Ok(carried
        .into_iter()
        .filter(|s| !only_file.contains(s.as_str()))
        .collect())
}

fn upstream_refs(git: &Git, dir: &Path, spec: &ForkSpec) -> Result<UpstreamRefs> {
    let lines = git.lines(
        dir,
        &[
            "for-each-ref",
            "--format=%(refname) %(objectname) %(*objectname)",
            "refs/heads",
            "refs/tags",
        ],
        None,
    )?;
    let mut heads = Vec::new();
    let mut tags = Vec::new();
    let mut branch_sha = None;
    let fork_patterns = patterns(spec);
    for l in &lines {
        let mut parts = l.split(' ');
        let (Some(name), Some(obj)) = (parts.next(), parts.next()) else {
            continue;
        };
        let peeled = parts.next().filter(|p| !p.is_empty()).unwrap_or(obj);
        if let Some(b) = name.strip_prefix("refs/heads/") {
            if b == spec.upstream_branch {
                branch_sha = Some(obj.to_string());
            }
            // A fork kept in the upstream repository itself: its branches are not upstream.
            if !fork_patterns.iter().any(|p| p.matches(b)) {
                heads.push(obj.to_string());
            }
        } else if let Some(t) = name.strip_prefix("refs/tags/")
            && let Some(v) = spec
                .release_tags
                .captures(t)
                .and_then(|c| c.get(1).or(c.get(0)))
        {
            tags.push((t.to_string(), v.as_str().to_string(), peeled.to_string()));
        }
    }
    tags.sort_by(|a, b| vercmp(&a.1, &b.1).then_with(|| a.0.cmp(&b.0)));
    let branch_sha = branch_sha.ok_or_else(|| crate::git::GitError::Failed {
        args: format!("rev-parse {}", spec.upstream_branch),
        dir: dir.display().to_string(),
        message: format!(
            "upstream has no branch `{}` (upstream_branch of fork {})",
            spec.upstream_branch, spec.name
        ),
    })?;
    Ok(UpstreamRefs {
        branch_sha,
        heads,
        tags,
    })
}

fn patterns(spec: &ForkSpec) -> Vec<glob::Pattern> {
    spec.branches
        .iter()
        .filter_map(|p| glob::Pattern::new(p).ok())
        .collect()
}

fn fork_branches(git: &Git, dir: &Path, spec: &ForkSpec) -> Result<Vec<(String, String)>> {
    let patterns = patterns(spec);
    let lines = git.lines(
        dir,
        &[
            "for-each-ref",
            "--format=%(refname:strip=2) %(objectname)",
            "refs/heads",
        ],
        None,
    )?;
    Ok(lines
        .iter()
        .filter_map(|l| l.split_once(' '))
        .filter(|(b, _)| patterns.iter().any(|p| p.matches(b)))
        .map(|(b, s)| (b.to_string(), s.to_string()))
        .collect())
}

/// The branch with the newest version: from its name (`hs-v254` -> 254), else from the
/// newest release tag it contains.
fn lead_branch(
    git: &Git,
    ws: &Path,
    branches: &[(String, String)],
    up: &UpstreamRefs,
) -> Option<(String, String, Option<String>)> {
    static_regex!(NAME_VERSION, r"(\d+(?:\.\d+)*)");
    let mut versioned: Vec<(String, String, Option<String>)> = branches
        .iter()
        .map(|(b, s)| {
            let v = NAME_VERSION
                .captures(b)
                .map(|c| c[1].to_string())
                .or_else(|| contained_release(git, ws, s, up));
            (b.clone(), s.clone(), v)
        })
        .collect();
    versioned.sort_by(|a, b| {
        let va = a.2.as_deref().unwrap_or("");
        let vb = b.2.as_deref().unwrap_or("");
        vercmp(va, vb).then_with(|| a.0.cmp(&b.0))
    });
    versioned.pop()
}

/// The newest release tag an unversioned branch already contains.
fn contained_release(git: &Git, ws: &Path, sha: &str, up: &UpstreamRefs) -> Option<String> {
    for (_, v, tag_sha) in up.tags.iter().rev() {
        let ok = git
            .output(ws, &["merge-base", "--is-ancestor", tag_sha, sha])
            .is_ok();
        if ok {
            return Some(v.clone());
        }
    }
    None
}

/// Candidate upstream commits by patch-id, content key and normalised subject. Candidates
/// are newest first; a later index is an older commit.
struct Index<'a> {
    commits: &'a [&'a CommitFacts],
    by_patch_id: HashMap<&'a str, Vec<usize>>,
    by_content: HashMap<&'a str, Vec<usize>>,
    by_subject: HashMap<String, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(commits: &'a [&'a CommitFacts]) -> Self {
        let mut i = Index {
            commits,
            by_patch_id: HashMap::new(),
            by_content: HashMap::new(),
            by_subject: HashMap::new(),
        };
        for (n, c) in commits.iter().enumerate() {
            if !c.patch_id.is_empty() {
                i.by_patch_id.entry(&c.patch_id).or_default().push(n);
            }
            if !c.content_key.is_empty() {
                i.by_content.entry(&c.content_key).or_default().push(n);
            }
            i.by_subject
                .entry(normalise_subject(&c.subject))
                .or_default()
                .push(n);
        }
        i
    }

    fn shas(&self, idx: &[usize]) -> Vec<String> {
        // Oldest first: "prefer the earliest" until releases say otherwise.
        idx.iter()
            .rev()
            .map(|n| self.commits[*n].sha.clone())
            .collect()
    }
}

/// `[PATCH v2] core: Fix foo (#1234)` -> `core: fix foo`.
pub fn normalise_subject(s: &str) -> String {
    static_regex!(
        PREFIX,
        r"(?i)^(?:\s*\[[^\]]*\]\s*|\s*(?:backport|cherry-pick|upstream)\s*:\s*)+"
    );
    static_regex!(SUFFIX, r"\s*\(#\d+\)\s*$");
    let s = PREFIX.replace(s, "");
    let s = SUFFIX.replace(&s, "");
    s.trim().trim_end_matches('.').to_lowercase()
}

/// Upstream ids written in a message: cherry-pick trailers, kernel/glibc `commit X upstream`,
/// `Backport-of:`.
fn trailer_ids(message: &str) -> Vec<String> {
    static_regex!(
        IDS,
        r"(?im)(?:cherry[- ]picked from commit\s+([0-9a-f]{7,40})|^\s*\[?\s*upstream\s+commit\s*:?\s*([0-9a-f]{7,40})|^\s*commit\s+([0-9a-f]{7,40})\s+upstream|^\s*backport-of:\s*(?:\S*/commit/)?([0-9a-f]{7,40}))"
    );
    IDS.captures_iter(message)
        .filter_map(|c| {
            c.iter()
                .skip(1)
                .flatten()
                .next()
                .map(|m| m.as_str().to_lowercase())
        })
        .collect()
}

/// The full upstream sha a (possibly abbreviated) id names, when exactly one does.
fn resolve_prefix<'a>(sorted: &'a [String], id: &str) -> Option<&'a str> {
    let start = sorted.partition_point(|s| s.as_str() < id);
    let mut hits = sorted[start..].iter().take_while(|s| s.starts_with(id));
    let first = hits.next()?;
    if hits.next().is_some() {
        return None;
    }
    Some(first.as_str())
}

type Matched = (Option<UpstreamMatch>, Option<String>, Vec<String>);

fn match_commit(
    git: &Git,
    ws: &Path,
    f: &CommitFacts,
    index: &Index<'_>,
    upstream_all: &[String],
) -> Result<Matched> {
    let mut notes = Vec::new();
    let found = |sha: String, how: MatchHow, also: Vec<String>| UpstreamMatch {
        sha,
        how,
        release: None,
        also,
        proof: None,
    };
    // 1. An id in the message, verified upstream.
    for id in trailer_ids(&f.message) {
        match resolve_prefix(upstream_all, &id) {
            Some(full) => return Ok((Some(found(full.to_string(), MatchHow::Trailer, Vec::new())), None, notes)),
            None => notes.push(format!(
                "the message names {id}, which upstream does not have (a PR-branch or downstream sha?)"
            )),
        }
    }
    // 2. git's stable patch-id; 3. the content key.
    for (map, key, how) in [
        (&index.by_patch_id, f.patch_id.as_str(), MatchHow::PatchId),
        (&index.by_content, f.content_key.as_str(), MatchHow::Content),
    ] {
        if key.is_empty() {
            continue;
        }
        if let Some(idx) = map.get(key) {
            let mut shas = index.shas(idx);
            let first = shas.remove(0);
            return Ok((Some(found(first, how, shas)), None, notes));
        }
    }
    // 4. Same subject, same author or date, confirmed by the lines.
    let subject = normalise_subject(&f.subject);
    let author_email = email(&f.author);
    let mut revisit = None;
    if !subject.is_empty()
        && let Some(idx) = index.by_subject.get(&subject)
    {
        for n in idx.iter().rev() {
            let u = index.commits[*n];
            if email(&u.author) != author_email && u.authored != f.authored {
                continue;
            }
            let ours = facts::changed_lines(git, ws, &f.sha)?;
            let theirs = facts::changed_lines(git, ws, &u.sha)?;
            let sim = facts::similarity(&ours, &theirs);
            let short = &u.sha[..12.min(u.sha.len())];
            if sim >= SUBJECT_SIMILARITY {
                let mut m = found(u.sha.clone(), MatchHow::Subject, Vec::new());
                m.also.clear();
                notes.push(format!(
                    "same subject as upstream {short}, {:.0}% of the changed lines alike",
                    sim * 100.0
                ));
                return Ok((Some(m), None, notes));
            }
            revisit = Some(format!(
                "same subject as upstream {short} but only {:.0}% of the changed lines alike: revisit",
                sim * 100.0
            ));
        }
    }
    Ok((None, revisit, notes))
}

fn email(author: &str) -> &str {
    author
        .rsplit_once('<')
        .map_or(author, |(_, e)| e.trim_end_matches('>'))
}

/// Among upstream commits with the same change, the one in the earliest release.
fn choose_earliest(
    u: &mut UpstreamMatch,
    release_of: &HashMap<String, String>,
    version_of: &HashMap<&str, &str>,
) {
    let mut all: Vec<String> = std::iter::once(u.sha.clone())
        .chain(u.also.drain(..))
        .collect();
    // Stable sort: without releases the oldest (first) stays first.
    all.sort_by(|a, b| {
        let va = release_of.get(a).and_then(|t| version_of.get(t.as_str()));
        let vb = release_of.get(b).and_then(|t| version_of.get(t.as_str()));
        match (va, vb) {
            (Some(x), Some(y)) => vercmp(x, y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    });
    u.sha = all.remove(0);
    u.also = all;
    u.release = release_of.get(&u.sha).cloned();
}

/// Upstream commits whose `Fixes:` names one of `matched`, by the sha they fix. A fix that is
/// itself matched by a carried commit is not missing.
fn missing_fixes(
    candidates: &[&CommitFacts],
    matched: &HashSet<&str>,
) -> HashMap<String, Vec<MissingFix>> {
    static_regex!(
        FIXES,
        r"(?im)^\s*Fixes:\s*(?:\S*/commit/)?([0-9a-f]{7,40})\b"
    );
    let mut sorted: Vec<&str> = matched.iter().copied().collect();
    sorted.sort_unstable();
    let mut out: HashMap<String, Vec<MissingFix>> = HashMap::new();
    for c in candidates {
        if matched.contains(c.sha.as_str()) {
            continue;
        }
        for cap in FIXES.captures_iter(&c.message) {
            let id = cap[1].to_lowercase();
            let start = sorted.partition_point(|s| *s < id.as_str());
            let Some(target) = sorted[start..].iter().find(|s| s.starts_with(&id)) else {
                continue;
            };
            out.entry((*target).to_string())
                .or_default()
                .push(MissingFix {
                    sha: c.sha.clone(),
                    subject: c.subject.clone(),
                    fixes: (*target).to_string(),
                });
        }
    }
    out
}

fn carried_patch(
    f: &CommitFacts,
    branch: &str,
    spec: &ForkSpec,
    commit: CarriedCommit,
    names: &mut HashSet<String>,
) -> Patch {
    let short = &f.sha[..12.min(f.sha.len())];
    let found_in = format!("{}:{branch}@{short}", spec.name);
    // The message read as a patch header: `Link:`, PR URLs, trailers, status words.
    let text = format!("Subject: {}\n\n{}\n", f.subject, body_of(&f.message));
    let mut ignored = Vec::new();
    let info = patch_file::parse(
        text.as_bytes(),
        &found_in,
        spec.upstream_project.as_ref(),
        &mut ignored,
    );
    let mut refs = info.refs;
    if commit.upstream.is_some() {
        // The match is the upstream commit; ids in the message are kept only as the
        // match's evidence, never asked about again.
        refs.retain(|r| r.kind != RefKind::UpstreamCommit);
    }
    for r in &mut refs {
        if r.kind == RefKind::GithubPr && r.role == Role::Related && is_link_trailer(&f.message, r)
        {
            // `Link:` to a pull request on a commit that upstream does not have: the commit's
            // own submission.
            r.role = Role::Origin;
        }
    }
    let claims = info.claims;
    let mut name = one_line(&f.subject);
    if name.is_empty() {
        name = short.to_string();
    }
    let mut unique = name.clone();
    let mut n = 2;
    while !names.insert(unique.clone()) {
        unique = format!("{name} [{n}]");
        n += 1;
    }
    Patch {
        file: unique,
        number: None,
        path: None,
        condition: None,
        subject: Some(f.subject.clone()),
        author: Some(f.author.clone()),
        date: Some(f.authored.clone()),
        lines_added: f.lines_added,
        lines_removed: f.lines_removed,
        refs,
        claims,
        commit: Some(commit),
        origin: None,
    }
}

fn is_link_trailer(message: &str, r: &Reference) -> bool {
    let Some(url) = &r.url else { return false };
    message.lines().any(|l| {
        l.trim_start().to_ascii_lowercase().starts_with("link:") && l.contains(url.as_str())
    })
}

fn body_of(message: &str) -> &str {
    message.split_once('\n').map_or("", |(_, b)| b)
}

/// A subject as a name: one line, at most 200 characters.
fn one_line(s: &str) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    line.trim().to_string()
}

/// The backports file: every upstream link in it is a reference of the package; one that no
/// carried commit matches is reported.
#[allow(clippy::too_many_arguments)]
fn backports(
    git: &Git,
    ws: &Path,
    lead: &str,
    lead_sha: &str,
    file: &str,
    spec: &ForkSpec,
    candidates: &[&CommitFacts],
    out: &mut ForkScan,
) -> Result<()> {
    let shown = format!("{}:{lead}:{file}", spec.name);
    let Ok(bytes) = git.output(ws, &["cat-file", "blob", &format!("{lead_sha}:{file}")]) else {
        out.warnings.push(Warning {
            path: shown,
            line: None,
            message: "the backports file is not on the branch".into(),
        });
        return Ok(());
    };
    let text = String::from_utf8_lossy(&bytes);
    let matched_upstream: Vec<&UpstreamMatch> = out
        .package
        .patches
        .iter()
        .filter_map(|p| p.commit.as_ref()?.upstream.as_ref())
        .collect();
    let upstream_ids: Vec<&str> = matched_upstream
        .iter()
        .flat_map(|u| std::iter::once(u.sha.as_str()).chain(u.also.iter().map(String::as_str)))
        .collect();
    let by_sha: HashMap<&str, &CommitFacts> =
        candidates.iter().map(|c| (c.sha.as_str(), *c)).collect();
    let mut pr_merges: Option<BTreeMap<u64, (String, String)>> = None;
    for (n, line) in text.lines().enumerate() {
        let ctx = TextContext::new(
            spec.upstream_project.as_ref(),
            format!("{shown}:{}", n + 1),
            Role::Related,
        );
        for r in refs::extract(line, &ctx) {
            let on_branch = match r.kind {
                RefKind::UpstreamCommit => {
                    let sha = r.id.rsplit('@').next().unwrap_or(&r.id).to_lowercase();
                    upstream_ids.iter().any(|u| u.starts_with(&sha))
                }
                RefKind::GithubPr => {
                    let num: u64 =
                        r.id.rsplit('#')
                            .next()
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0);
                    let mentioned = out.package.patches.iter().any(|p| {
                        mentions_pr(p.subject.as_deref().unwrap_or(""), num)
                            || p.refs
                                .iter()
                                .any(|x| x.kind == RefKind::GithubPr && x.id == r.id)
                    }) || upstream_ids
                        .iter()
                        .any(|u| by_sha.get(u).is_some_and(|c| mentions_pr(&c.message, num)));
                    mentioned || {
                        let merges = match &pr_merges {
                            Some(m) => m,
                            None => pr_merges.insert(pr_merge_commits(git, ws)?),
                        };
                        match merges.get(&num) {
                            Some((p1, p2)) => git
                                .lines(ws, &["rev-list", &format!("{p1}..{p2}")], None)?
                                .iter()
                                .any(|s| upstream_ids.contains(&s.as_str())),
                            None => false,
                        }
                    }
                }
                _ => true,
            };
            if !on_branch {
                out.warnings.push(Warning {
                    path: shown.clone(),
                    line: Some(u32::try_from(n + 1).unwrap_or(u32::MAX)),
                    message: format!(
                        "listed in {file} but not on the branch: {}",
                        r.url.as_deref().unwrap_or(&r.id)
                    ),
                });
            }
            let mut r = r;
            r.confidence = r.confidence.max(Confidence::Medium);
            out.backports_refs.push(r);
        }
    }
    refs::dedup(&mut out.backports_refs);
    Ok(())
}

fn mentions_pr(text: &str, n: u64) -> bool {
    if n == 0 {
        return false;
    }
    let needles = [
        format!("(#{n})"),
        format!("pull request #{n} "),
        format!("/pull/{n}"),
    ];
    needles.iter().any(|x| text.contains(x.as_str()))
        || text.ends_with(&format!("pull request #{n}"))
}

/// Upstream merges of pull requests (`Merge pull request #N from ...`): the merged branch of
/// each, as its two parents.
fn pr_merge_commits(git: &Git, ws: &Path) -> Result<BTreeMap<u64, (String, String)>> {
    static_regex!(MERGE_PR, r"^Merge pull request #(\d+) ");
    let mut out = BTreeMap::new();
    let lines = git.lines(
        ws,
        &[
            "log",
            "--merges",
            "--format=%H %P%x09%s",
            "--glob=refs/forkdebt/upstream",
        ],
        None,
    )?;
    for l in lines {
        let Some((ids, subject)) = l.split_once('\t') else {
            continue;
        };
        let Some(n) = MERGE_PR
            .captures(subject)
            .and_then(|c| c[1].parse::<u64>().ok())
        else {
            continue;
        };
        let parts: Vec<&str> = ids.split(' ').collect();
        if parts.len() >= 3 {
            out.entry(n)
                .or_insert_with(|| (parts[1].to_string(), parts[2].to_string()));
        }
    }
    Ok(out)
}

/// Writes the workspace refs the fork commands need (`refs/forkdebt/...`), so `git log --all`
/// there sees the fork and upstream together.
///
/// # Errors
/// git failed.
pub fn link_refs(git: &Git, repos: &Repos) -> Result<()> {
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for (dir, prefix) in [(&repos.upstream, "upstream"), (&repos.fork, "fork")] {
        for l in git.lines(
            dir,
            &[
                "for-each-ref",
                "--format=%(refname) %(objectname)",
                "refs/heads",
                "refs/tags",
            ],
            None,
        )? {
            if let Some((name, sha)) = l.split_once(' ') {
                let short = name.trim_start_matches("refs/");
                wanted.insert(format!("refs/forkdebt/{prefix}/{short}"), sha.to_string());
            }
        }
    }
    let mut input = String::new();
    // Refs that vanished from the fork or upstream must not linger here.
    for l in git.lines(
        &repos.workspace,
        &[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/forkdebt",
        ],
        None,
    )? {
        if let Some((name, sha)) = l.split_once(' ') {
            match wanted.get(name) {
                Some(s) if s == sha => {
                    wanted.remove(name);
                }
                Some(_) => {}
                None => input.push_str(&format!("delete {name}\n")),
            }
        }
    }
    for (name, sha) in &wanted {
        input.push_str(&format!("update {name} {sha}\n"));
    }
    if !input.is_empty() {
        git.output_with_input(
            &repos.workspace,
            &["update-ref", "--stdin"],
            Some(input.as_bytes()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_trailers() {
        assert_eq!(
            normalise_subject("[PATCH v2] core: Fix foo (#1234)"),
            "core: fix foo"
        );
        assert_eq!(
            normalise_subject("Backport: core: fix foo."),
            "core: fix foo"
        );
        let msg = "core: fix\n\n(cherry picked from commit 0123456789abcdef0123456789abcdef01234567)\n[ Upstream commit abcdef012345 ]\nBackport-of: https://github.com/x/y/commit/fedcba9876543210\n";
        assert_eq!(
            trailer_ids(msg),
            vec![
                "0123456789abcdef0123456789abcdef01234567".to_string(),
                "abcdef012345".to_string(),
                "fedcba9876543210".to_string()
            ]
        );
        let sorted = vec!["aaa1".to_string(), "abc1".to_string(), "abc2".to_string()];
        assert_eq!(resolve_prefix(&sorted, "aa"), Some("aaa1"));
        assert_eq!(resolve_prefix(&sorted, "abc"), None);
        assert_eq!(resolve_prefix(&sorted, "b"), None);
    }
}
