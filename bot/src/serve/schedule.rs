//! The schedule of the instance holding the `scheduler` lease: a sync every
//! `[sources] sync_every_mins`, dist-git and forks read again every `scan_every_mins`, the
//! weekly digest when due. Each job is recorded in the store when it starts, so it runs once
//! per interval whichever instance leads (a failover does not run it twice).

use super::lease::{Lease, check_every};
use crate::digest::Outcome;
use crate::digest::schedule::Schedule;
use forkdebt_core::config::Config;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};

type Tasks = tokio::task::JoinSet<anyhow::Result<()>>;

pub(crate) struct Jobs {
    pub config: Arc<Config>,
    pub lease: Lease,
    pub sync_lock: Arc<Mutex<()>>,
    pub process: Arc<crate::web::metrics::Process>,
    pub stopped: watch::Receiver<bool>,
}

impl Jobs {
    fn sync_every(&self) -> Duration {
        Duration::from_secs_f64(
            (self.config.sources.sync_every_mins.unwrap_or(360.0) * 60.0).max(1.0),
        )
    }

    /// Starts every job the configuration asks for.
    ///
    /// # Errors
    /// The digest's schedule or mail transport cannot be set up.
    pub fn spawn(self, tasks: &mut Tasks) -> anyhow::Result<()> {
        if let Some(email) = self.config.email.clone().filter(|e| e.schedule.is_some()) {
            let schedule: Schedule = email
                .schedule
                .as_deref()
                .unwrap_or_default()
                .parse()
                .map_err(|e: String| anyhow::anyhow!("[email] {e}"))?;
            let transport = crate::digest::mail::transport(&email)?;
            tasks.spawn(digest(self.clone_parts(), schedule, email, transport));
        }
        tasks.spawn(sync(self.clone_parts()));
        let scannable = !self.config.fork.is_empty()
            || self
                .config
                .downstream
                .iter()
                .any(|d| d.git.is_some() || !d.paths.is_empty());
        if scannable {
            tasks.spawn(scan(self.clone_parts()));
        }
        Ok(())
    }

    fn clone_parts(&self) -> Jobs {
        Jobs {
            config: Arc::clone(&self.config),
            lease: self.lease.clone(),
            sync_lock: Arc::clone(&self.sync_lock),
            process: Arc::clone(&self.process),
            stopped: self.stopped.clone(),
        }
    }
}

/// Every minute (or every sync, when that is sooner): a digest due this week goes out once
/// per recipient, however many instances ask (claimed in the store).
async fn digest(
    mut jobs: Jobs,
    schedule: Schedule,
    email: forkdebt_core::config::EmailConfig,
    transport: crate::digest::mail::Transport,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(jobs.sync_every().min(Duration::from_secs(60)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = jobs.stopped.changed() => return Ok(()),
        }
        if !jobs.lease.leading().await {
            continue;
        }
        let Some(week) = schedule.due_week(chrono::Utc::now()) else {
            continue;
        };
        let store = jobs.lease.store();
        for r in &email.recipient {
            match crate::digest::deliver(&store, &jobs.config, r, &week, &transport).await {
                Ok(Outcome::Sent) => tracing::info!("digest {week} sent to {}", r.address),
                Ok(Outcome::AlreadySent) => {}
                Err(e) => tracing::warn!(
                    "digest {week} to {}: {e:#} (retrying in a minute)",
                    r.address
                ),
            }
        }
    }
}

/// Looked at four times an interval; the store says whether the interval is up (whichever
/// instance ran the last sync).
async fn sync(mut jobs: Jobs) -> anyhow::Result<()> {
    let every = jobs.sync_every();
    let mut tick = tokio::time::interval(check_every(every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate: let the networks connect first
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let leading = jobs.lease.leading().await;
                jobs.process.set_role("scheduler", leading);
                if !leading || !jobs.lease.due("sync", every).await {
                    continue;
                }
                let started = std::time::Instant::now();
                let said =
                    forkdebt_app::sync::once(&jobs.lease.store(), &jobs.config, &jobs.sync_lock)
                        .await;
                tracing::info!("{said}");
                jobs.process.observe_sync(started.elapsed());
            }
            _ = jobs.stopped.changed() => return Ok(()),
        }
    }
}

/// Dist-git and forks read again, so a long-running bot never reports debt that is gone;
/// one at a time with the sync.
async fn scan(mut jobs: Jobs) -> anyhow::Result<()> {
    let every = Duration::from_secs_f64(
        (jobs.config.sources.scan_every_mins.unwrap_or(60.0) * 60.0).max(1.0),
    );
    let mut tick = tokio::time::interval(check_every(every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = jobs.stopped.changed() => return Ok(()),
        }
        if !jobs.lease.leading().await || !jobs.lease.due("scan", every).await {
            continue;
        }
        let _guard = jobs.sync_lock.lock().await;
        let mut tell = |said: forkdebt_app::Said| match said {
            forkdebt_app::Said::Info(l) => tracing::info!("{l}"),
            forkdebt_app::Said::Warn(l) => {
                tracing::warn!("{}", forkdebt_core::report::shown(&l));
            }
        };
        let request = forkdebt_app::scan::Request::default();
        match forkdebt_app::scan::run(&jobs.config, &jobs.lease.store(), request, &mut tell).await {
            Ok(o) if o.failures == 0 => tracing::info!("dist-git read again"),
            Ok(_) => tracing::warn!("dist-git read again; some parts failed (see above)"),
            Err(e) => tracing::warn!("reading dist-git again: {e:#}"),
        }
    }
}
