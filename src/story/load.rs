//! Reading a story file: TOML text -> a checked [`Story`], or every problem
//! found in it, each at the line and column of the key or value at fault.
//!
//! The file is parsed into toml's spanned document tree (`DeTable`), then
//! walked field by field: a problem is recorded and the walk goes on, so one
//! run of `cyoa check` lists them all. TOML syntax errors are the exception:
//! a document that does not parse is reported with toml's own errors only,
//! since checking a half-read file would mostly report its holes.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::check::Graph;
use super::diag::{Diagnostic, Loaded, Problems, Severity};
use super::sms::{self, Source};
use super::{Choice, Decision, Settings, Slide, SmsTexts, Story, Theme, Then, WebVotes, markdown};

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
/// Edit-distance comparisons spent on "did you mean" suggestions per file,
/// so a huge file full of bad references cannot make checking slow.
const SUGGESTION_BUDGET: usize = 50_000;

const STORY_FIELDS: &[&str] = &["title", "start", "settings", "slides"];
const SETTINGS_FIELDS: &[&str] = &["web_votes", "presence_grace", "sms", "theme"];
const SMS_FIELDS: &[&str] = &["replies", "confirm", "help", "closed"];
const THEME_FIELDS: &[&str] = &["mode", "accent"];
const SLIDE_FIELDS: &[&str] = &["title", "body", "notes", "image", "next", "decision"];
const DECISION_FIELDS: &[&str] = &["prompt", "choices"];
const CHOICE_FIELDS: &[&str] = &["id", "label", "keywords", "goto"];

type Key<'i> = Spanned<DeString<'i>>;
type Value<'i> = Spanned<DeValue<'i>>;

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
    // wrong (pipes, /dev/zero, a file still being written).
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_FILE_BYTES).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot read the story: {e}")))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(refuse(too_big()));
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) => parse(&name, text),
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
}

/// Walks the document tree, recording every problem.
struct Reader<'p> {
    p: &'p mut Problems,
    text: &'p str,
    budget: usize,
}

impl<'p> Reader<'p> {
    fn new(text: &'p str, p: &'p mut Problems) -> Self {
        Reader {
            p,
            text,
            budget: SUGGESTION_BUDGET,
        }
    }

    fn story(&mut self) -> Option<Story> {
        let (root, errors) = DeTable::parse_recoverable(self.text);
        if !errors.is_empty() {
            self.syntax_errors(&errors);
            return None;
        }
        let root = root.get_ref();
        self.unknown_fields(root, STORY_FIELDS);
        let title = self.required_text(root, "title", 0, "the talk's title, `title = \"...\"`");
        let start = self.required_string(root, "start", 0, "the id of the first slide, `start = \"welcome\"`");
        let settings = match root.get_key_value("settings") {
            Some((_, v)) => self.settings(v),
            None => default_settings(),
        };
        let mut places = Places {
            start: start.as_ref().map_or(0, |(_, at)| *at),
            slide: Vec::new(),
            next: Vec::new(),
            goto: Vec::new(),
        };
        let mut slides = Vec::new();
        match root.get_key_value("slides") {
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
                    entries.sort_by_key(|(k, _)| k.span().start);
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
        let (title, start) = (title.unwrap_or_default(), start.map(|(s, _)| s).unwrap_or_default());
        let story = Story::new(title, start, settings, slides);
        self.links(&story, &places);
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

    fn settings(&mut self, value: &Value<'_>) -> Settings {
        let mut settings = default_settings();
        let Some(table) = self.table(value, "settings") else {
            return settings;
        };
        self.unknown_fields(table, SETTINGS_FIELDS);
        if let Some((v, at)) = self.string(table, "web_votes") {
            match v.as_str() {
                "presence" => settings.web_votes = WebVotes::Presence,
                "sticky" => settings.web_votes = WebVotes::Sticky,
                other => self
                    .p
                    .error(at, format!("`web_votes` must be `presence` or `sticky`, not `{other}`")),
            }
        }
        if let Some((_, v)) = table.get_key_value("presence_grace") {
            let seconds = match v.get_ref() {
                DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix())
                    .ok()
                    .filter(|s| *s <= MAX_PRESENCE_GRACE),
                _ => None,
            };
            match seconds {
                Some(s) => settings.presence_grace = Duration::from_secs(s),
                None => self.p.error(
                    v.span().start,
                    format!(
                        "`presence_grace` must be a whole number of seconds from 0 to {MAX_PRESENCE_GRACE}, not {}",
                        shown(self.text, v)
                    ),
                ),
            }
        }
        if let Some((_, v)) = table.get_key_value("sms")
            && let Some(sms) = self.table(v, "sms")
        {
            self.unknown_fields(sms, SMS_FIELDS);
            if let Some((_, v)) = sms.get_key_value("replies") {
                match v.get_ref() {
                    DeValue::Boolean(b) => settings.sms.replies = *b,
                    other => self.p.error(
                        v.span().start,
                        format!("`replies` must be `true` or `false`, not {}", a(other)),
                    ),
                }
            }
            settings.sms.confirm = self.reply_text(sms, "confirm", &["label", "choice"]);
            settings.sms.help = self.reply_text(sms, "help", &["options"]);
            settings.sms.closed = self.reply_text(sms, "closed", &[]);
        }
        if let Some((_, v)) = table.get_key_value("theme")
            && let Some(theme) = self.table(v, "theme")
        {
            self.unknown_fields(theme, THEME_FIELDS);
            if let Some((mode, at)) = self.string(theme, "mode") {
                if mode == "light" || mode == "dark" {
                    settings.theme.mode = Some(mode);
                } else {
                    self.p
                        .error(at, format!("`mode` must be `light` or `dark`, not `{mode}`"));
                }
            }
            if let Some((accent, at)) = self.string(theme, "accent") {
                if is_css_colour(&accent) {
                    settings.theme.accent = Some(accent);
                } else {
                    self.p.error(
                        at,
                        format!("`accent` must be a CSS colour like `#c03`, `#cc0033` or `teal`, not `{accent}`"),
                    );
                }
            }
        }
        settings
    }

    /// An SMS reply text, whose `{placeholders}` must be ones cyoa fills in.
    fn reply_text(&mut self, table: &DeTable<'_>, key: &str, allowed: &[&str]) -> Option<String> {
        let (text, at) = self.string(table, key)?;
        for name in placeholders(&text) {
            if !allowed.contains(&name) {
                let may = match allowed {
                    [] => "it takes no placeholders".to_string(),
                    _ => format!(
                        "it may use {}",
                        allowed
                            .iter()
                            .map(|a| format!("`{{{a}}}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                };
                self.p.error(
                    at,
                    format!("`{key}` uses `{{{name}}}`, which cyoa does not fill in; {may}"),
                );
            }
        }
        Some(text)
    }

    fn slide(&mut self, key: &Key<'_>, value: &Value<'_>, places: &mut Places) -> Slide {
        let id = key.get_ref().to_string();
        let at = key.span().start;
        if !is_id(&id) {
            self.p.error(
                at,
                format!("slide id `{id}` must be 1 to {MAX_ID_LEN} characters: lowercase letters a-z, digits and `-`"),
            );
        }
        places.slide.push(at);
        let mut slide = Slide {
            id: id.clone(),
            title: String::new(),
            body_html: String::new(),
            notes: String::new(),
            image: None,
            then: Then::Ending,
        };
        let (mut next_at, mut goto_at) = (None, Vec::new());
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
            self.unknown_fields(table, SLIDE_FIELDS);
            slide.title = self
                .required_text(table, "title", at, "the slide's heading, `title = \"...\"`")
                .unwrap_or_default();
            if let Some((body, _)) = self.string(table, "body") {
                slide.body_html = markdown::render(&body);
            }
            slide.notes = self.string(table, "notes").map(|(s, _)| s).unwrap_or_default();
            slide.image = self.string(table, "image").map(|(s, _)| s);
            let next = self.string(table, "next");
            let decision = table
                .get_key_value("decision")
                .and_then(|(_, v)| self.decision(&id, v, &mut goto_at));
            slide.then = match (next, decision) {
                (Some((_, next_at)), Some(d)) => {
                    let key_at = table.get_key_value("next").map_or(next_at, |(k, _)| k.span().start);
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
                    Then::Next(next)
                }
                (None, Some(d)) => Then::Decision(d),
                (None, None) => Then::Ending,
            };
        }
        if !matches!(slide.then, Then::Decision(_)) {
            goto_at.clear();
        }
        places.next.push(next_at);
        places.goto.push(goto_at);
        slide
    }

    fn decision(&mut self, slide_id: &str, value: &Value<'_>, goto_at: &mut Vec<usize>) -> Option<Decision> {
        let table = self.table(value, "decision")?;
        let at = value.span().start;
        self.unknown_fields(table, DECISION_FIELDS);
        let prompt = self
            .required_text(
                table,
                "prompt",
                at,
                "the question put to the audience, `prompt = \"...\"`",
            )
            .unwrap_or_default();
        let mut choices = Vec::new();
        // Spans of each choice's id, label and keywords, for collision messages.
        let mut choice_places: Vec<ChoicePlaces> = Vec::new();
        match table.get_key_value("choices") {
            None => self.p.error(
                at,
                format!("missing `choices`: decision `{slide_id}` needs {MIN_CHOICES} to {MAX_CHOICES} choices"),
            ),
            Some((key, v)) => match v.get_ref() {
                DeValue::Array(items) => {
                    let n = items.len();
                    if !(MIN_CHOICES..=MAX_CHOICES).contains(&n) {
                        self.p.error(
                            key.span().start,
                            format!(
                                "decision `{slide_id}` has {n} {}; a decision needs {MIN_CHOICES} to {MAX_CHOICES}",
                                if n == 1 { "choice" } else { "choices" }
                            ),
                        );
                    }
                    for item in items.iter() {
                        if let Some((choice, places)) = self.choice(item) {
                            goto_at.push(places.goto);
                            choices.push(choice);
                            choice_places.push(places);
                        }
                    }
                }
                other => self.p.error(
                    v.span().start,
                    format!(
                        "`choices` must be an array of choices like `[{{ id = \"a\", label = \"...\", goto = \"...\" }}]`, not {}",
                        a(other)
                    ),
                ),
            },
        }
        if self.choice_ids(slide_id, &choices, &choice_places) {
            self.sms_collisions(&choices, &choice_places);
        }
        Some(Decision {
            id: slide_id.to_string(),
            prompt,
            choices,
        })
    }

    fn choice(&mut self, value: &Value<'_>) -> Option<(Choice, ChoicePlaces)> {
        let at = value.span().start;
        let table = match value.get_ref() {
            DeValue::Table(t) => t,
            other => {
                self.p.error(
                    at,
                    format!(
                        "a choice must be a table like `{{ id = \"a\", label = \"...\", goto = \"...\" }}`, not {}",
                        a(other)
                    ),
                );
                return None;
            }
        };
        self.unknown_fields(table, CHOICE_FIELDS);
        let id = self.required_string(table, "id", at, "the choice's id, `id = \"a\"`");
        if let Some((id, id_at)) = &id
            && !is_id(id)
        {
            self.p.error(
                *id_at,
                format!("choice id `{id}` must be 1 to {MAX_ID_LEN} characters: lowercase letters a-z, digits and `-`"),
            );
        }
        let label = self.required_text(table, "label", at, "what the audience sees, `label = \"...\"`");
        let label_at = table.get_key_value("label").map_or(at, |(_, v)| v.span().start);
        let goto = self.required_string(table, "goto", at, "the slide this choice leads to, `goto = \"...\"`");
        let mut keywords = Vec::new();
        let mut keyword_at = Vec::new();
        if let Some((_, v)) = table.get_key_value("keywords") {
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::String(s) => {
                                if sms::normalise(s).is_empty() {
                                    self.p.error(
                                        item.span().start,
                                        format!("keyword `{s}` has no letters or digits, so no SMS can match it"),
                                    );
                                }
                                keywords.push(s.to_string());
                                keyword_at.push(item.span().start);
                            }
                            other => self.p.error(
                                item.span().start,
                                format!("each keyword must be a string, not {}", a(other)),
                            ),
                        }
                    }
                }
                other => self.p.error(
                    v.span().start,
                    format!(
                        "`keywords` must be an array of strings like `[\"yes\"]`, not {}",
                        a(other)
                    ),
                ),
            }
        }
        let (id, id_at) = id.unwrap_or_default();
        let (goto, goto_at) = goto.unwrap_or((String::new(), at));
        let places = ChoicePlaces {
            id: if id.is_empty() { at } else { id_at },
            label: label_at,
            keywords: keyword_at,
            // A missing `goto` is already reported; no second error for it.
            goto: if goto.is_empty() { usize::MAX } else { goto_at },
        };
        let choice = Choice {
            id,
            label: label.unwrap_or_default(),
            keywords,
            goto,
        };
        Some((choice, places))
    }

    /// Reports choice ids used twice; whether all were unique.
    fn choice_ids(&mut self, slide_id: &str, choices: &[Choice], places: &[ChoicePlaces]) -> bool {
        let mut unique = true;
        let mut seen = HashSet::new();
        for (c, at) in choices.iter().zip(places) {
            if !c.id.is_empty() && !seen.insert(c.id.as_str()) {
                self.p.error(
                    at.id,
                    format!("choice id `{}` is used twice in decision `{slide_id}`", c.id),
                );
                unique = false;
            }
        }
        unique
    }

    /// Refuses any SMS word (number, letter, id, label, keyword) that two
    /// choices of one decision share once normalised. Run only when choice
    /// ids are unique, so that messages can name choices by id.
    fn sms_collisions(&mut self, choices: &[Choice], places: &[ChoicePlaces]) {
        let all: Vec<Vec<(String, Source)>> = choices.iter().enumerate().map(|(i, c)| sms::words(i, c)).collect();
        let mut owner: HashMap<&str, (usize, Source)> = HashMap::new();
        // Automatic words first, so the blame falls on the written one.
        for (i, words) in all.iter().enumerate() {
            for (w, source) in words {
                if matches!(source, Source::Number | Source::Letter) {
                    owner.insert(w, (i, *source));
                }
            }
        }
        for (i, words) in all.iter().enumerate() {
            for (w, source) in words {
                if matches!(source, Source::Number | Source::Letter) {
                    continue;
                }
                match owner.get(w.as_str()) {
                    Some(&(j, _)) if j == i => {}
                    Some(&(j, theirs)) => {
                        let (raw, at) = match source {
                            Source::Id => (choices[i].id.as_str(), places[i].id),
                            Source::Label => (choices[i].label.as_str(), places[i].label),
                            Source::Keyword(k) => (choices[i].keywords[*k].as_str(), places[i].keywords[*k]),
                            Source::Number | Source::Letter => continue,
                        };
                        self.p.error(
                            at,
                            format!(
                                "{} `{raw}` of choice `{}` reads `{w}` over SMS, which already names choice `{}` (its {}); change one so that a text names one choice",
                                source.describe(),
                                choices[i].id,
                                choices[j].id,
                                theirs.describe(),
                            ),
                        );
                    }
                    None => {
                        owner.insert(w, (i, *source));
                    }
                }
            }
        }
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
        if trapped(start) {
            entries.push(start);
        }
        for v in (0..ids.len()).filter(|&v| reached[v] && can_end[v]) {
            for &w in &graph.succ[v] {
                if trapped(w) && !entries.contains(&w) {
                    entries.push(w);
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

    // ---- field helpers ----

    /// Reports every key of `table` that is not in `known`.
    fn unknown_fields(&mut self, table: &DeTable<'_>, known: &[&str]) {
        for key in table.keys() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let hint = match closest(name, known.iter().copied(), &mut self.budget) {
                Some(k) => format!("; did you mean `{k}`?"),
                None => format!(
                    "; the fields here are {}",
                    known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            self.p.error(key.span().start, format!("unknown field `{name}`{hint}"));
        }
    }

    /// The table in `value`, or an error naming `key`.
    fn table<'t, 'i>(&mut self, value: &'t Value<'i>, key: &str) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.p
                    .error(value.span().start, format!("`{key}` must be a table, not {}", a(other)));
                None
            }
        }
    }

    /// An optional string field and where its value is.
    fn string(&mut self, table: &DeTable<'_>, key: &str) -> Option<(String, usize)> {
        let (_, v) = table.get_key_value(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.to_string(), v.span().start)),
            other => {
                self.p
                    .error(v.span().start, format!("`{key}` must be a string, not {}", a(other)));
                None
            }
        }
    }

    /// A required string field; `at` is where to point if it is missing.
    fn required_string(&mut self, table: &DeTable<'_>, key: &str, at: usize, what: &str) -> Option<(String, usize)> {
        if table.get_key_value(key).is_none() {
            self.p.error(at, format!("missing `{key}`: {what}"));
            return None;
        }
        self.string(table, key)
    }

    /// A required string field that must not be blank.
    fn required_text(&mut self, table: &DeTable<'_>, key: &str, at: usize, what: &str) -> Option<String> {
        let (text, value_at) = self.required_string(table, key, at, what)?;
        if text.trim().is_empty() {
            self.p.error(value_at, format!("`{key}` is empty; write {what}"));
        }
        Some(text)
    }

    /// "; did you mean `x`?" for the candidate closest to `word`, or nothing.
    fn did_you_mean(&mut self, word: &str, candidates: &[&str]) -> String {
        closest(word, candidates.iter().copied(), &mut self.budget)
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default()
    }
}

/// Where a choice's parts are, for messages.
struct ChoicePlaces {
    id: usize,
    label: usize,
    keywords: Vec<usize>,
    /// `usize::MAX` when the choice has no `goto`.
    goto: usize,
}

fn default_settings() -> Settings {
    Settings {
        web_votes: WebVotes::Presence,
        presence_grace: Duration::from_secs(DEFAULT_PRESENCE_GRACE),
        sms: SmsTexts {
            replies: true,
            ..SmsTexts::default()
        },
        theme: Theme::default(),
    }
}

/// `[a-z0-9-]{1,64}`: the ids that can go in a URL as they are.
fn is_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa` or a colour name: nothing that
/// could end the CSS declaration it is put in.
fn is_css_colour(s: &str) -> bool {
    match s.strip_prefix('#') {
        Some(hex) => [3, 4, 6, 8].contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic()),
    }
}

/// Names inside `{...}` in a reply text.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|rest| {
        let name = &rest[..rest.find('}')?];
        let is_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        is_name.then_some(name)
    })
}

/// "a string", "an integer": the type of a value, for messages.
fn a(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A value as written in the file, shortened, for messages.
fn shown(text: &str, value: &Value<'_>) -> String {
    let raw = text.get(value.span()).unwrap_or("");
    let short: String = raw.chars().take(40).collect();
    if short.len() < raw.len() {
        format!("`{short}...`")
    } else {
        format!("`{short}`")
    }
}

/// The candidate most like `word`, if any is close enough to be a typo.
fn closest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>, budget: &mut usize) -> Option<&'c str> {
    let len = word.chars().count();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        // Cheap test first: lengths too far apart cannot be a typo.
        if c.chars().count().abs_diff(len) > len.max(2) / 2 {
            continue;
        }
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let score = strsim::normalized_damerau_levenshtein(word, c);
        if score >= 0.6 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lowercase_letters_digits_and_dashes() {
        for ok in ["a", "welcome", "step-2", &"x".repeat(64)] {
            assert!(is_id(ok), "{ok}");
        }
        for bad in ["", "Welcome", "two words", "under_score", "é", &"x".repeat(65)] {
            assert!(!is_id(bad), "{bad}");
        }
    }

    #[test]
    fn accent_colours_cannot_escape_css() {
        for ok in ["#c03", "#cc0033", "#cc003380", "teal"] {
            assert!(is_css_colour(ok), "{ok}");
        }
        for bad in ["#c0", "red;}body{", "url(x)", "", "#ggg"] {
            assert!(!is_css_colour(bad), "{bad}");
        }
    }

    #[test]
    fn placeholders_are_found() {
        let names: Vec<_> = placeholders("You chose {label} ({choice}) {not closed {} {x y}").collect();
        assert_eq!(names, ["label", "choice"]);
    }

    #[test]
    fn suggestions_are_typos_only() {
        let mut budget = 100;
        assert_eq!(closest("nxet", SLIDE_FIELDS.iter().copied(), &mut budget), Some("next"));
        assert_eq!(
            closest("titel", SLIDE_FIELDS.iter().copied(), &mut budget),
            Some("title")
        );
        assert_eq!(closest("colour", SLIDE_FIELDS.iter().copied(), &mut budget), None);
        let mut none = 0;
        assert_eq!(closest("nxet", SLIDE_FIELDS.iter().copied(), &mut none), None);
    }
}
