//! Hardening through real sockets: rate limits per voter and per address,
//! body, head, socket message and connection limits, socket heartbeats,
//! security headers, Secure cookies under https, request ids.

use std::time::Duration;

use cyoa::web::Limits;
use cyoa::web::limits::Rate;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Options, TOKEN, WAIT, spawn_app, spawn_app_with, test_limits};

fn with_limits(limits: Limits) -> Options {
    Options {
        limits,
        ..Options::default()
    }
}

fn rate(per_second: u32, burst: u32) -> Rate {
    Rate { per_second, burst }
}

#[tokio::test]
async fn a_voter_tapping_past_the_burst_gets_429_and_nothing_more_counts() {
    let app = spawn_app_with(with_limits(Limits {
        votes: rate(1, 3),
        ..test_limits()
    }))
    .await;
    app.open_build().await;
    let voter = app.voter().await;
    for choice in ["pets", "docs", "pets"] {
        assert_eq!(voter.post_vote("build", choice).await.status(), StatusCode::SEE_OTHER);
    }
    let refused = voter.post_vote("build", "docs").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(refused.text().await.unwrap().contains("Too many votes"));
    assert_eq!((app.votes("pets").await, app.votes("docs").await), (1, 0));

    // The socket's votes share the same limit, and the socket stays open.
    let mut socket = voter.socket().await;
    let answer = socket.vote("build", "docs").await;
    assert_eq!(
        (answer["type"].as_str(), answer["code"].as_str()),
        (Some("error"), Some("rate_limited"))
    );
    assert_eq!(app.votes("docs").await, 0);
}

#[tokio::test]
async fn a_hall_behind_one_address_votes_in_full() {
    let app = spawn_app().await;
    app.open_build().await;
    let voters = futures_util::future::join_all((0..60).map(|_| app.voter())).await;
    let posts = voters.iter().map(|v| v.post_vote("build", "pets"));
    for r in futures_util::future::join_all(posts).await {
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(app.votes("pets").await, 60);
}

#[tokio::test]
async fn a_socket_sending_too_fast_gets_an_error_and_stays_usable() {
    let app = spawn_app_with(with_limits(Limits {
        socket_messages: rate(2, 3),
        ..test_limits()
    }))
    .await;
    app.open_build().await;
    let voter = app.voter().await;
    let mut socket = voter.socket().await;
    for _ in 0..3 {
        socket.send_text("{}").await;
        assert_eq!(socket.answer().await["code"], "bad_message");
    }
    socket.send_text("{}").await;
    let limited = socket.answer().await;
    assert_eq!(limited["code"], "rate_limited", "{limited}");
    assert!(limited["message"].as_str().unwrap().contains("slow down"));
    // The bucket refills (2 a second): the same socket then votes.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = socket.vote("build", "docs").await;
        if answer["type"] == "voted" {
            break;
        }
        assert_eq!(answer["code"], "rate_limited", "{answer}");
        assert!(tokio::time::Instant::now() < deadline, "the socket never voted again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.votes("docs").await, 1);
}

#[tokio::test]
async fn binary_frames_share_the_socket_rate_with_text_and_count_no_vote() {
    const BURST: u32 = 5;
    const SENT: usize = 40;
    let app = spawn_app_with(with_limits(Limits {
        socket_messages: rate(1, BURST),
        ..test_limits()
    }))
    .await;
    app.open_build().await;
    let voter = app.voter().await;
    assert_eq!(voter.post_vote("build", "pets").await.status(), StatusCode::SEE_OTHER);
    let limited_before = socket_limited(&app).await;
    let mut socket = voter.socket().await;
    // All at once, then every answer: the bucket holds BURST and refills
    // one a second, so at most BURST plus the seconds taken get through.
    let started = tokio::time::Instant::now();
    for i in 0..SENT {
        let frame = if i % 2 == 0 {
            Message::Binary(vec![0xff; 8].into())
        } else {
            Message::Binary(br#"{"type":"vote","decision":"build","choice":"docs"}"#.to_vec().into())
        };
        socket.send(frame).await;
    }
    let mut codes = Vec::new();
    for _ in 0..SENT {
        codes.push(socket.answer().await["code"].as_str().unwrap_or_default().to_string());
    }
    let seconds = started.elapsed().as_secs() as usize;
    let passed = codes.iter().filter(|c| *c == "bad_message").count();
    let limited = codes.iter().filter(|c| *c == "rate_limited").count();
    assert_eq!(passed + limited, SENT, "{codes:?}");
    assert!(passed >= 1 && passed <= BURST as usize + seconds + 1, "{codes:?}");
    assert!(limited >= 1, "{codes:?}");
    // Counted where text frames are counted (other tests may add to it).
    assert!(socket_limited(&app).await - limited_before >= limited as f64);
    // Text frames draw on the same bucket: right after the flood, a text
    // message is refused too unless a second went by.
    socket.send_text("{}").await;
    let text = socket.answer().await;
    assert!(
        text["code"] == "rate_limited" || started.elapsed() >= Duration::from_secs(1),
        "{text}"
    );
    // Nothing a binary frame carried was counted; the vote stands.
    assert_eq!((app.votes("pets").await, app.votes("docs").await), (1, 0));
}

/// `cyoa_rate_limited_total{limit="socket"}` now.
async fn socket_limited(app: &crate::helpers::TestApp) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(r#"cyoa_rate_limited_total{limit="socket"} "#))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn one_address_past_its_request_rate_gets_429_but_sms_is_not_limited_by_address() {
    let app = spawn_app_with(with_limits(Limits {
        per_address: rate(1, 5),
        ..test_limits()
    }))
    .await;
    for _ in 0..5 {
        assert_eq!(app.get("/api/state").await.status(), StatusCode::OK);
    }
    let refused = app.get("/api/state").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    let page = app.get("/").await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("content-security-policy"));
    for _ in 0..10 {
        let sms = app
            .api
            .post(format!("{}/sms", app.address))
            .form(&[("Body", "1")])
            .send()
            .await
            .unwrap();
        assert_ne!(sms.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app().await;
    app.open_build().await;
    let voter = app.voter().await;
    let big = "x".repeat(5 * 1024);
    let form = voter
        .client
        .post(format!("{}/vote/build", app.address))
        .form(&[("choice", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let api = app.presenter_call("goto", Some(json!({ "slide": big }))).await;
    assert_eq!(api.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_request_head_over_the_limit_is_431() {
    let app = spawn_app_with(with_limits(Limits {
        max_header: 8 * 1024,
        ..test_limits()
    }))
    .await;
    let r = app
        .api
        .get(format!("{}/", app.address))
        .header("x-padding", "p".repeat(10 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // A normal request still works.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_large_socket_message_gets_an_error_and_a_huge_one_closes_the_socket() {
    let app = spawn_app().await;
    let voter = app.voter().await;
    let mut socket = voter.socket().await;
    socket.send_text("x".repeat(5 * 1024)).await;
    assert_eq!(socket.answer().await["code"], "too_large");
    socket.send(Message::text("x".repeat(100 * 1024))).await;
    assert!(socket.closed().await, "a 100 KiB message closes the socket");
}

#[tokio::test]
async fn past_its_connection_limit_an_address_gets_503_until_one_closes() {
    let app = spawn_app_with(with_limits(Limits {
        connections_per_address: 2,
        ..test_limits()
    }))
    .await;
    let host = app.address.trim_start_matches("http://").to_string();
    let first = TcpStream::connect(&host).await.unwrap();
    let _second = TcpStream::connect(&host).await.unwrap();
    let mut third = TcpStream::connect(&host).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, third.read_to_string(&mut answer))
        .await
        .expect("the refusal in time")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Too many connections"), "{answer}");
    drop(first);
    // Once the server has seen the first one close, a new connection is served.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut again = TcpStream::connect(&host).await.unwrap();
        again
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        let _ = tokio::time::timeout(WAIT, again.read_to_string(&mut text)).await;
        if text.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still refused: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_silent_socket_is_closed_and_a_live_one_is_kept() {
    let app = spawn_app_with(with_limits(Limits {
        ping_every: Duration::from_millis(200),
        socket_timeout: Duration::from_millis(800),
        ..test_limits()
    }))
    .await;
    app.open_build().await;
    let voter = app.voter().await;
    let mut silent = voter.socket().await;
    let mut live = voter.socket().await;
    // The live one reads (and so answers the pings) past the timeout.
    let read = tokio::time::timeout(Duration::from_millis(2000), async {
        loop {
            if live.next_json().await.is_none() {
                return;
            }
        }
    })
    .await;
    assert!(read.is_err(), "the live socket was closed");
    assert_eq!(live.vote("build", "pets").await["type"], "voted");
    // The silent one never read, so never answered a ping: it is closed.
    assert!(silent.closed().await, "the silent socket is still open");
}

fn assert_security_headers(what: &str, headers: &HeaderMap, hsts: bool) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{what}: {csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    match headers.get("strict-transport-security") {
        Some(v) => assert!(hsts && v == "max-age=63072000; includeSubDomains", "{what}: {v:?}"),
        None => assert!(!hsts, "{what}: no HSTS under https"),
    }
}

#[tokio::test]
async fn every_response_has_the_security_headers_and_hsts_only_under_https() {
    for (public_url, hsts) in [(None, false), (Some("https://talk.example.com".to_string()), true)] {
        let app = spawn_app_with(Options {
            public_url,
            ..Options::default()
        })
        .await;
        for path in [
            "/",
            "/api/state",
            "/static/cyoa.css",
            "/nowhere",
            "/healthz",
            "/presenter",
        ] {
            let r = app.get(path).await;
            assert_security_headers(path, r.headers(), hsts);
        }
        let refused = app.presenter_call("next", None).await;
        let unauthorized = app
            .api
            .post(format!("{}/api/presenter/next", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
        assert_security_headers("a 401", unauthorized.headers(), hsts);
        assert_security_headers("a presenter call", refused.headers(), hsts);
    }
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn cookies_are_signed_http_only_and_secure_under_https() {
    for (public_url, secure) in [(None, false), (Some("https://talk.example.com".to_string()), true)] {
        let app = spawn_app_with(Options {
            public_url,
            ..Options::default()
        })
        .await;
        let voter = app.get("/").await;
        let login = app.get(&format!("/presenter?token={TOKEN}")).await;
        for cookie in set_cookies(voter.headers())
            .into_iter()
            .chain(set_cookies(login.headers()))
        {
            assert!(cookie.contains("HttpOnly"), "{cookie}");
            assert_eq!(cookie.contains("; Secure"), secure, "{cookie}");
            // Signed: the value carries a MAC before the id, so it is longer than the 32-digit id.
            let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
            assert!(value.len() > 40, "{cookie}");
        }
        assert_eq!(set_cookies(login.headers()).len(), 1);
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_a_plain_one_from_the_client() {
    let app = spawn_app().await;
    let a = app.get("/api/state").await;
    let b = app.get("/api/state").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    let (id_a, id_b) = (id(&a), id(&b));
    assert!(
        id_a.len() == 16 && id_a.bytes().all(|c| c.is_ascii_hexdigit()),
        "{id_a}"
    );
    assert_ne!(id_a, id_b);
    let kept = app
        .api
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "nginx-42.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "nginx-42.abc");
    let replaced = app
        .api
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "forged\" level=ERROR")
        .send()
        .await
        .unwrap();
    assert_eq!(id(&replaced).len(), 16);
}

#[tokio::test]
async fn a_client_that_sends_no_request_or_sits_idle_is_disconnected() {
    let app = spawn_app_with(with_limits(Limits {
        header_timeout: Duration::from_millis(500),
        ..test_limits()
    }))
    .await;
    let host = app.address.trim_start_matches("http://").to_string();
    // Connects and never sends a request.
    let mut mute = TcpStream::connect(&host).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, mute.read_to_end(&mut rest))
        .await
        .expect("the server hangs up on a client that sends nothing")
        .unwrap();
    // Sends one request, keeps the connection, then sits idle.
    let mut idle = TcpStream::connect(&host).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "an idle kept-alive connection stays open");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_rate() {
    let app = spawn_app_with(with_limits(Limits {
        per_address: rate(1, 2),
        trust_forwarded_for: true,
        ..test_limits()
    }))
    .await;
    let get = |hops: &'static str| {
        app.api
            .get(format!("{}/api/state", app.address))
            .header("x-forwarded-for", hops)
            .send()
    };
    // The proxy appends the client it saw: the last hop is the client.
    for _ in 0..2 {
        assert_eq!(get("10.9.9.9, 203.0.113.1").await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(
        get("10.8.8.8, 203.0.113.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(get("203.0.113.2").await.unwrap().status(), StatusCode::OK);
}
