//! `serve --watch`'s reload, one call at a time on a real server: a good
//! edit is served, a bad one is refused with the check's `FILE:LINE`
//! (shown to the presenter, never to the audience), an edit that drops the
//! open vote waits until it is closed, and votes stay throughout.

use std::path::{Path, PathBuf};

use cyoa::settings::Settings;
use cyoa::story::Story;
use cyoa::talk::reload::{Reload, reload};
use cyoa::web::{AppState, Application};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{STORY, Socket, TOKEN, html, open_socket, select};
use crate::support::presenter_request;

struct Served {
    state: AppState,
    address: String,
    client: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Served {
    async fn start(file: &Path) -> Served {
        let story = Story::load(file).expect("the story checks").story;
        let mut settings = Settings::new(TOKEN, crate::helpers::SECRET);
        settings.server.bind = "127.0.0.1:0".into();
        settings.limits = crate::helpers::test_limits();
        let app = Application::build(settings, story).await.expect("the server binds");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let served = Served {
            state: app.state(),
            address: format!("http://127.0.0.1:{}", app.port()),
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .build()
                .expect("a client"),
            jar,
            _stop: stop,
        };
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        served
    }

    async fn call(&self, action: &str, body: Option<Value>) -> StatusCode {
        presenter_request(&self.client, &self.address, TOKEN, action, body)
            .send()
            .await
            .expect("an answer")
            .status()
    }

    async fn state(&self) -> Value {
        let r = self.client.get(format!("{}/api/state", self.address)).send().await;
        r.expect("an answer").json().await.expect("JSON")
    }

    /// A socket at `path` with this client's cookies (the presenter's).
    async fn socket(&self, path: &str) -> Socket {
        socket_with(&self.address, &self.jar, path).await
    }

    async fn page(&self, path: &str) -> scraper::Html {
        let r = self.client.get(format!("{}{path}", self.address)).send().await;
        html(&r.expect("an answer").text().await.expect("a page"))
    }
}

async fn socket_with(address: &str, jar: &reqwest::cookie::Jar, path: &str) -> Socket {
    use reqwest::cookie::CookieStore;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}{path}", address.replace("http://", "ws://"))
        .into_client_request()
        .expect("a request");
    let url = address.parse().expect("a URL");
    if let Some(cookie) = jar.cookies(&url) {
        request.headers_mut().insert("cookie", cookie);
    }
    open_socket(request).await.expect("the socket opens")
}

/// Reads `socket` until a message of `kind`, failing on a `story` message
/// on the way.
async fn next_without_story(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let message = socket.next_json().await.expect("a message");
        assert_ne!(message["type"], "story", "a story message reached this socket");
        if message["type"] == kind {
            return message;
        }
    }
}

/// Serves `STORY` from a file in `dir` with the presenter logged in and
/// the first decision's vote open; returns the file, the server, and a
/// voter who loaded the audience page: its client (redirects not
/// followed) and its socket, the first state read.
async fn serve_with_a_voter(dir: &Path) -> (PathBuf, Served, reqwest::Client, Socket) {
    let file = dir.join("talk.toml");
    std::fs::write(&file, STORY).expect("the story");
    let served = Served::start(&file).await;
    let login = format!("{}/presenter?token={TOKEN}", served.address);
    served.client.get(&login).send().await.expect("the login");
    served.call("goto", Some(serde_json::json!({"slide": "build"}))).await;
    assert_eq!(served.call("open", None).await, StatusCode::OK);
    let voter_jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let voter = reqwest::Client::builder()
        .cookie_provider(voter_jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let page = voter
        .get(format!("{}/", served.address))
        .send()
        .await
        .expect("the page");
    assert_eq!(page.status(), StatusCode::OK);
    let mut audience = socket_with(&served.address, &voter_jar, "/ws").await;
    audience.wait_for("state", |_| true).await;
    (file, served, voter, audience)
}

#[tokio::test]
async fn a_reload_serves_good_edits_refuses_bad_ones_and_keeps_the_votes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // The presenter's cookie, and a vote on the first decision.
    let (file, served, voter, mut audience) = serve_with_a_voter(dir.path()).await;
    let mut presenter = served.socket("/ws?role=presenter").await;
    presenter.wait_for("state", |_| true).await;
    let voted = voter
        .post(format!("{}/vote/build", served.address))
        .header("origin", &served.address)
        .form(&[("choice", "pets")])
        .send()
        .await
        .expect("a vote");
    assert!(voted.status().is_redirection() || voted.status().is_success());

    // A good edit: served at once, the vote still there.
    std::fs::write(&file, STORY.replace("Pets or docs?", "Pets or documents?")).expect("an edit");
    assert_eq!(reload(&served.state.talk, &file).await, Reload::Loaded);
    let state = served.state().await;
    assert_eq!(state["decision"]["prompt"], "Pets or documents?");
    assert_eq!(state["decision"]["total"], 1);
    // Every page hears of it, then gets the new state to draw.
    for socket in [&mut audience, &mut presenter] {
        socket.wait_for("story", |_| true).await;
        let (state, _) = socket.wait_for("state", |_| true).await;
        assert_eq!(state["state"]["decision"]["prompt"], "Pets or documents?");
    }

    // A bad edit: refused with FILE:LINE, the last good story still served.
    let broken = STORY.replace(
        "goto = \"host\" },\n  { id = \"docs\"",
        "goto = \"hots\" },\n  { id = \"docs\"",
    );
    let line = broken.lines().position(|l| l.contains("hots")).expect("the bad line") + 1;
    std::fs::write(&file, &broken).expect("a bad edit");
    let Reload::Refused(problems) = reload(&served.state.talk, &file).await else {
        panic!("a bad edit must be refused");
    };
    let place = format!("talk.toml:{line}:");
    assert!(
        problems.iter().any(|p| p.contains(&place) && p.contains("hots")),
        "{problems:?}"
    );
    assert_eq!(served.state().await["decision"]["prompt"], "Pets or documents?");
    let view = served.page("/presenter").await;
    assert!(
        select(&view, "#story-problems li")
            .iter()
            .any(|li| li.text().collect::<String>().contains(&place)),
        "the presenter view shows the problem"
    );
    let page = served.page("/").await;
    assert!(
        select(&page, "#story-problems").is_empty(),
        "the audience never sees it"
    );
    // Only the presenter's socket hears of a refused edit: the audience's
    // next message is the tally of the next vote.
    presenter.wait_for("story", |_| true).await;
    let moved = voter
        .post(format!("{}/vote/build", served.address))
        .header("origin", &served.address)
        .form(&[("choice", "docs")])
        .send()
        .await
        .expect("a vote");
    assert!(moved.status().is_redirection() || moved.status().is_success());
    next_without_story(&mut audience, "tally").await;

    // An edit that drops the open vote's choice waits until it is closed.
    let fewer = STORY.replace(
        "  { id = \"docs\", label = \"Doc Send\", goto = \"host\" },\n",
        "  { id = \"doc\", label = \"Doc Send\", goto = \"host\" },\n",
    );
    assert_ne!(fewer, STORY, "the edit renames a choice");
    std::fs::write(&file, &fewer).expect("an edit");
    let Reload::Held(why) = reload(&served.state.talk, &file).await else {
        panic!("an edit of the open vote's choices must wait");
    };
    assert!(why.contains("`build`") && why.contains("closed"), "{why}");
    assert_eq!(served.state.talk.story_problems(), vec![why]);
    assert_eq!(served.call("close", None).await, StatusCode::OK);
    assert_eq!(reload(&served.state.talk, &file).await, Reload::Loaded);
    assert!(served.state.talk.story_problems().is_empty());
    let view = served.page("/presenter").await;
    assert!(select(&view, "#story-problems").is_empty(), "the banner is gone");
    let state = served.state().await;
    assert_eq!(state["decision"]["choices"][1]["id"], "doc");
    // The renamed choice starts at zero; the vote stays in the store, filed
    // under the old id in the frozen tally of the run's history.
    assert_eq!(state["decision"]["choices"][1]["votes"], 0);
    let run = served.state.talk.store.run(1).await.expect("the store").expect("run 1");
    assert_eq!(run.closed[0].tally.get("docs"), 1, "{run:?}");
}

/// A reload (`serve --watch`) that turns the room code on shuts out the
/// pages let in without it: an open audience socket gets the `room_code`
/// refusal and is closed (the page then loads again and asks for the
/// code), a form vote without the code is refused, and the vote cast
/// before stays counted, once.
#[tokio::test]
async fn a_reload_that_turns_the_room_code_on_shuts_out_the_pages_let_in_without_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (file, served, voter, mut audience) = serve_with_a_voter(dir.path()).await;
    let vote = |choice: &'static str| {
        voter
            .post(format!("{}/vote/build", served.address))
            .header("origin", &served.address)
            .form(&[("choice", choice)])
            .send()
    };
    let voted = vote("pets").await.expect("a vote");
    assert!(voted.status().is_redirection(), "{}", voted.status());
    audience.wait_for_tally("build", "pets", 1).await;

    let with_code = STORY.replace("[slides.intro]", "[settings]\nroom_code = true\n\n[slides.intro]");
    assert_ne!(with_code, STORY, "the edit turns the room code on");
    std::fs::write(&file, &with_code).expect("an edit");
    assert_eq!(reload(&served.state.talk, &file).await, Reload::Loaded);
    let (refusal, _) = audience.wait_for("error", |_| true).await;
    assert_eq!(refusal["code"], "room_code", "{refusal}");
    assert!(audience.closed().await, "the socket is closed");
    let refused = vote("docs").await.expect("an answer");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let state = served.state().await;
    assert_eq!(state["decision"]["total"], 1, "{state}");
    assert_eq!(state["decision"]["choices"][0]["votes"], 1, "{state}");
}
