//! `forkdebt propose PACKAGE PATCH [--force] [--push]` (the service in
//! `forkdebt_app::propose`) and `forkdebt propose --change DEVIATION`.

use super::Context;
use anyhow::bail;
use forkdebt_core::propose::change_draft;
use std::process::ExitCode;

pub async fn run(
    ctx: &Context,
    package: Option<String>,
    patch: Option<String>,
    change: Option<String>,
    force: bool,
    push: bool,
    downstream: Option<String>,
) -> anyhow::Result<ExitCode> {
    if let Some(name) = change {
        let store = ctx.store().await?;
        let found = store
            .load_deviations(downstream.as_deref())
            .await?
            .into_iter()
            .find(|(_, d)| d.name == name);
        store.close().await;
        let Some((ds, d)) = found else {
            bail!("no policy deviation named `{name}` (see forkdebt-inventory.toml)");
        };
        out!("{}", change_draft(&d, &ds))?;
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(package), Some(patch)) = (package, patch) else {
        bail!("name a package and a patch (or --change DEVIATION)");
    };
    let store = ctx.store().await?;
    let said = forkdebt_app::propose::drop(
        &ctx.config,
        &store,
        &package,
        &patch,
        force,
        push,
        downstream.as_deref(),
    )
    .await;
    store.close().await;
    for line in said? {
        outln!("{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}
