//! Patch FILES through the same content matcher as fork commits: many patch headers name a
//! sha upstream never had (the PR branch before it was squashed or rebased, Fedora's dist-git
//! commit of a CVE backport), so the id alone finds nothing. A patch whose diff has the same
//! patch-id or content key as an upstream commit is that commit.

use super::Cache;
use super::facts::{self, CommitFacts};
use super::matcher::{BySubject, Index, by_subject};
use super::mirror::Mirror;
use crate::git::{Git, Result};
use crate::inventory::Inventory;
use crate::model::{Confidence, MatchHow, Patch, RefKind, Reference, Role, Warning};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Upstream commits a package's patches are compared with when its version has no release
/// tag to start from.
const MAX_CANDIDATES_WITHOUT_TAG: usize = 50_000;

/// What matching patch files found.
#[derive(Debug, Default)]
pub struct FileMatches {
    /// Patch files recognised as an upstream commit, by how.
    pub by_patch_id: usize,
    pub by_content: usize,
    /// Patch files recognised by subject, author or date and alike lines.
    pub by_subject: usize,
    /// Patch files whose diff is the reverse of an upstream commit.
    pub reverts: usize,
    /// Same subject as an upstream commit, too few lines alike.
    pub revisit: usize,
    /// Header references to commits upstream does not have.
    pub not_upstream: usize,
    /// Commits named with less confidence that upstream has on a branch or tag.
    pub confirmed: usize,
    /// Upstream commits left out of content matching for their size (release imports).
    pub huge: usize,
    pub new_facts: Vec<CommitFacts>,
    pub warnings: Vec<Warning>,
}

/// Matches the patch files of every package of `inv` whose upstream project has a mirror.
/// Patch paths are relative to one of `roots`.
///
/// # Errors
/// git failed on a mirror.
pub fn match_patch_files(
    git: &Git,
    inv: &mut Inventory,
    roots: &[PathBuf],
    mirrors: &[Mirror],
    cache: &Cache,
) -> Result<FileMatches> {
    let mut out = FileMatches::default();
    let mut computed: HashMap<String, CommitFacts> = HashMap::new();
    // Per mirror, the commits on its branches and tags: walked the first time a named commit
    // needs it, once per scan.
    let mut on_branches: HashMap<String, HashSet<String>> = HashMap::new();
    for pkg in &mut inv.packages {
        let Some(project) = pkg
            .upstream
            .as_ref()
            .and_then(crate::forge::ForgeProject::of_upstream)
            .and_then(|p| p.project())
        else {
            continue;
        };
        let Some(m) = mirrors.iter().find(|m| m.project == project) else {
            continue;
        };
        let files: Vec<usize> = (0..pkg.patches.len())
            .filter(|i| pkg.patches[*i].path.is_some() && pkg.patches[*i].commit.is_none())
            .collect();
        if files.is_empty() {
            continue;
        }
        // Upstream commits after our version's release tag (what a backport can be).
        let since = m.release_tag_of(git, &pkg.version)?;
        let mut args = vec!["rev-list", "--no-merges", "--all"];
        let not_since;
        let max;
        match &since {
            Some(tag) => {
                not_since = format!("^{tag}");
                args.push(&not_since);
            }
            None => {
                max = format!("--max-count={MAX_CANDIDATES_WITHOUT_TAG}");
                args.push(&max);
            }
        }
        let candidates = git.lines(&m.dir, &args, None)?;
        let missing: Vec<String> = candidates
            .iter()
            .filter(|s| !cache.facts.contains_key(*s) && !computed.contains_key(*s))
            .cloned()
            .collect();
        let (missing, huge) = facts::without_huge(git, &m.dir, missing)?;
        out.huge += huge;
        let (new, unreadable) = facts::compute_around_failures(git, &m.dir, &missing);
        for f in new {
            computed.insert(f.sha.clone(), f);
        }
        if let Some((sha, why)) = unreadable.first() {
            out.warnings.push(Warning {
                path: format!("upstream {project}"),
                line: None,
                message: format!(
                    "{} upstream commit(s) could not be read and were left out of the content match of {} (first: {}: {why})",
                    unreadable.len(),
                    pkg.name,
                    &sha[..sha.len().min(12)]
                ),
            });
        }
        // Newest first, as the fork matcher's index wants them.
        let cand_facts: Vec<&CommitFacts> = candidates
            .iter()
            .filter_map(|s| cache.facts.get(s).or_else(|| computed.get(s)))
            .collect();
        let index = Index::new(&cand_facts);
        for i in files {
            let patch = &mut pkg.patches[i];
            let rel = patch.path.clone().unwrap_or_default();
            let Some(bytes) = read_under(roots, &rel) else {
                continue;
            };
            check_named_commits(git, m, &project, patch, &mut on_branches, &mut out)?;
            let text = String::from_utf8_lossy(&bytes);
            let upstream = pkg.upstream.as_ref();
            match match_file(git, m, &index, patch, &bytes, &text)? {
                FileMatch::Same { sha, how, note } => {
                    add_ref(
                        patch,
                        upstream,
                        &project,
                        &rel,
                        &sha,
                        how,
                        Role::Origin,
                        note,
                    );
                    match how {
                        MatchHow::PatchId => out.by_patch_id += 1,
                        MatchHow::Content => out.by_content += 1,
                        _ => out.by_subject += 1,
                    }
                }
                FileMatch::Reverse { sha, how } => {
                    out.reverts += 1;
                    let id = format!("{project}@{sha}");
                    // The header named the commit it reverts (`From <sha>` of a `-R` patch):
                    // that id is what it undoes, never where it comes from.
                    for r in &mut patch.refs {
                        if r.kind == RefKind::UpstreamCommit
                            && r.role == Role::Origin
                            && id.starts_with(r.id.as_str())
                        {
                            r.role = Role::Reverts;
                        }
                    }
                    patch.refs.retain(|r| r.id != id);
                    let note = "the reverse of its diff".to_string();
                    add_ref(
                        patch,
                        upstream,
                        &project,
                        &rel,
                        &sha,
                        how,
                        Role::Reverts,
                        note,
                    );
                }
                FileMatch::Revisit { sha, note } => {
                    out.revisit += 1;
                    add_ref(
                        patch,
                        upstream,
                        &project,
                        &rel,
                        &sha,
                        MatchHow::Subject,
                        Role::Related,
                        note,
                    );
                }
                FileMatch::Nothing => {}
            }
        }
    }
    out.new_facts = computed.into_values().collect();
    Ok(out)
}

/// What one patch file is upstream.
enum FileMatch {
    /// The same change as upstream `sha`.
    Same {
        sha: String,
        how: MatchHow,
        note: String,
    },
    /// The reverse of upstream `sha`: a revert of it.
    Reverse {
        sha: String,
        how: MatchHow,
    },
    /// Same subject and author, too few lines alike.
    Revisit {
        sha: String,
        note: String,
    },
    Nothing,
}

/// The fork matcher's steps for a patch file: patch-id, content key, the same two for the
/// reversed diff (a revert), then subject with author or date confirmed by the lines.
fn match_file(
    git: &Git,
    m: &Mirror,
    index: &Index<'_>,
    patch: &Patch,
    bytes: &[u8],
    text: &str,
) -> Result<FileMatch> {
    let (pid, key) = facts::of_patch_file(git, &m.dir, bytes)?;
    if let Some((shas, how)) = index.find(&pid, &key) {
        let note = format!("matched by {} against the upstream git", how.as_str());
        return Ok(FileMatch::Same {
            sha: shas[0].clone(),
            how,
            note,
        });
    }
    let reversed = facts::reversed_diff(text);
    if !reversed.trim().is_empty() {
        let (rpid, rkey) = facts::of_patch_file(git, &m.dir, reversed.as_bytes())?;
        if let Some((shas, how)) = index.find(&rpid, &rkey) {
            return Ok(FileMatch::Reverse {
                sha: shas[0].clone(),
                how,
            });
        }
    }
    let Some(subject) = patch.subject.as_deref() else {
        return Ok(FileMatch::Nothing);
    };
    let author = patch.author.as_deref().unwrap_or_default();
    let authored = patch.date.as_deref().map(git_date).unwrap_or_default();
    let mut ours = || Ok(facts::diff_changes(text));
    Ok(
        match by_subject(git, &m.dir, subject, author, &authored, &mut ours, index)? {
            BySubject::Alike { sha, note } => FileMatch::Same {
                sha,
                how: MatchHow::Subject,
                note,
            },
            BySubject::Revisit { sha, note } => FileMatch::Revisit { sha, note },
            BySubject::Nothing => FileMatch::Nothing,
        },
    )
}

/// A patch header's `Date:` (RFC 2822) as git's `%aI` writes an author date, so the subject
/// step can compare them; other shapes are kept as they are.
fn git_date(date: &str) -> String {
    chrono::DateTime::parse_from_rfc2822(date.trim()).map_or_else(
        |_| date.trim().to_string(),
        |d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    )
}

/// Header references to commits upstream does not have get a low confidence and say so.
fn check_named_commits(
    git: &Git,
    m: &Mirror,
    project: &str,
    patch: &mut Patch,
    on_branches: &mut HashMap<String, HashSet<String>>,
    out: &mut FileMatches,
) -> Result<()> {
    for r in patch
        .refs
        .iter_mut()
        .filter(|r| r.kind == RefKind::UpstreamCommit && r.id.starts_with(&format!("{project}@")))
    {
        let sha = r.id.rsplit('@').next().unwrap_or_default().to_string();
        let Some(full) = m.resolve(git, &sha)? else {
            out.not_upstream += 1;
            r.confidence = Confidence::Low;
            r.note =
                Some("upstream's git has no such commit (a PR-branch or downstream sha?)".into());
            continue;
        };
        // A sha named anywhere (a `From <sha>` line is "maybe a local commit" on its own) that
        // upstream has on a branch or tag is upstream's commit: as sure as git is.
        if !on_branches.contains_key(&m.project) {
            on_branches.insert(m.project.clone(), m.on_branches_and_tags(git)?);
        }
        let reachable = &on_branches[&m.project];
        if reachable.contains(&full) {
            if r.confidence < Confidence::High {
                out.confirmed += 1;
                r.confidence = Confidence::High;
                r.note = Some("upstream's git has this commit on its branches".into());
            }
        } else {
            r.note = Some(
                "upstream's git has this commit only outside its branches and tags (a pull request ref?)"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Adds the reference a match found (unless the patch already names that commit so).
#[allow(clippy::too_many_arguments)]
fn add_ref(
    patch: &mut Patch,
    upstream: Option<&crate::model::UpstreamProject>,
    project: &str,
    rel: &str,
    sha: &str,
    how: MatchHow,
    role: Role,
    note: String,
) {
    let id = format!("{project}@{sha}");
    if patch.refs.iter().any(|r| r.id == id && r.role == role) {
        return;
    }
    let short = &sha[..sha.len().min(12)];
    let what = match (role, how) {
        (Role::Reverts, _) => "the reverse of",
        (_, MatchHow::PatchId) => "the same patch-id as",
        (_, MatchHow::Content) => "the same changed lines as",
        _ => "the same subject as",
    };
    patch.refs.push(Reference {
        kind: RefKind::UpstreamCommit,
        url: upstream.and_then(|u| u.commit_url(sha)),
        id,
        role,
        confidence: if role == Role::Related {
            Confidence::Low
        } else {
            how.confidence().max(Confidence::Medium)
        },
        found_in: format!("{rel} ({what} upstream {short})"),
        note: Some(note),
    });
}

fn read_under(roots: &[PathBuf], rel: &str) -> Option<Vec<u8>> {
    roots.iter().find_map(|root| {
        let p: &Path = root.as_ref();
        std::fs::read(p.join(rel)).ok()
    })
}
