//! SIGTERM: every socket gets a close frame and the process exits within
//! 10 s, even with sockets whose clients never answer.

use std::time::{Duration, Instant};

use crate::helpers::Talk;
use crate::support::redis::RedisServer;

#[tokio::test]
async fn sigterm_closes_every_socket_and_exits_within_ten_seconds() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let mut instance = talk.instance().await;
    instance.open_build().await;
    let mut sockets = Vec::new();
    for _ in 0..20 {
        let voter = instance.voter().await;
        let mut s = instance.audience(&voter).await;
        s.wait_for("state", |_| true).await;
        sockets.push(s);
    }
    let mut presenter = instance.presenter_socket().await;
    presenter.wait_for("state", |_| true).await;
    assert_eq!(sockets[0].vote("build", "pets").await["type"], "voted");

    let signalled = Instant::now();
    instance.sigterm();
    assert!(
        presenter.closed_within(Duration::from_secs(10)).await,
        "the presenter socket closed"
    );
    for s in &mut sockets {
        assert!(
            s.closed_within(Duration::from_secs(10)).await,
            "every audience socket closed"
        );
    }
    let status = instance
        .exited_within(Duration::from_secs(10))
        .await
        .expect("cyoa exits within 10 s of SIGTERM");
    println!(
        "cyoa exited {:?} after SIGTERM with 21 open sockets",
        signalled.elapsed()
    );
    assert!(status.success(), "a clean exit: {status}");
    // The vote is not withdrawn at once: another instance may hold the voter.
    let mut con = redis.connection();
    let key = format!("{}run:1:tally:build", talk.prefix);
    let pets: Option<u64> = redis::cmd("HGET").arg(&key).arg("pets").query(&mut con).expect("HGET");
    assert_eq!(pets, Some(1));
}

#[tokio::test]
async fn sigterm_exits_even_when_a_client_never_reads() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let mut instance = talk.instance().await;
    // Sockets whose clients never read again: their close frame may sit in
    // the buffers; the process must not wait for them forever.
    let mut idle = Vec::new();
    for _ in 0..5 {
        let voter = instance.voter().await;
        idle.push(instance.audience(&voter).await);
    }
    let signalled = Instant::now();
    instance.sigterm();
    let status = instance
        .exited_within(Duration::from_secs(10))
        .await
        .expect("cyoa exits within 10 s of SIGTERM");
    println!("cyoa exited {:?} after SIGTERM with idle clients", signalled.elapsed());
    assert!(status.success(), "a clean exit: {status}");
    drop(idle);
}
