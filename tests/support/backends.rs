//! Running one vote-store case against both backends: the memory store and
//! a real redis-server (a fresh key prefix per test).

use cyoa::store::{MemoryStore, RedisStore, VoteStore};

use super::redis::{RedisServer, fresh_prefix, shared};

/// Runs each named case (an `async fn(VoteStore)` of the test file) against
/// the memory store as `in_memory::<case>` and against Redis as
/// `in_redis::<case>`.
// Only the binaries with backend cases use it; the others compile it unused.
#[allow(unused_macros)]
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::support::backends::memory_store()).await
                }
            )*
        }
        mod in_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::support::backends::redis_store().await).await
                }
            )*
        }
    };
}

/// A fresh, empty memory store.
pub fn memory_store() -> VoteStore {
    VoteStore::Memory(MemoryStore::new())
}

/// A store on the shared test redis-server, under a key prefix of its own.
pub async fn redis_store() -> VoteStore {
    redis_store_at(shared(), &fresh_prefix()).await
}

/// A store on `server` under `prefix`.
pub async fn redis_store_at(server: &RedisServer, prefix: &str) -> VoteStore {
    match RedisStore::connect(&server.url(), prefix).await {
        Ok(store) => VoteStore::Redis(store),
        Err(e) => panic!("cannot connect to the test redis-server: {e}"),
    }
}
