//! Leases: which instance runs the scheduler, and which holds each chat network's one bot
//! connection, when several `serve` processes share one PostgreSQL store.

use crate::router::Router;
use anyhow::Context as _;
use forkdebt_core::store::{Fence, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// This instance's claim on a lease (`scheduler`, `network:IRC`...): renewed every third of
/// its time to live. [`Lease::leading`] checks it in the store right before the work, and
/// [`Lease::store`] is the handle the work writes through: each write transaction proves the
/// lease is still held first, so an instance paused past its lease (a stopped VM, a long
/// GC) cannot write when it wakes up.
#[derive(Clone)]
pub(crate) struct Lease {
    store: Store,
    fence: Arc<Fence>,
    ttl: Duration,
    stopped: watch::Receiver<bool>,
    /// SQLite: the instance lock already makes this the only instance; no lease is needed
    /// (and a killed instance's lease must not delay its restart).
    sole: bool,
}

impl Lease {
    pub(crate) fn start(
        name: &str,
        store: Store,
        ttl: Duration,
        stopped: watch::Receiver<bool>,
    ) -> Lease {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let holder = format!(
            "{}:{}:{:x}",
            host.trim(),
            std::process::id(),
            chrono::Utc::now().timestamp_subsec_nanos()
        );
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(30_000);
        Lease {
            sole: store.backend() == forkdebt_core::store::Backend::Sqlite,
            store,
            fence: Arc::new(Fence::new(name, &holder, ttl_ms)),
            ttl,
            stopped,
        }
    }

    fn name(&self) -> &str {
        &self.fence.name
    }

    /// The store as the holder writes to it (fenced by this lease).
    pub(crate) fn store(&self) -> Store {
        if self.sole {
            self.store.clone()
        } else {
            self.store.fenced(Arc::clone(&self.fence))
        }
    }

    pub(crate) async fn renew(&self) {
        if self.sole {
            return;
        }
        let fence = match self
            .store
            .take_lease(self.name(), &self.fence.holder, self.fence.ttl_ms)
            .await
        {
            Ok(f) => f.unwrap_or(0),
            Err(e) => {
                tracing::warn!("lease {}: {e}", self.name());
                0
            }
        };
        let before = self.fence.set(fence);
        if fence != 0 && before == 0 {
            tracing::info!("this instance holds {} now (fence {fence})", self.name());
        } else if fence == 0 && before != 0 {
            tracing::warn!("this instance lost {}", self.name());
        }
    }

    /// Renews the lease until the stop, then gives it up.
    pub(crate) async fn keep(mut self) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(self.ttl / 3);
        loop {
            tokio::select! {
                _ = tick.tick() => self.renew().await,
                _ = self.stopped.changed() => break,
            }
        }
        self.release().await;
        Ok(())
    }

    async fn release(&self) {
        if !self.sole {
            let _ = self
                .store
                .release_lease(self.name(), &self.fence.holder)
                .await;
        }
    }

    /// Whether this instance holds the lease now (checked in the store).
    pub(crate) async fn leading(&self) -> bool {
        if self.sole {
            return true;
        }
        let fence = self.fence.current();
        fence != 0
            && self
                .store
                .holds_lease(self.name(), &self.fence.holder, fence)
                .await
                .unwrap_or(false)
    }

    /// Whether the job `name`, due every `every`, starts now: no instance started it within
    /// the interval (recorded in the store, so a failover does not run it twice). The caller
    /// has checked that this instance leads.
    pub(crate) async fn due(&self, name: &str, every: Duration) -> bool {
        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        match self.store().start_run(name, every_ms).await {
            Ok(start) => start,
            Err(e) => {
                tracing::warn!("scheduling {name}: {e}");
                false
            }
        }
    }
}

/// One chat network in one instance at a time: the holder of `network:<name>` connects and
/// delivers; the others wait, and take over (connect) once that lease expires. A network has
/// exactly one bot connection however many instances run.
pub(crate) async fn run_network_under_lease(
    chat: forkdebt_core::config::ChatConfig,
    index: usize,
    router: Arc<Router>,
    store: Store,
    ttl: Duration,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let name = crate::networks::configured(&chat)?
        .get(index)
        .map(|n| n.name())
        .unwrap_or("network");
    let lease = Lease::start(
        &format!("network:{name}"),
        store.clone(),
        ttl,
        stopped.clone(),
    );
    loop {
        // Wait for the lease.
        loop {
            lease.renew().await;
            if lease.leading().await {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(lease.ttl / 3) => {}
                _ = stopped.changed() => return Ok(()),
            }
        }
        // Hold it while connected; losing it (or the stop) ends this connection.
        let (net_stop, net_stopped) = watch::channel(false);
        let keeper = {
            let (lease, mut stopped) = (lease.clone(), stopped.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(lease.ttl / 3) => {}
                        _ = stopped.changed() => break,
                    }
                    lease.renew().await;
                    if !lease.leading().await {
                        break;
                    }
                }
                let _ = net_stop.send(true);
            })
        };
        let Some(network) = crate::networks::configured(&chat)?.into_iter().nth(index) else {
            return Ok(());
        };
        let result = network
            .run(Arc::clone(&router), lease.store(), net_stopped)
            .await
            .context(name);
        keeper.abort();
        if *stopped.borrow() {
            lease.release().await;
            return result;
        }
        match result {
            // Refused for good (a wrong password): this network stops here; the others, and
            // the rest of serve, go on.
            Err(e) if crate::networks::reconnect::is_fatal(&e) => {
                lease.release().await;
                return Err(e);
            }
            Err(e) => tracing::warn!("{e:#}"),
            Ok(()) => {}
        }
    }
}

/// How often a scheduled job due every `every` is looked at: a quarter of it, between 0.1 s
/// and a minute.
pub(crate) fn check_every(every: Duration) -> Duration {
    (every / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
}
