//! The audience's texts in several languages: every page the audience or
//! the room reads (the audience page and its links once published, the
//! decision result, the presenter view's join line and join panel,
//! `/results`, `/explore` and their waiting pages, the error pages) and the
//! messages of `audience.js`.
//!
//! Each language is one TOML file beside this module (`en.toml`,
//! `de.toml`), compiled in; English is complete and every other file has
//! exactly its keys and placeholders (checked by the tests below). A page
//! is drawn in the story's `[settings] language` when it sets one, else in
//! the first language of the browser's `Accept-Language` (by q-value) that
//! cyoa has, else in English ([`choose`]). The web layer picks it once per
//! request and runs the request [`with_language`]; handlers and error
//! pages read it with [`current`]. This module knows nothing of HTTP, so
//! the story (which checks `language` against [`CODES`]) and the map can
//! use it without the web layer.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::LazyLock;

/// The languages cyoa has, by code, English first.
const FILES: &[(&str, &str)] = &[("en", include_str!("en.toml")), ("de", include_str!("de.toml"))];

/// The language codes cyoa has (what `[settings] language` accepts).
pub const CODES: &[&str] = &["en", "de"];

/// One language's texts, by `section.key`.
#[derive(Debug)]
pub struct Language {
    /// The code (`en`, `de`): the page's `<html lang>`.
    pub code: &'static str,
    texts: BTreeMap<String, String>,
}

static LANGUAGES: LazyLock<Vec<Language>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(code, text)| Language {
            code,
            texts: flatten(text),
        })
        .collect()
});

/// `[section] key = "text"` as `section.key -> text`. The files are
/// compiled in and checked by the tests, so a file that does not parse
/// (which the tests catch) gives no texts rather than a panic.
fn flatten(text: &str) -> BTreeMap<String, String> {
    let mut texts = BTreeMap::new();
    let Ok(table) = text.parse::<toml::Table>() else {
        return texts;
    };
    for (section, keys) in table {
        if let toml::Value::Table(keys) = keys {
            for (key, value) in keys {
                if let toml::Value::String(s) = value {
                    texts.insert(format!("{section}.{key}"), s);
                }
            }
        }
    }
    texts
}

/// English: complete, and what every other language falls back to.
pub fn english() -> &'static Language {
    &LANGUAGES[0]
}

/// The language with this code (`de`, `DE`, `de-AT` all find German).
pub fn get(code: &str) -> Option<&'static Language> {
    let primary = code.split(['-', '_']).next().unwrap_or_default().trim();
    LANGUAGES.iter().find(|l| l.code.eq_ignore_ascii_case(primary))
}

/// The first language of an `Accept-Language` header that cyoa has, by
/// q-value (ties in the header's order); `q=0` means "not this one".
pub fn negotiate(accept: &str) -> Option<&'static Language> {
    let mut wanted: Vec<(f32, usize, &str)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(i, item)| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .next()
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (!tag.is_empty() && q > 0.0 && q <= 1.0).then_some((q, i, tag))
        })
        .collect();
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    wanted.into_iter().find_map(|(_, _, tag)| get(tag))
}

/// The story's language if it sets one, else the browser's, else English.
pub fn choose(story: Option<&str>, accept: Option<&str>) -> &'static Language {
    story
        .and_then(get)
        .or_else(|| accept.and_then(negotiate))
        .unwrap_or_else(english)
}

impl Language {
    /// The text of `key` (`page.votes`), in English if this language lacks
    /// it, or the key itself if English does too.
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts
            .get(key)
            .or_else(|| english().texts.get(key))
            .map_or(key, String::as_str)
    }

    /// The text of `key` with each `{name}` replaced by its value.
    pub fn f(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut text = self.t(key).to_string();
        for (name, value) in values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// The text of `section.key` when there is one, in this language or
    /// in English.
    pub fn lookup(&self, key: &str) -> Option<&str> {
        self.texts
            .get(key)
            .or_else(|| english().texts.get(key))
            .map(String::as_str)
    }

    /// The `js.` texts as a JSON object, for a `<script type="application/json">`
    /// block: `<` is written `\u003c`, so no text can end the block.
    pub fn js_json(&self) -> String {
        let js: BTreeMap<&str, &str> = english()
            .texts
            .iter()
            .filter_map(|(key, english)| {
                let short = key.strip_prefix("js.")?;
                Some((short, self.texts.get(key).map_or(english.as_str(), String::as_str)))
            })
            .collect();
        serde_json::to_string(&js)
            .unwrap_or_else(|_| "{}".into())
            .replace('<', "\\u003c")
    }
}

tokio::task_local! {
    static CURRENT: &'static Language;
}

/// The language of the request being handled (English outside one).
pub fn current() -> &'static Language {
    CURRENT.try_with(|l| *l).unwrap_or_else(|_| english())
}

/// Runs `work` in `language`: everything it draws, and [`current`] within
/// it, speaks that language.
pub async fn with_language<F: Future>(language: &'static Language, work: F) -> F::Output {
    CURRENT.scope(language, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(text: &str) -> Vec<&str> {
        let mut names: Vec<&str> = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn every_language_has_every_key_and_placeholder_of_english() {
        assert_eq!(LANGUAGES.len(), CODES.len());
        let en = english();
        assert!(en.texts.len() > 50, "en.toml did not parse: {} texts", en.texts.len());
        for language in LANGUAGES.iter() {
            assert_eq!(Some(language.code), CODES.iter().copied().find(|c| *c == language.code));
            for (key, text) in &en.texts {
                let Some(theirs) = language.texts.get(key) else {
                    panic!("{}.toml lacks {key}", language.code);
                };
                assert!(!theirs.trim().is_empty(), "{}.toml: {key} is blank", language.code);
                assert_eq!(
                    placeholders(theirs),
                    placeholders(text),
                    "{}.toml: {key} has other placeholders than English",
                    language.code
                );
            }
            for key in language.texts.keys() {
                assert!(
                    en.texts.contains_key(key),
                    "{}.toml has {key}, which English lacks",
                    language.code
                );
            }
        }
    }

    #[test]
    fn accept_language_is_read_by_q_value() {
        let code = |h: &str| negotiate(h).map(|l| l.code);
        assert_eq!(code("de-DE,de;q=0.9,en;q=0.8"), Some("de"));
        assert_eq!(code("fr;q=1, en;q=0.5, de;q=0.7"), Some("de"));
        assert_eq!(code("en;q=0.4, DE-at;q=0.6"), Some("de"));
        assert_eq!(code("de;q=0, en"), Some("en"));
        assert_eq!(code("fr, it"), None);
        assert_eq!(code("de;q=bad, en"), Some("en"));
        assert_eq!(code(""), None);
        assert_eq!(code("*"), None);
    }

    #[test]
    fn the_story_wins_then_the_browser_then_english() {
        assert_eq!(choose(Some("de"), Some("en")).code, "de");
        assert_eq!(choose(None, Some("de;q=0.8")).code, "de");
        assert_eq!(choose(None, Some("fr")).code, "en");
        assert_eq!(choose(None, None).code, "en");
    }

    #[test]
    fn texts_fill_placeholders_and_json_cannot_end_its_script_block() {
        let de = get("de").expect("German");
        assert_eq!(
            de.f("page.announce_open", &[("prompt", "Links?")]),
            "Abstimmung offen: Links?"
        );
        let json = de.js_json();
        assert!(json.contains("\"withdrawn\""), "{json}");
        assert!(!json.contains('<'), "{json}");
        let parsed: BTreeMap<String, String> = serde_json::from_str(&json).expect("JSON");
        assert_eq!(parsed["votes"], "Stimmen: ");
    }
}
