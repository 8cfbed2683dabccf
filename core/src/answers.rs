//! Answers to the questions people ask — `why`, `whereis`, `show`, `debt`, `droppable`,
//! `changes`, `bug` — as plain text lines, read from the store only. The CLI prints them; the
//! chat bot bounds, escapes and sends them. Nothing here knows where the lines go.

use crate::config::Config;
use crate::inventory::refs::{self, TextContext};
use crate::model::{PatchState, RefKind, Role};
use crate::report::{self, Verdicts};
use crate::store::{Store, StoreError, StoredPackage, StoredPatch};
use crate::verdict::{FACT_SOURCES, Facts, Hop, ObservationsBySource};

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

/// Everything the last syncs observed that verdicts are decided from.
///
/// # Errors
/// A database error.
pub async fn facts(store: &Store) -> Result<ObservationsBySource, StoreError> {
    let mut obs = ObservationsBySource::new();
    for source in FACT_SOURCES {
        obs.insert(source.to_string(), store.observations(source).await?);
    }
    Ok(obs)
}

/// The base distribution configured for `downstream`.
pub fn base_of(config: &Config, downstream: &str) -> Option<String> {
    config
        .downstream
        .iter()
        .find(|d| d.name == downstream)
        .and_then(|d| d.base.clone())
}

/// Verdicts of every carried patch of `packages`, from what the last syncs observed. The base
/// distribution is the one recorded with the downstream (as the engine that writes events
/// uses it), else the configured one.
///
/// # Errors
/// A database error.
pub async fn verdicts(
    store: &Store,
    config: &Config,
    packages: &[StoredPackage],
) -> Result<Verdicts, StoreError> {
    let obs = facts(store).await?;
    let recorded = store.downstream_bases().await?;
    Ok(crate::verdict::for_packages(packages, &obs, &|ds| {
        recorded
            .get(ds)
            .cloned()
            .flatten()
            .or_else(|| base_of(config, ds))
    }))
}

fn no_package(package: &str) -> AnswerError {
    AnswerError::NotFound(format!(
        "no package named `{package}` has been scanned (see `forkdebt report`)"
    ))
}

/// `why PACKAGE PATCH`: the evidence chain behind a patch's state. `patch` is a file name or
/// a patch number (`3`, `Patch3`).
///
/// # Errors
/// A database error, or no such package or patch.
pub async fn why(store: &Store, config: &Config, package: &str, patch: &str) -> Answer {
    let packages = store.load_packages(None, Some(package)).await?;
    if packages.is_empty() {
        return Err(no_package(package));
    }
    let verdicts = verdicts(store, config, &packages).await?;
    let number = patch
        .trim_start_matches("Patch")
        .trim_start_matches("patch")
        .parse::<u32>()
        .ok();
    let mut out = Vec::new();
    for p in &packages {
        for sp in p
            .patches
            .iter()
            .filter(|sp| sp.patch.file == patch || (number.is_some() && sp.patch.number == number))
        {
            out.extend(describe(p, sp, &verdicts));
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

fn describe(p: &StoredPackage, sp: &StoredPatch, verdicts: &Verdicts) -> Vec<String> {
    let head = format!(
        "{} {} ({})",
        report::shown(&p.package.name),
        report::shown(&sp.patch.file),
        report::shown(&p.downstream)
    );
    if let Some(d) = &sp.dropped_at {
        return vec![format!("{head}: dropped from dist-git on {d}")];
    }
    let key = (
        p.downstream.clone(),
        p.package.name.clone(),
        sp.patch.file.clone(),
    );
    let Some(v) = verdicts.get(&key) else {
        return vec![format!("{head}: {}", sp.state)];
    };
    let mut out = vec![format!(
        "{head}: {} (confidence {})",
        v.state,
        v.confidence.as_str()
    )];
    for (i, h) in v.evidence.iter().enumerate() {
        let at =
            h.at.as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default();
        out.push(format!(
            "  {} {}{at}",
            if i == 0 { " " } else { "->" },
            h.text
        ));
        if let Some(url) = &h.url {
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
    out
}

/// `whereis REF`: is the fix merged, in which upstream release, which of our patches carry
/// it and what the base distributions ship of those packages.
///
/// # Errors
/// A database error, or a reference forkdebt does not understand.
pub async fn whereis(store: &Store, config: &Config, reference: &str) -> Answer {
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
            "`{reference}` names no reference forkdebt understands (a PR/MR URL, owner/repo#N, rhbz#N, a commit URL)"
        )));
    };
    let facts = Facts::from_observations(&facts(store).await?);
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
            Some(b) => format!(
                "  {}{}{}",
                b.status,
                b.resolution
                    .as_deref()
                    .map(|x| format!(" {x}"))
                    .unwrap_or_default(),
                b.fixed_in
                    .as_deref()
                    .map(|x| format!(", fixed in {x}"))
                    .unwrap_or_default()
            ),
            None => not_yet(),
        }),
        RefKind::UpstreamCommit => merge_commit = r.id.rsplit('@').next().map(str::to_string),
        _ => {}
    }
    if let (Some(sha), Some(repo)) = (&merge_commit, r.id.split(['#', '!', '@']).next()) {
        out.push(match facts.releases.get(&format!("{repo}@{sha}")) {
            Some(tag) => format!("  first upstream release with it: {tag}"),
            None => "  in no upstream release yet (as far as forkdebt has looked)".into(),
        });
    }
    let packages = store.load_packages(None, None).await?;
    let recorded = store.downstream_bases().await?;
    let mut carried = false;
    for p in &packages {
        for sp in p.carried().filter(|sp| {
            sp.patch
                .refs
                .iter()
                .any(|x| x.kind == r.kind && x.id == r.id)
        }) {
            carried = true;
            out.push(format!(
                "  carried by {} {} ({}, {})",
                p.package.name,
                sp.patch.file,
                p.downstream,
                p.package.evr()
            ));
            let base = recorded
                .get(&p.downstream)
                .cloned()
                .flatten()
                .or_else(|| base_of(config, &p.downstream));
            if let Some(s) = facts.shipped_by(base.as_deref(), &p.package.name) {
                out.push(format!("    {} ships {} ({})", s.distro, s.nvr, s.from));
            }
        }
    }
    if !carried {
        out.push("  carried by no patch of ours".into());
    }
    Ok(out)
}

/// `show PACKAGE`: every patch with its references and where they were found.
///
/// # Errors
/// A database error, or no such package.
pub async fn show(store: &Store, package: &str, downstream: Option<&str>) -> Answer {
    let found = store.load_packages(downstream, Some(package)).await?;
    if found.is_empty() {
        return Err(no_package(package));
    }
    let mut out = Vec::new();
    for (i, p) in found.iter().enumerate() {
        if i > 0 {
            out.push(String::new());
        }
        out.extend(report::show_text(p).lines().map(str::to_string));
    }
    Ok(out)
}

/// `debt [PACKAGE]`: one line per downstream (or for the package): carried patches by state.
///
/// # Errors
/// A database error, or no such package.
pub async fn debt(store: &Store, config: &Config, package: Option<&str>) -> Answer {
    let packages = store.load_packages(None, package).await?;
    if let Some(name) = package.filter(|_| packages.is_empty()) {
        return Err(no_package(name));
    }
    let verdicts = verdicts(store, config, &packages).await?;
    let packages = report::with_verdicts(&packages, &verdicts);
    let mut groups: Vec<(String, Vec<&StoredPackage>)> = Vec::new();
    for p in packages.iter().filter(|p| p.removed_at.is_none()) {
        let label = match package {
            Some(_) => format!("{} {} ({})", p.package.name, p.package.evr(), p.downstream),
            None => p.downstream.clone(),
        };
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, g)) => g.push(p),
            None => groups.push((label, vec![p])),
        }
    }
    if groups.is_empty() {
        return Ok(vec!["nothing scanned yet".into()]);
    }
    Ok(groups
        .into_iter()
        .map(|(label, group)| {
            let carried: Vec<&StoredPatch> = group.iter().flat_map(|p| p.carried()).collect();
            let by = |states: &[PatchState]| {
                carried.iter().filter(|x| states.contains(&x.state)).count()
            };
            let packages = if package.is_some() {
                String::new()
            } else {
                format!(" in {} packages", group.len())
            };
            format!(
                "{label}: {} carried patches{packages}: {} droppable, {} merged upstream, {} sent, {} kept, {} unknown",
                carried.len(),
                by(&[PatchState::Droppable]),
                by(&[PatchState::Merged, PatchState::Released]),
                by(&[PatchState::Submitted]),
                by(&[PatchState::NotSent, PatchState::Denied, PatchState::NotNeeded]),
                by(&[PatchState::Unknown]),
            )
        })
        .collect())
}

/// `droppable`: every patch the base distribution has caught up with, with its evidence.
///
/// # Errors
/// A database error.
pub async fn droppable(store: &Store, config: &Config) -> Answer {
    let packages = store.load_packages(None, None).await?;
    let verdicts = verdicts(store, config, &packages).await?;
    let mut out = Vec::new();
    for p in &packages {
        for sp in p.carried() {
            let key = (
                p.downstream.clone(),
                p.package.name.clone(),
                sp.patch.file.clone(),
            );
            if let Some(v) = verdicts
                .get(&key)
                .filter(|v| v.state == PatchState::Droppable)
            {
                out.push(format!(
                    "{} {}: {}",
                    p.package.name,
                    sp.patch.file,
                    chain_text(&v.evidence)
                ));
            }
        }
    }
    if out.is_empty() {
        out.push("no patch is droppable yet".into());
    }
    Ok(out)
}

/// An evidence chain as one line: `hop -> hop -> hop`.
pub fn chain_text(hops: &[Hop]) -> String {
    hops.iter()
        .map(|h| h.text.as_str())
        .collect::<Vec<_>>()
        .join(" -> ")
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
        .filter(|(_, s, r, _, _)| {
            release.is_none_or(|n| *r == Some(i64::from(n))) && state.is_none_or(|x| x == s)
        })
        .collect();
    if shown.is_empty() {
        return Ok(vec![
            "No tracked Fedora Change matches (Changes come from references in dist-git and the inventory; run `forkdebt sync`).".into(),
        ]);
    }
    let mut out = Vec::new();
    for (title, st, rel, evidence, decided) in shown {
        let chain: Vec<Hop> = serde_json::from_str(&evidence).unwrap_or_default();
        let chain: Vec<String> = chain.into_iter().map(|h| h.text).collect();
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
    let facts = Facts::from_observations(&facts(store).await?);
    let mut out = vec![match facts.bugs.get(id) {
        Some(b) => format!(
            "rhbz#{id}: {}{}{} https://bugzilla.redhat.com/show_bug.cgi?id={id}",
            b.status,
            b.resolution
                .as_deref()
                .map(|x| format!(" {x}"))
                .unwrap_or_default(),
            b.fixed_in
                .as_deref()
                .map(|x| format!(", fixed in {x}"))
                .unwrap_or_default()
        ),
        None => format!("rhbz#{id}: not observed yet (run `forkdebt sync`)"),
    }];
    for p in store.load_packages(None, None).await? {
        for sp in p.carried().filter(|sp| {
            sp.patch
                .refs
                .iter()
                .any(|r| r.kind == RefKind::Rhbz && r.id == id)
        }) {
            out.push(format!("  named by {} {}", p.package.name, sp.patch.file));
        }
    }
    Ok(out)
}
