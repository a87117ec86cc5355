//! The outbound SMS queue of the vote store (results texts), against the
//! memory store and a real redis-server: kept numbers per decision, taken
//! once; queued messages claimed by one caller at a time, back after their
//! lease, due only after their wait; removal, length and clearing; both
//! forgotten after their ttl.

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cyoa::store::VoteStore;

both_backends!(
    kept_numbers_are_one_per_phone_and_taken_once,
    a_claimed_message_is_not_claimed_again_until_its_lease_runs_out,
    a_message_is_due_only_after_its_wait,
    removing_and_clearing_empty_the_queue,
    concurrent_claims_share_the_messages_without_overlap,
    numbers_and_messages_are_forgotten_after_their_ttl,
);

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const LONG: Duration = Duration::from_secs(60);

/// Claims until something comes back, failing after 10 s.
async fn claim_eventually(store: &VoteStore, lease: Duration) -> Vec<cyoa::store::Outgoing> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = store.outbox_claim(10, lease).await.unwrap();
        if !got.is_empty() {
            return got;
        }
        assert!(Instant::now() < deadline, "nothing came back to claim");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn kept_numbers_are_one_per_phone_and_taken_once(store: VoteStore) {
    let kept: [(u64, &str, &str, &[u8]); 5] = [
        (1, "build", "phone-a", b"sealed a"),
        (1, "build", "phone-b", b"sealed b"),
        // A phone texting again replaces its entry.
        (1, "build", "phone-a", b"sealed a2"),
        (1, "host", "phone-c", b"sealed c"),
        (2, "build", "phone-d", b"sealed d"),
    ];
    for (run, decision, phone, sealed) in kept {
        store.recipient_keep(run, decision, phone, sealed, DAY).await.unwrap();
    }

    let taken: BTreeSet<Vec<u8>> = store.recipients_take(1, "build").await.unwrap().into_iter().collect();
    assert_eq!(taken, BTreeSet::from([b"sealed a2".to_vec(), b"sealed b".to_vec()]));
    assert!(
        store.recipients_take(1, "build").await.unwrap().is_empty(),
        "taken once"
    );
    assert_eq!(
        store.recipients_take(1, "host").await.unwrap(),
        vec![b"sealed c".to_vec()]
    );
    assert_eq!(
        store.recipients_take(2, "build").await.unwrap(),
        vec![b"sealed d".to_vec()]
    );
}

async fn a_claimed_message_is_not_claimed_again_until_its_lease_runs_out(store: VoteStore) {
    // Bytes of any value, as sealed messages are.
    let sealed: Vec<u8> = (0..=255).collect();
    store.outbox_put("m1", &sealed, Duration::ZERO, DAY).await.unwrap();
    assert_eq!(store.outbox_len().await.unwrap(), 1);
    let lease = Duration::from_millis(300);
    let claimed_at = Instant::now();
    let got = store.outbox_claim(10, lease).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].id.as_str(), &got[0].sealed), ("m1", &sealed));
    assert!(store.outbox_claim(10, lease).await.unwrap().is_empty(), "leased");
    let again = claim_eventually(&store, lease).await;
    assert!(claimed_at.elapsed() >= lease - Duration::from_millis(50));
    assert_eq!(again[0].id, "m1", "its sender never finished: it comes back");
}

async fn a_message_is_due_only_after_its_wait(store: VoteStore) {
    let wait = Duration::from_millis(300);
    let queued_at = Instant::now();
    store.outbox_put("later", b"x", wait, DAY).await.unwrap();
    store.outbox_put("now", b"y", Duration::ZERO, DAY).await.unwrap();
    let first = store.outbox_claim(10, LONG).await.unwrap();
    assert_eq!(first.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["now"]);
    let later = claim_eventually(&store, LONG).await;
    assert!(queued_at.elapsed() >= wait - Duration::from_millis(50));
    assert_eq!(later[0].id, "later");
    // Re-queued with a new wait (a retry), it is due again only then.
    store.outbox_put("later", b"x2", wait, DAY).await.unwrap();
    assert!(store.outbox_claim(10, LONG).await.unwrap().is_empty());
    assert_eq!(claim_eventually(&store, LONG).await[0].sealed, b"x2");
}

async fn removing_and_clearing_empty_the_queue(store: VoteStore) {
    for id in ["a", "b", "c"] {
        store.outbox_put(id, id.as_bytes(), Duration::ZERO, DAY).await.unwrap();
    }
    store.outbox_remove("b").await.unwrap();
    store.outbox_remove("never-queued").await.unwrap();
    assert_eq!(store.outbox_len().await.unwrap(), 2);
    let ids: BTreeSet<String> = store
        .outbox_claim(10, LONG)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(ids, BTreeSet::from(["a".to_string(), "c".to_string()]));

    store.recipient_keep(3, "build", "phone", b"n", DAY).await.unwrap();
    store.recipient_keep(4, "build", "phone", b"n4", DAY).await.unwrap();
    store.outbox_clear(3, &["build", "host"]).await.unwrap();
    assert_eq!(store.outbox_len().await.unwrap(), 0);
    assert!(
        store.recipients_take(3, "build").await.unwrap().is_empty(),
        "the run's numbers are gone"
    );
    assert_eq!(
        store.recipients_take(4, "build").await.unwrap().len(),
        1,
        "another run's stay"
    );
}

async fn concurrent_claims_share_the_messages_without_overlap(store: VoteStore) {
    for i in 0..40 {
        store
            .outbox_put(&format!("m{i}"), b"s", Duration::ZERO, DAY)
            .await
            .unwrap();
    }
    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store.outbox_claim(3, LONG).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|o| o.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (40, 40), "each message to one claimer");
}

async fn numbers_and_messages_are_forgotten_after_their_ttl(store: VoteStore) {
    let short = Duration::from_millis(300);
    // The number is kept before the message is queued, both for `short`:
    // once the message is gone, the number's time has run out too.
    store
        .recipient_keep(1, "build", "phone-a", b"sealed a", short)
        .await
        .unwrap();
    store.outbox_put("m-short", b"short", LONG, short).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.outbox_len().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "a message was kept past its ttl");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        store.outbox_claim(10, LONG).await.unwrap().is_empty(),
        "nothing past its ttl is claimed"
    );
    assert!(
        store.recipients_take(1, "build").await.unwrap().is_empty(),
        "a number was kept past its ttl"
    );
    // What is within its ttl stays.
    store
        .recipient_keep(1, "build", "phone-b", b"sealed b", DAY)
        .await
        .unwrap();
    store.outbox_put("m-day", b"day", Duration::ZERO, DAY).await.unwrap();
    assert_eq!(store.outbox_len().await.unwrap(), 1);
    assert_eq!(claim_eventually(&store, LONG).await.len(), 1);
    assert_eq!(
        store.recipients_take(1, "build").await.unwrap(),
        vec![b"sealed b".to_vec()]
    );
}
