//! `forkdebt sync [--source NAME]...`: ask upstream about every reference.

use super::Context;
use anyhow::Context as _;
use forkdebt_scrapers::sync;
use std::io::IsTerminal;
use std::process::ExitCode;

pub async fn run(ctx: &Context, sources: Vec<String>) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    // A spinner with the current step on a terminal; plain log lines (-v) otherwise.
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let progress = |msg: &str| match &bar {
        Some(b) => b.set_message(msg.to_string()),
        None => tracing::info!("{msg}"),
    };
    let work = sync::run(&store, &ctx.config, &sources, &progress);
    let results = tokio::select! {
        r = work => r.context("sync")?,
        _ = tokio::signal::ctrl_c() => {
            errln!("\ninterrupted: every finished batch is stored; run `forkdebt sync` again to continue");
            store.close().await;
            return Ok(ExitCode::from(130));
        }
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut failed = 0;
    for r in &results {
        let status = match &r.run.error {
            Some(e) => {
                failed += 1;
                format!("FAILED: {e}")
            }
            None => "ok".to_string(),
        };
        outln!(
            "{:12} {} items, {} requests, {} not modified, {} item errors: {status}",
            r.source,
            r.run.items,
            r.run.requests,
            r.run.not_modified,
            r.run.errors
        )?;
    }
    store.close().await;
    if failed > 0 {
        errln!(
            "forkdebt: {failed} source(s) failed; what they knew before is kept (see `forkdebt sources`)"
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
