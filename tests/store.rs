//! The vote store's behaviour, run against both backends.

mod support;

use support::redis::{RedisServer, fresh_prefix, shared};

#[test]
fn the_test_redis_server_answers() {
    let mut con = shared().connection();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    assert_ne!(fresh_prefix(), fresh_prefix());
}

#[test]
fn a_restarted_test_redis_server_keeps_its_data_on_the_same_port() {
    let mut server = RedisServer::start();
    let port = server.port();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut server.connection())
        .unwrap();
    server.restart();
    assert_eq!(server.port(), port);
    let v: String = redis::cmd("GET").arg("k").query(&mut server.connection()).unwrap();
    assert_eq!(v, "v");
}
