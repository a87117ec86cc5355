//! `cyoa backup` copies a data file while its server takes votes; the copy,
//! put in place, serves the same history.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::crash::{CHOICES, Counts, ROOM, burst, get, next_run_open, open_build};
use crate::server::Server;
use crate::support::backends::{data_dir, data_file};
use crate::support::ws::votes_of;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_votes_arrive_restores_the_history() {
    let (dir, file) = data_file();
    let copy = dir.path().join("backup.sqlite3");
    let mut server = Server::start(&file, ROOM);
    let address = server.address.clone();
    open_build(&address).await;
    let before = next_run_open(&address).await;

    let counts = Arc::new(Counts::default());
    let tasks = burst(&address, &counts, 4);
    while counts.total_acknowledged() < 60 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let acknowledged = counts.acknowledged.each_ref().map(|a| a.load(Ordering::SeqCst));
    let out = tokio::task::spawn_blocking({
        let (file, copy) = (file.clone(), copy.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_cyoa"))
                .arg("backup")
                .arg("--data")
                .arg(&file)
                .arg(&copy)
                .output()
                .expect("cyoa backup runs")
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "cyoa backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server goes on taking votes, the backup's read lock gone: more
    // are acknowledged (waited for, not timed: a fast backup may end before
    // the next acknowledgement).
    let before_backup = acknowledged.iter().sum::<u64>();
    tokio::time::timeout(Duration::from_secs(60), async {
        while counts.total_acknowledged() <= before_backup {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("votes go on being acknowledged once the backup is taken");
    // The server goes on; a second backup into the same file is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .arg("backup")
        .arg("--data")
        .arg(&file)
        .arg(&copy)
        .output()
        .expect("cyoa backup runs");
    assert!(!again.status.success(), "a backup never overwrites a file");
    server.kill9();
    for task in tasks {
        task.await.expect("a vote loop");
    }
    let sent = counts.sent.each_ref().map(|a| a.load(Ordering::SeqCst));

    // Restore: the copy in place of the data file (here: a new folder).
    let elsewhere = data_dir();
    let restored = elsewhere.path().join("talk.sqlite3");
    std::fs::copy(&copy, &restored).expect("the copy is put in place");
    let server = Server::start(&restored, ROOM);
    let runs = get(&server.address, "/api/runs").await;
    assert_eq!(runs["runs"][0], before["runs"][0], "{runs}");
    assert_eq!(runs["runs"][1]["open"], "build", "{runs}");
    assert_eq!(runs["runs"][1]["path"], before["runs"][1]["path"], "{runs}");
    let state = get(&server.address, "/api/state").await;
    for (i, choice) in CHOICES.iter().enumerate() {
        let counted = votes_of(&state["decision"], choice);
        assert!(
            counted >= acknowledged[i] && counted <= sent[i],
            "{choice}: {counted} in the backup, {} acknowledged before it began, {} sent: {state}",
            acknowledged[i],
            sent[i]
        );
    }
}
