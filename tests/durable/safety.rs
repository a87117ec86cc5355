//! The data file is never shared by two servers, never silently replaced,
//! and never changed when it cannot be read or is of a newer schema.

use std::path::Path;
use std::time::Duration;

use cyoa::store::{Chosen, ChosenBy, EmbeddedStore, SCHEMA_VERSION, VoteKind, Voter};

use crate::server::Server;
use crate::support::backends::{data_file, embedded_store_at};

/// The store's migration steps, in order: a file of schema N is what the
/// cyoa of that version wrote, the first N steps and nothing after them.
const STEPS: [&str; 4] = [
    include_str!("../../src/store/schema/1.sql"),
    include_str!("../../src/store/schema/2.sql"),
    include_str!("../../src/store/schema/3.sql"),
    include_str!("../../src/store/schema/4.sql"),
];

/// A new data file at `path` of schema `version`, holding `rows` (SQL).
fn write_schema(path: &Path, version: usize, rows: &str) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("a new SQLite file");
    for step in &STEPS[..version] {
        conn.execute_batch(step).expect("a schema step");
    }
    conn.execute_batch(&format!("PRAGMA user_version = {version};"))
        .expect("the version");
    conn.execute_batch(rows).expect("rows");
    conn
}

/// Run 1 on `build`, labelled, in schema 2 (run labels, the SMS outbox).
const RUN_1_OF_SCHEMA_2: &str =
    "INSERT INTO runs VALUES (1, 'build', '[\"intro\",\"build\"]', NULL, 0, 0, 1700000000000, 'rehearsal');";

/// Run 1 with `build` open, in schema 3 (who chose).
const RUN_1_OF_SCHEMA_3: &str =
    "INSERT INTO runs VALUES (1, 'build', '[\"intro\",\"build\"]', 'build', 0, 0, 1700000000000, NULL, NULL);";

/// The store on a new data file at `path` of schema `version`, which holds
/// run 1 as `row` (an INSERT in that schema's columns): migrated on open.
fn store_of_schema(path: &Path, version: usize, row: &str) -> cyoa::store::VoteStore {
    write_schema(path, version, row);
    embedded_store_at(path, Duration::from_secs(30))
}

/// Checks that the data file at `path` is of the newest schema: migrated.
fn assert_newest_schema(path: &Path) {
    let version: i64 = rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

/// A version-1 data file at `path`: run 1 with `build` closed (2 pets,
/// 1 docs), run 2 on `host` with its vote open and `voters` sticky votes.
fn write_schema_1(path: &Path, voters: usize) {
    let conn = write_schema(
        path,
        1,
        "INSERT INTO runs VALUES (1, 'end-vps', '[\"intro\",\"build\",\"host\",\"end-vps\"]', NULL, 1, 0, 1700000000000);
         INSERT INTO closed VALUES (1, 0, 'build', '{\"pets\":2,\"docs\":1}');
         INSERT INTO ballots VALUES (1, 'build', 'w:a', 'pets', 1), (1, 'build', 'w:b', 'pets', 0),
           (1, 'build', 'w:c', 'docs', 1);
         INSERT INTO runs VALUES (2, 'host', '[\"intro\",\"host\"]', 'host', 0, 0, 1700000100000);",
    );
    let mut insert = conn
        .prepare("INSERT INTO ballots VALUES (2, 'host', ?1, 'vps', 1)")
        .expect("an insert");
    for n in 0..voters {
        insert
            .execute([format!("w:voter-{n}-{}", "x".repeat(40))])
            .expect("a ballot");
    }
}

#[test]
fn a_second_server_on_the_same_file_is_refused() {
    let (_dir, file) = data_file();
    let first = Server::start(&file, &[]);
    let refused = match Server::try_start(&file, &[]) {
        Ok(second) => panic!("a second server started on the same file at {}", second.address),
        Err(refused) => refused,
    };
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        refused.stderr.contains("another cyoa server is using this data file"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(&file.display().to_string()),
        "{}",
        refused.stderr
    );
    // The first one serves on.
    drop(first);
    // Once it is gone, the file is free again.
    let _again = Server::start(&file, &[]);
}

#[tokio::test]
async fn a_second_store_in_one_process_is_refused_too() {
    let (_dir, file) = data_file();
    let first = embedded_store_at(&file, Duration::from_secs(30));
    let Err(why) = EmbeddedStore::open_file(&file, Duration::from_secs(30)) else {
        panic!("two stores opened one file");
    };
    assert!(why.contains("another cyoa server is using this data file"), "{why}");
    drop(first);
    assert!(EmbeddedStore::open_file(&file, Duration::from_secs(30)).is_ok());
}

/// Serving `file` is refused with a message containing `says`; the file
/// is byte for byte what it was.
fn refused_and_unchanged(file: &Path, says: &str) {
    let before = std::fs::read(file).expect("the file");
    let refused = match Server::try_start(file, &[]) {
        Ok(server) => panic!("cyoa served a bad data file at {}", server.address),
        Err(refused) => refused,
    };
    assert!(!refused.status.success(), "{refused:?}");
    assert!(refused.stderr.contains(says), "{says:?} not in: {}", refused.stderr);
    assert!(
        refused.stderr.contains(&file.display().to_string()),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("left unchanged"), "{}", refused.stderr);
    let after = std::fs::read(file).expect("the file");
    assert!(before == after, "the refused file was changed");
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_unchanged() {
    let (_dir, file) = data_file();
    let garbage: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &garbage).unwrap();
    refused_and_unchanged(&file, "not a cyoa data file");
    // Text that was never a data file, shorter than a page.
    std::fs::write(&file, "notes for my talk\n").unwrap();
    refused_and_unchanged(&file, "not a cyoa data file");
}

#[test]
fn a_truncated_file_is_refused_and_left_unchanged() {
    let (_dir, file) = data_file();
    write_schema_1(&file, 3000);
    let len = std::fs::metadata(&file).unwrap().len();
    assert!(len > 64 * 1024, "enough pages to cut: {len} bytes");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..(len / 2) as usize]).unwrap();
    refused_and_unchanged(&file, "is damaged");
    // Cut inside the first page.
    std::fs::write(&file, &bytes[..300]).unwrap();
    refused_and_unchanged(&file, "not a cyoa data file");
}

#[test]
fn a_file_of_a_newer_schema_is_refused_and_left_unchanged() {
    let (_dir, file) = data_file();
    write_schema_1(&file, 3);
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch("PRAGMA user_version = 999;")
        .unwrap();
    refused_and_unchanged(&file, "newer cyoa (schema version 999");
}

#[test]
fn an_sqlite_file_of_something_else_is_refused_and_left_unchanged() {
    let (_dir, file) = data_file();
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO photos VALUES (1, 'cat');")
        .unwrap();
    refused_and_unchanged(&file, "not a cyoa data file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_schema_1_is_migrated_and_keeps_its_runs() {
    let (_dir, file) = data_file();
    write_schema_1(&file, 4);
    let store = embedded_store_at(&file, Duration::from_secs(30));
    let runs = store.runs().await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].state.path, ["intro", "build", "host", "end-vps"]);
    assert!(runs[0].state.published.results);
    assert_eq!(runs[0].closed[0].decision, "build");
    assert_eq!(runs[0].closed[0].tally.get("pets"), 2);
    assert_eq!(store.tally(1, "build").await.unwrap().get("docs"), 1);
    assert_eq!(runs[1].state.open.as_deref(), Some("host"));
    assert_eq!(store.tally(2, "host").await.unwrap().get("vps"), 4);
    // It takes votes, and keeps them, in the new schema.
    store
        .vote(2, "host", &Voter::web("new"), "paas", VoteKind::Sticky)
        .await
        .unwrap();
    drop(store);
    assert_newest_schema(&file);
    let again = embedded_store_at(&file, Duration::from_secs(30));
    assert_eq!(again.tally(2, "host").await.unwrap().get("paas"), 1);
    assert_eq!(again.runs().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_schema_2_is_migrated_and_keeps_who_chose_from_then_on() {
    let (_dir, file) = data_file();
    let store = store_of_schema(&file, 2, RUN_1_OF_SCHEMA_2);
    let runs = store.runs().await.unwrap();
    assert_eq!(runs[0].state.label.as_deref(), Some("rehearsal"));
    assert!(runs[0].state.chosen.is_empty(), "an old run has no record of who chose");
    let chosen = [Chosen {
        decision: "build".into(),
        choice: "pets".into(),
        by: ChosenBy::Presenter,
    }];
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    store
        .move_to(
            1,
            &path(&["intro", "build"]),
            "host",
            &path(&["intro", "build", "host"]),
            Some(&chosen),
        )
        .await
        .unwrap()
        .expect("moved");
    drop(store);
    let again = embedded_store_at(&file, Duration::from_secs(30));
    assert_eq!(again.runs().await.unwrap()[0].state.chosen, chosen);
    assert_newest_schema(&file);
}

/// Run 1 with `build` open and one vote, a results text's number and an
/// outbox message, in schema 4 (a countdown's end).
const RUN_1_OF_SCHEMA_4: &str =
    "INSERT INTO runs VALUES (1, 'build', '[\"intro\",\"build\"]', 'build', 0, 0, 1700000000000, NULL, NULL, NULL);
     INSERT INTO ballots VALUES (1, 'build', 'w:a', 'pets', 1);
     INSERT INTO recipients VALUES (1, 'build', 'phone-a', x'0102');
     INSERT INTO outbox VALUES ('m-1', 0, x'0304');";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_schema_4_is_migrated_and_keeps_its_outbox_and_votes() {
    let (_dir, file) = data_file();
    let store = store_of_schema(&file, 4, RUN_1_OF_SCHEMA_4);
    // The number and the message of an older file get a day from the
    // migration: they are there.
    assert_eq!(store.outbox_len().await.unwrap(), 1);
    store
        .vote(1, "build", &Voter::web("b"), "docs", VoteKind::Sticky)
        .await
        .unwrap();
    assert_eq!(store.tally(1, "build").await.unwrap().total(), 2);
    drop(store);
    assert_newest_schema(&file);
    let again = embedded_store_at(&file, Duration::from_secs(30));
    let tally = again.tally(1, "build").await.unwrap();
    assert_eq!((tally.get("pets"), tally.get("docs")), (1, 1), "{tally:?}");
    assert_eq!(again.outbox_len().await.unwrap(), 1);
    assert_eq!(again.recipients_take(1, "build").await.unwrap(), vec![vec![1u8, 2]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_schema_3_is_migrated_and_keeps_a_countdown_from_then_on() {
    let (_dir, file) = data_file();
    let store = store_of_schema(&file, 3, RUN_1_OF_SCHEMA_3);
    let state = store.current("intro").await.unwrap();
    assert_eq!((state.open.as_deref(), state.deadline), (Some("build"), None));
    let started = store
        .countdown(1, "build", cyoa::store::Countdown::Start(Duration::from_secs(60)))
        .await
        .unwrap();
    let deadline = started.deadline.expect("a countdown runs");
    drop(store);
    // The countdown outlives a restart, and closes the vote after it.
    let again = embedded_store_at(&file, Duration::from_secs(30));
    assert_eq!(again.current("intro").await.unwrap().deadline, Some(deadline));
    assert!(again.expire(1, "build", deadline).await.unwrap());
    drop(again);
    let closed = embedded_store_at(&file, Duration::from_secs(30));
    let state = closed.current("intro").await.unwrap();
    assert_eq!((state.open, state.deadline), (None, None));
    assert_newest_schema(&file);
}
