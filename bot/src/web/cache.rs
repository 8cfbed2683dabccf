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
    built: tokio::sync::Mutex<HashMap<String, (Instant, Arc<T>)>>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache {
            built: tokio::sync::Mutex::default(),
        }
    }
}

impl<T> Cache<T> {
    /// The value for `key`, built by `build` unless one younger than [`FRESH_FOR`] exists.
    /// Builds are one at a time (the lock is held across `build`), so a burst of requests
    /// costs one build.
    ///
    /// # Errors
    /// What `build` returns; nothing is kept then.
    pub async fn get_or_build<E, F>(&self, key: &str, build: F) -> Result<Arc<T>, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let mut built = self.built.lock().await;
        if let Some((at, value)) = built.get(key)
            && at.elapsed() < FRESH_FOR
        {
            return Ok(Arc::clone(value));
        }
        let value = Arc::new(build.await?);
        if built.len() >= MAX_KEYS
            && let Some(oldest) = built
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            built.remove(&oldest);
        }
        built.insert(key.to_string(), (Instant::now(), Arc::clone(&value)));
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
}
