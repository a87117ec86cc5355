//! The embedded vote store: the memory store's maps, written through to an
//! SQLite file, so that a talk survives its process.
//!
//! Reads are answered from memory. Every change is made in memory (the
//! [`MemoryStore`] logic, unchanged) and the rows it changed (a run's
//! state, its closed decisions, a voter's record, a delivery mark, the
//! outbox) are queued, in the order the changes were made, for one writer
//! thread. The writer takes everything queued, writes it in one
//! transaction, commits (one fsync: `synchronous=FULL` in WAL mode), and
//! only then answers each change: an operation returns, and so the vote is
//! acknowledged, after its commit. Votes that arrive together share one
//! commit (group commit). A voter's record is appended to the ballot log
//! rather than updated in place, so a batch of votes writes a few pages at
//! the log's end; the log is folded into the voter records at open, at a
//! clean stop and before a decision's records are rewritten.
//!
//! At start the file is checked (an SQLite file, not damaged, a schema
//! this cyoa knows), migrated to the current schema and loaded into
//! memory; a lock file beside it keeps a second server away. Presence
//! leases are not kept: after a restart each presence vote gets one grace
//! period from the start, as after an instance crash on Redis.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, params};

use super::memory::{Saved, Sweep};
use super::{
    Audit, Cast, Closed, Countdown, Delivery, MemoryStore, Now, Publication, Published, Result, RunId, RunRecord,
    RunState, Step, StoreError, Tally, TextVote, VoteKind, VoteOutcome, Voter,
};

/// The schema this cyoa writes (`PRAGMA user_version`). A file of an
/// older schema is migrated at start; a newer one is refused.
pub const SCHEMA_VERSION: i64 = 5;

/// Each schema step, from version n - 1 to n at index n - 1.
const MIGRATIONS: [&str; 5] = [
    // 1: runs, their closed decisions, the voter records, delivery marks.
    include_str!("schema/1.sql"),
    // 2: run labels; the outbound SMS queue.
    include_str!("schema/2.sql"),
    // 3: how each run went on from its decisions (by the vote or the
    // presenter), as JSON; NULL in the runs of an older file.
    include_str!("schema/3.sql"),
    // 4: when the open vote's countdown ends (ms since the epoch); NULL
    // when none runs.
    include_str!("schema/4.sql"),
    // 5: how long each results text's number and outbox message is kept
    // (ms since the epoch; a day from the migration for the rows of an
    // older file); the ballot log: each vote's change appended, folded into
    // `ballots` at open, at a clean stop and before a decision's records
    // are rewritten.
    include_str!("schema/5.sql"),
];

/// The last change each voter's record took in the ballot log (a `NULL`
/// choice: removed). SQLite takes the bare columns of a `max()` aggregate
/// from the row that holds the maximum.
const LAST_IN_LOG: &str = "SELECT run, decision, voter, choice, sticky, max(seq) FROM ballot_log \
     GROUP BY run, decision, voter";

/// Folds the ballot log into `ballots` and empties it.
fn fold_log(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "DELETE FROM ballots WHERE (run, decision, voter) IN
           (SELECT run, decision, voter FROM ({LAST_IN_LOG}) WHERE choice IS NULL);
         INSERT OR REPLACE INTO ballots (run, decision, voter, choice, sticky)
           SELECT run, decision, voter, choice, sticky FROM ({LAST_IN_LOG}) WHERE choice IS NOT NULL;
         DELETE FROM ballot_log;"
    ))
}

/// The most changes one commit takes; more wait for the next.
const MAX_BATCH: usize = 4096;

/// Votes and runs in memory, written through to an SQLite file.
#[derive(Clone)]
pub struct EmbeddedStore {
    pub(super) mem: MemoryStore,
    /// Held while a change is made in memory and its rows are queued, so
    /// the writer gets them in the order they were made.
    order: Arc<tokio::sync::Mutex<()>>,
    writer: mpsc::Sender<Request>,
    /// Why the file could not be written, once it could not: every change
    /// is then refused.
    failed: Arc<Mutex<Option<String>>>,
    path: Arc<PathBuf>,
    /// The lock that keeps a second server off this file, held while any
    /// clone lives.
    _lock: Arc<File>,
}

/// One row to write (or delete).
pub(super) enum Row {
    /// A run's state (inserted or updated).
    Run(RunState),
    /// A run's closed decisions, all of them.
    Closed(RunId, Vec<Closed>),
    /// A voter's record on a decision; `None`: removed.
    Ballot {
        run: RunId,
        decision: String,
        voter: String,
        vote: Option<(String, VoteKind)>,
    },
    /// Every voter record of a decision, replacing those written.
    Ballots {
        run: RunId,
        decision: String,
        all: Vec<(String, String, VoteKind)>,
    },
    /// A delivery mark, until then (ms since the epoch).
    Delivery { sid: String, until_ms: u64 },
    /// A results text's recipient, kept until then (ms since the epoch).
    Recipient {
        run: RunId,
        decision: String,
        phone: String,
        sealed: Vec<u8>,
        until_ms: u64,
    },
    /// A decision's recipients, taken.
    RecipientsTaken { run: RunId, decision: String },
    /// An outbox message, due then and kept until then (ms since the
    /// epoch).
    Outgoing {
        id: String,
        due_ms: u64,
        until_ms: u64,
        sealed: Vec<u8>,
    },
    /// An outbox message's new due time.
    Due { id: String, due_ms: u64 },
    /// An outbox message, sent or given up.
    Sent(String),
    /// The outbox emptied, and the run's recipients.
    OutboxCleared(RunId),
}

struct Request {
    rows: Vec<Row>,
    /// After the commit, fold the write-ahead log into the data file.
    checkpoint: bool,
    done: tokio::sync::oneshot::Sender<std::result::Result<(), String>>,
}

/// Why the data file cannot be used.
fn refuse(path: &Path, why: impl std::fmt::Display) -> String {
    format!("{}: {why}", path.display())
}

pub(super) use super::now_ms;

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The lock file that keeps a second server off `path`.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The first bytes of every SQLite file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Whether `path` holds data (else it is a new, empty store); refuses a
/// file that is not an SQLite database, without changing it.
fn check_header(path: &Path) -> std::result::Result<bool, String> {
    use std::io::Read;
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(refuse(path, format!("cannot read it: {e}"))),
    };
    let len = file.metadata().map_err(|e| refuse(path, e))?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut head = [0u8; 16];
    let whole = file.read_exact(&mut head).is_ok() && len >= 512;
    if !whole || &head != SQLITE_MAGIC {
        return Err(refuse(
            path,
            "is not a cyoa data file (not an SQLite database, or cut short); it was left unchanged. \
             Restore it from a backup, or move it away to start afresh",
        ));
    }
    Ok(true)
}

/// Opens, checks and migrates the file; nothing is written to a file that
/// fails a check.
fn open_checked(path: &Path) -> std::result::Result<Connection, String> {
    let existed = check_header(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| refuse(path, format!("cannot open it: {e}")))?;
    // Closing after a failed check must not write to the file.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(|e| refuse(path, e))?;
    let damaged = |e: rusqlite::Error| {
        refuse(
            path,
            format!(
                "is damaged ({e}); it was left unchanged. Restore it from a backup (docs/operations.md), \
                 or move it away to start afresh"
            ),
        )
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(damaged)?;
    if version > SCHEMA_VERSION {
        return Err(refuse(
            path,
            format!(
                "was written by a newer cyoa (schema version {version}; this cyoa knows up to {SCHEMA_VERSION}); \
                 it was left unchanged. Upgrade cyoa to serve it"
            ),
        ));
    }
    if existed {
        let mut check = conn.prepare("PRAGMA quick_check").map_err(damaged)?;
        let problems: Vec<String> = check
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(damaged)?
            .collect::<rusqlite::Result<_>>()
            .map_err(damaged)?;
        if problems.iter().any(|p| p != "ok") {
            return Err(refuse(
                path,
                format!(
                    "is damaged ({}); it was left unchanged. Restore it from a backup (docs/operations.md), \
                     or move it away to start afresh",
                    problems.join("; ")
                ),
            ));
        }
        if version == 0 {
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(damaged)?;
            if tables > 0 {
                return Err(refuse(
                    path,
                    "is an SQLite database of something else, not a cyoa data file; it was left unchanged",
                ));
            }
        }
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| refuse(path, e))?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| refuse(path, e))?;
    migrate(&conn, version).map_err(|e| refuse(path, format!("cannot migrate it: {e}")))?;
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
        .map_err(|e| refuse(path, e))?;
    Ok(conn)
}

/// Brings the schema from `from` to [`SCHEMA_VERSION`], in one transaction.
fn migrate(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    if from >= SCHEMA_VERSION {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let steps = || -> rusqlite::Result<()> {
        for step in &MIGRATIONS[from as usize..] {
            conn.execute_batch(step)?;
        }
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
    };
    match steps() {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn kind_of(sticky: bool) -> VoteKind {
    match sticky {
        true => VoteKind::Sticky,
        false => VoteKind::Presence,
    }
}

/// Everything in the file, into a memory store.
fn load(conn: &Connection, path: &Path) -> std::result::Result<MemoryStore, String> {
    let bad = |e: rusqlite::Error| refuse(path, format!("cannot read it: {e}"));
    let mut runs: Vec<Saved> = Vec::new();
    let mut stmt = conn
        .prepare(
            "SELECT run, slide, path, open, results, explore, started, label, chosen, deadline FROM runs ORDER BY run",
        )
        .map_err(bad)?;
    let mut rows = stmt.query([]).map_err(bad)?;
    while let Some(r) = rows.next().map_err(bad)? {
        let run: i64 = r.get(0).map_err(bad)?;
        let path_json: String = r.get(2).map_err(bad)?;
        let started: Option<i64> = r.get(6).map_err(bad)?;
        let chosen: Option<String> = r.get(8).map_err(bad)?;
        let deadline: Option<i64> = r.get(9).map_err(bad)?;
        let chosen = match chosen {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| refuse(path, format!("is damaged: the choices of run {run}: {e}")))?,
            None => Vec::new(),
        };
        if run != runs.len() as i64 + 1 {
            return Err(refuse(
                path,
                format!("is damaged: run {run} follows run {}", runs.len()),
            ));
        }
        runs.push(Saved {
            state: RunState {
                run: run as RunId,
                slide: r.get(1).map_err(bad)?,
                path: serde_json::from_str(&path_json)
                    .map_err(|e| refuse(path, format!("is damaged: the path of run {run}: {e}")))?,
                open: r.get(3).map_err(bad)?,
                published: Published {
                    results: r.get(4).map_err(bad)?,
                    explore: r.get(5).map_err(bad)?,
                },
                started: started.map(|s| s.max(0) as u64),
                label: r.get(7).map_err(bad)?,
                chosen,
                deadline: deadline.map(|d| d.max(0) as u64),
            },
            closed: Vec::new(),
            ballots: Vec::new(),
        });
    }
    let count = runs.len();
    let run_of = |run: i64| -> std::result::Result<usize, String> {
        usize::try_from(run - 1)
            .ok()
            .filter(|i| *i < count)
            .ok_or_else(|| refuse(path, format!("is damaged: run {run} has votes but no state")))
    };
    let mut stmt = conn
        .prepare("SELECT run, decision, tally FROM closed ORDER BY run, position")
        .map_err(bad)?;
    let mut rows = stmt.query([]).map_err(bad)?;
    while let Some(r) = rows.next().map_err(bad)? {
        let i = run_of(r.get(0).map_err(bad)?)?;
        let tally: String = r.get(2).map_err(bad)?;
        let tally = serde_json::from_str(&tally).map_err(|e| refuse(path, format!("is damaged: a tally: {e}")))?;
        runs[i].closed.push(Closed {
            decision: r.get(1).map_err(bad)?,
            tally: Tally(tally),
        });
    }
    // The voter records, then the ballot log's changes in order (a file
    // read while its server runs has not had its log folded).
    let mut ballots: BTreeMap<(i64, String, String), (String, bool)> = BTreeMap::new();
    for query in [
        "SELECT run, decision, voter, choice, sticky FROM ballots",
        "SELECT run, decision, voter, choice, sticky FROM ballot_log ORDER BY seq",
    ] {
        let mut stmt = conn.prepare(query).map_err(bad)?;
        let mut rows = stmt.query([]).map_err(bad)?;
        while let Some(r) = rows.next().map_err(bad)? {
            let key = (r.get(0).map_err(bad)?, r.get(1).map_err(bad)?, r.get(2).map_err(bad)?);
            match r.get::<_, Option<String>>(3).map_err(bad)? {
                Some(choice) => ballots.insert(
                    key,
                    (choice, r.get::<_, Option<bool>>(4).map_err(bad)?.unwrap_or(false)),
                ),
                None => ballots.remove(&key),
            };
        }
    }
    for ((run, decision, voter), (choice, sticky)) in ballots {
        runs[run_of(run)?]
            .ballots
            .push((decision, voter, choice, kind_of(sticky)));
    }
    let mem = MemoryStore::restore(runs);
    let now = now_ms();
    let at = |ms: i64| Instant::now() + Duration::from_millis((ms.max(0) as u64).saturating_sub(now));
    let mut stmt = conn
        .prepare("SELECT sid, until_ms FROM deliveries WHERE until_ms > ?1 ORDER BY until_ms")
        .map_err(bad)?;
    let mut rows = stmt.query([now as i64]).map_err(bad)?;
    while let Some(r) = rows.next().map_err(bad)? {
        let sid: String = r.get(0).map_err(bad)?;
        mem.restore_delivery(&sid, at(r.get(1).map_err(bad)?));
    }
    let mut stmt = conn
        .prepare("SELECT run, decision, phone, until_ms, sealed FROM recipients WHERE until_ms > ?1")
        .map_err(bad)?;
    let mut rows = stmt.query([now as i64]).map_err(bad)?;
    let mut recipients = Vec::new();
    while let Some(r) = rows.next().map_err(bad)? {
        let run: i64 = r.get(0).map_err(bad)?;
        recipients.push((
            run.max(0) as RunId,
            r.get(1).map_err(bad)?,
            r.get(2).map_err(bad)?,
            at(r.get(3).map_err(bad)?),
            r.get(4).map_err(bad)?,
        ));
    }
    let mut stmt = conn
        .prepare("SELECT id, due_ms, until_ms, sealed FROM outbox WHERE until_ms > ?1")
        .map_err(bad)?;
    let mut rows = stmt.query([now as i64]).map_err(bad)?;
    let mut items = Vec::new();
    while let Some(r) = rows.next().map_err(bad)? {
        items.push((
            r.get(0).map_err(bad)?,
            at(r.get(1).map_err(bad)?),
            at(r.get(2).map_err(bad)?),
            r.get(3).map_err(bad)?,
        ));
    }
    mem.restore_outbox(recipients, items);
    Ok(mem)
}

/// Deletes the results texts' numbers and the outbox messages kept past
/// their time (forgotten in memory already).
fn forget_expired(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let now = now_ms() as i64;
    tx.prepare_cached("DELETE FROM recipients WHERE until_ms <= ?1")?
        .execute([now])?;
    tx.prepare_cached("DELETE FROM outbox WHERE until_ms <= ?1")?
        .execute([now])?;
    Ok(())
}

/// Writes one batch of rows, in the writer's open transaction.
fn write(tx: &rusqlite::Transaction<'_>, row: &Row) -> rusqlite::Result<()> {
    match row {
        Row::Run(s) => {
            let path = serde_json::to_string(&s.path).unwrap_or_else(|_| "[]".into());
            let chosen = serde_json::to_string(&s.chosen).unwrap_or_else(|_| "[]".into());
            tx.prepare_cached(
                "INSERT INTO runs (run, slide, path, open, results, explore, started, label, chosen, deadline)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (run) DO UPDATE SET slide = ?2, path = ?3, open = ?4, results = ?5,
                   explore = ?6, started = ?7, label = ?8, chosen = ?9, deadline = ?10",
            )?
            .execute(params![
                s.run as i64,
                s.slide,
                path,
                s.open,
                s.published.results,
                s.published.explore,
                s.started.map(|t| t as i64),
                s.label,
                chosen,
                s.deadline.map(|t| t as i64)
            ])?;
        }
        Row::Closed(run, closed) => {
            tx.prepare_cached("DELETE FROM closed WHERE run = ?1")?
                .execute([*run as i64])?;
            let mut insert =
                tx.prepare_cached("INSERT INTO closed (run, position, decision, tally) VALUES (?1, ?2, ?3, ?4)")?;
            for (i, c) in closed.iter().enumerate() {
                let tally = serde_json::to_string(&c.tally.0).unwrap_or_else(|_| "{}".into());
                insert.execute(params![*run as i64, i as i64, c.decision, tally])?;
            }
        }
        Row::Ballot {
            run,
            decision,
            voter,
            vote,
        } => {
            // Appended, not updated in place: a batch of votes from voters
            // all over the key space writes a few pages at the log's end,
            // not one page of `ballots` per voter.
            let (choice, sticky) = match vote {
                Some((choice, kind)) => (Some(choice.as_str()), Some(*kind == VoteKind::Sticky)),
                None => (None, None),
            };
            tx.prepare_cached(
                "INSERT INTO ballot_log (run, decision, voter, choice, sticky) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![*run as i64, decision, voter, choice, sticky])?;
        }
        Row::Ballots { run, decision, all } => {
            fold_log(tx)?;
            tx.prepare_cached("DELETE FROM ballots WHERE run = ?1 AND decision = ?2")?
                .execute(params![*run as i64, decision])?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO ballots (run, decision, voter, choice, sticky) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (voter, choice, kind) in all {
                insert.execute(params![*run as i64, decision, voter, choice, *kind == VoteKind::Sticky])?;
            }
        }
        Row::Delivery { sid, until_ms } => {
            tx.prepare_cached("DELETE FROM deliveries WHERE until_ms <= ?1")?
                .execute([now_ms() as i64])?;
            tx.prepare_cached("INSERT OR REPLACE INTO deliveries (sid, until_ms) VALUES (?1, ?2)")?
                .execute(params![sid, *until_ms as i64])?;
        }
        Row::Recipient {
            run,
            decision,
            phone,
            sealed,
            until_ms,
        } => {
            forget_expired(tx)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO recipients (run, decision, phone, sealed, until_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![*run as i64, decision, phone, sealed, *until_ms as i64])?;
        }
        Row::RecipientsTaken { run, decision } => {
            tx.prepare_cached("DELETE FROM recipients WHERE run = ?1 AND decision = ?2")?
                .execute(params![*run as i64, decision])?;
        }
        Row::Outgoing {
            id,
            due_ms,
            until_ms,
            sealed,
        } => {
            forget_expired(tx)?;
            tx.prepare_cached("INSERT OR REPLACE INTO outbox (id, due_ms, until_ms, sealed) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![id, *due_ms as i64, *until_ms as i64, sealed])?;
        }
        Row::Due { id, due_ms } => {
            tx.prepare_cached("UPDATE outbox SET due_ms = ?2 WHERE id = ?1")?
                .execute(params![id, *due_ms as i64])?;
        }
        Row::Sent(id) => {
            tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?.execute([id])?;
        }
        Row::OutboxCleared(run) => {
            tx.prepare_cached("DELETE FROM outbox")?.execute([])?;
            tx.prepare_cached("DELETE FROM recipients WHERE run = ?1")?
                .execute([*run as i64])?;
        }
    }
    Ok(())
}

/// The writer thread: group commit until every sender is gone.
fn writer(mut conn: Connection, requests: mpsc::Receiver<Request>) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let mut result = match batch.iter().all(|r| r.rows.is_empty()) {
            // Nothing to write: everything queued before is committed.
            true => Ok(()),
            false => commit(&mut conn, &batch).map_err(|e| format!("cannot write the data file: {e}")),
        };
        if result.is_ok() && batch.iter().any(|r| r.checkpoint) {
            result = fold_in_transaction(&mut conn)
                .and_then(|()| conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)"))
                .map_err(|e| format!("cannot fold the write-ahead log into the data file: {e}"));
        }
        for request in batch {
            let _ = request.done.send(result.clone());
        }
    }
}

/// Folds the ballot log into `ballots`, in a transaction of its own.
fn fold_in_transaction(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    fold_log(&tx)?;
    tx.commit()
}

fn commit(conn: &mut Connection, batch: &[Request]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for row in batch.iter().flat_map(|r| &r.rows) {
        write(&tx, row)?;
    }
    tx.commit()
}

impl EmbeddedStore {
    /// Opens (or creates) the data file at `path`: checked, migrated,
    /// loaded. `grace` is the presence grace: each presence vote stands
    /// that long from now, for its page to come back. The error says what
    /// is wrong with the file and what to do.
    pub fn open_file(path: &Path, grace: Duration) -> std::result::Result<EmbeddedStore, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot make the folder {} for the data file: {e}", dir.display()))?;
        }
        let lock_at = lock_path(path);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_at)
            .map_err(|e| format!("cannot make the lock file {}: {e}", lock_at.display()))?;
        match fs4::FileExt::try_lock(&lock) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(format!(
                    "{}: another cyoa server is using this data file (it holds {}). Stop that one first, \
                     or give this one another file with --data",
                    path.display(),
                    lock_at.display()
                ));
            }
            Err(fs4::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", lock_at.display()));
            }
        }
        let mut conn = open_checked(path)?;
        let mem = load(&conn, path)?;
        fold_in_transaction(&mut conn).map_err(|e| refuse(path, format!("cannot fold its ballot log: {e}")))?;
        mem.keep_present_now(&mem.presence_voters(), grace);
        let (writer_tx, requests) = mpsc::channel();
        std::thread::Builder::new()
            .name("cyoa-store-writer".into())
            .spawn(move || writer(conn, requests))
            .map_err(|e| format!("cannot start the data file's writer: {e}"))?;
        Ok(EmbeddedStore {
            mem,
            order: Arc::new(tokio::sync::Mutex::new(())),
            writer: writer_tx,
            failed: Arc::new(Mutex::new(None)),
            path: Arc::new(path.to_path_buf()),
            _lock: Arc::new(lock),
        })
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the file could not be written, if it could not.
    pub(super) fn failure(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn refused(&self) -> Result<()> {
        match self.failure() {
            Some(why) => Err(StoreError::Backend(why)),
            None => Ok(()),
        }
    }

    /// Queues `rows` (call with `order` held) and gives the wait for
    /// their commit.
    fn queue(&self, rows: Vec<Row>) -> Result<tokio::sync::oneshot::Receiver<std::result::Result<(), String>>> {
        let (done, committed) = tokio::sync::oneshot::channel();
        self.writer
            .send(Request {
                rows,
                checkpoint: false,
                done,
            })
            .map_err(|_| StoreError::Backend("the data file's writer stopped".into()))?;
        Ok(committed)
    }

    /// Folds the write-ahead log into the data file once everything queued
    /// is committed, so the file alone holds the talk (at a clean stop;
    /// `cyoa backup` is the way to copy a file in use).
    pub async fn checkpoint(&self) -> std::result::Result<(), String> {
        let (done, committed) = tokio::sync::oneshot::channel();
        let request = Request {
            rows: Vec::new(),
            checkpoint: true,
            done,
        };
        self.writer
            .send(request)
            .map_err(|_| "the data file's writer stopped".to_string())?;
        committed
            .await
            .map_err(|_| "the data file's writer stopped".to_string())?
    }

    /// Waits for the commit of a change.
    async fn committed(&self, wait: tokio::sync::oneshot::Receiver<std::result::Result<(), String>>) -> Result<()> {
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => {
                tracing::error!(file = %self.path.display(), "{why}; every change is refused from now on");
                *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
                Err(StoreError::Backend(why))
            }
            Err(_) => Err(StoreError::Backend("the data file's writer stopped".into())),
        }
    }

    /// Makes a change in memory with `change`, queues the rows `rows`
    /// reads back, in order, and returns once they are committed.
    async fn change<T, F>(&self, change: F, rows: impl FnOnce(&MemoryStore, &T) -> Vec<Row>) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        let (value, wait) = {
            let _order = self.order.lock().await;
            self.refused()?;
            let value = change.await?;
            let rows = rows(&self.mem, &value);
            let wait = self.queue(rows)?;
            (value, wait)
        };
        self.committed(wait).await?;
        Ok(value)
    }

    /// Runs an outbox change (`change` on the memory store) and persists
    /// what it returns as rows.
    pub(super) async fn outbox_change<T>(&self, change: impl FnOnce(&MemoryStore) -> (T, Vec<Row>)) -> Result<T> {
        let (value, wait) = {
            let _order = self.order.lock().await;
            self.refused()?;
            let (value, rows) = change(&self.mem);
            let wait = self.queue(rows)?;
            (value, wait)
        };
        self.committed(wait).await?;
        Ok(value)
    }

    fn run_rows(mem: &MemoryStore, run: RunId) -> Vec<Row> {
        match mem.run_rows(run) {
            Some((state, closed)) => vec![Row::Run(state), Row::Closed(run, closed)],
            None => Vec::new(),
        }
    }

    fn state_row(state: &RunState) -> Vec<Row> {
        vec![Row::Run(state.clone())]
    }

    fn ballot_row(mem: &MemoryStore, run: RunId, decision: &str, voter: &Voter) -> Row {
        Row::Ballot {
            run,
            decision: decision.to_string(),
            voter: voter.as_str().to_string(),
            vote: mem.ballot(run, decision, voter),
        }
    }

    pub(super) async fn current(&self, start: &str) -> Result<RunState> {
        if self.mem.last_run() > 0 {
            return self.mem.current(start).await;
        }
        self.change(self.mem.current(start), |_, s| Self::state_row(s)).await
    }

    pub(super) async fn new_run(&self, start: &str) -> Result<RunState> {
        self.change(self.mem.new_run(start), |mem, s| {
            let mut rows = Self::run_rows(mem, s.run.saturating_sub(1));
            rows.extend(Self::run_rows(mem, s.run));
            rows
        })
        .await
    }

    pub(super) async fn show(&self, run: RunId, slide: &str, path: &[String]) -> Result<RunState> {
        self.change(self.mem.show(run, slide, path), |_, s| Self::state_row(s))
            .await
    }

    pub(super) async fn move_to(&self, step: Step<'_>) -> Result<Option<RunState>> {
        self.change(self.mem.move_to(step), |_, s| {
            s.iter().flat_map(Self::state_row).collect()
        })
        .await
    }

    pub(super) async fn open(&self, run: RunId, decision: &str) -> Result<RunState> {
        self.change(self.mem.open(run, decision), |_, s| Self::state_row(s))
            .await
    }

    pub(super) async fn set_published(&self, run: RunId, what: Publication, on: bool) -> Result<RunState> {
        self.change(self.mem.set_published(run, what, on), |_, s| Self::state_row(s))
            .await
    }

    pub(super) async fn import(&self, runs: &[RunRecord]) -> Result<bool> {
        self.change(self.mem.import(runs), |_, taken| match taken {
            true => runs
                .iter()
                .flat_map(|r| [Row::Run(r.state.clone()), Row::Closed(r.state.run, r.closed.clone())])
                .collect(),
            false => Vec::new(),
        })
        .await
    }

    pub(super) async fn set_label(&self, run: RunId, label: &str) -> Result<RunState> {
        self.change(self.mem.set_label(run, label), |_, s| Self::state_row(s))
            .await
    }

    pub(super) async fn countdown(&self, run: RunId, decision: &str, change: Countdown) -> Result<RunState> {
        self.change(self.mem.countdown(run, decision, change), |_, s| Self::state_row(s))
            .await
    }

    pub(super) async fn expire(&self, run: RunId, decision: &str, deadline: u64) -> Result<bool> {
        self.change(self.mem.expire(run, decision, deadline), |mem, closed| match closed {
            true => Self::run_rows(mem, run),
            false => Vec::new(),
        })
        .await
    }

    pub(super) async fn close(&self, run: RunId, decision: &str) -> Result<Tally> {
        self.change(self.mem.close(run, decision), |mem, _| Self::run_rows(mem, run))
            .await
    }

    pub(super) async fn vote(&self, cast: Cast<'_>) -> Result<VoteOutcome> {
        self.change(self.mem.vote(cast), |mem, _| {
            vec![Self::ballot_row(mem, cast.run, cast.decision, cast.voter)]
        })
        .await
    }

    pub(super) async fn sms_vote(&self, text: TextVote<'_>, ttl: Duration) -> Result<Delivery> {
        let until_ms = now_ms().saturating_add(ms(ttl));
        self.change(self.mem.sms_vote(text, ttl), |mem, d| match d {
            Delivery::First(_) => vec![
                Row::Delivery {
                    sid: text.sid.to_string(),
                    until_ms,
                },
                Self::ballot_row(mem, text.run, text.decision, text.voter),
            ],
            Delivery::Again(_) => Vec::new(),
        })
        .await
    }

    pub(super) async fn withdraw(
        &self,
        run: RunId,
        decision: &str,
        voter: &Voter,
        presence_only: bool,
    ) -> Result<Option<String>> {
        self.change(
            self.mem.withdraw(run, decision, voter, presence_only),
            |mem, w| match w {
                Some(_) => vec![Self::ballot_row(mem, run, decision, voter)],
                None => Vec::new(),
            },
        )
        .await
    }

    pub(super) async fn keep_present(&self, voters: &[Voter], lease: Duration) -> Result<()> {
        self.mem.keep_present(voters, lease).await
    }

    /// The memory store's sweep, a step at a time: each step holds the
    /// write order for itself only (votes go on between steps, as on the
    /// memory store) and queues a removal for each voter it withdrew, in
    /// order with the votes around it. Returns once all are committed.
    pub(super) async fn withdraw_absent(&self, run: RunId, decision: &str, me: &str, grace: Duration) -> Result<u64> {
        let mut sweep = Sweep::default();
        let (mut withdrawn, mut waits) = (0, Vec::new());
        loop {
            let done = {
                let _order = self.order.lock().await;
                self.refused()?;
                let step = self.mem.sweep_step(run, decision, me, grace, &mut sweep);
                if !step.withdrawn.is_empty() {
                    withdrawn += step.withdrawn.len() as u64;
                    let rows = step
                        .withdrawn
                        .iter()
                        .map(|voter| Self::ballot_row(&self.mem, run, decision, voter))
                        .collect();
                    waits.push(self.queue(rows)?);
                }
                step.done
            };
            if done {
                break;
            }
            tokio::task::yield_now().await;
        }
        for wait in waits {
            self.committed(wait).await?;
        }
        Ok(withdrawn)
    }

    pub(super) async fn arrive(&self, instance: &str, voter: &Voter, lease: Duration) -> Result<()> {
        self.mem.arrive(instance, voter, lease).await
    }

    pub(super) async fn leave(&self, instance: &str, voter: &Voter, grace: Duration) -> Result<()> {
        self.mem.leave(instance, voter, grace).await
    }

    pub(super) async fn sweep_turn(&self, instance: &str, turn: Duration) -> Result<bool> {
        self.mem.sweep_turn(instance, turn).await
    }

    pub(super) async fn beat(&self, instance: &str, lease: Duration) -> Result<bool> {
        self.mem.beat(instance, lease).await
    }

    pub(super) async fn rejoin(&self, instance: &str, voters: &[Voter], lease: Duration) -> Result<u64> {
        self.change(self.mem.rejoin(instance, voters, lease), |mem, n| {
            let run = mem.last_run();
            match (n, mem.run_rows(run).and_then(|(s, _)| s.open)) {
                (0, _) | (_, None) => Vec::new(),
                (_, Some(decision)) => vec![Row::Ballots {
                    run,
                    all: mem.ballots(run, &decision),
                    decision,
                }],
            }
        })
        .await
    }

    pub(super) async fn tally(&self, run: RunId, decision: &str) -> Result<Tally> {
        self.mem.tally(run, decision).await
    }

    pub(super) async fn tally_if_current(&self, run: RunId, decision: &str) -> Result<Option<Tally>> {
        self.mem.tally_if_current(run, decision).await
    }

    pub(super) async fn choice_of(&self, run: RunId, decision: &str, voter: &Voter) -> Result<Option<String>> {
        self.mem.choice_of(run, decision, voter).await
    }

    /// From the copy in memory, as every read: no query at all.
    pub(super) async fn choices_of(&self, run: RunId, decision: &str, voters: &[Voter]) -> Result<Vec<Option<String>>> {
        self.mem.choices_of(run, decision, voters).await
    }

    pub(super) async fn runs(&self) -> Result<Vec<RunRecord>> {
        self.mem.runs().await
    }

    pub(super) async fn run(&self, run: RunId) -> Result<Option<RunRecord>> {
        self.mem.run(run).await
    }

    /// From the copy in memory, once run 1 is written (as
    /// [`Self::current`]).
    pub(super) async fn now(&self, start: &str, voter: Option<&Voter>, pinned: Option<&str>) -> Result<Now> {
        if self.mem.last_run() == 0 {
            self.current(start).await?;
        }
        self.mem.now(start, voter, pinned).await
    }

    /// The tallies are counted from the voter records when the file is
    /// loaded and move with them under one lock: they cannot drift, and a
    /// repair has nothing to write.
    pub(super) async fn audit(&self, repair: bool) -> Result<Audit> {
        self.mem.audit(repair).await
    }

    pub(super) async fn verify(&self) -> Result<()> {
        self.refused()
    }

    pub(super) async fn ping(&self) -> Result<()> {
        self.refused()
    }
}

/// `cyoa backup`: a consistent copy of the data file at `from` (which a
/// server may be using) into the new file `to`.
pub fn backup(from: &Path, to: &Path) -> std::result::Result<(), String> {
    if !from.is_file() {
        return Err(format!("{}: no such data file", from.display()));
    }
    if to.exists() {
        return Err(format!(
            "{} exists already; give a new file to back up into",
            to.display()
        ));
    }
    check_header(from)?;
    let conn = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| refuse(from, format!("cannot open it: {e}")))?;
    let target = to
        .to_str()
        .ok_or_else(|| format!("{}: the backup's name must be UTF-8", to.display()))?;
    conn.execute("VACUUM INTO ?1", [target])
        .map_err(|e| format!("cannot back up {} into {}: {e}", from.display(), to.display()))?;
    Ok(())
}

/// A read-only look at a data file (no lock, no change), as a memory
/// store: for `cyoa runs export` while a server runs.
pub fn read_only(path: &Path) -> std::result::Result<MemoryStore, String> {
    check_header(path)?;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| refuse(path, format!("cannot open it: {e}")))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| refuse(path, e))?;
    if version != SCHEMA_VERSION {
        return Err(refuse(
            path,
            format!("has schema version {version}; serve it once with this cyoa to migrate it"),
        ));
    }
    load(&conn, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Between two steps of a sweep, the write order is free: a vote that
    /// arrives during a sweep of a crowd waits for one step at most, never
    /// for the whole walk (which at 90,000 presence voters put 20 ms and
    /// more on a vote's p99).
    #[tokio::test(flavor = "current_thread")]
    async fn a_sweep_holds_the_write_order_one_step_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open_file(&dir.path().join("talk.sqlite3"), Duration::from_secs(60)).unwrap();
        let run = store.current("build").await.unwrap().run;
        store.open(run, "build").await.unwrap();
        // Presence votes with no lease: every one of them is absent.
        const CROWD: u64 = 2000;
        for n in 0..CROWD {
            let voter = Voter::web(&format!("voter-{n}"));
            let cast = Cast {
                run,
                decision: "build",
                voter: &voter,
                choice: "pets",
                kind: VoteKind::Presence,
                lease: None,
            };
            store.vote(cast).await.unwrap();
        }
        let sweeper = store.clone();
        let sweep = tokio::spawn(async move { sweeper.withdraw_absent(run, "build", "", Duration::ZERO).await });
        let mut free_mid_walk = 0;
        while !sweep.is_finished() {
            tokio::task::yield_now().await;
            let left = store.mem.tally(run, "build").await.unwrap().total();
            if 0 < left && left < CROWD && store.order.try_lock().is_ok() {
                free_mid_walk += 1;
            }
        }
        assert_eq!(sweep.await.unwrap().unwrap(), CROWD);
        assert!(
            free_mid_walk > 0,
            "the write order was held from the sweep's first step to its last"
        );
        drop(store);
        let again = EmbeddedStore::open_file(&dir.path().join("talk.sqlite3"), Duration::from_secs(60)).unwrap();
        assert_eq!(
            again.tally(run, "build").await.unwrap().total(),
            0,
            "every withdrawal was written"
        );
    }
}
