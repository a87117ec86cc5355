//! The files of `static/` under versioned URLs: `/static/common.js?v=<hash>`,
//! the hash of the file's content read once at start. A page names the
//! versions it was drawn with, so after an upgrade a browser never runs an
//! old `common.js` against new page scripts. A URL with the current hash
//! is kept for a year (`immutable`); any other (typed by hand, or the hash
//! of another version) is served too, but revalidated on every use
//! (`no-cache`), so it can never hold a stale file for long.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// `Cache-Control` of a URL with the file's current hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of every other static URL.
pub const REVALIDATE: &str = "no-cache";

/// The static directory and the hash of each file in it.
#[derive(Debug, Clone)]
pub struct Assets {
    dir: PathBuf,
    versions: HashMap<String, String>,
}

impl Assets {
    /// Reads every file under `dir` once and notes its hash (the first 16
    /// hex digits of its SHA-256). A directory that cannot be read gives
    /// no versions: every URL is then unversioned.
    pub fn load(dir: &Path) -> Assets {
        let mut versions = HashMap::new();
        let mut folders = vec![PathBuf::new()];
        while let Some(folder) = folders.pop() {
            let Ok(entries) = std::fs::read_dir(dir.join(&folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = folder.join(entry.file_name());
                let path = entry.path();
                if path.is_dir() {
                    folders.push(name);
                } else if let (Ok(bytes), Some(name)) = (std::fs::read(&path), name.to_str()) {
                    let hash = hex::encode(Sha256::digest(&bytes));
                    versions.insert(name.replace('\\', "/"), hash[..16].to_string());
                }
            }
        }
        Assets {
            dir: dir.to_path_buf(),
            versions,
        }
    }

    /// The URL of `name` (a path under `static/`), with its version.
    pub fn url(&self, name: &str) -> String {
        match self.versions.get(name) {
            Some(v) => format!("/static/{name}?v={v}"),
            None => format!("/static/{name}"),
        }
    }

    /// Whether a request (its path under `/static`) names the current
    /// version of its file.
    fn is_current(&self, request: &Request) -> bool {
        let name = request.uri().path().trim_start_matches('/');
        let asked = request
            .uri()
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("v="));
        matches!((self.versions.get(name), asked), (Some(v), Some(a)) if v == a)
    }
}

tokio::task_local! {
    static ASSETS: Arc<Assets>;
}

/// The versioned URL of a static file, for the templates
/// (`{{ crate::web::assets::url("common.js") }}`); outside a request, the
/// plain URL.
pub fn url(name: &str) -> String {
    ASSETS
        .try_with(|assets| assets.url(name))
        .unwrap_or_else(|_| format!("/static/{name}"))
}

/// Middleware: the pages of this request are drawn with `assets`' versions.
pub async fn scope(assets: Arc<Assets>, request: Request, next: Next) -> Response {
    ASSETS.scope(assets, next.run(request)).await
}

/// `GET /static/...`: the file, kept a year under its current version,
/// revalidated under any other URL.
pub async fn serve(assets: Arc<Assets>, request: Request) -> Response {
    let current = assets.is_current(&request);
    let mut response = match ServeDir::new(&assets.dir).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    let cache = if current && response.status().is_success() {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
