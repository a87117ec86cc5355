//! A cyoa server in this process, on a free port, with votes in memory and
//! a short presence grace, serving a small story made for these tests.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use cyoa::settings::{Settings, SmsSettings, StoreChoice};
use cyoa::store::{MemoryStore, VoteStore};
use cyoa::story::Story;
use cyoa::web::{Application, Limits};

use crate::support::presenter_request;

/// How long a web vote outlives its voter's last page in these tests.
pub const GRACE: Duration = Duration::from_secs(1);

const TOKEN: &str = "browser-test-presenter-token";

/// Two decisions with a plain slide between them, so a test can follow the
/// run from one vote to the next.
const STORY: &str = r##"
title = "The browser test"
start = "welcome"

[settings.theme]
accent = "#ffcc00"

[slides.welcome]
title = "Welcome"
body = "Phones out."
next = "which-way"

[slides.which-way]
title = "Which way?"
[slides.which-way.decision]
prompt = "Left or right?"
choices = [
  { id = "left", label = "Left", goto = "the-left-path" },
  { id = "right", label = "Right", goto = "the-right-path" },
]

[slides.the-left-path]
title = "The left path"
next = "stay-or-go"

[slides.the-right-path]
title = "The right path"
next = "stay-or-go"

[slides.stay-or-go]
title = "Stay or go?"
[slides.stay-or-go.decision]
prompt = "Do we stay or do we go?"
choices = [
  { id = "stay", label = "Stay", goto = "the-end" },
  { id = "go", label = "Go", goto = "the-end" },
]

[slides.the-end]
title = "The end"
"##;

/// A running server; it stops with the test's runtime, or on [`TestApp::stop`].
pub struct TestApp {
    story: Story,
    public_url: Option<String>,
    sms: SmsSettings,
    port: u16,
    /// The server's vote store, to set a scene without a browser per voter.
    pub store: VoteStore,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<std::io::Result<()>>>,
}

/// The test story, parsed.
fn test_story() -> Story {
    match Story::parse("browser-test.toml", STORY) {
        Ok(loaded) => loaded.story,
        Err(problems) => panic!("the test story has problems: {problems:?}"),
    }
}

impl TestApp {
    /// Builds and starts a server for the test story on `127.0.0.1:0`.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_story(test_story(), None).await
    }

    /// The test story on `store` (a Redis store, say).
    pub async fn spawn_on(store: VoteStore) -> TestApp {
        TestApp::launch(test_story(), None, SmsSettings::default(), store).await
    }

    /// The test story with SMS voting on: Twilio's auth token `token`, the
    /// number `number` shown on the pages.
    pub async fn spawn_with_sms(token: &str, number: &str) -> TestApp {
        TestApp::spawn_story_with_sms(test_story(), token, number).await
    }

    /// `story` with SMS voting on, as [`TestApp::spawn_with_sms`].
    pub async fn spawn_story_with_sms(story: Story, token: &str, number: &str) -> TestApp {
        #[allow(clippy::needless_update)]
        let sms = SmsSettings {
            auth_token: Some(token.to_string()),
            number: Some(number.to_string()),
            insecure_skip_signature: false,
            ..SmsSettings::default()
        };
        TestApp::launch(story, None, sms, VoteStore::Memory(MemoryStore::new())).await
    }

    /// Builds and starts a server for `story` on `127.0.0.1:0`; the pages
    /// show `public_url` as the audience's address when given.
    pub async fn spawn_story(story: Story, public_url: Option<&str>) -> TestApp {
        TestApp::launch(
            story,
            public_url.map(str::to_owned),
            SmsSettings::default(),
            VoteStore::Memory(MemoryStore::new()),
        )
        .await
    }

    /// Builds and starts a server for `story` on a free port.
    async fn launch(story: Story, public_url: Option<String>, sms: SmsSettings, store: VoteStore) -> TestApp {
        let mut app = TestApp {
            story,
            public_url,
            sms,
            port: 0,
            store,
            stop: None,
            serving: None,
        };
        app.start().await;
        app
    }

    /// Starts serving on the app's port (a free one the first time), with
    /// the same store, token and cookie key as before.
    async fn start(&mut self) {
        let mut settings = Settings::new(TOKEN, "browser-test-secret-browser-test-secret");
        settings.server.bind = format!("127.0.0.1:{}", self.port);
        settings.server.public_url = self.public_url.clone();
        settings.store = StoreChoice::Open(self.store.clone());
        settings.sms = self.sms.clone();
        settings.room.presence_grace = Some(GRACE);
        // Votes count from a fresh cookie at once: the page's own resend
        // after `too_soon` is tested on its own.
        settings.limits = Limits {
            voter_min_age: Duration::ZERO,
            ..Limits::default()
        };
        let app = Application::build(settings, self.story.clone())
            .await
            .expect("the server binds its port");
        self.port = app.port();
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.serving = Some(tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        })));
    }

    /// Stops the server (its sockets close) and waits until it has.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            let result = serving.await.expect("the server task ends cleanly");
            result.expect("the server stops without an error");
        }
    }

    /// Starts the server again on the same port.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// An absolute URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET /api/state`: where the talk stands, as anyone sees it.
    pub async fn state(&self) -> serde_json::Value {
        reqwest::get(self.url("/api/state"))
            .await
            .expect("the state")
            .json()
            .await
            .expect("the state in JSON")
    }

    /// `POST /api/presenter/{action}` with the presenter token, and the
    /// answer's status and JSON.
    pub async fn presenter_call(&self, action: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let answer = presenter_request(&reqwest::Client::new(), &self.url(""), TOKEN, action, body)
            .send()
            .await
            .expect("the presenter API answers");
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or_default())
    }

    /// The presenter's login URL (it sets the cookie and redirects).
    pub fn presenter_login_url(&self) -> String {
        self.url(&format!("/presenter?token={TOKEN}"))
    }
}
