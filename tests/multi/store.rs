//! The store calls the instances rely on to stay consistent, on both
//! backends: the compare-and-set move and the audit.

use cyoa::store::{MemoryStore, RedisStore, VoteKind, VoteStore, Voter};

use crate::support::redis::{fresh_prefix, shared};

async fn both_stores() -> [(&'static str, VoteStore); 2] {
    let redis = RedisStore::connect(&shared().url(), &fresh_prefix())
        .await
        .expect("the test redis-server answers");
    [
        ("memory", VoteStore::Memory(MemoryStore::new())),
        ("redis", VoteStore::Redis(redis)),
    ]
}

fn path(slides: &[&str]) -> Vec<String> {
    slides.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_move_from_a_path_that_changed_meanwhile_moves_nothing() {
    for (name, store) in both_stores().await {
        let run = store.current("intro").await.expect("a run").run;
        let read = path(&["intro"]);
        let moved = store.move_to(run, &read, "build", &path(&["intro", "build"])).await;
        assert_eq!(moved.expect("answers").map(|s| s.slide), Some("build".into()), "{name}");
        // A second screen read the intro too and presses next: refused.
        let stale = store.move_to(run, &read, "build", &path(&["intro", "build"])).await;
        assert_eq!(stale.expect("answers"), None, "{name}");
        let state = store.current("intro").await.expect("the state");
        assert_eq!(state.path, path(&["intro", "build"]), "{name}");
    }
}

#[tokio::test]
async fn the_audit_of_a_clean_store_finds_no_drift_on_either_backend() {
    for (name, store) in both_stores().await {
        let run = store.current("intro").await.expect("a run").run;
        store.open(run, "build").await.expect("opens");
        for (i, choice) in ["pets", "pets", "docs"].into_iter().enumerate() {
            let voter = Voter::web(&format!("voter-{i}"));
            store
                .vote(run, "build", &voter, choice, VoteKind::Presence)
                .await
                .expect("votes");
        }
        store
            .withdraw(run, "build", &Voter::web("voter-0"), true)
            .await
            .expect("withdraws");
        store.close(run, "build").await.expect("closes");
        let audit = store.audit(false).await.expect("audits");
        assert_eq!((audit.decisions, audit.drift.len()), (1, 0), "{name}: {audit:?}");
    }
}
