//! `forkdebt serve` as one process among possibly several: the chat networks (one bot
//! connection per network across instances), notifications, the web dashboard, and the
//! schedule (sync, dist-git rescans, the weekly digest) in the one instance that holds the
//! `scheduler` lease. The services themselves are `forkdebt_app`'s.

mod lease;
mod listen;
mod schedule;

use crate::router::{ProposeHook, Router, SyncHook};
use forkdebt_core::config::Config;
use forkdebt_core::store::Store;
use lease::Lease;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};

/// How long a lease is held without renewal before another instance takes over.
fn lease_ttl(config: &Config) -> Duration {
    Duration::from_secs_f64(
        config
            .serve
            .as_ref()
            .and_then(|s| s.lease_secs)
            .unwrap_or(30.0)
            .max(0.5),
    )
}

/// The router with the services chat commands reach: `sync` (one at a time with the
/// schedule's, through `sync_lock`) and `propose` (pushed with a merge request when
/// `[propose]` names a forge project: a branch on the bot's machine helps nobody in the
/// channel).
pub fn router(config: &Arc<Config>, store: &Store, sync_lock: &Arc<Mutex<()>>) -> Router {
    let sync: SyncHook = {
        let (store, config, lock) = (store.clone(), Arc::clone(config), Arc::clone(sync_lock));
        Arc::new(move || {
            let (store, config, lock) = (store.clone(), Arc::clone(&config), Arc::clone(&lock));
            Box::pin(async move { forkdebt_app::sync::once(&store, &config, &lock).await })
        })
    };
    let propose: ProposeHook = {
        let (store, config) = (store.clone(), Arc::clone(config));
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
    Router::new(store.clone(), Arc::clone(config), Some(sync)).with_propose(propose)
}

/// Runs every configured part until `stopped` turns true, then gives up its leases and
/// lets each network say goodbye (10 s at most).
///
/// # Errors
/// A part cannot start (a network's secret is missing, the digest's schedule does not parse).
pub async fn run(
    config: Arc<Config>,
    store: Store,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let chat = config.chat.clone().unwrap_or_default();
    // Always something to do: the schedule syncs whatever else is configured.
    let networks = crate::networks::configured(&chat)?;
    let ttl = lease_ttl(&config);
    // One sync at a time, whether the schedule or an admin started it.
    let sync_lock = Arc::new(Mutex::new(()));
    let router = Arc::new(router(&config, &store, &sync_lock));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, _) in networks.iter().enumerate() {
        tasks.spawn(lease::run_network_under_lease(
            chat.clone(),
            index,
            Arc::clone(&router),
            store.clone(),
            ttl,
            stopped.clone(),
        ));
    }
    // The schedule (sync, dist-git rescans, digest) runs in one instance: the holder of the
    // `scheduler` lease. The others answer commands and serve the web until it fails.
    let scheduler = Lease::start("scheduler", store.clone(), ttl, stopped.clone());
    // Asked once before the tasks start, so the first digest check already knows.
    scheduler.renew().await;
    tasks.spawn(scheduler.clone().keep());
    let process = Arc::new(crate::web::metrics::Process::default());
    // What the bus and webhooks name, synced at once by one worker.
    let (heard, hearing) = listen::channel();
    tasks.spawn(listen::act(
        Arc::clone(&config),
        scheduler.clone(),
        Arc::clone(&sync_lock),
        hearing,
        stopped.clone(),
    ));
    tasks.spawn(listen::bus(
        Arc::clone(&config),
        scheduler.clone(),
        heard.clone(),
        stopped.clone(),
    ));
    if let Some(web) = config.web.clone() {
        let mut state = crate::web::WebState::new(store.clone(), Arc::clone(&process));
        if let Some(hooks) = &config.hooks {
            state = state.with_hooks(crate::web::hooks::Hooks::new(
                &config,
                hooks,
                heard.clone(),
            )?);
        }
        let limits = crate::web::Limits::from_config(Some(&web));
        let stopped = stopped.clone();
        tasks.spawn(async move { crate::web::serve(&web.listen, limits, state, stopped).await });
    }
    let jobs = schedule::Jobs {
        config: Arc::clone(&config),
        lease: scheduler,
        sync_lock,
        process,
        stopped: stopped.clone(),
    };
    jobs.spawn(&mut tasks)?;
    let mut stopped = stopped;
    while !*stopped.borrow() {
        if stopped.changed().await.is_err() {
            break;
        }
    }
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
    Ok(())
}
