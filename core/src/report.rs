//! The report: the stable JSON interface of `report --format json`, and its table and
//! Markdown renderings. Built from the store only.
//!
//! JSON shape (DESIGN.md; extra fields may be added, none removed or renamed):
//! `{"packages":[{"name","downstream","evr","patches":[{"file","state","refs":[{"kind","id","url"}],"evidence":[...]}]}]}`

use crate::model::{Deviation, PatchState, RefKind, Reference, UpstreamProject};
use crate::store::{StoredPackage, StoredPatch};
use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Report {
    pub packages: Vec<PackageReport>,
    pub deviations: Vec<DeviationReport>,
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
    /// `%changelog` references that match no carried patch.
    pub changelog_refs: Vec<RefReport>,
}

#[derive(Debug, Serialize)]
pub struct PatchReport {
    pub file: String,
    pub number: Option<u32>,
    pub state: PatchState,
    pub local_only: bool,
    pub subject: Option<String>,
    pub lines_added: u32,
    pub lines_removed: u32,
    pub first_seen: String,
    pub dropped_at: Option<String>,
    pub refs: Vec<RefReport>,
    pub evidence: Vec<String>,
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
        }
    }
}

/// Why the patch has its state, as far as the inventory knows.
fn evidence(p: &StoredPatch) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(d) = &p.dropped_at {
        out.push(format!("no longer in dist-git since {d}"));
    }
    out.extend(
        p.patch
            .claims
            .iter()
            .map(|c| format!("claims {}: {}", c.state, c.evidence)),
    );
    if p.patch.is_local_only() {
        out.push(
            "local-only: no upstream reference in the spec comment, file name, header or changelog"
                .into(),
        );
    }
    if p.patch.refs.iter().any(|r| r.kind == RefKind::Ambiguous) {
        out.push("has ambiguous references: the context does not say what they are".into());
    }
    out
}

/// Verdicts by `(downstream, package, patch file)` (see [`crate::verdict::for_packages`]).
pub type Verdicts = std::collections::HashMap<(String, String, String), crate::verdict::Verdict>;

pub fn build(
    packages: &[StoredPackage],
    deviations: &[(String, Deviation)],
    verdicts: &Verdicts,
) -> Report {
    Report {
        packages: packages
            .iter()
            .map(|sp| PackageReport {
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
                        let v = verdicts.get(&(
                            sp.downstream.clone(),
                            sp.package.name.clone(),
                            p.patch.file.clone(),
                        ));
                        let mut evidence: Vec<String> = v
                            .map(|v| {
                                v.evidence
                                    .iter()
                                    .map(|h| h.text.clone())
                                    .collect::<Vec<_>>()
                                    .join(" -> ")
                            })
                            .filter(|chain| !chain.is_empty() && p.dropped_at.is_none())
                            .into_iter()
                            .collect();
                        evidence.extend(v.and_then(|v| v.rebased_past.clone()));
                        evidence.extend(self::evidence(p));
                        (
                            p,
                            v.filter(|_| p.dropped_at.is_none()).map(|v| v.state),
                            evidence,
                        )
                    })
                    .map(|(p, verdict_state, evidence)| PatchReport {
                        file: p.patch.file.clone(),
                        number: p.patch.number,
                        state: verdict_state.unwrap_or(p.state),
                        local_only: p.patch.is_local_only(),
                        subject: p.patch.subject.clone(),
                        lines_added: p.patch.lines_added,
                        lines_removed: p.patch.lines_removed,
                        first_seen: p.first_seen.clone(),
                        dropped_at: p.dropped_at.clone(),
                        refs: p.patch.refs.iter().map(RefReport::from).collect(),
                        evidence,
                    })
                    .collect(),
                changelog_refs: sp
                    .package
                    .changelog_refs
                    .iter()
                    .map(RefReport::from)
                    .collect(),
            })
            .collect(),
        deviations: deviations
            .iter()
            .map(|(ds, d)| DeviationReport {
                downstream: ds.clone(),
                name: d.name.clone(),
                package: d.package.clone(),
                description: d.description.clone(),
                refs: d.refs.iter().map(RefReport::from).collect(),
            })
            .collect(),
    }
}

/// The widest a rendered table may be: fits a 100-column terminal.
pub const TABLE_WIDTH: u16 = 100;

fn count(p: &StoredPackage, state: PatchState) -> usize {
    p.carried().filter(|x| x.state == state).count()
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(TABLE_WIDTH);
    t
}

/// One row per package: carried patches by state. Removed packages are left out; the
/// downstream column only appears when there is more than one.
pub fn table_text(packages: &[StoredPackage]) -> String {
    let live: Vec<&StoredPackage> = packages.iter().filter(|p| p.removed_at.is_none()).collect();
    let several = live.iter().any(|p| p.downstream != live[0].downstream);
    let mut t = table();
    let mut header = vec![
        "package", "evr", "carried", "local", "merged", "sent", "unknown", "dropped",
    ];
    if several {
        header.insert(0, "downstream");
    }
    t.set_header(header);
    let mut totals = [0usize; 6];
    for p in &live {
        let carried = p.carried().count();
        let local = p.carried().filter(|x| x.patch.is_local_only()).count();
        let merged = count(p, PatchState::Merged);
        let sent = count(p, PatchState::Submitted);
        let unknown = count(p, PatchState::Unknown);
        let dropped = p.patches.len() - carried;
        let values = [carried, local, merged, sent, unknown, dropped];
        for (t, v) in totals.iter_mut().zip(values) {
            *t += v;
        }
        let mut row = vec![p.package.name.clone(), p.package.evr()];
        if several {
            row.insert(0, p.downstream.clone());
        }
        row.extend(values.iter().map(ToString::to_string));
        t.add_row(row);
    }
    let mut row = vec![format!("total ({} packages)", live.len()), String::new()];
    if several {
        row.insert(0, String::new());
    }
    row.extend(totals.iter().map(ToString::to_string));
    t.add_row(row);
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
    let esc = |s: &str| s.replace('|', "\\|").replace(['\n', '\r'], " ");
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
pub fn show_text(p: &StoredPackage) -> String {
    let mut out = String::new();
    let pk = &p.package;
    out.push_str(&format!("{} {} ({})\n", pk.name, pk.evr(), p.downstream));
    out.push_str(&format!("  spec: {}\n", pk.spec_path));
    if let Some(m) = &pk.local_marker {
        out.push_str(&format!("  local release marker: {m}\n"));
    }
    out.push_str(&format!(
        "  upstream: {}\n",
        pk.upstream
            .as_ref()
            .map_or("unknown".to_string(), |u| u.describe())
    ));
    if let Some(r) = &p.removed_at {
        out.push_str(&format!("  removed from dist-git: {r}\n"));
    }
    let carried = p.carried().count();
    out.push_str(&format!("  carried patches: {carried}\n"));
    for sp in &p.patches {
        let pt = &sp.patch;
        let num = pt.number.map(|n| format!("Patch{n}: ")).unwrap_or_default();
        out.push_str(&format!("\n  {num}{}  [{}]\n", pt.file, sp.state));
        if let Some(s) = &pt.subject {
            out.push_str(&format!("    subject: {s}\n"));
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
                r.id,
                r.role.as_str(),
                r.confidence.as_str(),
                r.found_in
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
        "items",
        "requests",
        "304s",
        "errors",
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
            s.last_error
                .as_ref()
                .map(|e| format!("{e} ({})", s.last_error_at.clone().unwrap_or_default()))
                .unwrap_or_default(),
        ]);
    }
    t.to_string()
}
