//! What a rebase to an upstream release does to the carried patches: each patch whose
//! upstream commit forkdebt knows (named in it, or matched by content) is dropped by the
//! rebase when the release's tag contains that commit, or a cherry-pick of it (a stable
//! release: same patch-id or changed lines since the branches diverged), and still needed
//! when it does not; a patch that reverts an upstream commit stays needed while the release
//! has the commit it reverts; anything else is unknown. `rebase-check` prints it; the git
//! source announces it when upstream tags a new release.

use super::mirror::Mirror;
use crate::git::Git;
use crate::model::{Patch, RefKind, Role};

/// What the rebase does to one patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The release has the upstream commit (`picked`: as this cherry-pick, and how it was
    /// recognised).
    Dropped {
        upstream: String,
        picked: Option<(String, &'static str)>,
    },
    /// The release lacks the upstream commit, or the patch reverts one the release has.
    Needed {
        upstream: String,
        reverts: bool,
        in_release: bool,
    },
    /// No upstream commit is known for the patch.
    Unknown,
}

impl Outcome {
    /// `dropped by the rebase: upstream 51c2aa16 was cherry-picked into v2.13.6 as …`.
    pub fn text(&self, tag: &str) -> String {
        match self {
            Outcome::Dropped {
                upstream,
                picked: None,
            } => format!(
                "dropped by the rebase: upstream {} is in {tag}",
                short(upstream)
            ),
            Outcome::Dropped {
                upstream,
                picked: Some((pick, how)),
            } => format!(
                "dropped by the rebase: upstream {} was cherry-picked into {tag} as {} ({how})",
                short(upstream),
                short(pick)
            ),
            Outcome::Needed {
                upstream,
                reverts: true,
                in_release,
            } => format!(
                "still needed: it reverts upstream {}{}",
                short(upstream),
                if *in_release {
                    format!(", which {tag} contains")
                } else {
                    String::new()
                }
            ),
            Outcome::Needed { upstream, .. } => {
                format!("still needed: upstream {} is not in {tag}", short(upstream))
            }
            Outcome::Unknown => "unknown: no upstream commit is known for it".to_string(),
        }
    }
}

/// The upstream commits of `patch` in `mirror`'s project, with their roles.
fn upstream_commits<'a>(patch: &'a Patch, mirror: &Mirror) -> Vec<(&'a str, Role)> {
    patch
        .refs
        .iter()
        .filter(|r| r.kind == RefKind::UpstreamCommit && r.role != Role::Related)
        .filter_map(|r| {
            let (project, sha) = r.id.rsplit_once('@')?;
            mirror.serves(project).then_some((sha, r.role))
        })
        .collect()
}

/// What a rebase to `tag` of `mirror` does to each of `patches`, in order.
pub fn check(git: &Git, mirror: &Mirror, tag: &str, patches: &[&Patch]) -> Vec<Outcome> {
    let contains = |sha: &str| {
        git.command(&mirror.dir)
            .args(["merge-base", "--is-ancestor", sha, tag])
            .status()
            .is_ok_and(|s| s.success())
    };
    patches
        .iter()
        .map(|p| {
            let upstream = upstream_commits(p, mirror);
            if let Some((sha, _)) = upstream.iter().find(|(_, role)| *role == Role::Reverts) {
                return Outcome::Needed {
                    upstream: sha.to_string(),
                    reverts: true,
                    in_release: contains(sha),
                };
            }
            if let Some((sha, _)) = upstream.iter().find(|(sha, _)| contains(sha)) {
                return Outcome::Dropped {
                    upstream: sha.to_string(),
                    picked: None,
                };
            }
            if let Some((sha, pick)) = upstream
                .iter()
                .find_map(|(sha, _)| Some((*sha, cherry_picked(git, mirror, sha, tag)?)))
            {
                return Outcome::Dropped {
                    upstream: sha.to_string(),
                    picked: Some(pick),
                };
            }
            match upstream.first() {
                Some((sha, _)) => Outcome::Needed {
                    upstream: sha.to_string(),
                    reverts: false,
                    in_release: false,
                },
                None => Outcome::Unknown,
            }
        })
        .collect()
}

/// Not an ancestor of `tag`: was `sha` cherry-picked onto the release's branch (a stable
/// release)? Upstream's commits since the two diverged, on the same files, compared as the
/// matcher compares carried patches: patch-id, then the changed lines.
fn cherry_picked(
    git: &Git,
    mirror: &Mirror,
    sha: &str,
    tag: &str,
) -> Option<(String, &'static str)> {
    let base = git
        .lines(&mirror.dir, &["merge-base", sha, tag], None)
        .ok()?
        .into_iter()
        .next()?;
    let range = format!("{base}..{tag}");
    same_change_in(git, mirror, sha, &[range.as_str()])
        .ok()?
        .into_iter()
        .next()
}

/// The commits `rev-list RANGE -- <sha's files>` lists that make the same change as `sha`
/// (the matcher's tests for carried patches: patch-id, then the changed lines), with how.
fn same_change_in(
    git: &Git,
    mirror: &Mirror,
    sha: &str,
    range: &[&str],
) -> crate::git::Result<Vec<(String, &'static str)>> {
    let dir = &mirror.dir;
    let paths = git.lines(
        dir,
        &["diff-tree", "--no-commit-id", "--name-only", "-r", sha],
        None,
    )?;
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut argv = vec!["rev-list"];
    argv.extend_from_slice(range);
    argv.push("--");
    argv.extend(paths.iter().map(String::as_str));
    let candidates = git.lines(dir, &argv, None)?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut all = vec![sha.to_string()];
    all.extend(candidates);
    let facts = super::facts::compute(git, dir, &all)?;
    let Some(me) = facts.iter().find(|f| f.sha == sha) else {
        return Ok(Vec::new());
    };
    Ok(facts
        .iter()
        .filter(|f| f.sha != sha)
        .filter_map(|f| {
            if !me.patch_id.is_empty() && f.patch_id == me.patch_id {
                Some((f.sha.clone(), "same patch-id"))
            } else if !me.content_key.is_empty() && f.content_key == me.content_key {
                Some((f.sha.clone(), "same changed lines"))
            } else {
                None
            }
        })
        .collect())
}

/// Cherry-picks of `sha` on branches other than the one of its first release `first` (a
/// stable branch), each with the first release that has it: commits reachable from a tag but
/// not from `first` (nor from `sha`), touching the same files, with the same patch-id or
/// changed lines. At most [`MAX_PICK_CANDIDATES`] commits are compared.
///
/// # Errors
/// git failed.
pub fn picks_elsewhere(
    git: &Git,
    mirror: &Mirror,
    sha: &str,
    first: Option<&str>,
) -> crate::git::Result<Vec<crate::observation::github::Picked>> {
    let limit = format!("--max-count={MAX_PICK_CANDIDATES}");
    let not_sha = format!("^{sha}");
    let not_first = first.map(|t| format!("^{t}"));
    let mut range = vec![limit.as_str(), "--tags", not_sha.as_str()];
    range.extend(not_first.as_deref());
    let mut out = Vec::new();
    for (pick, how) in same_change_in(git, mirror, sha, &range)? {
        if let Some(tag) = mirror.first_release(git, &pick)?
            && Some(tag.as_str()) != first
        {
            out.push(crate::observation::github::Picked {
                sha: pick,
                how: how.to_string(),
                tag,
            });
        }
    }
    Ok(out)
}

/// Commits compared when looking for cherry-picks of one commit.
pub const MAX_PICK_CANDIDATES: usize = 2_000;

/// The release tags of `mirror`, oldest version first: `(version, tag)`. Pre-releases
/// (`2.0~rc1`) are included; callers that want releases only skip versions with `~`.
///
/// # Errors
/// git could not list the tags.
pub fn releases(git: &Git, mirror: &Mirror) -> crate::git::Result<Vec<(String, String)>> {
    let tags = git.lines(&mirror.dir, &["tag", "--list"], None)?;
    let mut out: Vec<(String, String)> = tags
        .iter()
        .filter_map(|t| Some((mirror.version_of(t)?, t.clone())))
        .collect();
    out.sort_by(|a, b| crate::evr::vercmp(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
    Ok(out)
}

/// The first 12 characters of a sha.
pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
