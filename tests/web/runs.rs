//! Runs compared across talks: the presenter labels a run
//! (`POST /api/runs/{run}/label`), `/results` shows every published run
//! side by side, and `/api/runs.csv` and `/api/runs.json` export every run
//! at once (the published ones for the audience).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TOKEN, TestApp, assert_download, html, select, spawn_app_with, text_of};

on_both_stores!(
    a_presenter_labels_any_run_and_bad_labels_are_refused,
    the_all_runs_exports_give_the_audience_the_published_runs_only,
    an_earlier_run_is_published_after_a_newer_one_began,
    a_new_label_reaches_every_presenter_screen_at_once,
);

async fn label(app: &TestApp, run: &str, body: Value, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    post_run(app, run, "label", body, headers).await
}

/// `POST /api/runs/{run}/{what}` with this JSON body and headers.
async fn post_run(app: &TestApp, run: &str, what: &str, body: Value, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = app
        .api
        .post(format!("{}/api/runs/{run}/{what}", app.address))
        .json(&body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let r = req.send().await.expect("the server answers");
    let status = r.status();
    (status, r.json().await.expect("JSON"))
}

async fn label_ok(app: &TestApp, run: u64, text: &str) {
    let auth = format!("Bearer {TOKEN}");
    let (status, body) = label(
        app,
        &run.to_string(),
        json!({ "label": text }),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Votes in run's `build` (pets, docs) and `host` (vps, paas) decisions,
/// then follows `host_to`.
async fn play(app: &TestApp, build: [u32; 2], host: [u32; 2], host_to: &str) {
    app.open_build().await;
    cast(app, "build", ["pets", "docs"], build).await;
    app.close().await;
    app.follow("pets").await;
    app.open().await;
    cast(app, "host", ["vps", "paas"], host).await;
    app.close().await;
    app.follow(host_to).await;
}

/// `n[i]` new voters each vote for `choices[i]` on the open `decision`.
async fn cast(app: &TestApp, decision: &str, choices: [&str; 2], n: [u32; 2]) {
    for (choice, n) in choices.iter().zip(n) {
        for _ in 0..n {
            let r = app.voter().await.post_vote(decision, choice).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
        }
    }
}

async fn publish(app: &TestApp) {
    let r = app.presenter_call("results", Some(json!({ "published": true }))).await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// A refused label call: run, body, headers, the status and error code.
type Refusal<'a> = (&'a str, Value, Vec<(&'a str, &'a str)>, StatusCode, &'a str);

async fn a_presenter_labels_any_run_and_bad_labels_are_refused(options: Options) {
    let app = spawn_app_with(options).await;
    let auth = format!("Bearer {TOKEN}");
    let bearer = [("authorization", auth.as_str())];
    app.next().await;

    let (status, body) = label(&app, "1", json!({ "label": "  PyCon 2027 " }), &bearer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "run": 1, "label": "PyCon 2027" }));
    assert_eq!(app.run_history(1).await["label"], "PyCon 2027");

    // A past run can be named too, and 80 characters is the bound.
    app.new_run().await;
    let long = "é".repeat(80);
    let (status, body) = label(&app, "1", json!({ "label": long }), &bearer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.run_history(1).await["label"], long.as_str());
    assert_eq!(app.run_history(2).await["label"], Value::Null);

    let refusals: [Refusal; 8] = [
        (
            "1",
            json!({ "label": "é".repeat(81) }),
            bearer.to_vec(),
            StatusCode::BAD_REQUEST,
            "label_too_long",
        ),
        (
            "1",
            json!({ "label": "two\nlines" }),
            bearer.to_vec(),
            StatusCode::BAD_REQUEST,
            "label_control",
        ),
        (
            "1",
            json!({ "label": "bell\u{7}" }),
            bearer.to_vec(),
            StatusCode::BAD_REQUEST,
            "label_control",
        ),
        (
            "1",
            json!({ "name": "x" }),
            bearer.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_json",
        ),
        (
            "1",
            json!({ "label": "x" }),
            vec![],
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "1",
            json!({ "label": "x" }),
            vec![("authorization", "Bearer wrong")],
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "1",
            json!({ "label": "x" }),
            vec![("authorization", auth.as_str()), ("origin", "http://evil.example")],
            StatusCode::FORBIDDEN,
            "cross_origin",
        ),
        (
            "9",
            json!({ "label": "x" }),
            bearer.to_vec(),
            StatusCode::NOT_FOUND,
            "unknown_run",
        ),
    ];
    for (run, body, headers, want, code) in refusals {
        let (status, answer) = label(&app, run, body.clone(), &headers).await;
        assert_eq!(status, want, "{body} {headers:?}: {answer}");
        if !code.is_empty() {
            assert_eq!(answer["error"], code, "{answer}");
        }
    }
    let (status, _) = label(&app, "one", json!({ "label": "x" }), &bearer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing refused changed the label.
    assert_eq!(app.run_history(1).await["label"], long.as_str());

    // An empty (or blank) label removes the name.
    let (status, body) = label(&app, "1", json!({ "label": "  " }), &bearer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "run": 1, "label": null }));
    assert_eq!(app.run_history(1).await["label"], Value::Null);
}

async fn the_all_runs_exports_give_the_audience_the_published_runs_only(options: Options) {
    let app = spawn_app_with(options).await;
    play(&app, [2, 1], [1, 2], "paas").await;
    publish(&app).await;
    label_ok(&app, 1, "=PyCon 2027").await;
    app.new_run().await;
    play(&app, [0, 3], [2, 0], "vps").await;
    label_ok(&app, 2, "rehearsal").await;

    let r = app.get("/api/runs.json").await;
    assert_download(&r, "cyoa-runs.json");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["story"], "The test adventure");
    assert_eq!(body["current"], 2);
    let runs = body["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "the rehearsal stays private: {body}");
    assert_eq!(runs[0]["run"], 1);
    assert_eq!(runs[0]["label"], "=PyCon 2027");
    assert_eq!(runs[0]["followed"], json!({ "host": "paas" }));
    assert!(runs[0].get("story").is_none());

    let r = app.presenter_get("/api/runs.json").await;
    let body: Value = r.json().await.expect("JSON");
    let runs: Vec<(u64, String)> = body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            (
                r["run"].as_u64().unwrap_or(0),
                r["label"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(runs, [(1, "=PyCon 2027".to_string()), (2, "rehearsal".to_string())]);

    let r = app.get("/api/runs.csv").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.expect("CSV");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "run,decision,prompt,number,choice,label,votes,total,won,followed,run_label,chosen_by"
    );
    assert_eq!(lines.len(), 1 + 2 + 3, "{text}");
    assert!(lines[1..].iter().all(|l| l.starts_with("1,")), "{text}");
    assert!(
        lines.contains(&"1,host,Which host?,2,paas,A PaaS,2,3,yes,yes,'=PyCon 2027,vote"),
        "{text}"
    );

    let text = app.presenter_get("/api/runs.csv").await.text().await.expect("CSV");
    assert_eq!(text.lines().count(), 1 + 2 * (2 + 3), "{text}");
    assert!(
        text.contains("2,build,Pets or docs?,2,docs,Doc Send,3,3,yes,no,rehearsal,"),
        "{text}"
    );

    // The one-run export names its run too.
    let text = app.get("/api/runs/1.csv").await.text().await.expect("CSV");
    assert!(
        text.lines().nth(1).unwrap_or_default().ends_with(",'=PyCon 2027,"),
        "{text}"
    );
    assert_eq!(app.get("/api/runs/2.csv").await.status(), StatusCode::FORBIDDEN);
}

async fn an_earlier_run_is_published_after_a_newer_one_began(options: Options) {
    let app = spawn_app_with(options).await;
    let auth = format!("Bearer {TOKEN}");
    let bearer = [("authorization", auth.as_str())];
    play(&app, [2, 1], [1, 2], "paas").await;
    app.new_run().await;
    let mut audience = app.voter().await.socket().await;
    assert_eq!(
        audience.wait_for("state", |m| m["state"]["run"] == 2).await.0["state"]["published"]["results"],
        false
    );
    assert_eq!(app.get("/api/runs/1.json").await.status(), StatusCode::FORBIDDEN);

    let refusals: [Refusal; 6] = [
        (
            "1",
            json!({ "published": true }),
            vec![],
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "1",
            json!({ "published": true }),
            vec![("authorization", auth.as_str()), ("origin", "http://evil.example")],
            StatusCode::FORBIDDEN,
            "cross_origin",
        ),
        (
            "3",
            json!({ "published": true }),
            bearer.to_vec(),
            StatusCode::NOT_FOUND,
            "unknown_run",
        ),
        (
            "0",
            json!({ "published": true }),
            bearer.to_vec(),
            StatusCode::NOT_FOUND,
            "unknown_run",
        ),
        (
            "1",
            json!({ "published": "yes" }),
            bearer.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_json",
        ),
        (
            "1",
            json!({ "label": "x" }),
            bearer.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_json",
        ),
    ];
    for (run, body, headers, want, code) in refusals {
        let (status, answer) = post_run(&app, run, "results", body.clone(), &headers).await;
        assert_eq!(status, want, "{body} {headers:?}: {answer}");
        assert_eq!(answer["error"], code, "{answer}");
    }
    assert_eq!(app.get("/api/runs/1.json").await.status(), StatusCode::FORBIDDEN);

    let (status, body) = post_run(&app, "1", "results", json!({ "published": true }), &bearer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "run": 1, "published": true }));
    let r = app.get("/api/runs/1.json").await;
    assert_eq!(r.status(), StatusCode::OK);
    let run1: Value = r.json().await.expect("JSON");
    assert_eq!(run1["followed"], json!({ "host": "paas" }));
    let all: Value = app.get("/api/runs.json").await.json().await.expect("JSON");
    assert_eq!(all["runs"].as_array().map(Vec::len), Some(1), "{all}");
    // The talk stays where it is: run 2, nothing of it published.
    let (state, _) = audience.wait_for("state", |_| true).await;
    assert_eq!(state["state"]["run"], 2);
    assert_eq!(state["state"]["published"]["results"], false);
    assert_eq!(app.get("/api/runs/2.json").await.status(), StatusCode::FORBIDDEN);

    // Taken back, it is private again; a replay changes nothing.
    for _ in 0..2 {
        let (status, body) = post_run(&app, "1", "results", json!({ "published": false }), &bearer).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["published"], false);
    }
    assert_eq!(app.get("/api/runs/1.json").await.status(), StatusCode::FORBIDDEN);

    // The current run through the same call: the audience's state says so.
    let (status, _) = post_run(&app, "2", "results", json!({ "published": true }), &bearer).await;
    assert_eq!(status, StatusCode::OK);
    audience
        .wait_for("state", |m| {
            m["state"]["run"] == 2 && m["state"]["published"]["results"] == true
        })
        .await;
}

async fn a_new_label_reaches_every_presenter_screen_at_once(options: Options) {
    let app = spawn_app_with(options).await;
    app.next().await;
    let mut presenter = app.presenter_socket().await;
    let mut audience = app.voter().await.socket().await;
    let (first, _) = presenter.wait_for("state", |_| true).await;
    assert!(first["state"].get("label").is_none(), "{first}");
    label_ok(&app, 1, "PyCon 2027").await;
    presenter
        .wait_for("state", |m| m["state"]["label"] == "PyCon 2027")
        .await;
    // The audience's state never carries it.
    let (state, _) = audience.wait_for("state", |_| true).await;
    assert!(state["state"].get("label").is_none(), "{state}");
    let page = app.get("/api/state").await.json::<Value>().await.expect("JSON");
    assert!(page.get("label").is_none(), "{page}");
    label_ok(&app, 1, "").await;
    let (state, _) = presenter.wait_for("state", |_| true).await;
    assert!(state["state"].get("label").is_none(), "{state}");
}

#[tokio::test]
async fn results_compare_every_published_run_side_by_side() {
    let app = spawn_app_with(Options::default()).await;
    play(&app, [2, 1], [1, 3], "paas").await;
    publish(&app).await;
    label_ok(&app, 1, "PyCon <b>2027</b>").await;

    // One published run: nothing to compare yet.
    let doc = html(&app.get("/results").await.text().await.expect("a page"));
    assert!(select(&doc, ".compare").is_empty());

    app.new_run().await;
    play(&app, [0, 2], [1, 0], "vps").await;
    app.new_run().await;
    play(&app, [1, 1], [0, 2], "paas").await;
    publish(&app).await;

    let page = app.get("/results").await.text().await.expect("a page");
    assert!(
        page.contains("PyCon &#60;b&#62;2027&#60;/b&#62;") || page.contains("PyCon &lt;b&gt;"),
        "escaped: {page}"
    );
    let doc = html(&page);
    let names: Vec<String> = select(&doc, ".run-paths li .run-name")
        .iter()
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(
        names,
        ["PyCon <b>2027</b>", "Run 3"],
        "the unpublished run 2 stays private"
    );
    assert_eq!(
        text_of(&doc, ".run-paths li[data-run='1'] .run-path"),
        "Welcome to the test → What did you build? → Where do you host it? → The PaaS ending"
    );
    assert!(text_of(&doc, ".run-paths li[data-run='3'] .run-path").ends_with("The PaaS ending"));

    assert_eq!(select(&doc, ".compare-table").len(), 2);
    assert_eq!(
        text_of(&doc, ".compare-table[data-decision=host] caption"),
        "Which host?"
    );
    let heads: Vec<String> = select(&doc, ".compare-table[data-decision=host] thead th")
        .iter()
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(heads, ["Run", "A VPS", "A PaaS", "Your own rack", "Votes"]);
    let cells = |run: &str| -> Vec<String> {
        select(
            &doc,
            &format!(".compare-table[data-decision=host] tr[data-run='{run}'] td"),
        )
        .iter()
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
    };
    assert_eq!(
        cells("1"),
        ["25% 25% (1)", "75% 75% (3) (went this way)", "0% 0% (0)", "4"]
    );
    assert_eq!(
        cells("3"),
        ["0% 0% (0)", "100% 100% (2) (went this way)", "0% 0% (0)", "2"]
    );
    assert_eq!(
        select(&doc, ".compare-table[data-decision=host] td.followed").len(),
        2,
        "one followed choice per run"
    );
    assert!(select(&doc, ".compare a[href='/api/runs.csv']").len() == 1);
}

#[tokio::test]
async fn the_story_map_is_coloured_by_one_run_or_by_all() {
    let app = spawn_app_with(Options::default()).await;
    play(&app, [2, 1], [1, 3], "paas").await;
    publish(&app).await;
    app.new_run().await;
    play(&app, [0, 2], [0, 1], "paas").await;
    app.new_run().await;
    app.goto("build").await;
    publish(&app).await;
    let r = app.presenter_call("explore", Some(json!({ "published": true }))).await;
    assert_eq!(r.status(), StatusCode::OK);

    // The presenter's map: every run (3), or one.
    let svg = app
        .presenter_get("/presenter/map.svg?run=all")
        .await
        .text()
        .await
        .expect("SVG");
    assert!(
        svg.contains(r#"id="map-intro" data-slides="intro build" data-runs="3""#),
        "{svg}"
    );
    assert!(svg.contains(r#"data-slides="host" data-runs="2""#), "{svg}");
    assert!(
        svg.contains("<title>Where do you host it? (2 of 3 runs)</title>"),
        "{svg}"
    );
    assert!(
        svg.contains(r#"id="map-end-vps" data-slides="end-vps" data-runs="0""#),
        "{svg}"
    );
    let svg = app
        .presenter_get("/presenter/map.svg?run=2")
        .await
        .text()
        .await
        .expect("SVG");
    assert!(
        svg.contains(r#"class="group ending visited current" id="map-end-paas""#),
        "{svg}"
    );
    assert!(!svg.contains("data-runs"));
    for (query, status) in [
        ("?run=x", StatusCode::BAD_REQUEST),
        ("?run=-1", StatusCode::BAD_REQUEST),
        ("?run=9", StatusCode::NOT_FOUND),
    ] {
        let r = app.presenter_get(&format!("/presenter/map.svg{query}")).await;
        assert_eq!(r.status(), status, "{query}");
    }

    // /explore: the published runs only (1 and 3), run 2 stays private.
    let page = app.get("/explore?run=all").await.text().await.expect("a page");
    assert!(page.contains(r#"data-slides="intro build" data-runs="2""#), "{page}");
    assert!(page.contains(r#"data-slides="end-paas" data-runs="1""#), "{page}");
    assert_eq!(app.get("/explore?run=1").await.status(), StatusCode::OK);
    assert_eq!(app.get("/explore?run=2").await.status(), StatusCode::FORBIDDEN);
}
