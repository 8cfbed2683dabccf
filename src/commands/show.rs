//! `forkdebt show PACKAGE [--downstream NAME]`

use super::Context;
use anyhow::bail;
use forkdebt_core::report;
use std::process::ExitCode;

pub async fn run(
    ctx: &Context,
    package: &str,
    downstream: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let found = store
        .load_packages(downstream.as_deref(), Some(package))
        .await?;
    store.close().await;
    if found.is_empty() {
        bail!("no package named `{package}` has been scanned (see `forkdebt report`)");
    }
    for (i, p) in found.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", report::show_text(p));
    }
    Ok(ExitCode::SUCCESS)
}
