//! A crowd across three instances: voters vote, change their minds, move
//! from one instance to another (a reload through the load balancer) or
//! leave, all at once. At the end every counter equals what the voters'
//! last actions say, counted once per voter.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::helpers::{Instance, Talk, WAIT, votes_of};
use crate::support::redis::RedisServer;

/// How many voters; small enough for a shared 2-core machine.
const VOTERS: usize = 60;

/// What one voter did last: `Some(choice)` while a page stays open, `None`
/// once the voter left.
async fn voter(instances: Arc<Vec<Instance>>, seed: u64) -> Option<&'static str> {
    let mut rng = StdRng::seed_from_u64(seed);
    let choices = ["pets", "docs"];
    let home = &instances[rng.random_range(0..instances.len())];
    let cookie = home.voter().await;
    let mut socket = home.audience(&cookie).await;
    let mut choice = choices[rng.random_range(0..2)];
    assert_eq!(socket.vote("build", choice).await["type"], "voted");
    for _ in 0..rng.random_range(0..4) {
        match rng.random_range(0..3) {
            // A change of mind.
            0 => choice = choices[rng.random_range(0..2)],
            // A reload that lands on any instance (the old page closes).
            1 => {
                let next = &instances[rng.random_range(0..instances.len())];
                let fresh = next.audience(&cookie).await;
                drop(std::mem::replace(&mut socket, fresh));
            }
            // A second tab elsewhere, closed again.
            _ => {
                let other = &instances[rng.random_range(0..instances.len())];
                drop(other.audience(&cookie).await);
            }
        }
        assert_eq!(socket.vote("build", choice).await["type"], "voted");
    }
    if rng.random_bool(0.25) {
        drop(socket);
        return None;
    }
    // The page stays open until the end of the test.
    tokio::spawn(async move {
        let _open = socket;
        std::future::pending::<()>().await
    });
    Some(choice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_moving_between_instances_is_counted_exactly_once() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let instances = Arc::new(vec![
        talk.instance().await,
        talk.instance().await,
        talk.instance().await,
    ]);
    instances[0].open_build().await;
    let mut presenter = instances[2].presenter_socket().await;

    let crowd: Vec<_> = (0..VOTERS as u64)
        .map(|seed| tokio::spawn(voter(instances.clone(), seed)))
        .collect();
    let mut truth = (0u64, 0u64);
    for v in crowd {
        match v.await.expect("a voter ran") {
            Some("pets") => truth.0 += 1,
            Some(_) => truth.1 += 1,
            None => {}
        }
    }
    println!("{VOTERS} voters; staying: {} pets, {} docs", truth.0, truth.1);
    // Those who left are withdrawn after the grace; the rest stay.
    let tally = presenter
        .wait_for_within("tally", WAIT * 2, |m| {
            (votes_of(m, "pets"), votes_of(m, "docs")) == truth
        })
        .await;
    assert_eq!(tally["total"], truth.0 + truth.1);
    // Still so a few leases later (grace 1 s), on every instance: each
    // beats and sweeps several times meanwhile.
    for instance in instances.iter() {
        instance.wait_for_beats_and_sweeps(4).await;
    }
    for instance in instances.iter() {
        let state = instance.get_json("/api/state").await;
        let counted = (
            votes_of(&state["decision"], "pets"),
            votes_of(&state["decision"], "docs"),
        );
        assert_eq!(counted, truth, "{state}");
    }
}
