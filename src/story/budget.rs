//! The time budget: each slide's `minutes`, the story's `duration`, and how
//! long the rest of the talk takes from any slide, along its shortest and
//! its longest path to an ending.
//!
//! A slide without `minutes` counts [`DEFAULT_SLIDE_MINUTES`]. Paths are
//! walked over the graph with its loops cut, as the path count of
//! `cyoa check` is: a loop makes a talk as long as the presenter lets it,
//! so the figures are those of the talk that goes round no loop. The walk
//! is iterative and linear in slides plus links.

use std::fmt;

use toml::de::DeValue;

use super::check::Graph;
use super::fields::shown;
use super::load::{Field, Reader, Value};
use super::{Slide, Story};

/// What a slide without `minutes` counts, in minutes: the usual rule of
/// thumb of one minute a slide.
pub const DEFAULT_SLIDE_MINUTES: f64 = 1.0;
/// The most `minutes` one slide may take (three hours).
pub const MAX_SLIDE_MINUTES: f64 = 180.0;
/// The longest `duration` a talk may have, in minutes (a day).
pub const MAX_DURATION: f64 = 1440.0;

/// The time from a slide to the end of the talk, in minutes, along the
/// quickest and the slowest way there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// Along the shortest path to an ending.
    pub shortest: f64,
    /// Along the longest path to an ending (loops cut).
    pub longest: f64,
}

/// How long the rest of the talk takes from each slide, in the story's
/// slide order; `None` for a slide with no way on to an ending.
#[derive(Debug, Clone)]
pub struct Rest(Vec<Option<Span>>);

impl Rest {
    /// From slide `id` (that slide included) to the end of the talk.
    pub fn from(&self, story: &Story, id: &str) -> Option<Span> {
        story.index.get(id).and_then(|&i| self.0.get(i).copied().flatten())
    }
}

/// `12`, `2.5`: minutes as `cyoa check`, the console and the map show them,
/// to a tenth, without a trailing `.0`.
pub fn format_minutes(minutes: f64) -> String {
    let tenths = (minutes * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0}")
    } else {
        format!("{tenths:.1}")
    }
}

/// What `cyoa check` prints of the time budget: the talk's shortest and
/// longest path, and its `duration` if it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// From the start to an ending; `None` when no path ends.
    pub talk: Option<Span>,
    /// The story's `duration`, in minutes.
    pub duration: Option<f64>,
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.talk {
            Some(span) => write!(
                f,
                "shortest path {} min, longest path {} min",
                format_minutes(span.shortest),
                format_minutes(span.longest)
            )?,
            None => write!(f, "no path reaches an ending")?,
        }
        match self.duration {
            Some(d) => write!(f, ", duration {} min", format_minutes(d)),
            None => write!(f, ", no duration set"),
        }
    }
}

impl Story {
    /// The minutes `slide` takes: its own `minutes`, else
    /// [`DEFAULT_SLIDE_MINUTES`].
    pub fn minutes_of(slide: &Slide) -> f64 {
        slide.minutes.unwrap_or(DEFAULT_SLIDE_MINUTES)
    }

    /// How long the rest of the talk takes from every slide.
    pub fn rest(&self) -> Rest {
        let minutes: Vec<f64> = self.slides.iter().map(Story::minutes_of).collect();
        let start = self.index.get(&self.start).copied();
        Rest(rest_minutes(&Graph::of(self), &minutes, start))
    }

    /// The shortest and longest path of the talk, and its duration.
    pub fn timing(&self) -> Timing {
        Timing {
            talk: self.rest().from(self, &self.start),
            duration: self.settings.duration,
        }
    }
}

/// The rest of the talk from every slide: a depth-first walk from `start`
/// first (so that its loops are cut where the talk meets them), then from
/// every slide it did not reach.
fn rest_minutes(graph: &Graph, minutes: &[f64], start: Option<usize>) -> Vec<Option<Span>> {
    let n = graph.succ.len();
    let mut rest: Vec<Option<Span>> = vec![None; n];
    graph.post_order(start.into_iter().chain(0..n), |v, done| {
        let own = minutes[v];
        rest[v] = if graph.succ[v].is_empty() {
            graph.may_end[v].then_some(Span {
                shortest: own,
                longest: own,
            })
        } else {
            // Links back into the walk (a loop) are cut.
            graph.succ[v]
                .iter()
                .filter(|&&w| done(w))
                .filter_map(|&w| rest[w])
                .reduce(|a, s| Span {
                    shortest: a.shortest.min(s.shortest),
                    longest: a.longest.max(s.longest),
                })
                .map(|s| Span {
                    shortest: own + s.shortest,
                    longest: own + s.longest,
                })
        };
    });
    rest
}

impl Reader<'_> {
    /// A number of minutes (`minutes` of a slide, `duration` of the story):
    /// an integer or a float, above 0 and at most `max`.
    pub(super) fn minutes_field(&mut self, key: &str, field: Option<Field<'_, '_>>, max: f64) -> Option<f64> {
        let (_, v) = field?;
        let minutes = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok().map(|n| n as f64),
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            _ => None,
        };
        match minutes {
            Some(m) if m.is_finite() && m > 0.0 && m <= max => Some(m),
            _ => {
                self.p.error(
                    v.span().start,
                    format!(
                        "`{key}` must be a number of minutes above 0 and at most {}, like `{key} = 2` or `{key} = 1.5`, not {}",
                        format_minutes(max),
                        shown(self.text, v)
                    ),
                );
                None
            }
        }
    }

    /// Warns, at the story's `duration`, when the talk's longest path takes
    /// longer.
    pub(super) fn budget(&mut self, story: &Story, settings: Option<&Value<'_>>) {
        let Some(duration) = story.settings.duration else {
            return;
        };
        let at = settings
            .and_then(|v| match v.get_ref() {
                DeValue::Table(t) => t.get_key_value("duration"),
                _ => None,
            })
            .map_or(0, |(_, v)| v.span().start);
        let Some(span) = story.rest().from(story, &story.start) else {
            return;
        };
        if span.longest > duration {
            let over = if span.shortest > duration {
                "even the shortest path takes".to_string()
            } else {
                format!("the shortest path takes {} min", format_minutes(span.shortest))
            };
            self.p.warning(
                at,
                format!(
                    "the longest path through the talk takes {} min, over its `duration` of {} min ({over}); \
                     shorten some slides' `minutes`, or plan which choices to steer away from",
                    format_minutes(span.longest),
                    format_minutes(duration)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(succ: Vec<Vec<usize>>) -> Graph {
        let may_end = succ.iter().map(Vec::is_empty).collect();
        Graph { succ, may_end }
    }

    fn span(shortest: f64, longest: f64) -> Option<Span> {
        Some(Span { shortest, longest })
    }

    #[test]
    fn a_diamond_has_a_short_and_a_long_way() {
        // 0 -> 1 (5 min) | 2 (1 min) -> 3
        let g = graph(vec![vec![1, 2], vec![3], vec![3], vec![]]);
        let rest = rest_minutes(&g, &[1.0, 5.0, 1.0, 2.0], Some(0));
        assert_eq!(rest, [span(4.0, 8.0), span(7.0, 7.0), span(3.0, 3.0), span(2.0, 2.0)]);
    }

    #[test]
    fn a_loop_is_cut_and_a_trap_has_no_end() {
        // 0 -> 1 -> (0 | 2); 3 <-> 4 never ends.
        let g = graph(vec![vec![1], vec![0, 2], vec![], vec![4], vec![3]]);
        let rest = rest_minutes(&g, &[1.0; 5], Some(0));
        assert_eq!(rest[..3], [span(3.0, 3.0), span(2.0, 2.0), span(1.0, 1.0)]);
        assert_eq!(rest[3..], [None, None]);
    }

    #[test]
    fn a_long_chain_needs_no_stack() {
        let n = 200_000;
        let succ = (0..n).map(|i| if i + 1 < n { vec![i + 1] } else { vec![] }).collect();
        let rest = rest_minutes(&graph(succ), &vec![0.5; n], Some(0));
        assert_eq!(rest[0], span(100_000.0, 100_000.0));
    }

    #[test]
    fn minutes_show_to_a_tenth() {
        assert_eq!(format_minutes(12.0), "12");
        assert_eq!(format_minutes(2.5), "2.5");
        assert_eq!(format_minutes(0.04), "0");
        assert_eq!(format_minutes(1.96), "2");
    }
}
