//! `cyoa serve` as a process: it prints the two URLs, the presenter URL
//! logs in, the token appears nowhere else, SIGTERM stops it cleanly.

use reqwest::StatusCode;

use crate::helpers::{log_of, serve_process, sigterm};

#[tokio::test]
async fn serve_prints_the_urls_and_stops_on_sigterm() {
    let token = "a-token-that-must-not-be-logged";
    let (mut child, mut lines) = serve_process(&["--presenter-token", token]);
    let presenter = lines.next().expect("a first line").expect("text");
    let audience = lines.next().expect("a second line").expect("text");
    let presenter_url = presenter.strip_prefix("presenter: ").expect("the presenter line");
    let audience_url = audience.strip_prefix("audience: ").expect("the audience line");
    assert!(
        presenter_url.ends_with(&format!("/presenter?token={token}")),
        "{presenter}"
    );
    assert!(
        audience_url.starts_with("http://127.0.0.1:") && audience_url.ends_with('/'),
        "{audience}"
    );

    let client = reqwest::Client::builder().cookie_store(true).build().expect("a client");
    // The login redirects to the bare presenter view, which opens.
    let r = client.get(presenter_url).send().await.expect("an answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.url().query(), None);
    assert_eq!(
        client.get(audience_url).send().await.expect("an answer").status(),
        StatusCode::OK
    );

    let status = sigterm(&mut child);
    assert!(status.success(), "a clean stop: {status:?}");
    let log = log_of(&mut child);
    assert!(log.contains("stopping"), "{log}");
    assert!(!log.contains(token), "the token leaked into the log:\n{log}");
}
