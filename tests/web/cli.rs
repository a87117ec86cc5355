//! `cyoa serve` as a process: it prints the two URLs (the token only when
//! cyoa made it), the presenter URL logs in, the token appears nowhere else,
//! a short token is refused, SIGTERM stops it cleanly.

use reqwest::StatusCode;

use crate::helpers::{log_of, serve_process, sigterm};

#[tokio::test]
async fn serve_prints_the_urls_and_stops_on_sigterm() {
    let token = "a-token-that-must-not-be-logged";
    let (mut child, mut lines) = serve_process(&["--presenter-token", token]);
    let presenter = lines.next().expect("a first line").expect("text");
    let audience = lines.next().expect("a second line").expect("text");
    let presenter_page = presenter
        .strip_prefix("presenter: ")
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the presenter line");
    let audience_url = audience.strip_prefix("audience: ").expect("the audience line");
    assert!(presenter_page.ends_with("/presenter"), "{presenter}");
    let presenter_url = &format!("{presenter_page}?token={token}");
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

#[tokio::test]
async fn a_token_the_operator_set_is_not_printed_and_a_generated_one_is() {
    let token = "the-operator-set-this-token";
    let (mut child, mut lines) = serve_process(&["--presenter-token", token]);
    let presenter = lines.next().expect("a first line").expect("text");
    assert!(!presenter.contains(token), "{presenter}");
    assert!(presenter.contains("the token you set"), "{presenter}");
    let page = presenter
        .strip_prefix("presenter: ")
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the presenter URL");
    assert!(
        page.starts_with("http://127.0.0.1:") && page.ends_with("/presenter"),
        "no token in the URL: {presenter}"
    );
    // The URL printed, with the token the operator holds, logs in.
    let client = reqwest::Client::builder().cookie_store(true).build().expect("a client");
    let r = client
        .get(format!("{page}?token={token}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(sigterm(&mut child).success());

    let (mut child, mut lines) = serve_process(&[]);
    let presenter = lines.next().expect("a first line").expect("text");
    let url = presenter.strip_prefix("presenter: ").expect("the presenter line");
    let (_, generated) = url.split_once("/presenter?token=").expect("the token in the URL");
    assert!(
        generated.len() == 32 && generated.bytes().all(|b| b.is_ascii_hexdigit()),
        "{presenter}"
    );
    let client = reqwest::Client::builder().cookie_store(true).build().expect("a client");
    assert_eq!(
        client.get(url).send().await.expect("an answer").status(),
        StatusCode::OK
    );
    assert!(sigterm(&mut child).success());
}

#[test]
fn a_short_presenter_token_is_refused_at_start() {
    for (args, env) in [
        (vec!["--presenter-token", "short"], None),
        (vec![], Some("fifteen-chars15")),
    ] {
        let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_cyoa"));
        serve.args(["serve", "--memory", "--bind", "127.0.0.1:0"]).args(&args);
        if let Some(token) = env {
            serve.env("CYOA_PRESENTER_TOKEN", token);
        }
        let out = serve.output().expect("cyoa runs");
        assert!(!out.status.success(), "{args:?} {env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("needs at least 16"), "{err}");
        assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "nothing served");
    }
}

#[test]
fn a_bad_presenter_session_is_refused_at_start() {
    for bad in ["0", "12 hours", "401d"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cyoa"))
            .args(["serve", "--memory", "--bind", "127.0.0.1:0", "--presenter-session", bad])
            .output()
            .expect("cyoa runs");
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--presenter-session"), "{bad}: {err}");
    }
}
