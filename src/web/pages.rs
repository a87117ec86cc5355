//! The HTML pages: the audience page (`/`, `/vote/{decision}`, the no-JS
//! form vote) and the presenter view (`/presenter`, its login and logout), in the
//! story's theme, with the join panel (QR code, URL, SMS number) on the
//! presenter's decision and join slides.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use std::convert::Infallible;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{CookieJar, SignedCookieJar};
use serde::Deserialize;

use super::auth::{self, Session, Site};
use super::error::{ApiError, Error, PageForm};
use super::join;
use super::limits::{ClientAddress, Span};
use super::room::{self, Pass, TypedCode};
use super::state::AppState;
use super::voter::{self, VoterCard, VoterCookie};
use crate::i18n::Language;
use crate::store::{Published, RunId, StoreError, VoteKind};
use crate::story::{Decision, Story};
use crate::talk::presence;
use crate::talk::view::{DecisionView, SmsHint, SmsView, StateView, Status};

/// A decision as the templates show it.
struct Panel {
    id: String,
    prompt: String,
    status: &'static str,
    open: bool,
    closed: bool,
    choices: Vec<PanelChoice>,
    total: u64,
    /// The counts are hidden until the vote closes: rows without counts.
    hidden: bool,
    status_text: String,
    winner_text: String,
    /// The decision's `min_votes`, if it has one.
    min_votes: Option<u64>,
    /// "Not enough votes: 3 of 10", while the vote has fewer than
    /// `min_votes` (once opened).
    not_enough: Option<String>,
    /// The same text with `{total}` and `{needed}` left in, for the
    /// presenter view's script.
    not_enough_template: String,
}

struct PanelChoice {
    id: String,
    label: String,
    number: usize,
    letter: String,
    votes: u64,
    /// Share of the votes, rounded to a whole percent.
    percent: u64,
    pressed: bool,
    winner: bool,
}

/// The story's theme as the templates use it (`look-attrs.html`,
/// `look-head.html`): every page the audience or the room sees.
pub(super) struct Look {
    /// `light` or `dark`.
    pub(super) mode: Option<String>,
    /// The colours theme.js applies.
    pub(super) accent: Option<String>,
    pub(super) background: Option<String>,
    pub(super) text: Option<String>,
    /// The URLs of the story's logo and style sheet.
    pub(super) logo: Option<String>,
    pub(super) css: Option<String>,
}

impl Look {
    /// The look of `story`: its mode, colours, logo and style sheet.
    pub(super) fn of(story: &Story) -> Look {
        let theme = &story.settings.theme;
        // A file is linked only when its bytes were read (a story file).
        let url = |a: &Option<crate::story::Asset>| a.as_ref().filter(|a| a.bytes.is_some()).map(|a| a.url());
        Look {
            mode: theme.mode.clone(),
            accent: theme.accent.clone(),
            background: theme.background.clone(),
            text: theme.text.clone(),
            logo: url(&theme.logo),
            css: url(&theme.css),
        }
    }

    /// Whether the story sets a colour, which theme.js applies.
    pub(super) fn colours(&self) -> bool {
        self.accent.is_some() || self.background.is_some() || self.text.is_some()
    }
}

/// The join panel: the QR code, the URL to type, the room code, the number
/// to text.
struct JoinPanel {
    /// The URL the QR code holds: with `?code=` when the room code is on.
    url: String,
    short_url: String,
    /// The QR code's image: `/join.svg`, with the run when the room code
    /// is on, so that a new run's code is not taken from the cache.
    qr_src: String,
    /// The room code to type, when it is on.
    room_code: Option<String>,
    /// The QR code's size in modules (its SVG's own width and height).
    qr_size: usize,
    /// The number to text, shown on a join slide (a decision slide says
    /// what to text with it while its vote can take it, and nothing after).
    sms_number: Option<String>,
    /// The QR code's alt text, in the room's language.
    qr_alt: String,
}

impl JoinPanel {
    /// The panel of run `run`, whose room code is `room_code` (when on).
    fn of(app: &AppState, run: RunId, room_code: Option<String>, join_slide: bool, tr: &Language) -> JoinPanel {
        let url = join::audience_url(app, room_code.as_deref());
        JoinPanel {
            short_url: join::short_url(&app.site.public_url),
            qr_src: match &room_code {
                Some(_) => format!("/join.svg?run={run}"),
                None => "/join.svg".to_string(),
            },
            room_code,
            qr_size: join::qr_modules(&url).unwrap_or(0),
            qr_alt: tr.f("join.qr_alt", &[("url", &url)]),
            url,
            sms_number: SmsView::of(&app.talk).filter(|_| join_slide).map(|s| s.number),
        }
    }
}

/// Whole-percent share of `votes` in `total`.
fn percent(votes: u64, total: u64) -> u64 {
    (votes.saturating_mul(100).saturating_add(total / 2))
        .checked_div(total)
        .unwrap_or(0)
}

/// "Tie: A and B", "Tie: A, B and C" (in the page's language).
pub(super) fn tie_text(labels: &[&str], tr: &Language) -> String {
    match labels {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => {
            let choices = format!("{} {} {last}", init.join(", "), tr.t("page.and"));
            tr.f("page.tie", &[("choices", &choices)])
        }
    }
}

/// "1–3 or A–C" with "or" in the page's language.
fn sms_keys(keys: &str, tr: &Language) -> String {
    keys.replace(" or ", &format!(" {} ", tr.t("page.or")))
}

impl Panel {
    fn new(d: &DecisionView, you: Option<&str>, tr: &Language) -> Self {
        let winner_text = match (&d.winner, &d.tie) {
            (Some(w), _) => d.label(w).to_string(),
            (None, Some(tie)) => tie_text(&tie.iter().map(|id| d.label(id)).collect::<Vec<_>>(), tr),
            _ => String::new(),
        };
        let (status, status_key) = match d.status {
            Status::Pending => ("pending", "page.status_pending"),
            Status::Open => ("open", "page.status_open"),
            Status::Closed => ("closed", "page.status_closed"),
        };
        let status_text = tr.t(status_key).to_string();
        let not_enough = d
            .min_votes
            .filter(|&needed| d.status != Status::Pending && d.total < needed)
            .map(|needed| {
                tr.f(
                    "page.not_enough",
                    &[("total", &d.total.to_string()), ("needed", &needed.to_string())],
                )
            });
        Panel {
            id: d.id.clone(),
            prompt: d.prompt.clone(),
            status,
            open: d.status == Status::Open,
            closed: d.status == Status::Closed,
            choices: d
                .choices
                .iter()
                .map(|c| PanelChoice {
                    id: c.id.clone(),
                    label: c.label.clone(),
                    number: c.number,
                    letter: c.letter.clone(),
                    votes: c.votes,
                    percent: percent(c.votes, d.total),
                    pressed: you == Some(c.id.as_str()),
                    winner: d.winner.as_deref() == Some(c.id.as_str())
                        || d.tie.as_ref().is_some_and(|t| t.contains(&c.id)),
                })
                .collect(),
            total: d.total,
            hidden: d.hidden,
            status_text,
            winner_text,
            min_votes: d.min_votes,
            not_enough,
            not_enough_template: tr.t("page.not_enough").to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "audience.html")]
struct AudiencePage {
    /// The page's language.
    tr: &'static Language,
    /// The line under the buttons: how to vote, or the vote cast.
    hint: String,
    /// "Or text 1–2 or A–B to", before the number.
    sms_text: String,
    look: Look,
    story_title: String,
    run: u64,
    slide_title: String,
    /// The slide image's text alternative, for phones that show no image.
    slide_alt: String,
    decision: Option<Panel>,
    pinned: Option<String>,
    announce: String,
    sms: Option<SmsHint>,
    /// What the presenter published: the links to `/results` and `/explore`.
    published: Published,
    /// A line above the buttons: the last tap did not count ("tap your
    /// choice again").
    notice: Option<String>,
    /// The form's token for this voter (empty: no voter yet).
    form_token: String,
    /// In a presence story, the seconds after which a page without
    /// JavaScript reloads itself (its heartbeat), and the address it loads.
    refresh: Option<(u64, String)>,
    /// The open vote's countdown.
    countdown: CountdownLine,
}

/// The open vote's countdown line, as every page draws it
/// (`templates/countdown.html`); `static/common.js` counts it down from the
/// server's time left.
pub struct CountdownLine {
    /// "The vote closes in {time}" in the page's language: the script's
    /// template for the line.
    pub template: String,
    /// The line as the page was drawn; `None` when no countdown runs (the
    /// line is there, hidden, for the script).
    pub text: Option<String>,
    /// The last 10 seconds: the calmer, clearer look.
    pub ending: bool,
}

impl CountdownLine {
    /// The line for `view`'s countdown, in `tr`.
    pub fn of(view: &StateView, tr: &Language) -> CountdownLine {
        let template = tr.t("page.closes_in").to_string();
        let timer = view.timer.as_ref();
        CountdownLine {
            text: timer.map(|t| template.replace("{time}", &t.clock())),
            ending: timer.is_some_and(|t| t.seconds() <= ENDING_SECONDS),
            template,
        }
    }
}

/// The last seconds of a countdown that the pages mark.
pub const ENDING_SECONDS: u64 = 10;

#[derive(Template)]
#[template(path = "presenter.html")]
struct PresenterPage {
    /// The page's language (the room's, as the audience reads it).
    tr: &'static Language,
    look: Look,
    story_title: String,
    run: u64,
    slide_id: String,
    slide_title: String,
    body_html: String,
    image: Option<String>,
    /// The image's text alternative (empty: decoration).
    image_alt: String,
    /// A slide that is only an image: shown full-bleed, without its title.
    image_only: bool,
    decision: Option<Panel>,
    audience_url: String,
    /// The room code, on the join line of a slide without the join panel.
    room_code: Option<String>,
    sms: Option<SmsHint>,
    /// The join panel, on decision and join slides.
    join: Option<JoinPanel>,
    /// A join slide: the panel is the slide.
    join_slide: bool,
    /// Why the story file's last edit is not served (`serve --watch`).
    problems: Vec<String>,
    /// The open vote's countdown.
    countdown: CountdownLine,
}

/// The page drawn, or the error page saying it could not be.
pub(super) fn render(page: impl Template) -> Result<Html<String>, Error> {
    page.render().map(Html).map_err(|e| {
        Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "render",
            "The page could not be drawn.",
        )
        .with_cause(e)
    })
}

/// The voter of an audience page, and the line that says their last tap
/// did not count.
struct Reader<'a> {
    card: Option<&'a VoterCard>,
    notice: Option<&'static str>,
}

fn audience_page(
    app: &AppState,
    view: &StateView,
    pinned: Option<&str>,
    reader: Reader,
) -> Result<Html<String>, Error> {
    let tr = crate::i18n::current();
    let you = view.you.as_deref();
    let decision = view.decision.as_ref().map(|d| Panel::new(d, you, tr));
    let you_label = match (&view.decision, you) {
        (Some(d), Some(you)) => d.label(you).to_string(),
        _ => String::new(),
    };
    let announce = match &decision {
        Some(d) if d.open => tr.f("page.announce_open", &[("prompt", &d.prompt)]),
        Some(d) if d.closed => tr
            .f("page.announce_closed", &[("outcome", &d.winner_text)])
            .trim()
            .to_string(),
        _ => String::new(),
    };
    let hint = if you_label.is_empty() {
        tr.t("page.hint_vote").to_string()
    } else {
        tr.f("page.hint_voted", &[("label", &you_label)])
    };
    // Only while the vote is open: a text counts only then.
    let sms = view
        .decision
        .as_ref()
        .filter(|d| d.status == Status::Open)
        .and_then(|d| SmsHint::of(view, d))
        .map(|mut s| {
            s.keys = sms_keys(&s.keys, tr);
            s
        });
    let sms_text = sms
        .as_ref()
        .map(|s| tr.f("page.or_text", &[("keys", &s.keys)]))
        .unwrap_or_default();
    // `pinned` is a known decision id (`[a-z0-9-]`), safe in a URL.
    let refresh = (presence::kind(&app.talk) == VoteKind::Presence).then(|| {
        let here = pinned.map_or_else(|| "/".to_string(), |d| format!("/vote/{d}"));
        (presence::page_refresh(&app.talk).as_secs(), format!("{here}?{HERE}=1"))
    });
    let story = app.talk.story();
    render(AudiencePage {
        tr,
        hint,
        sms_text,
        look: Look::of(&story),
        story_title: story.title.clone(),
        run: view.run,
        slide_title: view.slide.title.clone(),
        slide_alt: story.slide(&view.slide.id).map(|s| s.alt.clone()).unwrap_or_default(),
        decision,
        pinned: pinned.map(str::to_string),
        announce,
        sms,
        published: view.published,
        notice: reader.notice.map(|key| tr.t(key).to_string()),
        form_token: reader.card.map(|c| voter::form_token(app, &c.id)).unwrap_or_default(),
        refresh,
        countdown: CountdownLine::of(view, tr),
    })
}

/// The query parameter of a no-JavaScript page's reload: the voter is
/// still on the page (see [`presence::page_loaded`]).
const HERE: &str = "here";

/// The query of the audience pages.
#[derive(Deserialize)]
pub struct PageQuery {
    /// Set by the page's own reload in a presence story.
    here: Option<String>,
}

/// What an audience page load brings: who asks, and from where.
pub struct AudienceRequest {
    headers: HeaderMap,
    typed: TypedCode,
    cookie: VoterCookie,
    ip: Option<std::net::IpAddr>,
    query: Result<Query<PageQuery>, QueryRejection>,
}

impl FromRequestParts<AppState> for AudienceRequest {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Infallible> {
        let Ok(typed) = TypedCode::from_request_parts(parts, app).await;
        let Ok(ClientAddress(ip)) = ClientAddress::from_request_parts(parts, app).await;
        Ok(AudienceRequest {
            cookie: VoterCookie::from_headers(app, &parts.headers),
            query: Query::<PageQuery>::from_request_parts(parts, app).await,
            headers: parts.headers.clone(),
            typed,
            ip,
        })
    }
}

/// An audience page load at `here`: the room's door first (when the room
/// code is on; no voter is minted behind it), then the voter (minted now
/// within the address's limit), the reload's lease, and the page.
async fn audience_load(
    app: &AppState,
    decision: Option<&Decision>,
    here: &str,
    request: AudienceRequest,
) -> Result<Response, Error> {
    let AudienceRequest {
        headers,
        typed,
        cookie,
        ip,
        query,
    } = request;
    if let Some(door) = room::door(app, &headers, &typed, here).await? {
        return Ok(door);
    }
    let (jar, card) = voter::page_voter(app, &cookie, &headers, ip)?;
    let voter = card.as_ref().map(VoterCard::voter);
    if let (Some(voter), Ok(Query(PageQuery { here: Some(_) }))) = (&voter, query) {
        presence::page_loaded(&app.talk, voter).await;
    }
    let view = StateView::read(&app.talk, voter.as_ref(), decision).await?;
    let reader = Reader {
        card: card.as_ref(),
        notice: None,
    };
    Ok((jar, audience_page(app, &view, decision.map(|d| d.id.as_str()), reader)?).into_response())
}

/// `GET /`: the audience page, following the run (behind the join page
/// when the room code is on).
pub async fn audience(State(app): State<AppState>, request: AudienceRequest) -> Result<Response, Error> {
    audience_load(&app, None, "/", request).await
}

/// `GET /vote/{decision}`: the audience page pinned to one decision.
pub async fn pinned(
    State(app): State<AppState>,
    Path(decision): Path<String>,
    request: AudienceRequest,
) -> Result<Response, Error> {
    let story = app.talk.story();
    let d = known_decision(&story, &decision)?;
    // `d.id` is a decision id (`[a-z0-9-]`), safe in a URL.
    audience_load(&app, Some(d), &format!("/vote/{}", d.id), request).await
}

fn known_decision<'a>(story: &'a Story, decision: &str) -> Result<&'a Decision, Error> {
    story
        .decision(decision)
        .ok_or_else(|| Error::not_found("unknown_decision", format!("There is no vote called {decision:?}.")))
}

/// The no-JavaScript vote form.
#[derive(Deserialize)]
pub struct VoteForm {
    choice: String,
    /// The page's token for its voter ([`voter::form_token`]).
    token: Option<String>,
}

/// `POST /vote/{decision}`: a vote from the page's form, then back to the
/// pinned page. It counts only from our own site (or, when the browser
/// does not say, with the page's token), with a voter cookie a page
/// issued at least `--voter-min-age` ago. Without a valid cookie it
/// counts nothing and answers the page with a new cookie and "tap your
/// choice again"; with a cookie too young, the same without a new cookie.
pub async fn vote(
    State(app): State<AppState>,
    Path(decision): Path<String>,
    headers: HeaderMap,
    ClientAddress(ip): ClientAddress,
    pass: Pass,
    cookie: VoterCookie,
    PageForm(form): PageForm<VoteForm>,
) -> Result<Response, Error> {
    let site = auth::site(&app, &headers);
    if site == Site::Foreign {
        crate::metrics::vote_refused("cross_origin");
        return Err(auth::cross_site("Votes"));
    }
    let story = app.talk.story();
    // A vote, refused before it reaches `control::cast`: counted here.
    let d = known_decision(&story, &decision).inspect_err(|e| crate::metrics::vote_refused(e.code))?;
    let Some(card) = cookie.card() else {
        crate::metrics::vote_refused("no_voter");
        if site == Site::Unsaid {
            // Perhaps another site's form in a browser that does not say:
            // no voter is minted and no cookie replaced.
            return Err(Error::new(
                StatusCode::FORBIDDEN,
                "no_voter",
                "This vote came without a voter cookie: open the vote page, then tap your choice there.",
            ));
        }
        let (jar, card) = voter::page_voter(&app, &cookie, &headers, ip)?;
        return tap_again(&app, d, card.as_ref(), jar).await;
    };
    if site == Site::Unsaid && !voter::form_token_matches(&app, &card.id, form.token.as_deref()) {
        crate::metrics::vote_refused("bad_token");
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "bad_token",
            "This vote did not come from cyoa's own page: open the vote page, then tap your choice there.",
        ));
    }
    if voter::old_enough(&app, card.issued_ms).is_err() {
        return tap_again(&app, d, Some(card), SignedCookieJar::new(app.access.key.clone())).await;
    }
    let voter = card.voter();
    // The form is a page's vote: present while the page reloads itself,
    // its lease renewed by the vote itself.
    app.cast_from_page(pass, &voter, &d.id, &form.choice).await?;
    Ok(Redirect::to(&format!("/vote/{}", d.id)).into_response())
}

/// A form vote that counted nothing: 409 with the pinned page, `jar`
/// (a new cookie, or none) and "tap your choice again".
async fn tap_again(
    app: &AppState,
    d: &Decision,
    card: Option<&VoterCard>,
    jar: SignedCookieJar,
) -> Result<Response, Error> {
    let view = StateView::read(&app.talk, card.map(VoterCard::voter).as_ref(), Some(d)).await?;
    let reader = Reader {
        card,
        notice: Some("page.tap_again"),
    };
    let page = audience_page(app, &view, Some(&d.id), reader)?;
    Ok((StatusCode::CONFLICT, jar, page).into_response())
}

/// The login query of `/presenter`.
#[derive(Deserialize)]
pub struct PresenterQuery {
    /// The presenter token, to log in.
    pub token: Option<String>,
}

/// The door of a presenter page at `here`: `?token=` logs in and answers
/// with a redirect to `here` (`Some`); a logged-in presenter passes
/// (`None`); anyone else gets the login page.
pub fn presenter_door(
    app: &AppState,
    headers: &HeaderMap,
    token: Option<String>,
    here: &'static str,
) -> Result<Option<Response>, Error> {
    if let Some(token) = token {
        if token.is_empty() || !auth::token_matches(app, &token) {
            return Err(login_needed(app, "That presenter token is wrong."));
        }
        let jar = SignedCookieJar::new(app.access.key.clone()).add(auth::presenter_cookie(app));
        // 303 to the bare URL, so the token leaves the address bar and history.
        return Ok(Some((jar, Redirect::to(here)).into_response()));
    }
    match auth::presenter_session(app, headers) {
        Session::Valid => Ok(None),
        Session::Expired => Err(login_needed(
            app,
            &format!(
                "Your presenter login has expired (a login lasts {}).",
                Span(app.access.presenter_sessions.max_age())
            ),
        )),
        Session::None => Err(login_needed(app, "This page is for the presenter.")),
    }
}

/// `POST /presenter/logout`: this browser forgets its presenter login (the
/// cookie is removed), then goes to the logged-out page. Only the
/// presenter's own pages may ask (the rule of the presenter API), so another
/// site cannot log the presenter out in the middle of the talk.
pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    auth::from_presenter_page(&app, &headers)?;
    let jar = CookieJar::new().add(auth::presenter_cookie_removal());
    Ok((jar, Redirect::to("/presenter/logged-out")).into_response())
}

#[derive(Template)]
#[template(path = "logged-out.html")]
struct LoggedOutPage {
    theme_mode: Option<String>,
    theme_accent: Option<String>,
    /// Where to log in again (without the token).
    login: String,
}

/// `GET /presenter/logged-out`: where the logout leads; it changes nothing.
pub async fn logged_out(State(app): State<AppState>) -> Result<Html<String>, Error> {
    let story = app.talk.story();
    render(LoggedOutPage {
        theme_mode: story.settings.theme.mode.clone(),
        theme_accent: story.settings.theme.accent.clone(),
        login: login_url(&app),
    })
}

/// `GET /presenter`: the presenter view; `?token=` logs in.
pub async fn presenter(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<PresenterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    let Query(query) = query?;
    if let Some(login) = presenter_door(&app, &headers, query.token, "/presenter")? {
        return Ok(login);
    }
    let view = match StateView::load(&app.talk).await {
        Ok(view) => view,
        Err(e) => return store_lost(&app, PresenterScreen::View, e),
    };
    let story = app.talk.story();
    let slide = story.slide(&view.slide.id);
    let join_slide = slide.is_some_and(|s| s.join);
    let tr = crate::i18n::current();
    let room_code = room::presenter_code(&app, view.run, view.started);
    let join = (join_slide || view.decision.is_some())
        .then(|| JoinPanel::of(&app, view.run, room_code.clone(), join_slide, tr));
    let page = PresenterPage {
        tr,
        look: Look::of(&story),
        story_title: story.title.clone(),
        run: view.run,
        slide_id: view.slide.id.clone(),
        slide_title: view.slide.title.clone(),
        body_html: slide.map(|s| s.body_html()).unwrap_or_default(),
        image: slide.and_then(|s| s.image.clone()),
        image_alt: slide.map(|s| s.alt.clone()).unwrap_or_default(),
        image_only: slide.is_some_and(|s| s.is_image_only()),
        decision: view.decision.as_ref().map(|d| Panel::new(d, None, tr)),
        audience_url: format!("{}/", app.site.public_url),
        room_code,
        // On a decision slide, until its vote closes.
        sms: view
            .decision
            .as_ref()
            .filter(|d| d.status != Status::Closed)
            .and_then(|d| SmsHint::of(&view, d))
            .map(|mut s| {
                s.keys = sms_keys(&s.keys, tr);
                s
            }),
        join,
        join_slide,
        problems: app.talk.story_problems(),
        countdown: CountdownLine::of(&view, tr),
    };
    Ok(render(page)?.into_response())
}

/// One of the presenter's screens.
#[derive(Clone, Copy)]
pub(super) enum PresenterScreen {
    /// `/presenter`, on the projector.
    View,
    /// `/presenter/notes`, the console.
    Console,
}

/// The page a presenter's screen shows instead of the slide while the
/// vote store is taken for having lost its data: a banner saying so and
/// what the operator does; 503, like every call then. Its `<main>` has the
/// screen's id, so a screen already open swaps it in when its socket says
/// to draw the page anew.
#[derive(Template)]
#[template(path = "store-lost.html")]
struct StoreLostPage<'a> {
    theme_mode: Option<String>,
    theme_accent: Option<String>,
    story_title: String,
    main_id: &'static str,
    body_class: &'static str,
    script: &'static str,
    why: &'a str,
}

/// What a presenter's screen answers when its state could not be read
/// (`failed`): the store-lost page if that is why, else the error.
pub(super) fn store_lost(app: &AppState, screen: PresenterScreen, failed: StoreError) -> Result<Response, Error> {
    let Some(why) = app.talk.store.lost() else {
        return Err(failed.into());
    };
    let story = app.talk.story();
    let (main_id, body_class, script) = match screen {
        PresenterScreen::View => ("presenter", "presenter", "presenter.js"),
        PresenterScreen::Console => ("console", "console", "notes.js"),
    };
    let page = StoreLostPage {
        theme_mode: story.settings.theme.mode.clone(),
        theme_accent: story.settings.theme.accent.clone(),
        story_title: story.title.clone(),
        main_id,
        body_class,
        script,
        why: &why,
    };
    Ok((StatusCode::SERVICE_UNAVAILABLE, render(page)?).into_response())
}

pub(super) fn login_needed(app: &AppState, why: &str) -> Error {
    Error::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!(
            "{why} Log in with the presenter URL and the presenter token (`cyoa serve` prints both when it makes the token): {}",
            login_url(app)
        ),
    )
}

/// The login URL as a page may show it: the token left out.
fn login_url(app: &AppState) -> String {
    format!("{}/presenter?token=…", app.site.public_url)
}

/// Anything else: a 404 page, or JSON under `/api/`.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let e = Error::not_found("not_found", "There is nothing at this address.");
    if uri.path().starts_with("/api/") {
        super::error::ApiError(e).into_response()
    } else {
        e.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::{percent, sms_keys, tie_text};

    #[test]
    fn shares_are_rounded_whole_percents() {
        assert_eq!(
            (percent(1, 3), percent(2, 3), percent(0, 0), percent(5, 5)),
            (33, 67, 0, 100)
        );
    }

    #[test]
    fn ties_read_as_a_sentence() {
        let en = crate::i18n::english();
        assert_eq!(tie_text(&["A", "B"], en), "Tie: A and B");
        assert_eq!(tie_text(&["A", "B", "C"], en), "Tie: A, B and C");
        let de = crate::i18n::get("de").expect("German");
        assert_eq!(tie_text(&["A", "B"], de), "Gleichstand: A und B");
        assert_eq!(sms_keys("1–2 or A–B", de), "1–2 oder A–B");
    }
}
