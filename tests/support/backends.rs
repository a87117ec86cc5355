//! Running one vote-store case against the three backends: the memory
//! store, a real redis-server (a fresh key prefix per test) and the
//! embedded store (a fresh data file per test, in a temporary folder).

use std::path::Path;
use std::time::Duration;

use cyoa::store::{EmbeddedStore, MemoryStore, RedisStore, VoteStore};

use super::redis::{RedisServer, fresh_prefix, shared};

/// Runs each named case (an `async fn(VoteStore)` of the test file) against
/// the memory store as `in_memory::<case>`, against Redis as
/// `in_redis::<case>` and against the embedded store as
/// `in_embedded::<case>`.
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
        mod in_embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let dir = $crate::support::backends::data_dir();
                    super::$case($crate::support::backends::embedded_store(dir.path())).await
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

/// A temporary folder for a data file, removed when dropped.
pub fn data_dir() -> tempfile::TempDir {
    match tempfile::Builder::new().prefix("cyoa-data-").tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("cannot make a temporary folder for a data file: {e}"),
    }
}

/// A new temporary folder and the data file `talk.sqlite3` in it (not
/// made yet); the folder goes when the `TempDir` is dropped.
pub fn data_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = data_dir();
    let file = dir.path().join("talk.sqlite3");
    (dir, file)
}

/// An embedded store on a new data file in `dir`.
pub fn embedded_store(dir: &Path) -> VoteStore {
    embedded_store_at(&dir.join("talk.sqlite3"), Duration::from_secs(30))
}

/// An embedded store on the data file `path` (made if missing), each
/// presence vote found there standing for `grace`.
///
/// A refusal for the file's lock is tried again for up to 10 s: a test
/// that reopens a file it has just closed can find the lock still held by
/// a child process another test of this binary is forking (a forked child
/// holds a copy of every descriptor until its exec closes them).
pub fn embedded_store_at(path: &Path, grace: Duration) -> VoteStore {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match EmbeddedStore::open_file(path, grace) {
            Ok(store) => return VoteStore::Embedded(store),
            Err(e) if e.contains("another cyoa server") && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot open the data file: {e}"),
        }
    }
}
