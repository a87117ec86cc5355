//! Runs compared across talks: the presenter names a run
//! (`POST /api/runs/{run}/label`), and every run is exported at once
//! (`/api/runs.csv`, `/api/runs.json`): the published runs for anyone, all
//! of them for the presenter, as the one-run exports do.
//!
//! The store is read only through [`records`], [`label_of`] and
//! `existing_run` here; a run is changed through the talk's control
//! ([`Action::Label`], [`Action::PublishRun`]), which pushes the new state.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::api::{self, RunHistory};
use super::auth::Presenter;
use super::error::{ApiError, ApiJson, Error};
use super::results::{PublishBody, RunExport, csv_rows, followed, presenter_reads};
use super::state::AppState;
use crate::store::{MAX_LABEL_CHARS, RunId, RunRecord};
use crate::talk::control::{self, Action};

/// Body of `POST /api/runs/{run}/label`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelBody {
    label: String,
}

/// The answer to `POST /api/runs/{run}/label`.
#[derive(Serialize)]
pub struct Labelled {
    /// The run named.
    pub run: RunId,
    /// Its label as kept (trimmed), `null` once removed.
    pub label: Option<String>,
}

/// A label as kept: trimmed, at most [`MAX_LABEL_CHARS`] characters, no
/// control characters; empty removes the label.
pub fn clean_label(label: &str) -> Result<String, Error> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(Error::bad_request(
            "label_too_long",
            format!("A run's label is at most {MAX_LABEL_CHARS} characters."),
        ));
    }
    if label.chars().any(char::is_control) {
        return Err(Error::bad_request(
            "label_control",
            "A run's label is one line of text: no control characters (new lines, tabs).",
        ));
    }
    Ok(label.to_string())
}

/// Every run, oldest first, and the current run's number (0 before the first).
pub async fn records(app: &AppState) -> Result<(Vec<RunRecord>, RunId), Error> {
    let records = app.talk.store.runs().await?;
    let current = records.last().map_or(0, |r| r.state.run);
    Ok((records, current))
}

/// Run `run`'s label, if it has one (the console shows it).
pub async fn label_of(app: &AppState, run: RunId) -> Result<Option<String>, Error> {
    Ok(app.talk.store.run(run).await?.and_then(|r| r.state.label))
}

/// The run named by the path `/api/runs/{run}/...`, if it exists: 404
/// `unknown_run` otherwise.
async fn existing_run(app: &AppState, run: &str) -> Result<RunId, Error> {
    let unknown = || Error::not_found("unknown_run", format!("There is no run {run:?}."));
    let id: RunId = run.parse().map_err(|_| unknown())?;
    match app.talk.store.run(id).await? {
        Some(_) => Ok(id),
        None => Err(unknown()),
    }
}

/// `POST /api/runs/{run}/label` `{"label": "PyCon 2027"}`: names any run
/// (an empty label removes the name), and every open console shows the
/// new name. Presenter only.
pub async fn label(
    _: Presenter,
    State(app): State<AppState>,
    Path(run): Path<String>,
    ApiJson(body): ApiJson<LabelBody>,
) -> Result<Json<Labelled>, ApiError> {
    let label = clean_label(&body.label)?;
    let id = existing_run(&app, &run).await?;
    control::apply(&app.talk, Action::Label(id, label)).await?;
    let kept = label_of(&app, id).await?;
    tracing::info!(run = id, labelled = kept.is_some(), "run label set");
    Ok(Json(Labelled { run: id, label: kept }))
}

/// The answer to `POST /api/runs/{run}/results`.
#[derive(Serialize)]
pub struct RunPublished {
    /// The run.
    pub run: RunId,
    /// Whether its results are open to the audience now.
    pub published: bool,
}

/// `POST /api/runs/{run}/results` `{"published": true}`: opens (or closes)
/// the results of any run to the audience, an earlier one included (a
/// rehearsal published after the talk). Presenter only.
pub async fn publish(
    _: Presenter,
    State(app): State<AppState>,
    Path(run): Path<String>,
    ApiJson(body): ApiJson<PublishBody>,
) -> Result<Json<RunPublished>, ApiError> {
    let id = existing_run(&app, &run).await?;
    control::apply(&app.talk, Action::PublishRun(id, body.published)).await?;
    let published = app.talk.store.run(id).await?.is_some_and(|r| r.state.published.results);
    tracing::info!(run = id, published, "run results published");
    Ok(Json(RunPublished { run: id, published }))
}

/// The runs this reader may see: all for the presenter, the published
/// ones for anyone else.
async fn visible(app: &AppState, headers: &HeaderMap) -> Result<(Vec<RunHistory>, RunId), Error> {
    let (records, current) = records(app).await?;
    let presenter = presenter_reads(app, headers);
    let runs = records
        .into_iter()
        .filter(|r| presenter || r.state.published.results)
        .map(|r| api::history(app, r, current))
        .collect();
    Ok((runs, current))
}

/// `GET /api/runs.json`.
#[derive(Serialize)]
pub struct AllRunsExport {
    /// The story's title.
    pub story: String,
    /// The current run's number (0 before the first run).
    pub current: RunId,
    /// Every run the reader may see, oldest first, as `/api/runs/{run}.json`
    /// without `story`.
    pub runs: Vec<RunExport>,
}

fn download(mut response: Response, name: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(match name {
            "csv" => "attachment; filename=\"cyoa-runs.csv\"",
            _ => "attachment; filename=\"cyoa-runs.json\"",
        }),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/runs.json`: every run at once.
pub async fn all_json(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let story = app.talk.story();
    let (runs, current) = visible(&app, &headers).await?;
    let runs = runs
        .into_iter()
        .map(|history| RunExport {
            story: None,
            followed: followed(&story, &history.path),
            history,
        })
        .collect();
    let body = AllRunsExport {
        story: story.title.clone(),
        current,
        runs,
    };
    Ok(download(Json(body).into_response(), "json"))
}

/// `GET /api/runs.csv`: every run at once, the columns of
/// `/api/runs/{run}.csv`.
pub async fn all_csv(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let story = app.talk.story();
    let (runs, _) = visible(&app, &headers).await?;
    let text = csv_rows(&story, &runs).map_err(|e| {
        Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "export",
            "The export could not be made.",
        )
        .with_cause(format!("the CSV: {e}"))
    })?;
    let response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response();
    Ok(download(response, "csv"))
}

/// One run in the comparison on `/results`.
pub struct ComparedRun {
    pub run: RunId,
    /// Its label, or "Run 2".
    pub name: String,
    /// The titles of the slides it showed, "Intro → Build → …".
    pub path: String,
}

/// One cell of the comparison: one run's share of one choice.
pub struct ComparedCell {
    pub votes: u64,
    pub percent: u64,
    /// The run went on with this choice.
    pub followed: bool,
}

/// One run's row in a decision's comparison; no cells if the run did not
/// close this decision.
pub struct ComparedRow {
    pub run: RunId,
    pub name: String,
    pub total: u64,
    pub cells: Vec<ComparedCell>,
}

/// One decision, every compared run's shares side by side.
pub struct ComparedDecision {
    pub id: String,
    pub prompt: String,
    /// The choices' labels, in story order.
    pub choices: Vec<String>,
    pub rows: Vec<ComparedRow>,
}

/// What `/results` compares: the published runs (at least two, else
/// nothing), their paths, and every decision any of them closed.
pub struct Comparison {
    pub runs: Vec<ComparedRun>,
    pub decisions: Vec<ComparedDecision>,
}

/// A run's name on the page: its label, or "Run 2".
pub fn run_name(run: RunId, label: Option<&str>, tr: &crate::i18n::Language) -> String {
    label.map_or_else(
        || tr.f("results.run_name", &[("run", &run.to_string())]),
        str::to_string,
    )
}

/// One run in the presenter's list on `/results`, with its switch.
pub struct RunSwitch {
    pub run: RunId,
    /// Its label, or "Run 2".
    pub name: String,
    /// Its results are open to the audience.
    pub published: bool,
    /// The run the talk is in now.
    pub current: bool,
}

/// Every run, newest first, for the presenter to publish or take back.
pub fn switches(records: &[RunRecord], current: RunId, tr: &crate::i18n::Language) -> Vec<RunSwitch> {
    records
        .iter()
        .rev()
        .map(|r| RunSwitch {
            run: r.state.run,
            name: run_name(r.state.run, r.state.label.as_deref(), tr),
            published: r.state.published.results,
            current: r.state.run == current,
        })
        .collect()
}

/// The comparison of the published runs for `/results`; `None` when fewer
/// than two runs are published.
pub fn comparison(
    app: &AppState,
    records: &[RunRecord],
    current: RunId,
    tr: &crate::i18n::Language,
) -> Option<Comparison> {
    let story = app.talk.story();
    let runs: Vec<RunHistory> = records
        .iter()
        .filter(|r| r.state.published.results)
        .cloned()
        .map(|r| api::history(app, r, current))
        .collect();
    if runs.len() < 2 {
        return None;
    }
    let name = |h: &RunHistory| run_name(h.run, h.label.as_deref(), tr);
    let compared_runs = runs
        .iter()
        .map(|h| ComparedRun {
            run: h.run,
            name: name(h),
            path: h
                .path
                .iter()
                .map(|id| story.slide(id).map_or_else(|| id.clone(), |s| s.title.clone()))
                .collect::<Vec<_>>()
                .join(" → "),
        })
        .collect();
    // Decisions in the order the story lists them, those any run closed.
    let decisions = story
        .slides
        .iter()
        .filter_map(|slide| story.decision(&slide.id))
        .filter(|d| runs.iter().any(|h| h.decisions.iter().any(|c| c.id == d.id)))
        .map(|d| {
            let rows = runs
                .iter()
                .map(|h| {
                    let followed = followed(&story, &h.path);
                    let closed = h.decisions.iter().find(|c| c.id == d.id);
                    let total = closed.map_or(0, |c| c.total);
                    let cells = closed.map_or_else(Vec::new, |closed| {
                        d.choices
                            .iter()
                            .map(|choice| {
                                let votes = closed.choices.iter().find(|c| c.id == choice.id).map_or(0, |c| c.votes);
                                ComparedCell {
                                    votes,
                                    percent: (votes * 100 + total / 2).checked_div(total).unwrap_or(0),
                                    followed: followed.get(&d.id) == Some(&choice.id),
                                }
                            })
                            .collect()
                    });
                    ComparedRow {
                        run: h.run,
                        name: name(h),
                        total,
                        cells,
                    }
                })
                .collect();
            ComparedDecision {
                id: d.id.clone(),
                prompt: d.prompt.clone(),
                choices: d.choices.iter().map(|c| c.label.clone()).collect(),
                rows,
            }
        })
        .collect();
    Some(Comparison {
        runs: compared_runs,
        decisions,
    })
}

/// `?run=` on the story map: absent (the current run), a run's number,
/// or `all`.
#[derive(Deserialize, Default)]
pub struct MapQuery {
    run: Option<String>,
}

/// What the story map shows: one run's path and shares, or how many runs
/// visited each slide.
pub enum MapRuns {
    One(crate::map::RunOnMap),
    All(crate::map::Visits),
}

/// The runs `?run=` picks for the map: the current run (live) when absent;
/// `N` that run, `all` every run, the presenter's at any time and anyone
/// else's once published (`all`: the published runs only).
pub async fn map_runs(
    app: &AppState,
    query: &MapQuery,
    presenter: bool,
    current: &RunRecord,
) -> Result<MapRuns, Error> {
    match query.run.as_deref() {
        None | Some("") => Ok(MapRuns::One(super::results::run_on_map(app, current).await?)),
        Some("all") => {
            let (records, _) = records(app).await?;
            let visits = crate::map::Visits::of(
                records
                    .iter()
                    .filter(|r| presenter || r.state.published.results)
                    .map(|r| r.state.path.as_slice()),
            );
            Ok(MapRuns::All(visits))
        }
        Some(id) => {
            let bad = || Error::bad_request("bad_run", "?run= is a run's number or all: ?run=2, ?run=all.");
            if id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let id: RunId = id.parse().map_err(|_| bad())?;
            if id == current.state.run {
                return Ok(MapRuns::One(super::results::run_on_map(app, current).await?));
            }
            let Some(record) = app.talk.store.run(id).await? else {
                return Err(Error::not_found("unknown_run", format!("There is no run {id}.")));
            };
            if !presenter && !record.state.published.results {
                return Err(super::results::not_published());
            }
            Ok(MapRuns::One(crate::map::RunOnMap::new(&record, None)))
        }
    }
}

impl MapRuns {
    /// The map's options for these runs.
    pub fn options<'a>(
        &'a self,
        link: Option<&'a str>,
        language: &'a crate::i18n::Language,
    ) -> crate::map::MapOptions<'a> {
        let (run, visits) = match self {
            MapRuns::One(run) => (Some(run), None),
            MapRuns::All(visits) => (None, Some(visits)),
        };
        crate::map::MapOptions {
            run,
            visits,
            link,
            language: Some(language),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clean_label;

    #[test]
    fn labels_are_trimmed_bounded_and_one_line() {
        assert_eq!(clean_label("  PyCon 2027 ").ok().as_deref(), Some("PyCon 2027"));
        assert_eq!(clean_label("   ").ok().as_deref(), Some(""));
        assert!(clean_label(&"é".repeat(80)).is_ok());
        assert!(clean_label(&"é".repeat(81)).is_err());
        assert!(clean_label("a\nb").is_err());
        assert!(clean_label("a\u{7}b").is_err());
    }
}
