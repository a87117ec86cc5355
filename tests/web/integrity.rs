//! Vote integrity: a vote counts only from a voter cookie a page issued,
//! old enough (`--voter-min-age`), from our own site; pages mint voters
//! within the per-address limit (`--voter-mint-rate`, `--voter-mint-burst`).
//! Every test sends the bad input and checks that nothing was counted and
//! no voter's vote or cookie changed. The counting tests run on the memory
//! store and on a real Redis.

use std::time::{Duration, Instant};

use cyoa::web::Limits;
use cyoa::web::limits::Rate;
use reqwest::StatusCode;
use reqwest::header::{RETRY_AFTER, SET_COOKIE};

use crate::helpers::{Browser, Options, TestApp, html, select, spawn_app_with, test_limits, text_of};

on_both_stores!(
    cookieless_posts_count_nothing,
    a_get_then_post_loop_is_bounded_by_the_mint_limit,
    cookies_younger_than_the_minimum_age_count_nothing,
    votes_from_another_site_count_nothing_and_leave_the_cookie,
);

const TAP_AGAIN: &str = "Your vote has not counted yet: tap your choice again.";

fn voter_cookie_set(r: &reqwest::Response) -> bool {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with("cyoa_voter=")))
}

/// The votes on `build` of every choice.
async fn build_total(app: &TestApp) -> u64 {
    app.state().await["decision"]["total"].as_u64().expect("a total")
}

/// The figure `[data-mint=name]` on the presenter console.
async fn console_figure(app: &TestApp, name: &str) -> u64 {
    let presenter = app.presenter_browser().await;
    let page = html(&presenter.get("/presenter/notes").await.text().await.unwrap());
    text_of(&page, &format!("[data-mint={name}]"))
        .parse()
        .expect("a number")
}

async fn cookieless_posts_count_nothing(options: Options) {
    let app = spawn_app_with(options).await;
    app.open_build().await;
    let origin = app.address.clone();
    for _ in 0..300 {
        // A browser's form from our own page, but no cookie: a new cookie
        // and "tap your choice again".
        let r = app
            .api
            .post(format!("{}/vote/build", app.address))
            .header("origin", &origin)
            .form(&[("choice", "pets")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert!(voter_cookie_set(&r));
        assert_eq!(text_of(&html(&r.text().await.unwrap()), "[data-notice]"), TAP_AGAIN);
    }
    for _ in 0..300 {
        // curl as is: it says nothing of where it comes from, so no voter
        // is minted either (another site's form in an old browser looks so).
        let r = app
            .api
            .post(format!("{}/vote/build", app.address))
            .form(&[("choice", "pets")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(!voter_cookie_set(&r));
    }
    assert_eq!(build_total(&app).await, 0);
    assert_eq!(console_figure(&app, "minted").await, 300);
}

async fn a_get_then_post_loop_is_bounded_by_the_mint_limit(options: Options) {
    let app = spawn_app_with(Options {
        limits: Limits {
            voter_mints: Rate {
                per_second: 1,
                burst: 5,
            },
            ..test_limits()
        },
        ..options
    })
    .await;
    app.open_build().await;
    let before = crate::metrics::scrape(&app).await;
    let refused_before = crate::metrics::value(&before, "cyoa_voter_mints_refused_total{reason=\"rate\"}");
    let started = Instant::now();
    // Voters minted (a page, or a form's "tap again" answer, set a cookie),
    // mints refused (429), votes that counted.
    let (mut minted, mut refused, mut counted) = (0u64, 0u64, 0u64);
    for _ in 0..20 {
        let b = app.browser();
        let page = b.get("/vote/build").await;
        if page.status() == StatusCode::OK {
            assert!(voter_cookie_set(&page));
            minted += 1;
        } else {
            // The friendly refusal: a page saying when to reload.
            assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
            assert!(!voter_cookie_set(&page));
            let wait: u64 = page.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
            assert!((1..=5).contains(&wait), "{wait}");
            let doc = html(&page.text().await.unwrap());
            assert!(text_of(&doc, "main#error .message").contains("Reload this page"));
            refused += 1;
        }
        let joined = page_joined(&b);
        let vote = b.post_vote("build", "pets").await;
        match vote.status() {
            StatusCode::SEE_OTHER => {
                assert!(joined);
                counted += 1;
            }
            // No cookie: "tap again", with a voter if the limit allows.
            StatusCode::CONFLICT => {
                assert!(!joined && voter_cookie_set(&vote));
                minted += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(!joined && !voter_cookie_set(&vote));
                refused += 1;
            }
            other => panic!("a form vote answered {other}"),
        }
    }
    // The burst at once, then one a second: the loop's own time bounds it.
    let refills = started.elapsed().as_secs() + 1;
    assert!(
        minted >= 5 && minted <= 5 + refills,
        "{minted} minted in {:?}",
        started.elapsed()
    );
    assert!(counted >= 5 && counted <= minted, "{counted} counted, {minted} minted");
    assert!(refused >= 20 - minted, "{refused} refused");
    assert_eq!(app.votes("pets").await, counted);
    assert_eq!(console_figure(&app, "minted").await, minted);
    assert_eq!(console_figure(&app, "refused_rate").await, refused);
    let after = crate::metrics::scrape(&app).await;
    let refused_after = crate::metrics::value(&after, "cyoa_voter_mints_refused_total{reason=\"rate\"}");
    assert!(refused_after - refused_before >= refused as f64);
}

fn page_joined(b: &Browser) -> bool {
    b.cookie_header().is_some_and(|c| c.contains("cyoa_voter="))
}

async fn cookies_younger_than_the_minimum_age_count_nothing(options: Options) {
    let app = spawn_app_with(Options {
        limits: Limits {
            voter_min_age: Duration::from_secs(3600),
            ..test_limits()
        },
        ..options
    })
    .await;
    app.open_build().await;
    let b = app.voter().await;
    let cookie = b.cookie_header();
    let r = b.post_vote("build", "pets").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(!voter_cookie_set(&r), "the cookie stays as it is");
    assert_eq!(text_of(&html(&r.text().await.unwrap()), "[data-notice]"), TAP_AGAIN);
    assert_eq!(b.cookie_header(), cookie);
    let mut socket = b.socket().await;
    let answer = socket.vote("build", "pets").await;
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["code"], "too_soon");
    let wait = answer["retry_ms"].as_u64().expect("the time left");
    assert!(wait > 3_500_000 && wait <= 3_600_000, "{wait}");
    assert_eq!(build_total(&app).await, 0);

    // With no minimum age, the same cookie counts at once.
    let app = spawn_app_with(Options::default()).await;
    app.open_build().await;
    let b = app.voter().await;
    assert_eq!(b.post_vote("build", "pets").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.socket().await.vote("build", "docs").await["type"], "voted");
    assert_eq!(app.votes("docs").await, 1);
}

async fn votes_from_another_site_count_nothing_and_leave_the_cookie(options: Options) {
    let app = spawn_app_with(options).await;
    app.open_build().await;
    let victim = app.voter().await;
    assert_eq!(victim.post_vote("build", "pets").await.status(), StatusCode::SEE_OTHER);
    let cookie = victim.cookie_header();
    let port = app.address.rsplit(':').next().unwrap().to_string();
    let other_port = format!("http://127.0.0.1:{}", port.parse::<u16>().unwrap() ^ 1);
    let localhost = format!("http://localhost:{port}");
    let attacks: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("another site's Origin", vec![("origin", "http://evil.example")]),
        ("Origin null", vec![("origin", "null")]),
        ("cross-site", vec![("sec-fetch-site", "cross-site")]),
        ("same-site", vec![("sec-fetch-site", "same-site")]),
        (
            "same site, another origin",
            vec![("origin", &other_port), ("sec-fetch-site", "same-site")],
        ),
        ("localhost is another origin", vec![("origin", &localhost)]),
    ];
    let fresh = app.browser();
    for (what, headers) in &attacks {
        for b in [&victim, &fresh] {
            let r = b.post_vote_with("build", &[("choice", "docs")], headers).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what}");
            assert!(!voter_cookie_set(&r), "{what}");
            let doc = html(&r.text().await.unwrap());
            assert!(
                text_of(&doc, "main#error .message").contains("not from another site"),
                "{what}"
            );
        }
    }
    // A browser that says nothing needs the page's token.
    let page = html(&victim.get("/vote/build").await.text().await.unwrap());
    let token = select(&page, "form input[name=token]")[0]
        .value()
        .attr("value")
        .expect("a token")
        .to_string();
    assert_eq!(token.len(), 32);
    let other_voter_token = {
        let other = app.voter().await;
        let page = html(&other.get("/vote/build").await.text().await.unwrap());
        select(&page, "form input[name=token]")[0]
            .value()
            .attr("value")
            .unwrap()
            .to_string()
    };
    for (what, form) in [
        ("no token", vec![("choice", "docs")]),
        (
            "a bad token",
            vec![("choice", "docs"), ("token", "0123456789abcdef0123456789abcdef")],
        ),
        (
            "another voter's token",
            vec![("choice", "docs"), ("token", other_voter_token.as_str())],
        ),
    ] {
        for b in [&victim, &fresh] {
            let r = b.post_vote_with("build", &form, &[]).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what}");
            assert!(!voter_cookie_set(&r), "{what}");
        }
    }
    assert_eq!(victim.cookie_header(), cookie);
    assert_eq!(fresh.cookie_header(), None);
    assert_eq!((app.votes("pets").await, app.votes("docs").await), (1, 0));
    assert_eq!(victim.state().await["you"], "pets");
    // With its token, such a browser's vote counts.
    let r = victim
        .post_vote_with("build", &[("choice", "docs"), ("token", &token)], &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!((app.votes("pets").await, app.votes("docs").await), (0, 1));
}

#[tokio::test]
async fn another_site_gets_no_voter_from_a_page_but_a_visit_does() {
    let app = spawn_app_with(Options::default()).await;
    let get = |headers: &'static [(&'static str, &'static str)]| {
        let mut req = app.api.get(format!("{}/", app.address));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send()
    };
    // An image or a script's fetch from another site: the page, no voter.
    for headers in [
        &[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "no-cors"),
            ("sec-fetch-dest", "image"),
        ][..],
        &[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "iframe"),
        ][..],
        &[
            ("sec-fetch-site", "same-site"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-dest", "empty"),
        ][..],
    ] {
        let r = get(headers).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{headers:?}");
        assert!(!voter_cookie_set(&r), "{headers:?}");
    }
    assert_eq!(console_figure(&app, "refused_cross_site").await, 3);
    // A link followed from another site is a visit: a voter.
    let r = get(&[
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
    ])
    .await
    .unwrap();
    assert!(voter_cookie_set(&r));
}

#[tokio::test]
async fn sockets_and_presenter_calls_from_another_site_are_refused() {
    let app = spawn_app_with(Options::default()).await;
    let b = app.voter().await;
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{}/ws",
        app.ws_address
    ))
    .unwrap();
    req.headers_mut()
        .insert("cookie", b.cookie_header().unwrap().parse().unwrap());
    req.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(
        crate::helpers::open_socket(req).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
    for origin in ["http://evil.example", "null"] {
        let r = app
            .api
            .post(format!("{}/api/presenter/goto", app.address))
            .bearer_auth(crate::helpers::TOKEN)
            .header("origin", origin)
            .json(&serde_json::json!({ "slide": "build" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "cross_origin");
    }
    assert_eq!(app.state().await["slide"]["id"], "intro");
}

#[tokio::test]
async fn the_presenter_sees_voters_join_and_mints_refused_live() {
    let app = spawn_app_with(Options {
        limits: Limits {
            voter_mints: Rate {
                per_second: 1,
                burst: 2,
            },
            ..test_limits()
        },
        ..Options::default()
    })
    .await;
    let mut presenter = app.presenter_screen().await;
    for _ in 0..4 {
        app.browser().get("/").await;
    }
    // Pushed within a second or so of the change, to presenter sockets only.
    let (pushed, _) = presenter
        .wait_for("minting", |m| {
            m["minting"]["minted"].as_u64() >= Some(2) && m["minting"]["refused_rate"].as_u64() >= Some(1)
        })
        .await;
    assert!(pushed["minting"]["per_second"].as_f64().is_some(), "{pushed}");
    assert_eq!(pushed["minting"]["refused_cross_site"], 0);
}
