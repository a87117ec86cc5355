//! Another site cannot vote for a visitor: a page served from another
//! origin (`localhost` on a port of its own, while cyoa is on 127.0.0.1)
//! sends no-cors fetches and an auto-submitting form to cyoa's vote. None
//! counts, and the visitor's own vote and voter cookie stay as they were.

use fantoccini::Client;
use fantoccini::wd::WindowHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::app::TestApp;
use crate::driver::Driver;
use crate::page::{tap, wait_js, wait_pressed, wait_text};
use crate::{audience, open_first_decision, presenter};

/// How many no-cors fetches the other site sends.
const FETCHES: usize = 50;

/// A page on another site that votes "right" on cyoa at `cyoa` with no-cors
/// fetches, then with a form that submits itself.
fn attack_page(cyoa: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>win a prize</title></head><body>
<form id="f" method="post" action="{cyoa}/vote/which-way"><input name="choice" value="right"></form>
<script>
const sent = [];
for (let i = 0; i < {FETCHES}; i++) {{
  sent.push(fetch("{cyoa}/vote/which-way", {{
    method: "POST", mode: "no-cors", credentials: "include",
    headers: {{ "Content-Type": "application/x-www-form-urlencoded" }},
    body: "choice=right",
  }}).then(() => "answered", () => "failed"));
}}
Promise.all(sent).then(function (all) {{
  document.title = "fetched " + all.length;
  document.getElementById("f").submit();
}});
</script></body></html>"#
    )
}

/// Serves `page` to every request on `localhost`, until the test ends.
async fn other_site(page: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the other site");
    let port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let page = page.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    // `localhost` and `127.0.0.1` are different sites to a browser.
    format!("http://localhost:{port}/")
}

async fn voter_cookie(client: &Client) -> String {
    let cookies = client.get_all_cookies().await.expect("the cookies");
    cookies
        .iter()
        .find(|c| c.name() == "cyoa_voter")
        .map(|c| c.value().to_string())
        .expect("a voter cookie")
}

/// Another site's fetches and form count nothing for a visitor who voted.
pub async fn another_site_cannot_vote_for_a_visitor(driver: &mut Driver) {
    let app = TestApp::spawn().await;
    let screen = presenter(driver, &app).await;
    let phone = audience(driver, &app).await;
    open_first_decision(&screen).await;
    tap(&phone, "left").await;
    wait_pressed(&phone, "left").await;
    wait_text(&screen, "[data-tally=\"left\"]", "1").await;
    let cookie = voter_cookie(&phone).await;

    // The visitor opens the other site in a second tab; cyoa's page stays
    // open in the first (its vote is a presence vote).
    let cyoa_tab: WindowHandle = phone.window().await.expect("the audience tab");
    let attack = other_site(attack_page(app.url("").trim_end_matches('/'))).await;
    let tab = phone.new_window(true).await.expect("a second tab");
    phone.switch_to_window(tab.handle).await.expect("the second tab");
    phone.goto(&attack).await.expect("the other site");
    // Every fetch was answered, then the form landed on cyoa's refusal.
    wait_js(
        &phone,
        "the other site's form answered by cyoa's refusal",
        &format!(
            "return location.href.startsWith({:?}) && document.querySelector('main#error') !== null;",
            app.url("/vote/which-way")
        ),
    )
    .await;
    let refusal = phone
        .find(fantoccini::Locator::Css("main#error .message"))
        .await
        .expect("the refusal's message")
        .text()
        .await
        .expect("its text");
    assert!(refusal.contains("not from another site"), "{refusal}");

    // Nothing counted; the visitor's vote and cookie are as they were.
    let state = app.state().await;
    let decision = &state["decision"];
    assert_eq!(decision["total"], 1, "{state}");
    let left = decision["choices"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "left"))
        .expect("the choice left");
    assert_eq!(left["votes"], 1, "{state}");
    assert_eq!(voter_cookie(&phone).await, cookie);
    phone.close_window().await.expect("the other site's tab closes");
    phone.switch_to_window(cyoa_tab).await.expect("the audience tab");
    // Its page still shows its vote.
    wait_pressed(&phone, "left").await;
    wait_text(&screen, "[data-total]", "1").await;
    driver.close(phone).await;
    driver.close(screen).await;
}
