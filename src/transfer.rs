//! `cyoa runs export` and `cyoa runs import`: a talk's run history as one
//! JSON file, to carry it between stores (a talk rehearsed on a laptop's
//! data file, given on a server's Redis).
//!
//! The file holds every run's state (slides, path, open vote, what was
//! published, when it started, its label) and its closed decisions with
//! their frozen tallies: `{"cyoa_runs": 1, "runs": [...]}`. It holds no
//! voter records: who voted stays in the store it was cast in. A store
//! takes a history only while it holds no run, so nothing is ever merged
//! or overwritten.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::store::{RunId, RunRecord, VoteStore};

/// The version of the file's format.
pub const FORMAT: u32 = 1;

/// The largest history file `import` reads.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct History {
    cyoa_runs: u32,
    runs: Vec<RunRecord>,
}

/// Writes `store`'s history to the new file `file`; how many runs.
pub async fn export(store: &VoteStore, file: &Path) -> Result<usize, String> {
    let runs = store.runs().await.map_err(|e| format!("cannot read the runs: {e}"))?;
    let count = runs.len();
    let json = serde_json::to_vec_pretty(&History {
        cyoa_runs: FORMAT,
        runs,
    })
    .map_err(|e| format!("cannot write the runs as JSON: {e}"))?;
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .and_then(|mut f| f.write_all(&json).and_then(|()| f.sync_all()))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                format!("{} exists already; give a new file to export into", file.display())
            }
            _ => format!("cannot write {}: {e}", file.display()),
        })?;
    Ok(count)
}

/// Reads a history file, checked: its format and its runs' numbers.
pub fn read(file: &Path) -> Result<Vec<RunRecord>, String> {
    let len = std::fs::metadata(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        .len();
    if len > MAX_FILE {
        return Err(format!(
            "{}: {len} bytes, more than a run history holds ({MAX_FILE} at most)",
            file.display()
        ));
    }
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let history: History = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{}:{}:{}: not a run history written by `cyoa runs export`: {e}",
            file.display(),
            e.line(),
            e.column()
        )
    })?;
    if history.cyoa_runs != FORMAT {
        return Err(format!(
            "{}: a run history of format {}; this cyoa reads format {FORMAT}",
            file.display(),
            history.cyoa_runs
        ));
    }
    for (i, r) in history.runs.iter().enumerate() {
        if r.state.run != i as RunId + 1 {
            return Err(format!(
                "{}: the runs must be numbered 1, 2, ... in order; run {} is number {} in the file",
                file.display(),
                r.state.run,
                i + 1
            ));
        }
    }
    Ok(history.runs)
}

/// Takes the history in `file` into `store`, which must hold no run yet;
/// how many runs.
pub async fn import(store: &VoteStore, file: &Path) -> Result<usize, String> {
    let runs = read(file)?;
    match store.import_runs(&runs).await {
        Ok(true) => Ok(runs.len()),
        Ok(false) => Err(
            "the store holds runs already; a history is imported only into a store with none \
             (a new --data file, or a new --redis-prefix)"
                .to_string(),
        ),
        Err(e) => Err(format!("cannot import: {e}")),
    }
}
