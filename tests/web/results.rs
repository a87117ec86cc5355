//! `/results`, the publish controls and the run exports
//! (`/api/runs/{run}.csv` and `.json`): nothing before the presenter
//! publishes (but to the presenter), the path and tallies after, every bad
//! input answered clearly; and the published switch shared by two
//! instances on one Redis.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TOKEN, TestApp, assert_download, html, select, spawn_app, spawn_app_with, text_of};

/// Plays the run to an ending: `build` (pets 2, docs 1; both choices lead
/// to `host`, so the path cannot tell which was followed), then `host`
/// (paas 2, vps 1) followed to `end-paas`.
async fn play_build(app: &TestApp) {
    app.open_build().await;
    for choice in ["pets", "pets", "docs"] {
        let voter = app.voter().await;
        assert_eq!(voter.post_vote("build", choice).await.status(), StatusCode::SEE_OTHER);
    }
    app.close().await;
    app.follow("pets").await;
    app.open().await;
    for choice in ["paas", "paas", "vps"] {
        app.voter().await.post_vote("host", choice).await;
    }
    app.close().await;
    app.follow("paas").await;
}

async fn publish(app: &TestApp, what: &str, on: bool) -> Value {
    let r = app.presenter_call(what, Some(json!({ "published": on }))).await;
    let status = r.status();
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn error_of(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let body: Value = r.json().await.expect("a JSON error");
    (status, body["error"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn results_wait_for_the_presenter_then_show_the_path_and_the_tallies() {
    let app = spawn_app().await;
    play_build(&app).await;

    let r = app.get("/results").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.expect("a page");
    assert!(page.contains("not published yet"), "{page}");
    for secret in ["Pets or docs?", "Tinder for Pets", "Where do you host it?"] {
        assert!(!page.contains(secret), "{secret:?} leaked before publishing:\n{page}");
    }

    let state = publish(&app, "results", true).await;
    assert_eq!(state["published"], json!({ "results": true, "explore": false }));
    assert_eq!(app.state().await["published"]["results"], true);

    let r = app.get("/results").await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc = html(&r.text().await.expect("a page"));
    let path: Vec<String> = select(&doc, ".path li")
        .iter()
        .map(|li| li.value().attr("data-slide").unwrap_or_default().to_string())
        .collect();
    assert_eq!(path, ["intro", "build", "host", "end-paas"]);
    assert_eq!(text_of(&doc, ".path li[data-slide=host] .chose"), "→ A PaaS");
    assert!(select(&doc, ".path li[data-slide=build] .chose").is_empty());
    assert_eq!(select(&doc, ".result").len(), 2);
    assert_eq!(
        text_of(&doc, ".result[data-decision=build] .outcome"),
        "Winner: Tinder for Pets · 3 votes"
    );
    assert_eq!(
        text_of(&doc, ".result[data-decision=host] .outcome"),
        "Winner: A PaaS · 3 votes"
    );
    let won = select(&doc, ".result[data-decision=build] tr.won th");
    assert_eq!(won.len(), 1);
    assert!(won[0].text().collect::<String>().contains("Tinder for Pets"));
    assert_eq!(text_of(&doc, ".result tr.followed td.votes"), "2");
    assert_eq!(select(&doc, "a[href=\"/api/runs/1.csv\"]").len(), 1);

    // Taken back: hidden again; a new run starts hidden.
    publish(&app, "results", false).await;
    assert_eq!(app.get("/results").await.status(), StatusCode::FORBIDDEN);
    publish(&app, "results", true).await;
    app.new_run().await;
    assert_eq!(app.get("/results").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_tie_is_shown_as_a_tie() {
    let app = spawn_app().await;
    app.open_build().await;
    for choice in ["pets", "docs"] {
        app.voter().await.post_vote("build", choice).await;
    }
    app.close().await;
    publish(&app, "results", true).await;
    let doc = html(&app.get("/results").await.text().await.expect("a page"));
    assert_eq!(select(&doc, ".result[data-outcome=tie]").len(), 1);
    assert_eq!(
        text_of(&doc, ".result .outcome"),
        "Tie: Tinder for Pets and Doc Send · 2 votes"
    );
    assert_eq!(select(&doc, ".result tr.won").len(), 2);
}

#[tokio::test]
async fn the_presenter_sees_the_results_before_they_are_published() {
    let app = spawn_app().await;
    play_build(&app).await;
    let presenter = app.presenter_browser().await;
    let r = presenter.get("/results").await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc = html(&r.text().await.expect("a page"));
    assert_eq!(select(&doc, ".preview-note").len(), 1);
    assert_eq!(select(&doc, ".result").len(), 2);
}

#[tokio::test]
async fn the_publish_controls_refuse_bad_calls() {
    let app = spawn_app().await;
    for what in ["results", "explore"] {
        let url = format!("{}/api/presenter/{what}", app.address);
        // No token, no cookie.
        let r = app
            .api
            .post(&url)
            .json(&json!({ "published": true }))
            .send()
            .await
            .expect("an answer");
        assert_eq!(error_of(r).await, (StatusCode::UNAUTHORIZED, "unauthorized".into()));
        // A wrong token.
        let r = app
            .api
            .post(&url)
            .bearer_auth("wrong")
            .json(&json!({ "published": true }))
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // The cookie without the presenter header.
        let presenter = app.presenter_browser().await;
        let r = presenter
            .client
            .post(&url)
            .json(&json!({ "published": true }))
            .send()
            .await
            .expect("an answer");
        assert_eq!(error_of(r).await, (StatusCode::FORBIDDEN, "presenter_header".into()));
        // Bodies of the wrong shape.
        for body in [
            json!({}),
            json!({ "published": "yes" }),
            json!({ "published": true, "x": 1 }),
        ] {
            let r = app.presenter_call(what, Some(body.clone())).await;
            assert_eq!(
                error_of(r).await,
                (StatusCode::UNPROCESSABLE_ENTITY, "bad_json".into()),
                "{body}"
            );
        }
        let r = app.presenter_call(what, None).await;
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    assert_eq!(
        app.state().await["published"],
        json!({ "results": false, "explore": false })
    );
}

#[tokio::test]
async fn the_exports_are_for_the_presenter_until_published_then_for_everyone() {
    let app = spawn_app().await;
    play_build(&app).await;

    let r = app.get("/api/runs/1.csv").await;
    assert_eq!(error_of(r).await, (StatusCode::FORBIDDEN, "not_published".into()));
    let r = app.get("/api/runs/1.json").await;
    assert_eq!(error_of(r).await, (StatusCode::FORBIDDEN, "not_published".into()));
    // A voter cookie is not enough; the presenter's token or cookie is.
    let voter = app.voter().await;
    assert_eq!(voter.get("/api/runs/1.csv").await.status(), StatusCode::FORBIDDEN);
    let r = app
        .api
        .get(format!("{}/api/runs/1.csv", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), StatusCode::OK);
    let presenter = app.presenter_browser().await;
    assert_eq!(presenter.get("/api/runs/1.json").await.status(), StatusCode::OK);

    publish(&app, "results", true).await;
    let r = app.get("/api/runs/1.csv").await;
    assert_download(&r, "cyoa-run-1.csv");
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.expect("CSV");
    // Each row's cells, joined by `|` (no cell here holds one).
    let rows: Vec<String> = csv_rows(&text).iter().map(|r| r.join("|")).collect();
    assert_eq!(
        rows,
        [
            "run|decision|prompt|number|choice|label|votes|total|won|followed|run_label|chosen_by",
            "1|build|Pets or docs?|1|pets|Tinder for Pets|2|3|yes|no||",
            "1|build|Pets or docs?|2|docs|Doc Send|1|3|no|no||",
            "1|host|Which host?|1|vps|A VPS|1|3|no|no||",
            "1|host|Which host?|2|paas|A PaaS|2|3|yes|yes||vote",
            "1|host|Which host?|3|rack|Your own rack|0|3|no|no||",
        ]
    );

    let r = app.get("/api/runs/1.json").await;
    assert_eq!(r.status(), StatusCode::OK);
    let export: Value = r.json().await.expect("JSON");
    assert_eq!(export["story"], "The test adventure");
    assert_eq!(export["run"], 1);
    assert_eq!(export["path"], json!(["intro", "build", "host", "end-paas"]));
    assert_eq!(export["followed"], json!({ "host": "paas" }));
    assert_eq!(export["decisions"][0]["winner"], "pets");
    assert_eq!(export["decisions"][0]["choices"][1]["votes"], 1);

    // The plain history route is unchanged.
    let history: Value = app.get("/api/runs/1").await.json().await.expect("JSON");
    assert_eq!(history["path"], json!(["intro", "build", "host", "end-paas"]));
}

/// The cells of a CSV text, row by row.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("a CSV row").iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn the_exports_answer_unknown_and_bad_runs_clearly() {
    let app = spawn_app().await;
    app.state().await;
    publish(&app, "results", true).await;
    for path in ["/api/runs/2.csv", "/api/runs/0.json", "/api/runs/99.json"] {
        assert_eq!(
            error_of(app.get(path).await).await,
            (StatusCode::NOT_FOUND, "unknown_run".into()),
            "{path}"
        );
    }
    for path in [
        "/api/runs/abc.csv",
        "/api/runs/-1.json",
        "/api/runs/1e3.csv",
        "/api/runs/.csv",
        "/api/runs/%201.csv",
        "/api/runs/1.5.json",
        "/api/runs/99999999999999999999.csv",
    ] {
        assert_eq!(
            error_of(app.get(path).await).await,
            (StatusCode::BAD_REQUEST, "bad_run".into()),
            "{path}"
        );
    }
    // Not an export: the history route's own answer.
    assert_eq!(
        error_of(app.get("/api/runs/1.xml").await).await,
        (StatusCode::NOT_FOUND, "unknown_run".into())
    );
}

#[tokio::test]
async fn labels_that_look_like_formulas_stay_text_in_the_csv() {
    let story = r#"
title = "Formulas"
start = "ask"

[slides.ask]
title = "Ask"
[slides.ask.decision]
prompt = "=1+1"
choices = [
  { id = "a", label = "=HYPERLINK(\"http://evil.example\",\"click\")", goto = "end" },
  { id = "b", label = "+SUM(A1:A9)", goto = "end" },
  { id = "c", label = "@cmd, \"quoted\"\nnext line", goto = "end" },
  { id = "d", label = "-minus", goto = "end" },
]

[slides.end]
title = "End"
"#;
    let app = spawn_app_with(Options {
        story: story.into(),
        ..Options::default()
    })
    .await;
    app.open().await;
    app.voter().await.post_vote("ask", "a").await;
    app.close().await;
    publish(&app, "results", true).await;
    let text = app.get("/api/runs/1.csv").await.text().await.expect("CSV");
    let rows = csv_rows(&text);
    let labels: Vec<&str> = rows[1..].iter().map(|r| r[5].as_str()).collect();
    assert_eq!(
        labels,
        [
            "'=HYPERLINK(\"http://evil.example\",\"click\")",
            "'+SUM(A1:A9)",
            "'@cmd, \"quoted\"\nnext line",
            "'-minus"
        ]
    );
    assert_eq!(rows[1][2], "'=1+1");
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "a cell a spreadsheet would run: {cell:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_publish_on_one_instance_reaches_the_other_and_its_sockets() {
    use crate::support::backends::redis_store_at;
    use crate::support::redis::{fresh_prefix, shared};
    let prefix = fresh_prefix();
    let a = spawn_app_with(Options {
        store: Some(redis_store_at(shared(), &prefix).await),
        ..Options::default()
    })
    .await;
    let b = spawn_app_with(Options {
        store: Some(redis_store_at(shared(), &prefix).await),
        ..Options::default()
    })
    .await;
    let mut socket = b.voter().await.socket().await;
    socket.wait_for("state", |_| true).await;
    assert_eq!(b.get("/results").await.status(), StatusCode::FORBIDDEN);

    publish(&a, "results", true).await;
    socket
        .wait_for("state", |m| m["state"]["published"]["results"] == true)
        .await;
    assert_eq!(b.get("/results").await.status(), StatusCode::OK);
    assert_eq!(b.get("/api/runs/1.csv").await.status(), StatusCode::OK);

    publish(&b, "explore", true).await;
    assert_eq!(a.get("/explore").await.status(), StatusCode::OK);
}
