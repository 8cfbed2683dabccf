//! Patch FILES through the same content matcher as fork commits: many patch headers name a
//! sha upstream never had (the PR branch before it was squashed or rebased, Fedora's dist-git
//! commit of a CVE backport), so the id alone finds nothing. A patch whose diff has the same
//! patch-id or content key as an upstream commit is that commit.

use super::Cache;
use super::facts::{self, CommitFacts};
use super::matcher::{BySubject, Index, by_subject};
use super::memo::Memo;
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
        let Some(m) = mirrors.iter().find(|m| m.serves(&project)) else {
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
        let range = match &since {
            Some(tag) => vec!["--all".to_string(), format!("^{tag}")],
            None => vec![
                "--all".to_string(),
                format!("--max-count={MAX_CANDIDATES_WITHOUT_TAG}"),
            ],
        };
        let mut left: Vec<PatchFile> = Vec::new();
        for i in files {
            let rel = pkg.patches[i].path.clone().unwrap_or_default();
            let Some(bytes) = read_under(roots, &rel) else {
                continue;
            };
            check_named_commits(
                git,
                m,
                &project,
                &mut pkg.patches[i],
                &mut on_branches,
                &mut out,
            )?;
            left.push(PatchFile::read(git, m, i, rel, &bytes)?);
        }
        let upstream = pkg.upstream.clone();
        let upstream = upstream.as_ref();
        // The content steps compare the patches with the commits that touch the files they
        // touch, under those names, the names they were renamed to, or the same names in other
        // directories (a patch made in the tarball's own layout): the whole range's diffs are
        // never read (issue 24: they were 60 s of systemd's first match).
        let paths: Vec<String> = left.iter().flat_map(|f| f.paths.iter().cloned()).collect();
        if !left.is_empty() && !paths.is_empty() {
            let memo = Memo::new(
                git,
                &m.dir,
                m.memo_dir.as_deref(),
                &pkg.name,
                &range,
                &paths,
            )?;
            let candidates = match memo.read() {
                Some(known) => known,
                None => {
                    let mut pathspec = paths.clone();
                    pathspec.extend(elsewhere(git, m, since.as_deref(), &paths)?);
                    let shas = candidates_touching(git, m, &range, &pathspec)?;
                    let touched = facts::files_touched(git, &m.dir, &shas)?;
                    let listed: Vec<(String, usize)> = shas
                        .into_iter()
                        .map(|s| {
                            let n = touched.get(&s).copied().unwrap_or(0);
                            (s, n)
                        })
                        .collect();
                    memo.write(&listed);
                    listed
                }
            };
            out.huge += candidates
                .iter()
                .filter(|(_, n)| *n > facts::MAX_FILES_PER_CANDIDATE)
                .count();
            // A commit changing more files than the largest patch cannot have its patch-id or
            // its changed lines: its diff (the costly part, git reads whole blobs) is skipped.
            let most = left.iter().map(|f| f.files).max().unwrap_or(0);
            let new: Vec<String> = candidates
                .iter()
                .filter(|(s, n)| {
                    *n <= most && !cache.facts.contains_key(s) && !computed.contains_key(s)
                })
                .map(|(s, _)| s.clone())
                .collect();
            let candidates: Vec<String> = candidates.into_iter().map(|(s, _)| s).collect();
            let (new, unreadable) = facts::compute_around_failures(git, &m.dir, &new);
            for f in new {
                computed.insert(f.sha.clone(), f);
            }
            if let Some((sha, why)) = unreadable.first() {
                out.warnings.push(unreadable_warning(
                    &project,
                    &pkg.name,
                    unreadable.len(),
                    sha,
                    why,
                ));
            }
            // Newest first, as the fork matcher's index wants them.
            let cand_facts: Vec<&CommitFacts> = candidates
                .iter()
                .filter_map(|s| cache.facts.get(s).or_else(|| computed.get(s)))
                .collect();
            let index = Index::new(&cand_facts);
            left.retain(|f| match f.by_content(&index) {
                Some(result) => {
                    record(
                        &mut pkg.patches[f.index],
                        upstream,
                        &project,
                        &f.rel,
                        result,
                        &mut out,
                    );
                    false
                }
                None => true,
            });
        }
        // The subject step: every candidate's subject, author and date (no diffs read).
        if !left.is_empty() {
            let range: Vec<&str> = range.iter().map(String::as_str).collect();
            let heads = facts::headers(git, &m.dir, &range)?;
            let heads: Vec<&CommitFacts> = heads.iter().collect();
            let index = Index::new(&heads);
            for f in &left {
                let patch = &mut pkg.patches[f.index];
                let result = f.by_subject(git, m, patch, &index)?;
                record(patch, upstream, &project, &f.rel, result, &mut out);
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

/// A patch file being matched: what the content steps compare, computed once.
struct PatchFile {
    /// Its patch in the package.
    index: usize,
    rel: String,
    text: String,
    patch_id: String,
    content_key: String,
    reversed_patch_id: String,
    reversed_key: String,
    paths: Vec<String>,
    /// Files its diff changes.
    files: usize,
}

impl PatchFile {
    fn read(git: &Git, m: &Mirror, index: usize, rel: String, bytes: &[u8]) -> Result<Self> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let (patch_id, content_key) = facts::of_patch_file(git, &m.dir, bytes)?;
        let reversed = facts::reversed_diff(&text);
        let (reversed_patch_id, reversed_key) = if reversed.trim().is_empty() {
            (String::new(), String::new())
        } else {
            facts::of_patch_file(git, &m.dir, reversed.as_bytes())?
        };
        Ok(PatchFile {
            index,
            rel,
            paths: facts::touched_paths(&text),
            files: facts::files_changed(&text),
            text,
            patch_id,
            content_key,
            reversed_patch_id,
            reversed_key,
        })
    }

    /// The matcher's content steps: patch-id, content key, the same two for the reversed
    /// diff (a revert).
    fn by_content(&self, index: &Index<'_>) -> Option<FileMatch> {
        if let Some((shas, how)) = index.find(&self.patch_id, &self.content_key) {
            let note = format!("matched by {} against the upstream git", how.as_str());
            return Some(FileMatch::Same {
                sha: shas[0].clone(),
                how,
                note,
            });
        }
        index
            .find(&self.reversed_patch_id, &self.reversed_key)
            .map(|(shas, how)| FileMatch::Reverse {
                sha: shas[0].clone(),
                how,
            })
    }

    /// The matcher's last step: subject with author or date, confirmed by the lines.
    fn by_subject(
        &self,
        git: &Git,
        m: &Mirror,
        patch: &Patch,
        index: &Index<'_>,
    ) -> Result<FileMatch> {
        let Some(subject) = patch.subject.as_deref() else {
            return Ok(FileMatch::Nothing);
        };
        let author = patch.author.as_deref().unwrap_or_default();
        let authored = patch.date.as_deref().map(git_date).unwrap_or_default();
        let mut ours = || Ok(facts::diff_changes(&self.text));
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
}

/// Upstream's non-merge commits in `range` that touch any of `paths`, newest first.
fn candidates_touching(
    git: &Git,
    m: &Mirror,
    range: &[String],
    paths: &[String],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    // A command line has a limit; a patch set touching thousands of files is asked in parts.
    for part in paths.chunks(1_000) {
        let mut args = vec!["rev-list", "--no-merges"];
        args.extend(range.iter().map(String::as_str));
        args.push("--");
        args.extend(part.iter().map(String::as_str));
        for sha in git.lines(&m.dir, &args, None)? {
            if seen.insert(sha.clone()) {
                out.push(sha);
            }
        }
    }
    if paths.len() > 1_000 {
        // Parts come out newest first each; the index wants the whole list so.
        let order: HashMap<String, usize> = git
            .lines(
                &m.dir,
                &{
                    let mut a = vec!["rev-list", "--no-merges"];
                    a.extend(range.iter().map(String::as_str));
                    a
                },
                None,
            )?
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s, i))
            .collect();
        out.sort_by_key(|s| order.get(s).copied().unwrap_or(usize::MAX));
    }
    Ok(out)
}

/// Where else upstream has the files of `paths`: what they were renamed to since our release
/// tag, and files (at the tag and at upstream's head) with the same name in another directory.
fn elsewhere(git: &Git, m: &Mirror, since: Option<&str>, paths: &[String]) -> Result<Vec<String>> {
    let name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let names: HashSet<String> = paths.iter().map(|p| name(p)).collect();
    let exact: HashSet<&str> = paths.iter().map(String::as_str).collect();
    let mut out: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    if let Some(tag) = since {
        // `R<score> NUL old NUL new NUL`, one tree diff with rename detection.
        let args = [
            "diff",
            "--no-ext-diff",
            "--name-status",
            "-z",
            "-M",
            "--diff-filter=R",
            tag,
            "HEAD",
        ];
        if let Ok(raw) = git.output(&m.dir, &args) {
            let raw = String::from_utf8_lossy(&raw);
            let mut fields = raw.split('\0');
            while let (Some(_status), Some(from), Some(to)) =
                (fields.next(), fields.next(), fields.next())
            {
                if exact.contains(from) && seen.insert(to.to_string()) {
                    out.push(to.to_string());
                }
            }
        }
    }
    for rev in since.into_iter().chain(std::iter::once("HEAD")) {
        let Ok(files) = git.lines(&m.dir, &["ls-tree", "-r", "--name-only", rev], None) else {
            // A mirror without a HEAD (no default branch) has only the tag to offer.
            continue;
        };
        for f in files {
            if names.contains(&name(&f)) && !exact.contains(f.as_str()) && seen.insert(f.clone()) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

fn unreadable_warning(project: &str, package: &str, count: usize, sha: &str, why: &str) -> Warning {
    Warning {
        path: format!("upstream {project}"),
        line: None,
        message: format!(
            "{count} upstream commit(s) could not be read and were left out of the content match of {package} (first: {}: {why})",
            &sha[..sha.len().min(12)]
        ),
    }
}

/// Writes what matching found for one patch file into its references, and counts it.
fn record(
    patch: &mut Patch,
    upstream: Option<&crate::model::UpstreamProject>,
    project: &str,
    rel: &str,
    result: FileMatch,
    out: &mut FileMatches,
) {
    match result {
        FileMatch::Same { sha, how, note } => {
            add_ref(patch, upstream, project, rel, &sha, how, Role::Origin, note);
            match how {
                MatchHow::PatchId => out.by_patch_id += 1,
                MatchHow::Content => out.by_content += 1,
                _ => out.by_subject += 1,
            }
        }
        FileMatch::Reverse { sha, how } => {
            out.reverts += 1;
            let id = format!("{project}@{sha}");
            // The header named the commit it reverts (`From <sha>` of a `-R` patch): that id
            // is what it undoes, never where it comes from.
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
                project,
                rel,
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
                project,
                rel,
                &sha,
                MatchHow::Subject,
                Role::Related,
                note,
            );
        }
        FileMatch::Nothing => {}
    }
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
