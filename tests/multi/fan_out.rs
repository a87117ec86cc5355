//! A presenter action costs each instance the same few store calls whatever
//! its number of sockets: a state push reads the audience voters' own
//! choices (each socket's `you`) in one batched call (`choices_of`) per
//! instance, never one call a socket. Two instances on one Redis, with 2
//! sockets and then 200, real WebSocket clients all. And an arriving
//! voter's page and socket read where the talk stands in one store call
//! each.

use futures_util::future::join_all;

use crate::helpers::{Instance, Socket, Talk};
use crate::support::redis::RedisServer;

/// Sockets in the crowd, across both instances.
const CROWD: usize = 200;

/// An audience socket and the choice its voter made, if any.
struct Seat {
    socket: Socket,
    choice: Option<&'static str>,
}

impl Seat {
    /// A new voter's socket on `instance`; it votes `choice`, if any.
    async fn take(instance: &Instance, choice: Option<&'static str>) -> Seat {
        let cookie = instance.voter().await;
        let mut socket = instance.audience(&cookie).await;
        socket.wait_for("state", |_| true).await;
        if let Some(choice) = choice {
            assert_eq!(socket.vote("build", choice).await["type"], "voted");
        }
        Seat { socket, choice }
    }
}

/// The store calls that read a voter's own choice: one at a time
/// (`choice_of`) and in a batch (`choices_of`).
async fn you_calls(instance: &Instance) -> [u64; 2] {
    let calls = |operation| format!("cyoa_store_calls_total{{operation=\"{operation}\"}}");
    [
        instance.count(&calls("choice_of")).await,
        instance.count(&calls("choices_of")).await,
    ]
}

/// The presenter closes or opens the vote (`action`) on the first
/// instance; once every socket, on both instances, has the new state with
/// its own voter's choice, the `you_calls` each instance made for it.
async fn press(instances: &[Instance], seats: &mut [Seat], action: &str) -> Vec<[u64; 2]> {
    let mut before = Vec::new();
    for instance in instances {
        before.push(you_calls(instance).await);
    }
    instances[0].presenter(action, None).await;
    let status = if action == "open" { "open" } else { "closed" };
    join_all(seats.iter_mut().map(|seat| async move {
        let pushed = seat
            .socket
            .wait_for("state", |m| m["state"]["decision"]["status"] == status)
            .await;
        assert_eq!(pushed["state"]["you"].as_str(), seat.choice, "{pushed}");
    }))
    .await;
    let mut made = Vec::new();
    for (instance, [one, batched]) in instances.iter().zip(before) {
        let [one_after, batched_after] = you_calls(instance).await;
        made.push([one_after - one, batched_after - batched]);
    }
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_press_costs_the_same_store_calls_at_200_sockets_as_at_2() {
    let redis = RedisServer::start();
    let mut talk = Talk::new(redis.url());
    // The whole crowd comes from one loopback address.
    for flag in [
        "--voter-mint-rate",
        "--voter-mint-burst",
        "--address-rate",
        "--address-burst",
    ] {
        talk.args.extend([flag.to_string(), "100000".to_string()]);
    }
    let instances = [talk.instance().await, talk.instance().await];
    instances[0].open_build().await;

    // Two sockets, one on each instance: one voter chose, one did not.
    let mut seats = vec![
        Seat::take(&instances[0], Some("pets")).await,
        Seat::take(&instances[1], None).await,
    ];
    let one_each = vec![[0, 1]; 2];
    let few = [
        press(&instances, &mut seats, "close").await,
        press(&instances, &mut seats, "open").await,
    ];
    assert_eq!(
        few,
        [one_each.clone(), one_each.clone()],
        "[choice_of, choices_of] per instance"
    );

    // A crowd, half on each instance; every third voter chose.
    let choices = [Some("pets"), None, Some("docs")];
    let more: Vec<Seat> = join_all((seats.len()..CROWD).map(|n| Seat::take(&instances[n % 2], choices[n % 3]))).await;
    seats.extend(more);
    let crowd = [
        press(&instances, &mut seats, "close").await,
        press(&instances, &mut seats, "open").await,
    ];
    println!("{CROWD} sockets: [choice_of, choices_of] per instance and key press: {crowd:?} (2 sockets: {few:?})");
    assert_eq!(
        crowd, few,
        "a key press at {CROWD} sockets, [choice_of, choices_of] per instance"
    );
}

/// The store calls that read where the talk stands for a page or a socket:
/// the one reading (`now`) and the four it replaced. (`current` is left
/// out: the presence sweep calls it on its own.)
async fn reading_calls(instance: &Instance) -> Vec<u64> {
    let mut calls = Vec::new();
    for operation in ["now", "run", "tally", "choice_of"] {
        calls.push(instance.store_calls(operation).await);
    }
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arriving_voter_costs_one_store_reading_for_its_page_and_one_for_its_socket() {
    let redis = RedisServer::start();
    let talk = Talk::new(redis.url());
    let instance = talk.instance().await;
    instance.open_build().await;
    let cookie = instance.voter().await;
    let mut socket = instance.audience(&cookie).await;
    assert_eq!(socket.vote("build", "pets").await["type"], "voted");

    // The voter opens a second tab: its page, then its socket.
    let before = reading_calls(&instance).await;
    let (status, page) = instance.get_text("/", Some(&cookie)).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(page.contains("build"), "{page}");
    let mut second = instance.audience(&cookie).await;
    let state = second.wait_for("state", |_| true).await;
    assert_eq!(state["state"]["you"], "pets", "{state}");
    assert_eq!(state["state"]["decision"]["status"], "open", "{state}");
    let after = reading_calls(&instance).await;
    let made: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(
        made,
        [2, 0, 0, 0],
        "[now, run, tally, choice_of] for a page and a socket"
    );
}
