//! The audience page, the pinned page, the form vote, the presenter view
//! and its login; assertions on selectors.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::helpers::{Options, TOKEN, html, select, spawn_app, spawn_app_with, text_of};

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_audience_page_gives_a_fresh_browser_a_signed_voter_cookie() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.get("/").await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookies = set_cookies(&r);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let c = &cookies[0];
    assert!(c.starts_with("cyoa_voter="), "{c}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(c.split("; ").any(|part| part == flag), "{flag} missing in {c}");
    }
    assert!(!c.contains("Secure"), "no Secure flag over http: {c}");
    // A browser that has it keeps it.
    assert!(set_cookies(&b.get("/").await).is_empty());
}

#[tokio::test]
async fn the_voter_cookie_is_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(Options {
        public_url: Some("https://talk.example".into()),
        ..Options::default()
    })
    .await;
    let r = app.browser().get("/").await;
    assert!(set_cookies(&r)[0].split("; ").any(|p| p == "Secure"));
}

#[tokio::test]
async fn the_audience_page_shows_the_current_slide_between_votes() {
    let app = spawn_app().await;
    let doc = html(&app.voter().await.get("/").await.text().await.unwrap());
    assert_eq!(text_of(&doc, "main#audience h1"), "Welcome to the test");
    assert_eq!(select(&doc, "main#audience")[0].attr("data-decision"), Some(""));
    assert!(select(&doc, "form").is_empty());
    assert_eq!(select(&doc, "p#announce[aria-live=polite]").len(), 1);
    assert_eq!(select(&doc, "script[src^='/static/audience.js?v='][defer]").len(), 1);
    assert_eq!(
        select(&doc, "link[rel=stylesheet][href^='/static/cyoa.css?v=']").len(),
        1
    );
}

#[tokio::test]
async fn an_open_decision_shows_one_button_per_choice_and_marks_the_voters_choice() {
    let app = spawn_app().await;
    app.open_build().await;
    let b = app.voter().await;
    let doc = html(&b.get("/").await.text().await.unwrap());
    assert_eq!(select(&doc, "main#audience")[0].attr("data-decision"), Some("build"));
    assert_eq!(text_of(&doc, "#prompt"), "Pets or docs?");
    assert_eq!(select(&doc, "form[method=post][action='/vote/build']").len(), 1);
    let buttons = select(&doc, "form button[type=submit][name=choice]");
    let ids: Vec<_> = buttons.iter().map(|b| b.attr("data-choice").unwrap()).collect();
    assert_eq!(ids, ["pets", "docs"]);
    assert!(buttons.iter().all(|b| b.attr("aria-pressed") == Some("false")));
    assert_eq!(buttons[0].attr("value"), Some("pets"));

    assert_eq!(b.post_vote("build", "docs").await.status(), StatusCode::SEE_OTHER);
    let doc = html(&b.get("/").await.text().await.unwrap());
    assert_eq!(
        select(&doc, "button[data-choice=docs]")[0].attr("aria-pressed"),
        Some("true")
    );
    assert_eq!(
        select(&doc, "button[data-choice=pets]")[0].attr("aria-pressed"),
        Some("false")
    );
}

#[tokio::test]
async fn a_closed_decision_shows_the_result_on_the_audience_page() {
    let app = spawn_app().await;
    app.open_build().await;
    app.voter().await.post_vote("build", "pets").await;
    app.voter().await.post_vote("build", "pets").await;
    app.voter().await.post_vote("build", "docs").await;
    app.close().await;
    let doc = html(&app.voter().await.get("/").await.text().await.unwrap());
    assert!(select(&doc, "form").is_empty());
    assert_eq!(text_of(&doc, "[data-tally=pets]"), "2");
    assert_eq!(text_of(&doc, "[data-tally=docs]"), "1");
    assert_eq!(text_of(&doc, "[data-winner]"), "Tinder for Pets");
    assert_eq!(text_of(&doc, "[data-status]"), "Vote closed");
}

#[tokio::test]
async fn the_pinned_page_shows_its_decision_wherever_the_presenter_is() {
    let app = spawn_app().await;
    let b = app.voter().await;
    let r = b.get("/vote/host").await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc = html(&r.text().await.unwrap());
    assert_eq!(select(&doc, "main#audience")[0].attr("data-decision"), Some("host"));
    assert_eq!(text_of(&doc, "#prompt"), "Which host?");
    assert!(select(&doc, "form").is_empty(), "not open yet");
}

#[tokio::test]
async fn the_pinned_page_of_an_unknown_decision_is_a_404_page() {
    let app = spawn_app().await;
    for path in ["/vote/nope", "/vote/intro"] {
        let r = app.browser().get(path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let doc = html(&r.text().await.unwrap());
        assert!(
            text_of(&doc, "main#error .message").contains("There is no vote"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_form_vote_counts_once_moves_and_redirects_back() {
    let app = spawn_app().await;
    app.open_build().await;
    let b = app.voter().await;
    let r = b.post_vote("build", "pets").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers().get(LOCATION).unwrap(), "/vote/build");
    assert_eq!(b.post_vote("build", "pets").await.status(), StatusCode::SEE_OTHER);
    assert_eq!((app.votes("pets").await, app.votes("docs").await), (1, 0));
    b.post_vote("build", "docs").await;
    assert_eq!((app.votes("pets").await, app.votes("docs").await), (0, 1));
    assert_eq!(b.state().await["you"], "docs");
}

#[tokio::test]
async fn a_form_vote_from_a_browser_without_a_cookie_counts_nothing_and_says_tap_again() {
    let app = spawn_app().await;
    app.open_build().await;
    let b = app.browser();
    let r = b.post_vote("build", "pets").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(set_cookies(&r)[0].starts_with("cyoa_voter="));
    let doc = html(&r.text().await.unwrap());
    assert_eq!(
        text_of(&doc, "[data-notice]"),
        "Your vote has not counted yet: tap your choice again."
    );
    assert_eq!(select(&doc, "form[action='/vote/build'] button").len(), 2);
    assert_eq!(app.votes("pets").await, 0);
    // The tap again counts, with the cookie the answer set.
    assert_eq!(b.post_vote("build", "pets").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.votes("pets").await, 1);
    assert_eq!(b.state().await["you"], "pets");
}

#[tokio::test]
async fn the_presenter_view_without_the_cookie_is_a_401_page_saying_how_to_log_in() {
    let app = spawn_app().await;
    let r = app.browser().get("/presenter").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let doc = html(&r.text().await.unwrap());
    let message = text_of(&doc, "main#error .message");
    assert!(
        message.contains(&format!("{}/presenter?token=", app.address)),
        "{message}"
    );
    assert!(!message.contains(TOKEN));
}

#[tokio::test]
async fn a_wrong_token_does_not_log_in() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.get("/presenter?token=wrong").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(&r).is_empty());
    assert_eq!(b.get("/presenter").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_login_sets_a_strict_cookie_and_drops_the_token_from_the_url() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.get(&format!("/presenter?token={TOKEN}")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers().get(LOCATION).unwrap(), "/presenter");
    let c = &set_cookies(&r)[0];
    assert!(c.starts_with("cyoa_presenter="), "{c}");
    assert!(!c.contains(TOKEN), "the cookie does not hold the token");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(c.split("; ").any(|p| p == flag), "{flag} missing in {c}");
    }
    assert_eq!(b.get("/presenter").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_presenter_view_shows_the_slide_and_the_live_vote() {
    let app = spawn_app().await;
    let b = app.presenter_browser().await;
    let doc = html(&b.get("/presenter").await.text().await.unwrap());
    let main = select(&doc, "main#presenter")[0];
    assert_eq!(
        (main.attr("data-run"), main.attr("data-slide")),
        (Some("1"), Some("intro"))
    );
    assert_eq!(text_of(&doc, "main#presenter h1"), "Welcome to the test");
    assert_eq!(text_of(&doc, ".slide-body strong"), "room");
    assert_eq!(select(&doc, "script[src^='/static/presenter.js?v='][defer]").len(), 1);
    assert!(select(&doc, "[data-tally]").is_empty());

    app.open_build().await;
    app.voter().await.post_vote("build", "docs").await;
    let doc = html(&b.get("/presenter").await.text().await.unwrap());
    assert_eq!(select(&doc, "main#presenter")[0].attr("data-slide"), Some("build"));
    assert_eq!(text_of(&doc, "#prompt"), "Pets or docs?");
    assert_eq!(select(&doc, "[data-bar=pets]").len(), 1);
    assert_eq!(text_of(&doc, "[data-percent=docs]"), "100%");
    assert_eq!(text_of(&doc, "[data-tally=pets]"), "0");
    assert_eq!(text_of(&doc, "[data-tally=docs]"), "1");
    assert_eq!(text_of(&doc, "[data-total]"), "1");
    assert_eq!(text_of(&doc, "[data-status]"), "Vote open");
    assert_eq!(text_of(&doc, "[data-winner]"), "Doc Send");
    // The join panel: the QR code, and the URL short on screen.
    let link = select(&doc, ".join-panel a.audience-url")[0];
    assert_eq!(link.attr("href"), Some(format!("{}/", app.address).as_str()));
    assert_eq!(text_of(&doc, ".join-url"), app.address.trim_start_matches("http://"));
    assert_eq!(select(&doc, ".join-panel img.qr[src='/join.svg']").len(), 1);

    app.voter().await.post_vote("build", "pets").await;
    app.close().await;
    let doc = html(&b.get("/presenter").await.text().await.unwrap());
    assert_eq!(text_of(&doc, "[data-status]"), "Vote closed");
    assert_eq!(text_of(&doc, "[data-winner]"), "Tie: Tinder for Pets and Doc Send");
}

#[tokio::test]
async fn a_pending_decision_says_the_vote_is_not_open_yet() {
    let app = spawn_app().await;
    app.goto("build").await;
    let doc = html(
        &app.presenter_browser()
            .await
            .get("/presenter")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(text_of(&doc, "[data-status]"), "Vote not open yet");
    assert_eq!(text_of(&doc, "[data-winner]"), "");
}

#[tokio::test]
async fn an_unknown_page_is_a_404_page() {
    let app = spawn_app().await;
    let r = app.get("/nowhere").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let doc = html(&r.text().await.unwrap());
    assert_eq!(select(&doc, "main#error[data-status='404']").len(), 1);
}
