//! The load generator, `cyoa-load`, for the tests that run it against the
//! server (tests/load.rs, the short soak in tests/multi).
//!
//! It is its own package of the workspace (load/), so cargo gives these
//! tests no `CARGO_BIN_EXE_cyoa-load`. Cargo puts both packages' binaries
//! in one directory: `cargo test --workspace` (as scripts/test.sh runs it)
//! or `cargo build -p cyoa-load` builds it there, next to `cyoa`. Without
//! it, or with one older than its sources, a test fails and says how to
//! build it; it never skips, and never runs a stale generator.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The path of a `cyoa-load` built from the current sources.
pub fn binary() -> PathBuf {
    let cyoa = Path::new(env!("CARGO_BIN_EXE_cyoa"));
    let load = cyoa.with_file_name(format!("cyoa-load{}", std::env::consts::EXE_SUFFIX));
    let build = "build it with `cargo build -p cyoa-load` (with `--release` for a release test run), \
                 or run the tests with `cargo test --workspace`";
    let built = match load.metadata().and_then(|m| m.modified()) {
        Ok(built) => built,
        Err(e) => panic!("the load generator is not at {} ({e}): {build}", load.display()),
    };
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("load");
    let sources = [package.join("Cargo.toml"), package.join("src")];
    if let Some(newer) = newest_file(&sources).filter(|(changed, _)| *changed > built) {
        panic!(
            "the load generator at {} is older than its source {}: {build}",
            load.display(),
            newer.1.display()
        );
    }
    load
}

/// The most recently changed of `paths` and the files under them.
fn newest_file(paths: &[PathBuf]) -> Option<(SystemTime, PathBuf)> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    let mut pending = paths.to_vec();
    while let Some(path) = pending.pop() {
        let Ok(meta) = path.metadata() else { continue };
        if meta.is_dir() {
            let entries = std::fs::read_dir(&path).into_iter().flatten().flatten();
            pending.extend(entries.map(|entry| entry.path()));
        } else if let Ok(changed) = meta.modified() {
            if newest.as_ref().is_none_or(|(t, _)| changed > *t) {
                newest = Some((changed, path));
            }
        }
    }
    newest
}
