//! The matcher: which upstream commit a carried commit is, strongest evidence first (see
//! [`MatchHow`]), the earliest release among copies, and the upstream fixes the fork lacks.

use super::facts::{self, CommitFacts};
use crate::evr::vercmp;
use crate::git::{Git, Result};
use crate::inventory::trailers;
use crate::model::{MatchHow, MissingFix, UpstreamMatch};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Lines of a subject match that must be the same for it to count (Dice similarity).
pub const SUBJECT_SIMILARITY: f64 = 0.7;

/// Candidate upstream commits by patch-id, content key and normalised subject. Candidates
/// are newest first; a later index is an older commit.
pub(super) struct Index<'a> {
    commits: &'a [&'a CommitFacts],
    by_patch_id: HashMap<&'a str, Vec<usize>>,
    by_content: HashMap<&'a str, Vec<usize>>,
    by_subject: HashMap<String, Vec<usize>>,
}

impl<'a> Index<'a> {
    pub(super) fn new(commits: &'a [&'a CommitFacts]) -> Self {
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

    /// Upstream commits with this patch-id, else this content key (oldest first), and how.
    pub(super) fn find(
        &self,
        patch_id: &str,
        content_key: &str,
    ) -> Option<(Vec<String>, MatchHow)> {
        for (map, key, how) in [
            (&self.by_patch_id, patch_id, MatchHow::PatchId),
            (&self.by_content, content_key, MatchHow::Content),
        ] {
            if key.is_empty() {
                continue;
            }
            if let Some(idx) = map.get(key) {
                return Some((self.shas(idx), how));
            }
        }
        None
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

/// The full upstream sha a (possibly abbreviated) id names, when exactly one does.
pub(super) fn resolve_prefix<'a>(sorted: &'a [String], id: &str) -> Option<&'a str> {
    let start = sorted.partition_point(|s| s.as_str() < id);
    let mut hits = sorted[start..].iter().take_while(|s| s.starts_with(id));
    let first = hits.next()?;
    if hits.next().is_some() {
        return None;
    }
    Some(first.as_str())
}

type Matched = (Option<UpstreamMatch>, Option<String>, Vec<String>);

pub(super) fn match_commit(
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
    for id in trailers::upstream_ids(&f.message) {
        match resolve_prefix(upstream_all, &id) {
            Some(full) => return Ok((Some(found(full.to_string(), MatchHow::Trailer, Vec::new())), None, notes)),
            None => notes.push(format!(
                "the message names {id}, which upstream does not have (a PR-branch or downstream sha?)"
            )),
        }
    }
    // 2. git's stable patch-id; 3. the content key.
    if let Some((mut shas, how)) = index.find(&f.patch_id, &f.content_key) {
        let first = shas.remove(0);
        return Ok((Some(found(first, how, shas)), None, notes));
    }
    // 4. Same subject, same author or date, confirmed by the lines.
    let mut ours = || facts::changed_lines(git, ws, &f.sha);
    match by_subject(
        git,
        ws,
        &f.subject,
        &f.author,
        &f.authored,
        &mut ours,
        index,
    )? {
        BySubject::Alike { sha, note } => {
            notes.push(note);
            Ok((Some(found(sha, MatchHow::Subject, Vec::new())), None, notes))
        }
        BySubject::Revisit { note, .. } => Ok((None, Some(note), notes)),
        BySubject::Nothing => Ok((None, None, notes)),
    }
}

/// What the subject step found.
pub(super) enum BySubject {
    /// Same subject, same author or date, and at least [`SUBJECT_SIMILARITY`] of the lines.
    Alike {
        sha: String,
        note: String,
    },
    /// Same subject and author or date, too few lines alike: a person should look.
    Revisit {
        sha: String,
        note: String,
    },
    Nothing,
}

/// Step 4 of the matcher, for carried commits and patch files alike: an upstream commit with
/// the same normalised subject and the same author e-mail or date, confirmed by the changed
/// lines (`ours` computes our side's once, only when a candidate needs it).
pub(super) fn by_subject(
    git: &Git,
    ws: &Path,
    subject: &str,
    author: &str,
    authored: &str,
    ours: &mut dyn FnMut() -> Result<Vec<String>>,
    index: &Index<'_>,
) -> Result<BySubject> {
    let subject = normalise_subject(subject);
    let author_email = email(author);
    let mut result = BySubject::Nothing;
    let Some(idx) = index
        .by_subject
        .get(&subject)
        .filter(|_| !subject.is_empty())
    else {
        return Ok(result);
    };
    let mut our_lines: Option<Vec<String>> = None;
    for n in idx.iter().rev() {
        let u = index.commits[*n];
        let same_author = !author_email.is_empty() && email(&u.author) == author_email;
        let same_date = !authored.is_empty() && u.authored == authored;
        if !same_author && !same_date {
            continue;
        }
        let lines = match &our_lines {
            Some(l) => l,
            None => our_lines.insert(ours()?),
        };
        let theirs = facts::changed_lines(git, ws, &u.sha)?;
        let sim = facts::similarity(lines, &theirs);
        let short = &u.sha[..12.min(u.sha.len())];
        if sim >= SUBJECT_SIMILARITY {
            return Ok(BySubject::Alike {
                sha: u.sha.clone(),
                note: format!(
                    "same subject as upstream {short}, {:.0}% of the changed lines alike",
                    sim * 100.0
                ),
            });
        }
        result = BySubject::Revisit {
            sha: u.sha.clone(),
            note: format!(
                "same subject as upstream {short} but only {:.0}% of the changed lines alike: revisit",
                sim * 100.0
            ),
        };
    }
    Ok(result)
}

pub(super) fn email(author: &str) -> &str {
    author
        .rsplit_once('<')
        .map_or(author, |(_, e)| e.trim_end_matches('>'))
}

/// Among upstream commits with the same change, the one in the earliest release.
pub(super) fn choose_earliest(
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
pub(super) fn missing_fixes(
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
            trailers::upstream_ids(msg),
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
