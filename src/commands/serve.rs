//! `forkdebt serve`: the chat networks, notifications and the periodic sync in one process,
//! until SIGTERM or SIGINT (then every network says goodbye and the store is closed).

use super::Context;
use anyhow::Context as _;
use forkdebt_bot::digest::Outcome;
use forkdebt_bot::digest::schedule::Schedule;
use forkdebt_bot::router::{ProposeHook, Router, SyncHook};
use forkdebt_core::store::{Fence, Store};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let config = Arc::new(ctx.config.clone());
    // SQLite serves one process: a second `serve` on the same file would post everything
    // twice. Held until this process exits.
    let _single = single_instance(&ctx.database)?;
    let store = ctx.store().await?;
    let chat = config.chat.clone().unwrap_or_default();
    let (stop, stopped) = watch::channel(false);
    // One sync at a time, whether the schedule or an admin started it.
    let sync_lock = Arc::new(Mutex::new(()));
    let hook: SyncHook = {
        let (store, config, lock) = (store.clone(), Arc::clone(&config), Arc::clone(&sync_lock));
        Arc::new(move || {
            let (store, config, lock) = (store.clone(), Arc::clone(&config), Arc::clone(&lock));
            Box::pin(async move { forkdebt_app::sync::once(&store, &config, &lock).await })
        })
    };
    // `propose` in chat: the branch, pushed with a merge request when [propose] names a forge
    // project (a branch on the bot's machine alone would help nobody in the channel).
    let propose: ProposeHook = {
        let (store, config) = (store.clone(), Arc::clone(&config));
        Arc::new(move |package: String, patch: String| {
            let (store, config) = (store.clone(), Arc::clone(&config));
            Box::pin(async move {
                let push = config
                    .propose
                    .as_ref()
                    .is_some_and(|p| p.url.is_some() && p.project.is_some());
                match forkdebt_app::propose::drop(
                    &config, &store, &package, &patch, false, push, None,
                )
                .await
                {
                    Ok(lines) => lines,
                    Err(e) => vec![format!("could not propose: {e:#}")],
                }
            })
        })
    };
    let router =
        Arc::new(Router::new(store.clone(), Arc::clone(&config), Some(hook)).with_propose(propose));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, _) in forkdebt_bot::networks::configured(&chat)?
        .iter()
        .enumerate()
    {
        let (router, store, stopped, chat) = (
            Arc::clone(&router),
            store.clone(),
            stopped.clone(),
            chat.clone(),
        );
        tasks.spawn(run_network_under_lease(chat, index, router, store, stopped));
    }
    // The scheduler (sync, dist-git rescans, digest) runs in one instance: the holder of the
    // `scheduler` lease. The others answer commands and serve the web until it fails.
    let scheduler = Lease::start("scheduler", store.clone(), stopped.clone());
    // Asked once before the tasks start, so the first digest check already knows.
    scheduler.renew().await;
    tasks.spawn(scheduler.clone().keep());
    let sync_every =
        Duration::from_secs_f64((config.sources.sync_every_mins.unwrap_or(360.0) * 60.0).max(1.0));
    if let Some(email) = config.email.clone().filter(|e| e.schedule.is_some()) {
        let schedule: Schedule = email
            .schedule
            .as_deref()
            .unwrap_or_default()
            .parse()
            .map_err(|e: String| anyhow::anyhow!("[email] {e}"))?;
        let transport = forkdebt_bot::digest::mail::transport(&email)?;
        let (config, mut stopped, sched) =
            (Arc::clone(&config), stopped.clone(), scheduler.clone());
        tasks.spawn(async move {
            // Every minute (or every sync, when that is sooner): a digest due this week goes
            // out once per recipient, however many instances ask (claimed in the store).
            let mut tick = tokio::time::interval(sync_every.min(Duration::from_secs(60)));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => return Ok(()),
                }
                if !sched.leading().await {
                    continue;
                }
                let Some(week) = schedule.due_week(chrono::Utc::now()) else {
                    continue;
                };
                let store = sched.store();
                for r in &email.recipient {
                    match forkdebt_bot::digest::deliver(&store, &config, r, &week, &transport).await
                    {
                        Ok(Outcome::Sent) => tracing::info!("digest {week} sent to {}", r.address),
                        Ok(Outcome::AlreadySent) => {}
                        Err(e) => tracing::warn!(
                            "digest {week} to {}: {e:#} (retrying in a minute)",
                            r.address
                        ),
                    }
                }
            }
        });
    }
    let process = Arc::new(forkdebt_bot::web::metrics::Process::default());
    if let Some(web) = config.web.clone() {
        let state = forkdebt_bot::web::WebState::new(store.clone(), Arc::clone(&process));
        let stopped = stopped.clone();
        let limits = forkdebt_bot::web::Limits::from_config(Some(&web));
        tasks.spawn(
            async move { forkdebt_bot::web::serve(&web.listen, limits, state, stopped).await },
        );
    }
    if tasks.is_empty() {
        anyhow::bail!(
            "nothing to serve: configure [chat.irc], [chat.matrix], [chat.discord] or [web] (see config/forkdebt.example.toml)"
        );
    }
    {
        let (config, lock, mut stopped, process, sched) = (
            Arc::clone(&config),
            Arc::clone(&sync_lock),
            stopped.clone(),
            Arc::clone(&process),
            scheduler.clone(),
        );
        tasks.spawn(async move {
            // Looked at four times an interval; the store says whether the interval is up
            // (whichever instance ran the last sync).
            let mut tick = tokio::time::interval(check_every(sync_every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // the first tick is immediate: let the networks connect first
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let leading = sched.leading().await;
                        process.set_role("scheduler", leading);
                        if !leading || !sched.due("sync", sync_every).await {
                            continue;
                        }
                        let started = std::time::Instant::now();
                        tracing::info!("{}", forkdebt_app::sync::once(&sched.store(), &config, &lock).await);
                        process.observe_sync(started.elapsed());
                    }
                    _ = stopped.changed() => return Ok(()),
                }
            }
        });
    }
    // Dist-git and forks read again, so a long-running bot never reports debt that is gone.
    let scannable = !config.fork.is_empty()
        || config
            .downstream
            .iter()
            .any(|d| d.git.is_some() || !d.paths.is_empty());
    if scannable {
        let every = Duration::from_secs_f64(
            (config.sources.scan_every_mins.unwrap_or(60.0) * 60.0).max(1.0),
        );
        let (config, lock, mut stopped, sched) = (
            Arc::clone(&config),
            Arc::clone(&sync_lock),
            stopped.clone(),
            scheduler.clone(),
        );
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(check_every(every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => return Ok(()),
                }
                if !sched.leading().await || !sched.due("scan", every).await {
                    continue;
                }
                // One at a time with the sync: a scan waits for a running sync to end.
                let _guard = lock.lock().await;
                let mut tell = |said: forkdebt_app::Said| match said {
                    forkdebt_app::Said::Info(l) => tracing::info!("{l}"),
                    forkdebt_app::Said::Warn(l) => {
                        tracing::warn!("{}", forkdebt_core::report::shown(&l))
                    }
                };
                let request = forkdebt_app::scan::Request::default();
                match forkdebt_app::scan::run(&config, &sched.store(), request, &mut tell).await {
                    Ok(o) if o.failures == 0 => tracing::info!("dist-git read again"),
                    Ok(_) => tracing::warn!("dist-git read again; some parts failed (see above)"),
                    Err(e) => tracing::warn!("reading dist-git again: {e:#}"),
                }
            }
        });
    }
    errln!("forkdebt: serving (SIGTERM or Ctrl-C stops)");
    wait_for_signal().await;
    errln!("forkdebt: stopping");
    let _ = stop.send(true);
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Err(e)) => tracing::error!("{e:#}"),
                Err(e) => tracing::error!("a task stopped unexpectedly: {e}"),
                Ok(Ok(())) => {}
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some tasks did not stop within 10 s");
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// This instance's claim on a lease (`scheduler`, `network:IRC`...): renewed every third of
/// its time to live. [`Lease::leading`] checks it in the store right before the work, and
/// [`Lease::store`] is the handle the work writes through: each write transaction proves the
/// lease is still held first, so an instance paused past its lease (a stopped VM, a long
/// GC) cannot write when it wakes up.
#[derive(Clone)]
struct Lease {
    store: Store,
    fence: Arc<Fence>,
    ttl: Duration,
    stopped: watch::Receiver<bool>,
    /// SQLite: the instance lock already makes this the only instance; no lease is needed
    /// (and a killed instance's lease must not delay its restart).
    sole: bool,
}

impl Lease {
    fn start(name: &str, store: Store, stopped: watch::Receiver<bool>) -> Lease {
        // FORKDEBT_LEASE_TTL_SECS: how fast another instance takes over (tests shorten it).
        let ttl = std::env::var("FORKDEBT_LEASE_TTL_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v >= 0.5)
            .unwrap_or(30.0);
        let ttl = Duration::from_secs_f64(ttl);
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
    fn store(&self) -> Store {
        if self.sole {
            self.store.clone()
        } else {
            self.store.fenced(Arc::clone(&self.fence))
        }
    }

    async fn renew(&self) {
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
    async fn keep(mut self) -> anyhow::Result<()> {
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
    async fn leading(&self) -> bool {
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
    async fn due(&self, name: &str, every: Duration) -> bool {
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
async fn run_network_under_lease(
    chat: forkdebt_core::config::ChatConfig,
    index: usize,
    router: Arc<Router>,
    store: Store,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let name = forkdebt_bot::networks::configured(&chat)?
        .get(index)
        .map(|n| n.name())
        .unwrap_or("network");
    let lease = Lease::start(&format!("network:{name}"), store.clone(), stopped.clone());
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
        let Some(network) = forkdebt_bot::networks::configured(&chat)?
            .into_iter()
            .nth(index)
        else {
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
        if let Err(e) = result {
            tracing::warn!("{e:#}");
        }
    }
}

/// How often a scheduled job due every `every` is looked at: a quarter of it, between 0.1 s
/// and a minute.
fn check_every(every: Duration) -> Duration {
    (every / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
}

/// An exclusive lock beside a SQLite database, for as long as the returned file is open.
/// PostgreSQL needs none (several instances share it).
fn single_instance(database: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
    else {
        return Ok(None);
    };
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return Ok(None);
    }
    let lock_path = format!("{path}.serve-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("{lock_path}: cannot create the instance lock"))?;
    use std::os::fd::AsRawFd as _;
    // SAFETY: flock(2) on a descriptor we own; the lock goes with the file.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        anyhow::bail!(
            "another `forkdebt serve` is running on {path} (SQLite serves one process; run several instances on PostgreSQL)"
        );
    }
    Ok(Some(file))
}

/// `forkdebt web`: the dashboard alone.
pub async fn web_only(ctx: &Context, listen: Option<String>) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let listen = listen
        .or_else(|| ctx.config.web.as_ref().map(|w| w.listen.clone()))
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let (stop, stopped) = watch::channel(false);
    let state = forkdebt_bot::web::WebState::new(
        store.clone(),
        Arc::new(forkdebt_bot::web::metrics::Process::default()),
    );
    let limits = forkdebt_bot::web::Limits::from_config(ctx.config.web.as_ref());
    let server =
        tokio::spawn(
            async move { forkdebt_bot::web::serve(&listen, limits, state, stopped).await },
        );
    tokio::select! {
        r = server => {
            store.close().await;
            return r.context("the web server stopped unexpectedly")?.map(|()| ExitCode::SUCCESS);
        }
        () = wait_for_signal() => {}
    }
    let _ = stop.send(true);
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
