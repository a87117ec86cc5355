//! Redis Sentinel: the store connects through `redis+sentinel://` and
//! follows a real failover (primary killed, the replica promoted by one
//! Sentinel with quorum 1) without a restart and without losing a vote.

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cyoa::store::{RedisStore, VoteKind, VoteStore, Voter};

use crate::support::redis::{RedisServer, fresh_prefix, spawn_redis_server};

/// The primary's name the Sentinel watches.
const NAME: &str = "cyoa-primary";

/// A `redis-server --sentinel` of the test's own; killed when dropped.
struct Sentinel {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Sentinel {
    fn start(primary_port: u16) -> Sentinel {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = std::env::temp_dir().join(format!("cyoa-test-sentinel-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for the Sentinel");
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {}\nlogfile {}\n\
                 sentinel monitor {NAME} 127.0.0.1 {primary_port} 1\n\
                 sentinel down-after-milliseconds {NAME} 1000\n\
                 sentinel failover-timeout {NAME} 5000\n",
                dir.display(),
                dir.join("sentinel.log").display()
            ),
        )
        .expect("the Sentinel's config");
        // Debian's redis-sentinel is redis-server in Sentinel mode.
        let mut command = Command::new("redis-server");
        command.arg(&conf).arg("--sentinel");
        let child = spawn_redis_server(command, &dir, &dir.join("sentinel.log"));
        Sentinel { child, port, dir }
    }

    fn query(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        let mut con = client.get_connection_with_timeout(Duration::from_millis(500))?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut con)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sentinel.log")).unwrap_or_default()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `check` every 50 ms until it holds, for at most `within`.
fn wait_until(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_follows_a_sentinel_failover_without_a_restart() {
    let mut primary = RedisServer::start();
    let replica = RedisServer::start();
    let mut con = replica.connection();
    let () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.port())
        .query(&mut con)
        .expect("REPLICAOF");
    wait_until(Duration::from_secs(20), "the replica is in sync", || {
        redis::cmd("INFO")
            .arg("replication")
            .query::<String>(&mut con)
            .is_ok_and(|info| info.contains("master_link_status:up"))
    });
    let sentinel = Sentinel::start(primary.port());
    wait_until(
        Duration::from_secs(30),
        "the Sentinel knows the replica",
        || matches!(sentinel.query(&["SENTINEL", "REPLICAS", NAME]), Ok(redis::Value::Array(r)) if !r.is_empty()),
    );

    let url = format!("redis+sentinel://127.0.0.1:{}/{NAME}", sentinel.port);
    let store = VoteStore::Redis(
        RedisStore::connect(&url, &fresh_prefix())
            .await
            .expect("connects through the Sentinel"),
    );
    let run = store.current("intro").await.expect("a run").run;
    store.open(run, "intro").await.expect("opens");
    let before = Voter::web("before-the-failover");
    store
        .vote(run, "intro", &before, "a", VoteKind::Sticky)
        .await
        .expect("a vote");
    // The vote reached the replica before the primary dies.
    let mut primary_con = primary.connection();
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query(&mut primary_con)
        .expect("WAIT");
    assert_eq!(acked, 1, "the replica acknowledged the write");

    primary.kill();
    let killed = Instant::now();
    let after = Voter::web("after-the-failover");
    loop {
        let error = match store.vote(run, "intro", &after, "b", VoteKind::Sticky).await {
            Ok(_) => break,
            Err(e) => e,
        };
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "no vote counted within 60 s of the failover; last error: {error}\nSentinel log:\n{}",
            sentinel.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "the store voted on the new primary {:?} after the old one was killed",
        killed.elapsed()
    );
    let tally = store.tally(run, "intro").await.expect("the tally");
    assert_eq!((tally.get("a"), tally.get("b")), (1, 1), "no vote lost: {tally:?}");
}
