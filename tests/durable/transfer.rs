//! `cyoa runs export` from a data file (its server running) and `cyoa runs
//! import` into Redis give the same history; a store with runs takes none.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use cyoa::store::{Chosen, ChosenBy, Publication, VoteKind, Voter};

use crate::support::backends::{data_dir, data_file, embedded_store_at, redis_store_at};
use crate::support::redis::{fresh_prefix, shared};

fn cyoa(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .args(args)
        .args(paths)
        .env_remove("REDIS_URL")
        .env_remove("CYOA_DATA")
        .env_remove("CYOA_STORY")
        .env_remove("CYOA_REDIS_PREFIX")
        .output()
        .expect("cyoa runs")
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_exported_from_a_data_file_and_imported_into_redis_is_the_same() {
    let (dir, file) = data_file();
    // The rehearsal: two runs, labelled, one published, one still open.
    let store = embedded_store_at(&file, Duration::from_secs(30));
    let s = store.current("intro").await.unwrap();
    store
        .show(s.run, "build", &["intro".into(), "build".into()])
        .await
        .unwrap();
    store.open(s.run, "build").await.unwrap();
    for (n, choice) in ["pets", "pets", "docs"].iter().enumerate() {
        let voter = Voter::web(&format!("v{n}"));
        store
            .vote(s.run, "build", &voter, choice, VoteKind::Sticky)
            .await
            .unwrap();
    }
    store
        .vote(s.run, "build", &Voter::web("v0"), "docs", VoteKind::Sticky)
        .await
        .unwrap();
    store.close(s.run, "build").await.unwrap();
    // The presenter chose the way on, over the vote.
    let chosen = [Chosen {
        decision: "build".into(),
        choice: "docs".into(),
        by: ChosenBy::Presenter,
    }];
    let to_host = ["intro".to_string(), "build".into(), "host".into()];
    store
        .move_to(s.run, &to_host[..2], "host", &to_host, Some(&chosen))
        .await
        .unwrap()
        .expect("moved");
    store.set_published(s.run, Publication::Results, true).await.unwrap();
    store.set_label(s.run, "rehearsal \"one\", ünïcode").await.unwrap();
    let s = store.new_run("intro").await.unwrap();
    store
        .show(s.run, "host", &["intro".into(), "host".into()])
        .await
        .unwrap();
    store.open(s.run, "host").await.unwrap();
    store.set_label(s.run, "PyCon 2027").await.unwrap();
    let history = store.runs().await.unwrap();

    // Exported while the store (its server) holds the file.
    let json = dir.path().join("runs.json");
    let out = cyoa(&["runs", "export", "--data"], &[&file, &json]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("2 run(s) exported"), "{}", said(&out));
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(
        text.contains("\"chosen\"") && text.contains("\"presenter\""),
        "the export says who chose: {text}"
    );
    let again = cyoa(&["runs", "export", "--data"], &[&file, &json]);
    assert!(!again.status.success(), "an export never overwrites a file");

    let prefix = fresh_prefix();
    let url = shared().url();
    let out = cyoa(
        &["runs", "import", "--redis-url", &url, "--redis-prefix", &prefix],
        &[&json],
    );
    assert!(out.status.success(), "{}", said(&out));
    let redis = redis_store_at(shared(), &prefix).await;
    assert_eq!(redis.runs().await.unwrap(), history, "the same history in Redis");
    assert_eq!(
        redis.current("intro").await.unwrap().run,
        2,
        "the last run is the current one"
    );

    // A store with runs takes no history.
    let out = cyoa(
        &["runs", "import", "--redis-url", &url, "--redis-prefix", &prefix],
        &[&json],
    );
    assert!(!out.status.success());
    assert!(said(&out).contains("holds runs already"), "{}", said(&out));
    assert_eq!(redis.runs().await.unwrap(), history, "unchanged");

    // And back from Redis into a new data file, once no server holds it.
    let back = dir.path().join("runs-back.json");
    let out = cyoa(
        &["runs", "export", "--redis-url", &url, "--redis-prefix", &prefix],
        &[&back],
    );
    assert!(out.status.success(), "{}", said(&out));
    let laptop = dir.path().join("laptop.sqlite3");
    let out = cyoa(&["runs", "import", "--data"], &[&laptop, &back]);
    assert!(out.status.success(), "{}", said(&out));
    let imported = embedded_store_at(&laptop, Duration::from_secs(30));
    assert_eq!(imported.runs().await.unwrap(), history);
    drop(store);
}

#[test]
fn a_file_that_is_not_a_history_is_refused_with_its_place() {
    let dir = data_dir();
    let json = dir.path().join("runs.json");
    std::fs::write(&json, "{\"cyoa_runs\": 1,\n \"runs\": [ {\"state\": 3} ]}").unwrap();
    let file = dir.path().join("talk.sqlite3");
    let out = cyoa(&["runs", "import", "--data"], &[&file, &json]);
    assert!(!out.status.success());
    let text = said(&out);
    assert!(text.contains(&format!("{}:2:", json.display())), "{text}");
    assert!(text.contains("not a run history"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_exported_before_cyoa_recorded_who_chose_still_imports() {
    let dir = data_dir();
    let json = dir.path().join("old.json");
    std::fs::write(
        &json,
        r#"{"cyoa_runs": 1, "runs": [{"state": {"run": 1, "slide": "host", "path": ["intro", "build", "host"],
            "open": null, "published": {"results": true, "explore": false}, "started": 1700000000000,
            "label": "old"}, "closed": [{"decision": "build", "tally": {"pets": 2}}]}]}"#,
    )
    .unwrap();
    let file = dir.path().join("talk.sqlite3");
    let out = cyoa(&["runs", "import", "--data"], &[&file, &json]);
    assert!(out.status.success(), "{}", said(&out));
    let store = embedded_store_at(&file, Duration::from_secs(30));
    let runs = store.runs().await.unwrap();
    assert_eq!(runs[0].state.label.as_deref(), Some("old"));
    assert!(runs[0].state.chosen.is_empty());
    assert_eq!(runs[0].closed[0].tally.get("pets"), 2);
}
