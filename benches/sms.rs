//! The cost of one SMS vote in cyoa itself, without HTTP: checking Twilio's
//! signature, and `sms::handle` end to end (form, signature, reading the
//! text, counting it) against the memory store.
//!
//! `cargo bench --bench sms`. For webhooks per second over HTTP, see
//! `benches/sms_load.rs`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, HeaderValue, header};
use criterion::{Criterion, criterion_group, criterion_main};
use cyoa::sms::{self, Secret, SmsConfig, signature};
use cyoa::store::{MemoryStore, VoteStore};
use cyoa::story::Story;

const TOKEN: &str = "bench-twilio-auth-token";
const URL: &str = "https://talk.example.com/sms";

/// An inbound text's fields, as Twilio posts them (about 20 of them).
fn fields(from: &str, body: &str, sid: &str) -> Vec<(String, String)> {
    [
        ("ToCountry", "US"),
        ("ToState", "CA"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ToCity", "SAN FRANCISCO"),
        ("FromZip", "94105"),
        ("SmsSid", sid),
        ("FromState", "CA"),
        ("SmsStatus", "received"),
        ("FromCity", "SAN FRANCISCO"),
        ("Body", body),
        ("FromCountry", "US"),
        ("To", "+15005550006"),
        ("ToZip", "94105"),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", from),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn signature_check(c: &mut Criterion) {
    let params = fields("+14155550100", "2", "SM00000000000000000000000000000001");
    let good = signature::compute(TOKEN.as_bytes(), URL, &params);
    c.bench_function("sms/signature check (valid, 19 fields)", |b| {
        b.iter(|| signature::is_valid(black_box(TOKEN.as_bytes()), black_box(&good), URL, black_box(&params)))
    });
    c.bench_function("sms/signature check (forged)", |b| {
        b.iter(|| {
            signature::is_valid(
                black_box(TOKEN.as_bytes()),
                black_box("RSOYDt4T1cUTdK1PDd93/VVr8B8="),
                URL,
                black_box(&params),
            )
        })
    });
}

fn handle_in_memory(c: &mut Criterion) {
    let story = match Story::bundled() {
        Ok(loaded) => loaded.story,
        Err(e) => panic!("the bundled story does not load: {e:?}"),
    };
    let config = SmsConfig {
        auth_token: Some(Secret::new(TOKEN)),
        insecure_skip_signature: false,
        public_url: "https://talk.example.com".into(),
        number: Some("+15005550006".into()),
        phone_key: sms::derive_phone_key(b"bench secret"),
        account_sid: None,
    };
    let store = VoteStore::Memory(MemoryStore::new());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("no runtime: {e}"),
    };
    // Open the first decision, as the presenter would.
    runtime.block_on(async {
        let state = store.current(&story.start).await.expect("a run");
        let decision = story.decisions().next().expect("a decision").id.clone();
        store
            .show(state.run, &decision, std::slice::from_ref(&decision))
            .await
            .expect("show");
        store.open(state.run, &decision).await.expect("open");
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let next = AtomicU64::new(0);
    c.bench_function("sms/handle a signed text (memory store, new phone each)", |b| {
        b.iter_batched(
            || {
                // Every text a new phone and a new MessageSid, as in a room.
                let n = next.fetch_add(1, Ordering::Relaxed);
                let params = fields(&format!("+1415{n:07}"), "B", &format!("SM{n:032}"));
                let mut headers = headers.clone();
                let signed = signature::compute(TOKEN.as_bytes(), URL, &params);
                headers.insert(signature::HEADER, HeaderValue::from_str(&signed).expect("base64"));
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &params {
                    form.append_pair(k, v);
                }
                (headers, form.finish().into_bytes())
            },
            |(headers, body)| {
                let outcome = runtime.block_on(sms::handle(&config, &story, &store, None, "/sms", &headers, &body));
                assert!(outcome.counted.is_some(), "{}", outcome.body);
                outcome
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, signature_check, handle_in_memory);
criterion_main!(benches);
