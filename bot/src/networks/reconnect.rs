//! Staying connected: run a network session again after it fails, waiting 1 s, doubling to
//! 60 s, back to 1 s after a session that lasted two minutes; stop when shutdown is asked, or
//! when the failure is [`Fatal`] — the network refused us for a reason another attempt does
//! not change (a wrong password, every nick taken), and retrying forever would only hammer it.

use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

const LONG_ENOUGH: Duration = Duration::from_secs(120);

/// A failure retrying cannot mend: the network stops with this message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

/// `Err(Fatal)` with `message`.
pub fn fatal<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(anyhow::Error::new(Fatal(message.into())))
}

/// Whether `e` is (or wraps) a [`Fatal`] failure.
pub fn is_fatal(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<Fatal>().is_some())
}
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Runs `session` until it returns `Ok` (it saw the shutdown) or `shutdown` turns true; an
/// `Err` is logged as `what` and the session is started again after the backoff, unless it
/// is [`Fatal`]: then it is returned and the network stops.
///
/// # Errors
/// A [`Fatal`] failure of the session.
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
            Err(e) if is_fatal(&e) => {
                tracing::error!(
                    "{what}: {e:#}; not trying again (fix the configuration and restart)"
                );
                return Err(e.context(what.to_string()));
            }
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
