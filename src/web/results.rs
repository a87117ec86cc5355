//! What a run leaves behind: `/results` (the path taken and each decision's
//! final tally) and the exports `/api/runs/{run}.csv` and `.json`, open to
//! the audience once the presenter publishes them; and the live story map
//! of the presenter's overlay, `/presenter/map.svg`.
//!
//! Whether a run's results are published lives in the vote store with the
//! run ([`crate::store::Published`]), so it outlives a restart and every
//! instance agrees; the presenter may read everything at any time.

use std::collections::BTreeMap;

use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::api::{self, RunHistory};
use super::auth::{self, Presenter};
use super::error::{ApiError, ApiJson, Error};
use super::pages::{Look, render, tie_text};
use super::state::AppState;
use super::voter::PageVoter;
use crate::i18n::Language;
use crate::map::RunOnMap;
use crate::store::{ChosenBy, Publication, RunId, RunRecord};
use crate::story::{Results, Story};
use crate::talk::control::Action;
use crate::talk::view::{DecisionView, StateView, current_record};

/// Body of `/api/presenter/results` and `/api/presenter/explore`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    pub(super) published: bool,
}

/// `POST /api/presenter/results` `{"published": true}`: opens (or closes)
/// `/results` and the exports of the current run to everyone.
pub async fn publish(
    _: Presenter,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<PublishBody>,
) -> Result<Json<StateView>, ApiError> {
    api::act(&app, Action::Publish(Publication::Results, body.published)).await
}

/// `POST /api/presenter/explore` `{"published": true}`: opens (or closes)
/// `/explore` for the current run.
pub async fn publish_explore(
    _: Presenter,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<PublishBody>,
) -> Result<Json<StateView>, ApiError> {
    api::act(&app, Action::Publish(Publication::Explore, body.published)).await
}

/// Whether the presenter is reading: the Bearer token, or the presenter
/// cookie (reading changes nothing, so the cookie needs no extra header).
pub fn presenter_reads(app: &AppState, headers: &HeaderMap) -> bool {
    auth::has_presenter_cookie(app, headers) || Presenter::check(app, headers).is_ok()
}

/// Which choice the run followed out of each decision on its path. A
/// decision whose choices share the slide the run went to is left out: the
/// path cannot tell which one it was.
pub fn followed(story: &Story, path: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for step in path.windows(2) {
        if let Some(d) = story.decision(&step[0]) {
            let mut leading = d.choices.iter().filter(|c| c.goto == step[1]);
            if let (Some(c), None) = (leading.next(), leading.next()) {
                out.insert(d.id.clone(), c.id.clone());
            }
        }
    }
    out
}

/// The outcome of a closed decision in words, in the page's language.
fn outcome_text(d: &DecisionView, tr: &Language) -> String {
    match (&d.winner, &d.tie) {
        (Some(w), _) => tr.f("results.winner", &[("label", d.label(w))]),
        (None, Some(tie)) => tie_text(&tie.iter().map(|id| d.label(id)).collect::<Vec<_>>(), tr),
        _ => tr.t("results.nobody").to_string(),
    }
}

struct Step {
    id: String,
    title: String,
    /// The label of the choice followed out of this slide, if it is a decision.
    chose: Option<String>,
    /// Who chose it, when not the vote: "(chosen by the presenter)".
    chosen_by: Option<String>,
}

struct ResultChoice {
    label: String,
    votes: u64,
    percent: u64,
    won: bool,
    followed: bool,
}

struct ResultDecision {
    id: String,
    prompt: String,
    outcome: String,
    /// "3 votes", in the page's language.
    total_text: String,
    tie: bool,
    choices: Vec<ResultChoice>,
    /// Who chose the way on, when not the vote: "(chosen by the presenter)".
    chosen_by: Option<String>,
}

#[derive(Template)]
#[template(path = "results.html")]
struct ResultsPage {
    /// The page's language.
    tr: &'static Language,
    look: Look,
    story_title: String,
    run: RunId,
    /// "Results of run 2", in the page's language.
    heading: String,
    /// Published to the audience (else only the presenter sees this).
    published: bool,
    /// Not published and not the presenter: the page says so, nothing more.
    waiting: bool,
    steps: Vec<Step>,
    decisions: Vec<ResultDecision>,
    /// Every published run side by side, when there are two or more.
    compared: Option<super::runs::Comparison>,
    /// Every run with its publish switch, for the presenter only (empty
    /// for anyone else).
    runs: Vec<super::runs::RunSwitch>,
}

/// Who chose the way on from `decision`, in words, when it was not the vote.
fn chosen_by_text(history: &RunHistory, decision: &str, tr: &Language) -> Option<String> {
    let key = match history.chosen.get(decision)? {
        ChosenBy::Vote => return None,
        ChosenBy::Presenter => "results.by_presenter",
        ChosenBy::First => "results.by_first",
        ChosenBy::Random => "results.by_random",
    };
    Some(tr.t(key).to_string())
}

fn result_decisions(story: &Story, history: &RunHistory, tr: &Language) -> Vec<ResultDecision> {
    let followed = followed(story, &history.path);
    history
        .decisions
        .iter()
        .map(|d| ResultDecision {
            id: d.id.clone(),
            prompt: d.prompt.clone(),
            outcome: outcome_text(d, tr),
            total_text: tr.f("results.total", &[("total", &d.total.to_string())]),
            tie: d.tie.is_some(),
            chosen_by: chosen_by_text(history, &d.id, tr),
            choices: d
                .choices
                .iter()
                .map(|c| ResultChoice {
                    label: c.label.clone(),
                    votes: c.votes,
                    percent: (c.votes * 100 + d.total / 2).checked_div(d.total).unwrap_or(0),
                    won: d.winner.as_deref() == Some(c.id.as_str())
                        || d.tie.as_ref().is_some_and(|t| t.contains(&c.id)),
                    followed: followed.get(&d.id) == Some(&c.id),
                })
                .collect(),
        })
        .collect()
}

fn steps(story: &Story, history: &RunHistory, tr: &Language) -> Vec<Step> {
    let path = &history.path;
    let followed = followed(story, path);
    path.iter()
        .map(|id| {
            let slide = story.slide(id);
            let chose = story
                .decision(id)
                .and_then(|d| d.choice(followed.get(id)?))
                .map(|c| c.label.clone());
            Step {
                id: id.clone(),
                title: slide.map_or_else(|| id.clone(), |s| s.title.clone()),
                chosen_by: chose.as_ref().and_then(|_| chosen_by_text(history, id, tr)),
                chose,
            }
        })
        .collect()
}

/// A page that may change when the presenter publishes: never cached.
fn fresh(status: StatusCode, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /results`: the current run's path and tallies once published (the
/// presenter sees them before); until then a page saying so, 403, that
/// reloads itself when they are published.
pub async fn page(
    State(app): State<AppState>,
    headers: HeaderMap,
    PageVoter { jar, .. }: PageVoter,
) -> Result<Response, Error> {
    // The voter cookie lets the page's script open the live socket.
    let story = app.talk.story();
    let record = current_record(&app.talk).await?;
    let published = record.state.published.results;
    let presenter = presenter_reads(&app, &headers);
    let waiting = !published && !presenter;
    let run = record.state.run;
    let tr = crate::i18n::current();
    let (steps, decisions, compared, runs) = if waiting {
        (Vec::new(), Vec::new(), None, Vec::new())
    } else {
        let history = api::history(&app, record, run);
        let (records, current) = super::runs::records(&app).await?;
        let runs = match presenter {
            true => super::runs::switches(&records, current, tr),
            false => Vec::new(),
        };
        (
            steps(&story, &history, tr),
            result_decisions(&story, &history, tr),
            super::runs::comparison(&app, &records, current, tr),
            runs,
        )
    };
    let html = render(ResultsPage {
        tr,
        look: Look::of(&story),
        story_title: story.title.clone(),
        run,
        heading: tr.f("results.heading", &[("run", &run.to_string())]),
        published,
        waiting,
        steps,
        decisions,
        compared,
        runs,
    })?;
    let status = if waiting { StatusCode::FORBIDDEN } else { StatusCode::OK };
    Ok((jar, fresh(status, html)).into_response())
}

/// A run as the JSON export: its history, the story's title and the choice
/// followed out of each decision.
#[derive(Serialize)]
pub struct RunExport {
    /// The story's title (left out of each run of `/api/runs.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub story: Option<String>,
    /// The run's history, as `GET /api/runs/{run}`.
    #[serde(flatten)]
    pub history: RunHistory,
    /// Decision id -> the choice the talk went on with.
    pub followed: BTreeMap<String, String>,
}

/// Turns a cell that a spreadsheet would run as a formula (it starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return) into plain text.
pub fn spreadsheet_safe(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// The CSV export of one run: a header, then one row per closed decision
/// per choice.
pub fn csv_of(story: &Story, history: &RunHistory) -> Result<String, csv::Error> {
    csv_rows(story, std::slice::from_ref(history))
}

/// The CSV export of several runs: one header, then each run's rows.
pub fn csv_rows(story: &Story, runs: &[RunHistory]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "run",
        "decision",
        "prompt",
        "number",
        "choice",
        "label",
        "votes",
        "total",
        "won",
        "followed",
        "run_label",
        "chosen_by",
    ])?;
    for history in runs {
        csv_run(&mut out, story, history)?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn csv_run(out: &mut csv::Writer<Vec<u8>>, story: &Story, history: &RunHistory) -> Result<(), csv::Error> {
    let followed = followed(story, &history.path);
    for d in &history.decisions {
        for c in &d.choices {
            let won = if d.winner.as_deref() == Some(c.id.as_str()) {
                "yes"
            } else if d.tie.as_ref().is_some_and(|t| t.contains(&c.id)) {
                "tie"
            } else {
                "no"
            };
            let taken = if followed.get(&d.id) == Some(&c.id) {
                "yes"
            } else {
                "no"
            };
            // Who chose the way on, on the row of the choice followed.
            let chosen_by = match history.chosen.get(&d.id) {
                Some(by) if taken == "yes" => by.as_str(),
                _ => "",
            };
            out.write_record([
                history.run.to_string(),
                spreadsheet_safe(&d.id),
                spreadsheet_safe(&d.prompt),
                c.number.to_string(),
                spreadsheet_safe(&c.id),
                spreadsheet_safe(&c.label),
                c.votes.to_string(),
                d.total.to_string(),
                won.to_string(),
                taken.to_string(),
                spreadsheet_safe(history.label.as_deref().unwrap_or_default()),
                chosen_by.to_string(),
            ])?;
        }
    }
    Ok(())
}

/// `GET /api/runs/{run}`, `/api/runs/{run}.csv` and `/api/runs/{run}.json`
/// (one route: a path segment cannot hold a parameter and a suffix).
pub async fn run_or_export(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(run): Path<String>,
) -> Result<Response, ApiError> {
    let story = app.talk.story();
    let (id, csv) = match (run.strip_suffix(".csv"), run.strip_suffix(".json")) {
        (Some(id), _) => (id, true),
        (_, Some(id)) => (id, false),
        _ => return Ok(api::run(State(app), headers, Path(run)).await.into_response()),
    };
    let bad = || Error::bad_request("bad_run", "A run is a number: /api/runs/1.csv or /api/runs/1.json.");
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad().into());
    }
    let id: RunId = id.parse().map_err(|_| bad())?;
    let Some(record) = app.talk.store.run(id).await? else {
        return Err(Error::not_found("unknown_run", format!("There is no run {id}.")).into());
    };
    if !record.state.published.results && !presenter_reads(&app, &headers) {
        return Err(not_published().into());
    }
    let current = app.talk.store.current(&story.start).await?.run;
    let history = api::history(&app, record, current);
    let name = format!(
        "attachment; filename=\"cyoa-run-{id}.{}\"",
        if csv { "csv" } else { "json" }
    );
    let disposition = HeaderValue::from_str(&name).map_err(|e| internal(e, "the file name"))?;
    let mut response = if csv {
        let text = csv_of(&story, &history).map_err(|e| internal(e, "the CSV"))?;
        ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response()
    } else {
        let followed = followed(&story, &history.path);
        Json(RunExport {
            story: Some(story.title.clone()),
            history,
            followed,
        })
        .into_response()
    };
    response.headers_mut().insert(header::CONTENT_DISPOSITION, disposition);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn internal(e: impl std::fmt::Display, what: &str) -> Error {
    Error::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "export",
        "The export could not be made.",
    )
    .with_cause(format!("{what}: {e}"))
}

/// The refusal of a run's results before the presenter publishes them.
pub fn not_published() -> Error {
    Error::new(
        StatusCode::FORBIDDEN,
        "not_published",
        "The results of this run are not published yet; the presenter publishes them after the talk.",
    )
}

/// The current run on the map: its path and its tallies (live for the
/// open vote, unless its results are hidden until it closes: the map is
/// shown on the projector too).
pub async fn run_on_map(app: &AppState, record: &RunRecord) -> Result<RunOnMap, Error> {
    let story = app.talk.story();
    let live = |open: &str| {
        story
            .decision(open)
            .is_none_or(|d| story.results_of(d) == Results::Live)
    };
    let open_tally = match &record.state.open {
        Some(open) if live(open) => Some(app.talk.store.tally(record.state.run, open).await?),
        _ => None,
    };
    Ok(RunOnMap::new(record, open_tally))
}

/// `GET /presenter/map.svg`: the story map with the current run's path and
/// vote shares, for the presenter's overlay (key M); `?run=N` another run,
/// `?run=all` how many runs visited each slide. Presenter only.
pub async fn map_svg(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<axum::extract::Query<super::runs::MapQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    let axum::extract::Query(query) = query?;
    if !presenter_reads(&app, &headers) {
        return Err(Error::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The story map is for the presenter: log in with the presenter URL that `cyoa serve` printed.",
        ));
    }
    let story = app.talk.story();
    let record = current_record(&app.talk).await?;
    let runs = super::runs::map_runs(&app, &query, true, &record).await?;
    // On the projector: the room's language.
    let svg = crate::map::render(&story, runs.options(None, crate::i18n::current()));
    let mut response = fresh(StatusCode::OK, svg);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn cells_that_look_like_formulas_become_text() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(cell), format!("'{cell}"));
        }
        assert_eq!(spreadsheet_safe("Tinder for Pets"), "Tinder for Pets");
        assert_eq!(spreadsheet_safe(""), "");
    }
}
