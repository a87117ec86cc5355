//! `serve --watch`'s reload, one call at a time on a real server: a good
//! edit is served, a bad one is refused with the check's `FILE:LINE`
//! (shown to the presenter, never to the audience), an edit that drops the
//! open vote waits until it is closed, and votes stay throughout.

use std::path::Path;

use cyoa::store::{MemoryStore, VoteStore};
use cyoa::story::Story;
use cyoa::web::reload::{Reload, reload};
use cyoa::web::{AppState, Application, Config, SmsOptions};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{STORY, TOKEN, html, select};

struct Served {
    state: AppState,
    address: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Served {
    async fn start(file: &Path) -> Served {
        let story = Story::load(file).expect("the story checks").story;
        let app = Application::build(Config {
            story,
            store: VoteStore::Memory(MemoryStore::new()),
            bind: "127.0.0.1:0".into(),
            public_url: None,
            presenter_token: TOKEN.into(),
            secret: "a test secret that signs the cookies of one test server".into(),
            presence_grace: None,
            static_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/static").into(),
            sms: SmsOptions::default(),
        })
        .await
        .expect("the server binds");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Served {
            state: app.state(),
            address: format!("http://127.0.0.1:{}", app.port()),
            client: reqwest::Client::builder().cookie_store(true).build().expect("a client"),
            _stop: stop,
        };
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        served
    }

    async fn call(&self, action: &str, body: Option<Value>) -> StatusCode {
        let mut request = self
            .client
            .post(format!("{}/api/presenter/{action}", self.address))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("an answer").status()
    }

    async fn state(&self) -> Value {
        let r = self.client.get(format!("{}/api/state", self.address)).send().await;
        r.expect("an answer").json().await.expect("JSON")
    }

    async fn page(&self, path: &str) -> scraper::Html {
        let r = self.client.get(format!("{}{path}", self.address)).send().await;
        html(&r.expect("an answer").text().await.expect("a page"))
    }
}

#[tokio::test]
async fn a_reload_serves_good_edits_refuses_bad_ones_and_keeps_the_votes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("talk.toml");
    std::fs::write(&file, STORY).expect("the story");
    let served = Served::start(&file).await;
    // The presenter's cookie, and a vote on the first decision.
    let login = format!("{}/presenter?token={TOKEN}", served.address);
    served.client.get(&login).send().await.expect("the login");
    served.call("goto", Some(serde_json::json!({"slide": "build"}))).await;
    assert_eq!(served.call("open", None).await, StatusCode::OK);
    let voter = reqwest::Client::builder().cookie_store(true).build().expect("a client");
    voter
        .get(format!("{}/", served.address))
        .send()
        .await
        .expect("the audience page");
    let voted = voter
        .post(format!("{}/vote/build", served.address))
        .form(&[("choice", "pets")])
        .send()
        .await
        .expect("a vote");
    assert!(voted.status().is_redirection() || voted.status().is_success());

    // A good edit: served at once, the vote still there.
    std::fs::write(&file, STORY.replace("Pets or docs?", "Pets or documents?")).expect("an edit");
    assert_eq!(reload(&served.state, &file).await, Reload::Loaded);
    let state = served.state().await;
    assert_eq!(state["decision"]["prompt"], "Pets or documents?");
    assert_eq!(state["decision"]["total"], 1);

    // A bad edit: refused with FILE:LINE, the last good story still served.
    let broken = STORY.replace(
        "goto = \"host\" },\n  { id = \"docs\"",
        "goto = \"hots\" },\n  { id = \"docs\"",
    );
    let line = broken.lines().position(|l| l.contains("hots")).expect("the bad line") + 1;
    std::fs::write(&file, &broken).expect("a bad edit");
    let Reload::Refused(problems) = reload(&served.state, &file).await else {
        panic!("a bad edit must be refused");
    };
    let place = format!("talk.toml:{line}:");
    assert!(
        problems.iter().any(|p| p.contains(&place) && p.contains("hots")),
        "{problems:?}"
    );
    assert_eq!(served.state().await["decision"]["prompt"], "Pets or documents?");
    let presenter = served.page("/presenter").await;
    assert!(
        select(&presenter, "#story-problems li")
            .iter()
            .any(|li| li.text().collect::<String>().contains(&place)),
        "the presenter view shows the problem"
    );
    let audience = served.page("/").await;
    assert!(
        select(&audience, "#story-problems").is_empty(),
        "the audience never sees it"
    );

    // An edit that drops the open vote's choice waits until it is closed.
    let fewer = STORY.replace(
        "  { id = \"docs\", label = \"Doc Send\", goto = \"host\" },\n",
        "  { id = \"doc\", label = \"Doc Send\", goto = \"host\" },\n",
    );
    assert_ne!(fewer, STORY, "the edit renames a choice");
    std::fs::write(&file, &fewer).expect("an edit");
    let Reload::Held(why) = reload(&served.state, &file).await else {
        panic!("an edit of the open vote's choices must wait");
    };
    assert!(why.contains("`build`") && why.contains("closed"), "{why}");
    assert_eq!(served.state.story_problems(), vec![why]);
    assert_eq!(served.call("close", None).await, StatusCode::OK);
    assert_eq!(reload(&served.state, &file).await, Reload::Loaded);
    assert!(served.state.story_problems().is_empty());
    let presenter = served.page("/presenter").await;
    assert!(select(&presenter, "#story-problems").is_empty(), "the banner is gone");
    assert_eq!(served.state().await["decision"]["choices"][1]["id"], "doc");
    // The closed tally stays as it was frozen.
    assert_eq!(served.state().await["decision"]["total"], 1);
}
