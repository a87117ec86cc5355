//! deploy/redis on a real redis-server: the primary's settings take
//! effect, the replica copies the primary, Sentinel watches it, and a
//! backup made by backup.sh comes back with restore.sh (the restore drill
//! of docs/deploy.md, on loopback ports and temp directories).
//!
//! What the test changes in the files: PRIMARY_HOST becomes the test
//! primary's address, and the command line gives each server its own port,
//! data directory and log file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::redis::spawn_redis_server;
use crate::{Guarded, TempDir, free_port, read_log, repo_file};

/// How long a server may take to answer, or replication to catch up.
const WAIT: Duration = Duration::from_secs(20);

/// A redis-server (or sentinel) started from one of deploy's files.
struct Server {
    port: u16,
    dir: PathBuf,
    _process: Guarded,
}

impl Server {
    /// `redis-server <conf> [--sentinel]` with `PRIMARY_HOST 6379` turned
    /// into `primary`, on a free port, its files in `dir`.
    fn start(file: &str, dir: &Path, primary: Option<u16>, sentinel: bool) -> Server {
        Server::start_with(file, dir, primary, sentinel, &[])
    }

    /// As [`Server::start`], with more command-line settings.
    fn start_with(file: &str, dir: &Path, primary: Option<u16>, sentinel: bool, extra: &[&str]) -> Server {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let mut text = std::fs::read_to_string(repo_file(file)).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        if let Some(port) = primary {
            assert!(text.contains("PRIMARY_HOST 6379"), "{file} names no PRIMARY_HOST 6379");
            text = text.replace("PRIMARY_HOST 6379", &format!("127.0.0.1 {port}"));
        }
        // Sentinel rewrites its file: each gets a copy.
        let conf = dir.join("redis.conf");
        std::fs::write(&conf, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
        let log = dir.join("redis.log");
        for _ in 0..5 {
            let port = free_port();
            let mut command = Command::new("redis-server");
            command.arg(&conf);
            if sentinel {
                command.arg("--sentinel");
            }
            command.args(["--port", &port.to_string()]).args(extra);
            let child = spawn_redis_server(command, dir, &log);
            let mut process = Guarded::new(child, "KILL");
            let deadline = Instant::now() + WAIT;
            loop {
                if process.exited().is_some() {
                    break;
                }
                if let Ok(mut con) = connect(port)
                    && redis::cmd("PING").query::<String>(&mut con).is_ok_and(|p| p == "PONG")
                {
                    return Server {
                        port,
                        dir: dir.to_path_buf(),
                        _process: process,
                    };
                }
                assert!(
                    Instant::now() < deadline,
                    "{file} did not start; its log:\n{}",
                    read_log(&log)
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            if !read_log(&log).contains("Address already in use") {
                panic!("redis-server with {file} exited; its log:\n{}", read_log(&log));
            }
        }
        panic!("redis-server found no free port in 5 attempts")
    }

    fn connection(&self) -> redis::Connection {
        connect(self.port).unwrap_or_else(|e| panic!("cannot connect to redis on port {}: {e}", self.port))
    }

    fn config(&self, name: &str) -> String {
        let pair: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(&mut self.connection())
            .unwrap_or_else(|e| panic!("CONFIG GET {name}: {e}"));
        pair.get(1).cloned().unwrap_or_default()
    }
}

fn connect(port: u16) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))?.get_connection_with_timeout(Duration::from_millis(500))
}

/// Waits until `check` holds, or fails saying `what`.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_primary_keeps_votes_durable_the_replica_copies_them_and_sentinel_watches() {
    let dir = TempDir::new("redis");
    // Redis waits 5 s for more replicas before a first sync; one is enough here.
    let primary = Server::start_with(
        "deploy/redis/redis.conf",
        &dir.path().join("primary"),
        None,
        false,
        &["--repl-diskless-sync-delay", "0"],
    );
    for (name, value) in [
        ("appendonly", "yes"),
        ("appendfsync", "everysec"),
        ("maxmemory-policy", "noeviction"),
        ("protected-mode", "yes"),
    ] {
        assert_eq!(primary.config(name), value, "redis.conf: {name}");
    }
    assert!(
        redis::cmd("FLUSHALL").query::<()>(&mut primary.connection()).is_err(),
        "FLUSHALL is renamed away"
    );
    let mut con = primary.connection();
    let _: () = redis::cmd("HSET")
        .arg("cyoa:run:1:tally")
        .arg("tinder")
        .arg(12)
        .query(&mut con)
        .unwrap_or_else(|e| panic!("HSET: {e}"));

    let replica = Server::start(
        "deploy/redis/replica.conf",
        &dir.path().join("replica"),
        Some(primary.port),
        false,
    );
    assert_eq!(replica.config("replica-read-only"), "yes");
    wait_until("the replica has the primary's tally", || {
        redis::cmd("HGET")
            .arg("cyoa:run:1:tally")
            .arg("tinder")
            .query::<Option<String>>(&mut replica.connection())
            .is_ok_and(|v| v.as_deref() == Some("12"))
    });
    assert!(
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(&mut replica.connection())
            .is_err(),
        "the replica refuses writes"
    );

    let sentinel = Server::start(
        "deploy/redis/sentinel.conf",
        &dir.path().join("sentinel"),
        Some(primary.port),
        true,
    );
    let addr: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("cyoa")
        .query(&mut sentinel.connection())
        .unwrap_or_else(|e| panic!("SENTINEL get-master-addr-by-name: {e}"));
    assert_eq!(addr, vec!["127.0.0.1".to_string(), primary.port.to_string()]);
    wait_until("Sentinel found the replica", || {
        redis::cmd("SENTINEL")
            .arg("replicas")
            .arg("cyoa")
            .query::<Vec<redis::Value>>(&mut sentinel.connection())
            .is_ok_and(|r| !r.is_empty())
    });
}

/// Runs one of deploy/redis's scripts with `env`; returns its output.
fn script(name: &str, args: &[&Path], env: &[(&str, String)]) -> String {
    let mut command = Command::new("bash");
    command.arg(repo_file(&format!("deploy/redis/{name}"))).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap_or_else(|e| panic!("cannot run bash: {e}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} failed:\n{said}");
    said
}

/// Sets a file's modification time `days` back, as `touch -d` does.
fn age(path: &Path, days: u32) {
    std::fs::write(path, "an old archive").unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let ok = Command::new("touch")
        .arg("-d")
        .arg(format!("{days} days ago"))
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "touch -d failed on {}", path.display());
}

#[test]
fn the_restore_drill_brings_a_backup_back() {
    if Command::new("rsync").arg("--version").output().is_err() {
        panic!("rsync not found: install it with `apt-get install rsync` (scripts/lint-deploy.sh does this)");
    }
    let dir = TempDir::new("backup");
    let vault = dir.path().join("vault");
    std::fs::create_dir_all(&vault).unwrap_or_else(|e| panic!("{e}"));
    let stale = vault.join("cyoa-redis-20000101T000000Z.tar.gz");
    let recent = vault.join("cyoa-redis-20000102T000000Z.tar.gz");
    age(&stale, 30);
    age(&recent, 3);

    // Votes on the production-like primary.
    let lost;
    {
        let primary = Server::start("deploy/redis/redis.conf", &dir.path().join("primary"), None, false);
        let mut con = primary.connection();
        let _: () = redis::cmd("HSET")
            .arg("cyoa:run:1:tally")
            .arg("dachshund")
            .arg(31)
            .query(&mut con)
            .unwrap_or_else(|e| panic!("HSET: {e}"));
        let said = script(
            "backup.sh",
            &[],
            &[
                ("BACKUP_TARGET", vault.display().to_string()),
                ("BACKUP_KEEP_DAYS", "14".into()),
                ("REDIS_DIR", primary.dir.display().to_string()),
                ("REDIS_CLI", format!("redis-cli -p {}", primary.port)),
            ],
        );
        assert!(said.contains("cyoa-redis-"), "{said}");
        // A write after the backup: the drill must not bring it back.
        let _: () = redis::cmd("SET")
            .arg("cyoa:after-backup")
            .arg(1)
            .query(&mut con)
            .unwrap_or_else(|e| panic!("SET: {e}"));
        lost = primary.port;
        // The primary is gone: dropped here, killed.
    }
    assert!(!stale.exists(), "backup.sh kept an archive older than 14 days");
    assert!(recent.exists(), "backup.sh removed an archive younger than 14 days");
    let archives: Vec<PathBuf> = std::fs::read_dir(&vault)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p != &recent && p.extension().is_some_and(|x| x == "gz"))
        .collect();
    assert_eq!(archives.len(), 1, "one new archive: {archives:?}");
    let archive = &archives[0];
    assert!(
        archive.with_extension("gz.sha256").exists(),
        "no checksum beside {}",
        archive.display()
    );

    // The drill: a new, empty data directory, restore.sh, then Redis.
    let fresh = dir.path().join("restored");
    std::fs::create_dir_all(&fresh).unwrap_or_else(|e| panic!("{e}"));
    script(
        "restore.sh",
        &[archive],
        &[
            ("REDIS_DIR", fresh.display().to_string()),
            ("REDIS_CLI", format!("redis-cli -p {lost}")),
        ],
    );
    let restored = Server::start("deploy/redis/redis.conf", &fresh, None, false);
    let mut con = restored.connection();
    let votes: Option<String> = redis::cmd("HGET")
        .arg("cyoa:run:1:tally")
        .arg("dachshund")
        .query(&mut con)
        .unwrap_or_else(|e| panic!("HGET: {e}"));
    assert_eq!(votes.as_deref(), Some("31"), "the restored tally");
    let after: Option<String> = redis::cmd("GET")
        .arg("cyoa:after-backup")
        .query(&mut con)
        .unwrap_or_else(|e| panic!("GET: {e}"));
    assert_eq!(after, None, "a write made after the backup came back");
}
