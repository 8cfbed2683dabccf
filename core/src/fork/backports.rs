//! The fork's backports file: every upstream link in it is a reference of the package; one
//! that no carried commit matches is reported.

use super::facts::CommitFacts;
use super::{ForkScan, ForkSpec};
use crate::git::{Git, Result};
use crate::inventory::refs::{self, TextContext};
use crate::model::{Confidence, RefKind, Role, UpstreamMatch, Warning};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The backports file: every upstream link in it is a reference of the package; one that no
/// carried commit matches is reported.
#[allow(clippy::too_many_arguments)]
pub(super) fn backports(
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

pub(super) fn mentions_pr(text: &str, n: u64) -> bool {
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
pub(super) fn pr_merge_commits(git: &Git, ws: &Path) -> Result<BTreeMap<u64, (String, String)>> {
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
