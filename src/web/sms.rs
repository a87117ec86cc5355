//! `POST /sms`: Twilio's Messaging webhook, handed to [`crate::sms::handle`].
//!
//! The talk is the [`Ballots`](crate::sms::Ballots) the SMS module votes
//! through: a text's vote is counted by [`crate::talk::control::count`],
//! the function that counts every tap too, so it shows in
//! `votes_counted{channel="sms"}`, marks its decision's tally for the same
//! coalesced pushes as a web vote, and starts the same vote-to-push clock. Every webhook is counted in `sms_received`,
//! and one that counted nothing in `sms_refused`, by reason.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::state::AppState;

/// `POST /sms`: counts the text and answers Twilio with TwiML (or refuses
/// it with a plain-text reason).
pub async fn webhook(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    crate::metrics::sms_received();
    // Twilio signs the URL it posted to, query included: the original one,
    // not what a nested router may have stripped.
    let path_and_query = uri.path_and_query().map_or("/sms", |p| p.as_str());
    let open = app.talk.pushes.open_vote();
    let hint = open.as_ref().map(|(run, decision)| (*run, decision.as_str()));
    let outcome = crate::sms::handle(
        &app.sms.config,
        &app.talk.story(),
        &app.talk,
        hint,
        path_and_query,
        &headers,
        &body,
    )
    .await;
    if let Some(reason) = outcome.refused {
        crate::metrics::sms_refused(reason);
    }
    #[cfg(feature = "sms-outbound")]
    if let Some((run, decision)) = &outcome.counted {
        remember_voter(&app, *run, decision, &body).await;
    }
    let content_type = HeaderValue::from_static(outcome.content_type);
    (outcome.status, [(header::CONTENT_TYPE, content_type)], outcome.body).into_response()
}

/// Keeps the number of a voter whose text counted, to text them the
/// outcome (`--sms-results`). A failure here costs that text, never the
/// vote.
#[cfg(feature = "sms-outbound")]
async fn remember_voter(app: &AppState, run: crate::store::RunId, decision: &str, body: &[u8]) {
    let Some(outbound) = &app.sms.outbound else { return };
    // `sms::handle` counted it, so the form has a non-empty `From`.
    let Some((_, from)) = form_urlencoded::parse(body).find(|(k, _)| k == "From") else {
        return;
    };
    if let Err(e) = outbound.remember(&app.talk.store, run, decision, &from).await {
        tracing::warn!(error = %e, "cannot keep an SMS voter's number for the results text");
    }
}

/// How often the results worker looks for closed decisions and due texts
/// when nothing wakes it.
#[cfg(feature = "sms-outbound")]
const RESULTS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The background worker of `--sms-results`: when a decision has closed,
/// queues its outcome for the voters who texted; sends what is due; when a
/// new run begins, forgets everything of the last one. Ends when the
/// server stops.
#[cfg(feature = "sms-outbound")]
pub async fn results_worker(app: AppState, outbound: std::sync::Arc<crate::sms::outbound::Outbound>) {
    use crate::talk::push::Push;
    use tokio::sync::broadcast::error::RecvError;

    // Only states matter here: the channel with fewer tallies.
    let mut pushes = app.talk.pushes.subscribe_audience();
    let mut stopping = app.talk.stopping();
    let mut tick = tokio::time::interval(RESULTS_EVERY);
    let mut last_run = None;
    loop {
        // A presenter change (a close) wakes it at once; tallies do not.
        tokio::select! {
            _ = tick.tick() => {}
            push = pushes.recv() => match push {
                Ok(Push::State(_)) | Err(RecvError::Lagged(_)) => {}
                Ok(Push::Tally(_) | Push::Story | Push::Presenter(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            _ = stopping.changed() => return,
        }
        let run = match app.talk.store.current(&app.talk.story().start).await {
            Ok(state) => state.run,
            Err(e) => {
                tracing::warn!(error = %e, "results texts wait: the store failed");
                continue;
            }
        };
        if let Some(old) = last_run.filter(|old| *old != run) {
            if let Err(e) = outbound.forget_run(&app.talk.store, &app.talk.story(), old).await {
                tracing::warn!(error = %e, run = old, "cannot forget the results texts of the last run");
            }
        }
        last_run = Some(run);
        if let Err(e) = outbound.collect_run(&app.talk.store, &app.talk.story(), run).await {
            tracing::warn!(error = %e, "cannot queue the results texts");
        }
        // Sending waits for the rate limit: the server's stop comes first.
        tokio::select! {
            round = outbound.send_due(&app.talk.store) => match round {
                Ok(round) if round != Default::default() => tracing::info!(?round, "results texts"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot send the results texts"),
            },
            _ = stopping.changed() => return,
        }
    }
}
