//! Reading `[settings]`: vote mode, presence grace, SMS reply texts,
//! whether open votes show their counts, whether joining needs the room
//! code, and the theme (colours, and the logo and style sheet read from
//! files next to the story).

use std::io::Read;
use std::path::{Component, Path};
use std::sync::Arc;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostic, Loaded, Problems};
use super::fields::shown;
use super::load::{Field, Reader, Value};
use super::{Asset, DEFAULT_PRESENCE_GRACE, MAX_PRESENCE_GRACE, Results, Settings, SmsTexts, Theme, WebVotes};

const SETTINGS_FIELDS: &[&str] = &[
    "web_votes",
    "presence_grace",
    "sms",
    "theme",
    "results",
    "language",
    "room_code",
    "min_votes",
    "tie",
    "timer",
    "duration",
];
const SMS_FIELDS: &[&str] = &["replies", "confirm", "help", "closed"];
const THEME_FIELDS: &[&str] = &["mode", "accent", "background", "text", "logo", "css"];

/// Largest logo file, in bytes (1 MiB): a logo is a few kilobytes, and
/// every phone in the room downloads it.
pub const MAX_LOGO_BYTES: usize = 1024 * 1024;
/// Largest extra style sheet, in bytes (64 KiB).
pub const MAX_CSS_BYTES: usize = 64 * 1024;

/// Largest slide image file next to the story, in bytes (4 MiB): a page
/// of an imported deck is a few hundred KiB.
pub const MAX_SLIDE_IMAGE_BYTES: usize = 4 * 1024 * 1024;

/// The logo's file types, by extension.
const LOGO_TYPES: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("svg", "image/svg+xml"),
];
const CSS_TYPES: &[(&str, &str)] = &[("css", "text/css; charset=utf-8")];

impl Reader<'_> {
    /// The story's settings, defaults where the file sets none.
    pub(super) fn settings(&mut self, value: &Value<'_>) -> Settings {
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
        if let Some((code, at)) = self.string(table, "language") {
            if crate::i18n::CODES.contains(&code.as_str()) {
                settings.language = Some(code);
            } else {
                self.p.error(
                    at,
                    format!(
                        "`language` must be one of {}, not `{code}`; leave it out to follow each browser's language",
                        crate::i18n::CODES
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
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
        if let Some(results) = self.results(table) {
            settings.results = results;
        }
        settings.rules = super::Rules {
            min_votes: self.min_votes_field(table.get_key_value("min_votes")),
            tie: self.tie_field(table.get_key_value("tie")),
            timer: self.timer_field(table.get_key_value("timer")),
        };
        settings.duration =
            self.minutes_field("duration", table.get_key_value("duration"), super::budget::MAX_DURATION);
        if let Some(on) = self.bool_field("room_code", table.get_key_value("room_code")) {
            settings.room_code = on;
        }
        if let Some((_, v)) = table.get_key_value("sms")
            && let Some(sms) = self.table(v, "sms")
        {
            self.unknown_fields(sms, SMS_FIELDS);
            if let Some(replies) = self.bool_field("replies", sms.get_key_value("replies")) {
                settings.sms.replies = replies;
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
            settings.theme.accent = self.colour(theme, "accent");
            settings.theme.background = self.colour(theme, "background");
            settings.theme.text = self.colour(theme, "text");
            settings.theme.logo = self.asset(theme, "logo", LOGO_TYPES);
            settings.theme.css = self.asset(theme, "css", CSS_TYPES);
        }
        settings
    }

    /// `results = "live" | "hidden"` in `table` (the settings or a decision).
    pub(super) fn results(&mut self, table: &DeTable<'_>) -> Option<Results> {
        let field = table.get_key_value("results");
        self.results_field(field)
    }

    /// The `results` field of a table, found as `field`.
    pub(super) fn results_field(&mut self, field: Option<Field<'_, '_>>) -> Option<Results> {
        let (v, at) = self.str_field("results", field)?;
        match v {
            "live" => Some(Results::Live),
            "hidden" => Some(Results::Hidden),
            other => {
                self.p.error(
                    at,
                    format!(
                        "`results` must be `live` (counts show as votes arrive) or `hidden` (counts show when the vote closes), not `{other}`"
                    ),
                );
                None
            }
        }
    }

    /// A theme colour, which must be one CSS colour.
    fn colour(&mut self, theme: &DeTable<'_>, key: &str) -> Option<String> {
        let (colour, at) = self.string(theme, key)?;
        if is_css_colour(&colour) {
            return Some(colour);
        }
        self.p.error(
            at,
            format!("`{key}` must be a CSS colour like `#c03`, `#cc0033` or `teal`, not `{colour}`"),
        );
        None
    }

    /// A file next to the story (`logo`, `css`): a relative path inside the
    /// story's folder, of one of `types`. Its bytes are read later, by
    /// [`read_assets`], when the story comes from a file.
    fn asset(&mut self, theme: &DeTable<'_>, key: &str, types: &[(&str, &'static str)]) -> Option<Asset> {
        let (name, at) = self.string(theme, key)?;
        if let Err(why) = asset_name(&name) {
            self.p.error(
                at,
                format!(
                    "`{key}` must be a file in the story's folder, like `{key}.{}`: {why}",
                    types[0].0
                ),
            );
            return None;
        }
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let Some(content_type) = types
            .iter()
            .find(|(e, _)| Some(*e) == extension.as_deref())
            .map(|(_, t)| *t)
        else {
            let known: Vec<String> = types.iter().map(|(e, _)| format!("`.{e}`")).collect();
            self.p
                .error(at, format!("`{key}` must be a {} file, not `{name}`", known.join(", ")));
            return None;
        };
        Some(Asset {
            name,
            content_type,
            bytes: None,
            at,
        })
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
}

/// The settings of a story that sets none.
pub(super) fn default_settings() -> Settings {
    Settings {
        web_votes: WebVotes::Presence,
        presence_grace: Duration::from_secs(DEFAULT_PRESENCE_GRACE),
        sms: SmsTexts {
            replies: true,
            ..SmsTexts::default()
        },
        theme: Theme::default(),
        language: None,
        results: Results::Live,
        room_code: false,
        rules: super::Rules::default(),
        duration: None,
    }
}

/// The file next to the story that a slide's `image` names, when it names
/// one: a relative path (no leading `/`, no scheme) of plain names, ending
/// in an image type cyoa serves (those of `theme.logo`). `at` is where the
/// value is, for messages. Other values stay URLs on cyoa's site.
pub(super) fn slide_image_file(src: &str, at: usize) -> Option<Asset> {
    if src.starts_with('/') || src.contains(':') || asset_name(src).is_err() {
        return None;
    }
    let extension = src.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    let content_type = LOGO_TYPES.iter().find(|(e, _)| *e == extension).map(|(_, t)| *t)?;
    Some(Asset {
        name: src.to_string(),
        content_type,
        bytes: None,
        at,
    })
}

/// Why `name` cannot name a file inside the story's folder, if it cannot:
/// only plain names (letters, digits, `.`, `-`, `_`) joined by `/`, none
/// starting with a dot, so no `..`, no absolute path, no hidden file.
fn asset_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 200 {
        return Err("the path must have 1 to 200 characters");
    }
    if name.starts_with('/') || name.contains('\\') || name.contains(':') {
        return Err("the path must be relative to the story's folder, with `/` between folders");
    }
    for part in name.split('/') {
        if part == ".." {
            return Err("`..` would leave the story's folder");
        }
        if part.is_empty() || part.starts_with('.') {
            return Err("no part of the path may be empty or start with a dot");
        }
        if !part.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            return Err("use only letters, digits, `.`, `-` and `_` in file and folder names");
        }
    }
    Ok(())
}

/// Reads the theme's files (logo, style sheet) from the folder of the story
/// at `path`, whose text is `text`: each must exist inside that folder
/// (symbolic links leading out are refused) and be no larger than its limit.
/// A problem is reported at the line that names the file.
pub(super) fn read_assets(mut loaded: Loaded, path: &Path, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let name = path.display().to_string();
    let folder = path.parent().unwrap_or(Path::new("."));
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let mut p = Problems::default();
    let theme = &mut loaded.story.settings.theme;
    for (key, asset, limit) in [
        ("logo", theme.logo.as_mut(), MAX_LOGO_BYTES),
        ("css", theme.css.as_mut(), MAX_CSS_BYTES),
    ] {
        let Some(asset) = asset else { continue };
        match read_asset(folder, &asset.name, limit) {
            Ok(bytes) => asset.bytes = Some(bytes),
            Err(why) => p.error(asset.at, format!("`{key}` file `{}` {why}", asset.name)),
        }
    }
    for slide in &mut loaded.story.slides {
        let Some(asset) = slide.image_file.as_mut() else {
            continue;
        };
        match read_asset(folder, &asset.name, MAX_SLIDE_IMAGE_BYTES) {
            Ok(bytes) => {
                asset.bytes = Some(bytes);
                slide.image = Some(asset.url());
            }
            Err(why) => p.error(asset.at, format!("`image` file `{}` {why}", asset.name)),
        }
    }
    if !p.has_errors() {
        return Ok(loaded);
    }
    let mut all = loaded.warnings;
    all.extend(p.into_diagnostics(&name, text));
    all.sort_by_key(|d| (d.line, d.col));
    Err(all)
}

fn read_asset(folder: &Path, name: &str, limit: usize) -> Result<Arc<[u8]>, String> {
    let wanted = folder.join(name);
    let inside = match (folder.canonicalize(), wanted.canonicalize()) {
        (Ok(f), Ok(w)) => w.starts_with(f) && w.components().all(|c| !matches!(c, Component::ParentDir)),
        (_, Err(e)) => return Err(format!("cannot be read: {e} (looked for {})", wanted.display())),
        (Err(e), _) => return Err(format!("cannot be read: {e}")),
    };
    if !inside {
        return Err(
            "leads out of the story's folder (through a symbolic link); copy the file next to the story".into(),
        );
    }
    let file = std::fs::File::open(&wanted).map_err(|e| format!("cannot be read: {e}"))?;
    let mut bytes = Vec::new();
    let most = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(most)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() > limit {
        return Err(format!("is larger than {} KiB; make it smaller", limit / 1024));
    }
    Ok(bytes.into())
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn asset_paths_stay_in_the_story_folder() {
        for ok in ["logo.png", "img/logo.svg", "a-b_c.1.css"] {
            assert_eq!(asset_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "../x.css",
            "a/../../x.css",
            "/etc/x.css",
            ".hidden.css",
            "a//b.css",
            "c:x.css",
            "a\\b.css",
            "a b.css",
        ] {
            assert!(asset_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn placeholders_are_found() {
        let names: Vec<_> = placeholders("You chose {label} ({choice}) {not closed {} {x y}").collect();
        assert_eq!(names, ["label", "choice"]);
    }
}
