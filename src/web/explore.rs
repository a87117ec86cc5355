//! Explore mode: after the talk the audience browses every branch, the
//! paths not taken too. `/explore` shows the story map (each box a link)
//! and `/explore/{slide}` one slide with its choices as links, the run's
//! own path marked. The presenter opens it (key E, or
//! `POST /api/presenter/explore`); until then both answer 403 with a page
//! that shows nothing of the story, so nobody can peek ahead during the talk.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::Error;
use super::pages::{Look, render};
use super::results::{followed, run_on_map};
use super::state::AppState;
use super::voter::PageVoter;
use crate::i18n::Language;
use crate::map::RunOnMap;
use crate::store::RunRecord;
use crate::story::{Story, Then};
use crate::talk::view::current_record;

struct ExploreChoice {
    label: String,
    href: String,
    /// The run went this way.
    taken: bool,
    /// "62% (31 votes)" when the run voted on it.
    share: Option<String>,
}

struct ExploreSlide {
    id: String,
    title: String,
    body_html: String,
    image: Option<String>,
    /// The run passed through this slide.
    on_path: bool,
    prompt: Option<String>,
    choices: Vec<ExploreChoice>,
    /// The `next` slide: its link and "Next: its title".
    next: Option<(String, String)>,
    ending: bool,
}

#[derive(Template)]
#[template(path = "explore.html")]
struct ExplorePage {
    /// The page's language.
    tr: &'static Language,
    look: Look,
    story_title: String,
    run: u64,
    /// Opened by the presenter; false: the page says so and shows nothing.
    published: bool,
    start: String,
    /// The index page's map (inline SVG, its text escaped by the map).
    map_svg: Option<String>,
    slide: Option<ExploreSlide>,
}

fn page(story: &Story, record: &RunRecord) -> ExplorePage {
    ExplorePage {
        tr: crate::i18n::current(),
        look: Look::of(story),
        story_title: story.title.clone(),
        run: record.state.run,
        published: record.state.published.explore,
        start: story.start.clone(),
        map_svg: None,
        slide: None,
    }
}

/// The waiting page: 403, nothing of the story but its title.
fn not_yet(page: ExplorePage) -> Result<Response, Error> {
    Ok((StatusCode::FORBIDDEN, render(page)?).into_response())
}

/// `GET /explore`: the story map, every box a link to its first slide.
/// `?run=N` colours it by that published run, `?run=all` by every
/// published run (how many visited each slide).
pub async fn index(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    query: Result<axum::extract::Query<super::runs::MapQuery>, axum::extract::rejection::QueryRejection>,
    PageVoter { jar, .. }: PageVoter,
) -> Result<Response, Error> {
    let axum::extract::Query(query) = query?;
    let story = app.talk.story();
    let record = current_record(&app.talk).await?;
    let mut page = page(&story, &record);
    if !page.published {
        return Ok((jar, not_yet(page)?).into_response());
    }
    let presenter = super::results::presenter_reads(&app, &headers);
    let runs = super::runs::map_runs(&app, &query, presenter, &record).await?;
    page.map_svg = Some(crate::map::render(&story, runs.options(Some("/explore/"), page.tr)));
    Ok((jar, render(page)?).into_response())
}

/// `GET /explore/{slide}`: one slide, its choices as links.
pub async fn slide(
    State(app): State<AppState>,
    Path(id): Path<String>,
    PageVoter { jar, .. }: PageVoter,
) -> Result<Response, Error> {
    let story = app.talk.story();
    let record = current_record(&app.talk).await?;
    let mut page = page(&story, &record);
    // Before it opens, every address answers alike: whether a slide
    // exists is story content too.
    if !page.published {
        return Ok((jar, not_yet(page)?).into_response());
    }
    let Some(slide) = story.slide(&id) else {
        return Err(Error::not_found(
            "unknown_slide",
            "There is no such slide in this story; start again from the map at /explore.",
        ));
    };
    let run = run_on_map(&app, &record).await?;
    let chose = followed(&story, &record.state.path);
    let (prompt, choices, next, ending) = match &slide.then {
        Then::Decision(d) => {
            let tally = run.tallies.get(&d.id);
            let total = tally.map_or(0, |t| d.choices.iter().map(|c| t.get(&c.id)).sum::<u64>());
            let tr = page.tr;
            let choices = d
                .choices
                .iter()
                .map(|c| ExploreChoice {
                    label: c.label.clone(),
                    href: format!("/explore/{}", c.goto),
                    taken: chose.get(&d.id) == Some(&c.id),
                    share: tally.filter(|_| total > 0).map(|t| {
                        let votes = t.get(&c.id);
                        let percent = (votes * 100 + total / 2) / total;
                        tr.f(
                            "explore.share",
                            &[
                                ("percent", &percent.to_string()),
                                ("votes", &votes.to_string()),
                                ("total", &total.to_string()),
                            ],
                        )
                    }),
                })
                .collect();
            (Some(d.prompt.clone()), choices, None, false)
        }
        Then::Next(to) => {
            let title = story.slide(to).map_or_else(|| to.clone(), |s| s.title.clone());
            let next = page.tr.f("explore.next", &[("title", &title)]);
            (None, Vec::new(), Some((format!("/explore/{to}"), next)), false)
        }
        Then::Ending => (None, Vec::new(), None, true),
    };
    page.slide = Some(ExploreSlide {
        id: slide.id.clone(),
        title: slide.title.clone(),
        body_html: slide.body_html(),
        image: slide.image.clone(),
        on_path: on_path(&run, &slide.id),
        prompt,
        choices,
        next,
        ending,
    });
    Ok((jar, render(page)?).into_response())
}

fn on_path(run: &RunOnMap, slide: &str) -> bool {
    run.path.iter().any(|s| s == slide)
}
