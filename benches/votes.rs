//! The vote's hot paths: a vote in the memory store, a vote through the
//! Redis script (one EVALSHA round trip; one at a time, and 64 in flight as
//! a busy server has them). The SMS signature check is in `benches/sms.rs`.
//! `cargo bench --bench votes`; the Redis cases start their own
//! `redis-server` (apt-get install redis-server).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion, Throughput, criterion_group, criterion_main};
use cyoa::store::{MemoryStore, RedisStore, RunId, VoteKind, VoteStore, Voter};
use futures_util::future::join_all;

#[allow(dead_code)]
#[path = "../tests/support/redis.rs"]
mod redis_harness;

const DECISION: &str = "what-did-you-build";
const CHOICES: [&str; 2] = ["tinder", "dachshund"];
/// Voters the benches cycle through: most votes move a standing vote.
const VOTERS: usize = 10_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A store with run 1 on the decision, its vote open.
async fn open(store: &VoteStore) -> RunId {
    let run = store.current("welcome").await.expect("current run").run;
    let path = ["welcome".to_string(), DECISION.to_string()];
    store.show(run, DECISION, &path).await.expect("show");
    store.open(run, DECISION).await.expect("open");
    run
}

fn voters() -> Vec<Voter> {
    (0..VOTERS).map(|i| Voter::web(&format!("{i:032x}"))).collect()
}

/// `n` votes, one after another; voter `i` of the cycle alternates choices.
async fn votes(store: &VoteStore, run: RunId, voters: &[Voter], from: u64, n: u64) {
    for k in from..from + n {
        let i = (k as usize) % voters.len();
        let choice = CHOICES[((k as usize) / voters.len() + i) % 2];
        black_box(store.vote(run, DECISION, &voters[i], choice, VoteKind::Presence).await).expect("vote");
    }
}

/// Times `iters` votes one after another, from vote `done` of the cycle on.
fn one_at_a_time(
    b: &mut Bencher,
    rt: &tokio::runtime::Runtime,
    store: &VoteStore,
    run: RunId,
    voters: &[Voter],
    done: &mut u64,
) {
    b.iter_custom(|iters| {
        rt.block_on(async {
            let start = Instant::now();
            votes(store, run, voters, *done, iters).await;
            *done += iters;
            start.elapsed()
        })
    })
}

/// `n` votes with up to `depth` in flight at once.
async fn votes_in_flight(store: &VoteStore, run: RunId, voters: &[Voter], from: u64, n: u64, depth: u64) {
    let mut k = from;
    while k < from + n {
        let batch = depth.min(from + n - k);
        join_all((k..k + batch).map(|k| {
            let i = (k as usize) % voters.len();
            let choice = CHOICES[((k as usize) / voters.len() + i) % 2];
            store.vote(run, DECISION, &voters[i], choice, VoteKind::Presence)
        }))
        .await
        .into_iter()
        .for_each(|r| {
            r.expect("vote");
        });
        k += batch;
    }
}

fn memory_vote(c: &mut Criterion) {
    let rt = runtime();
    let store = VoteStore::Memory(MemoryStore::new());
    let run = rt.block_on(open(&store));
    let voters = voters();
    let mut done = 0;
    let mut group = c.benchmark_group("vote");
    group.throughput(Throughput::Elements(1));
    group.bench_function("memory store", |b| {
        one_at_a_time(b, &rt, &store, run, &voters, &mut done);
    });
    group.finish();
}

fn redis_vote(c: &mut Criterion) {
    let server = redis_harness::RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let store = VoteStore::Redis(
        rt.block_on(RedisStore::connect(&server.url(), "bench:"))
            .expect("the bench's redis-server answers"),
    );
    let run = rt.block_on(open(&store));
    let voters = voters();
    let mut done = 0;
    let mut group = c.benchmark_group("vote");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("redis script, one at a time", |b| {
        one_at_a_time(b, &rt, &store, run, &voters, &mut done);
    });
    group.bench_function("redis script, 64 in flight", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                votes_in_flight(&store, run, &voters, done, iters, 64).await;
                done += iters;
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, memory_vote, redis_vote);
criterion_main!(benches);
