//! A carried commit as a patch: its message read as a patch header, a unique name.

use super::ForkSpec;
use super::facts::CommitFacts;
use crate::inventory::patch as patch_file;
use crate::model::{CarriedCommit, Patch, RefKind, Reference, Role};
use std::collections::HashSet;

pub(super) fn carried_patch(
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

pub(super) fn is_link_trailer(message: &str, r: &Reference) -> bool {
    let Some(url) = &r.url else { return false };
    message.lines().any(|l| {
        l.trim_start().to_ascii_lowercase().starts_with("link:") && l.contains(url.as_str())
    })
}

pub(super) fn body_of(message: &str) -> &str {
    message.split_once('\n').map_or("", |(_, b)| b)
}

/// A subject as a name: one line, at most 200 characters.
pub(super) fn one_line(s: &str) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    line.trim().to_string()
}
