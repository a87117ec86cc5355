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

/// One instance on a new Redis, its `build` vote open and a new voter's
/// form vote for each of `choices`; audited clean.
async fn voted_on_redis(choices: &[&str]) -> (RedisServer, Talk, crate::helpers::Instance) {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let instance = talk.instance().await;
    instance.open_build().await;
    for choice in choices {
        let voter = instance.voter().await;
        assert_eq!(
            instance.post_vote(&voter, "build", choice).await,
            reqwest::StatusCode::SEE_OTHER
        );
    }
    let clean = audit(&talk, false);
    assert_eq!(stdout(&clean), "no drift: 1 decision(s) checked\n");
    assert_eq!(clean.status.code(), Some(0));
    (redis, talk, instance)
}

#[tokio::test]
async fn audit_reports_a_corrupted_counter_and_repair_fixes_it() {
    let (redis, talk, instance) = voted_on_redis(&["pets", "pets", "docs"]).await;

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

    audit_finds_then_repairs(
        &talk,
        |report| {
            assert_eq!(
                report,
                "run 1, decision \"build\", choice \"docs\": the tally says nothing, the voter records say 1\n\
                 run 1, decision \"build\", choice \"pets\": the tally says 7, the voter records say 2\n\
                 drift in 2 counter(s), 1 decision(s) checked; `cyoa audit --repair` rewrites them\n"
            )
        },
        "repaired 2 counter(s), 1 decision(s) checked\n",
    );
    let state = instance.get_json("/api/state").await;
    assert_eq!(state["decision"]["total"], 3, "{state}");
}

#[tokio::test]
async fn audit_reports_a_wrong_presence_set_and_repair_rebuilds_it() {
    let (redis, talk, instance) = voted_on_redis(&["pets"]).await;

    // A voter in the presence set without a presence vote.
    let key = format!("{}run:1:present:build", talk.prefix);
    let _: i64 = redis::cmd("SADD")
        .arg(&key)
        .arg("w:nobody")
        .query(&mut redis.connection())
        .expect("SADD");
    audit_finds_then_repairs(
        &talk,
        |report| {
            assert!(
                report.starts_with("run 1, decision \"build\": the presence set holds "),
                "{report}"
            );
            assert!(
                report.ends_with("drift in 1 counter(s), 1 decision(s) checked; `cyoa audit --repair` rewrites them\n"),
                "{report}"
            );
        },
        "(repaired)\nrepaired 1 counter(s), 1 decision(s) checked\n",
    );
    let state = instance.get_json("/api/state").await;
    assert_eq!(state["decision"]["total"], 1, "{state}");
}

/// `cyoa audit` finds drift (`found` checks its report; exit 1), `--repair`
/// mends it (its report ends with `repaired`; exit 0), and a second audit
/// finds none.
fn audit_finds_then_repairs(talk: &Talk, found: impl Fn(&str), repaired: &str) {
    let out = audit(talk, false);
    found(&stdout(&out));
    assert_eq!(out.status.code(), Some(1));
    let out = audit(talk, true);
    assert!(stdout(&out).ends_with(repaired), "{}", stdout(&out));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&audit(talk, false)), "no drift: 1 decision(s) checked\n");
}
