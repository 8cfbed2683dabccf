//! From git, no API: the first upstream release that contains a commit, and the proof that a
//! carried commit is already in a release (`merge-tree` of it onto the tag changes nothing).

use crate::git::{Git, Result};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The first release tag (in version order; `tags` is sorted oldest first) containing each
/// of `wanted`. One `rev-list TAG ^EARLIER-TAGS...` per tag, stopping once all are found: the
/// walks together visit each upstream commit once, where `git tag --contains` per commit
/// would walk the history once per commit.
///
/// # Errors
/// git failed.
pub fn first_releases(
    git: &Git,
    ws: &Path,
    tags: &[(String, String, String)],
    wanted: &HashSet<String>,
) -> Result<HashMap<String, String>> {
    let mut found = HashMap::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    let mut earlier = String::new();
    for (name, _, sha) in tags {
        let input = format!("{sha}\n{earlier}");
        for c in git.lines(ws, &["rev-list", "--stdin"], Some(input.as_bytes()))? {
            if wanted.contains(&c) && !found.contains_key(&c) {
                found.insert(c, name.clone());
            }
        }
        if found.len() == wanted.len() {
            break;
        }
        earlier.push('^');
        earlier.push_str(sha);
        earlier.push('\n');
    }
    Ok(found)
}

/// For each `(carried sha, tag name, tag commit)`: whether `git merge-tree` of the carried
/// commit onto the tag yields the tag's own tree (the change is already there). One
/// `merge-tree --stdin` for all of them.
///
/// # Errors
/// git failed.
pub fn prove_empty(git: &Git, ws: &Path, items: &[(String, String, String)]) -> Result<Vec<bool>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    // The trees of the tags and the parents of the carried commits.
    let mut query = String::new();
    for (sha, _, tag) in items {
        query.push_str(&format!("{tag}^{{tree}}\n{sha}^\n"));
    }
    let resolved = git.lines(
        ws,
        &["cat-file", "--batch-check=%(objectname)"],
        Some(query.as_bytes()),
    )?;
    let mut input = String::new();
    let mut runnable = Vec::new();
    for (i, (sha, _, tag)) in items.iter().enumerate() {
        let parent = resolved.get(2 * i + 1).map(String::as_str).unwrap_or("");
        if parent.ends_with("missing") || parent.is_empty() {
            continue; // a root commit: nothing to prove against
        }
        input.push_str(&format!("{parent} -- {tag} {sha}\n"));
        runnable.push(i);
    }
    let out = git.output_with_input(
        ws,
        &[
            "merge-tree",
            "--write-tree",
            "--stdin",
            "-z",
            "--name-only",
            "--no-messages",
        ],
        Some(input.as_bytes()),
    )?;
    // Per merge: status NUL tree NUL {conflicted path NUL}* NUL.
    let mut fields = out.split(|b| *b == 0);
    let mut results = vec![false; items.len()];
    for i in runnable {
        let status = fields.next().unwrap_or_default();
        let tree = fields.next().unwrap_or_default();
        for f in fields.by_ref() {
            if f.is_empty() {
                break;
            }
        }
        let tag_tree = resolved.get(2 * i).map(String::as_str).unwrap_or("");
        results[i] = status == b"1" && tree == tag_tree.as_bytes();
    }
    Ok(results)
}
