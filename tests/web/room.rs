//! The room code: with `room_code = true` joining needs the code on the
//! presenter's join panel. The QR code's URL lets a phone in, a typed code
//! does too (any case, spaces and dashes ignored), a wrong one does not, a
//! new run changes the code and shuts the old one out, and the audience
//! never receives the code. Every case runs on the memory store and on a
//! real Redis.

use cyoa::store::VoteStore;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, Options, STORY, TestApp, html, select, spawn_app_with, text_of};

on_both_stores!(
    options: super::room_options;
    the_qr_codes_url_lets_a_phone_in_and_its_votes_count,
    a_code_typed_in_lower_case_with_a_space_lets_a_phone_in,
    a_wrong_code_lets_nothing_in_and_counts_nothing,
    a_new_run_has_a_new_code_and_the_old_one_votes_no_more,
    only_the_presenter_ever_receives_the_code,
    an_address_that_guesses_is_shut_out_and_others_are_not,
);

/// The test story with `room_code = true`, on `store` (memory if `None`).
fn room_options(store: Option<VoteStore>) -> Options {
    Options {
        story: format!("{STORY}\n[settings]\nroom_code = true\n"),
        store,
        ..Options::default()
    }
}

/// The current room code, from a presenter command's answer.
async fn code_of(app: &TestApp) -> String {
    let state = app.goto("build").await;
    state["room_code"]
        .as_str()
        .expect("the presenter's state has the code")
        .to_string()
}

/// The names of the cookies a response sets.
fn cookies_set(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split('=').next())
        .map(str::to_string)
        .collect()
}

/// `GET path` answered with the join page: the status and the problem
/// line, if any.
async fn join_page(b: &Browser, path: &str) -> (StatusCode, Option<String>) {
    let r = b.get(path).await;
    let status = r.status();
    assert!(cookies_set(&r).is_empty(), "{path}: the join page sets no cookie");
    let doc = html(&r.text().await.expect("a body"));
    assert_eq!(
        select(&doc, "main#room form[method=get] input[name=code]").len(),
        1,
        "{path}"
    );
    assert!(
        select(&doc, "main#audience").is_empty(),
        "{path}: not the audience page"
    );
    let problem = select(&doc, "#room-problem")
        .first()
        .map(|p| p.text().collect::<String>());
    (status, problem)
}

/// A phone that enters `code` at `path` (`/?code=...`): the room cookie
/// is set and the address loses the code.
async fn enter(app: &TestApp, path: &str) -> Browser {
    let phone = app.browser();
    let r = phone.get(path).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    assert_eq!(r.headers()["location"], "/");
    assert_eq!(cookies_set(&r), ["cyoa_room"]);
    let page = phone.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let doc = html(&page.text().await.expect("a body"));
    assert_eq!(
        select(&doc, "main#audience").len(),
        1,
        "the audience page, past the door"
    );
    phone
}

async fn the_qr_codes_url_lets_a_phone_in_and_its_votes_count(options: Options) {
    let app = spawn_app_with(options).await;
    let code = code_of(&app).await;
    app.open().await;
    // What the projector shows: the code, and the QR code of a URL with it.
    let presenter = app.presenter_browser().await;
    let doc = html(&presenter.get("/presenter").await.text().await.expect("a body"));
    assert_eq!(text_of(&doc, ".join-panel [data-room-code]"), code);
    let url = select(&doc, ".join-panel a.audience-url")[0]
        .value()
        .attr("href")
        .expect("a link")
        .to_string();
    assert_eq!(url, format!("{}/?code={code}", app.address));
    let qr = presenter.get("/join.svg?run=1").await;
    assert_eq!(qr.headers()["cache-control"], "no-store");
    let qr = qr.text().await.expect("an SVG");
    assert_eq!(
        Some(qr),
        cyoa::web::join::qr_svg(&url),
        "the presenter's QR code holds the URL with the code"
    );
    // Anyone else gets the QR code of the bare URL: the image gives nothing away.
    let public = app.get("/join.svg").await.text().await.expect("an SVG");
    assert_eq!(Some(public), cyoa::web::join::qr_svg(&format!("{}/", app.address)));

    let phone = enter(&app, &url[app.address.len()..]).await;
    let mut socket = phone.socket().await;
    assert_eq!(socket.vote("build", "pets").await["type"], "voted");
    // A second phone scans too and votes without JavaScript.
    let other = enter(&app, &url[app.address.len()..]).await;
    assert_eq!(other.post_vote("build", "docs").await.status(), StatusCode::SEE_OTHER);
    let state = app.state().await;
    assert_eq!(
        (
            crate::helpers::votes_of(&state["decision"], "pets"),
            crate::helpers::votes_of(&state["decision"], "docs")
        ),
        (1, 1)
    );
}

async fn a_code_typed_in_lower_case_with_a_space_lets_a_phone_in(options: Options) {
    let app = spawn_app_with(options).await;
    let code = code_of(&app).await;
    app.open().await;
    let phone = app.browser();
    // The audience page asks first, and mints no voter before the code.
    assert_eq!(join_page(&phone, "/").await, (StatusCode::OK, None));
    assert_eq!(join_page(&phone, "/vote/build").await, (StatusCode::OK, None));
    let typed = format!("{} {}", code[..3].to_lowercase(), code[3..].to_lowercase());
    let path = format!("/?code={}", typed.replace(' ', "+"));
    let phone = enter(&app, &path).await;
    assert_eq!(phone.post_vote("build", "docs").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.votes("docs").await, 1);
    // The pinned page's form leads back to itself, with dashes too.
    let pinned = app.browser();
    let r = pinned
        .get(&format!("/vote/build?code={}-{}", &code[..2], &code[2..]))
        .await;
    assert_eq!(
        (r.status(), r.headers()["location"].to_str().ok()),
        (StatusCode::SEE_OTHER, Some("/vote/build"))
    );
    assert_eq!(pinned.get("/vote/build").await.status(), StatusCode::OK);
    assert_eq!(pinned.post_vote("build", "pets").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.votes("pets").await, 1);
}

async fn a_wrong_code_lets_nothing_in_and_counts_nothing(options: Options) {
    let app = spawn_app_with(options).await;
    let code = code_of(&app).await;
    app.open().await;
    let wrong: String = std::iter::once(if code.starts_with('A') { 'B' } else { 'A' })
        .chain(code.chars().skip(1))
        .collect();
    let phone = app.browser();
    let (status, problem) = join_page(&phone, &format!("/?code={wrong}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(problem.expect("a problem line").contains("not right"));
    // Look-alikes are no part of any code: the page says what codes are.
    let (status, problem) = join_page(&phone, "/?code=0OIl1").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(problem.expect("a problem line").contains("0, O, 1, I or L"));
    let (status, _) = join_page(&phone, &format!("/?code={}", "A".repeat(5000))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Still outside: the form vote is refused and mints nothing.
    let r = phone.post_vote("build", "pets").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(cookies_set(&r).is_empty());
    assert!(r.text().await.expect("a body").contains("type the code"));
    // A made-up room cookie is no better, on the form or the socket.
    let insider = enter(&app, &format!("/?code={code}")).await;
    insider.set_raw_cookie(&format!("cyoa_room=1.{code}"));
    assert_eq!(insider.post_vote("build", "pets").await.status(), StatusCode::FORBIDDEN);
    let mut socket = insider.socket().await;
    let refusal = socket.next_json().await.expect("the refusal");
    assert_eq!(
        (refusal["type"].as_str(), refusal["code"].as_str()),
        (Some("error"), Some("room_code"))
    );
    assert!(socket.closed().await, "the socket closes after the refusal");
    let mut presenter = app.presenter_socket().await;
    assert_eq!(
        presenter.next_json().await.expect("the state")["state"]["decision"]["total"],
        0
    );
    assert_eq!(app.state().await["decision"]["total"], 0);
}

async fn a_new_run_has_a_new_code_and_the_old_one_votes_no_more(options: Options) {
    let app = spawn_app_with(options).await;
    let old = code_of(&app).await;
    app.open().await;
    let phone = enter(&app, &format!("/?code={old}")).await;
    let mut socket = phone.socket().await;
    assert_eq!(socket.vote("build", "pets").await["type"], "voted");

    let new_run = app.new_run().await;
    let new = new_run["room_code"].as_str().expect("the new code").to_string();
    assert_ne!(new, old);
    // The open page hears that its code is past, and its socket ends.
    let (refusal, _) = socket.wait_for("error", |m| m["code"] == "room_code").await;
    assert!(
        refusal["message"]
            .as_str()
            .expect("a message")
            .contains("new room code")
    );
    assert!(socket.closed().await);
    app.goto("build").await;
    app.open().await;
    // The old cookie votes no more, on the form or a new socket.
    assert_eq!(phone.post_vote("build", "docs").await.status(), StatusCode::FORBIDDEN);
    let mut again = phone.socket().await;
    assert_eq!(again.next_json().await.expect("the refusal")["code"], "room_code");
    // The page asks for the new code, saying why; the old one is wrong now.
    let (status, problem) = join_page(&phone, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(problem.expect("a problem line").contains("new run"));
    assert_eq!(
        join_page(&phone, &format!("/?code={old}")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.state().await["decision"]["total"], 0);
    // The new code lets the same phone in again.
    let phone = enter(&app, &format!("/?code={new}")).await;
    let mut socket = phone.socket().await;
    assert_eq!(socket.vote("build", "docs").await["type"], "voted");
    assert_eq!(app.votes("docs").await, 1);
    assert_eq!(app.state().await["run"], 2);
}

async fn only_the_presenter_ever_receives_the_code(options: Options) {
    let app = spawn_app_with(options).await;
    let code = code_of(&app).await;
    app.open().await;
    let phone = enter(&app, &format!("/?code={code}")).await;
    // The audience: the page, the state, the socket.
    let page = phone.get("/").await.text().await.expect("a body");
    let state = phone.get("/api/state").await.text().await.expect("a body");
    let anonymous = app.get("/api/state").await.text().await.expect("a body");
    let mut socket = phone.socket().await;
    let pushed = socket.next_json().await.expect("the state").to_string();
    for (what, text) in [
        ("page", &page),
        ("state", &state),
        ("anonymous state", &anonymous),
        ("socket", &pushed),
    ] {
        assert!(!text.contains(&code), "the audience's {what} holds the code: {text}");
        assert!(
            !text.contains("room_code"),
            "the audience's {what} names the code: {text}"
        );
    }
    // A presenter change reaches the audience without it, the presenter with it.
    let mut presenter = app.presenter_socket().await;
    let first: Value = presenter.next_json().await.expect("the state");
    assert_eq!(first["state"]["room_code"], code.as_str());
    app.close().await;
    let (closed, _) = socket
        .wait_for("state", |m| m["state"]["decision"]["status"] == "closed")
        .await;
    assert!(closed["state"].get("room_code").is_none(), "{closed}");
    let (closed, _) = presenter
        .wait_for("state", |m| m["state"]["decision"]["status"] == "closed")
        .await;
    assert_eq!(closed["state"]["room_code"], code.as_str());
    // The presenter's console shows it too, to read it out.
    let console = app.presenter_browser().await;
    let doc = html(&console.get("/presenter/notes").await.text().await.expect("a body"));
    assert_eq!(select(&doc, "[data-room-code]").len(), 1);
    assert_eq!(text_of(&doc, "[data-room-code]"), code);
}

/// `GET path` from the client address `from` (behind a trusted proxy).
async fn get_from(b: &Browser, from: &str, path: &str) -> reqwest::Response {
    b.client
        .get(format!("{}{path}", b.address()))
        .header("x-forwarded-for", from)
        .send()
        .await
        .expect("the server answers")
}

async fn an_address_that_guesses_is_shut_out_and_others_are_not(mut options: Options) {
    options.limits.trust_forwarded_for = true;
    let app = spawn_app_with(options).await;
    let code = code_of(&app).await;
    let wrong: String = std::iter::once(if code.starts_with('A') { 'B' } else { 'A' })
        .chain(code.chars().skip(1))
        .collect();
    let guesser = app.browser();
    // The allowance of a hall that mistypes now and then, then 429: how
    // many more get through first depends on the time they took.
    let burst = cyoa::web::room::WRONG_CODES_BURST as usize;
    let mut refused = None;
    for tried in 1..=burst * 10 {
        let r = get_from(&guesser, "203.0.113.9", &format!("/?code={wrong}")).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((tried, r));
            break;
        }
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "wrong code {tried}");
    }
    let (tried, r) = refused.expect("a guesser is refused in the end");
    assert!(
        tried > burst,
        "refused after {tried} wrong codes, within the allowance of {burst}"
    );
    assert!(r.headers().contains_key("retry-after"));
    assert!(cookies_set(&r).is_empty());
    let doc = html(&r.text().await.expect("a body"));
    assert!(text_of(&doc, "#room-problem").contains("Too many wrong codes"));
    // Another address is not held up, and nothing was let in or counted.
    let other = app.browser();
    let r = get_from(&other, "198.51.100.7", &format!("/?code={code}")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(cookies_set(&guesser.get("/").await), Vec::<String>::new());
}

/// Two instances on one Redis with one `--secret` (a restarted instance is
/// the same case): one code, and a room cookie of either lets a phone vote
/// on the other.
#[tokio::test]
async fn every_instance_that_shares_the_secret_shows_the_same_code() {
    use crate::support::backends::redis_store_at;
    use crate::support::redis::{fresh_prefix, shared};
    let prefix = fresh_prefix();
    let a = spawn_app_with(room_options(Some(redis_store_at(shared(), &prefix).await))).await;
    let b = spawn_app_with(room_options(Some(redis_store_at(shared(), &prefix).await))).await;
    let code = code_of(&a).await;
    assert_eq!(b.open().await["room_code"], code.as_str());
    // Cookies know hosts, not ports: the phone entered on A is on B too.
    let phone = enter(&a, &format!("/?code={code}")).await;
    let on_b = |path: &str| format!("{}{path}", b.address);
    let page = phone.client.get(on_b("/")).send().await.expect("B answers");
    let doc = html(&page.text().await.expect("a body"));
    assert_eq!(select(&doc, "main#audience").len(), 1, "B lets the phone in");
    // As the page's own form from a browser: same-origin (a form that
    // says nothing would need the page's token).
    let r = phone
        .client
        .post(on_b("/vote/build"))
        // From B's own page, as a browser says.
        .header("origin", b.address.as_str())
        .form(&[("choice", "pets")])
        .send()
        .await
        .expect("B answers");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(a.votes("pets").await, 1);
}

#[tokio::test]
async fn the_room_code_flag_turns_it_on_for_any_story() {
    let app = spawn_app_with(Options {
        room_code: true,
        ..Options::default()
    })
    .await;
    let code = code_of(&app).await;
    assert_eq!(code.len(), 5);
    assert_eq!(join_page(&app.browser(), "/").await, (StatusCode::OK, None));
    enter(&app, &format!("/?code={code}")).await;
}

#[tokio::test]
async fn without_the_room_code_nothing_changes() {
    let app = spawn_app_with(Options::default()).await;
    let state = app.goto("build").await;
    assert!(state.get("room_code").is_none(), "{state}");
    // `?code=` means nothing then: the audience page, with its voter.
    let phone = app.browser();
    let r = phone.get("/?code=AB3CD").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(cookies_set(&r), ["cyoa_voter"]);
    let presenter = app.presenter_browser().await;
    for page in ["/presenter", "/presenter/notes"] {
        let doc = html(&presenter.get(page).await.text().await.expect("a body"));
        assert!(select(&doc, "[data-room-code]").is_empty(), "{page}");
    }
    let doc = html(&presenter.get("/presenter").await.text().await.expect("a body"));
    assert_eq!(select(&doc, ".join-panel img.qr[src='/join.svg']").len(), 1);
    let qr = presenter.get("/join.svg").await;
    assert_eq!(qr.headers()["cache-control"], "public, max-age=300");
}
