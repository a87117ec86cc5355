//! Every bad input the issue names: the status and message it gets, and
//! that nothing was counted or changed.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{TOKEN, html, open_socket, spawn_app, text_of};

/// Votes on `build` in all, from the state (closed or open).
async fn build_total(app: &crate::helpers::TestApp) -> u64 {
    let run: Value = app.presenter_get("/api/runs/1").await.json().await.unwrap();
    let state = app.state().await;
    if state["decision"]["id"] == "build" {
        return state["decision"]["total"].as_u64().unwrap();
    }
    run["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "build")
        .map_or(0, |d| d["total"].as_u64().unwrap())
}

#[tokio::test]
async fn bad_form_votes_get_a_page_saying_why_and_count_nothing() {
    let app = spawn_app().await;
    let b = app.voter().await;
    // (decision, choice, status, words in the message)
    let pending = [("build", "pets", StatusCode::CONFLICT, "not open")];
    for (decision, choice, status, words) in pending {
        let r = b.post_vote(decision, choice).await;
        assert_eq!(r.status(), status, "before opening: {decision}/{choice}");
        let doc = html(&r.text().await.unwrap());
        assert!(text_of(&doc, "main#error .message").contains(words));
    }
    app.open_build().await;
    let cases = [
        ("nope", "pets", StatusCode::NOT_FOUND, "There is no vote"),
        ("intro", "pets", StatusCode::NOT_FOUND, "There is no vote"),
        ("host", "vps", StatusCode::CONFLICT, "not open"),
        ("build", "nope", StatusCode::UNPROCESSABLE_ENTITY, "no choice"),
        ("build", "", StatusCode::UNPROCESSABLE_ENTITY, "no choice"),
    ];
    for (decision, choice, status, words) in cases {
        let r = b.post_vote(decision, choice).await;
        assert_eq!(r.status(), status, "{decision}/{choice}");
        let doc = html(&r.text().await.unwrap());
        let message = text_of(&doc, "main#error .message");
        assert!(message.contains(words), "{decision}/{choice}: {message}");
    }
    assert_eq!(build_total(&app).await, 0);
    app.close().await;
    let r = b.post_vote("build", "pets").await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "closed");
    assert_eq!(build_total(&app).await, 0);
}

#[tokio::test]
async fn malformed_and_oversized_forms_are_refused() {
    let app = spawn_app().await;
    app.open_build().await;
    let b = app.voter().await;
    let url = format!("{}/vote/build", app.address);
    let big = format!("choice=pets&pad={}", "x".repeat(5000));
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode)> = vec![
        (
            "no choice field",
            b.client.post(&url).form(&[("other", "x")]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "oversized body",
            b.client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(big),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "not a form",
            b.client.post(&url).json(&json!({"choice": "pets"})),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (case, req, status) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "{case}");
        let doc = html(&r.text().await.unwrap());
        assert!(!text_of(&doc, "main#error .message").is_empty(), "{case}");
    }
    assert_eq!(build_total(&app).await, 0);
}

#[tokio::test]
async fn a_forged_voter_cookie_is_refused_and_counts_nothing() {
    let app = spawn_app().await;
    app.open_build().await;
    for forged in [
        "cyoa_voter=0123456789abcdef0123456789abcdef",
        "cyoa_voter=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D0123456789abcdef0123456789abcdef",
        "cyoa_voter=",
    ] {
        let b = app.browser();
        b.set_raw_cookie(forged);
        // The form's answer: nothing counted, a new cookie, tap again.
        let r = b.post_vote("build", "pets").await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{forged}");
        let doc = html(&r.text().await.unwrap());
        assert_eq!(
            text_of(&doc, "[data-notice]"),
            "Your vote has not counted yet: tap your choice again."
        );
        b.set_raw_cookie(forged);
        // The socket refuses it before the upgrade.
        assert_eq!(
            b.socket_at("/ws").await.err(),
            Some(StatusCode::BAD_REQUEST),
            "{forged}"
        );
        // Reloading the page replaces it.
        let r = b.get("/").await;
        assert!(r.headers().get("set-cookie").is_some(), "{forged}");
    }
    assert_eq!(build_total(&app).await, 0);
}

#[tokio::test]
async fn a_socket_without_a_voter_cookie_is_refused_before_the_upgrade() {
    let app = spawn_app().await;
    assert_eq!(
        app.browser().socket_at("/ws").await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    // A voter is not a presenter.
    let voter = app.voter().await;
    assert_eq!(
        voter.socket_at("/ws?role=presenter").await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        voter.socket_at("/ws?role=king").await.err(),
        Some(StatusCode::BAD_REQUEST)
    );
}

#[tokio::test]
async fn a_socket_from_another_origin_is_refused() {
    let app = spawn_app().await;
    let voter = app.voter().await;
    let mut req = format!("{}/ws", app.ws_address).into_client_request().unwrap();
    req.headers_mut()
        .insert("cookie", voter.cookie_header().unwrap().parse().unwrap());
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(open_socket(req).await.err(), Some(StatusCode::FORBIDDEN));
}

#[tokio::test]
async fn bad_socket_messages_get_an_error_and_the_socket_stays_usable() {
    let app = spawn_app().await;
    app.open_build().await;
    let voter = app.voter().await;
    let mut s = voter.socket().await;
    let vote = |d: &str, c: &str| json!({"type": "vote", "decision": d, "choice": c}).to_string();
    let cases: Vec<(&str, Message, &str)> = vec![
        ("closed decision", Message::text(vote("host", "vps")), "not_open"),
        ("unknown decision", Message::text(vote("nope", "x")), "unknown_decision"),
        ("unknown choice", Message::text(vote("build", "nope")), "unknown_choice"),
        ("malformed JSON", Message::text("{\"type\": \"vote\","), "bad_message"),
        ("not an object", Message::text("42"), "bad_message"),
        (
            "unknown type",
            Message::text(r#"{"type":"shout","text":"hi"}"#),
            "bad_message",
        ),
        (
            "missing choice",
            Message::text(r#"{"type":"vote","decision":"build"}"#),
            "bad_message",
        ),
        (
            "binary frame",
            Message::binary(vote("build", "pets").into_bytes()),
            "bad_message",
        ),
        (
            "oversized message",
            Message::text(" ".repeat(5000) + &vote("build", "pets")),
            "too_large",
        ),
    ];
    for (case, message, code) in cases {
        s.send(message).await;
        let answer = s.answer().await;
        assert_eq!(answer["type"], "error", "{case}");
        assert_eq!(answer["code"], code, "{case}: {answer}");
        assert!(!answer["message"].as_str().unwrap().is_empty(), "{case}");
        // A refused vote is named, so a client can match the answer to it;
        // a message that is no vote names none.
        if code == "bad_message" || code == "too_large" {
            assert!(answer.get("vote").is_none(), "{case}: {answer}");
        } else {
            assert!(answer["vote"]["decision"].is_string(), "{case}: {answer}");
        }
    }
    assert_eq!(build_total(&app).await, 0);
    // Still usable.
    assert_eq!(s.vote("build", "pets").await["type"], "voted");
    assert_eq!(build_total(&app).await, 1);
}

#[tokio::test]
async fn a_message_beyond_the_protocol_limit_closes_the_socket() {
    let app = spawn_app().await;
    app.open_build().await;
    let mut s = app.voter().await.socket().await;
    s.next_json().await.unwrap();
    s.send(Message::text("x".repeat(100 * 1024))).await;
    assert!(s.closed().await);
    assert_eq!(build_total(&app).await, 0);
}

#[tokio::test]
async fn presenter_calls_without_the_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let before = app.state().await;
    let voter = app.voter().await;
    let presenter = app.presenter_browser().await;
    let url = |a: &str| format!("{}/api/presenter/{a}", app.address);
    // (case, request, status, error code)
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            "no credentials",
            app.api.post(url("next")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "wrong token",
            app.api.post(url("next")).bearer_auth("wrong"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "empty token",
            app.api.post(url("next")).header("authorization", "Bearer "),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "token in the query",
            app.api.post(format!("{}?token={TOKEN}", url("next"))),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "a voter's cookie",
            voter.client.post(url("next")).header("x-cyoa-presenter", "1"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "cookie without the header",
            presenter.client.post(url("next")),
            StatusCode::FORBIDDEN,
            "presenter_header",
        ),
        (
            "cookie from another origin",
            presenter
                .client
                .post(url("next"))
                .header("x-cyoa-presenter", "1")
                .header("origin", "https://evil.example"),
            StatusCode::FORBIDDEN,
            "cross_origin",
        ),
        (
            "new run without token",
            app.api.post(url("new-run")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "goto without token",
            app.api.post(url("goto")).json(&json!({"slide": "host"})),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
    ];
    for (case, req, status, code) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "{case}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], code, "{case}");
        assert!(!body["message"].as_str().unwrap().contains(TOKEN), "{case}");
    }
    assert_eq!(app.state().await, before);
}

#[tokio::test]
async fn bad_presenter_commands_get_a_clear_error() {
    let app = spawn_app().await;
    let url = |a: &str| format!("{}/api/presenter/{a}", app.address);
    let post = |a: &str| app.api.post(url(a)).bearer_auth(TOKEN);
    // (case, request, status, error code)
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
        ("back at the start", post("back"), StatusCode::CONFLICT, "at_start"),
        (
            "open without a decision",
            post("open"),
            StatusCode::CONFLICT,
            "not_a_decision",
        ),
        (
            "follow without a decision",
            post("follow").json(&json!({"choice": "pets"})),
            StatusCode::CONFLICT,
            "not_a_decision",
        ),
        (
            "goto an unknown slide",
            post("goto").json(&json!({"slide": "nope"})),
            StatusCode::NOT_FOUND,
            "unknown_slide",
        ),
        (
            "goto with malformed JSON",
            post("goto")
                .header("content-type", "application/json")
                .body("{\"slide\":"),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "goto with a wrong field",
            post("goto").json(&json!({"to": "host"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_json",
        ),
        (
            "goto without JSON",
            post("goto").body("slide=host"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_json",
        ),
        (
            "goto with an oversized body",
            post("goto").json(&json!({"slide": "x".repeat(5000)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
    ];
    for (case, req, status, code) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "{case}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], code, "{case}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty(), "{case}");
    }
    assert_eq!(app.state().await["slide"]["id"], "intro");

    app.goto("build").await;
    let r = post("follow").json(&json!({"choice": "nope"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unknown_choice");
    assert_eq!(app.state().await["slide"]["id"], "build");
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404() {
    let app = spawn_app().await;
    let r = app.get("/api/nothing").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");
}
