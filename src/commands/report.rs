//! `forkdebt report [--format table|json|markdown] [--downstream NAME]`

use super::Context;
use crate::Format;
use forkdebt_core::report;
use std::process::ExitCode;

pub async fn run(
    ctx: &Context,
    format: Format,
    downstream: Option<String>,
    dropped: bool,
) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let ds = downstream.as_deref();
    match format {
        Format::Json => {
            // With --dropped: the patches dist-git dropped (`scan --history`), and how long
            // they were carried after they became droppable.
            let mut extra = Vec::new();
            if dropped {
                let list = store.dropped_patches(ds).await?;
                extra.push((
                    "dropped_summary",
                    serde_json::to_value(report::dropped_summary(&list))?,
                ));
                extra.push(("dropped", serde_json::to_value(&list)?));
                let spans = store.lifetime_spans(ds).await?;
                extra.push(("churn", serde_json::to_value(report::churn(&spans))?));
            }
            // The same contract as the web's /api/report, written a page at a time.
            report::write_json_with(&store, ds, true, &extra, |piece| {
                use std::io::Write as _;
                std::io::stdout().lock().write_all(&piece)
            })
            .await?;
            outln!()?;
        }
        Format::Table => {
            let packages = store.load_packages(ds, None).await?;
            if packages.is_empty() {
                outln!("Nothing scanned yet: run `forkdebt scan DIR`.")?;
            } else {
                out!("{}", table_with_trend(&store, &packages).await?)?;
                let releases = store.release_events(ds).await?;
                if !releases.is_empty() {
                    outln!("\nUpstream released (what a rebase to it drops):")?;
                    for e in releases.iter().rev().take(MAX_RELEASES_SHOWN) {
                        outln!("  {}", forkdebt_bot::notify::event_text(e))?;
                    }
                }
            }
        }
        Format::Markdown => {
            let packages = store.load_packages(ds, None).await?;
            out!("{}", report::markdown(&packages))?;
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Release events the table lists, newest first.
const MAX_RELEASES_SHOWN: usize = 10;

/// The per-package table (verdict states) and, per downstream, the carried-patch trend at
/// the end of each of the last 12 weeks as a sparkline.
pub async fn table_with_trend(
    store: &forkdebt_core::store::Store,
    packages: &[forkdebt_core::store::StoredPackage],
) -> anyhow::Result<String> {
    let today = chrono::Utc::now().date_naive();
    let mut out = report::table_text(packages, today);
    out.push('\n');
    let mut downstreams: Vec<&str> = packages.iter().map(|p| p.downstream.as_str()).collect();
    downstreams.dedup();
    for ds in downstreams {
        let trend = store.weekly_trend(Some(ds), &[], today).await?;
        let now = trend.last().copied().flatten().unwrap_or(0);
        out.push_str(&format!(
            "{ds}: carried patches over 12 weeks {} ({now} now)\n",
            forkdebt_core::store::sparkline(&trend)
        ));
    }
    Ok(out)
}
