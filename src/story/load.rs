//! Reading a story file: TOML text -> a checked [`Story`], or every problem
//! found in it, each at the line and column of the key or value at fault.
//!
//! The file is parsed into toml's spanned document tree (`DeTable`), then
//! walked field by field: a problem is recorded and the walk goes on, so one
//! run of `cyoa check` lists them all. TOML syntax errors are the exception:
//! a document that does not parse is reported with toml's own errors only,
//! since checking a half-read file would mostly report its holes.

use std::io::Read;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeString, DeValue};

use super::check::Graph;
use super::diag::{Diagnostic, Loaded, Problems, Severity};
use super::fields::{SUGGESTION_BUDGET, a, is_id};
use super::settings::default_settings;
use super::{Slide, Story, Then};

/// Largest story file read, in bytes (4 MiB): a talk is a few kilobytes,
/// and anything near this is a mistake, not a talk.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Fewest choices a decision may have.
pub const MIN_CHOICES: usize = 2;
/// Most choices a decision may have (one digit over SMS).
pub const MAX_CHOICES: usize = 9;
/// Longest slide or choice id, in characters.
pub const MAX_ID_LEN: usize = 64;
/// Longest presence grace, in seconds.
pub const MAX_PRESENCE_GRACE: u64 = 3600;
/// Presence grace when the story sets none, in seconds.
pub const DEFAULT_PRESENCE_GRACE: u64 = 10;
/// TOML syntax errors listed before giving up on a file: after a few, the
/// rest are usually echoes of the first (or the file is not TOML at all).
const MAX_SYNTAX_ERRORS: usize = 50;

const STORY_FIELDS: [&str; 4] = ["title", "start", "settings", "slides"];
const SLIDE_FIELDS: [&str; 9] = [
    "title", "body", "notes", "image", "alt", "join", "next", "decision", "minutes",
];

pub(super) type Key<'i> = Spanned<DeString<'i>>;
pub(super) type Value<'i> = Spanned<DeValue<'i>>;
/// A key of a table and its value, borrowed from the document.
pub(super) type Field<'t, 'i> = (&'t Key<'i>, &'t Value<'i>);

pub(super) fn load_file(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let name = path.display().to_string();
    let refuse = |message: String| {
        vec![Diagnostic {
            file: name.clone(),
            line: 1,
            col: 1,
            severity: Severity::Error,
            message,
        }]
    };
    let file = std::fs::File::open(path).map_err(|e| refuse(format!("cannot read the story: {e}")))?;
    // Read at most one byte past the limit: the size in the metadata can be
    // wrong (pipes, /dev/zero, a file still being written), so it is only
    // a hint for the first allocation (which saves growing a large buffer
    // in steps and copying it each time).
    let hint = file.metadata().map_or(0, |m| m.len());
    let hint = usize::try_from(hint).unwrap_or(MAX_FILE_BYTES).min(MAX_FILE_BYTES) + 1;
    let mut bytes = Vec::with_capacity(hint);
    let limit = u64::try_from(MAX_FILE_BYTES).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot read the story: {e}")))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(refuse(too_big()));
    }
    match std::str::from_utf8(&bytes) {
        // The theme's files are read only for a story file: they sit next to it.
        Ok(text) => parse(&name, text).and_then(|loaded| super::settings::read_assets(loaded, path, text)),
        Err(e) => {
            // Valid up to here, so this prefix converts; point at the bad byte.
            let good = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
            let mut p = Problems::default();
            p.error(
                good.len(),
                "the story is not UTF-8 text; save it as UTF-8 (is this the right file?)",
            );
            Err(p.into_diagnostics(&name, &good))
        }
    }
}

fn too_big() -> String {
    format!(
        "the story is larger than {} MiB; a story file is a few kilobytes of TOML (is this the right file?)",
        MAX_FILE_BYTES / (1024 * 1024)
    )
}

pub(super) fn parse(name: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let mut p = Problems::default();
    if text.len() > MAX_FILE_BYTES {
        p.error(0, too_big());
        return Err(p.into_diagnostics(name, ""));
    }
    let story = Reader::new(text, &mut p).story();
    let failed = p.has_errors();
    let diagnostics = p.into_diagnostics(name, text);
    match story {
        Some(story) if !failed => Ok(Loaded {
            story,
            warnings: diagnostics,
        }),
        _ => Err(diagnostics),
    }
}

/// Where the graph checks point: offsets of slide ids and links.
struct Places {
    start: usize,
    slide: Vec<usize>,
    next: Vec<Option<usize>>,
    goto: Vec<Vec<usize>>,
    /// Where each slide's body is, else its id.
    body: Vec<usize>,
}

/// Walks the document tree, recording every problem. Its methods are spread
/// over `load` (story and slides), `settings`, `decision` and `fields`.
pub(super) struct Reader<'p> {
    /// Problems found so far.
    pub p: &'p mut Problems,
    /// The whole file.
    pub text: &'p str,
    /// What is left to spend on "did you mean" suggestions.
    pub budget: usize,
}

impl<'p> Reader<'p> {
    fn new(text: &'p str, p: &'p mut Problems) -> Self {
        Reader {
            p,
            text,
            budget: SUGGESTION_BUDGET,
        }
    }

    /// The story as far as it could be read (problems recorded on the way),
    /// or `None` when the text is not TOML.
    fn story(&mut self) -> Option<Story> {
        let pieces = super::split::Pieces::of(self.text);
        let (root, errors) = super::split::parse(self.text, &pieces);
        if !errors.is_empty() {
            self.syntax_errors(&errors);
            return None;
        }
        let [title, start, settings, slides_field] = self.fields(root.get_ref(), &STORY_FIELDS);
        let title = self.required_text_field("title", title, 0, "the talk's title, `title = \"...\"`");
        let start = self.required_str("start", start, 0, "the id of the first slide, `start = \"welcome\"`");
        let settings_value = settings.map(|(_, v)| v);
        let settings = match settings {
            Some((_, v)) => self.settings(v),
            None => default_settings(),
        };
        let mut places = Places {
            start: start.map_or(0, |(_, at)| at),
            slide: Vec::new(),
            next: Vec::new(),
            goto: Vec::new(),
            body: Vec::new(),
        };
        let mut slides = Vec::new();
        match slides_field {
            None => self.p.error(
                0,
                "missing `slides`: a story needs at least one slide, e.g. `[slides.welcome]`",
            ),
            Some((key, value)) => match value.get_ref() {
                DeValue::Table(table) if table.is_empty() => self.p.error(
                    key.span().start,
                    "`slides` is empty: a story needs at least one slide, e.g. `[slides.welcome]`",
                ),
                DeValue::Table(table) => {
                    // The map is sorted by id; file order is what authors expect.
                    let mut entries: Vec<_> = table.iter().collect();
                    entries.sort_unstable_by_key(|(k, _)| k.span().start);
                    slides.reserve_exact(entries.len());
                    places.slide.reserve_exact(entries.len());
                    places.next.reserve_exact(entries.len());
                    places.goto.reserve_exact(entries.len());
                    for (key, value) in entries {
                        slides.push(self.slide(key, value, &mut places));
                    }
                }
                other => self.p.error(
                    value.span().start,
                    format!(
                        "`slides` must be a table of slides like `[slides.welcome]`, not {}",
                        a(other)
                    ),
                ),
            },
        }
        let title = title.unwrap_or_default().to_string();
        let start = start.map_or("", |(s, _)| s).to_string();
        let story = Story::new(title, start, settings, slides);
        self.links(&story, &places);
        if !self.p.has_errors() {
            self.budget(&story, settings_value);
        }
        // Whether each slide fits the screen matters once the story runs.
        if !self.p.has_errors() {
            for (slide, &at) in story.slides.iter().zip(&places.body) {
                self.fit(slide, at);
            }
        }
        Some(story)
    }

    /// toml's syntax errors, made clearer where cyoa knows better.
    fn syntax_errors(&mut self, errors: &[toml::de::Error]) {
        let place = |e: &toml::de::Error| e.span().map_or(0, |s| s.start);
        let mut unique: Vec<&toml::de::Error> = Vec::with_capacity(errors.len().min(MAX_SYNTAX_ERRORS + 1));
        for e in errors {
            // The nesting limit fires once per key too deep; once is enough.
            if unique
                .last()
                .is_some_and(|l| place(l) == place(e) && l.message() == e.message())
            {
                continue;
            }
            unique.push(e);
        }
        for e in unique.iter().take(MAX_SYNTAX_ERRORS) {
            let span = e.span().unwrap_or(0..0);
            let mut message = e.message().to_string();
            if message == "recursion limit" || message.starts_with("cannot recurse further") {
                message = "tables or arrays nested too deeply for a story; a story needs only a few levels".into();
            }
            if message == "duplicate key" {
                let key = self
                    .text
                    .get(span.clone())
                    .unwrap_or("")
                    .trim()
                    .trim_matches(['"', '\'']);
                message = match self.first_slide_header(key, span.start) {
                    Some(line) => format!("slide `{key}` is defined twice; the first is on line {line}"),
                    None => format!("duplicate key `{key}`: TOML allows each key, and each [table], once"),
                };
            }
            self.p.error(span.start, message);
        }
        if let Some(first_unshown) = unique.get(MAX_SYNTAX_ERRORS) {
            self.p.error(
                place(first_unshown),
                format!(
                    "{} more TOML syntax errors not shown; fix the ones above first",
                    unique.len() - MAX_SYNTAX_ERRORS
                ),
            );
        }
    }

    /// The line of the first `[slides.ID]` header before `before`, if any:
    /// toml's duplicate-key error points at the second one only.
    fn first_slide_header(&self, id: &str, before: usize) -> Option<usize> {
        let text = self.text.get(..before)?;
        let line_start = text.rfind('\n').map_or(0, |i| i + 1);
        let (bare, quoted) = (format!("[slides.{id}]"), format!("[slides.\"{id}\"]"));
        let header = |line: &str| {
            if !line.trim_start().starts_with('[') {
                return false;
            }
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            compact == bare || compact == quoted
        };
        text[..line_start].lines().position(header).map(|i| i + 1)
    }

    /// One slide, read as far as it goes; its problems are recorded.
    fn slide(&mut self, key: &Key<'_>, value: &Value<'_>, places: &mut Places) -> Slide {
        let id: &str = key.get_ref();
        let at = key.span().start;
        if !is_id(id) {
            self.p.error(
                at,
                format!("slide id `{id}` must be 1 to {MAX_ID_LEN} characters: lowercase letters a-z, digits and `-`"),
            );
        }
        places.slide.push(at);
        let mut slide = Slide {
            id: id.to_string(),
            title: String::new(),
            body: String::new(),
            notes: String::new(),
            image: None,
            alt: String::new(),
            image_file: None,
            join: false,
            minutes: None,
            then: Then::Ending,
        };
        let (mut next_at, mut goto_at) = (None, Vec::new());
        let mut body_at = None;
        let table = match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.p.error(
                    value.span().start,
                    format!("slide `{id}` must be a table like `[slides.{id}]`, not {}", a(other)),
                );
                None
            }
        };
        if let Some(table) = table {
            let [title, body, notes, image, alt, join, next, decision, minutes] = self.fields(table, &SLIDE_FIELDS);
            slide.title = self
                .required_text_field("title", title, at, "the slide's heading, `title = \"...\"`")
                .unwrap_or_default()
                .to_string();
            let body = self.str_field("body", body);
            body_at = body.map(|(_, at)| at);
            slide.body = body.map_or("", |(s, _)| s).to_string();
            slide.notes = self.str_field("notes", notes).map_or("", |(s, _)| s).to_string();
            slide.image = self.image_field(image);
            slide.image_file =
                image.and_then(|(_, v)| super::settings::slide_image_file(slide.image.as_deref()?, v.span().start));
            slide.alt = self.str_field("alt", alt).map_or("", |(s, _)| s).to_string();
            if let Some((_, v)) = join {
                match v.get_ref() {
                    DeValue::Boolean(b) => slide.join = *b,
                    other => self.p.error(
                        v.span().start,
                        format!("`join` must be `true` or `false`, not {}", a(other)),
                    ),
                }
            }
            slide.minutes = self.minutes_field("minutes", minutes, super::budget::MAX_SLIDE_MINUTES);
            let next_str = self.str_field("next", next);
            let decision = decision.and_then(|(_, v)| self.decision(id, v, &mut goto_at));
            slide.then = match (next_str, decision) {
                (Some((_, next_value_at)), Some(d)) => {
                    let key_at = next.map_or(next_value_at, |(k, _)| k.span().start);
                    self.p.error(
                        key_at,
                        format!(
                            "slide `{id}` has both `next` and a decision; remove `next` (each choice's `goto` says where to go) or the decision"
                        ),
                    );
                    Then::Decision(d)
                }
                (Some((next, at_next)), None) => {
                    next_at = Some(at_next);
                    Then::Next(next.to_string())
                }
                (None, Some(d)) => Then::Decision(d),
                (None, None) => Then::Ending,
            };
        }
        if !matches!(slide.then, Then::Decision(_)) {
            goto_at.clear();
        }
        places.body.push(body_at.unwrap_or(at));
        places.next.push(next_at);
        places.goto.push(goto_at);
        slide
    }

    /// `start`, `next` and `goto` must name slides; then the warnings about
    /// the shape of the talk.
    fn links(&mut self, story: &Story, places: &Places) {
        let ids: Vec<&str> = story.slides.iter().map(|s| s.id.as_str()).collect();
        if !story.start.is_empty() && story.slide(&story.start).is_none() {
            let hint = self.did_you_mean(&story.start, &ids);
            self.p.error(
                places.start,
                format!("`start` names slide `{}`, which does not exist{hint}", story.start),
            );
        }
        for (i, slide) in story.slides.iter().enumerate() {
            match &slide.then {
                Then::Next(next) if story.slide(next).is_none() => {
                    let hint = self.did_you_mean(next, &ids);
                    let at = places.next[i].unwrap_or(places.slide[i]);
                    self.p
                        .error(at, format!("`next` names slide `{next}`, which does not exist{hint}"));
                }
                Then::Decision(d) => {
                    for (c, &at) in d.choices.iter().zip(&places.goto[i]) {
                        if at != usize::MAX && story.slide(&c.goto).is_none() {
                            let hint = self.did_you_mean(&c.goto, &ids);
                            self.p.error(
                                at,
                                format!("`goto` names slide `{}`, which does not exist{hint}", c.goto),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        let Some(&start) = story.index.get(&story.start) else {
            return;
        };
        let graph = Graph::of(story);
        let reached = graph.reachable(start);
        let can_end = graph.can_end();
        for (i, slide) in story.slides.iter().enumerate() {
            if !reached[i] {
                self.p.warning(
                    places.slide[i],
                    format!(
                        "slide `{}` is never shown: no path from the start (`{}`) leads to it",
                        slide.id, story.start
                    ),
                );
            }
        }
        // Report each trap once, where the talk walks into it.
        let trapped = |v: usize| reached[v] && !can_end[v];
        let mut entries: Vec<usize> = Vec::new();
        let mut entered = vec![false; ids.len()];
        if trapped(start) {
            entries.push(start);
            entered[start] = true;
        }
        for v in (0..ids.len()).filter(|&v| reached[v] && can_end[v]) {
            for &w in &graph.succ[v] {
                if trapped(w) && !entered[w] {
                    entries.push(w);
                    entered[w] = true;
                }
            }
        }
        for v in entries {
            let walk = trap_walk(&graph, v, &ids);
            self.p.warning(
                places.slide[v],
                format!(
                    "slide `{}` leads into a loop that never reaches an ending: {walk}",
                    ids[v]
                ),
            );
        }
    }
}

impl Reader<'_> {
    /// Warns about a slide that cannot fit the presenter view even with its
    /// text shrunk as far as it goes (see [`super::fit`]), at its body.
    fn fit(&mut self, slide: &Slide, at: usize) {
        let id = &slide.id;
        let smallest = (super::fit::MIN_SCALE * 100.0).round();
        for misfit in super::fit::misfits(slide) {
            let message = match misfit {
                super::fit::Misfit::TooTall { needed, .. } if needed < 0.5 => format!(
                    "slide `{id}` does not fit a 1280x720 screen even with its text shrunk to {smallest}%: its \
                     title, image and vote alone are taller than the screen; shorten the title or the prompt, \
                     or offer fewer choices"
                ),
                super::fit::Misfit::TooTall { needed, room } => format!(
                    "slide `{id}` does not fit a 1280x720 screen even with its text shrunk to {smallest}%: its \
                     body takes about {} lines and there is room for {}, so its end is cut off; shorten it, \
                     split it in two, or move the detail to `notes`",
                    needed.ceil(),
                    room.floor()
                ),
                super::fit::Misfit::CodeTooWide { chars, fit } => format!(
                    "slide `{id}` has a code line of {chars} characters, and {fit} fit across a 1280x720 screen \
                     with the text shrunk to {smallest}%, so it is cut at the side; break or shorten the line"
                ),
            };
            self.p.warning(at, message);
        }
    }
}

/// `a` -> `b` -> `c` -> `a`: the loop the talk falls into from slide `v`,
/// following the first link each time; cut after a few slides.
fn trap_walk(graph: &Graph, v: usize, ids: &[&str]) -> String {
    let mut seen = vec![v];
    let mut walk = format!("`{}`", ids[v]);
    let mut at = v;
    while let Some(&w) = graph.succ[at].first() {
        walk.push_str(&format!(" -> `{}`", ids[w]));
        if seen.contains(&w) {
            return walk;
        }
        if seen.len() == 6 {
            walk.push_str(" -> ...");
            return walk;
        }
        seen.push(w);
        at = w;
    }
    walk
}
