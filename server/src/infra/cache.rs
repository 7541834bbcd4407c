//! Key/value cache with TTLs and fixed-window counters, in-process or in
//! Redis. Every value has a TTL, so Redis can run with `noeviction`.

use super::redis::RedisConnection;
use async_trait::async_trait;
use fred::prelude::*;
use moka::{future::Cache as Moka, Expiry};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[error("cache unavailable: {0}")]
pub struct CacheError(String);

/// One fixed window of a counter: hits so far (this one included) and time
/// until the window resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    pub resets_in: Duration,
}

#[async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Deletes every key starting with `prefix`; returns how many.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, CacheError>;
    /// Counts a hit in the window that started with the first hit on `key`.
    /// Never fails: with Redis down it counts in this process.
    async fn hit(&self, key: &str, window: Duration) -> WindowCount;
}

/// Delay of the second delete in [`delete_settled`]: longer than a cache
/// fill takes from its database read to its write.
const SETTLE_DELAY: Duration = Duration::from_secs(1);

/// Deletes `key` now and once more shortly after. A reader that missed the
/// key and read the database just before the change that calls this may
/// write the old value back after the first delete; the second one removes
/// it. A failed delete is logged: entries expire on their own TTL.
pub async fn delete_settled(cache: std::sync::Arc<dyn Cache>, key: String) {
    if let Err(e) = cache.delete(&key).await {
        tracing::warn!(error = %e, %key, "cache delete failed; the entry expires on its TTL");
    }
    tokio::spawn(async move {
        tokio::time::sleep(SETTLE_DELAY).await;
        let _ = cache.delete(&key).await;
    });
}

#[derive(Clone)]
struct Entry {
    value: String,
    expires_at: Instant,
}

struct EntryExpiry;

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, value: &Entry, created_at: Instant) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(created_at))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        updated_at: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(updated_at))
    }
}

/// In-process cache; bounded in entries so a flood of distinct keys (one
/// per attacking IP, say) cannot grow memory without limit.
pub struct MemoryCache {
    entries: Moka<String, Entry>,
}

const MEMORY_CACHE_CAPACITY: u64 = 200_000;

impl MemoryCache {
    pub fn new() -> Self {
        Self {
            entries: Moka::builder()
                .support_invalidation_closures()
                .max_capacity(MEMORY_CACHE_CAPACITY)
                .expire_after(EntryExpiry)
                .build(),
        }
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(self
            .entries
            .get(key)
            .await
            .filter(|e| e.expires_at > Instant::now())
            .map(|e| e.value))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let entry = Entry {
            value: value.to_owned(),
            expires_at: Instant::now() + ttl,
        };
        self.entries.insert(key.to_owned(), entry).await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.entries.invalidate(key).await;
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, CacheError> {
        let count = self.entries.iter().filter(|(k, _)| k.starts_with(prefix)).count() as u64;
        let prefix = prefix.to_owned();
        self.entries
            .invalidate_entries_if(move |k, _| k.starts_with(&prefix))
            .map_err(|e| CacheError(e.to_string()))?;
        Ok(count)
    }

    async fn hit(&self, key: &str, window: Duration) -> WindowCount {
        let now = Instant::now();
        let entry = self
            .entries
            .entry(key.to_owned())
            .and_upsert_with(|current| {
                let next = match current.map(|e| e.into_value()) {
                    Some(e) if e.expires_at > now => Entry {
                        value: (e.value.parse::<u64>().unwrap_or(0) + 1).to_string(),
                        expires_at: e.expires_at,
                    },
                    _ => Entry {
                        value: "1".into(),
                        expires_at: now + window,
                    },
                };
                std::future::ready(next)
            })
            .await
            .into_value();
        WindowCount {
            count: entry.value.parse().unwrap_or(1),
            resets_in: entry.expires_at.saturating_duration_since(now),
        }
    }
}

/// Redis-backed cache; counters fall back to a local window when Redis
/// cannot answer, so rate limits keep holding per instance.
pub struct RedisCache {
    conn: RedisConnection,
    local: MemoryCache,
}

/// INCR and set the window on first hit in one atomic step, so a counter can
/// never be left without a TTL.
const HIT_SCRIPT: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"#;

impl RedisCache {
    pub(crate) fn new(conn: RedisConnection) -> Self {
        Self {
            conn,
            local: MemoryCache::new(),
        }
    }
}

/// A failed command: counted by operation, then reported to the caller.
fn unavailable(operation: &'static str) -> impl FnOnce(fred::error::Error) -> CacheError {
    move |e| {
        super::metrics::cache_error(operation);
        CacheError(e.to_string())
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        self.conn
            .client
            .get(self.conn.key(key))
            .await
            .map_err(unavailable("get"))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.conn
            .client
            .set::<(), _, _>(self.conn.key(key), value, Some(Expiration::PX(ms)), None, false)
            .await
            .map_err(unavailable("set"))
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.conn
            .client
            .del::<(), _>(self.conn.key(key))
            .await
            .map_err(unavailable("delete"))
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, CacheError> {
        use futures::TryStreamExt;
        let escaped: String = self
            .conn
            .key(prefix)
            .chars()
            .flat_map(|c| match c {
                '*' | '?' | '[' | ']' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let keys: Vec<fred::types::Key> = self
            .conn
            .client
            .scan_buffered(format!("{escaped}*"), Some(500), None)
            .try_collect()
            .await
            .map_err(unavailable("delete_prefix"))?;
        let mut deleted = 0u64;
        for chunk in keys.chunks(500) {
            deleted += self
                .conn
                .client
                .del::<u64, _>(chunk.to_vec())
                .await
                .map_err(unavailable("delete_prefix"))?;
        }
        Ok(deleted)
    }

    async fn hit(&self, key: &str, window: Duration) -> WindowCount {
        let ms = window.as_millis().max(1).to_string();
        let result: Result<(u64, i64), _> = self
            .conn
            .client
            .eval(HIT_SCRIPT, vec![self.conn.key(key)], vec![ms])
            .await;
        match result {
            Ok((count, ttl_ms)) => WindowCount {
                count,
                resets_in: Duration::from_millis(ttl_ms.max(0) as u64),
            },
            Err(e) => {
                super::metrics::cache_error("hit");
                tracing::warn!(error = %e, "redis counter unavailable; counting locally");
                self.local.hit(key, window).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_expire_and_windows_reset() {
        let cache = MemoryCache::new();
        cache.set("k", "v", Duration::from_millis(50)).await.unwrap();
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some("v"));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(cache.get("k").await.unwrap(), None);

        let w = Duration::from_millis(80);
        assert_eq!(cache.hit("c", w).await.count, 1);
        assert_eq!(cache.hit("c", w).await.count, 2);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(cache.hit("c", w).await.count, 1);
    }
}
