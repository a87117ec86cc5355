//! Reading a story file: TOML -> checked `Story`, or every problem found.
//!
//! NOTE: first cut; reports only the first problem. To be replaced by the
//! full checker (spans, every problem at once, graph warnings).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{Choice, Decision, Settings, Slide, SmsTexts, Story, Theme, Then, WebVotes};

/// A story that checked clean, with any warnings found.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The checked story.
    pub story: Story,
    /// Problems that do not stop the story from running.
    pub warnings: Vec<Diagnostic>,
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The story cannot run.
    Error,
    /// The story runs, but probably not as meant.
    Warning,
}

/// One problem in a story file, at a line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {}: {}", self.file, self.line, self.col, sev, self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStory {
    title: String,
    start: String,
    #[serde(default)]
    settings: RawSettings,
    slides: indexmap_like::Slides,
}

mod indexmap_like {
    use super::RawSlide;
    pub type Slides = toml::map::Map<String, toml::Value>;
    #[allow(dead_code)]
    pub fn _unused(_: RawSlide) {}
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    web_votes: Option<String>,
    presence_grace: Option<u64>,
    #[serde(default)]
    sms: RawSms,
    #[serde(default)]
    theme: RawTheme,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSms {
    replies: Option<bool>,
    confirm: Option<String>,
    help: Option<String>,
    closed: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    mode: Option<String>,
    accent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlide {
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    notes: String,
    image: Option<String>,
    next: Option<String>,
    decision: Option<RawDecision>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecision {
    prompt: String,
    choices: Vec<RawChoice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    id: String,
    label: String,
    #[serde(default)]
    keywords: Vec<String>,
    goto: String,
}

pub(super) fn load_file(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&name, &text),
        Err(e) => Err(vec![at(&name, 1, 1, format!("cannot read the story: {e}"))]),
    }
}

fn at(file: &str, line: usize, col: usize, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_string(),
        line,
        col,
        severity: Severity::Error,
        message,
    }
}

pub(super) fn parse(name: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let raw: RawStory = toml::from_str(text).map_err(|e| vec![at(name, 1, 1, e.to_string())])?;
    let mut slides = Vec::new();
    for (id, value) in raw.slides {
        let s: RawSlide = value
            .try_into()
            .map_err(|e: toml::de::Error| vec![at(name, 1, 1, format!("slide {id}: {e}"))])?;
        let then = match (s.next, s.decision) {
            (Some(_), Some(_)) => return Err(vec![at(name, 1, 1, format!("slide {id} has both next and a decision"))]),
            (Some(n), None) => Then::Next(n),
            (None, Some(d)) => Then::Decision(Decision {
                id: id.clone(),
                prompt: d.prompt,
                choices: d
                    .choices
                    .into_iter()
                    .map(|c| Choice {
                        id: c.id,
                        label: c.label,
                        keywords: c.keywords,
                        goto: c.goto,
                    })
                    .collect(),
            }),
            (None, None) => Then::Ending,
        };
        let mut body_html = String::new();
        pulldown_cmark::html::push_html(&mut body_html, pulldown_cmark::Parser::new(&s.body));
        slides.push(Slide {
            id,
            title: s.title,
            body_html,
            notes: s.notes,
            image: s.image,
            then,
        });
    }
    let settings = Settings {
        web_votes: match raw.settings.web_votes.as_deref() {
            Some("sticky") => WebVotes::Sticky,
            _ => WebVotes::Presence,
        },
        presence_grace: Duration::from_secs(raw.settings.presence_grace.unwrap_or(10)),
        sms: SmsTexts {
            replies: raw.settings.sms.replies.unwrap_or(true),
            confirm: raw.settings.sms.confirm,
            help: raw.settings.sms.help,
            closed: raw.settings.sms.closed,
        },
        theme: Theme {
            mode: raw.settings.theme.mode,
            accent: raw.settings.theme.accent,
        },
    };
    let story = Story::new(raw.title, raw.start, settings, slides);
    for s in &story.slides {
        let targets: Vec<&str> = match &s.then {
            Then::Next(n) => vec![n.as_str()],
            Then::Decision(d) => d.choices.iter().map(|c| c.goto.as_str()).collect(),
            Then::Ending => vec![],
        };
        for t in targets {
            if story.slide(t).is_none() {
                return Err(vec![at(
                    name,
                    1,
                    1,
                    format!("slide {} goes to unknown slide {t}", s.id),
                )]);
            }
        }
    }
    if story.slide(&story.start).is_none() {
        return Err(vec![at(
            name,
            1,
            1,
            format!("start slide {} does not exist", story.start),
        )]);
    }
    Ok(Loaded {
        story,
        warnings: Vec::new(),
    })
}
