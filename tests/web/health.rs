//! Health checks, security headers, static files.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_ENCODING};

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_says_ok() {
    let app = spawn_app().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn readyz_is_ready_when_the_store_answers() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/api/state",
        "/presenter",
        "/static/cyoa.css",
        "/nowhere",
        "/healthz",
    ] {
        let r = app.get(path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(csp.as_deref(), Some(cyoa::web::CSP), "CSP of {path}");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff", "{path}");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer", "{path}");
    }
}

#[tokio::test]
async fn static_files_are_served_with_a_cache_header() {
    let app = spawn_app().await;
    // Unversioned URLs (the pages use versioned ones, see static_files.rs):
    // served, and revalidated on every use.
    for file in ["cyoa.css", "common.js", "audience.js", "presenter.js"] {
        let r = app.get(&format!("/static/{file}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert_eq!(r.headers().get(CACHE_CONTROL).unwrap(), "no-cache", "{file}");
    }
    assert_eq!(app.get("/static/missing.js").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_are_compressed_for_browsers_that_ask() {
    let app = spawn_app().await;
    let r = app
        .api
        .get(format!("{}/", app.address))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers().get(CONTENT_ENCODING).unwrap(), "gzip");
}
