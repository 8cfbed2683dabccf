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
            }
        }
        Format::Markdown => print!("{}", report::markdown(&packages)),
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
