//! The weekly digest: what a maintainer should do this week, per recipient and filtered by
//! their packages. Gathered from the store ([`build`]), rendered as plain text and HTML
//! ([`render`]), with the debt trend as a PNG ([`chart`]), sent over SMTP ([`mail`]) at the
//! configured time ([`schedule`]), at most once per recipient and ISO week.

pub mod chart;
pub mod mail;
pub mod render;
pub mod schedule;

use forkdebt_core::answers::chain_text;
use forkdebt_core::config::{Config, Recipient};
use forkdebt_core::model::{Bucket, BucketCounts, PatchState, RefKind};
use forkdebt_core::report::change_key;
use forkdebt_core::store::{EventKind, Store, StoreError, StoredPackage};
use forkdebt_core::verdict::Hop;
use serde::Serialize;

/// A submitted patch with no upstream movement for this long is called out.
pub const STALE_DAYS: i64 = 60;

/// At most this many new patches are listed one by one.
pub const NEW_SHOWN: usize = 20;
/// A patch droppable for longer than this is named in the digest's summary.
pub const OVERDUE_DAYS: i64 = 30;

/// One line of a section: what, the detail, and a link to follow.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub title: String,
    pub detail: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableRow {
    pub package: String,
    pub carried: usize,
    pub droppable: usize,
    pub merged: usize,
    pub sent: usize,
    pub kept: usize,
    pub unknown: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub recipient: String,
    /// ISO week, `2026-W48`.
    pub week: String,
    pub since: String,
    pub summary: Vec<String>,
    pub droppable: Vec<Item>,
    /// Upstream fixed a bug in a change a fork carries, and the fork lacks the fix.
    pub missing_fixes: Vec<Item>,
    /// Drop proposals opened, merged or closed this week ("proposed: <MR link>").
    pub proposals: Vec<Item>,
    /// Upstream releases this week, with what a rebase to each drops.
    pub releases: Vec<Item>,
    pub waiting: Vec<Item>,
    pub stale: Vec<Item>,
    pub changes: Vec<Item>,
    /// Patches first carried this week (new debt), at most [`NEW_SHOWN`].
    pub new: Vec<Item>,
    /// How many new ones were left out of `new`.
    pub new_more: usize,
    pub table: Vec<TableRow>,
    /// Carried patches at the end of each of the last 12 weeks (`None`: not known).
    pub trend: Vec<(String, Option<i64>)>,
    pub chart_alt: String,
    /// The packages the recipient follows (empty: all).
    pub packages: Vec<String>,
}

/// The idempotency key of a recipient's digest for a week.
pub fn key(recipient: &str, week: &str) -> String {
    format!("digest:{recipient}:{week}")
}

/// `2026-W48`.
pub fn iso_week(date: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let w = date.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

fn first_url(hops: &[Hop]) -> Option<String> {
    hops.iter().find_map(|h| h.url().map(str::to_string))
}

/// The events `wanted` picks, as digest items: package and subject, the evidence chain, its
/// first link.
fn event_items(
    events: &[forkdebt_core::store::EventRow],
    wanted: impl Fn(&forkdebt_core::store::EventRow) -> bool,
) -> Vec<Item> {
    events
        .iter()
        .filter(|e| wanted(e))
        .map(|e| Item {
            title: format!("{} {}", e.package, e.subject),
            detail: chain_text(&e.evidence),
            url: first_url(&e.evidence),
        })
        .collect()
}

/// Gathers `recipient`'s digest as of `now` (the week before it).
///
/// # Errors
/// A database error.
pub async fn build(
    store: &Store,
    recipient: &Recipient,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Digest, StoreError> {
    let follows =
        |p: &str| recipient.packages.is_empty() || recipient.packages.iter().any(|x| x == p);
    let since = now - chrono::Duration::days(7);
    let packages: Vec<StoredPackage> = store
        .load_packages(None, None)
        .await?
        .into_iter()
        .filter(|p| p.removed_at.is_none() && follows(&p.package.name))
        .collect();
    let events = store
        .events(Some(&forkdebt_core::store::timestamp(since)))
        .await?;

    let droppable = event_items(&events, |e| {
        e.kind == EventKind::PatchState
            && e.to_state == PatchState::Droppable.as_str()
            && follows(&e.package)
    });
    let proposals = event_items(&events, |e| {
        e.kind == EventKind::Proposed && follows(&e.package)
    });
    let releases = event_items(&events, |e| {
        e.kind == EventKind::UpstreamRelease && follows(&e.package)
    });
    let missing_fixes: Vec<Item> = packages
        .iter()
        .flat_map(|p| {
            p.carried().flat_map(move |sp| {
                sp.patch.commit.iter().flat_map(move |c| {
                    c.missing_fixes.iter().map(move |f| Item {
                        title: format!("{} {}", p.package.name, sp.patch.file),
                        detail: forkdebt_core::answers::missing_fix_text(f),
                        url: forkdebt_core::answers::commit_url(
                            p.package.upstream.as_ref(),
                            &f.sha,
                        ),
                    })
                })
            })
        })
        .collect();
    let mut waiting = Vec::new();
    let mut stale = Vec::new();
    let mut new = Vec::new();
    let since_text = forkdebt_core::store::timestamp(since);
    let mut table = Vec::new();
    for p in &packages {
        let mut counts = BucketCounts::default();
        for sp in p.ours() {
            let state = sp.state;
            counts.add(state, 1);
            let hops = sp.verdict.evidence.as_slice();
            let title = format!("{} {}", p.package.name, sp.patch.file);
            if sp.first_seen >= since_text {
                new.push(Item {
                    title: title.clone(),
                    detail: format!(
                        "{state}, +{} -{} lines",
                        sp.patch.lines_added, sp.patch.lines_removed
                    ),
                    url: sp.patch.refs.iter().find_map(|r| r.url.clone()),
                });
            }
            let ref_url = || sp.patch.refs.iter().find_map(|r| r.url.clone());
            match state {
                PatchState::Merged | PatchState::Released => waiting.push(Item {
                    title,
                    detail: format!(
                        "{state}: {}; waiting for {}",
                        chain_text(hops),
                        if state == PatchState::Merged {
                            "an upstream release"
                        } else {
                            "a base distribution build"
                        }
                    ),
                    url: first_url(hops).or_else(ref_url),
                }),
                PatchState::Submitted => {
                    let since = hops
                        .iter()
                        .filter_map(Hop::at)
                        .chain(std::iter::once(sp.first_seen.as_str()))
                        .filter_map(|d| {
                            chrono::NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok()
                        })
                        .min();
                    if let Some(since) = since {
                        let days = (now.date_naive() - since).num_days();
                        if days >= STALE_DAYS {
                            stale.push(Item {
                                title,
                                detail: format!(
                                    "submitted, no upstream movement for {days} days ({})",
                                    chain_text(hops)
                                ),
                                url: first_url(hops).or_else(ref_url),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        table.push(TableRow {
            package: p.package.name.clone(),
            carried: counts.total(),
            droppable: counts.get(Bucket::Droppable),
            merged: counts.get(Bucket::Merged),
            sent: counts.get(Bucket::Sent),
            kept: counts.get(Bucket::Kept),
            unknown: counts.get(Bucket::Unknown),
        });
    }

    // Fedora Changes that moved this week and concern the recipient's packages.
    let deviations = store.load_deviations(None).await?;
    let concerns_us = |title: &str| {
        let key = change_key(title);
        let by_patch = packages.iter().any(|p| {
            p.carried().any(|sp| {
                sp.patch
                    .refs
                    .iter()
                    .any(|r| r.kind == RefKind::FedoraChange && change_key(&r.id) == key)
            })
        });
        let by_deviation = deviations.iter().any(|(_, d)| {
            d.package.as_deref().is_none_or(&follows)
                && d.refs
                    .iter()
                    .any(|r| r.kind == RefKind::FedoraChange && change_key(&r.id) == key)
        });
        by_patch || by_deviation
    };
    let changes: Vec<Item> = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::ChangeState
                && ["accepted", "landed", "deferred"]
                    .iter()
                    .any(|s| e.to_state.starts_with(s))
                && concerns_us(&e.subject)
        })
        .map(|e| Item {
            title: e.subject.clone(),
            detail: format!(
                "{} -> {}",
                e.from_state.as_deref().unwrap_or("-"),
                e.to_state
            ),
            url: Some(format!(
                "https://fedoraproject.org/wiki/{}",
                e.subject.replace(' ', "_")
            )),
        })
        .collect();

    // The trend: carried patches at the end of each of the last 12 weeks.
    let totals = store
        .weekly_trend(None, &recipient.packages, now.date_naive())
        .await?;
    let days = forkdebt_core::store::week_ends(now.date_naive());
    let trend: Vec<(String, Option<i64>)> = days.into_iter().zip(totals).collect();
    let known: Vec<String> = trend
        .iter()
        .filter_map(|(d, v)| v.map(|v| format!("{v} on {d}")))
        .collect();
    let chart_alt = if known.is_empty() {
        "Carried patches over the last 12 weeks: no data yet".to_string()
    } else {
        format!(
            "Carried patches over the last 12 weeks: {}",
            known.join(", ")
        )
    };

    // How fast we act: what dist-git dropped this week, and what stays droppable too long.
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let dropped: Vec<forkdebt_core::store::DroppedPatch> = store
        .dropped_patches(None)
        .await?
        .into_iter()
        .filter(|d| follows(&d.package) && parse(&d.dropped_at).is_some_and(|t| t >= since))
        .collect();
    let since_droppable = store.droppable_since().await?;
    let mut overdue: Vec<String> = packages
        .iter()
        .flat_map(|p| {
            p.ours()
                .filter(|sp| sp.state == PatchState::Droppable)
                .filter_map(|sp| {
                    let key = (
                        p.downstream.clone(),
                        p.package.name.clone(),
                        sp.patch.file.clone(),
                    );
                    let at = parse(since_droppable.get(&key)?)?;
                    ((now - at.with_timezone(&chrono::Utc)).num_days() > OVERDUE_DAYS)
                        .then(|| format!("{} {}", p.package.name, sp.patch.file))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    overdue.sort();
    let dropped_line = (!dropped.is_empty() || !overdue.is_empty()).then(|| {
        let summary = forkdebt_core::report::dropped_summary(&dropped);
        let mut line = format!("dropped {} this week", dropped.len());
        if let Some(m) = summary.median_days_droppable_to_dropped {
            line.push_str(&format!(", median {m:.1} days after they became droppable"));
        }
        if !overdue.is_empty() {
            line.push_str(&format!(
                "; {} droppable for more than {OVERDUE_DAYS} days: {}",
                overdue.len(),
                overdue.join(", ")
            ));
        }
        line
    });

    let new_total = new.len();
    new.truncate(NEW_SHOWN);
    let carried: usize = table.iter().map(|r| r.carried).sum();
    let mut summary = vec![format!(
        "{carried} carried patches in {} packages",
        table.len()
    )];
    for (n, what) in [
        (droppable.len(), "newly droppable: drop them from dist-git"),
        (
            missing_fixes.len(),
            "upstream fixes of changes our forks carry are missing: pick them",
        ),
        (
            waiting.len(),
            "merged upstream, waiting for a release or a base build",
        ),
        (
            stale.len(),
            "submitted with no upstream movement for 60+ days: ping upstream",
        ),
        (changes.len(), "Fedora Changes touching our packages moved"),
        (
            proposals.len(),
            "drop proposals opened or decided: review them",
        ),
        (
            releases.len(),
            "upstream releases of packages we patch: see what a rebase drops",
        ),
        (new_total, "new carried patches this week"),
    ] {
        if n > 0 {
            summary.push(format!("{n} {what}"));
        }
    }
    summary.extend(dropped_line);
    Ok(Digest {
        recipient: recipient.address.clone(),
        week: iso_week(now.date_naive()),
        since: since.format("%Y-%m-%d").to_string(),
        summary,
        droppable,
        missing_fixes,
        proposals,
        releases,
        waiting,
        stale,
        changes,
        new_more: new_total - new.len(),
        new,
        table,
        trend,
        chart_alt,
        packages: recipient.packages.clone(),
    })
}

/// How delivering one digest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    AlreadySent,
}

/// Sends `recipient` the digest of `week` unless it went out already. Recorded after the
/// SMTP server accepted it: a crash in between sends it again, with the same Message-ID.
///
/// # Errors
/// A database, rendering or SMTP error.
pub async fn deliver(
    store: &Store,
    config: &Config,
    recipient: &Recipient,
    week: &str,
    transport: &lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
) -> anyhow::Result<Outcome> {
    let key = key(&recipient.address, week);
    if store.digest_sent(&key).await? {
        return Ok(Outcome::AlreadySent);
    }
    let email = config.email.clone().unwrap_or_default();
    let now = chrono::Utc::now();
    let mut digest = build(store, recipient, now).await?;
    digest.week = week.to_string();
    let message = mail::message(&digest, &email)?;
    let message_id = message
        .headers()
        .get_raw("Message-ID")
        .unwrap_or_default()
        .to_string();
    // Claimed first: another instance (or a restart) finds it taken and does not send it.
    if !store
        .claim_digest(&key, &recipient.address, week, &message_id, now)
        .await?
    {
        return Ok(Outcome::AlreadySent);
    }
    if let Err(e) = mail::send(transport, message).await {
        store.release_digest(&key).await?;
        return Err(e);
    }
    store.digest_done(&key, chrono::Utc::now()).await?;
    Ok(Outcome::Sent)
}
