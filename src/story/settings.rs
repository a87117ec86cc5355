//! Reading `[settings]`: vote mode, presence grace, SMS reply texts, theme.

use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::fields::{a, shown};
use super::load::{Reader, Value};
use super::{DEFAULT_PRESENCE_GRACE, MAX_PRESENCE_GRACE, Settings, SmsTexts, Theme, WebVotes};

const SETTINGS_FIELDS: &[&str] = &["web_votes", "presence_grace", "sms", "theme", "language"];
const SMS_FIELDS: &[&str] = &["replies", "confirm", "help", "closed"];
const THEME_FIELDS: &[&str] = &["mode", "accent"];

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
    }
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
    fn placeholders_are_found() {
        let names: Vec<_> = placeholders("You chose {label} ({choice}) {not closed {} {x y}").collect();
        assert_eq!(names, ["label", "choice"]);
    }
}
