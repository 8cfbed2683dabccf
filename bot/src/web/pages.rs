//! The dashboard's pages, read from the store only. Every dist-git-derived string goes
//! through askama's HTML escaping; links are rendered only for http(s) URLs.

use super::WebState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use forkdebt_core::model::PatchOrigin;
use forkdebt_core::store::{StoredPackage, StoredPatch};
use std::collections::BTreeMap;

/// A page that could not be built: logged in full, shown briefly.
pub struct PageError(String);

impl<E: std::fmt::Display> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.to_string())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        tracing::warn!("web: {}", self.0);
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the store could not answer; see the log\n",
        )
            .into_response()
    }
}

type Page = Result<Response, PageError>;

fn html(t: &impl Template) -> Page {
    Ok(Html(t.render()?).into_response())
}

/// A link target we render: only http(s); anything else (`javascript:`) is text.
fn safe_url(u: Option<&str>) -> Option<String> {
    u.filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_string)
}

fn age_days(first_seen: &str, today: chrono::NaiveDate) -> i64 {
    forkdebt_core::report::age_days(first_seen, today).unwrap_or(0)
}

fn ago(ts: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> String {
    let Some(t) = ts.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else {
        return "never".into();
    };
    let mins = (now - t.with_timezone(&chrono::Utc)).num_minutes().max(0);
    match mins {
        0..=1 => "just now".into(),
        2..=119 => format!("{mins} min ago"),
        120..=2879 => format!("{} h ago", mins / 60),
        _ => format!("{} days ago", mins / 1440),
    }
}

#[derive(Clone)]
pub struct Counts {
    pub carried: usize,
    pub droppable: usize,
    pub merged: usize,
    pub sent: usize,
    pub kept: usize,
    pub unknown: usize,
    pub lines: u64,
    pub oldest_days: i64,
}

impl Counts {
    fn of_row(d: &forkdebt_core::store::PackageDebtRow, today: chrono::NaiveDate) -> Counts {
        let n = |v: i64| usize::try_from(v).unwrap_or(0);
        Counts {
            carried: n(d.carried()),
            droppable: n(d.droppable),
            merged: n(d.merged),
            sent: n(d.sent),
            kept: n(d.kept),
            unknown: n(d.unknown),
            lines: u64::try_from(d.lines).unwrap_or(0),
            oldest_days: d.oldest.as_deref().map_or(0, |o| age_days(o, today)),
        }
    }
}

pub struct DsRow {
    pub name: String,
    pub counts: Counts,
}

#[derive(Clone)]
pub struct PkgRow {
    pub name: String,
    pub downstream: String,
    pub evr: String,
    pub counts: Counts,
}

pub struct SourceRow {
    pub name: String,
    pub checked: String,
    pub error: Option<String>,
}

pub struct EventItem {
    pub when: String,
    pub text: String,
}

/// What the overview shows whatever the filter: debt per downstream, the unfiltered package
/// list, the trend, the sources and the latest events.
pub struct Frame {
    pub downstreams: Vec<DsRow>,
    /// How fast each downstream drops what can be dropped (`scan --history`).
    pub to_drop: Vec<DropRow>,
    pub to_drop_chart: String,
    /// The packages with most debt, and how many there are in all.
    pub top: (Vec<PkgRow>, usize),
    pub trend: String,
    pub sources: Vec<SourceRow>,
    pub events: Vec<EventItem>,
}

/// Days from droppable to dropped, per downstream.
pub struct DropRow {
    pub downstream: String,
    pub dropped: usize,
    pub after_droppable: usize,
    pub median: String,
    pub p90: String,
}

#[derive(Template)]
#[template(path = "web/overview.html")]
pub struct Overview {
    pub q: String,
    pub frame: std::sync::Arc<Frame>,
    pub packages: Vec<PkgRow>,
    /// Packages matching the filter (more than listed when over the limit).
    pub matching: usize,
}

#[derive(serde::Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub downstream: String,
    #[serde(default)]
    pub package: String,
}

/// At most this many packages are listed on the overview (most debt first); the filter
/// finds the others.
const OVERVIEW_PACKAGES: i64 = 200;

pub async fn overview(State(s): State<WebState>, Query(f): Query<Filter>) -> Page {
    let today = chrono::Utc::now().date_naive();
    let frame = s.overview.get_or_build("", build_frame(&s.store)).await?;
    // The unfiltered list is the frame's; a filter asks the store (one indexed-size query,
    // not cached, so any number of filters run side by side).
    let q = f.q.trim();
    let (packages, matching) = if q.is_empty() {
        frame.top.clone()
    } else {
        package_rows(&s.store, q, today).await?
    };
    html(&Overview {
        q: f.q,
        frame,
        packages,
        matching,
    })
}

/// The packages matching `q`, most debt first, at most [`OVERVIEW_PACKAGES`]; how many match.
async fn package_rows(
    store: &forkdebt_core::store::Store,
    q: &str,
    today: chrono::NaiveDate,
) -> Result<(Vec<PkgRow>, usize), forkdebt_core::store::StoreError> {
    let (rows, matching) = store.package_debts(q, OVERVIEW_PACKAGES).await?;
    let packages = rows
        .iter()
        .map(|p| PkgRow {
            name: p.package.clone(),
            downstream: p.downstream.clone(),
            evr: p.evr.clone(),
            counts: Counts::of_row(p, today),
        })
        .collect();
    Ok((packages, usize::try_from(matching).unwrap_or(0)))
}

/// What the overview shows whatever the filter (cached by [`overview`]).
async fn build_frame(
    store: &forkdebt_core::store::Store,
) -> Result<Frame, forkdebt_core::store::StoreError> {
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let downstreams = store
        .downstream_debts()
        .await?
        .iter()
        .map(|d| DsRow {
            name: d.downstream.clone(),
            counts: Counts::of_row(d, today),
        })
        .collect();
    let top = package_rows(store, "", today).await?;
    let trend = store.weekly_trend(None, &[], today).await?;
    let points: Vec<(String, Option<i64>)> = forkdebt_core::store::week_ends(today)
        .into_iter()
        .zip(trend)
        .collect();
    let sources = store
        .source_statuses()
        .await?
        .into_iter()
        .map(|st| SourceRow {
            checked: ago(st.last_success.as_deref(), now),
            error: st
                .last_error
                .clone()
                .filter(|_| st.last_error_at.as_deref() >= st.last_success.as_deref()),
            name: st.source,
        })
        .collect();
    // The same stored figures as the digest and /metrics.
    let dropped = store.dropped_patches(None).await?;
    let mut by_downstream: std::collections::BTreeMap<
        &str,
        Vec<forkdebt_core::store::DroppedPatch>,
    > = std::collections::BTreeMap::new();
    for d in &dropped {
        by_downstream
            .entry(d.downstream.as_str())
            .or_default()
            .push(d.clone());
    }
    let days = |d: Option<f64>| d.map_or("-".to_string(), |d| format!("{d:.1} d"));
    let to_drop = by_downstream
        .iter()
        .map(|(ds, list)| {
            let s = forkdebt_core::report::dropped_summary(list);
            DropRow {
                downstream: ds.to_string(),
                dropped: s.dropped,
                after_droppable: s.after_droppable,
                median: days(s.median_days_droppable_to_dropped),
                p90: days(s.p90_days_droppable_to_dropped),
            }
        })
        .collect();
    let months: Vec<(String, f64)> = forkdebt_core::report::dropped_summary(&dropped)
        .by_month
        .into_iter()
        .filter_map(|m| Some((m.month, m.median_days_droppable_to_dropped?)))
        .collect();
    let to_drop_chart = if months.is_empty() {
        String::new()
    } else {
        super::chart::days_to_drop_svg(&months)
    };
    let since = forkdebt_core::store::timestamp(now - chrono::Duration::days(30));
    let events: Vec<EventItem> = store
        .recent_events(&since, 20)
        .await?
        .into_iter()
        .map(|e| EventItem {
            when: e
                .created_at
                .get(..16)
                .unwrap_or(&e.created_at)
                .replace('T', " "),
            text: crate::notify::event_text(&e),
        })
        .collect();
    Ok(Frame {
        downstreams,
        to_drop,
        to_drop_chart,
        top,
        trend: super::chart::trend_svg(&points),
        sources,
        events,
    })
}

pub struct LinkView {
    pub text: String,
    pub url: Option<String>,
}

pub struct PatchView {
    pub name: String,
    pub kind: &'static str,
    pub state: String,
    pub age_days: i64,
    pub origin: String,
    pub refs: Vec<LinkView>,
    pub chain: Vec<LinkView>,
    pub notes: Vec<String>,
    /// For a droppable patch: the command that proposes dropping it.
    pub propose: Option<String>,
}

pub struct PkgView {
    pub downstream: String,
    pub evr: String,
    pub spec: String,
    pub removed: Option<String>,
    pub patches: Vec<PatchView>,
}

pub struct DeviationView {
    pub name: String,
    pub description: String,
    pub changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "web/package.html")]
pub struct PackagePage {
    pub name: String,
    /// Its patches' lifetimes as bars (`scan --history`), empty without history.
    pub lifetimes: String,
    pub found: Vec<PkgView>,
    pub deviations: Vec<DeviationView>,
}

fn patch_view(package: &str, sp: &StoredPatch, today: chrono::NaiveDate) -> PatchView {
    let p = &sp.patch;
    let mut notes = Vec::new();
    if let Some(r) = &sp.verdict.rebased_past {
        notes.push(r.clone());
    }
    if let Some(c) = &p.commit {
        notes.push(format!("carried as {} on {}", c.sha, c.branch));
        notes.extend(
            c.missing_fixes
                .iter()
                .map(forkdebt_core::answers::missing_fix_text),
        );
    }
    if let Some(d) = &sp.dropped_at {
        notes.push(format!("dropped on {d}"));
    }
    PatchView {
        name: p.file.clone(),
        kind: if p.commit.is_some() {
            "commit"
        } else {
            "patch"
        },
        state: sp.state.to_string(),
        age_days: age_days(&sp.first_seen, today),
        origin: match &p.origin {
            Some(o) => format!("{}: {}", PatchOrigin::label(Some(o)), o.describe()),
            None => "ours".into(),
        },
        refs: p
            .refs
            .iter()
            .map(|r| LinkView {
                text: format!("{} {}", r.kind, r.id),
                url: safe_url(r.url.as_deref()),
            })
            .collect(),
        chain: sp
            .verdict
            .evidence
            .iter()
            .map(|h| LinkView {
                text: h.text(),
                url: safe_url(h.url()),
            })
            .collect(),
        notes,
        propose: (sp.state == forkdebt_core::model::PatchState::Droppable && p.commit.is_none())
            .then(|| format!("forkdebt propose {package} {}", p.file)),
    }
}

pub async fn package(State(s): State<WebState>, Path(name): Path<String>) -> Page {
    let today = chrono::Utc::now().date_naive();
    let found = s.store.load_packages(None, Some(&name)).await?;
    if found.is_empty() {
        return Ok((StatusCode::NOT_FOUND, Html(format!(
            "<!DOCTYPE html><title>not found</title><p>No package named {} has been scanned.</p>",
            askama_escape(&name)
        )))
            .into_response());
    }
    let deviations = s
        .store
        .load_deviations(None)
        .await?
        .into_iter()
        .filter(|(_, d)| d.package.as_deref() == Some(name.as_str()))
        .map(|(_, d)| DeviationView {
            changes: d
                .refs
                .iter()
                .filter(|r| r.kind == forkdebt_core::model::RefKind::FedoraChange)
                .map(|r| r.id.clone())
                .collect(),
            name: d.name,
            description: d.description,
        })
        .collect();
    let now = chrono::Utc::now().timestamp();
    let secs = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| d.timestamp())
    };
    let lives: Vec<(String, i64, Option<i64>)> = s
        .store
        .lifetimes_of(&name)
        .await?
        .into_iter()
        .filter_map(|(file, added, dropped)| {
            Some((file, secs(&added)?, dropped.as_deref().and_then(secs)))
        })
        .collect();
    html(&PackagePage {
        lifetimes: super::chart::lifetimes_svg(&lives, now),
        found: found
            .iter()
            .map(|p| PkgView {
                downstream: p.downstream.clone(),
                evr: p.package.evr(),
                spec: p.package.spec_path.clone(),
                removed: p.removed_at.clone(),
                patches: p
                    .patches
                    .iter()
                    .map(|sp| patch_view(&p.package.name, sp, today))
                    .collect(),
            })
            .collect(),
        name,
        deviations,
    })
}

fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub struct ReleaseItem {
    pub package: String,
    pub downstream: String,
    pub patch: String,
    pub state: String,
    pub chain: String,
}

#[derive(Template)]
#[template(path = "web/release.html")]
pub struct ReleasePage {
    pub project: String,
    pub version: String,
    pub items: Vec<ReleaseItem>,
}

/// Whether `project` (`systemd`, `systemd/systemd`, `github:systemd/systemd`) names the
/// package's upstream.
fn names_project(p: &StoredPackage, project: &str) -> bool {
    let Some(u) = &p.package.upstream else {
        return false;
    };
    let d = u.describe();
    let path = d.split_once(':').map_or(d.as_str(), |(_, r)| r);
    d == project || path == project || path.ends_with(&format!("/{project}"))
}

/// "What does upstream release X unblock": our patches first in that release, droppable once
/// the base ships it.
pub async fn release(
    State(s): State<WebState>,
    Path((project, version)): Path<(String, String)>,
) -> Page {
    let version = version.trim_start_matches(['v', 'V']).to_string();
    let mut items = Vec::new();
    // Only the packages whose evidence names this release are loaded.
    let mut packages = Vec::new();
    for name in s.store.packages_first_in(&project, &version).await? {
        packages.extend(s.store.load_packages(None, Some(&name)).await?);
    }
    for p in packages {
        if !names_project(&p, &project) {
            continue;
        }
        for sp in p.ours() {
            let first = forkdebt_core::evidence::first_release(&sp.verdict.evidence);
            if first != Some(version.as_str()) {
                continue;
            }
            items.push(ReleaseItem {
                package: p.package.name.clone(),
                downstream: p.downstream.clone(),
                patch: sp.patch.file.clone(),
                state: sp.state.to_string(),
                chain: forkdebt_core::answers::chain_text(&sp.verdict.evidence),
            });
        }
    }
    html(&ReleasePage {
        project,
        version,
        items,
    })
}

pub struct ChangeView {
    pub title: String,
    pub state: String,
    pub evidence: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "web/changes.html")]
pub struct ChangesPage {
    pub state: String,
    pub releases: Vec<(String, Vec<ChangeView>)>,
}

pub async fn changes(State(s): State<WebState>, Query(f): Query<Filter>) -> Page {
    let mut releases: BTreeMap<i64, Vec<ChangeView>> = BTreeMap::new();
    for c in s.store.change_states().await? {
        if !f.state.is_empty() && c.state != f.state {
            continue;
        }
        releases
            .entry(c.release_nn.unwrap_or(0))
            .or_default()
            .push(ChangeView {
                title: c.title,
                state: c.state,
                evidence: c
                    .evidence
                    .iter()
                    .map(forkdebt_core::evidence::Hop::text)
                    .collect::<Vec<_>>()
                    .join(", "),
                since: c.decided_at,
            });
    }
    html(&ChangesPage {
        state: f.state,
        releases: releases
            .into_iter()
            .rev()
            .map(|(n, v)| {
                (
                    if n == 0 {
                        "no release".into()
                    } else {
                        format!("Fedora {n}")
                    },
                    v,
                )
            })
            .collect(),
    })
}

pub struct FeedEntry {
    pub id: i64,
    pub title: String,
    pub updated: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "web/feed.xml")]
pub struct Feed {
    pub title: String,
    pub updated: String,
    pub entries: Vec<FeedEntry>,
}

/// Events as Atom, for a downstream (`?downstream=`) or a package (`?package=`).
pub async fn feed(State(s): State<WebState>, Query(f): Query<Filter>) -> Page {
    let since = forkdebt_core::store::timestamp(chrono::Utc::now() - chrono::Duration::days(90));
    let events: Vec<_> = s
        .store
        .events(Some(&since))
        .await?
        .into_iter()
        .filter(|e| f.downstream.is_empty() || e.downstream == f.downstream)
        .filter(|e| f.package.is_empty() || e.package == f.package)
        .rev()
        .take(100)
        .collect();
    let updated = events
        .first()
        .map(|e| e.created_at.clone())
        .unwrap_or_else(|| forkdebt_core::store::timestamp(chrono::Utc::now()));
    let mut title = "forkdebt events".to_string();
    if !f.downstream.is_empty() {
        title.push_str(&format!(" of {}", f.downstream));
    }
    if !f.package.is_empty() {
        title.push_str(&format!(" for {}", f.package));
    }
    let feed = Feed {
        title,
        updated,
        entries: events
            .iter()
            .map(|e| FeedEntry {
                id: e.id,
                title: crate::notify::event_text(e),
                updated: e.created_at.clone(),
                link: format!(
                    "/package/{}",
                    forkdebt_core::display::path_segment(&e.package)
                ),
            })
            .collect(),
    };
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        feed.render()?,
    )
        .into_response())
}

/// The report JSON, the same contract as `forkdebt report --format json`.
pub async fn api_report(State(s): State<WebState>, Query(f): Query<Filter>) -> Page {
    let ds = (!f.downstream.is_empty()).then_some(f.downstream.as_str());
    // A place among the large responses first: a crowd of clients that do not read cannot
    // pile up one response each.
    let Ok(Ok(place)) = tokio::time::timeout(
        super::LARGE_WAIT,
        std::sync::Arc::clone(&s.large).acquire_owned(),
    )
    .await
    else {
        return Ok((
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            "too many report downloads at once; try again shortly\n",
        )
            .into_response());
    };
    // Built a page of packages at a time into pieces (no 75 MB allocation, no whole store
    // in memory), kept once and shared by every response.
    let pieces = s
        .report
        .get_or_build(&f.downstream, async {
            let mut pieces = Vec::new();
            forkdebt_core::report::write_json(&s.store, ds, false, |piece| {
                pieces.push(bytes::Bytes::from(piece));
                Ok(())
            })
            .await?;
            Ok::<_, PageError>(pieces)
        })
        .await?;
    let stream = futures_util::stream::iter(
        pieces
            .iter()
            .cloned()
            .map(Ok::<_, std::convert::Infallible>)
            .collect::<Vec<_>>(),
    );
    let body = super::server::Guarded::new(axum::body::Body::from_stream(stream), place);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::new(body),
    )
        .into_response())
}
