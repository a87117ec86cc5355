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
        serve.args(["serve", "--bind", "127.0.0.1:0"]).args(&args);
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
            .args(["serve", "--bind", "127.0.0.1:0", "--presenter-session", bad])
            .output()
            .expect("cyoa runs");
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--presenter-session"), "{bad}: {err}");
    }
}

/// The first lines `cyoa serve` prints, up to the one that starts with
/// `stop_at` (included), or its first twelve.
fn lines_until(lines: &mut impl Iterator<Item = std::io::Result<String>>, stop_at: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for line in lines.by_ref().take(12) {
        let line = line.expect("text");
        let last = line.starts_with(stop_at);
        seen.push(line);
        if last {
            break;
        }
    }
    seen
}

#[tokio::test]
async fn lan_listens_everywhere_and_shows_the_lan_address() {
    let (mut child, mut lines) = serve_process(&["--lan"]);
    let seen = lines_until(&mut lines, "listening: ");
    let audience = seen
        .iter()
        .find_map(|l| l.strip_prefix("audience: "))
        .unwrap_or_else(|| panic!("an audience line: {seen:?}"));
    let listening = seen
        .iter()
        .find_map(|l| l.strip_prefix("listening: "))
        .unwrap_or_else(|| panic!("a listening line: {seen:?}"));
    let bound: std::net::SocketAddr = listening
        .split_whitespace()
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("an address: {listening}"));
    assert!(bound.ip().is_unspecified(), "bound on every interface: {listening}");
    let url = reqwest::Url::parse(audience).expect("a URL");
    let host: std::net::IpAddr = url
        .host_str()
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("an IP address in {audience}"));
    assert!(
        !host.is_loopback() && !host.is_unspecified(),
        "a LAN address: {audience}"
    );
    assert_eq!(url.port(), Some(bound.port()), "{audience} on {listening}");
    assert!(!seen.iter().any(|l| l.starts_with("lan: off")), "{seen:?}");
    // The page answers at that address, as a phone on the network asks.
    let r = reqwest::get(audience).await.expect("an answer at the LAN address");
    assert_eq!(r.status(), StatusCode::OK);
    // So does loopback: every interface.
    let local = reqwest::get(format!("http://127.0.0.1:{}/", bound.port()))
        .await
        .expect("an answer on loopback");
    assert_eq!(local.status(), StatusCode::OK);
    stop(&mut child);

    // An explicit public URL wins over the LAN address; still every interface.
    let (mut child, mut lines) = serve_process(&["--lan", "--public-url", "https://vote.example.org"]);
    let seen = lines_until(&mut lines, "listening: ");
    assert!(
        seen.contains(&"audience: https://vote.example.org/".to_string()),
        "{seen:?}"
    );
    assert!(seen.iter().any(|l| l.starts_with("listening: 0.0.0.0:")), "{seen:?}");
    stop(&mut child);
}

#[tokio::test]
async fn a_loopback_public_url_prints_a_hint_for_phones() {
    for extra in [&[][..], &["--public-url", "http://localhost:8080"][..]] {
        let (mut child, mut lines) = serve_process(extra);
        let seen = lines_until(&mut lines, "lan: off");
        let hint = seen.last().cloned().unwrap_or_default();
        assert!(
            hint.starts_with("lan: off") && hint.contains("--lan"),
            "{extra:?}: {seen:?}"
        );
        stop(&mut child);
    }
    // Not for an address phones can reach.
    let (mut child, mut lines) = serve_process(&["--public-url", "https://vote.example.org"]);
    let seen = lines_until(&mut lines, "sms: ");
    assert!(!seen.iter().any(|l| l.starts_with("lan: off")), "{seen:?}");
    stop(&mut child);
}

/// Ends a `cyoa serve` started here (it may not have set up its SIGTERM
/// handler yet: these tests read only its first lines).
fn stop(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}
