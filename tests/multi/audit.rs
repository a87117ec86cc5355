//! `cyoa audit`: recounts the counters from the voter records, reports
//! drift with exit status 1, and `--repair` fixes it.

use std::process::{Command, Output};

use crate::helpers::Talk;
use crate::support::redis::RedisServer;

fn audit(talk: &Talk, repair: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cyoa"));
    cmd.args(["audit", "--redis-url", &talk.redis_url, "--redis-prefix", &talk.prefix]);
    if repair {
        cmd.arg("--repair");
    }
    cmd.output().expect("cyoa audit runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn audit_reports_a_corrupted_counter_and_repair_fixes_it() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let instance = talk.instance().await;
    instance.open_build().await;
    for choice in ["pets", "pets", "docs"] {
        let voter = instance.voter().await;
        assert_eq!(
            instance.post_vote(&voter, "build", choice).await,
            reqwest::StatusCode::SEE_OTHER
        );
    }
    let clean = audit(&talk, false);
    assert_eq!(stdout(&clean), "no drift: 1 decision(s) checked\n");
    assert_eq!(clean.status.code(), Some(0));

    // A counter bumped by hand, another one gone.
    let mut con = redis.connection();
    let key = format!("{}run:1:tally:build", talk.prefix);
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg("pets")
        .arg(7)
        .query(&mut con)
        .expect("HSET");
    let () = redis::cmd("HDEL")
        .arg(&key)
        .arg("docs")
        .query::<i64>(&mut con)
        .map(|_| ())
        .expect("HDEL");

    let found = audit(&talk, false);
    assert_eq!(
        stdout(&found),
        "run 1, decision \"build\", choice \"docs\": the tally says nothing, the voter records say 1\n\
         run 1, decision \"build\", choice \"pets\": the tally says 7, the voter records say 2\n\
         drift in 2 counter(s), 1 decision(s) checked; `cyoa audit --repair` rewrites them\n"
    );
    assert_eq!(found.status.code(), Some(1));

    let repaired = audit(&talk, true);
    assert!(
        stdout(&repaired).ends_with("repaired 2 counter(s), 1 decision(s) checked\n"),
        "{}",
        stdout(&repaired)
    );
    assert_eq!(repaired.status.code(), Some(0));
    let again = audit(&talk, false);
    assert_eq!(stdout(&again), "no drift: 1 decision(s) checked\n");
    let state = instance.get_json("/api/state").await;
    assert_eq!(state["decision"]["total"], 3, "{state}");
}

#[tokio::test]
async fn audit_reports_a_wrong_presence_set_and_repair_rebuilds_it() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let instance = talk.instance().await;
    instance.open_build().await;
    let voter = instance.voter().await;
    assert_eq!(
        instance.post_vote(&voter, "build", "pets").await,
        reqwest::StatusCode::SEE_OTHER
    );
    assert_eq!(stdout(&audit(&talk, false)), "no drift: 1 decision(s) checked\n");

    // A voter in the presence set without a presence vote.
    let key = format!("{}run:1:present:build", talk.prefix);
    let _: i64 = redis::cmd("SADD")
        .arg(&key)
        .arg("w:nobody")
        .query(&mut redis.connection())
        .expect("SADD");
    let found = audit(&talk, false);
    let report = stdout(&found);
    assert!(
        report.starts_with("run 1, decision \"build\": the presence set holds "),
        "{report}"
    );
    assert!(
        report.ends_with("drift in 1 counter(s), 1 decision(s) checked; `cyoa audit --repair` rewrites them\n"),
        "{report}"
    );
    assert_eq!(found.status.code(), Some(1));

    let repaired = audit(&talk, true);
    assert!(
        stdout(&repaired).ends_with("(repaired)\nrepaired 1 counter(s), 1 decision(s) checked\n"),
        "{}",
        stdout(&repaired)
    );
    assert_eq!(stdout(&audit(&talk, false)), "no drift: 1 decision(s) checked\n");
    let state = instance.get_json("/api/state").await;
    assert_eq!(state["decision"]["total"], 1, "{state}");
}
