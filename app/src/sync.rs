//! One sync of every source, as `serve`'s schedule and the chat's `sync` run it: one at a
//! time (a second one asked while one runs is told so), said in one line.

use forkdebt_core::config::Config;
use forkdebt_core::store::Store;
use tokio::sync::Mutex;

/// Runs every source once, unless a sync already holds `lock`; one line saying how it went.
pub async fn once(store: &Store, config: &Config, lock: &Mutex<()>) -> String {
    let Ok(_guard) = lock.try_lock() else {
        return "a sync is already running".into();
    };
    let quiet = |m: &str| tracing::debug!("{m}");
    match forkdebt_scrapers::sync::run(store, config, &[], &quiet).await {
        Ok(results) => {
            let failed: Vec<&str> = results
                .iter()
                .filter(|r| r.run.error.is_some())
                .map(|r| r.source)
                .collect();
            let items: i64 = results.iter().map(|r| r.run.items).sum();
            if failed.is_empty() {
                format!("sync done: {items} items checked")
            } else {
                format!(
                    "sync done: {items} items checked; failed: {}",
                    failed.join(", ")
                )
            }
        }
        Err(e) => format!("sync failed: {e}"),
    }
}
