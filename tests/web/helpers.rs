//! `spawn_app()`: the real server on a free port, in memory, with a known
//! token; a `TestApp` with one method per endpoint; a `Browser` (its own
//! cookies) and a `Socket` that waits for messages with a timeout.

use std::io::{BufRead, BufReader, Lines, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cyoa::settings::{Settings, SmsSettings, StoreChoice};
use cyoa::store::VoteStore;
use cyoa::story::Story;
use cyoa::web::{Application, Limits};
use futures_util::{SinkExt, StreamExt};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::support::presenter_request;
use crate::support::ws::Ws;
pub use crate::support::ws::votes_of;

/// Runs each named test (an `async fn(Options)`) once per store, as
/// `memory::NAME`, `redis::NAME` (a real Redis, under a key prefix of
/// its own) and `embedded::NAME` (a data file in a temporary folder). The options are the defaults, or `options: F;` first, where
/// `F(store)` makes them from the store (`None`: a fresh memory store); the
/// path `F` is read from inside the generated modules (`super::f`).
// Other test binaries that borrow these helpers do not use it.
#[allow(unused_macros)]
macro_rules! on_both_stores {
    (options: $options:path; $($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name($options(None)).await
            })*
        }
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                super::$name($options(Some(crate::support::backends::redis_store().await))).await
            })*
        }
        mod embedded {
            $(#[tokio::test]
            async fn $name() {
                let dir = crate::support::backends::data_dir();
                super::$name($options(Some(crate::support::backends::embedded_store(dir.path())))).await
            })*
        }
    };
    ($($name:ident),* $(,)?) => {
        on_both_stores!(options: crate::helpers::Options::on; $($name),*);
    };
}

/// The presenter token of every test server.
pub const TOKEN: &str = "test-presenter-token";

/// The secret of every test server (so a test can sign a cookie as the
/// server does).
pub const SECRET: &str = "a test secret that signs the cookies of one test server";

/// How long a test waits for an event before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// A small story with two decisions in a row, then two endings (shared
/// with the multi-instance tests).
pub const STORY: &str = include_str!("../fixtures/two_decisions.toml");

/// A server for one test.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// `ws://127.0.0.1:PORT`.
    pub ws_address: String,
    /// Bearer-authenticated client, no cookies.
    pub api: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Options of a test server.
pub struct Options {
    /// The story's TOML.
    pub story: String,
    /// Presence grace.
    pub grace: Duration,
    /// `--public-url`.
    pub public_url: Option<String>,
    /// The vote store; `None`: a fresh memory store. (The suite runs
    /// against Redis by passing a `RedisStore` with its own prefix here.)
    pub store: Option<VoteStore>,
    /// SMS voting: off unless set.
    pub sms: SmsSettings,
    /// Rate, size and timeout limits.
    pub limits: Limits,
    /// `--room-code`: joining needs the room code, whatever the story says.
    pub room_code: bool,
}

impl Options {
    /// The default options on `store` (`None`: a fresh memory store).
    pub fn on(store: Option<VoteStore>) -> Options {
        Options {
            store,
            ..Options::default()
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            story: STORY.to_string(),
            grace: Duration::from_secs(1),
            public_url: None,
            store: None,
            sms: SmsSettings::default(),
            limits: test_limits(),
            room_code: false,
        }
    }
}

/// The default limits, but votes count from a cookie at once
/// (`--voter-min-age 0`): tests of the minimum age set it themselves.
pub fn test_limits() -> Limits {
    Limits {
        voter_min_age: Duration::ZERO,
        ..Limits::default()
    }
}

/// The test story in memory, presence votes, a grace of 1 s.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// A server with other options.
pub async fn spawn_app_with(options: Options) -> TestApp {
    let story = match Story::parse("test.toml", &options.story) {
        Ok(loaded) => loaded.story,
        Err(problems) => panic!("the test story does not load: {problems:?}"),
    };
    let mut settings = Settings::new(TOKEN, SECRET);
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.public_url = options.public_url;
    settings.server.static_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/static").into();
    if let Some(store) = options.store {
        settings.store = StoreChoice::Open(store);
    }
    settings.limits = options.limits;
    settings.sms = options.sms;
    settings.room.room_code = options.room_code;
    settings.room.presence_grace = Some(options.grace);
    let app = Application::build(settings, story)
        .await
        .expect("the test server binds");
    let port = app.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        ws_address: format!("ws://127.0.0.1:{port}"),
        api: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
        _stop: stop,
    }
}

impl TestApp {
    /// A fresh browser: its own cookie jar, redirects not followed.
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        Browser {
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            jar,
            address: self.address.clone(),
            ws_address: self.ws_address.clone(),
        }
    }

    /// A browser with a voter cookie (it has opened `/`).
    pub async fn voter(&self) -> Browser {
        let b = self.browser();
        assert_eq!(b.get("/").await.status(), StatusCode::OK);
        b
    }

    /// A browser logged in as the presenter.
    pub async fn presenter_browser(&self) -> Browser {
        let b = self.browser();
        let r = b.get(&format!("/presenter?token={TOKEN}")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        b
    }

    /// `POST /api/presenter/{action}` with the Bearer token.
    pub async fn presenter_call(&self, action: &str, body: Option<Value>) -> Response {
        presenter_request(&self.api, &self.address, TOKEN, action, body)
            .send()
            .await
            .expect("the server answers")
    }

    async fn presenter_ok(&self, action: &str, body: Option<Value>) -> Value {
        let r = self.presenter_call(action, body).await;
        let status = r.status();
        let json: Value = r.json().await.expect("JSON");
        assert_eq!(status, StatusCode::OK, "{action}: {json}");
        json
    }

    /// Next slide.
    pub async fn next(&self) -> Value {
        self.presenter_ok("next", None).await
    }
    /// Back along the path.
    pub async fn back(&self) -> Value {
        self.presenter_ok("back", None).await
    }
    /// Go to a slide.
    pub async fn goto(&self, slide: &str) -> Value {
        self.presenter_ok("goto", Some(json!({ "slide": slide }))).await
    }
    /// Open the vote.
    pub async fn open(&self) -> Value {
        self.presenter_ok("open", None).await
    }
    /// Close the vote.
    pub async fn close(&self) -> Value {
        self.presenter_ok("close", None).await
    }
    /// Follow a choice.
    pub async fn follow(&self, choice: &str) -> Value {
        self.presenter_ok("follow", Some(json!({ "choice": choice }))).await
    }
    /// Start a new run.
    pub async fn new_run(&self) -> Value {
        self.presenter_ok("new-run", None).await
    }

    /// Goes to the first decision (`build`) and opens its vote.
    pub async fn open_build(&self) -> Value {
        self.goto("build").await;
        self.open().await
    }

    /// The run played to `end-paas`: `build` (pets 1; both choices lead to
    /// `host`), then `host` (paas 1) followed to `end-paas`.
    pub async fn play_to_end_paas(&self) {
        self.open_build().await;
        self.voter().await.post_vote("build", "pets").await;
        self.close().await;
        self.follow("pets").await;
        self.open().await;
        self.voter().await.post_vote("host", "paas").await;
        self.close().await;
        self.follow("paas").await;
    }

    /// `GET` a path with the presenter's Bearer token.
    pub async fn presenter_get(&self, path: &str) -> Response {
        self.api
            .get(format!("{}{path}", self.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("the server answers")
    }

    /// `GET` a path without cookies.
    pub async fn get(&self, path: &str) -> Response {
        self.api
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the server answers")
    }

    /// `GET /api/state` without cookies.
    pub async fn state(&self) -> Value {
        self.get("/api/state").await.json().await.expect("JSON")
    }

    /// Votes per choice of the state's decision.
    pub async fn votes(&self, choice: &str) -> u64 {
        votes_of(&self.state().await["decision"], choice)
    }

    /// `GET /api/runs/{run}` as the presenter: the run's history.
    pub async fn run_history(&self, run: u64) -> Value {
        let r = self.presenter_get(&format!("/api/runs/{run}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.expect("JSON")
    }

    /// A presenter socket (logs a browser in first).
    pub async fn presenter_socket(&self) -> Socket {
        let b = self.presenter_browser().await;
        b.socket_at("/ws?role=presenter")
            .await
            .expect("the presenter socket opens")
    }

    /// A presenter screen that is up: its socket, once its first state has
    /// come. The socket hears of changes only from when the server
    /// subscribed it, just before reading that state; a vote sent before
    /// would show in the state but never in a `tally` push, so a test
    /// that votes and waits for the tally waits for this first.
    pub async fn presenter_screen(&self) -> Socket {
        let mut socket = self.presenter_socket().await;
        socket.wait_for("state", |_| true).await;
        socket
    }
}

/// A browser: a cookie jar and a client.
pub struct Browser {
    /// The client, with the jar.
    pub client: reqwest::Client,
    jar: Arc<Jar>,
    address: String,
    ws_address: String,
}

impl Browser {
    /// `GET` a path.
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the server answers")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `POST /vote/{decision}` with the form field `choice`, from cyoa's
    /// own page as a browser sends it (with `Origin`).
    pub async fn post_vote(&self, decision: &str, choice: &str) -> Response {
        self.post_vote_with(decision, &[("choice", choice)], &[("origin", &self.address)])
            .await
    }

    /// `POST /vote/{decision}` with these form fields and headers.
    pub async fn post_vote_with(&self, decision: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Response {
        let mut req = self.client.post(format!("{}/vote/{decision}", self.address)).form(form);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("the server answers")
    }

    /// `GET /api/state` with this browser's cookies.
    pub async fn state(&self) -> Value {
        self.get("/api/state").await.json().await.expect("JSON")
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> Option<String> {
        let url = self.address.parse().expect("a URL");
        self.jar.cookies(&url).and_then(|v| v.to_str().ok().map(str::to_string))
    }

    /// Replaces this browser's cookies with a raw `name=value`.
    pub fn set_raw_cookie(&self, cookie: &str) {
        let url = self.address.parse().expect("a URL");
        self.jar.add_cookie_str(&format!("{cookie}; Path=/"), &url);
    }

    /// The audience socket.
    pub async fn socket(&self) -> Socket {
        self.socket_at("/ws").await.expect("the audience socket opens")
    }

    /// A socket at `path`, or the HTTP status that refused it.
    pub async fn socket_at(&self, path: &str) -> Result<Socket, StatusCode> {
        let mut req = format!("{}{path}", self.ws_address)
            .into_client_request()
            .expect("a request");
        if let Some(cookie) = self.cookie_header() {
            req.headers_mut().insert("cookie", cookie.parse().expect("a header"));
        }
        open_socket(req).await
    }
}

/// Opens a socket with a prepared request.
pub async fn open_socket(req: tungstenite::handshake::client::Request) -> Result<Socket, StatusCode> {
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(Socket { ws }),
        Err(tungstenite::Error::Http(response)) => {
            Err(StatusCode::from_u16(response.status().as_u16()).expect("a status"))
        }
        Err(e) => panic!("the socket did not open: {e}"),
    }
}

/// A client socket.
pub struct Socket {
    ws: Ws,
}

impl Socket {
    /// Sends a text message.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::text(text.into()))
            .await
            .expect("the socket sends");
    }

    /// Sends any message.
    pub async fn send(&mut self, message: Message) {
        self.ws.send(message).await.expect("the socket sends");
    }

    /// Sends a vote.
    pub async fn send_vote(&mut self, decision: &str, choice: &str) {
        self.send_text(json!({ "type": "vote", "decision": decision, "choice": choice }).to_string())
            .await;
    }

    /// The next JSON message, or `None` if the socket closed; fails after [`WAIT`].
    pub async fn next_json(&mut self) -> Option<Value> {
        crate::support::ws::next_json(&mut self.ws, WAIT).await
    }

    /// Reads messages until one satisfies `wanted`, returning it; also
    /// returns how many messages of `kind` went by (it included).
    pub async fn wait_for(&mut self, kind: &str, wanted: impl Fn(&Value) -> bool) -> (Value, usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = 0;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = tokio::time::timeout(left, self.next_json())
                .await
                .unwrap_or_else(|_| panic!("no {kind} message as wanted within {WAIT:?}"))
                .unwrap_or_else(|| panic!("the socket closed while waiting for a {kind} message"));
            if message["type"] == kind {
                seen += 1;
                if wanted(&message) {
                    return (message, seen);
                }
            }
        }
    }

    /// Waits for a `tally` of `decision` where `choice` has `votes`.
    pub async fn wait_for_tally(&mut self, decision: &str, choice: &str, votes: u64) -> Value {
        self.wait_for("tally", |m| m["decision"] == decision && votes_of(m, choice) == votes)
            .await
            .0
    }

    /// Sends a vote and returns the answer (`voted` or `error`), skipping pushes.
    pub async fn vote(&mut self, decision: &str, choice: &str) -> Value {
        self.send_vote(decision, choice).await;
        self.answer().await
    }

    /// The next `voted` or `error` message.
    pub async fn answer(&mut self) -> Value {
        loop {
            let m = self.next_json().await.expect("an answer before the socket closed");
            if m["type"] == "voted" || m["type"] == "error" {
                return m;
            }
        }
    }

    /// Whether the server closed the socket (within the wait).
    pub async fn closed(&mut self) -> bool {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Err(_) => return false,
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Closes the socket as a browser closing the page does.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Drain until the server's close arrives, so the server has seen it.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.ws.next()).await {}
    }
}

/// Parses HTML for selector assertions.
/// Checks that `r` is a download: 200, named `file` for saving.
pub fn assert_download(r: &Response, file: &str) {
    assert_eq!(r.status(), StatusCode::OK);
    let disposition = r.headers()["content-disposition"].to_str().unwrap_or_default();
    assert!(disposition.contains(file), "{disposition}");
}

pub fn html(text: &str) -> scraper::Html {
    scraper::Html::parse_document(text)
}

/// The elements matching `selector`.
pub fn select<'a>(doc: &'a scraper::Html, selector: &str) -> Vec<scraper::ElementRef<'a>> {
    let s = scraper::Selector::parse(selector).unwrap_or_else(|e| panic!("bad selector {selector}: {e:?}"));
    doc.select(&s).collect()
}

/// The text of the one element matching `selector`.
pub fn text_of(doc: &scraper::Html, selector: &str) -> String {
    let found = select(doc, selector);
    assert_eq!(found.len(), 1, "expected one {selector}, found {}", found.len());
    found[0].text().collect::<String>().trim().to_string()
}

/// `--memory` unless `args` choose a store: a test never writes a data
/// file into the home directory.
pub fn memory_unless_given(args: &[&str]) -> &'static [&'static str] {
    match args.iter().any(|a| ["--redis-url", "--data", "--memory"].contains(a)) {
        true => &[],
        false => &["--memory"],
    }
}

/// `cyoa serve --bind 127.0.0.1:0` with `args` as a process logging at
/// debug level, and its stdout lines (the presenter URL, then the audience URL).
pub fn serve_process(args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .arg("serve")
        // Loopback on a free port, unless the test binds elsewhere.
        .args(match args.contains(&"--bind") {
            true => &[][..],
            false => &["--bind", "127.0.0.1:0"][..],
        })
        .args(args)
        .args(memory_unless_given(args))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cyoa starts");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    (child, lines)
}

/// Sends SIGTERM to a `cyoa` process and waits for it to exit.
pub fn sigterm(child: &mut Child) -> ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    child.wait().expect("cyoa exits")
}

/// All a stopped `cyoa` process wrote to stderr: its log.
pub fn log_of(child: &mut Child) -> String {
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("the log");
    log
}
