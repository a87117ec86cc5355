//! Timed votes through the real app: a countdown closes the vote by itself
//! on every store and the sockets hear of it; the presenter's T-API
//! (`/api/presenter/timer/start`, `/extend`, `/cancel`) and its refusals;
//! the story's `timer` starting the countdown when the vote opens.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, STORY, TestApp, spawn_app, spawn_app_with};

on_both_stores!(a_countdown_closes_the_vote_by_itself_and_every_socket_hears,);

/// `POST /api/presenter/timer/{what}` with the token and `body` as JSON.
async fn timer(app: &TestApp, what: &str, body: Option<Value>) -> (StatusCode, Value) {
    let r = app.presenter_call(&format!("timer/{what}"), body).await;
    let status = r.status();
    (status, r.json().await.expect("JSON"))
}

/// The countdown's milliseconds left in a state.
fn remaining(state: &Value) -> u64 {
    state["timer"]["remaining_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("no countdown runs: {state}"))
}

/// The `cyoa_votes_closed_by_timer_total` of this process.
async fn closed_by_timer(app: &TestApp) -> u64 {
    let text = app
        .api
        .get(format!("{}/metrics", app.address))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("cyoa_votes_closed_by_timer_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no cyoa_votes_closed_by_timer_total in\n{text}"))
}

async fn a_countdown_closes_the_vote_by_itself_and_every_socket_hears(options: Options) {
    let app = spawn_app_with(options).await;
    let before = closed_by_timer(&app).await;
    let voter = app.voter().await;
    let mut phone = voter.socket().await;
    let mut screen = app.presenter_screen().await;
    app.open_build().await;
    assert_eq!(phone.vote("build", "pets").await["type"], "voted");
    // T with a second's countdown, counted by the server.
    let (status, started) = timer(&app, "start", Some(json!({ "seconds": 1 }))).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert!((1..=1000).contains(&remaining(&started)), "{started}");
    assert_eq!(started["timer"]["decision"], "build");
    // At zero the vote closes by itself; both sockets hear of it.
    for socket in [&mut phone, &mut screen] {
        let (closed, _) = socket
            .wait_for("state", |m| m["state"]["decision"]["status"] == "closed")
            .await;
        assert_eq!(closed["state"]["timer"], Value::Null, "{closed}");
        assert_eq!(closed["state"]["decision"]["total"], 1, "{closed}");
    }
    let run = app.run_history(1).await;
    assert_eq!(run["open"], Value::Null);
    assert_eq!(run["decisions"].as_array().map(Vec::len), Some(1), "closed once: {run}");
    assert!(closed_by_timer(&app).await > before);
    // A vote after the close is refused; Next follows the vote.
    assert_eq!(
        app.voter().await.socket().await.vote("build", "docs").await["type"],
        "error"
    );
    assert_eq!(app.next().await["slide"]["id"], "host");
}

#[tokio::test]
async fn the_countdown_reaches_the_sockets_as_time_left() {
    let app = spawn_app().await;
    let mut phone = app.voter().await.socket().await;
    app.open_build().await;
    timer(&app, "start", Some(json!({ "seconds": 300 }))).await;
    let (pushed, _) = phone.wait_for("state", |m| m["state"]["timer"].is_object()).await;
    let state = &pushed["state"];
    assert_eq!(state["timer"]["decision"], "build");
    assert!((240_000..=300_000).contains(&remaining(state)), "{pushed}");
    assert!(
        state["timer"].get("deadline").is_none(),
        "the deadline stays on the server: {pushed}"
    );
    // A page loaded now shows it too, as text for a page without JavaScript.
    let page = app.voter().await.get("/").await.text().await.expect("a page");
    assert!(
        page.contains("closes in 4:") || page.contains("closes in 5:00"),
        "{page}"
    );
}

#[tokio::test]
async fn the_presenter_starts_extends_and_cancels_the_countdown() {
    let app = spawn_app().await;
    let opened = app.open_build().await;
    assert_eq!(opened["timer"], Value::Null, "no timer in the story: none starts");
    // T with neither the decision's nor the story's timer: 30 s.
    let (status, started) = timer(&app, "start", None).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert!((25_000..=30_000).contains(&remaining(&started)), "{started}");
    // A length of its own, then +15 s, then +60 s.
    let (_, short) = timer(&app, "start", Some(json!({ "seconds": 20 }))).await;
    let short = remaining(&short);
    assert!((15_000..=20_000).contains(&short), "{short}");
    let (status, extended) = timer(&app, "extend", None).await;
    assert_eq!(status, StatusCode::OK, "{extended}");
    assert!(remaining(&extended) > short + 10_000, "{extended}");
    assert!(remaining(&extended) <= 35_000, "{extended}");
    let (_, more) = timer(&app, "extend", Some(json!({ "seconds": 60 }))).await;
    assert!(remaining(&more) > 85_000, "{more}");
    // Cancelled: the vote stays open, with no countdown.
    let (status, cancelled) = timer(&app, "cancel", None).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["timer"], Value::Null);
    assert_eq!(cancelled["decision"]["status"], "open");
    // Nothing to extend now.
    let (status, refused) = timer(&app, "extend", None).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::CONFLICT, Some("no_countdown"))
    );
    // The presenter still closes early, and the countdown goes with the vote.
    timer(&app, "start", None).await;
    let closed = app.close().await;
    assert_eq!(
        (closed["timer"].clone(), closed["decision"]["status"].clone()),
        (Value::Null, json!("closed"))
    );
    assert_eq!(app.state().await["timer"], Value::Null);
}

#[tokio::test]
async fn a_story_timer_starts_when_the_vote_opens_and_again_when_it_reopens() {
    let story = STORY.replace("start = \"intro\"", "start = \"intro\"\n[settings]\ntimer = 600");
    let app = spawn_app_with(Options {
        story: story.replace("prompt = \"Which host?\"", "prompt = \"Which host?\"\ntimer = 90"),
        ..Options::default()
    })
    .await;
    // The story's default on `build`; T starts it again from the full length.
    let opened = app.open_build().await;
    assert!((590_000..=600_000).contains(&remaining(&opened)), "{opened}");
    timer(&app, "extend", None).await;
    let (_, restarted) = timer(&app, "start", None).await;
    assert!((590_000..=600_000).contains(&remaining(&restarted)), "{restarted}");
    // Opening the open vote again leaves its countdown as it runs.
    timer(&app, "extend", Some(json!({ "seconds": 100 }))).await;
    assert!(remaining(&app.open().await) > 600_000);
    // Closed: no countdown; reopened: the full length again.
    assert_eq!(app.close().await["timer"], Value::Null);
    assert!((590_000..=600_000).contains(&remaining(&app.open().await)));
    // `host` has its own: 90 s. Leaving the slide closes the vote and ends it.
    app.close().await;
    app.goto("host").await;
    assert!((80_000..=90_000).contains(&remaining(&app.open().await)));
    assert_eq!(app.goto("intro").await["timer"], Value::Null);
}

#[tokio::test]
async fn timer_commands_are_refused_without_login_from_another_site_with_a_bad_body_or_no_vote_open() {
    let app = spawn_app().await;
    let url = |what: &str| format!("{}/api/presenter/timer/{what}", app.address);
    let browser = app.presenter_browser().await;
    for what in ["start", "extend", "cancel"] {
        let refusals = [
            ("no login", app.api.post(url(what)), StatusCode::UNAUTHORIZED),
            (
                "a wrong token",
                app.api.post(url(what)).bearer_auth("wrong"),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "the token from another site",
                app.api
                    .post(url(what))
                    .bearer_auth(crate::helpers::TOKEN)
                    .header("origin", "http://evil.example"),
                StatusCode::FORBIDDEN,
            ),
            (
                "the login cookie from another site",
                browser
                    .client
                    .post(url(what))
                    .header("x-cyoa-presenter", "1")
                    .header("origin", "http://evil.example"),
                StatusCode::FORBIDDEN,
            ),
            (
                "the login cookie from a plain form",
                browser.client.post(url(what)).header("origin", &app.address),
                StatusCode::FORBIDDEN,
            ),
        ];
        for (why, request, want) in refusals {
            let r = request.send().await.expect("the server answers");
            assert_eq!(r.status(), want, "{what}: {why}");
            let body: Value = r.json().await.expect("JSON");
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}: {why}: {body}"
            );
        }
        // Logged in, but no vote is open: 409 with a clear error.
        let (status, body) = timer(&app, what, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{what}: {body}");
        assert_eq!(body["error"], "no_vote_open", "{what}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("open")), "{body}");
        // The console's own call (cookie, header, our origin) is taken.
        let r = browser
            .client
            .post(url(what))
            .header("x-cyoa-presenter", "1")
            .header("origin", &app.address)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(r.status(), StatusCode::CONFLICT, "{what} from the console");
    }
    app.open_build().await;
    let bad_bodies: [(&str, &str); 8] = [
        ("start", r#"{"seconds": 0}"#),
        ("start", r#"{"seconds": 3601}"#),
        ("start", r#"{"seconds": "20"}"#),
        ("start", r#"{"seconds": -5}"#),
        ("extend", r#"{"minutes": 1}"#),
        ("extend", "not json"),
        ("cancel", r#"{"seconds": 5}"#),
        ("start", r#"[20]"#),
    ];
    for (what, body) in bad_bodies {
        let r = app
            .api
            .post(url(what))
            .bearer_auth(crate::helpers::TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what} {body}");
        let answer: Value = r.json().await.expect("JSON");
        assert_eq!(answer["error"], "bad_body", "{what} {body}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("seconds") || m.contains("{}")),
            "{answer}"
        );
    }
    // Past 4 KiB: refused as too large, in JSON like every API answer.
    let r = app
        .api
        .post(url("start"))
        .bearer_auth(crate::helpers::TOKEN)
        .header("content-type", "application/json")
        .body(format!("{{\"seconds\": 20, \"pad\": \"{}\"}}", "x".repeat(5000)))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value = r.json().await.expect("JSON");
    assert_eq!(answer["error"], "too_large", "{answer}");
    assert_eq!(
        app.state().await["timer"],
        Value::Null,
        "no bad body started a countdown"
    );
}

#[tokio::test]
async fn a_countdown_that_ran_out_while_the_server_was_down_closes_the_vote_at_start() {
    let (_dir, file) = crate::support::backends::data_file();
    {
        let store = crate::support::backends::embedded_store_at(&file, std::time::Duration::from_secs(30));
        let run = store.current("intro").await.expect("run 1").run;
        let path = ["intro".to_string(), "build".to_string()];
        store.show(run, "build", &path).await.expect("on build");
        store.open(run, "build").await.expect("open");
        let hour = cyoa::store::Countdown::Start(std::time::Duration::from_secs(3600));
        store.countdown(run, "build", hour).await.expect("a countdown");
    }
    // The server was down when the countdown ran out.
    rusqlite::Connection::open(&file)
        .expect("the data file")
        .execute("UPDATE runs SET deadline = deadline - 3601000", [])
        .expect("an earlier deadline");
    let store = crate::support::backends::embedded_store_at(&file, std::time::Duration::from_secs(30));
    let app = spawn_app_with(Options::on(Some(store))).await;
    let mut screen = app.presenter_socket().await;
    let (closed, _) = screen
        .wait_for("state", |m| m["state"]["decision"]["status"] == "closed")
        .await;
    assert!(closed["state"].get("timer").is_none(), "{closed}");
    let run = app.run_history(1).await;
    assert_eq!(run["decisions"][0]["id"], "build", "closed once: {run}");
    assert_eq!(run["decisions"].as_array().map(Vec::len), Some(1), "{run}");
}
