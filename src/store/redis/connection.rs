//! The connection to Redis: opening it (a plain `redis://` URL or Redis
//! Sentinel), reconnecting, following a Sentinel failover, and the
//! separate connection of the events subscription.
//!
//! Commands share one multiplexed connection ([`ConnectionManager`]),
//! which reconnects on its own with a few short retries: while Redis is
//! down a request fails within seconds rather than hanging. With Sentinels,
//! every failed command also asks them, in the background and one lookup
//! at a time, where the primary is now; the next command goes there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelServerType};

use super::RedisStore;
use super::scripts;
use crate::store::{Events, Result, StoreError};

/// How long a command may take before the store reports Redis unavailable.
/// Generous: a vote that timed out may still have counted.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one attempt to connect may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts to reconnect after the first fails, and the longest pause
/// between them. Requests wait for these attempts, so they are few: while
/// Redis is down a vote fails within seconds instead of hanging, and the
/// next request tries again.
const RECONNECT_RETRIES: usize = 2;
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(500);

/// The connection to the primary, and how to find a new one.
pub(super) struct Link {
    /// The primary in use; replaced after a Sentinel failover.
    current: std::sync::RwLock<Primary>,
    /// With `redis+sentinel://`: asks the Sentinels for the primary.
    sentinel: Option<tokio::sync::Mutex<SentinelClient>>,
    /// Whether a lookup of the primary is under way (one at a time).
    looking: AtomicBool,
}

/// The connections to the primary in use, and the client that opened them
/// (which also opens the event subscriptions).
struct Primary {
    /// The votes, the presenter's changes, the sweeps: everything but...
    con: ConnectionManager,
    /// ...the reads of the tallies the pushes send and the events
    /// published, on a connection of their own, opened on the push lane
    /// ([`crate::talk::lane`]): Redis serves its connections in turn, so
    /// a push's read is not queued behind the thousands of votes in flight
    /// on `con`, and the lane's thread reads its replies, not the
    /// server's busy runtime.
    reads: ConnectionManager,
    client: redis::Client,
}

impl Primary {
    /// Both connections to the primary `client` names.
    async fn connect(client: redis::Client) -> redis::RedisResult<Primary> {
        let con = ConnectionManager::new_with_config(client.clone(), manager_config()).await?;
        // A connection's reader task runs on the runtime that opens it.
        let opening = ConnectionManager::new_with_config(client.clone(), manager_config());
        let reads = crate::talk::lane::run(opening)
            .await
            .ok_or_else(|| redis::RedisError::from((redis::ErrorKind::Io, "the push lane stopped")))??;
        Ok(Primary { con, reads, client })
    }
}

/// The settings of every connection to the primary.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_number_of_retries(RECONNECT_RETRIES)
        .set_max_delay(RECONNECT_MAX_DELAY)
}

/// The Sentinels and the primary's name of a
/// `redis+sentinel://host:port[,host:port...]/name` URL.
fn sentinel_url(url: &str) -> Option<Result<(Vec<String>, String)>> {
    let rest = url.strip_prefix("redis+sentinel://")?;
    let bad =
        || StoreError::Backend("bad Redis URL: use redis+sentinel://HOST:PORT[,HOST:PORT...]/PRIMARY-NAME".into());
    let Some((hosts, name)) = rest.split_once('/') else {
        return Some(Err(bad()));
    };
    let name = name.trim_end_matches('/');
    let hosts: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| format!("redis://{h}/"))
        .collect();
    if hosts.is_empty() || name.is_empty() {
        return Some(Err(bad()));
    }
    Some(Ok((hosts, name.to_string())))
}

impl Link {
    /// Connects to `url` (asking the Sentinels for the primary with
    /// `redis+sentinel://`) and loads the store's scripts there. Fails if
    /// Redis does not answer.
    pub(super) async fn open(url: &str) -> Result<Link> {
        let (client, sentinel) = match sentinel_url(url) {
            None => (redis::Client::open(url).map_err(|e| backend("bad Redis URL", e))?, None),
            Some(parsed) => {
                let (hosts, name) = parsed?;
                let mut sentinel = SentinelClient::build(hosts, name, None, SentinelServerType::Master)
                    .map_err(|e| backend("bad Redis Sentinel URL", e))?;
                let client = sentinel
                    .async_get_client()
                    .await
                    .map_err(|e| backend("the Sentinels named no primary", e))?;
                (client, Some(tokio::sync::Mutex::new(sentinel)))
            }
        };
        let mut primary = Primary::connect(client)
            .await
            .map_err(|e| backend("cannot connect to Redis", e))?;
        scripts::preload(&mut primary.con)
            .await
            .map_err(|e| backend("cannot load the store's scripts into Redis", e))?;
        Ok(Link {
            current: std::sync::RwLock::new(primary),
            sentinel,
            looking: AtomicBool::new(false),
        })
    }

    /// Asks the Sentinels for the primary; if it moved, connects to the
    /// new one, loads the scripts there (a promoted replica holds none) and
    /// puts that connection in use.
    async fn find_primary(&self) -> redis::RedisResult<()> {
        let Some(sentinel) = &self.sentinel else {
            return Ok(());
        };
        let client = sentinel.lock().await.async_get_client().await?;
        let known = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .client
            .get_connection_info()
            .addr()
            .clone();
        if *client.get_connection_info().addr() == known {
            return Ok(());
        }
        let mut primary = Primary::connect(client).await?;
        // Not loaded is not fatal: each script then loads on its first call.
        if let Err(e) = scripts::preload(&mut primary.con).await {
            tracing::warn!(error = %e, "cannot load the store's scripts into the new Redis primary yet");
        }
        tracing::info!("the Redis primary moved (Sentinel failover): using the new one");
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = primary;
        Ok(())
    }
}

impl RedisStore {
    /// The connection in use.
    pub(in crate::store) fn con(&self) -> ConnectionManager {
        self.link.current.read().unwrap_or_else(|e| e.into_inner()).con.clone()
    }

    /// The push lane's connection: the pushes' reads of the tallies, and
    /// the events published.
    pub(in crate::store) fn reads(&self) -> ConnectionManager {
        self.link
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .reads
            .clone()
    }

    /// The client of the primary in use.
    fn client(&self) -> redis::Client {
        self.link
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .client
            .clone()
    }

    /// A command failed: the store error, and with Sentinels, a lookup of
    /// the primary in the background (it may have failed over; the next
    /// command then goes to the new one).
    pub(in crate::store) fn failed(&self, e: redis::RedisError) -> StoreError {
        if self.link.sentinel.is_some() && !self.link.looking.swap(true, Ordering::AcqRel) {
            let link = self.link.clone();
            tokio::spawn(async move {
                if let Err(e) = link.find_primary().await {
                    tracing::warn!(error = %e, "cannot find the Redis primary through the Sentinels");
                }
                link.looking.store(false, Ordering::Release);
            });
        }
        backend("Redis", e)
    }

    /// Opens a connection of its own, subscribes to the events channel and
    /// returns its messages. The stream ends when the connection does.
    pub(in crate::store) async fn subscribe(&self) -> Result<Events> {
        let client = self.client();
        let connecting = client.get_async_pubsub();
        let mut pubsub = tokio::time::timeout(CONNECTION_TIMEOUT, connecting)
            .await
            .map_err(|_| StoreError::Backend("Redis: no connection for the events within the timeout".into()))?
            .map_err(|e| self.failed(e))?;
        tokio::time::timeout(RESPONSE_TIMEOUT, pubsub.subscribe(self.channel()))
            .await
            .map_err(|_| StoreError::Backend("Redis: no answer to SUBSCRIBE within the timeout".into()))?
            .map_err(|e| backend("cannot subscribe to the events", e))?;
        let messages = pubsub
            .into_on_message()
            .filter_map(|m| std::future::ready(m.get_payload::<String>().ok()));
        Ok(Box::pin(messages))
    }
}

/// A Redis failure as the store reports it: what failed, and why.
pub(super) fn backend(what: &str, e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("{what}: {e}"))
}
