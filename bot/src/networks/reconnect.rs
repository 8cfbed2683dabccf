//! Staying connected: run a network session again after it fails, waiting 1 s, doubling to
//! 60 s, back to 1 s after a session that lasted two minutes; stop when shutdown is asked.

use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

const LONG_ENOUGH: Duration = Duration::from_secs(120);
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Runs `session` until it returns `Ok` (it saw the shutdown) or `shutdown` turns true; an
/// `Err` is logged as `what` and the session is started again after the backoff.
pub async fn with_backoff<F, Fut>(
    what: &str,
    mut shutdown: watch::Receiver<bool>,
    mut session: F,
) -> anyhow::Result<()>
where
    F: FnMut(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut wait = Duration::from_secs(1);
    loop {
        let started = tokio::time::Instant::now();
        match session(shutdown.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) => tracing::warn!("{what}: {e:#}"),
        }
        if *shutdown.borrow() {
            return Ok(());
        }
        if started.elapsed() > LONG_ENOUGH {
            wait = Duration::from_secs(1);
        }
        tracing::info!("{what}: reconnecting in {} s", wait.as_secs());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return Ok(()),
        }
        wait = (wait * 2).min(MAX_WAIT);
    }
}
