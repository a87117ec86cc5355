//! The JSON API: `/api/state`, the presenter's commands, run history, and
//! the health checks. Documented with examples in `docs/api.md`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::auth::Presenter;
use super::error::{ApiError, ApiJson, Error};
use super::state::AppState;
use super::voter::VoterCookie;
use crate::store::{ChosenBy, RunId, RunRecord};
use crate::talk::Timer;
use crate::talk::control::{self, Action};
use crate::talk::view::{DecisionView, StateView, Status};

/// `GET /api/state`: where the talk stands; `you` from the voter cookie.
pub async fn state(State(app): State<AppState>, cookie: VoterCookie) -> Result<Json<StateView>, ApiError> {
    let view = StateView::read(&app.talk, cookie.card().map(|c| c.voter()).as_ref(), None).await?;
    Ok(Json(view))
}

/// Applies a presenter command and answers with the presenter's state
/// (the room code included).
pub(super) async fn act(app: &AppState, action: Action) -> Result<Json<StateView>, ApiError> {
    Ok(Json(app.for_presenter(control::apply(&app.talk, action).await?)))
}

/// `POST /api/presenter/next`.
pub async fn next(_: Presenter, State(app): State<AppState>) -> Result<Json<StateView>, ApiError> {
    act(&app, Action::Next).await
}

/// `POST /api/presenter/back`.
pub async fn back(_: Presenter, State(app): State<AppState>) -> Result<Json<StateView>, ApiError> {
    act(&app, Action::Back).await
}

/// `POST /api/presenter/open`.
pub async fn open(_: Presenter, State(app): State<AppState>) -> Result<Json<StateView>, ApiError> {
    act(&app, Action::Open).await
}

/// `POST /api/presenter/close`.
pub async fn close(_: Presenter, State(app): State<AppState>) -> Result<Json<StateView>, ApiError> {
    act(&app, Action::Close).await
}

/// `POST /api/presenter/new-run`.
pub async fn new_run(_: Presenter, State(app): State<AppState>) -> Result<Json<StateView>, ApiError> {
    act(&app, Action::NewRun).await
}

/// Body of `/api/presenter/goto`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GotoBody {
    slide: String,
}

/// `POST /api/presenter/goto` `{"slide": "id"}`.
pub async fn goto(
    _: Presenter,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<GotoBody>,
) -> Result<Json<StateView>, ApiError> {
    act(&app, Action::Goto(body.slide)).await
}

/// Body of `/api/presenter/follow`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowBody {
    choice: String,
}

/// `POST /api/presenter/follow` `{"choice": "id"}`.
pub async fn follow(
    _: Presenter,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<FollowBody>,
) -> Result<Json<StateView>, ApiError> {
    act(&app, Action::Follow(body.choice)).await
}

/// Body of the `/api/presenter/timer/*` commands, all optional: `seconds`
/// is the countdown's length (`start`) or what it adds (`extend`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TimerBody {
    seconds: Option<u64>,
}

/// A timer command's body as read: too large (4 KiB) or cut short is a
/// JSON refusal like every other API answer's.
type TimerBytes = Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>;

/// The body of a timer command: none, `{}`, or `{"seconds": N}` with N
/// from 1 to an hour (not for `cancel`). Anything else is a 400.
fn timer_body(body: TimerBytes, takes_seconds: bool) -> Result<Option<u64>, Error> {
    use crate::talk::timer::MAX_SECONDS;
    let body = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::new(r.status(), "too_large", "The body is too large (4 KiB at most)."),
        status => Error::new(status, "bad_body", r.body_text()),
    })?;
    let bad = |why: String| Error::bad_request("bad_body", why);
    let usage = match takes_seconds {
        true => format!("Send no body, {{}}, or {{\"seconds\": N}} with N a whole number from 1 to {MAX_SECONDS}."),
        false => "Send no body, or {}.".to_string(),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // An object only: serde would take `[20]` for `{"seconds": 20}`.
    let parsed: TimerBody = match serde_json::from_slice(&body) {
        Ok(value @ serde_json::Value::Object(_)) => {
            serde_json::from_value(value).map_err(|e| bad(format!("{usage} ({e})")))?
        }
        Ok(_) => return Err(bad(usage)),
        Err(e) => return Err(bad(format!("{usage} ({e})"))),
    };
    match parsed.seconds {
        None => Ok(None),
        Some(_) if !takes_seconds => Err(bad(usage)),
        Some(s) if (1..=MAX_SECONDS).contains(&s) => Ok(Some(s)),
        Some(_) => Err(bad(usage)),
    }
}

/// `POST /api/presenter/timer/start` `{"seconds": 20}` (optional): starts
/// the open vote's countdown, or starts it again from the full length (the
/// decision's `timer`, else the story's, else 30 s). 409 `no_vote_open`
/// when no vote is open.
pub async fn timer_start(
    _: Presenter,
    State(app): State<AppState>,
    body: TimerBytes,
) -> Result<Json<StateView>, ApiError> {
    let seconds = timer_body(body, true)?;
    act(&app, Action::Timer(Timer::Start(seconds))).await
}

/// `POST /api/presenter/timer/extend` `{"seconds": 15}` (optional; 15 s
/// without): adds time to the running countdown. 409 `no_vote_open` or
/// `no_countdown`.
pub async fn timer_extend(
    _: Presenter,
    State(app): State<AppState>,
    body: TimerBytes,
) -> Result<Json<StateView>, ApiError> {
    let seconds = timer_body(body, true)?.unwrap_or(crate::talk::timer::EXTEND_SECONDS);
    act(&app, Action::Timer(Timer::Extend(seconds))).await
}

/// `POST /api/presenter/timer/cancel`: stops the countdown; the vote stays
/// open. 409 `no_vote_open`.
pub async fn timer_cancel(
    _: Presenter,
    State(app): State<AppState>,
    body: TimerBytes,
) -> Result<Json<StateView>, ApiError> {
    timer_body(body, false)?;
    act(&app, Action::Timer(Timer::Cancel)).await
}

/// One run as history: where it stands, the path taken, each closed
/// decision with its frozen tally and winner.
#[derive(Serialize)]
pub struct RunHistory {
    /// Run number.
    pub run: RunId,
    /// Whether it is the current run.
    pub current: bool,
    /// The presenter's name for the run, if any.
    pub label: Option<String>,
    /// The slide it is (or was last) on.
    pub slide: String,
    /// Slides shown, oldest first.
    pub path: Vec<String>,
    /// The decision whose vote is open, if any.
    pub open: Option<String>,
    /// Closed decisions in the order they closed.
    pub decisions: Vec<DecisionView>,
    /// Who chose the way on from each decision the path went on from:
    /// `vote`, `presenter` (by a choice's number, over the vote, in a tie
    /// or with too few votes), or the tie rule `first` or `random`. Empty
    /// for a run recorded before cyoa kept it.
    pub chosen: BTreeMap<String, ChosenBy>,
}

/// The history of `record`; `current` is the current run's number.
pub fn history(app: &AppState, record: RunRecord, current: RunId) -> RunHistory {
    let story = app.talk.story();
    let decisions = record
        .closed
        .iter()
        .filter_map(|c| {
            let d = story.decision(&c.decision)?;
            Some(DecisionView::new(d, Status::Closed, &c.tally))
        })
        .collect();
    let chosen = crate::talk::rules::chosen_on_path(&story, &record.state);
    RunHistory {
        chosen,
        run: record.state.run,
        current: record.state.run == current,
        label: record.state.label,
        slide: record.state.slide,
        path: record.state.path,
        open: record.state.open,
        decisions,
    }
}

/// `GET /api/runs`.
#[derive(Serialize)]
pub struct Runs {
    /// The current run's number (0 before the first run).
    pub current: RunId,
    /// Every run, oldest first.
    pub runs: Vec<RunHistory>,
}

/// `GET /api/runs`: every run's history, for the presenter; for anyone
/// else, the runs whose results are published (a rehearsal stays the
/// presenter's).
pub async fn runs(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Runs>, ApiError> {
    let records = app.talk.store.runs().await?;
    let current = records.last().map_or(0, |r| r.state.run);
    let presenter = super::results::presenter_reads(&app, &headers);
    Ok(Json(Runs {
        current,
        runs: records
            .into_iter()
            .filter(|r| presenter || r.state.published.results)
            .map(|r| history(&app, r, current))
            .collect(),
    }))
}

/// `GET /api/runs/{run}`: one run's history, for the presenter, or for
/// anyone once its results are published (403 `not_published` before).
pub async fn run(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(run): Path<String>,
) -> Result<Json<RunHistory>, ApiError> {
    let unknown = || Error::not_found("unknown_run", format!("There is no run {run:?}."));
    let id: RunId = run.parse().map_err(|_| unknown())?;
    let record = app.talk.store.run(id).await?.ok_or_else(unknown)?;
    if !record.state.published.results && !super::results::presenter_reads(&app, &headers) {
        return Err(super::results::not_published().into());
    }
    let current = app.talk.store.current(&app.talk.story().start).await?.run;
    Ok(Json(history(&app, record, current)))
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the vote store answers and still holds the talk's data.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    if let Some(why) = app.talk.store.lost() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the vote store lost its data: {why}; restore Redis from its backup, or restart every instance \
                 to begin a new talk (docs/reliability.md)"
            ),
        );
    }
    match app.talk.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the vote store does not answer".to_string(),
            )
        }
    }
}
