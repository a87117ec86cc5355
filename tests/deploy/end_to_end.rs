//! The deployment of docs/deploy.md on one machine: the real nginx with
//! deploy's site in front of two `cyoa serve` instances that share one
//! redis-server, a key prefix, a secret and a presenter token. Everything
//! below goes through nginx, as the audience, the presenter and Twilio
//! reach a deployed cyoa.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HOST, LOCATION, SET_COOKIE,
};
use reqwest::{Client, StatusCode, redirect};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::cyoa::{Env, Instance};
use crate::nginx::{Nginx, SERVER_NAME};
use crate::support::redis::{fresh_prefix, shared};
use crate::{free_port, repo_file};

/// How long a test waits for something to happen before failing.
const WAIT: Duration = Duration::from_secs(10);
/// The presenter token of the test deployment.
const TOKEN: &str = "deploy-test-presenter-token";
/// The Twilio Auth Token of the test deployment.
const TWILIO_TOKEN: &str = "deploy-test-twilio-auth-token";

/// nginx, two instances and the settings they share.
struct Deployment {
    nginx: Nginx,
    instances: Vec<Instance>,
    /// The site's URL, cyoa's --public-url: `http://127.0.0.1:PORT`.
    url: String,
}

impl Deployment {
    /// Starts nginx first (so that its 502 can be seen), then the instances.
    async fn start() -> Deployment {
        let ports = [free_port(), free_port()];
        let nginx = Nginx::start(&ports, &repo_file("static"));
        let url = format!("http://127.0.0.1:{}", nginx.https_port);
        let deployment = Deployment {
            nginx,
            instances: Vec::new(),
            url,
        };
        // The talk's first surprise: nginx is up, nothing listens upstream.
        let response = Client::new()
            .get(deployment.url("/"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET / through nginx: {e}"));
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "before any cyoa runs");
        deployment.start_instances(ports).await
    }

    async fn start_instances(mut self, ports: [u16; 2]) -> Deployment {
        let env = Env {
            public_url: self.url.clone(),
            redis_url: shared().url(),
            redis_prefix: fresh_prefix(),
            presenter_token: TOKEN.into(),
            secret: "deploy-test-secret-shared-by-every-instance".into(),
            twilio_auth_token: TWILIO_TOKEN.into(),
        };
        for port in ports {
            self.instances.push(Instance::start(&env, port).await);
        }
        self
    }

    /// A URL of the site.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Everything the parts logged, for a failure message.
    fn logs(&self) -> String {
        let mut logs = format!("nginx error log:\n{}\n", self.nginx.error_log());
        for (i, instance) in self.instances.iter().enumerate() {
            logs += &format!(
                "cyoa instance {} (port {}):\n{}\n",
                i + 1,
                instance.port,
                instance.log()
            );
        }
        logs
    }

    /// The talk as the site tells it: GET /api/state.
    async fn state(&self) -> Value {
        let response = Client::new()
            .get(self.url("/api/state"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /api/state: {e}"));
        assert_eq!(response.status(), StatusCode::OK, "GET /api/state\n{}", self.logs());
        response
            .json()
            .await
            .unwrap_or_else(|e| panic!("/api/state is not JSON: {e}"))
    }

    /// Waits until /api/state shows `votes` for each choice of the open
    /// decision (the shared Redis, read by whichever instance answers).
    async fn wait_for_tally(&self, votes: &[(&str, u64)]) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let state = self.state().await;
            let counts: Vec<(String, u64)> = state["decision"]["choices"]
                .as_array()
                .map(|choices| {
                    choices
                        .iter()
                        .map(|c| {
                            (
                                c["id"].as_str().unwrap_or("").to_string(),
                                c["votes"].as_u64().unwrap_or(0),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            if votes
                .iter()
                .all(|(id, n)| counts.iter().any(|(c, m)| c == id && m == n))
            {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "the tally never became {votes:?}; last state: {state}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A presenter: a browser that logged in with the token, then walked
    /// the story to its first decision and opened the vote. Returns the
    /// presenter's cookies, the decision and its choices.
    async fn open_first_decision(&self) -> (Arc<Jar>, String, Vec<String>) {
        let jar = Arc::new(Jar::default());
        let browser = Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap_or_else(|e| panic!("a reqwest client: {e}"));
        let login = browser
            .get(self.url(&format!("/presenter?token={TOKEN}")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /presenter: {e}"));
        assert_eq!(login.status(), StatusCode::OK, "the presenter page\n{}", self.logs());
        let api = Client::new();
        let mut state = self.state().await;
        for _ in 0..20 {
            if state["decision"].is_object() {
                break;
            }
            let response = api
                .post(self.url("/api/presenter/next"))
                .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST /api/presenter/next: {e}"));
            assert_eq!(response.status(), StatusCode::OK, "next\n{}", self.logs());
            state = response.json().await.unwrap_or_else(|e| panic!("next: not JSON: {e}"));
        }
        let decision = state["decision"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no decision in the first 20 slides: {state}"))
            .to_string();
        let response = api
            .post(self.url("/api/presenter/open"))
            .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /api/presenter/open: {e}"));
        assert_eq!(response.status(), StatusCode::OK, "open\n{}", self.logs());
        let state: Value = response.json().await.unwrap_or_else(|e| panic!("open: not JSON: {e}"));
        assert_eq!(state["decision"]["status"], "open", "{state}");
        let choices = state["decision"]["choices"]
            .as_array()
            .map(|cs| cs.iter().filter_map(|c| c["id"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        (jar, decision, choices)
    }

    /// Opens a WebSocket through nginx with the cookies `jar` has for the site.
    async fn socket(&self, path: &str, jar: &Jar) -> Socket {
        let ws_url = format!("{}{path}", self.url.replacen("http://", "ws://", 1));
        let mut request = ws_url
            .as_str()
            .into_client_request()
            .unwrap_or_else(|e| panic!("a WebSocket request for {ws_url}: {e}"));
        let site = self.url.parse().unwrap_or_else(|e| panic!("the site URL: {e}"));
        if let Some(cookies) = jar.cookies(&site) {
            request.headers_mut().insert("cookie", cookies);
        }
        match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request)).await {
            Ok(Ok((stream, _))) => Socket(stream),
            Ok(Err(e)) => panic!("the WebSocket {path} through nginx did not open: {e}\n{}", self.logs()),
            Err(_) => panic!("the WebSocket {path} through nginx did not open within {WAIT:?}"),
        }
    }
}

/// A WebSocket through nginx.
struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Socket {
    /// The next JSON message, or `None` when none came by `deadline`.
    async fn next_until(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.0.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Some(serde_json::from_str(text.as_str()).unwrap_or_else(|e| panic!("not JSON: {e}")));
                }
                Ok(Some(Ok(Message::Close(frame)))) => panic!("the socket closed: {frame:?}"),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(e))) => panic!("the socket failed: {e}"),
                Ok(None) => panic!("the socket ended"),
            }
        }
    }

    /// Waits for the first message of `kind` (`state`, `voted`, `tally`...)
    /// that `fits`, passing over the others.
    async fn wait_for(&mut self, kind: &str, within: Duration, fits: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + within;
        while let Some(message) = self.next_until(deadline).await {
            if message["type"] == kind && fits(&message) {
                return Some(message);
            }
        }
        None
    }

    async fn send(&mut self, message: Value) {
        self.0
            .send(Message::text(message.to_string()))
            .await
            .unwrap_or_else(|e| panic!("cannot send on the socket: {e}"));
    }
}

/// The votes a `tally` push gives `choice`.
fn pushed_votes(tally: &Value, choice: &str) -> Option<u64> {
    tally["choices"].as_array()?.iter().find(|c| c["id"] == choice)?["votes"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audience_and_the_presenter_reach_two_instances_through_nginx() {
    let deployment = Deployment::start().await;

    // The audience page, from cyoa, with a voter cookie.
    let audience_jar = Arc::new(Jar::default());
    let audience = Client::builder()
        .cookie_provider(audience_jar.clone())
        .build()
        .unwrap_or_else(|e| panic!("a reqwest client: {e}"));
    let page = audience
        .get(deployment.url("/"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /: {e}"));
    assert_eq!(page.status(), StatusCode::OK, "GET /\n{}", deployment.logs());
    assert!(
        page.headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|c| c.to_str().is_ok_and(|c| c.starts_with("cyoa_voter="))),
        "GET / set no voter cookie: {:?}",
        page.headers()
    );
    let html = page.text().await.unwrap_or_default();
    let stylesheet = html
        .split('"')
        .find(|part| part.starts_with("/static/cyoa.css?v="))
        .unwrap_or_else(|| panic!("the audience page links no versioned stylesheet:\n{html}"))
        .to_string();

    // The page's versioned URL comes from cyoa (which knows the hash), kept
    // a year.
    let versioned = Client::new()
        .get(deployment.url(&stylesheet))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {stylesheet}: {e}"));
    assert_eq!(versioned.status(), StatusCode::OK);
    assert_eq!(
        versioned.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
        Some("public, max-age=31536000, immutable"),
        "{:?}",
        versioned.headers()
    );
    assert!(
        versioned.headers().get("content-security-policy").is_some(),
        "nginx served the versioned {stylesheet} itself, unchecked"
    );

    // A URL without a version comes from nginx, from disk: revalidated on
    // every use, and none of the security headers cyoa puts on every
    // response.
    let css = Client::new()
        .get(deployment.url("/static/cyoa.css"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /static/cyoa.css: {e}"));
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(
        css.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
        Some("no-cache"),
        "{:?}",
        css.headers()
    );
    assert!(
        css.headers().get("content-security-policy").is_none(),
        "cyoa served /static/, not nginx"
    );
    assert!(
        css.headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/css")),
        "{:?}",
        css.headers()
    );
    let on_disk = std::fs::read(repo_file("static/cyoa.css")).unwrap_or_else(|e| panic!("static/cyoa.css: {e}"));
    assert_eq!(css.bytes().await.unwrap_or_default().as_ref(), on_disk.as_slice());
    let gzipped = Client::new()
        .get(deployment.url("/static/cyoa.css"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /static/cyoa.css (gzip): {e}"));
    assert_eq!(
        gzipped.headers().get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()),
        Some("gzip"),
        "nginx did not compress the stylesheet"
    );
    let missing = Client::new()
        .get(deployment.url("/static/no-such-file.css"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET a missing static file: {e}"));
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // The presenter opens the first vote.
    let (presenter_jar, decision, choices) = deployment.open_first_decision().await;
    assert!(choices.len() >= 2, "the first decision has choices {choices:?}");
    let choice = choices[1].clone();

    // Two presenter screens. nginx's least_conn gives each a different
    // instance (each holds one open connection), so one of them shares an
    // instance with the voter's socket, whichever that gets.
    let mut presenters = Vec::new();
    for _ in 0..2 {
        let mut socket = deployment.socket("/ws?role=presenter", &presenter_jar).await;
        socket
            .wait_for("state", WAIT, |_| true)
            .await
            .unwrap_or_else(|| panic!("no state on the presenter socket\n{}", deployment.logs()));
        presenters.push(socket);
    }

    // A vote over the audience socket, through nginx's /ws.
    let mut voter = deployment.socket("/ws", &audience_jar).await;
    voter
        .wait_for("state", WAIT, |s| s["state"]["decision"]["status"] == "open")
        .await
        .unwrap_or_else(|| {
            panic!(
                "no state with the open vote on the audience socket\n{}",
                deployment.logs()
            )
        });
    voter
        .send(json!({"type": "vote", "decision": decision, "choice": choice}))
        .await;
    voter
        .wait_for("voted", WAIT, |v| v["choice"] == choice.as_str())
        .await
        .unwrap_or_else(|| panic!("the vote was not acknowledged\n{}", deployment.logs()));

    // The presenter's live tally: pushed to the presenter screen on the
    // voter's instance.
    // Both screens are read in turns, until one has the push; then the
    // other gets a moment more (it has it too once instances fan out).
    let fits = |t: &Value| t["decision"] == decision.as_str() && pushed_votes(t, &choice) == Some(1);
    let mut got = [false, false];
    let mut deadline = Instant::now() + WAIT;
    while Instant::now() < deadline && !got.iter().all(|g| *g) {
        for (i, presenter) in presenters.iter_mut().enumerate() {
            if !got[i]
                && presenter
                    .wait_for("tally", Duration::from_millis(50), fits)
                    .await
                    .is_some()
            {
                got[i] = true;
                deadline = deadline.min(Instant::now() + Duration::from_millis(500));
            }
        }
    }
    let pushed = got.iter().filter(|g| **g).count();
    assert!(
        pushed >= 1,
        "no presenter screen got the tally push with the vote\n{}",
        deployment.logs()
    );
    eprintln!("tally pushed to {pushed} of 2 presenter screens (2 once instances fan pushes out)");

    // Every instance reads the same tally from the shared Redis.
    let state = deployment.wait_for_tally(&[(&choice, 1)]).await;
    assert_eq!(state["decision"]["total"], 1, "{state}");
    for instance in &deployment.instances {
        let direct: Value = Client::new()
            .get(format!("http://127.0.0.1:{}/api/state", instance.port))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /api/state from instance {}: {e}", instance.port))
            .json()
            .await
            .unwrap_or_else(|e| panic!("not JSON: {e}"));
        assert_eq!(direct["decision"]["total"], 1, "instance {}: {direct}", instance.port);
    }

    // nginx refuses big bodies itself (client_max_body_size).
    let big = Client::new()
        .post(deployment.url("/api/presenter/next"))
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(CONTENT_TYPE, "application/json")
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST a 64 KiB body: {e}"));
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(big.headers().get("server").and_then(|v| v.to_str().ok()), Some("nginx"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_80_answers_acme_challenges_and_redirects_the_rest_to_https() {
    let deployment = Deployment::start().await;
    let no_redirects = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("a reqwest client: {e}"));
    let port_80 = format!("http://127.0.0.1:{}", deployment.nginx.http_port);

    let challenge = deployment.nginx.acme_root.join(".well-known/acme-challenge");
    std::fs::create_dir_all(&challenge).unwrap_or_else(|e| panic!("cannot create {}: {e}", challenge.display()));
    std::fs::write(challenge.join("token-123"), "token-123.thumbprint").unwrap_or_else(|e| panic!("{e}"));
    let response = no_redirects
        .get(format!("{port_80}/.well-known/acme-challenge/token-123"))
        .header(HOST, SERVER_NAME)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET the ACME challenge: {e}"));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap_or_default(), "token-123.thumbprint");

    let response = no_redirects
        .get(format!("{port_80}/vote/what-did-you-build?x=1"))
        .header(HOST, SERVER_NAME)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET on port 80: {e}"));
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        response.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
        Some(format!("https://{SERVER_NAME}/vote/what-did-you-build?x=1").as_str())
    );
}

/// Twilio's signature: base64(HMAC-SHA1(auth token, URL + each parameter's
/// name and value, sorted by name)), written here from Twilio's
/// documentation rather than taken from cyoa.
fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_through_nginx_is_checked_against_the_public_url_and_counted() {
    let deployment = Deployment::start().await;
    let (_presenter, _decision, choices) = deployment.open_first_decision().await;
    let params = [
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("From", "+15550100123"),
        ("To", "+15550100199"),
        ("Body", "1"),
        ("NumMedia", "0"),
    ];
    let sms = |signature: String| {
        Client::new()
            .post(deployment.url("/sms"))
            .header("x-twilio-signature", signature)
            .form(&params)
            .send()
    };

    // Signed for the address an instance listens on, which is what cyoa
    // would check if it trusted the request it sees behind nginx: refused.
    let inner = format!("http://127.0.0.1:{}/sms", deployment.instances[0].port);
    let response = sms(twilio_signature(&inner, &params))
        .await
        .unwrap_or_else(|e| panic!("POST /sms: {e}"));
    assert_ne!(
        response.status(),
        StatusCode::NOT_FOUND,
        "cyoa serves no POST /sms: the SMS webhook (src/sms) is not routed in the server yet"
    );
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "a webhook signed for the upstream's address\n{}",
        deployment.logs()
    );

    // Signed for the public URL, as Twilio signs it: counted.
    let public = deployment.url("/sms");
    let response = sms(twilio_signature(&public, &params))
        .await
        .unwrap_or_else(|e| panic!("POST /sms: {e}"));
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a signed webhook\n{}",
        deployment.logs()
    );
    assert!(
        response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/xml") || t.starts_with("application/xml")),
        "{:?}",
        response.headers()
    );
    let twiml = response.text().await.unwrap_or_default();
    assert!(twiml.contains("<Response>"), "{twiml}");
    let state = deployment.wait_for_tally(&[(&choices[0], 1)]).await;
    assert_eq!(state["decision"]["total"], 1, "{state}");
}
