//! `GET /presenter/notes`: the presenter console, for a second screen or a
//! phone used as a remote. It shows the slide on screen and what comes
//! next (for a decision, where each choice leads), the speaker notes, the
//! live tally, the time since the run started, and buttons for every
//! presenter command. It follows the run through the presenter socket, as
//! the presenter view does, so a key pressed on either moves both.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use tokio::time::Instant;

use super::error::Error;
use super::pages::PresenterQuery;
use super::state::AppState;
use crate::story::budget::{Span, format_minutes};
use crate::story::{Story, Then, render_markdown};
use crate::talk::view::{StateView, Status};

/// What the console shows of the current slide's decision.
struct ConsoleDecision {
    id: String,
    prompt: String,
    status: &'static str,
    status_text: &'static str,
    open: bool,
    total: u64,
    choices: Vec<ConsoleChoice>,
}

/// A choice, with the slide it leads to.
struct ConsoleChoice {
    id: String,
    number: usize,
    label: String,
    votes: u64,
    winner: bool,
    /// The title of the slide it leads to.
    leads_to: String,
    /// How long the rest of the talk takes along it.
    rest: Option<Budgeted>,
}

/// The rest of the talk along a choice, for the time budget.
struct Budgeted {
    /// "12–18 min" (or "12 min" when every way takes as long).
    text: String,
    /// Along the shortest and the longest way, in seconds.
    shortest: u64,
    longest: u64,
    /// Even its shortest way takes longer than the time left (as the page
    /// was drawn; the page's script keeps it up to date).
    no_fit: bool,
}

impl Budgeted {
    fn new(span: Span, left: Option<i64>) -> Self {
        let text = if format_minutes(span.shortest) == format_minutes(span.longest) {
            format!("{} min", format_minutes(span.shortest))
        } else {
            format!("{}–{} min", format_minutes(span.shortest), format_minutes(span.longest))
        };
        let shortest = (span.shortest * 60.0).round() as u64;
        Budgeted {
            text,
            shortest,
            longest: (span.longest * 60.0).round() as u64,
            no_fit: left.is_some_and(|left| i64::try_from(shortest).unwrap_or(i64::MAX) > left),
        }
    }
}

/// What follows the current slide.
enum Upcoming {
    /// One next slide, by title.
    Slide(String),
    /// The vote decides (the choices say where each leads).
    Vote,
    /// The story ends here.
    Ending,
    /// The run is on a slide the story does not have.
    Unknown,
}

#[derive(Template)]
#[template(path = "notes.html")]
struct ConsolePage {
    theme_mode: Option<String>,
    theme_accent: Option<String>,
    story_title: String,
    run: u64,
    /// The run's label, "" when it has none.
    run_label: String,
    /// The run's room code, when the room code is on: the presenter reads
    /// it out from here too.
    room_code: Option<String>,
    slide_id: String,
    slide_title: String,
    notes_html: String,
    decision: Option<ConsoleDecision>,
    upcoming: Upcoming,
    /// When the run began, ms since the Unix epoch ("" when unknown).
    started: String,
    /// The server's clock when the page was drawn, ms: the page measures
    /// the elapsed time against it, not against the phone's own clock.
    now: u64,
    /// The story's `duration` in seconds ("" when it sets none): the page
    /// counts the time left against it.
    duration: String,
    /// The time left as the page was drawn, "m:ss" ("" without a duration
    /// or a start).
    time_left: String,
    problems: Vec<String>,
    minting: MintFigures,
    /// The open vote's countdown.
    countdown: super::pages::CountdownLine,
}

/// How many voters join, for the console.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MintFigures {
    /// New voters per second over the last [`MINT_WINDOW`], one decimal.
    per_second: f64,
    /// New voters since this instance started.
    minted: u64,
    /// Mints refused by the per-address limit.
    refused_rate: u64,
    /// Mints refused to another site's requests.
    refused_cross_site: u64,
}

/// The span the console's mint rate is measured over.
pub const MINT_WINDOW: Duration = Duration::from_secs(5);

impl MintFigures {
    fn read(app: &AppState, per_second: f64) -> MintFigures {
        let m = &app.traffic.limits.minting;
        MintFigures {
            per_second: (per_second * 10.0).round() / 10.0,
            minted: m.minted.load(Ordering::Relaxed),
            refused_rate: m.refused_rate.load(Ordering::Relaxed),
            refused_cross_site: m.refused_cross_site.load(Ordering::Relaxed),
        }
    }
}

/// Pushes `{"type":"minting",...}` ([`MintFigures`]) to the presenter
/// screens each second the figures changed, until the server stops.
pub async fn minting(app: AppState) {
    let mut stopping = app.talk.stopping();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // (when, minted) of the last seconds: the rate is the change across them.
    let mut seen: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut last = MintFigures::read(&app, 0.0);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopping.changed() => return,
        }
        let now = Instant::now();
        let minted = app.traffic.limits.minting.minted.load(Ordering::Relaxed);
        seen.push_back((now, minted));
        while seen
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > MINT_WINDOW)
        {
            seen.pop_front();
        }
        let per_second = match seen.front() {
            Some((at, first)) if *at < now => {
                minted.saturating_sub(*first) as f64 / now.duration_since(*at).as_secs_f64()
            }
            _ => 0.0,
        };
        let figures = MintFigures::read(&app, per_second);
        if figures != last {
            last = figures;
            let text = serde_json::json!({ "type": "minting", "minting": figures }).to_string();
            app.talk.pushes.presenters(text.into());
        }
    }
}

fn title_of(story: &Story, id: &str) -> String {
    story.slide(id).map_or_else(|| id.to_string(), |s| s.title.clone())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `m:ss` (`h:mm:ss` past an hour), with a minus sign once over: as the
/// console's script writes it.
fn clock(seconds: i64) -> String {
    let sign = if seconds < 0 { "−" } else { "" };
    let s = seconds.unsigned_abs();
    let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
    if h > 0 {
        format!("{sign}{h}:{m:02}:{s:02}")
    } else {
        format!("{sign}{m}:{s:02}")
    }
}

/// `GET /presenter/notes`: the console; `?token=` logs in, as on `/presenter`.
pub async fn console(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<PresenterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    let Query(query) = query?;
    if let Some(login) = super::pages::presenter_door(&app, &headers, query.token, "/presenter/notes")? {
        return Ok(login);
    }
    let story = app.talk.story();
    let view = match StateView::load(&app.talk).await {
        Ok(view) => view,
        Err(e) => return super::pages::store_lost(&app, super::pages::PresenterScreen::Console, e),
    };
    let slide = story.slide(&view.slide.id);
    let story_decision = slide.and_then(|s| match &s.then {
        Then::Decision(d) => Some(d),
        _ => None,
    });
    let now = now_ms();
    // Seconds left of the talk's duration, by the store's start of the run.
    let left = story.settings.duration.zip(view.started).map(|(duration, started)| {
        let elapsed = i64::try_from(now.saturating_sub(started) / 1000).unwrap_or(i64::MAX);
        (duration * 60.0).round() as i64 - elapsed
    });
    let rest = story.rest();
    let decision = view
        .decision
        .as_ref()
        .filter(|d| d.id == view.slide.id)
        .map(|d| ConsoleDecision {
            id: d.id.clone(),
            prompt: d.prompt.clone(),
            status: match d.status {
                Status::Pending => "pending",
                Status::Open => "open",
                Status::Closed => "closed",
            },
            status_text: match d.status {
                Status::Pending => "Vote not open yet",
                Status::Open => "Vote open",
                Status::Closed => "Vote closed",
            },
            open: d.status == Status::Open,
            total: d.total,
            choices: d
                .choices
                .iter()
                .map(|c| ConsoleChoice {
                    id: c.id.clone(),
                    number: c.number,
                    label: c.label.clone(),
                    votes: c.votes,
                    winner: d.winner.as_deref() == Some(c.id.as_str())
                        || d.tie.as_ref().is_some_and(|t| t.contains(&c.id)),
                    leads_to: story_decision
                        .and_then(|sd| sd.choice(&c.id))
                        .map_or_else(String::new, |choice| title_of(&story, &choice.goto)),
                    rest: story_decision
                        .and_then(|sd| sd.choice(&c.id))
                        .and_then(|choice| rest.from(&story, &choice.goto))
                        .map(|span| Budgeted::new(span, left)),
                })
                .collect(),
        });
    let upcoming = match slide.map(|s| &s.then) {
        Some(Then::Next(to)) => Upcoming::Slide(title_of(&story, to)),
        Some(Then::Decision(_)) => Upcoming::Vote,
        Some(Then::Ending) => Upcoming::Ending,
        None => Upcoming::Unknown,
    };
    let run_label = super::runs::label_of(&app, view.run).await?.unwrap_or_default();
    let page = ConsolePage {
        theme_mode: story.settings.theme.mode.clone(),
        theme_accent: story.settings.theme.accent.clone(),
        story_title: story.title.clone(),
        run: view.run,
        run_label,
        room_code: super::room::presenter_code(&app, view.run, view.started),
        slide_id: view.slide.id.clone(),
        slide_title: view.slide.title.clone(),
        notes_html: slide.map(|s| render_markdown(&s.notes)).unwrap_or_default(),
        decision,
        upcoming,
        started: view.started.map(|s| s.to_string()).unwrap_or_default(),
        now,
        duration: story
            .settings
            .duration
            .map(|d| ((d * 60.0).round() as u64).to_string())
            .unwrap_or_default(),
        time_left: left.map(clock).unwrap_or_default(),
        problems: app.talk.story_problems(),
        // The rate since the last push; the next push corrects it.
        minting: MintFigures::read(&app, 0.0),
        countdown: super::pages::CountdownLine::of(&view, crate::i18n::current()),
    };
    page.render().map(|html| Html(html).into_response()).map_err(|e| {
        Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "render",
            "The page could not be drawn.",
        )
        .with_cause(e)
    })
}
