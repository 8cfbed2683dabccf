//! `forkdebt sources`: per source, when it was last checked, the last error, and the cost.

use super::Context;
use forkdebt_core::report;
use std::process::ExitCode;

pub async fn run(ctx: &Context, reset: Option<String>) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    if let Some(host) = reset {
        let host = host.trim().to_ascii_lowercase();
        let known = store.clear_host_wait(&host).await?;
        store.close().await;
        if known {
            outln!("{host}: no longer waited for; the next sync asks it again")?;
            return Ok(ExitCode::SUCCESS);
        }
        errln!(
            "forkdebt: {}: no wait is recorded for this host (see `forkdebt sources`)",
            forkdebt_core::report::shown(&host)
        );
        return Ok(ExitCode::FAILURE);
    }
    let recorded = store.source_statuses().await?;
    let waits = store.host_next_allowed().await?;
    let listeners = store.listeners().await?;
    store.close().await;
    let never = recorded.is_empty();
    outln!(
        "{}",
        report::sources_table(&forkdebt_scrapers::sources::every_status(recorded))
    )?;
    if never {
        outln!("No source has been synced yet: run `forkdebt sync`.")?;
    }
    // The bus and webhooks: what they heard last, how late, the last backfill.
    for l in listeners {
        outln!(
            "{}: {} messages, {} about something tracked; last message {} (heard {}, {}); last backfill {}",
            l.origin,
            l.messages,
            l.acted_on,
            l.last_sent_at.as_deref().unwrap_or("never"),
            l.last_heard_at.as_deref().unwrap_or("never"),
            l.lag_ms.map_or("lag unknown".to_string(), |ms| format!(
                "lag {:.1} s",
                ms as f64 / 1000.0
            )),
            l.last_backfill_at.as_deref().unwrap_or("never")
        )?;
    }
    // Hosts that asked us to wait (Retry-After, a rate limit): no sync asks them before then.
    let now = forkdebt_core::store::timestamp(chrono::Utc::now());
    let mut waits: Vec<(String, String)> = waits.into_iter().filter(|(_, t)| *t > now).collect();
    waits.sort();
    for (host, until) in waits {
        outln!(
            "{}: asked us to wait; not asked again until {until} (`forkdebt sources --reset HOST` ends it)",
            forkdebt_core::report::shown(&host)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
