//! The refs of a fork scan: upstream's branch, heads and release tags, the fork branches and
//! which one leads, and the workspace refs that let one repository see both.

use super::{ForkSpec, Repos};
use crate::evr::vercmp;
use crate::git::{Git, Result};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

pub(super) struct UpstreamRefs {
    pub(super) branch_sha: String,
    pub(super) heads: Vec<String>,
    /// Release tags: (name, version, commit sha), oldest version first.
    pub(super) tags: Vec<(String, String, String)>,
}

/// Commits that only edit the backports file are the fork's bookkeeping, not debt.
pub(super) fn without_bookkeeping(
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

pub(super) fn upstream_refs(git: &Git, dir: &Path, spec: &ForkSpec) -> Result<UpstreamRefs> {
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

pub(super) fn patterns(spec: &ForkSpec) -> Vec<glob::Pattern> {
    spec.branches
        .iter()
        .filter_map(|p| glob::Pattern::new(p).ok())
        .collect()
}

pub(super) fn fork_branches(
    git: &Git,
    dir: &Path,
    spec: &ForkSpec,
) -> Result<Vec<(String, String)>> {
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
pub(super) fn lead_branch(
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
pub(super) fn contained_release(
    git: &Git,
    ws: &Path,
    sha: &str,
    up: &UpstreamRefs,
) -> Option<String> {
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
