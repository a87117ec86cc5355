//! Static files under versioned URLs: the pages name each file with the
//! hash of its content; that URL is kept a year, any other is revalidated.

use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{html, select, spawn_app};

/// The version cyoa gives a file of `static/`.
fn version_of(name: &str) -> String {
    let bytes = std::fs::read(format!("{}/static/{name}", env!("CARGO_MANIFEST_DIR"))).expect("the file");
    hex::encode(Sha256::digest(&bytes))[..16].to_string()
}

#[tokio::test]
async fn pages_name_every_static_file_with_its_version_and_that_url_is_kept_a_year() {
    let app = spawn_app().await;
    let presenter = app.presenter_browser().await;
    let page = presenter.get("/presenter").await.text().await.expect("a page");
    let console = presenter.get("/presenter/notes").await.text().await.expect("a page");
    let audience = app.get("/").await.text().await.expect("a page");
    for text in [page, console, audience] {
        let doc = html(&text);
        let urls: Vec<String> = select(&doc, "script[src], link[rel=stylesheet]")
            .iter()
            .filter_map(|e| e.attr("src").or(e.attr("href")).map(str::to_string))
            .filter(|u| u.starts_with("/static/"))
            .collect();
        assert!(urls.iter().any(|u| u.contains("common.js")), "{urls:?}");
        for url in urls {
            let (path, version) = url.split_once("?v=").unwrap_or_else(|| panic!("{url} has no version"));
            let name = path.trim_start_matches("/static/");
            assert_eq!(version, version_of(name), "{url}");
            let r = app.get(&url).await;
            assert_eq!(r.status(), StatusCode::OK, "{url}");
            assert_eq!(
                r.headers()["cache-control"],
                "public, max-age=31536000, immutable",
                "{url}"
            );
        }
    }
    // The presenter view loads the map's script and style with the page.
    let text = presenter.get("/presenter").await.text().await.expect("a page");
    assert!(text.contains(&format!("/static/map.js?v={}", version_of("map.js"))));
    assert!(text.contains(&format!("/static/map.css?v={}", version_of("map.css"))));
}

#[tokio::test]
async fn a_wrong_or_missing_version_is_served_but_never_kept() {
    let app = spawn_app().await;
    for url in [
        "/static/common.js",
        "/static/common.js?v=0000000000000000",
        "/static/common.js?v=",
    ] {
        let r = app.get(url).await;
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{url}");
    }
    let r = app
        .get(&format!("/static/nothing.js?v={}", version_of("common.js")))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_ne!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
}
