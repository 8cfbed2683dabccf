//! The report: the stable JSON interface of `report --format json`, and its table and
//! Markdown renderings. Built from the store only.
//!
//! JSON shape (DESIGN.md; extra fields may be added, none removed or renamed):
//! `{"packages":[{"name","downstream","evr","patches":[{"file","state","refs":[{"kind","id","url"}],"evidence":[...]}]}]}`

pub use crate::display::shown;
use crate::model::{
    Bucket, BucketCounts, Deviation, PatchState, RefKind, Reference, UpstreamProject,
};
use crate::store::{StoredPackage, StoredPatch};
use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Report {
    pub packages: Vec<PackageReport>,
    pub deviations: Vec<DeviationReport>,
    /// Upstream releases announced, with what a rebase to each drops (oldest first).
    pub upstream_releases: Vec<ReleaseReport>,
}

/// One announced upstream release.
#[derive(Debug, Serialize)]
pub struct ReleaseReport {
    pub downstream: String,
    pub package: String,
    pub tag: String,
    pub version: Option<String>,
    /// The carried patches a rebase to it drops, by file.
    pub dropped_by_rebase: Vec<String>,
    /// Carried patches when it was announced.
    pub carried: usize,
    pub seen_at: String,
}

impl ReleaseReport {
    /// From an `upstream-release` event.
    pub fn of(e: &crate::store::EventRow) -> ReleaseReport {
        let mut r = ReleaseReport {
            downstream: e.downstream.clone(),
            package: e.package.clone(),
            tag: e.subject.clone(),
            version: None,
            dropped_by_rebase: Vec::new(),
            carried: 0,
            seen_at: e.created_at.clone(),
        };
        for h in &e.evidence {
            if let crate::evidence::Hop::UpstreamReleased {
                version,
                dropped,
                carried,
                ..
            } = h
            {
                r.version = Some(version.clone());
                r.dropped_by_rebase = dropped.clone();
                r.carried = *carried;
            }
        }
        r
    }
}

#[derive(Debug, Serialize)]
pub struct PackageReport {
    pub name: String,
    pub downstream: String,
    pub evr: String,
    pub spec: String,
    pub local_marker: Option<String>,
    pub upstream: Option<UpstreamProject>,
    pub removed_at: Option<String>,
    pub patches: Vec<PatchReport>,
    /// Commits carried on fork branches (`[[fork]]`), decided like patches.
    pub commits: Vec<CommitReport>,
    /// `%changelog` references that match no carried patch.
    pub changelog_refs: Vec<RefReport>,
    /// What the downstream itself ships of the package (its Koji tags), newest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shipped: Vec<ShippedBuild>,
    /// Patches dropped from dist-git after the newest shipped build was made: still shipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_but_shipped: Vec<String>,
}

/// A build the downstream ships from one of its tags.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ShippedBuild {
    pub tag: String,
    pub nvr: String,
    /// When Koji finished it (`completion_time`).
    pub completed: Option<String>,
}

/// What the downstreams ship, by `(downstream, package)`.
pub type ShippedBuilds = std::collections::HashMap<(String, String), Vec<ShippedBuild>>;

/// Reads the `downstream-builds` observations.
///
/// # Errors
/// The store failed.
pub async fn shipped_builds(
    store: &crate::store::Store,
) -> Result<ShippedBuilds, crate::store::StoreError> {
    let mut out = ShippedBuilds::new();
    for (item, o) in store
        .observations(crate::source::Dataset::DownstreamBuilds)
        .await?
    {
        let Some((ds, package, _)) = crate::observation::shipped::split_downstream_item(&item)
        else {
            continue;
        };
        let Some(latest) =
            crate::observation::read::<crate::observation::shipped::KojiLatest>(o.data.as_deref())
        else {
            continue;
        };
        let Some(b) = latest.build else { continue };
        out.entry((ds.to_string(), package.to_string()))
            .or_default()
            .push(ShippedBuild {
                tag: latest.tag,
                nvr: b.nvr.clone().unwrap_or_else(|| b.evr()),
                completed: b.completion_time.clone(),
            });
    }
    for builds in out.values_mut() {
        builds.sort_by(|a, b| {
            b.completed
                .cmp(&a.completed)
                .then_with(|| a.tag.cmp(&b.tag))
        });
    }
    Ok(out)
}

/// A time as Koji (`2024-01-02 03:04:05.678`, UTC) or the store (RFC 3339) writes it.
fn instant(t: &str) -> Option<chrono::NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.naive_utc())
        .ok()
        .or_else(|| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok())
}

#[derive(Debug, Serialize)]
pub struct PatchReport {
    pub file: String,
    pub number: Option<u32>,
    pub state: PatchState,
    /// `ours`, `inherited` (the base carries it) or `from-fedora`.
    pub origin: &'static str,
    /// Where the same (or, for ours, the similar) patch was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_detail: Option<String>,
    pub local_only: bool,
    pub subject: Option<String>,
    /// The `%if` conditions it is applied under, when the scan could not decide them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    pub lines_added: u32,
    pub lines_removed: u32,
    pub first_seen: String,
    pub dropped_at: Option<String>,
    /// When upstream tagged the first release with the fix (RFC 3339), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_released_at: Option<String>,
    pub refs: Vec<RefReport>,
    pub evidence: Vec<String>,
}

/// A commit carried on a fork branch.
#[derive(Debug, Serialize)]
pub struct CommitReport {
    pub sha: String,
    pub subject: Option<String>,
    pub branch: String,
    pub state: PatchState,
    pub upstream: Option<crate::model::UpstreamMatch>,
    pub refs: Vec<RefReport>,
    pub evidence: Vec<String>,
    pub missing_fixes: Vec<crate::model::MissingFix>,
    pub local_only: bool,
    pub lines_added: u32,
    pub lines_removed: u32,
    pub first_seen: String,
    pub dropped_at: Option<String>,
}

impl CommitReport {
    fn from_patch(p: PatchReport, c: &crate::model::CarriedCommit) -> CommitReport {
        CommitReport {
            sha: c.sha.clone(),
            subject: p.subject,
            branch: c.branch.clone(),
            state: p.state,
            upstream: c.upstream.clone(),
            refs: p.refs,
            evidence: p.evidence,
            missing_fixes: c.missing_fixes.clone(),
            local_only: p.local_only,
            lines_added: p.lines_added,
            lines_removed: p.lines_removed,
            first_seen: p.first_seen,
            dropped_at: p.dropped_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RefReport {
    pub kind: RefKind,
    pub id: String,
    pub url: Option<String>,
    pub role: &'static str,
    pub confidence: &'static str,
    pub found_in: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For a Fedora Change reference: where the Change stands (`accepted F42`, `landed F42`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DeviationReport {
    pub downstream: String,
    pub name: String,
    pub package: Option<String>,
    pub description: String,
    pub refs: Vec<RefReport>,
}

impl From<&Reference> for RefReport {
    fn from(r: &Reference) -> Self {
        RefReport {
            kind: r.kind,
            id: r.id.clone(),
            url: r.url.clone(),
            role: r.role.as_str(),
            confidence: r.confidence.as_str(),
            found_in: r.found_in.clone(),
            note: r.note.clone(),
            change: None,
        }
    }
}

/// Where each tracked Fedora Change stands (`state`, `F<NN>`), by [`change_key`].
pub type ChangeStates = std::collections::HashMap<String, String>;

/// The key a Change is known by, whether written `Changes/Foo Bar` or `Foo_Bar`.
pub fn change_key(title_or_id: &str) -> String {
    title_or_id.trim_start_matches("Changes/").replace(' ', "_")
}

fn ref_report(r: &Reference, changes: &ChangeStates) -> RefReport {
    let mut out = RefReport::from(r);
    if r.kind == RefKind::FedoraChange {
        out.change = changes.get(&change_key(&r.id)).cloned();
    }
    out
}

/// Why the patch has its state, as far as the inventory knows.
fn evidence(p: &StoredPatch) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(d) = &p.dropped_at {
        out.push(if p.patch.commit.is_some() {
            format!("no longer on the fork branch since {d}")
        } else {
            format!("no longer in dist-git since {d}")
        });
    }
    out.extend(
        p.patch
            .claims
            .iter()
            .map(|c| format!("claims {}: {}", c.state, c.evidence)),
    );
    if p.patch.is_local_only() {
        out.push(if p.patch.commit.is_some() {
            "local-only: upstream has no commit like it, and its message names none".into()
        } else {
            "local-only: no upstream reference in the spec comment, file name, header or changelog"
                .into()
        });
    }
    if let Some(c) = &p.patch.commit {
        out.extend(
            c.missing_fixes
                .iter()
                .map(crate::evidence::missing_fix_text),
        );
    }
    if p.patch.refs.iter().any(|r| r.kind == RefKind::Ambiguous) {
        out.push("has ambiguous references: the context does not say what they are".into());
    }
    out
}

/// The report of `packages` (with their stored verdicts) and `deviations`.
pub fn build(
    packages: &[StoredPackage],
    deviations: &[(String, Deviation)],
    changes: &ChangeStates,
) -> Report {
    Report {
        packages: packages
            .iter()
            .map(|sp| package_report(sp, changes, &ShippedBuilds::new()))
            .collect(),
        deviations: build_deviations(deviations, changes),
        upstream_releases: Vec::new(),
    }
}

/// Patches dropped from dist-git after the newest shipped build older than the dist-git head
/// was made: that build still has them. (`dropped_at` is when a scan saw the drop, so a build
/// made between the drop and that scan may be called old; the EVR check keeps a build made
/// from the head itself out.)
fn dropped_but_shipped(sp: &StoredPackage, shipped: &[ShippedBuild]) -> Vec<String> {
    // Only builds older than the dist-git head can still have what the head dropped.
    let head = crate::evr::Evr::parse(&sp.package.evr());
    let behind = |b: &ShippedBuild| {
        b.nvr
            .strip_prefix(&format!("{}-", sp.package.name))
            .is_some_and(|evr| crate::evr::Evr::parse(evr) < head)
    };
    let newest_build = shipped
        .iter()
        .filter(|b| behind(b))
        .filter_map(|b| instant(b.completed.as_deref()?))
        .max();
    sp.patches
        .iter()
        .filter(|p| {
            p.dropped_at
                .as_deref()
                .and_then(instant)
                .zip(newest_build)
                .is_some_and(|(dropped, built)| dropped > built)
        })
        .map(|p| p.patch.file.clone())
        .collect()
}

fn package_report(
    sp: &StoredPackage,
    changes: &ChangeStates,
    shipped: &ShippedBuilds,
) -> PackageReport {
    let shipped = shipped
        .get(&(sp.downstream.clone(), sp.package.name.clone()))
        .cloned()
        .unwrap_or_default();
    let dropped_but_shipped = dropped_but_shipped(sp, &shipped);
    let mut report = PackageReport {
        shipped,
        dropped_but_shipped,
        name: sp.package.name.clone(),
        downstream: sp.downstream.clone(),
        evr: sp.package.evr(),
        spec: sp.package.spec_path.clone(),
        local_marker: sp.package.local_marker.clone(),
        upstream: sp.package.upstream.clone(),
        removed_at: sp.removed_at.clone(),
        patches: sp
            .patches
            .iter()
            .map(|p| {
                let carried = p.dropped_at.is_none();
                let v = &p.verdict;
                let chain = crate::evidence::chain_text(&v.evidence);
                let mut evidence: Vec<String> = Vec::new();
                if carried && !chain.is_empty() {
                    evidence.push(chain);
                }
                evidence.extend(v.rebased_past.clone());
                evidence.extend(self::evidence(p));
                (p, evidence)
            })
            .map(|(p, evidence)| PatchReport {
                file: p.patch.file.clone(),
                number: p.patch.number,
                state: p.state,
                origin: crate::model::PatchOrigin::label(p.patch.origin.as_ref()),
                origin_detail: p.patch.origin.as_ref().map(|o| o.describe()),
                local_only: p.patch.is_local_only(),
                subject: p.patch.subject.clone(),
                condition: p.patch.condition.clone(),
                lines_added: p.patch.lines_added,
                lines_removed: p.patch.lines_removed,
                first_seen: p.first_seen.clone(),
                dropped_at: p.dropped_at.clone(),
                upstream_released_at: crate::evidence::released_at(&p.verdict.evidence)
                    .map(str::to_string),
                refs: p
                    .patch
                    .refs
                    .iter()
                    .map(|r| ref_report(r, changes))
                    .collect(),
                evidence,
            })
            .collect(),
        changelog_refs: sp
            .package
            .changelog_refs
            .iter()
            .map(RefReport::from)
            .collect(),
        commits: Vec::new(),
    };
    // Carried commits have their own list; they were built as patches (same verdicts).
    let all = std::mem::take(&mut report.patches);
    for (pr, sp_patch) in all.into_iter().zip(&sp.patches) {
        match &sp_patch.patch.commit {
            Some(c) => report.commits.push(CommitReport::from_patch(pr, c)),
            None => report.patches.push(pr),
        }
    }
    report
}

fn build_deviations(
    deviations: &[(String, Deviation)],
    changes: &ChangeStates,
) -> Vec<DeviationReport> {
    deviations
        .iter()
        .map(|(ds, d)| DeviationReport {
            downstream: ds.clone(),
            name: d.name.clone(),
            package: d.package.clone(),
            description: d.description.clone(),
            refs: d.refs.iter().map(|r| ref_report(r, changes)).collect(),
        })
        .collect()
}

/// The widest a rendered table may be: fits a 100-column terminal.
pub const TABLE_WIDTH: u16 = 100;

fn table() -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(TABLE_WIDTH);
    t
}

/// Days between a stored `YYYY-MM-DD...` date and `today`; `None` if it does not parse.
pub fn age_days(first_seen: &str, today: chrono::NaiveDate) -> Option<i64> {
    let day = chrono::NaiveDate::parse_from_str(first_seen.get(..10)?, "%Y-%m-%d").ok()?;
    Some((today - day).num_days().max(0))
}

/// What a row counts: carried patches by where they stand, their size and the oldest's age.
#[derive(Default)]
struct Row {
    counts: BucketCounts,
    lines: u64,
    oldest_days: Option<i64>,
}

impl Row {
    fn of(p: &StoredPackage, today: chrono::NaiveDate) -> Row {
        let mut row = Row::default();
        // Only our debt: inherited patches are the base's.
        for x in p.ours() {
            row.counts.add(x.state, 1);
            row.lines += u64::from(x.patch.lines_added) + u64::from(x.patch.lines_removed);
            row.oldest_days = row.oldest_days.max(age_days(&x.first_seen, today));
        }
        row
    }

    fn add(&mut self, o: &Row) {
        self.counts.merge(&o.counts);
        self.lines += o.lines;
        self.oldest_days = self.oldest_days.max(o.oldest_days);
    }

    fn cells(&self) -> [String; 8] {
        let c = &self.counts;
        [
            c.total().to_string(),
            c.get(Bucket::Droppable).to_string(),
            c.get(Bucket::Merged).to_string(),
            c.get(Bucket::Sent).to_string(),
            c.get(Bucket::Kept).to_string(),
            c.get(Bucket::Unknown).to_string(),
            self.lines.to_string(),
            self.oldest_days
                .map(|d| format!("{d}d"))
                .unwrap_or_default(),
        ]
    }
}

/// One row per package: carried patches by state (their stored verdicts),
/// lines changed and the oldest patch's age. "merged" is merged or released, "kept" is
/// not sent, denied or not needed upstream. Removed packages are left out; the downstream
/// column only appears when there is more than one.
pub fn table_text(packages: &[StoredPackage], today: chrono::NaiveDate) -> String {
    let live: Vec<&StoredPackage> = packages.iter().filter(|p| p.removed_at.is_none()).collect();
    let several = live.iter().any(|p| p.downstream != live[0].downstream);
    let mut t = table();
    let mut header = vec![
        "package",
        "evr",
        "carried",
        "droppable",
        "merged",
        "sent",
        "kept",
        "unknown",
        "lines",
        "oldest",
    ];
    if several {
        header.insert(0, "downstream");
    }
    t.set_header(header);
    let mut total = Row::default();
    for p in &live {
        let r = Row::of(p, today);
        total.add(&r);
        // Names come from dist-git we may not control: no escape sequence reaches a terminal.
        let mut row = vec![
            shown(&p.package.name).into_owned(),
            shown(&p.package.evr()).into_owned(),
        ];
        if several {
            row.insert(0, shown(&p.downstream).into_owned());
        }
        row.extend(r.cells());
        t.add_row(row);
    }
    let mut row = vec!["total".to_string(), format!("{} packages", live.len())];
    if several {
        row.insert(0, String::new());
    }
    row.extend(total.cells());
    t.add_row(row);
    // Numbers right-aligned with one space before them: the table stays within 100
    // columns with room for long EVRs like `2:9.0.2153-1.el9_4.hs`.
    let first_number = if several { 3 } else { 2 };
    let columns = t.column_count();
    for (i, column) in t.column_iter_mut().enumerate().skip(first_number) {
        column.set_cell_alignment(comfy_table::CellAlignment::Right);
        column.set_padding((1, u16::from(i + 1 == columns)));
    }
    t.to_string()
}

fn refs_short(refs: &[Reference]) -> String {
    if refs.is_empty() {
        return "(local-only)".into();
    }
    refs.iter()
        .map(|r| format!("{} {}", r.kind, r.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Markdown: a heading and a patch table per package.
pub fn markdown(packages: &[StoredPackage]) -> String {
    let esc = |s: &str| shown(s).replace('|', "\\|");
    let mut out = String::from("# Fork debt\n");
    for p in packages.iter().filter(|p| p.removed_at.is_none()) {
        out.push_str(&format!(
            "\n## {} `{}` ({})\n\n| # | patch | state | references |\n|---|---|---|---|\n",
            esc(&p.package.name),
            esc(&p.package.evr()),
            esc(&p.downstream)
        ));
        for sp in &p.patches {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                sp.patch.number.map(|n| n.to_string()).unwrap_or_default(),
                esc(&sp.patch.file),
                sp.state,
                esc(&refs_short(&sp.patch.refs))
            ));
        }
    }
    out
}

/// The `show PACKAGE` text: every patch with its references and where they were found.
pub fn show_text(p: &StoredPackage, shipped: &[ShippedBuild]) -> String {
    let mut out = String::new();
    let pk = &p.package;
    out.push_str(&format!(
        "{} {} ({})\n",
        shown(&pk.name),
        shown(&pk.evr()),
        shown(&p.downstream)
    ));
    out.push_str(&format!("  spec: {}\n", shown(&pk.spec_path)));
    for b in shipped {
        out.push_str(&format!(
            "  shipped: {} ({})\n",
            shown(&b.nvr),
            shown(&b.tag)
        ));
    }
    let still = dropped_but_shipped(p, shipped);
    if !still.is_empty() {
        out.push_str(&format!(
            "  dropped in dist-git but still shipped: {}\n",
            still
                .iter()
                .map(|f| shown(f))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(m) = &pk.local_marker {
        out.push_str(&format!("  local release marker: {m}\n"));
    }
    out.push_str(&format!(
        "  upstream: {}\n",
        pk.upstream
            .as_ref()
            .map_or("unknown".to_string(), |u| shown(&u.describe()).into_owned())
    ));
    if let Some(r) = &p.removed_at {
        out.push_str(&format!("  removed from dist-git: {r}\n"));
    }
    let carried = p.carried().count();
    out.push_str(&format!("  carried patches: {carried}\n"));
    for sp in &p.patches {
        let pt = &sp.patch;
        let num = pt.number.map(|n| format!("Patch{n}: ")).unwrap_or_default();
        out.push_str(&format!("\n  {num}{}  [{}]\n", shown(&pt.file), sp.state));
        if let Some(o) = &pt.origin {
            out.push_str(&format!(
                "    origin: {} ({})\n",
                crate::model::PatchOrigin::label(Some(o)),
                shown(&o.describe())
            ));
        }
        if let Some(s) = &pt.subject {
            out.push_str(&format!("    subject: {}\n", shown(s)));
        }
        out.push_str(&format!(
            "    +{} -{} lines, first seen {}\n",
            pt.lines_added, pt.lines_removed, sp.first_seen
        ));
        if let Some(c) = &pt.condition {
            out.push_str(&format!("    only when: {c}\n"));
        }
        for r in &pt.refs {
            out.push_str(&format!(
                "    {} {} ({}, {}) in {}\n",
                r.kind,
                shown(&r.id),
                r.role.as_str(),
                r.confidence.as_str(),
                shown(&r.found_in)
            ));
            if let Some(n) = &r.note {
                out.push_str(&format!("      note: {n}\n"));
            }
        }
        for e in evidence(sp) {
            out.push_str(&format!("    - {e}\n"));
        }
    }
    if !pk.changelog_refs.is_empty() {
        out.push_str("\n  %changelog references to no carried patch:\n");
        for r in &pk.changelog_refs {
            out.push_str(&format!("    {} {} in {}\n", r.kind, r.id, r.found_in));
        }
    }
    out
}

/// `forkdebt sources`: one row per source.
pub fn sources_table(statuses: &[crate::store::SourceStatus]) -> String {
    let mut t = table();
    t.set_header(vec![
        "source",
        "last checked",
        "last success",
        "items\n(last run)",
        "requests\n(all runs)",
        "304s\n(all runs)",
        "errors\n(all runs)",
        "last error",
    ]);
    for s in statuses {
        t.add_row(vec![
            s.source.clone(),
            s.last_checked.clone().unwrap_or_else(|| "never".into()),
            s.last_success.clone().unwrap_or_else(|| "never".into()),
            s.items.to_string(),
            s.requests.to_string(),
            s.not_modified.to_string(),
            s.errors.to_string(),
            // An error can quote a server's answer: never raw to the terminal.
            s.last_error
                .as_ref()
                .map(|e| {
                    format!(
                        "{} ({})",
                        shown(e),
                        s.last_error_at.clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default(),
        ]);
    }
    t.to_string()
}

/// The report of `report --format json` (and the web's `/api/report`), read from the store.
///
/// # Errors
/// A database error.
pub async fn from_store(
    store: &crate::store::Store,
    downstream: Option<&str>,
) -> Result<Report, crate::store::StoreError> {
    let packages = store.load_packages(downstream, None).await?;
    let deviations = store.load_deviations(downstream).await?;
    let changes = change_states(store).await?;
    let mut report = build(&packages, &deviations, &changes);
    report.upstream_releases = store
        .release_events(downstream)
        .await?
        .iter()
        .map(ReleaseReport::of)
        .collect();
    Ok(report)
}

async fn change_states(
    store: &crate::store::Store,
) -> Result<ChangeStates, crate::store::StoreError> {
    Ok(store
        .change_states()
        .await?
        .into_iter()
        .map(|c| {
            let release = c.release_nn.map(|r| format!(" F{r}")).unwrap_or_default();
            (change_key(&c.title), format!("{}{release}", c.state))
        })
        .collect())
}

/// Why the report JSON could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Not transparent: the I/O error stays in the chain, for callers that tell a closed
    /// pipe from a full disk.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("serializing the report: {0}")]
    Json(#[from] serde_json::Error),
}

/// The report JSON ([`Report`], the same bytes `serde_json` writes for it, pretty or compact)
/// handed to `emit` a page of packages at a time: a store of 100,000 patches is never loaded
/// whole, and its JSON is never one allocation (`emit` may write each piece out, or keep it).
///
/// # Errors
/// The store fails, or `emit` does.
pub async fn write_json(
    store: &crate::store::Store,
    downstream: Option<&str>,
    pretty: bool,
    emit: impl FnMut(Vec<u8>) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    write_json_with(store, downstream, pretty, &[], emit).await
}

/// [`write_json`] with more top-level fields after `deviations` (`report --dropped`'s
/// `dropped`).
///
/// # Errors
/// As [`write_json`].
pub async fn write_json_with(
    store: &crate::store::Store,
    downstream: Option<&str>,
    pretty: bool,
    extra: &[(&str, serde_json::Value)],
    mut emit: impl FnMut(Vec<u8>) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let changes = change_states(store).await?;
    let shipped = shipped_builds(store).await?;
    let ids = store.package_ids(downstream).await?;
    emit(if pretty {
        b"{\n  \"packages\": [".to_vec()
    } else {
        b"{\"packages\":[".to_vec()
    })?;
    let mut any = false;
    for page in ids.chunks(crate::store::PAGE_PACKAGES) {
        let packages = store.load_packages_by_id(page).await?;
        let mut buf = Vec::new();
        for p in &packages {
            buf.extend_from_slice(match (any, pretty) {
                (false, true) => b"\n",
                (true, true) => b",\n",
                (true, false) => b",",
                (false, false) => b"",
            });
            any = true;
            let report = package_report(p, &changes, &shipped);
            if pretty {
                indented(
                    &mut buf,
                    &serde_json::to_vec_pretty(&report)?,
                    b"    ",
                    true,
                );
            } else {
                serde_json::to_writer(&mut buf, &report)?;
            }
        }
        emit(buf)?;
    }
    let deviations = build_deviations(&store.load_deviations(downstream).await?, &changes);
    // Upstream releases announced, with what a rebase to each drops.
    let releases: Vec<ReleaseReport> = store
        .release_events(downstream)
        .await?
        .iter()
        .map(ReleaseReport::of)
        .collect();
    let mut extra: Vec<(&str, serde_json::Value)> = extra.to_vec();
    extra.insert(0, ("upstream_releases", serde_json::to_value(&releases)?));
    let mut tail = Vec::new();
    if pretty {
        tail.extend_from_slice(if any {
            b"\n  ],\n  \"deviations\": "
        } else {
            b"],\n  \"deviations\": "
        });
        indented(
            &mut tail,
            &serde_json::to_vec_pretty(&deviations)?,
            b"  ",
            false,
        );
        for (key, value) in &extra {
            tail.extend_from_slice(format!(",\n  {}: ", serde_json::to_string(key)?).as_bytes());
            indented(&mut tail, &serde_json::to_vec_pretty(value)?, b"  ", false);
        }
        tail.extend_from_slice(b"\n}");
    } else {
        tail.extend_from_slice(b"],\"deviations\":");
        serde_json::to_writer(&mut tail, &deviations)?;
        for (key, value) in &extra {
            tail.extend_from_slice(format!(",{}:", serde_json::to_string(key)?).as_bytes());
            serde_json::to_writer(&mut tail, value)?;
        }
        tail.push(b'}');
    }
    emit(tail)?;
    Ok(())
}

/// `json` (pretty) with `indent` before each line (the first only when `first`): JSON
/// strings never hold a raw newline, so lines are safe to indent.
fn indented(out: &mut Vec<u8>, json: &[u8], indent: &[u8], first: bool) {
    for (i, line) in json.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if i > 0 || first {
            out.extend_from_slice(indent);
        }
        out.extend_from_slice(line);
    }
}

/// How fast the downstream acts on what it can drop: per month of the drop, how many were
/// dropped and the median and 90th percentile of days from droppable to dropped.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DroppedSummary {
    pub dropped: usize,
    /// Of those, dropped after forkdebt said droppable.
    pub after_droppable: usize,
    pub median_days_droppable_to_dropped: Option<f64>,
    pub p90_days_droppable_to_dropped: Option<f64>,
    pub median_days_carried: Option<f64>,
    /// Of those, dropped after upstream tagged a release with the fix (date known).
    pub after_upstream_release: usize,
    /// Days from upstream's release with the fix to the drop.
    pub median_days_after_upstream_release: Option<f64>,
    pub p90_days_after_upstream_release: Option<f64>,
    pub by_month: Vec<MonthOfDrops>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MonthOfDrops {
    /// `2026-11`, in the dropping commit's own zone.
    pub month: String,
    pub dropped: usize,
    pub median_days_droppable_to_dropped: Option<f64>,
    pub p90_days_droppable_to_dropped: Option<f64>,
}

/// The `q` quantile (nearest rank) of `values`, rounded to a tenth of a day.
fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some((v[rank - 1] * 10.0).round() / 10.0)
}

/// The summary of `dropped` (as [`crate::store::Store::dropped_patches`] lists them).
pub fn dropped_summary(dropped: &[crate::store::DroppedPatch]) -> DroppedSummary {
    let waits: Vec<f64> = dropped
        .iter()
        .filter_map(|d| d.days_droppable_to_dropped)
        .collect();
    let carried: Vec<f64> = dropped.iter().map(|d| d.days_carried).collect();
    let after_release: Vec<f64> = dropped
        .iter()
        .filter_map(|d| d.days_after_upstream_release)
        .collect();
    let mut months: std::collections::BTreeMap<String, Vec<&crate::store::DroppedPatch>> =
        std::collections::BTreeMap::new();
    for d in dropped {
        months
            .entry(d.dropped_at.get(..7).unwrap_or_default().to_string())
            .or_default()
            .push(d);
    }
    DroppedSummary {
        dropped: dropped.len(),
        after_droppable: waits.len(),
        median_days_droppable_to_dropped: quantile(&waits, 0.5),
        p90_days_droppable_to_dropped: quantile(&waits, 0.9),
        median_days_carried: quantile(&carried, 0.5),
        after_upstream_release: after_release.len(),
        median_days_after_upstream_release: quantile(&after_release, 0.5),
        p90_days_after_upstream_release: quantile(&after_release, 0.9),
        by_month: months
            .into_iter()
            .map(|(month, list)| {
                let w: Vec<f64> = list
                    .iter()
                    .filter_map(|d| d.days_droppable_to_dropped)
                    .collect();
                MonthOfDrops {
                    month,
                    dropped: list.len(),
                    median_days_droppable_to_dropped: quantile(&w, 0.5),
                    p90_days_droppable_to_dropped: quantile(&w, 0.9),
                }
            })
            .collect(),
    }
}

/// Patches added and dropped per month (the month in the committer's own zone).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Churn {
    pub month: String,
    pub added: usize,
    pub dropped: usize,
}

/// Churn from lifetimes' `(added_at, dropped_at)`, oldest month first.
pub fn churn(spans: &[(String, Option<String>)]) -> Vec<Churn> {
    let mut months: std::collections::BTreeMap<String, (usize, usize)> =
        std::collections::BTreeMap::new();
    for (added, dropped) in spans {
        if let Some(m) = added.get(..7) {
            months.entry(m.to_string()).or_default().0 += 1;
        }
        if let Some(m) = dropped.as_deref().and_then(|d| d.get(..7)) {
            months.entry(m.to_string()).or_default().1 += 1;
        }
    }
    months
        .into_iter()
        .map(|(month, (added, dropped))| Churn {
            month,
            added,
            dropped,
        })
        .collect()
}
