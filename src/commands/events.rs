//! `forkdebt events [--since DATE]`: the transitions forkdebt recorded, oldest first.

use super::Context;
use forkdebt_core::report::shown;
use std::process::ExitCode;

pub async fn run(ctx: &Context, since: Option<String>) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let events = store.events(since.as_deref()).await?;
    store.close().await;
    if events.is_empty() {
        outln!(
            "No events{}.",
            since.map(|s| format!(" since {s}")).unwrap_or_default()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    for e in events {
        let chain = forkdebt_core::evidence::chain_text(&e.evidence);
        outln!(
            "{} {} {} {}: {} -> {}{}",
            e.created_at,
            shown(&e.downstream),
            shown(&e.package),
            shown(&e.subject),
            e.from_state.as_deref().unwrap_or("-"),
            e.to_state,
            if chain.is_empty() {
                String::new()
            } else {
                format!(" ({})", shown(&chain))
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
