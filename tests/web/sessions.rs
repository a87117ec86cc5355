//! Presenter logins: a login lasts `--presenter-session` and is then
//! refused everywhere (API, pages, socket); logout removes it, and only the
//! presenter's own pages may ask for it; instances sharing the secret and
//! the token take each other's logins; the presenter's answers are never
//! cached.

use std::time::Duration;

use axum::response::IntoResponse;
use axum_extra::extract::cookie::{Cookie, SignedCookieJar};
use cyoa::web::auth::{PRESENTER_COOKIE, PresenterSessions, unix_now};
use cyoa::web::limits::PRESENTER_SESSION;
use cyoa::web::{Limits, cookie_key};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{
    Browser, Options, SECRET, TOKEN, TestApp, html, open_socket, spawn_app, spawn_app_with, test_limits, text_of,
};

/// `cyoa_presenter=VALUE`: a login at `issued` (Unix seconds), signed as
/// the test server signs it, for a login lasting `max_age`.
fn presenter_cookie_issued_at(issued: u64, max_age: Duration) -> String {
    let value = PresenterSessions::new(SECRET, TOKEN, max_age).issue(issued);
    let jar = SignedCookieJar::new(cookie_key(SECRET)).add(Cookie::new(PRESENTER_COOKIE, value));
    let response = jar.into_response();
    let set = response.headers()[SET_COOKIE].to_str().expect("text");
    set.split(';').next().expect("name=value").to_string()
}

/// `POST path` with a raw `Cookie` header and the presenter page's header
/// and origin, as the presenter's script sends it.
async fn post_as_page(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.api
        .post(format!("{}{path}", app.address))
        .header(COOKIE, cookie)
        .header("x-cyoa-presenter", "1")
        .header("origin", &app.address)
        .send()
        .await
        .expect("the server answers")
}

/// `POST /presenter/logout` from browser `b`, as the presenter's script sends it.
async fn log_out(app: &TestApp, b: &Browser) -> reqwest::Response {
    b.client
        .post(format!("{}/presenter/logout", app.address))
        .header("x-cyoa-presenter", "1")
        .header("origin", &app.address)
        .send()
        .await
        .expect("the server answers")
}

async fn get_with(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.api
        .get(format!("{}{path}", app.address))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("the server answers")
}

async fn presenter_socket_status(app: &TestApp, cookie: &str) -> Result<(), StatusCode> {
    let mut req = format!("{}/ws?role=presenter", app.ws_address)
        .into_client_request()
        .expect("a request");
    req.headers_mut().insert("cookie", cookie.parse().expect("a header"));
    open_socket(req).await.map(|_| ())
}

#[tokio::test]
async fn a_login_older_than_the_session_is_refused_by_the_api_the_pages_and_the_socket() {
    let app = spawn_app().await;
    let hours = |h: u64| Duration::from_secs(h * 60 * 60);
    let fresh = presenter_cookie_issued_at(unix_now(), PRESENTER_SESSION);
    let expired = presenter_cookie_issued_at(unix_now() - 13 * 60 * 60, hours(12));

    // A cookie minted here as the server mints it works: the test's cookie is right.
    assert_eq!(
        post_as_page(&app, "/api/presenter/next", &fresh).await.status(),
        StatusCode::OK
    );
    assert_eq!(get_with(&app, "/presenter", &fresh).await.status(), StatusCode::OK);
    assert_eq!(presenter_socket_status(&app, &fresh).await, Ok(()));

    // Thirteen hours after the login, of a twelve-hour session: refused.
    let r = post_as_page(&app, "/api/presenter/next", &expired).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "session_expired", "{body}");
    assert!(body["message"].as_str().unwrap().contains("12h"), "{body}");
    assert_eq!(
        app.state().await["slide"]["id"],
        "build",
        "only the fresh login moved the talk"
    );
    for page in ["/presenter", "/presenter/notes", "/presenter/map.svg"] {
        let r = get_with(&app, page, &expired).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{page}");
        let doc = html(&r.text().await.unwrap());
        let message = text_of(&doc, "main#error .message");
        assert!(
            message.contains("has expired") || page == "/presenter/map.svg",
            "{page}: {message}"
        );
    }
    assert_eq!(
        presenter_socket_status(&app, &expired).await,
        Err(StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn the_session_flag_sets_how_long_a_login_lasts() {
    let app = spawn_app_with(Options {
        limits: Limits {
            presenter_session: Duration::from_secs(60),
            ..test_limits()
        },
        ..Options::default()
    })
    .await;
    // The login's own cookie says how long the browser keeps it.
    let login = app.browser().get(&format!("/presenter?token={TOKEN}")).await;
    let set = login.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.split("; ").any(|p| p == "Max-Age=60"), "{set}");
    // Two minutes after the login, a 60 s session is over.
    let old = presenter_cookie_issued_at(unix_now() - 120, Duration::from_secs(60));
    let r = post_as_page(&app, "/api/presenter/next", &old).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "session_expired", "{body}");
    assert_eq!(app.state().await["slide"]["id"], "intro");
    // Thirty seconds after it, it is not.
    let recent = presenter_cookie_issued_at(unix_now() - 30, Duration::from_secs(60));
    assert_eq!(
        post_as_page(&app, "/api/presenter/next", &recent).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_removes_the_cookie_and_leads_to_the_logged_out_page() {
    let app = spawn_app().await;
    let b = app.presenter_browser().await;
    assert_eq!(b.get("/presenter").await.status(), StatusCode::OK);
    let r = log_out(&app, &b).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/presenter/logged-out");
    let removal = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(removal.starts_with("cyoa_presenter=;"), "{removal}");
    assert!(removal.split("; ").any(|p| p == "Max-Age=0"), "{removal}");
    assert!(removal.split("; ").any(|p| p == "Path=/"), "{removal}");

    // The browser no longer holds a login.
    assert!(!b.cookie_header().unwrap_or_default().contains("cyoa_presenter"));
    assert_eq!(b.get("/presenter").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        b.socket_at("/ws?role=presenter").await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let page = b.get("/presenter/logged-out").await;
    assert_eq!(page.status(), StatusCode::OK);
    let doc = html(&page.text().await.unwrap());
    assert_eq!(text_of(&doc, "main#logged-out h1"), "Logged out");
    assert!(
        text_of(&doc, "main#logged-out .message").contains(&format!("{}/presenter?token=", app.address)),
        "the page says where to log in again"
    );
    // Logging out again is harmless.
    assert_eq!(log_out(&app, &b).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn logout_from_another_site_or_without_the_header_is_refused_and_the_login_stays() {
    let app = spawn_app().await;
    let b = app.presenter_browser().await;
    let logout = || b.client.post(format!("{}/presenter/logout", app.address));
    let refused = [
        (
            "another site",
            logout()
                .header("x-cyoa-presenter", "1")
                .header("origin", "http://evil.example"),
        ),
        ("no header (a plain form)", logout().header("origin", &app.address)),
        ("a wrong header", logout().header("x-cyoa-presenter", "yes")),
    ];
    for (why, request) in refused {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{why}");
        assert!(r.headers().get(SET_COOKIE).is_none(), "{why}: no cookie change");
        let body: Value = r.json().await.unwrap();
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{why}: {body}");
    }
    assert_eq!(b.get("/presenter").await.status(), StatusCode::OK, "still logged in");
    // Logout is a POST: a link or an address typed cannot log out.
    assert_eq!(
        b.get("/presenter/logout").await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(b.get("/presenter").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_login_is_good_on_every_instance_that_shares_the_secret_and_the_token() {
    let (one, two) = (spawn_app().await, spawn_app().await);
    let login = one.browser().get(&format!("/presenter?token={TOKEN}")).await;
    let set = login.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    assert_eq!(get_with(&two, "/presenter", &cookie).await.status(), StatusCode::OK);
    assert_eq!(
        post_as_page(&two, "/api/presenter/next", &cookie).await.status(),
        StatusCode::OK
    );
    assert_eq!(presenter_socket_status(&two, &cookie).await, Ok(()));
}

#[tokio::test]
async fn the_presenters_answers_are_never_cached() {
    let app = spawn_app().await;
    let b = app.presenter_browser().await;
    let no_store = |what: &str, r: &reqwest::Response| {
        assert_eq!(
            r.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{what} ({})",
            r.status()
        );
    };
    for page in [
        "/presenter",
        "/presenter/notes",
        "/presenter/map.svg",
        "/presenter/logged-out",
    ] {
        no_store(page, &b.get(page).await);
        no_store(&format!("{page} logged out"), &app.get(page).await);
    }
    no_store(
        "the login",
        &app.browser().get(&format!("/presenter?token={TOKEN}")).await,
    );
    no_store("a wrong login", &app.get("/presenter?token=wrong").await);
    no_store("an API answer", &app.presenter_call("next", None).await);
    let refused = app
        .api
        .post(format!("{}/api/presenter/back", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    no_store("an API refusal", &refused);
    for action in ["results", "explore"] {
        no_store(
            action,
            &app.presenter_call(action, Some(serde_json::json!({"published": false})))
                .await,
        );
    }
    // The runs' history: the presenter sees more of it than anyone else.
    for path in ["/api/runs", "/api/runs/1", "/api/runs/1.csv"] {
        no_store(path, &app.presenter_get(path).await);
        no_store(&format!("{path} unpublished"), &app.get(path).await);
    }
    no_store("the logout", &log_out(&app, &b).await);
    // The audience's pages keep their own caching.
    assert_eq!(app.get("/").await.headers().get(CACHE_CONTROL), None);
}
