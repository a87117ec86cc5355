//! The story: a talk as slides, decisions and choices.
//!
//! A story is loaded once from a TOML file (see `docs/story-format.md`),
//! checked, and immutable after that: everything else in cyoa reads it.
//!
//! Loading: `load` reads the file and walks toml's spanned tree (with
//! `settings`, `decision` and the helpers in `fields`), recording problems
//! with byte offsets; `check` looks at the slides as a graph (reachability,
//! loops, the summary); `diag` turns offsets into lines and columns. `sms`
//! holds the one normal form SMS text is matched in, and `markdown` renders
//! slide bodies.

pub mod budget;
mod check;
mod decision;
mod diag;
mod fields;
pub mod fit;
mod load;
mod markdown;
mod rules;
mod settings;
mod sms;
mod split;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use check::Summary;
pub use diag::{Diagnostic, Loaded, Severity};
pub use load::{DEFAULT_PRESENCE_GRACE, MAX_CHOICES, MAX_FILE_BYTES, MAX_ID_LEN, MAX_PRESENCE_GRACE, MIN_CHOICES};
pub use markdown::render as render_markdown;
pub use rules::{MAX_MIN_VOTES, MAX_TIMER, Tie};
pub use settings::MAX_SLIDE_IMAGE_BYTES;
pub use sms::normalise;

/// The bundled talk, served when no `--story` is given.
pub const BUNDLED_NAME: &str = "stories/wsgi-deployment-adventure.toml";
/// The bundled talk's text, compiled in so the binary serves it from anywhere.
pub const BUNDLED_TEXT: &str = include_str!("../../stories/wsgi-deployment-adventure.toml");
/// The story `cyoa new` writes: a few slides, one decision, two endings,
/// and a comment on every field.
pub const STARTER_TEXT: &str = include_str!("../../stories/starter.toml");

/// A whole talk: its slides, where it starts and how it votes.
#[derive(Debug, Clone)]
pub struct Story {
    /// Shown on the presenter view and the audience page.
    pub title: String,
    /// Id of the first slide of every run.
    pub start: String,
    /// Story-wide settings (vote mode, grace, SMS texts, theme).
    pub settings: Settings,
    /// Every slide, in file order.
    pub slides: Vec<Slide>,
    index: HashMap<String, usize>,
}

/// Story-wide settings, all optional in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// How web votes count: while the voter stays on the page, or for good.
    pub web_votes: WebVotes,
    /// How long a presence vote outlives its voter's last open page.
    pub presence_grace: Duration,
    /// Texts of the SMS replies.
    pub sms: SmsTexts,
    /// Look of the pages.
    pub theme: Theme,
    /// Whether open votes show their counts; a decision may say otherwise.
    pub results: Results,
    /// The audience's language (`en`, `de`); `None` follows each browser's
    /// `Accept-Language`.
    pub language: Option<String>,
    /// Whether joining needs the room code shown on the presenter's join
    /// panel (`cyoa serve --room-code` turns it on too).
    pub room_code: bool,
    /// The decision rules of every decision that sets none of its own.
    pub rules: Rules,
    /// How long the talk may take, in minutes (`duration`): `cyoa check`
    /// warns when its longest path takes longer, and the console counts
    /// the time left against it.
    pub duration: Option<f64>,
}

/// What makes a closed vote the way on when the presenter presses Next;
/// each field unset follows the story's `[settings]`, then the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    /// The fewest votes for Next to follow the vote (`min_votes`); below
    /// it the presenter follows a choice by its number. `None`: no minimum.
    pub min_votes: Option<u64>,
    /// What Next does on a tie (`tie`); `None`: the default,
    /// [`Tie::Presenter`].
    pub tie: Option<Tie>,
    /// The countdown, in seconds, that starts when the vote opens and
    /// closes it at zero (`timer`); `None`: the vote stays open until the
    /// presenter closes it.
    pub timer: Option<u64>,
}

impl Rules {
    /// These rules, with `defaults` where they set nothing.
    pub fn or(self, defaults: Rules) -> Rules {
        Rules {
            min_votes: self.min_votes.or(defaults.min_votes),
            tie: self.tie.or(defaults.tie),
            timer: self.timer.or(defaults.timer),
        }
    }
}

/// Whether the room sees a decision's counts while its vote is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Results {
    /// Counts and bars move as votes arrive.
    #[default]
    Live,
    /// Only the number of votes shows until the vote closes, so the room
    /// does not follow the crowd; the counts appear when it closes.
    Hidden,
}

/// How a web vote counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebVotes {
    /// Counts while at least one of the voter's audience pages is open
    /// (the talk's rule), withdrawn a grace period after the last one closes.
    #[default]
    Presence,
    /// Counts until the voter changes it, page open or not.
    Sticky,
}

/// Texts of the SMS replies; `None` means cyoa's own text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SmsTexts {
    /// Whether to reply at all (replies cost money).
    pub replies: bool,
    /// Reply to a counted vote. `{label}` and `{choice}` are replaced.
    pub confirm: Option<String>,
    /// Reply to text that matches no choice. `{options}` is replaced.
    pub help: Option<String>,
    /// Reply when no vote is open.
    pub closed: Option<String>,
}

/// Look of the pages.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Theme {
    /// `light` or `dark`; `None` follows the viewer's system setting.
    pub mode: Option<String>,
    /// Accent colour as CSS (`#c03` or a name).
    pub accent: Option<String>,
    /// Page background colour as CSS; `None`: the light or dark default.
    pub background: Option<String>,
    /// Text colour as CSS; `None`: one that reads on the background.
    pub text: Option<String>,
    /// An image file next to the story, shown on every page.
    pub logo: Option<Asset>,
    /// A style sheet next to the story, loaded after cyoa's own.
    pub css: Option<Asset>,
}

/// A file next to the story (a logo, a style sheet) that cyoa serves at
/// `/story-assets/{name}`. Read once when the story file is loaded, so a
/// request never touches the file system.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    /// The path as written in the story, relative to the story's folder:
    /// plain names joined by `/`, never `..`.
    pub name: String,
    /// Its MIME type, from its extension.
    pub content_type: &'static str,
    /// Its bytes; `None` for a story read from text rather than a file
    /// ([`Story::parse`]), which has no folder to read it from.
    pub bytes: Option<Arc<[u8]>>,
    /// Where `name` is in the story's text, for messages.
    pub(crate) at: usize,
}

impl Asset {
    /// Its URL on the server.
    pub fn url(&self) -> String {
        format!("/story-assets/{}", self.name)
    }
}

/// One slide of the talk.
#[derive(Debug, Clone, PartialEq)]
pub struct Slide {
    /// Unique id, also used in URLs: `[a-z0-9-]{1,64}`.
    pub id: String,
    /// Heading shown on the slide.
    pub title: String,
    /// The body as written, in Markdown; shown through [`Slide::body_html`].
    pub body: String,
    /// Speaker notes in Markdown, shown only on the presenter console
    /// (`/presenter/notes`), never to the audience.
    pub notes: String,
    /// Optional image path or URL shown with the slide; a path to a file
    /// in the story's folder becomes that file's `/story-assets/` URL once
    /// the file is read.
    pub image: Option<String>,
    /// The image's text alternative (`alt`), for those who cannot see it;
    /// empty when the image is decoration.
    pub alt: String,
    /// The image file next to the story that `image` names, if it names one
    /// (a relative path such as `talk-slides/01.png`).
    pub image_file: Option<Asset>,
    /// A join slide (`join = true`): the presenter view shows the QR code
    /// of the audience URL large, with the URL and the SMS number.
    pub join: bool,
    /// How many minutes the slide takes (`minutes`); `None` counts
    /// [`budget::DEFAULT_SLIDE_MINUTES`].
    pub minutes: Option<f64>,
    /// Where the talk goes after this slide.
    pub then: Then,
}

impl Slide {
    /// Whether the slide is only an image (no body, decision or join
    /// panel): the presenter view shows it full-bleed, without its title.
    pub fn is_image_only(&self) -> bool {
        self.image.is_some() && self.body.trim().is_empty() && !self.join && !matches!(self.then, Then::Decision(_))
    }

    /// The body rendered to HTML; raw HTML in the Markdown is shown as text
    /// (see [`render_markdown`]). Rendered when a page asks for it, not at
    /// load: a slide renders in microseconds, and a big story loads faster
    /// without rendering the slides nobody reaches.
    pub fn body_html(&self) -> String {
        markdown::render(&self.body)
    }
}

/// What follows a slide.
#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    /// Goes on to the slide with this id.
    Next(String),
    /// The audience votes; each choice goes to its own slide.
    Decision(Decision),
    /// The talk ends here.
    Ending,
}

/// A question put to the audience. Its id is the id of its slide.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Id of the slide that holds it; also the decision's URL segment.
    pub id: String,
    /// The question.
    pub prompt: String,
    /// 2 to 9 choices, in the order shown and numbered over SMS.
    pub choices: Vec<Choice>,
    /// Overrides the story's `results` for this decision.
    pub results: Option<Results>,
    /// Its own `min_votes` and `tie`, as written (see [`Story::rules_of`]).
    pub rules: Rules,
}

/// One answer of a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Unique within its decision: `[a-z0-9-]{1,64}`.
    pub id: String,
    /// What the audience sees on the button.
    pub label: String,
    /// Extra words that vote for this choice over SMS.
    pub keywords: Vec<String>,
    /// Slide the talk goes to when this choice wins.
    pub goto: String,
}

impl Decision {
    /// The choice with this id.
    pub fn choice(&self, id: &str) -> Option<&Choice> {
        self.choices.iter().find(|c| c.id == id)
    }
}

impl Story {
    /// Builds the id index over the slides.
    fn new(title: String, start: String, settings: Settings, slides: Vec<Slide>) -> Self {
        let index = slides.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        Story {
            title,
            start,
            settings,
            slides,
            index,
        }
    }

    /// Reads and checks a story file: the story and its warnings, or every
    /// problem found (errors and warnings, in file order).
    pub fn load(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
        load::load_file(path)
    }

    /// Checks a story given as text; `name` is used in messages.
    pub fn parse(name: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
        load::parse(name, text)
    }

    /// The bundled talk.
    pub fn bundled() -> Result<Loaded, Vec<Diagnostic>> {
        Self::parse(BUNDLED_NAME, BUNDLED_TEXT)
    }

    /// The slide with this id.
    pub fn slide(&self, id: &str) -> Option<&Slide> {
        self.index.get(id).map(|&i| &self.slides[i])
    }

    /// The decision held by the slide with this id.
    pub fn decision(&self, id: &str) -> Option<&Decision> {
        match &self.slide(id)?.then {
            Then::Decision(d) => Some(d),
            _ => None,
        }
    }

    /// Whether `decision` shows its counts while open: its own `results`,
    /// else the story's.
    pub fn results_of(&self, decision: &Decision) -> Results {
        decision.results.unwrap_or(self.settings.results)
    }

    /// The rules `decision` votes by: its own, else the story's.
    pub fn rules_of(&self, decision: &Decision) -> Rules {
        decision.rules.or(self.settings.rules)
    }

    /// Every decision, in file order.
    pub fn decisions(&self) -> impl Iterator<Item = &Decision> {
        self.slides.iter().filter_map(|s| match &s.then {
            Then::Decision(d) => Some(d),
            _ => None,
        })
    }
}
