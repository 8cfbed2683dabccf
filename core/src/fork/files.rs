//! Patch FILES through the same content matcher as fork commits: many patch headers name a
//! sha upstream never had (the PR branch before it was squashed or rebased, Fedora's dist-git
//! commit of a CVE backport), so the id alone finds nothing. A patch whose diff has the same
//! patch-id or content key as an upstream commit is that commit.

use super::Cache;
use super::facts::{self, CommitFacts};
use super::mirror::Mirror;
use crate::git::{Git, Result};
use crate::inventory::Inventory;
use crate::model::{MatchHow, RefKind, Reference, Role, Warning};
use std::collections::HashMap;
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
    /// Header references to commits upstream does not have.
    pub not_upstream: usize,
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
        for f in facts::compute(git, &m.dir, &missing)? {
            computed.insert(f.sha.clone(), f);
        }
        let mut by_pid: HashMap<&str, &str> = HashMap::new();
        let mut by_key: HashMap<&str, &str> = HashMap::new();
        // Newest first: an older commit with the same change overwrites (the earliest wins).
        for sha in &candidates {
            let Some(f) = cache.facts.get(sha).or_else(|| computed.get(sha)) else {
                continue;
            };
            if !f.patch_id.is_empty() {
                by_pid.insert(&f.patch_id, &f.sha);
            }
            if !f.content_key.is_empty() {
                by_key.insert(&f.content_key, &f.sha);
            }
        }
        for i in files {
            let patch = &mut pkg.patches[i];
            let rel = patch.path.clone().unwrap_or_default();
            let Some(bytes) = read_under(roots, &rel) else {
                continue;
            };
            // Header ids upstream never had.
            for r in patch.refs.iter_mut().filter(|r| {
                r.kind == RefKind::UpstreamCommit && r.id.starts_with(&format!("{project}@"))
            }) {
                let sha = r.id.rsplit('@').next().unwrap_or_default().to_string();
                if m.resolve(git, &sha)?.is_none() {
                    out.not_upstream += 1;
                    r.confidence = crate::model::Confidence::Low;
                    r.note = Some(
                        "upstream's git has no such commit (a PR-branch or downstream sha?)".into(),
                    );
                }
            }
            let (pid, key) = facts::of_patch_file(git, &m.dir, &bytes)?;
            let found = by_pid
                .get(pid.as_str())
                .filter(|_| !pid.is_empty())
                .map(|s| (*s, MatchHow::PatchId))
                .or_else(|| {
                    by_key
                        .get(key.as_str())
                        .filter(|_| !key.is_empty())
                        .map(|s| (*s, MatchHow::Content))
                });
            let Some((sha, how)) = found else { continue };
            let id = format!("{project}@{sha}");
            if patch.refs.iter().any(|r| r.id == id) {
                continue;
            }
            match how {
                MatchHow::PatchId => out.by_patch_id += 1,
                _ => out.by_content += 1,
            }
            patch.refs.push(Reference {
                kind: RefKind::UpstreamCommit,
                url: pkg.upstream.as_ref().and_then(|u| u.commit_url(sha)),
                id,
                role: Role::Origin,
                confidence: how.confidence(),
                found_in: format!(
                    "{rel} ({} of upstream {})",
                    match how {
                        MatchHow::PatchId => "the same patch-id as",
                        _ => "the same changed lines as",
                    },
                    &sha[..sha.len().min(12)]
                ),
                note: Some(format!(
                    "matched by {} against the upstream git",
                    how.as_str()
                )),
            });
        }
    }
    out.new_facts = computed.into_values().collect();
    Ok(out)
}

fn read_under(roots: &[PathBuf], rel: &str) -> Option<Vec<u8>> {
    roots.iter().find_map(|root| {
        let p: &Path = root.as_ref();
        std::fs::read(p.join(rel)).ok()
    })
}
