//! Push, not poll: what the message bus and forge webhooks name is synced at once. Both hand
//! a [`Focus`] to one worker, which merges what arrives together and runs a focused sync
//! (the same sources and verdict engine as the schedule's, one sync at a time); the engine's
//! verdict changes reach the channels through the outbox as any other.
//!
//! Only the holder of the `scheduler` lease consumes the bus: one queue and one set of
//! focused syncs however many instances run. The store still records each message id, so a
//! redelivery, a backfill overlapping the live queue or a failover never acts twice.

use super::lease::Lease;
use forkdebt_core::config::Config;
use forkdebt_scrapers::sources::Focus;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, watch};

/// Focuses arriving this close together are synced as one.
const GATHER: Duration = Duration::from_millis(300);
/// How often the bus task checks that it still leads.
const LEAD_CHECK: Duration = Duration::from_secs(2);

/// Where listeners send what they heard.
pub(crate) fn channel() -> (mpsc::Sender<Focus>, mpsc::Receiver<Focus>) {
    mpsc::channel(1024)
}

/// Runs focused syncs for what `heard` receives until `stopped`.
pub(crate) async fn act(
    config: Arc<Config>,
    lease: Lease,
    sync_lock: Arc<Mutex<()>>,
    mut heard: mpsc::Receiver<Focus>,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let mut focus = tokio::select! {
            f = heard.recv() => match f { Some(f) => f, None => return Ok(()) },
            _ = stopped.changed() => return Ok(()),
        };
        // What came with it, synced together.
        let until = tokio::time::Instant::now() + GATHER;
        while let Ok(Some(more)) = tokio::time::timeout_at(until, heard.recv()).await {
            focus.merge(more);
        }
        let store = lease.store();
        // Waits for a running sync rather than dropping the news.
        let _guard = sync_lock.lock().await;
        if focus.sources.remove("scan") {
            let mut tell = |said: forkdebt_app::Said| match said {
                forkdebt_app::Said::Info(l) => tracing::info!("{l}"),
                forkdebt_app::Said::Warn(l) => {
                    tracing::warn!("{}", forkdebt_core::report::shown(&l));
                }
            };
            let request = forkdebt_app::scan::Request::default();
            if let Err(e) = forkdebt_app::scan::run(&config, &store, request, &mut tell).await {
                tracing::warn!("reading dist-git after a push: {e:#}");
            }
        }
        let started = std::time::Instant::now();
        let quiet = |m: &str| tracing::debug!("{m}");
        match forkdebt_scrapers::sync::run_focused(&store, &config, &focus, &quiet).await {
            Ok(results) => {
                // What it decided is in the outbox now: the channels hear it at once.
                crate::notify::wake();
                let items: i64 = results.iter().map(|r| r.run.items).sum();
                tracing::info!(
                    "focused sync of {:?} {:?}: {items} items asked ({:.2} s)",
                    focus.packages,
                    focus.items,
                    started.elapsed().as_secs_f64()
                );
            }
            Err(e) => tracing::warn!("focused sync: {e}"),
        }
    }
}

/// Consumes the bus while this instance leads; stops consuming when it no longer does.
pub(crate) async fn bus(
    config: Arc<Config>,
    lease: Lease,
    sink: mpsc::Sender<Focus>,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Some(bus) = config.bus.clone().filter(|b| b.enabled) else {
        return Ok(());
    };
    // Checked before the first lead: a wrong `[bus]` is said at once.
    forkdebt_scrapers::bus::Listener::new(&config, &bus, lease.store())?;
    let mut running: Option<tokio::task::JoinHandle<()>> = None;
    let mut tick = tokio::time::interval(LEAD_CHECK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => {
                if let Some(r) = running.take() { r.abort(); }
                return Ok(());
            }
        }
        let leading = lease.leading().await;
        match (&running, leading) {
            (None, true) => {
                let listener = forkdebt_scrapers::bus::Listener::new(&config, &bus, lease.store())?;
                running = Some(tokio::spawn(listener.run(sink.clone())));
            }
            (Some(_), false) => {
                if let Some(r) = running.take() {
                    r.abort();
                }
                tracing::info!("no longer the scheduler: the bus is left to the one that is");
            }
            _ => {}
        }
    }
}
