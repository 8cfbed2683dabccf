//! Answers to the questions people ask — `why`, `whereis`, `show`, `debt`, `droppable`,
//! `changes`, `bug` — as plain text lines, read from the store only. The CLI prints them; the
//! chat bot bounds, escapes and sends them. Nothing here knows where the lines go.

use crate::inventory::refs::{self, TextContext};
use crate::model::{Bucket, RefKind, Role};
use crate::observation::{self, shipped};
use crate::report;
use crate::source::Dataset;
use crate::store::{Store, StoreError, StoredPackage, StoredPatch};
use crate::verdict::{Facts, Hop, ObservationsBySource};

/// Why a question has no answer: the store failed, or the question names nothing we know
/// (the message says what, for the person who asked).
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    NotFound(String),
}

pub type Answer = Result<Vec<String>, AnswerError>;

fn no_package(package: &str) -> AnswerError {
    if package.trim().is_empty() {
        return AnswerError::NotFound("name a package (an empty name matches none)".into());
    }
    AnswerError::NotFound(format!(
        "no package named `{}` has been scanned (see `forkdebt report`)",
        report::shown(package)
    ))
}

/// `why PACKAGE PATCH`: the evidence chain behind a patch's state. `patch` is a file name or
/// a patch number (`3`, `Patch3`).
///
/// # Errors
/// A database error, or no such package or patch.
pub async fn why(store: &Store, package: &str, patch: &str) -> Answer {
    if package.trim().is_empty() {
        return Err(no_package(package));
    }
    let packages = store.load_packages(None, Some(package)).await?;
    if packages.is_empty() {
        return Err(no_package(package));
    }
    let number = patch
        .trim_start_matches("Patch")
        .trim_start_matches("patch")
        .parse::<u32>()
        .ok();
    let mut out = Vec::new();
    for p in &packages {
        for sp in p.patches.iter().filter(|sp| {
            sp.patch.file == patch
                || (number.is_some() && sp.patch.number == number)
                || commit_named(&sp.patch, patch)
        }) {
            out.extend(describe(p, sp));
        }
    }
    if out.is_empty() {
        let names: Vec<&str> = packages
            .iter()
            .flat_map(|p| p.patches.iter().map(|x| x.patch.file.as_str()))
            .collect();
        return Err(AnswerError::NotFound(format!(
            "`{package}` carries no patch `{patch}`; it has: {}",
            names.join(", ")
        )));
    }
    Ok(out)
}

fn describe(p: &StoredPackage, sp: &StoredPatch) -> Vec<String> {
    let head = format!(
        "{} {} ({})",
        report::shown(&p.package.name),
        report::shown(&sp.patch.file),
        report::shown(&p.downstream)
    );
    if let Some(d) = &sp.dropped_at {
        return vec![format!("{head}: dropped from dist-git on {d}")];
    }
    let v = &sp.verdict;
    let mut out = vec![format!(
        "{head}: {} (confidence {})",
        v.state,
        v.confidence.as_str()
    )];
    for (i, h) in v.evidence.iter().enumerate() {
        let at = h.at().map(|a| format!(" ({a})")).unwrap_or_default();
        out.push(format!(
            "  {} {}{at}",
            if i == 0 { " " } else { "->" },
            h.text()
        ));
        if let Some(url) = h.url() {
            out.push(format!("       {url}"));
        }
    }
    if v.evidence.is_empty() {
        out.push(if sp.patch.is_local_only() {
            "   local-only: nothing in dist-git names an upstream for it".into()
        } else {
            "   nothing upstream has been observed yet for its references (run `forkdebt sync`)"
                .into()
        });
    }
    if let Some(r) = &v.rebased_past {
        out.push(format!("   note: {r}; the patch is probably obsolete"));
    }
    if let Some(c) = &sp.patch.commit {
        out.push(format!(
            "   carried as commit {} on {}",
            c.sha,
            report::shown(&c.branch)
        ));
        for f in &c.missing_fixes {
            out.push(format!(
                "   warning: {}",
                report::shown(&missing_fix_text(f))
            ));
            if let Some(url) = commit_url(p.package.upstream.as_ref(), &f.sha) {
                out.push(format!("       {url}"));
            }
        }
    }
    out
}

/// Whether `name` (7 or more hex digits) is the start of a carried commit's sha or of the
/// upstream commit it was matched to.
pub fn commit_named(patch: &crate::model::Patch, name: &str) -> bool {
    let Some(c) = &patch.commit else { return false };
    let name = name.to_ascii_lowercase();
    if name.len() < 7 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    c.sha.starts_with(&name)
        || c.upstream.as_ref().is_some_and(|u| {
            u.sha.starts_with(&name) || u.also.iter().any(|a| a.starts_with(&name))
        })
}

/// "upstream fixed a bug in a change we carry: 1a2b3c4d5e6f core: fix the fix".
pub fn missing_fix_text(f: &crate::model::MissingFix) -> String {
    crate::evidence::missing_fix_text(f)
}

/// A web link to an upstream commit, where the forge is known.
pub fn commit_url(upstream: Option<&crate::model::UpstreamProject>, sha: &str) -> Option<String> {
    upstream?.commit_url(sha)
}

/// `whereis REF`: is the fix merged, in which upstream release, which of our patches carry
/// it and what the base distributions ship of those packages.
///
/// # Errors
/// A database error, or a reference forkdebt does not understand.
pub async fn whereis(store: &Store, reference: &str) -> Answer {
    let bare = reference.trim().to_ascii_lowercase();
    if (7..=40).contains(&bare.len()) && bare.bytes().all(|b| b.is_ascii_hexdigit()) {
        return whereis_commit(store, &bare).await;
    }
    let text = if reference.starts_with('#') || reference.bytes().all(|b| b.is_ascii_digit()) {
        format!("rhbz#{}", reference.trim_start_matches('#'))
    } else if reference.contains('#') && !reference.contains("://") && !reference.contains(' ') {
        format!("PR {reference}")
    } else {
        reference.to_string()
    };
    let found = refs::extract(&text, &TextContext::new(None, String::new(), Role::Origin));
    let Some(r) = found.into_iter().find(|r| r.kind != RefKind::Ambiguous) else {
        return Err(AnswerError::NotFound(format!(
            "`{}` names no reference forkdebt understands (a PR/MR URL, owner/repo#N, rhbz#N, a commit URL)",
            report::shown(reference)
        )));
    };
    let carriers = store.carriers(r.kind, &r.id).await?;
    // Only the observations this reference and its carriers need.
    let mut wanted: Vec<(Dataset, String)> = Vec::new();
    if let Some(d) = Dataset::answering(r.kind) {
        wanted.push((d, r.id.clone()));
    }
    for c in &carriers {
        if let Some(base) = &c.base {
            for d in [Dataset::Koji, Dataset::Repodata] {
                wanted.push((d, shipped::item(base, &c.package)));
            }
        }
    }
    let facts = Facts::from_observations(&observations(store, &wanted).await?);
    let url = r
        .url
        .as_deref()
        .map(|u| format!("  {u}"))
        .unwrap_or_default();
    let mut out = vec![format!("{} {}{url}", r.kind, r.id)];
    let not_yet = || "  not observed yet (run `forkdebt sync`)".to_string();
    let mut merge_commit = None;
    match r.kind {
        RefKind::GithubPr | RefKind::GitlabMr | RefKind::PagurePr => {
            out.push(match facts.requests.get(&(r.kind, r.id.clone())) {
                Some(f) if f.merged => {
                    merge_commit = f.merge_commit.clone();
                    format!(
                        "  merged{} as {}",
                        f.when
                            .as_deref()
                            .map(|w| format!(" on {w}"))
                            .unwrap_or_default(),
                        f.merge_commit.as_deref().unwrap_or("?")
                    )
                }
                Some(f) if f.open => "  open".into(),
                Some(_) => "  closed without merging".into(),
                None => not_yet(),
            });
        }
        RefKind::Rhbz => out.push(match facts.bugs.get(&r.id) {
            Some(b) => format!("  {}", bug_text(b)),
            None => not_yet(),
        }),
        RefKind::UpstreamCommit => merge_commit = r.id.rsplit('@').next().map(str::to_string),
        _ => {}
    }
    if let (Some(sha), Some(repo)) = (&merge_commit, r.id.split(['#', '!', '@']).next()) {
        let item = observation::github::release_item(repo, sha);
        let release = store.observation(Dataset::GithubRelease, &item).await?;
        let tag = release
            .and_then(|o| observation::read::<observation::github::ReleaseTag>(o.data.as_deref()))
            .and_then(|r| r.tag);
        out.push(match tag {
            Some(tag) => format!("  first upstream release with it: {tag}"),
            None => "  in no upstream release yet (as far as forkdebt has looked)".into(),
        });
    }
    for c in &carriers {
        out.push(format!(
            "  carried by {} {} ({}, {})",
            report::shown(&c.package),
            report::shown(&c.file),
            c.downstream,
            c.evr()
        ));
        if let Some(s) = facts.shipped_by(c.base.as_deref(), &c.package) {
            out.push(format!("    {} ships {} ({})", s.distro, s.nvr, s.from));
        }
    }
    if carriers.is_empty() {
        out.push("  carried by no patch of ours".into());
    }
    Ok(out)
}

/// `whereis SHA`: the carried commits that are (or were matched to) this commit.
async fn whereis_commit(store: &Store, sha: &str) -> Answer {
    let mut out = Vec::new();
    for p in store.packages_with_commit(sha).await? {
        for sp in p.patches.iter().filter(|sp| commit_named(&sp.patch, sha)) {
            let Some(c) = &sp.patch.commit else { continue };
            let mut line = format!(
                "{} {} ({}): carried as {} on {}, {}",
                report::shown(&p.package.name),
                report::shown(&sp.patch.file),
                p.downstream,
                &c.sha[..c.sha.len().min(12)],
                report::shown(&c.branch),
                sp.state
            );
            if let Some(u) = &c.upstream {
                line.push_str(&format!(
                    "; upstream {} by {}{}",
                    &u.sha[..u.sha.len().min(12)],
                    u.how.as_str(),
                    u.release
                        .as_deref()
                        .map(|r| format!(", first in {r}"))
                        .unwrap_or_default()
                ));
            }
            out.push(line);
        }
    }
    if out.is_empty() {
        out.push(format!("{sha}: carried by no commit or patch of ours"));
    }
    Ok(out)
}

/// The stored observations of `wanted` items.
async fn observations(
    store: &Store,
    wanted: &[(Dataset, String)],
) -> Result<ObservationsBySource, StoreError> {
    let mut obs = ObservationsBySource::new();
    for (dataset, item) in wanted {
        if let Some(data) = store
            .observation(*dataset, item)
            .await?
            .and_then(|o| o.data)
        {
            obs.entry(*dataset).or_default().insert(item.clone(), data);
        }
    }
    Ok(obs)
}

fn bug_text(b: &crate::verdict::BugFact) -> String {
    format!(
        "{}{}{}",
        b.status,
        b.resolution
            .as_deref()
            .map(|x| format!(" {x}"))
            .unwrap_or_default(),
        b.fixed_in
            .as_deref()
            .map(|x| format!(", fixed in {x}"))
            .unwrap_or_default()
    )
}

/// `show PACKAGE`: every patch with its references and where they were found.
///
/// # Errors
/// A database error, or no such package.
pub async fn show(store: &Store, package: &str, downstream: Option<&str>) -> Answer {
    if package.trim().is_empty() {
        return Err(no_package(package));
    }
    let found = store.load_packages(downstream, Some(package)).await?;
    if found.is_empty() {
        return Err(no_package(package));
    }
    let shipped = report::shipped_builds(store).await?;
    let mut out = Vec::new();
    for (i, p) in found.iter().enumerate() {
        if i > 0 {
            out.push(String::new());
        }
        let builds = shipped
            .get(&(p.downstream.clone(), p.package.name.clone()))
            .map_or(&[][..], Vec::as_slice);
        out.extend(report::show_text(p, builds).lines().map(str::to_string));
    }
    Ok(out)
}

/// `debt [PACKAGE]`: one line per downstream (or for the package): carried patches by state.
///
/// # Errors
/// A database error, or no such package.
pub async fn debt(store: &Store, package: Option<&str>) -> Answer {
    let counts = store.debt_counts(package).await?;
    if counts.is_empty() {
        return match package {
            Some(name) => Err(no_package(name)),
            None => Ok(vec!["nothing scanned yet".into()]),
        };
    }
    Ok(counts
        .into_iter()
        .map(|d| {
            let (label, packages) = match &d.package {
                Some((name, evr)) => (
                    format!("{} {evr} ({})", report::shown(name), d.downstream),
                    String::new(),
                ),
                None => (d.downstream.clone(), format!(" in {} packages", d.packages)),
            };
            let c = &d.counts;
            format!(
                "{label}: {} carried patches{packages}: {} droppable, {} merged upstream, {} sent, {} kept, {} unknown",
                c.total(),
                c.get(Bucket::Droppable),
                c.get(Bucket::Merged),
                c.get(Bucket::Sent),
                c.get(Bucket::Kept),
                c.get(Bucket::Unknown),
            )
        })
        .collect())
}

/// `droppable`: every patch the base distribution has caught up with, with its evidence.
///
/// # Errors
/// A database error.
pub async fn droppable(store: &Store) -> Answer {
    let mut out: Vec<String> = store
        .droppable_patches()
        .await?
        .into_iter()
        .map(|d| {
            format!(
                "{} {}: {}",
                report::shown(&d.package),
                report::shown(&d.file),
                chain_text(&d.evidence)
            )
        })
        .collect();
    if out.is_empty() {
        out.push("no patch is droppable yet".into());
    }
    Ok(out)
}

/// An evidence chain as one line: `hop -> hop -> hop`.
pub fn chain_text(hops: &[Hop]) -> String {
    crate::evidence::chain_text(hops)
}

/// `changes [--release N] [--state S]`: tracked Fedora Changes and what of ours they concern.
///
/// # Errors
/// A database error.
pub async fn changes(store: &Store, release: Option<u32>, state: Option<&str>) -> Answer {
    let changes = store.change_states().await?;
    let packages = store.load_packages(None, None).await?;
    let deviations = store.load_deviations(None).await?;
    let shown: Vec<_> = changes
        .into_iter()
        .filter(|c| {
            release.is_none_or(|n| c.release_nn == Some(i64::from(n)))
                && state.is_none_or(|x| x == c.state)
        })
        .collect();
    if shown.is_empty() {
        return Ok(vec![
            "No tracked Fedora Change matches (Changes come from references in dist-git and the inventory; run `forkdebt sync`).".into(),
        ]);
    }
    let mut out = Vec::new();
    for c in shown {
        let (title, st, rel, decided) = (c.title, c.state, c.release_nn, c.decided_at);
        let chain: Vec<String> = c.evidence.iter().map(Hop::text).collect();
        out.push(format!(
            "{title}: {st}{} ({}; since {decided})",
            rel.map(|r| format!(" F{r}")).unwrap_or_default(),
            chain.join(", ")
        ));
        let name = report::change_key(&title);
        let matches = |id: &str| report::change_key(id) == name;
        for p in &packages {
            for sp in p.carried().filter(|sp| {
                sp.patch
                    .refs
                    .iter()
                    .any(|r| r.kind == RefKind::FedoraChange && matches(&r.id))
            }) {
                out.push(format!(
                    "  patch {} {} ({})",
                    p.package.name, sp.patch.file, p.downstream
                ));
            }
        }
        for (ds, d) in &deviations {
            if d.refs
                .iter()
                .any(|r| r.kind == RefKind::FedoraChange && matches(&r.id))
            {
                out.push(format!("  deviation {} ({ds}): {}", d.name, d.description));
            }
        }
    }
    Ok(out)
}

/// `bug ID`: what Red Hat Bugzilla said of a bug at the last sync, and which patches name it.
///
/// # Errors
/// A database error, or an id that is not a number.
pub async fn bug(store: &Store, id: &str) -> Answer {
    let id = id.trim_start_matches("rhbz").trim_start_matches('#').trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AnswerError::NotFound(format!(
            "`{id}` is not a bug number (try 2044578 or rhbz#2044578)"
        )));
    }
    let obs = observations(store, &[(Dataset::Bugzilla, id.to_string())]).await?;
    let facts = Facts::from_observations(&obs);
    let mut out = vec![match facts.bugs.get(id) {
        Some(b) => format!(
            "rhbz#{id}: {} https://bugzilla.redhat.com/show_bug.cgi?id={id}",
            bug_text(b)
        ),
        None => format!("rhbz#{id}: not observed yet (run `forkdebt sync`)"),
    }];
    for c in store.carriers(RefKind::Rhbz, id).await? {
        out.push(format!(
            "  named by {} {}",
            report::shown(&c.package),
            report::shown(&c.file)
        ));
    }
    Ok(out)
}
