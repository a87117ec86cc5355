//! A real `redis-server` for the tests, on a free loopback port.
//!
//! [`shared()`] starts one server per test binary, lazily, the first time a
//! test asks for it; tests keep apart by giving every store its own key
//! prefix from [`fresh_prefix()`]. A test that stops, restarts or breaks
//! its server starts its own with [`RedisServer::start()`] instead.
//!
//! No server outlives `cargo test`: statics are never dropped, so each
//! server comes with a watchdog, a `sh` that blocks reading a pipe whose
//! only writer is the test process. When the test binary exits, however it
//! exits (even killed), the kernel closes the pipe, `read` returns and the
//! watchdog kills the server and removes its directory. An owned
//! [`RedisServer`] does the same at once when dropped.
//!
//! The server runs with `--save "" --appendonly no`: nothing is written to
//! disk unless a test asks for it with [`RedisServer::restart()`], which
//! saves the data set (`SHUTDOWN SAVE`) and loads it again.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer PING after it was started.
const READY_WITHIN: Duration = Duration::from_secs(20);
/// How many free ports to try when another process takes the one chosen.
const PORT_ATTEMPTS: usize = 5;

/// The server this test binary shares between its tests; started on first
/// use. Keep tests apart with [`fresh_prefix()`].
pub fn shared() -> &'static RedisServer {
    static SHARED: OnceLock<RedisServer> = OnceLock::new();
    SHARED.get_or_init(RedisServer::start)
}

/// A key prefix no other test in any test binary uses:
/// `test:<pid>:<counter>:`.
pub fn fresh_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("test:{}:{}:", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A running (or stopped) `redis-server` owned by the tests.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    process: Option<Process>,
}

/// The server process and the watchdog that kills it if the tests die.
struct Process {
    server: Child,
    watchdog: Child,
    /// Held open for the watchdog: closing it (or exiting) ends the server.
    _lifeline: ChildStdin,
}

impl RedisServer {
    /// Starts a new, empty server of its own on a free port.
    ///
    /// Panics if `redis-server` is missing or does not start.
    pub fn start() -> RedisServer {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let dir = std::env::temp_dir().join(format!(
            "cyoa-test-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // A directory left by an earlier binary with the same pid is stale.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            match Process::spawn(port, &dir) {
                Ok(process) => {
                    return RedisServer {
                        port,
                        dir,
                        process: Some(process),
                    };
                }
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!("redis-server did not start; its log:\n{log}"),
            }
        }
        panic!("redis-server found no free port in {PORT_ATTEMPTS} attempts; last log:\n{last_log}")
    }

    /// `redis://127.0.0.1:<port>/`, for `RedisStore::connect`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port the server listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A plain blocking connection, for checks the store does not offer
    /// (SCAN, INFO).
    pub fn connection(&self) -> ::redis::Connection {
        ::redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
            .unwrap_or_else(|e| panic!("cannot connect to the test redis-server at {}: {e}", self.url()))
    }

    /// Every key under `prefix` as `DUMP` writes it: a backup of one talk.
    pub fn backup(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let mut con = self.connection();
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut con)
            .expect("KEYS");
        keys.into_iter()
            .map(|key| {
                let dump: Vec<u8> = ::redis::cmd("DUMP").arg(&key).query(&mut con).expect("DUMP");
                (key, dump)
            })
            .collect()
    }

    /// Puts a [`RedisServer::backup`] back, over whatever the keys hold.
    pub fn restore(&self, backup: &[(String, Vec<u8>)]) {
        let mut con = self.connection();
        for (key, dump) in backup {
            let () = ::redis::cmd("RESTORE")
                .arg(key)
                .arg(0)
                .arg(dump)
                .arg("REPLACE")
                .query(&mut con)
                .expect("RESTORE");
        }
    }

    /// Deletes every key under `prefix`: what a flush does to one talk,
    /// without touching the other tests' keys on a shared server.
    pub fn delete_prefix(&self, prefix: &str) {
        let keys: Vec<String> = self.backup(prefix).into_iter().map(|(key, _)| key).collect();
        if !keys.is_empty() {
            let _: i64 = ::redis::cmd("DEL")
                .arg(&keys)
                .query(&mut self.connection())
                .expect("DEL");
        }
    }

    /// Stops the server after saving its data to its directory; clients see
    /// the connection drop. [`RedisServer::start_again`] brings it back.
    pub fn stop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        // SHUTDOWN SAVE closes the connection instead of replying.
        let _: ::redis::RedisResult<()> = ::redis::cmd("SHUTDOWN").arg("SAVE").query(&mut self.connection());
        let deadline = Instant::now() + READY_WITHIN;
        while process.server.try_wait().ok().flatten().is_none() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not stop after SHUTDOWN SAVE"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        process.end();
    }

    /// Kills the server at once (SIGKILL), without saving: a crash.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.end();
        }
    }

    /// Starts the stopped server again on the same port, loading the data
    /// [`RedisServer::stop`] saved.
    pub fn start_again(&mut self) {
        assert!(self.process.is_none(), "the redis-server is still running");
        match Process::spawn(self.port, &self.dir) {
            Ok(process) => self.process = Some(process),
            Err(log) => panic!(
                "redis-server did not start again on port {}; its log:\n{log}",
                self.port
            ),
        }
    }

    /// Stops the server (saving its data) and starts it again on the same
    /// port: what a store sees when Redis restarts.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Process {
    /// Starts `redis-server` on `port` with its files in `dir` and waits
    /// until it answers PING. On failure returns the server's log.
    fn spawn(port: u16, dir: &Path) -> Result<Process, String> {
        let log = dir.join("redis.log");
        let _ = std::fs::remove_file(&log);
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"]);
        let server = spawn_redis_server(command, dir, &log);
        let mut watchdog = Command::new("sh")
            .arg("-c")
            // Blocks until the test process closes the pipe (or exits), then
            // kills the server if that pid is still a redis-server.
            .arg(r#"read _ignored; case "$(cat /proc/$1/comm 2>/dev/null)" in redis-server*) kill -9 "$1";; esac; rm -rf "$2""#)
            .arg("cyoa-redis-watchdog")
            .arg(server.id().to_string())
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sh for the redis-server watchdog: {e}"));
        let lifeline = watchdog.stdin.take().expect("stdin was piped");
        let mut process = Process {
            server,
            watchdog,
            _lifeline: lifeline,
        };
        let url = format!("redis://127.0.0.1:{port}/");
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(_)) = process.server.try_wait() {
                process.end();
                return Err(read_log(&log));
            }
            if answers_ping(&url, process.server.id()) {
                return Ok(process);
            }
            if Instant::now() > deadline {
                process.end();
                return Err(format!("no PONG within {READY_WITHIN:?}\n{}", read_log(&log)));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills and reaps the server and its watchdog.
    fn end(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// A port that was free a moment ago (the OS picks it; the listener is
/// released before the server binds it, so another process may take it:
/// `start` retries then).
/// Runs `command` (a `redis-server` with its own settings: a config file,
/// a port, Sentinel mode) in the foreground with its files in `dir` and its
/// log in `log`; the one place the tests start a Redis, and say how to get
/// it when it is missing.
pub fn spawn_redis_server(mut command: Command, dir: &Path, log: &Path) -> std::process::Child {
    let spawned = command
        .args(["--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "redis-server not found: install it with `apt-get install redis-server redis-sentinel` \
             (scripts/test.sh does this)"
        ),
        Err(e) => panic!("cannot run redis-server: {e}"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

/// Whether the server at `url` is the one with process id `pid` (not
/// another that took the port first) and answers PING with PONG (not
/// LOADING).
fn answers_ping(url: &str, pid: u32) -> bool {
    let Ok(client) = ::redis::Client::open(url) else {
        return false;
    };
    let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
        return false;
    };
    let ours = match ::redis::cmd("INFO").arg("server").query::<String>(&mut con) {
        Ok(info) => info.lines().any(|l| l.trim_end() == format!("process_id:{pid}")),
        Err(_) => false,
    };
    ours && matches!(::redis::cmd("PING").query::<String>(&mut con), Ok(ref pong) if pong == "PONG")
}

fn read_log(path: &Path) -> String {
    let mut log = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut log);
    }
    log
}
