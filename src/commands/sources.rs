//! `forkdebt sources`: per source, when it was last checked, the last error, and the cost.

use super::Context;
use forkdebt_core::report;
use std::process::ExitCode;

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let statuses = store.source_statuses().await?;
    store.close().await;
    if statuses.is_empty() {
        println!("No source has been synced yet: run `forkdebt sync`.");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", report::sources_table(&statuses));
    Ok(ExitCode::SUCCESS)
}
