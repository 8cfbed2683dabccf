//! A micro-cache for the pages that read the whole store (the overview, `/api/report`): each
//! is built at most once per [`FRESH_FOR`] per key, and concurrent requests for a page being
//! built wait for that one build instead of each starting their own. The store changes at
//! sync and scan time (minutes apart), so a page up to two seconds old shows the same; at
//! 100,000 patches it is what keeps the overview's latency flat under 20 concurrent clients.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a built page is served again.
pub const FRESH_FOR: Duration = Duration::from_secs(2);

/// At most this many keys (filters) are kept; the oldest goes first.
const MAX_KEYS: usize = 64;

pub struct Cache<T> {
    /// One slot per key; a slot's own lock is held while its value is built, so a burst of
    /// requests for one key costs one build, and other keys are not kept waiting.
    slots: std::sync::Mutex<HashMap<String, Arc<Slot<T>>>>,
}

type Slot<T> = tokio::sync::Mutex<Option<(Instant, Arc<T>)>>;

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache {
            slots: std::sync::Mutex::default(),
        }
    }
}

impl<T> Cache<T> {
    fn slot(&self, key: &str) -> Arc<Slot<T>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if !slots.contains_key(key) && slots.len() >= MAX_KEYS {
            // Room for a new key: drop one no request is using (a build in progress keeps
            // its slot alive through its own Arc).
            if let Some(old) = slots.keys().next().cloned() {
                slots.remove(&old);
            }
        }
        Arc::clone(slots.entry(key.to_string()).or_default())
    }

    /// The value for `key`, built by `build` unless one younger than [`FRESH_FOR`] exists.
    /// Builds of one key are one at a time (its slot is locked across `build`); keys do not
    /// wait for each other.
    ///
    /// # Errors
    /// What `build` returns; nothing is kept then.
    pub async fn get_or_build<E, F>(&self, key: &str, build: F) -> Result<Arc<T>, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let slot = self.slot(key);
        let mut held = slot.lock().await;
        if let Some((at, value)) = held.as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return Ok(Arc::clone(value));
        }
        let value = Arc::new(build.await?);
        *held = Some((Instant::now(), Arc::clone(&value)));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn builds_once_while_fresh_and_per_key() {
        let cache: Cache<u32> = Cache::default();
        let builds = std::sync::atomic::AtomicU32::new(0);
        let build = || async {
            Ok::<u32, ()>(builds.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1)
        };
        assert_eq!(
            *cache.get_or_build("a", build()).await.unwrap_or_default(),
            1
        );
        assert_eq!(
            *cache.get_or_build("a", build()).await.unwrap_or_default(),
            1
        );
        assert_eq!(
            *cache.get_or_build("b", build()).await.unwrap_or_default(),
            2
        );
        // A failed build keeps nothing.
        let failed = cache.get_or_build("c", async { Err::<u32, ()>(()) }).await;
        assert!(failed.is_err());
        assert_eq!(
            *cache.get_or_build("c", build()).await.unwrap_or_default(),
            3
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_build_does_not_hold_up_another_key() {
        let cache: Arc<Cache<u32>> = Arc::default();
        let slow = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                cache
                    .get_or_build("slow", async {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        Ok::<u32, ()>(1)
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let fast = cache.get_or_build("fast", async { Ok::<u32, ()>(2) }).await;
        assert_eq!(fast.map(|v| *v), Ok(2));
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(slow.await.expect("join").map(|v| *v), Ok(1));
    }
}
