//! `forkdebt report [--format table|json|markdown] [--downstream NAME]`

use super::Context;
use crate::Format;
use forkdebt_core::report;
use std::process::ExitCode;

pub async fn run(
    ctx: &Context,
    format: Format,
    downstream: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let packages = store.load_packages(downstream.as_deref(), None).await?;
    match format {
        Format::Json => {
            let deviations = store.load_deviations(downstream.as_deref()).await?;
            let verdicts = ctx.verdicts(&store, &packages).await?;
            let r = report::build(&packages, &deviations, &verdicts);
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Format::Table => {
            if packages.is_empty() {
                println!("Nothing scanned yet: run `forkdebt scan DIR`.");
            } else {
                println!("{}", report::table_text(&packages));
                // The trend: carried patches at the end of each of the last 12 weeks.
                let today = chrono::Utc::now().date_naive();
                let days: Vec<String> = (0..12)
                    .rev()
                    .map(|w| {
                        (today - chrono::Duration::weeks(w))
                            .format("%Y-%m-%d")
                            .to_string()
                    })
                    .collect();
                let mut downstreams: Vec<&str> =
                    packages.iter().map(|p| p.downstream.as_str()).collect();
                downstreams.dedup();
                for ds in downstreams {
                    let trend = store.debt_trend(ds, &days).await?;
                    let now = trend.last().copied().flatten().unwrap_or(0);
                    println!(
                        "{ds}: carried patches over 12 weeks {} ({now} now)",
                        forkdebt_core::store::sparkline(&trend)
                    );
                }
            }
        }
        Format::Markdown => print!("{}", report::markdown(&packages)),
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
