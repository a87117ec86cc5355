//! `cyoa serve --watch`: the story file is loaded again whenever it changes,
//! so an author sees an edit on the presenter view as soon as it is saved.
//!
//! The watcher polls the file's modification time and size every
//! [`WATCH_EVERY`] rather than asking the OS for change events: one `stat`
//! a quarter of a second costs nothing, and polling works the same on every
//! platform and file system, including the bind mounts of containers and
//! network shares where inotify stays silent, and with editors that save by
//! writing a new file and renaming it over the old one (which a watch on the
//! file itself loses). A change is loaded once the file has stood still for
//! one poll, so a save in several writes is not loaded half-written.
//!
//! What a reload keeps and what it refuses:
//! - an edit that does not check is not loaded: the last good story stays,
//!   the check's `FILE:LINE:COL` messages go to the log and to a banner on
//!   the presenter view and console (cleared by the next good load);
//! - votes stay: the store files them by run, decision and choice ids;
//! - an edit that removes the slide the run is on, or the decision whose
//!   vote is open, or changes that vote's choices, is held back with a
//!   banner saying so, and loads by itself as soon as the run has moved on
//!   (or the vote is closed): the talk never stands on a slide that is gone;
//! - `web_votes` and `presence_grace` are read once at start: a change is
//!   logged as needing a restart. Everything else (texts, slides, theme,
//!   language, `start` for the next run) applies at once.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Talk;
use super::view::StateView;
use crate::story::{Loaded, Story};

/// How often the watcher looks at the story file.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

/// What one look at the file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The new story is served.
    Loaded,
    /// The edit does not check; the old story is still served.
    Refused(Vec<String>),
    /// The edit checks but does not fit where the run stands (yet).
    Held(String),
}

/// Watches `path` until the server stops, loading every change.
pub async fn watch(talk: Talk, path: PathBuf) {
    let mut stopping = talk.stopping();
    let mut loaded = stamp(&path).await;
    let mut seen = loaded;
    let mut held = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(WATCH_EVERY) => {}
            _ = stopping.changed() => return,
        }
        let now = stamp(&path).await;
        // Load a change once the file stood still for one poll; retry a
        // held edit on every poll, as the run may have moved on.
        let settled = now == seen && now != loaded;
        seen = now;
        if settled || held {
            loaded = now;
            held = matches!(reload(&talk, &path).await, Reload::Held(_));
        }
    }
}

/// The file's modification time and size; `None` while it cannot be read
/// (between an editor's delete and its write).
async fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Loads `path` and, if it checks and fits the run, serves it; tells every
/// page either way.
pub async fn reload(talk: &Talk, path: &Path) -> Reload {
    let owned = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || Story::load(&owned))
        .await
        .unwrap_or_else(|e| {
            Err(vec![crate::story::Diagnostic {
                file: path.display().to_string(),
                line: 1,
                col: 1,
                severity: crate::story::Severity::Error,
                message: format!("cannot read the story: {e}"),
            }])
        });
    let outcome = match loaded {
        Err(problems) => Reload::Refused(problems.iter().map(ToString::to_string).collect()),
        Ok(Loaded { story, warnings }) => match fits(talk, path, &story).await {
            Err(why) => Reload::Held(why),
            Ok(()) => {
                for w in &warnings {
                    tracing::warn!(warning = %w, "story warning");
                }
                note_fixed_settings(&talk.story(), &story);
                tracing::info!(story = %path.display(), summary = %story.summary(), "reloaded the story");
                talk.replace_story(story);
                Reload::Loaded
            }
        },
    };
    let problems = match &outcome {
        Reload::Loaded => Vec::new(),
        Reload::Refused(problems) => problems.clone(),
        Reload::Held(why) => vec![why.clone()],
    };
    let changed = talk.story_problems() != problems;
    // Logged when they change: a held edit is tried again on every poll.
    if changed {
        match &outcome {
            Reload::Refused(problems) => {
                for p in problems {
                    tracing::warn!(problem = %p, "the edited story does not check; still serving the last good version");
                }
            }
            Reload::Held(why) => tracing::warn!(why = %why, "the edited story waits until the run has moved on"),
            Reload::Loaded => {}
        }
    }
    talk.set_story_problems(problems);
    if outcome == Reload::Loaded {
        // `story` first: pages that see it draw the state that follows anew.
        talk.pushes.story(true);
        match StateView::load(talk).await {
            Ok(view) => talk.pushes.state(view),
            Err(e) => tracing::warn!(error = %e, "cannot push the reloaded story's state"),
        }
    } else if changed {
        talk.pushes.story(false);
    }
    outcome
}

/// Whether `story` can be served where the run stands: its slide must
/// still exist, and an open vote must keep its decision and choices.
async fn fits(talk: &Talk, path: &Path, story: &Story) -> Result<(), String> {
    let state = talk
        .store
        .current(&story.start)
        .await
        .map_err(|e| format!("{}: cannot read where the run stands: {e}", path.display()))?;
    let file = path.display();
    if story.slide(&state.slide).is_none() {
        return Err(format!(
            "{file}: the run is on slide `{}`, which the edited story does not have; \
             the edit loads by itself once the talk has moved to a slide it keeps",
            state.slide
        ));
    }
    if let Some(open) = &state.open {
        let ids = |s: &Story| {
            s.decision(open)
                .map(|d| d.choices.iter().map(|c| c.id.clone()).collect::<Vec<_>>())
        };
        let (before, after) = (ids(&talk.story()), ids(story));
        if after.is_none() || (before.is_some() && before != after) {
            return Err(format!(
                "{file}: the vote on `{open}` is open and the edit removes it or changes its choices; \
                 the edit loads by itself once the vote is closed"
            ));
        }
    }
    Ok(())
}

/// Logs the settings cyoa reads only at start, when an edit changes them.
fn note_fixed_settings(old: &Story, new: &Story) {
    if old.settings.web_votes != new.settings.web_votes {
        tracing::warn!(
            "`web_votes` changed in the story file; it applies when cyoa serve starts again (restart to use it)"
        );
    }
    if old.settings.presence_grace != new.settings.presence_grace {
        tracing::warn!(
            "`presence_grace` changed in the story file; it applies when cyoa serve starts again (restart to use it)"
        );
    }
}
