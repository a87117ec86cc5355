//! The log of `cyoa serve` as a process, in JSON at debug level: every
//! line is a JSON object, request lines carry the request id the client
//! got, and the token, the secret, cookies and the Authorization header
//! appear nowhere.

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::Value;

use crate::helpers::{log_of, open_socket, serve_process, sigterm};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const TOKEN: &str = "log-test-token-7f3a9c";
const SECRET: &str = "log-test-secret-5be21d0c";

#[tokio::test]
async fn json_logs_carry_request_ids_and_no_secrets() {
    let (mut child, mut lines) =
        serve_process(&["--presenter-token", TOKEN, "--secret", SECRET, "--log-format", "json"]);
    let _presenter = lines.next().expect("a first line").expect("text");
    let audience = lines.next().expect("a second line").expect("text");
    let base = audience
        .strip_prefix("audience: ")
        .expect("the audience line")
        .trim_end_matches('/')
        .to_string();

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut secrets = vec![TOKEN.to_string(), SECRET.to_string()];
    let mut ids = Vec::new();

    // A voter: its cookie, then a request and a socket with it.
    let page = client.get(format!("{base}/")).send().await.unwrap();
    ids.push(page.headers()["x-request-id"].to_str().unwrap().to_string());
    let voter_cookie = cookie_set_by(&page);
    secrets.push(voter_cookie.split_once('=').unwrap().1.to_string());
    let state = client
        .get(format!("{base}/api/state"))
        .header("cookie", &voter_cookie)
        .send()
        .await
        .unwrap();
    ids.push(state.headers()["x-request-id"].to_str().unwrap().to_string());
    let mut ws = format!("{}/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    ws.headers_mut().insert("cookie", voter_cookie.parse().unwrap());
    let mut socket = open_socket(ws).await.expect("the socket opens");
    socket.next_json().await.expect("the state");

    // The presenter: the token in a query, a cookie, a Bearer header, a wrong token.
    let login = client
        .get(format!("{base}/presenter?token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let presenter_cookie = cookie_set_by(&login);
    secrets.push(presenter_cookie.split_once('=').unwrap().1.to_string());
    let view = client
        .get(format!("{base}/presenter"))
        .header("cookie", &presenter_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), StatusCode::OK);
    let next = client
        .post(format!("{base}/api/presenter/next"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), StatusCode::OK);
    ids.push(next.headers()["x-request-id"].to_str().unwrap().to_string());
    let wrong = "wrong-token-the-log-must-not-hold";
    secrets.push(wrong.to_string());
    let refused = client
        .post(format!("{base}/api/presenter/next"))
        .bearer_auth(wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    socket.close().await;

    assert!(sigterm(&mut child).success());
    let log = log_of(&mut child);

    let events: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(events.iter().any(|e| e["fields"]["message"] == "stopping"), "{log}");
    for id in &ids {
        let tagged = events
            .iter()
            .filter(|e| e["span"]["id"] == id.as_str() || e["spans"][0]["id"] == id.as_str())
            .count();
        assert!(tagged > 0, "no log line of request {id}:\n{log}");
    }
    // The socket's own lines carry the id of the request that opened it.
    let socket_lines: Vec<&Value> = events
        .iter()
        .filter(|e| e["fields"]["message"] == "socket open" || e["fields"]["message"] == "socket closed")
        .collect();
    assert_eq!(socket_lines.len(), 2, "{log}");
    for line in socket_lines {
        assert_eq!(line["span"]["path"], "/ws", "{line}");
        assert_eq!(line["span"]["id"].as_str().map(str::len), Some(16), "{line}");
    }
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "{secret:?} leaked into the log:\n{log}");
    }
    assert!(!log.to_ascii_lowercase().contains("bearer "), "{log}");
}

/// The `name=value` of the cookie a response sets.
fn cookie_set_by(response: &reqwest::Response) -> String {
    let header = response.headers()[SET_COOKIE].to_str().expect("a text header");
    header.split(';').next().unwrap_or(header).to_string()
}
