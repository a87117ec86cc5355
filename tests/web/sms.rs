//! `POST /sms` on the real server: signed texts count into the same tally
//! as web votes and reach the presenter's socket; unsigned or misaddressed
//! ones count nothing; without a token SMS voting is off; the pages and
//! `/api/state` show the number to text only when it is on.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use cyoa::settings::{Settings, SmsSettings};
use cyoa::sms::signature;
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with, votes_of};
use crate::metrics::{scrape, scrape_until_grown, value, value_or_zero};
use crate::support::message_sid;

const TWILIO_TOKEN: &str = "web-test-twilio-auth-token";
const NUMBER: &str = "+15005550006";

fn sms_on() -> SmsSettings {
    // `results` too when built with `sms-outbound`.
    #[allow(clippy::needless_update)]
    SmsSettings {
        auth_token: Some(TWILIO_TOKEN.into()),
        number: Some(NUMBER.into()),
        insecure_skip_signature: false,
        ..SmsSettings::default()
    }
}

async fn spawn_sms_app() -> TestApp {
    spawn_app_with(Options {
        sms: sms_on(),
        ..Options::default()
    })
    .await
}

/// The fields of an inbound text, as Twilio posts them; `tag` names the
/// message (its `MessageSid` is made from it, in Twilio's shape).
fn fields(from: &str, body: &str, tag: &str) -> Vec<(String, String)> {
    let sid = message_sid(tag);
    let sid = sid.as_str();
    [
        ("ToCountry", "US"),
        ("From", from),
        ("To", NUMBER),
        ("Body", body),
        ("MessageSid", sid),
        ("SmsMessageSid", sid),
        ("NumSegments", "1"),
        ("AccountSid", "AC00000000000000000000000000000000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn encode(params: &[(String, String)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    form.finish()
}

/// Posts `params` to `path`, signed for `signed_url` with `token` (or
/// unsigned).
async fn post_sms(app: &TestApp, path: &str, params: &[(String, String)], signed: Option<(&str, &str)>) -> Response {
    let mut req = app
        .api
        .post(format!("{}{path}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(params));
    if let Some((token, url)) = signed {
        req = req.header(signature::HEADER, signature::compute(token.as_bytes(), url, params));
    }
    req.send().await.expect("the server answers")
}

/// A text from `from`, signed as Twilio signs it for this server's `/sms`.
async fn text(app: &TestApp, from: &str, body: &str, sid: &str) -> Response {
    let url = format!("{}/sms", app.address);
    post_sms(app, "/sms", &fields(from, body, sid), Some((TWILIO_TOKEN, &url))).await
}

async fn twiml(r: Response) -> String {
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"].to_str().unwrap(), "text/xml; charset=utf-8");
    r.text().await.expect("a body")
}

#[tokio::test]
async fn a_signed_text_counts_replies_in_twiml_and_reaches_the_presenter() {
    let app = spawn_sms_app().await;
    app.open_build().await;
    let mut presenter = app.presenter_screen().await;

    let reply = twiml(text(&app, "+14155550101", " b. ", "SM0001").await).await;
    assert!(reply.contains("<Response>") && reply.contains("Doc Send"), "{reply}");

    let tally = presenter.wait_for_tally("build", "docs", 1).await;
    assert_eq!(tally["total"], 1);
    assert_eq!(app.votes("docs").await, 1);
}

#[tokio::test]
async fn sms_and_web_votes_add_up_on_the_presenters_tally() {
    let app = spawn_sms_app().await;
    app.open_build().await;
    let mut presenter = app.presenter_socket().await;
    let mut web = app.voter().await.socket().await;
    assert_eq!(web.next_json().await.unwrap()["type"], "state");

    assert_eq!(web.vote("build", "pets").await["type"], "voted");
    twiml(text(&app, "+14155550101", "1", "SM0001").await).await;
    twiml(text(&app, "+14155550102", "tinder for pets", "SM0002").await).await;
    twiml(text(&app, "+14155550103", "2", "SM0003").await).await;
    // Redelivered by Twilio: counts once.
    twiml(text(&app, "+14155550103", "2", "SM0003").await).await;

    let tally = presenter
        .wait_for("tally", |m| {
            m["decision"] == "build" && votes_of(m, "pets") == 3 && votes_of(m, "docs") == 1
        })
        .await
        .0;
    assert_eq!(tally["total"], 4);
    assert_eq!(tally["winner"], "pets");

    // A phone moves its vote; the web voter keeps theirs.
    twiml(text(&app, "+14155550101", "B", "SM0004").await).await;
    presenter.wait_for_tally("build", "docs", 2).await;
    assert_eq!(app.votes("pets").await, 2);
}

const SMS_COUNTED: &str = "cyoa_votes_counted_total{channel=\"sms\"}";
const SMS_RECEIVED: &str = "cyoa_sms_received_total";
const VOTE_TO_PUSH: &str = "cyoa_vote_to_push_seconds_count";

fn sms_refused(reason: &str) -> String {
    format!("cyoa_sms_refused_total{{reason=\"{reason}\"}}")
}

#[tokio::test]
async fn a_text_moves_the_metrics_a_web_vote_moves() {
    let app = spawn_sms_app().await;
    app.open_build().await;
    let mut presenter = app.presenter_screen().await;
    let before = scrape(&app).await;

    twiml(text(&app, "+14155550121", "2", "metrics1").await).await;
    presenter.wait_for_tally("build", "docs", 1).await;
    // The flusher records the push as it sends it: wait for the clock.
    let after = scrape_until_grown(&app, &before, VOTE_TO_PUSH).await;
    let grew = |series: &str| value_or_zero(&after, series) > value_or_zero(&before, series);
    assert!(grew(SMS_COUNTED), "{after}");
    assert!(grew(VOTE_TO_PUSH), "{after}");
    assert!(grew(SMS_RECEIVED), "{after}");
    assert!(grew("cyoa_pushes_total{kind=\"tally\"}"), "{after}");
}

#[tokio::test]
async fn a_refused_text_moves_sms_refused_by_its_reason_and_counts_nothing() {
    let app = spawn_sms_app().await;
    app.open_build().await;
    let url = format!("{}/sms", app.address);
    let before = scrape(&app).await;

    let forged = post_sms(
        &app,
        "/sms",
        &fields("+14155550131", "1", "refused1"),
        Some(("not-it", &url)),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let help = twiml(text(&app, "+14155550132", "pizza", "refused2").await).await;
    assert!(help.contains("<Message>"), "the help text: {help}");
    twiml(text(&app, "+14155550133", "2", "refused3").await).await;
    // Twilio delivers the same message again: nothing more counts.
    twiml(text(&app, "+14155550133", "2", "refused3").await).await;

    let after = scrape(&app).await;
    let moved = |series: &str| value_or_zero(&after, series) - value_or_zero(&before, series);
    assert!(moved(&sms_refused("bad_signature")) >= 1.0, "{after}");
    assert!(moved(&sms_refused("unknown_choice")) >= 1.0, "{after}");
    assert!(moved(&sms_refused("redelivered")) >= 1.0, "{after}");
    assert!(moved(SMS_RECEIVED) >= 4.0, "{after}");
    assert_eq!(app.votes("pets").await, 0, "the forged text counted nothing");
    assert_eq!(app.votes("docs").await, 1, "the redelivered text counted once");
    assert_eq!(app.state().await["decision"]["total"], 1);
}

#[tokio::test]
async fn unsigned_or_misaddressed_texts_are_refused_and_count_nothing() {
    let app = spawn_sms_app().await;
    app.open_build().await;
    let params = fields("+14155550101", "1", "SM0001");

    let r = post_sms(&app, "/sms", &params, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("X-Twilio-Signature"));

    let wrong_token = format!("{}/sms", app.address);
    let r = post_sms(&app, "/sms", &params, Some(("another-token", &wrong_token))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Signed for another URL (the query is part of what Twilio signs).
    let other = format!("{}/sms?campaign=1", app.address);
    let r = post_sms(&app, "/sms", &params, Some((TWILIO_TOKEN, &other))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    assert_eq!(app.state().await["decision"]["total"], 0);

    // The same URL with its query, signed for it, counts.
    twiml(post_sms(&app, "/sms?campaign=1", &params, Some((TWILIO_TOKEN, &other))).await).await;
    assert_eq!(app.votes("pets").await, 1);
}

#[tokio::test]
async fn behind_a_proxy_the_signature_is_checked_against_the_public_url() {
    let app = spawn_app_with(Options {
        sms: sms_on(),
        public_url: Some("https://talk.example.com".into()),
        ..Options::default()
    })
    .await;
    app.open_build().await;
    let params = fields("+14155550101", "2", "SM0001");
    let own = format!("{}/sms", app.address);
    let r = post_sms(&app, "/sms", &params, Some((TWILIO_TOKEN, &own))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "signed for the address it reached");
    let public = "https://talk.example.com/sms";
    twiml(post_sms(&app, "/sms", &params, Some((TWILIO_TOKEN, public))).await).await;
    // Twilio's helper libraries also accept the URL with the default port.
    let params = fields("+14155550102", "2", "SM0002");
    twiml(
        post_sms(
            &app,
            "/sms",
            &params,
            Some((TWILIO_TOKEN, "https://talk.example.com:443/sms")),
        )
        .await,
    )
    .await;
    assert_eq!(app.votes("docs").await, 2);
}

#[tokio::test]
async fn without_a_token_sms_voting_is_off_and_says_how_to_turn_it_on() {
    let app = spawn_app().await;
    app.open_build().await;
    let url = format!("{}/sms", app.address);
    let r = post_sms(
        &app,
        "/sms",
        &fields("+14155550101", "1", "SM1"),
        Some((TWILIO_TOKEN, &url)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("SMS voting is off") && body.contains("--twilio-auth-token"),
        "{body}"
    );
    assert_eq!(app.state().await["decision"]["total"], 0);
    assert_eq!(app.state().await["sms"], Value::Null);
}

#[tokio::test]
async fn oversized_or_malformed_webhooks_are_refused_without_counting() {
    let app = spawn_sms_app().await;
    app.open_build().await;
    let url = format!("{}/sms", app.address);
    // Over sms's own 16 KiB, under the route's limit: its clear answer.
    let mut params = fields("+14155550101", "1", "SM1");
    params.push(("Padding".into(), "x".repeat(20 * 1024)));
    let r = post_sms(&app, "/sms", &params, Some((TWILIO_TOKEN, &url))).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Far over: refused before it is read.
    params.push(("More".into(), "x".repeat(64 * 1024)));
    let r = post_sms(&app, "/sms", &params, Some((TWILIO_TOKEN, &url))).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // JSON is not what Twilio sends.
    let r = app
        .api
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"From":"+1","Body":"1","MessageSid":"SM2"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Signed, but without Body.
    let params: Vec<_> = fields("+14155550101", "1", "SM3")
        .into_iter()
        .filter(|(k, _)| k != "Body")
        .collect();
    let r = post_sms(&app, "/sms", &params, Some((TWILIO_TOKEN, &url))).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.state().await["decision"]["total"], 0);
}

#[tokio::test]
async fn the_pages_and_the_state_show_the_number_to_text_while_a_vote_can_take_it() {
    let app = spawn_sms_app().await;
    assert_eq!(app.state().await["sms"]["number"], NUMBER);
    let presenter = app.presenter_browser().await;
    let voter = app.voter().await;
    let line = "1–2 or A–B";

    // Not a decision slide: no line.
    let page = presenter.get("/presenter").await.text().await.unwrap();
    assert!(!page.contains("data-sms"), "{page}");

    app.goto("build").await;
    let page = presenter.get("/presenter").await.text().await.unwrap();
    assert!(page.contains(line) && page.contains(NUMBER), "{page}");
    let page = voter.get("/").await.text().await.unwrap();
    assert!(!page.contains("data-sms"), "the vote is not open yet: {page}");

    app.open().await;
    let page = voter.get("/").await.text().await.unwrap();
    assert!(
        page.contains(&format!("Or text {line} to <a href=\"sms:{NUMBER}\">{NUMBER}</a>")),
        "{page}"
    );

    app.close().await;
    let page = voter.get("/").await.text().await.unwrap();
    assert!(!page.contains("data-sms"), "{page}");
    let page = presenter.get("/presenter").await.text().await.unwrap();
    assert!(!page.contains("data-sms"), "{page}");

    // Three choices.
    app.follow("pets").await;
    let page = presenter.get("/presenter").await.text().await.unwrap();
    assert!(page.contains("1–3 or A–C"), "{page}");
}

#[tokio::test]
async fn without_a_number_the_pages_show_no_sms_line() {
    let app = spawn_app_with(Options {
        sms: SmsSettings {
            number: None,
            ..sms_on()
        },
        ..Options::default()
    })
    .await;
    app.open_build().await;
    assert_eq!(app.state().await["sms"], Value::Null);
    let page = app.voter().await.get("/").await.text().await.unwrap();
    assert!(!page.contains("data-sms"), "{page}");
    // Texts still count.
    twiml(text(&app, "+14155550101", "1", "SM1").await).await;
    assert_eq!(app.votes("pets").await, 1);
}

/// Starts `cyoa serve` with `args`; returns its first three stdout lines
/// and, once it has answered a request and been stopped, its stderr.
fn serve_output(args: &[&str], env: &[(&str, &str)]) -> (Vec<String>, String) {
    // A free port, known before cyoa binds it. Another test's client
    // socket may take it in between: cyoa then cannot bind and exits
    // without its three lines, and the next free port is tried.
    for _ in 0..5 {
        let bind = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cyoa"))
            .args(["serve", "--bind", &bind])
            .args(args)
            .args(crate::helpers::memory_unless_given(args))
            .env_remove("TWILIO_AUTH_TOKEN")
            .env_remove("TWILIO_NUMBER")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cyoa starts");
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let lines: Vec<String> = out.by_ref().take(3).map(|l| l.expect("text")).collect();
        // The lines after them (the data line) are read too: a closed pipe
        // would stop the server.
        std::thread::spawn(move || out.for_each(drop));
        if lines.len() < 3 {
            let _ = child.wait();
            let log = crate::helpers::log_of(&mut child);
            assert!(log.contains("in use"), "cyoa serve stopped before serving: {log}");
            continue;
        }
        return (lines, stop_after_health_check(child, &bind));
    }
    panic!("five free ports were all taken before cyoa could bind them");
}

/// Checks that the server answers, then stops it and returns its log.
fn stop_after_health_check(mut child: std::process::Child, bind: &str) -> String {
    // Serving once it answers; then stopped (a clean stop is cli.rs's test).
    let mut stream = std::net::TcpStream::connect(bind).expect("cyoa listens");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("a request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    child.kill().expect("cyoa stops");
    child.wait().expect("cyoa exits");
    crate::helpers::log_of(&mut child)
}

#[test]
fn serve_says_whether_sms_voting_is_on_and_where_twilio_must_post() {
    let token = "a-twilio-token-that-must-not-be-logged";
    let (lines, log) = serve_output(
        &["--public-url", "https://talk.example.com"],
        &[("TWILIO_AUTH_TOKEN", token), ("RUST_LOG", "debug")],
    );
    assert_eq!(
        lines[2], "sms: on; set the Twilio number's Messaging webhook to https://talk.example.com/sms (HTTP POST)",
        "{lines:?}"
    );
    assert!(
        !log.contains(token) && !lines.concat().contains(token),
        "the token leaked:\n{log}"
    );

    let (lines, log) = serve_output(&[], &[]);
    assert!(lines[2].starts_with("sms: off"), "{lines:?}");
    assert!(!log.contains("WARNING"), "{log}");

    let (lines, log) = serve_output(&["--insecure-skip-twilio-signature"], &[]);
    assert!(lines[2].starts_with("sms: on"), "{lines:?}");
    assert!(log.contains("WARNING: --insecure-skip-twilio-signature"), "{log}");
}

/// A server taking texts, whose addresses may fail `burst` signatures at
/// once and one a second after.
async fn spawn_sms_app_failing(burst: u32) -> TestApp {
    spawn_app_with(Options {
        sms: sms_on(),
        limits: cyoa::web::Limits {
            sms_bad_signatures: cyoa::web::limits::Rate { per_second: 1, burst },
            ..cyoa::web::Limits::default()
        },
        ..Options::default()
    })
    .await
}

const REFUSED_SIGNATURES: &str = "cyoa_rate_limited_total{limit=\"sms_signature\"}";

#[tokio::test]
async fn past_its_failed_signatures_an_address_gets_429_even_for_a_good_text() {
    let app = spawn_sms_app_failing(3).await;
    app.open_build().await;
    let url = format!("{}/sms", app.address);
    let before = value(&scrape(&app).await, REFUSED_SIGNATURES);
    // Three wrong signatures: each refused as such.
    for n in 0..3 {
        let params = fields("+14155550101", "1", &format!("bad{n}"));
        let r = post_sms(&app, "/sms", &params, Some(("not-the-token", &url))).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{n}");
    }
    // Now even a good one from that address waits, counting nothing.
    let r = text(&app, "+14155550101", "1", "good1").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(r.text().await.unwrap().contains("X-Twilio-Signature"));
    // Unsigned too: refused before the signature is looked at.
    let unsigned = post_sms(&app, "/sms", &fields("+14155550102", "2", "bad9"), None).await;
    assert_eq!(unsigned.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.votes("pets").await + app.votes("docs").await, 0, "nothing counted");
    assert_eq!(
        value(&scrape(&app).await, REFUSED_SIGNATURES) - before,
        2.0,
        "both refusals counted"
    );
    // The rest of the server does not mind.
    assert_eq!(app.get("/api/state").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_stream_of_good_texts_is_never_limited() {
    let app = spawn_sms_app_failing(1).await;
    app.open_build().await;
    for n in 0..40 {
        let r = text(&app, &format!("+141555502{n:02}"), "1", &format!("stream{n}")).await;
        assert_eq!(r.status(), StatusCode::OK, "text {n}");
    }
    assert_eq!(app.votes("pets").await, 40);
}

#[tokio::test]
async fn only_the_configured_twilio_account_counts_on_the_server() {
    let account = "AC0123456789abcdef0123456789abcdef";
    let app = spawn_app_with(Options {
        sms: SmsSettings {
            account_sid: Some(account.into()),
            ..sms_on()
        },
        ..Options::default()
    })
    .await;
    app.open_build().await;
    // `fields` carries the account AC000...: not this server's.
    let r = text(&app, "+14155550101", "1", "acct1").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("AccountSid"));
    assert_eq!(app.votes("pets").await, 0);
    let params: Vec<(String, String)> = fields("+14155550101", "1", "acct2")
        .into_iter()
        .map(|(k, v)| {
            if k == "AccountSid" {
                (k, account.to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let url = format!("{}/sms", app.address);
    twiml(post_sms(&app, "/sms", &params, Some((TWILIO_TOKEN, &url))).await).await;
    assert_eq!(app.votes("pets").await, 1);
}

#[tokio::test]
async fn a_malformed_twilio_account_sid_is_refused_at_start() {
    let mut settings = Settings::new("a presenter token of some length", "secret");
    settings.server.bind = "127.0.0.1:0".into();
    settings.sms = SmsSettings {
        account_sid: Some("AC123".into()),
        ..sms_on()
    };
    let story = cyoa::story::Story::bundled().unwrap().story;
    let Err(e) = cyoa::web::Application::build(settings, story).await else {
        panic!("a malformed account SID was taken");
    };
    assert!(e.to_string().contains("--twilio-account-sid"), "{e}");
    assert!(e.to_string().contains("32 hex digits"), "{e}");
}
