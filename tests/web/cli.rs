//! `cyoa serve` as a process: it prints the two URLs, the presenter URL
//! logs in, the token appears nowhere else, SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use reqwest::StatusCode;

#[tokio::test]
async fn serve_prints_the_urls_and_stops_on_sigterm() {
    let token = "a-token-that-must-not-be-logged";
    let mut child = Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .args(["serve", "--bind", "127.0.0.1:0", "--presenter-token", token])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cyoa starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
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

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("cyoa exits");
    assert!(status.success(), "a clean stop: {status:?}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("the log");
    assert!(log.contains("stopping"), "{log}");
    assert!(!log.contains(token), "the token leaked into the log:\n{log}");
}
