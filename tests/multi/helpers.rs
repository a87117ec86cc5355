//! The real `cyoa` binary as processes: [`Instance::start`] runs `cyoa
//! serve` on a free port against a test Redis, with the same story,
//! secret, token and key prefix as its siblings, so several instances serve
//! one talk. A [`Socket`] waits for messages with a timeout.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::presenter_request;
use crate::support::ws::Ws;
pub use crate::support::ws::votes_of;

/// The presenter token of every instance.
pub const TOKEN: &str = "multi-test-presenter-token";
/// The secret every instance shares (so cookies work on all of them).
pub const SECRET: &str = "the secret every instance of one multi test shares";
/// How long a test waits for an event before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// Two decisions in a row, then endings: the story of the single-instance
/// tests too.
pub const STORY: &str = include_str!("../fixtures/two_decisions.toml");

/// Writes [`STORY`] to a file of its own and returns its path.
pub fn story_file() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let path = std::env::temp_dir().join(format!(
        "cyoa-multi-story-{}-{}.toml",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, STORY).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Where the instances of one test meet: a Redis URL, a key prefix and a
/// story file.
#[derive(Clone)]
pub struct Talk {
    pub redis_url: String,
    pub prefix: String,
    pub story: PathBuf,
    /// `--presence-grace` in seconds.
    pub grace: u64,
    /// More `cyoa serve` arguments for every instance.
    pub args: Vec<String>,
}

impl Talk {
    /// A talk on the Redis at `redis_url`, with a fresh prefix, grace 1 s.
    pub fn new(redis_url: String) -> Talk {
        Talk {
            redis_url,
            prefix: crate::support::redis::fresh_prefix(),
            story: story_file(),
            grace: 1,
            args: Vec::new(),
        }
    }

    /// Starts one more instance of this talk.
    pub async fn instance(&self) -> Instance {
        Instance::start(self).await
    }
}

/// `--voter-min-age 0`, unless the talk's own arguments set it.
fn min_age(talk: &Talk) -> &'static [&'static str] {
    if talk.args.iter().any(|a| a == "--voter-min-age") {
        &[]
    } else {
        &["--voter-min-age", "0"]
    }
}

/// One running `cyoa serve` process.
pub struct Instance {
    child: Child,
    /// Its stderr (the log), shown when the test fails.
    log: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// `ws://127.0.0.1:PORT`.
    pub ws_address: String,
    client: reqwest::Client,
}

impl Instance {
    /// Starts `cyoa serve` on a free port and waits until it prints its
    /// audience URL (it is listening then).
    pub async fn start(talk: &Talk) -> Instance {
        Instance::start_at(talk, "127.0.0.1:0").await
    }

    /// Kills this instance if it still runs and starts a new process of
    /// `talk` on the same address (what a supervisor does after a crash).
    pub async fn restart(&mut self, talk: &Talk) {
        self.kill9();
        let bind = self.address.trim_start_matches("http://").to_string();
        let fresh = Instance::start_at(talk, &bind).await;
        drop(std::mem::replace(self, fresh));
    }

    async fn start_at(talk: &Talk, bind: &str) -> Instance {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let log = std::env::temp_dir().join(format!(
            "cyoa-multi-{}-{}.log",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_cyoa"))
            .arg("serve")
            .args(["--bind", bind])
            .arg("--story")
            .arg(&talk.story)
            .args(["--redis-url", &talk.redis_url])
            .args(["--redis-prefix", &talk.prefix])
            .args(["--presence-grace", &talk.grace.to_string()])
            .args(["--presenter-token", TOKEN])
            .args(["--secret", SECRET])
            // Votes count from a cookie at once, unless a test sets its own.
            .args(min_age(talk))
            .args(&talk.args)
            .env("RUST_LOG", "cyoa=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run the cyoa binary: {e}"));
        let stdout = child.stdout.take().expect("stdout was piped");
        let (found, url) = tokio::sync::oneshot::channel::<String>();
        // A thread reads stdout to the end, so the process never blocks on a
        // full pipe; the audience line tells the URL (it is listening then).
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("audience: ") {
                    if let Some(tx) = found.take() {
                        let _ = tx.send(url.trim_end_matches('/').to_string());
                    }
                }
            }
        });
        let address = tokio::time::timeout(WAIT, url)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("cyoa serve did not print its audience URL within {WAIT:?}"));
        let ws_address = address.replacen("http://", "ws://", 1);
        Instance {
            child,
            log,
            address,
            ws_address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(WAIT)
                .build()
                .expect("a client"),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: a crash.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        self.signal("-TERM");
    }

    /// `kill -STOP`: the process stalls (as a starved or swapped-out one
    /// does) with every socket still open, until [`Self::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// `kill -CONT`: the paused process runs on.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let status = Command::new("kill")
            .args([which, &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {which} failed");
    }

    /// Waits up to `within` for the process to exit.
    pub async fn exited_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `POST /api/presenter/{action}` with the token; the status and JSON.
    pub async fn presenter_call(&self, action: &str, body: Option<Value>) -> (StatusCode, Value) {
        let r = presenter_request(&self.client, &self.address, TOKEN, action, body)
            .send()
            .await
            .expect("the instance answers");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A presenter command that must succeed.
    pub async fn presenter(&self, action: &str, body: Option<Value>) -> Value {
        let (status, json) = self.presenter_call(action, body).await;
        assert_eq!(status, StatusCode::OK, "{action}: {json}");
        json
    }

    /// Goes to the `build` decision and opens its vote.
    pub async fn open_build(&self) {
        self.presenter("goto", Some(json!({ "slide": "build" }))).await;
        self.presenter("open", None).await;
    }

    /// A new voter: the `Cookie` header the audience page gave it.
    pub async fn voter(&self) -> String {
        self.cookie_from("/", StatusCode::OK).await
    }

    /// The presenter's `Cookie` header, from logging in.
    pub async fn presenter_cookie(&self) -> String {
        self.cookie_from(&format!("/presenter?token={TOKEN}"), StatusCode::SEE_OTHER)
            .await
    }

    /// The `Cookie` header of the answer to `GET path`, which must have
    /// this `status`.
    async fn cookie_from(&self, path: &str, status: StatusCode) -> String {
        let r = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), status);
        cookies_of(&r)
    }

    /// An audience socket with this `Cookie` header.
    pub async fn audience(&self, cookie: &str) -> Socket {
        Socket::open(&format!("{}/ws", self.ws_address), cookie).await
    }

    /// A presenter socket (logs in first).
    pub async fn presenter_socket(&self) -> Socket {
        let cookie = self.presenter_cookie().await;
        Socket::open(&format!("{}/ws?role=presenter", self.ws_address), &cookie).await
    }

    /// `POST /vote/{decision}` as this voter; the status.
    pub async fn post_vote(&self, cookie: &str, decision: &str, choice: &str) -> StatusCode {
        self.client
            .post(format!("{}/vote/{decision}", self.address))
            .header("cookie", cookie)
            // From cyoa's own page, as a browser says.
            .header("origin", &self.address)
            .form(&[("choice", choice)])
            .send()
            .await
            .expect("the instance answers")
            .status()
    }

    /// `GET /readyz`'s status.
    pub async fn readyz(&self) -> StatusCode {
        self.client
            .get(format!("{}/readyz", self.address))
            .send()
            .await
            .expect("the instance answers")
            .status()
    }

    /// `GET` a JSON route (with the presenter token).
    pub async fn get_json(&self, path: &str) -> Value {
        let r = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("answers");
        r.json().await.expect("JSON")
    }

    /// `GET` a page or text route with these `Cookie`s (and the presenter
    /// token when `cookie` is `None`); the status and the body.
    pub async fn get_text(&self, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
        let req = self.client.get(format!("{}{path}", self.address));
        let req = match cookie {
            Some(cookie) => req.header("cookie", cookie),
            None => req.bearer_auth(TOKEN),
        };
        let r = req.send().await.expect("answers");
        (r.status(), r.text().await.expect("a body"))
    }

    /// The value of one `/metrics` series (name and labels, exactly).
    pub async fn metric(&self, series: &str) -> f64 {
        let (status, text) = self.get_text("/metrics", None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{series}: {e}"))
    }

    /// Polls `/readyz` until it answers `status`.
    pub async fn wait_ready(&self, status: StatusCode) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.readyz().await != status {
            assert!(Instant::now() < deadline, "/readyz never answered {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- log of the instance at {} ---\n{log}", self.address);
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The `name=value` pairs of a response's `Set-Cookie` headers, as a
/// `Cookie` header.
fn cookies_of(r: &reqwest::Response) -> String {
    let pairs: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect();
    assert!(!pairs.is_empty(), "no cookie was set");
    pairs.join("; ")
}

/// A client socket.
pub struct Socket {
    ws: Ws,
}

impl Socket {
    async fn open(url: &str, cookie: &str) -> Socket {
        let mut req = url.into_client_request().expect("a request");
        req.headers_mut().insert("cookie", cookie.parse().expect("a header"));
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .unwrap_or_else(|e| panic!("the socket at {url} did not open: {e}"));
        Socket { ws }
    }

    /// The next JSON message, or `None` once the socket closed.
    pub async fn next_json(&mut self, within: Duration) -> Option<Value> {
        crate::support::ws::next_json(&mut self.ws, within).await
    }

    /// Reads messages until one of `kind` satisfies `wanted`, within `within`.
    pub async fn wait_for_within(&mut self, kind: &str, within: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = tokio::time::timeout(left, self.next_json(within))
                .await
                .unwrap_or_else(|_| panic!("no {kind} message as wanted within {within:?}"))
                .unwrap_or_else(|| panic!("the socket closed while waiting for a {kind} message"));
            if message["type"] == kind && wanted(&message) {
                return message;
            }
        }
    }

    /// [`Self::wait_for_within`] the usual [`WAIT`].
    pub async fn wait_for(&mut self, kind: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_within(kind, WAIT, wanted).await
    }

    /// Waits for a `tally` of `decision` where `choice` has `votes`.
    pub async fn wait_for_tally(&mut self, decision: &str, choice: &str, votes: u64) -> Value {
        self.wait_for("tally", |m| m["decision"] == decision && votes_of(m, choice) == votes)
            .await
    }

    /// Waits for a `tally` or a `state` (a resync after missed events)
    /// where `decision`'s `choice` has `votes`; returns the decision JSON.
    pub async fn wait_for_count(&mut self, decision: &str, choice: &str, votes: u64) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = tokio::time::timeout(left, self.next_json(WAIT))
                .await
                .unwrap_or_else(|_| panic!("no count of {votes} for {choice} within {WAIT:?}"))
                .expect("the socket stays open");
            let counts = match m["type"].as_str() {
                Some("tally") => m.clone(),
                Some("state") => m["state"]["decision"].clone(),
                _ => continue,
            };
            let id = if m["type"] == "tally" {
                &counts["decision"]
            } else {
                &counts["id"]
            };
            if id == decision && votes_of(&counts, choice) == votes {
                return counts;
            }
        }
    }

    /// Sends a vote.
    pub async fn send_vote(&mut self, decision: &str, choice: &str) {
        let text = json!({ "type": "vote", "decision": decision, "choice": choice }).to_string();
        self.ws.send(Message::text(text)).await.expect("the socket sends");
    }

    /// Sends a vote and returns the answer (`voted` or `error`).
    pub async fn vote(&mut self, decision: &str, choice: &str) -> Value {
        self.send_vote(decision, choice).await;
        loop {
            let m = self.next_json(WAIT).await.expect("an answer before the socket closed");
            // The answer to this vote, not a notice about something else
            // (a failed state push during an outage is an error too).
            if m["type"] == "voted" || (m["type"] == "error" && m["vote"]["decision"] == decision) {
                return m;
            }
        }
    }

    /// Waits for the server's close frame (or the end of the connection);
    /// false if the socket is still open after `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Err(_) => return false,
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

impl Instance {
    /// How many calls of the store operation `operation` this instance has
    /// made, from its `/metrics` (`cyoa_redis_seconds_count`): its
    /// heartbeat is `beat`, its sweeper `sweep_turn` (then, when it holds
    /// the turn, `withdraw_absent`).
    pub async fn store_calls(&self, operation: &str) -> u64 {
        self.count(&format!("cyoa_redis_seconds_count{{operation=\"{operation}\"}}"))
            .await
    }

    /// A counter of `/metrics` (name and labels, exactly): 0 while it has
    /// no series.
    pub async fn count(&self, series: &str) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("the instance answers")
            .text()
            .await
            .expect("the metrics");
        let series = format!("{series} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .map_or(0, |n| n.trim().parse().expect("a count"))
    }

    /// Waits until this instance has made `more` heartbeats and `more`
    /// sweeps since the call: time has passed on its own clock, seen as
    /// events rather than guessed with a sleep, whatever the machine's load.
    /// A sweep is the sweeper's turn asked for (`sweep_turn`): of several
    /// instances only the holder of the turn then walks the voters.
    pub async fn wait_for_beats_and_sweeps(&self, more: u64) {
        let (beats, sweeps) = (self.store_calls("beat").await, self.store_calls("sweep_turn").await);
        let deadline = Instant::now() + WAIT * 6;
        while self.store_calls("beat").await < beats + more || self.store_calls("sweep_turn").await < sweeps + more {
            assert!(
                Instant::now() < deadline,
                "the instance made fewer than {more} heartbeats and sweeps in {:?}",
                WAIT * 6
            );
            // A poll interval, not a guess: the loop waits for the counts.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
