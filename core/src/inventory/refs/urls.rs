//! References in URLs: a URL names its forge or tracker and its kind, so these are the
//! surest references there are. One arm per host family.

use super::{
    CVE, TextContext, github_number, gitlab_mr, is_number, is_sha, pagure_pr, rhbz, tracker,
};
use crate::model::{Confidence, RefKind, Reference};

/// Classifies one URL. `None` for URLs that are no reference (a project's home page in the
/// URL: tag is handled by the spec parser, not here).
pub fn classify_url(raw: &str, ctx: &TextContext<'_>) -> Option<Reference> {
    let url = raw.trim_end_matches(['.', ',', ';', ':', '\'', '"', '>', '}', '*']);
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_ascii_lowercase();
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let path = path.split('#').next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let strip_ext = |s: &str| -> String {
        s.trim_end_matches(".patch")
            .trim_end_matches(".diff")
            .to_string()
    };
    let high = Confidence::High;

    match host.as_str() {
        "github.com" | "www.github.com" if segs.len() >= 4 => {
            let (o, r) = (segs[0], segs[1]);
            let n = strip_ext(segs[3]);
            match segs[2] {
                "pull" if segs.get(4) == Some(&"commits") && segs.len() > 5 => {
                    let sha = strip_ext(segs[5]);
                    return Some(github_commit(ctx, o, r, &sha));
                }
                "pull" if is_number(&n) => {
                    return Some(github_number(ctx, o, r, &n, Some(RefKind::GithubPr), high));
                }
                "issues" if is_number(&n) => {
                    return Some(github_number(
                        ctx,
                        o,
                        r,
                        &n,
                        Some(RefKind::GithubIssue),
                        high,
                    ));
                }
                "commit" if is_sha(&n) => return Some(github_commit(ctx, o, r, &n)),
                _ => {}
            }
        }
        "patch-diff.githubusercontent.com"
            if segs.len() >= 5 && segs[0] == "raw" && segs[3] == "pull" =>
        {
            let n = strip_ext(segs[4]);
            if is_number(&n) {
                return Some(github_number(
                    ctx,
                    segs[1],
                    segs[2],
                    &n,
                    Some(RefKind::GithubPr),
                    high,
                ));
            }
        }
        "issues.redhat.com" if segs.len() >= 2 && segs[0] == "browse" => {
            if let Some(c) = super::JIRA_RHEL.captures(segs[1])
                && c.get(0).is_some_and(|m| m.as_str() == segs[1])
            {
                return Some(super::jira(ctx, segs[1]));
            }
        }
        "bugzilla.redhat.com" | "bugzilla.rh" => {
            let id = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("id="))
                .map(str::to_string)
                .or_else(|| segs.last().map(|s| s.to_string()))
                .unwrap_or_default();
            if is_number(&id) {
                return Some(rhbz(ctx, &id, high));
            }
            if CVE.is_match(&id) {
                let cve = id.to_ascii_uppercase();
                return Some(ctx.make(RefKind::Cve, cve, Some(url.to_string()), high));
            }
        }
        "bugs.debian.org" => {
            let n = query
                .split(['&', ';'])
                .find_map(|kv| kv.strip_prefix("bug="))
                .or_else(|| segs.last().copied())
                .unwrap_or_default();
            if is_number(n) {
                return Some(tracker(ctx, "debian", n));
            }
        }
        "bugs.python.org" => {
            if let Some(n) = segs
                .last()
                .and_then(|s| s.strip_prefix("issue"))
                .filter(|n| is_number(n))
            {
                return Some(tracker(ctx, "bpo", n));
            }
        }
        "bugzilla.mozilla.org" => {
            if let Some(n) = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("id="))
                .filter(|n| is_number(n))
            {
                return Some(tracker(ctx, "bmo", n));
            }
        }
        "rt.cpan.org" | "rt.perl.org" => {
            let n = query
                .split(['&', ';'])
                .find_map(|kv| kv.strip_prefix("id="))
                .or_else(|| segs.last().copied())
                .unwrap_or_default();
            if is_number(n) {
                return Some(tracker(ctx, &host, n));
            }
        }
        "fedoraproject.org" | "www.fedoraproject.org" => {
            if let Some(pos) = segs.iter().position(|s| *s == "Changes")
                && let Some(name) = segs.get(pos + 1)
            {
                let r = ctx.make(
                    RefKind::FedoraChange,
                    name.to_string(),
                    Some(url.to_string()),
                    high,
                );
                return Some(r);
            }
        }
        "nvd.nist.gov" | "www.cve.org" | "cve.mitre.org" | "access.redhat.com" => {
            if let Some(m) = CVE.captures(url) {
                let id = format!("CVE-{}-{}", &m[1], &m[2]);
                return Some(ctx.make(RefKind::Cve, id, Some(url.to_string()), high));
            }
        }
        "pagure.io" | "src.fedoraproject.org" => {
            if let Some(pos) = segs.iter().position(|s| *s == "pull-request")
                && let Some(n) = segs.get(pos + 1).filter(|n| is_number(n))
            {
                let project = segs[..pos].join("/");
                return Some(pagure_pr(ctx, &host, &project, n, high));
            }
            if let Some(pos) = segs.iter().position(|s| *s == "c")
                && let Some(sha) = segs
                    .get(pos + 1)
                    .map(|s| strip_ext(s))
                    .filter(|s| is_sha(s))
            {
                let project = segs[..pos].join("/");
                let id = format!("{project}@{sha}");
                return Some(ctx.make(RefKind::UpstreamCommit, id, Some(url.to_string()), high));
            }
        }
        _ => {}
    }

    // Any other Bugzilla (GNOME, KDE, sourceware, kernel, SUSE...): one bug, named by host.
    if segs.last() == Some(&"show_bug.cgi")
        && let Some(n) = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("id="))
            .filter(|n| is_number(n))
    {
        let prefix = segs[..segs.len() - 1].join("/");
        let name = if prefix.is_empty() {
            host.clone()
        } else {
            format!("{host}/{prefix}")
        };
        return Some(tracker(ctx, &name, n));
    }
    // GitLab instances: gitlab.com, gitlab.freedesktop.org, gitlab.gnome.org, salsa...
    if let Some(dash) = segs.iter().position(|s| *s == "-") {
        let project = segs[..dash].join("/");
        match (segs.get(dash + 1), segs.get(dash + 2).map(|s| strip_ext(s))) {
            (Some(&"merge_requests"), Some(n)) if is_number(&n) => {
                return Some(gitlab_mr(ctx, &host, &project, &n, high));
            }
            (Some(&"commit"), Some(sha)) if is_sha(&sha) => {
                let id = format!("{project}@{sha}");
                return Some(ctx.make(RefKind::UpstreamCommit, id, Some(url.to_string()), high));
            }
            _ => {}
        }
    }
    // cgit / gitweb: `commit/?id=<sha>`, `;h=<sha>`, `/commit/<sha>` on any host.
    let sha_param = query
        .split(['&', ';'])
        .find_map(|kv| kv.strip_prefix("id=").or_else(|| kv.strip_prefix("h=")))
        .filter(|s| is_sha(s));
    let commit_path = segs
        .windows(2)
        .find(|w| w[0] == "commit" || w[0] == "c" || w[0] == "commits")
        .map(|w| strip_ext(w[1]))
        .filter(|s| is_sha(s));
    if let Some(sha) = sha_param.map(str::to_string).or(commit_path) {
        let id = format!("{host}@{}", sha.to_ascii_lowercase());
        return Some(ctx.make(RefKind::UpstreamCommit, id, Some(url.to_string()), high));
    }
    if let Some(m) = CVE.captures(url) {
        let id = format!("CVE-{}-{}", &m[1], &m[2]);
        return Some(ctx.make(RefKind::Cve, id, Some(url.to_string()), high));
    }
    Some(ctx.make(RefKind::Url, url.to_string(), Some(url.to_string()), high))
}

fn github_commit(ctx: &TextContext<'_>, owner: &str, repo: &str, sha: &str) -> Reference {
    let sha = sha.to_ascii_lowercase();
    ctx.make(
        RefKind::UpstreamCommit,
        format!("{owner}/{repo}@{sha}"),
        Some(format!("https://github.com/{owner}/{repo}/commit/{sha}")),
        Confidence::High,
    )
}
