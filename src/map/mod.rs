//! The story map: the story's graph as an SVG, drawn on the server, for the
//! presenter's overlay (key M), the explore pages and `cyoa map`.
//!
//! A straight run of slides (each reached only by the `next` of the one
//! before) is drawn as one box, a *group*, so a 67-slide talk becomes a
//! couple of dozen boxes. Groups are laid out top to bottom in layers, in
//! the manner of Sugiyama: layers by the longest path from the start (a
//! loop's edge back up is turned around for this), a waypoint on each layer
//! an edge skips, a few barycentre sweeps to untangle crossings, then x
//! positions as close to the neighbours' as the spacing allows. Choices are
//! labelled edges; plain `next` edges are not. A run's path is highlighted,
//! with each decision's vote shares on its edges.
//!
//! Hand-written rather than a layout crate: the layouts at hand draw their
//! own SVG (without the classes, links and highlighting this map needs) or
//! bring a graph library for a few hundred lines of arithmetic.
//!
//! `graph` folds the slides into groups, `layout` places them, this
//! module draws. Every piece of story text goes through [`escape`]; the SVG
//! styles itself with attributes (no `<style>`, no script), so it works as
//! a file, as an `<img>` and inline under the pages' Content-Security-Policy.

mod graph;
mod layout;

pub use crate::xml::escape;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

pub use graph::{Graph, Group};
use layout::{Layout, layout};

use crate::i18n::Language;
use crate::store::{RunRecord, Tally};
use crate::story::{Story, Then};

/// A run drawn on the map: its path and the tallies of its decisions.
#[derive(Debug, Clone, Default)]
pub struct RunOnMap {
    /// Slides shown, oldest first.
    pub path: Vec<String>,
    /// The slide on screen.
    pub slide: String,
    /// Each decision's tally: frozen when closed, live when open.
    pub tallies: HashMap<String, Tally>,
}

impl RunOnMap {
    /// The run of `record`, with the live tally of its open decision.
    pub fn new(record: &RunRecord, open_tally: Option<Tally>) -> Self {
        let mut tallies: HashMap<String, Tally> = record
            .closed
            .iter()
            .map(|c| (c.decision.clone(), c.tally.clone()))
            .collect();
        if let (Some(open), Some(tally)) = (&record.state.open, open_tally) {
            tallies.insert(open.clone(), tally);
        }
        RunOnMap {
            path: record.state.path.clone(),
            slide: record.state.slide.clone(),
            tallies,
        }
    }

    fn took(&self, from: &str, to: &str) -> bool {
        self.path.windows(2).any(|w| w[0] == from && w[1] == to)
    }
}

/// Several runs drawn on the map at once: how many of them passed through
/// each slide.
#[derive(Debug, Clone, Default)]
pub struct Visits {
    /// Slide id -> the number of runs whose path holds it.
    pub counts: HashMap<String, usize>,
    /// How many runs are counted.
    pub runs: usize,
}

impl Visits {
    /// The visits of these runs' paths.
    pub fn of<'r>(paths: impl IntoIterator<Item = &'r [String]>) -> Self {
        let mut visits = Visits::default();
        for path in paths {
            visits.runs += 1;
            let unique: HashSet<&String> = path.iter().collect();
            for slide in unique {
                *visits.counts.entry(slide.clone()).or_default() += 1;
            }
        }
        visits
    }
}

/// How to draw the map.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapOptions<'a> {
    /// The run to highlight, if any.
    pub run: Option<&'a RunOnMap>,
    /// Several runs at once: each box says how many of them visited it.
    pub visits: Option<&'a Visits>,
    /// Makes each box a link to this prefix and its first slide's id
    /// (`/explore/`).
    pub link: Option<&'a str>,
    /// The language of the map's own words ("Story map", "3 more
    /// slides"): the page's on `/explore`; English when `None`.
    pub language: Option<&'a Language>,
}

// ---- the drawing's measures, in SVG units (px at scale 1) ----
const NODE_W: f64 = 244.0;
const LINE_H: f64 = 18.0;
const NODE_PAD: f64 = 10.0;
const GAP_X: f64 = 40.0;
const DUMMY_GAP: f64 = 24.0;
const GAP_Y: f64 = 84.0;
const MARGIN: f64 = 24.0;
const TITLE_H: f64 = 40.0;
const MAX_TITLE: usize = 30;
const MAX_LABEL: usize = 26;
const SWEEPS: usize = 12;

// ---- colours: readable on a projector, and on white paper ----
const PAPER: &str = "#ffffff";
const INK: &str = "#1d1f27";
const MUTED: &str = "#5c6270";
const LINE: &str = "#9aa0ad";
const BOX: &str = "#f3f4f7";
const VISITED_BOX: &str = "#fff1bf";
const VISITED_LINE: &str = "#b7791f";
// Dark enough for 12 px text on white (5.7:1).
const TAKEN: &str = "#b93a06";

/// `text` cut to `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// A point of the drawing: x, y.
type Point = (f64, f64);

/// The lines a group's box shows: its titles, then the minutes its
/// slides take.
fn box_lines(story: &Story, group: &Group, tr: &Language) -> Vec<String> {
    let mut lines = title_lines(story, group, tr);
    let minutes: f64 = group
        .slides
        .iter()
        .filter_map(|id| story.slide(id))
        .map(Story::minutes_of)
        .sum();
    lines.push(tr.f("map.minutes", &[("n", &crate::story::budget::format_minutes(minutes))]));
    lines
}

/// The titles a group's box shows.
fn title_lines(story: &Story, group: &Group, tr: &Language) -> Vec<String> {
    let title = |id: &str| clip(story.slide(id).map_or(id, |s| s.title.as_str()), MAX_TITLE);
    match group.slides.as_slice() {
        [] => Vec::new(),
        [one] => vec![title(one)],
        [a, b] => vec![title(a), title(b)],
        [first, middle @ .., last] => {
            let more = match middle.len() {
                1 => tr.t("map.more_one").to_string(),
                n => tr.f("map.more", &[("n", &n.to_string())]),
            };
            vec![title(first), more, title(last)]
        }
    }
}

/// Draws `story` as an SVG document.
pub fn render(story: &Story, options: MapOptions<'_>) -> String {
    let graph = Graph::of(story);
    let tr: &Language = match options.language {
        Some(language) => language,
        None => crate::i18n::english(),
    };
    let lines: Vec<Vec<String>> = graph.groups.iter().map(|g| box_lines(story, g, tr)).collect();
    let heights: Vec<f64> = lines.iter().map(|l| NODE_PAD * 2.0 + LINE_H * l.len() as f64).collect();
    let Layout {
        items,
        routes,
        layer_top,
        layer_h,
        width,
        height,
    } = layout(&graph, &heights);

    let run = options.run;
    let in_path: HashSet<&str> = run
        .map(|r| r.path.iter().map(String::as_str).collect())
        .unwrap_or_default();

    let mut svg = String::new();
    let title = escape(&story.title);
    let map_title = escape(&tr.f("map.title", &[("title", &story.title)]));
    // A picture, unless its boxes are links: an image hides its content
    // from screen readers, so links inside one could not be reached.
    let role = if options.link.is_some() { "group" } else { "img" };
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="story-map" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="{role}" aria-labelledby="story-map-title" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="13">"#
    );
    let _ = write!(
        svg,
        r#"<title id="story-map-title">{map_title}</title><defs><marker id="map-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{LINE}"/></marker><marker id="map-arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="13" markerHeight="13" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{TAKEN}"/></marker></defs>"#
    );
    let _ = write!(
        svg,
        r#"<rect class="map-background" x="0" y="0" width="{width:.0}" height="{height:.0}" fill="{PAPER}"/><text class="map-title" x="{MARGIN}" y="{:.0}" font-size="18" font-weight="700" fill="{INK}">{title}</text>"#,
        MARGIN + 20.0
    );

    // Where each edge leaves and enters its boxes: spread along the edge.
    let top_of = |i: usize| layer_top[items[i].layer];
    let bottom_of = |i: usize| layer_top[items[i].layer] + items[i].height;
    let mut exits: HashMap<usize, Vec<(f64, usize)>> = HashMap::new();
    let mut entries: HashMap<usize, Vec<(f64, usize)>> = HashMap::new();
    for (r, route) in routes.iter().enumerate() {
        let n = route.items.len();
        exits
            .entry(route.items[0])
            .or_default()
            .push((items[route.items[1]].x, r));
        entries
            .entry(route.items[n - 1])
            .or_default()
            .push((items[route.items[n - 2]].x, r));
    }
    let spread = |ends: &HashMap<usize, Vec<(f64, usize)>>| {
        let mut at: HashMap<usize, f64> = HashMap::new();
        for (&item, list) in ends {
            let mut list = list.clone();
            list.sort_by(|a, b| a.0.total_cmp(&b.0));
            let n = list.len();
            let step = if n > 1 {
                ((NODE_W - 60.0) / (n - 1) as f64).min(44.0)
            } else {
                0.0
            };
            for (k, (_, r)) in list.into_iter().enumerate() {
                at.insert(r, items[item].x + (k as f64 - (n - 1) as f64 / 2.0) * step);
            }
        }
        at
    };
    let exit_x = spread(&exits);
    let entry_x = spread(&entries);

    // Edges first, so boxes and labels sit on top of them.
    let mut labels = String::new();
    for (r, route) in routes.iter().enumerate() {
        let edge = &graph.edges[route.edge];
        let from = &graph.groups[edge.from];
        let to = &graph.groups[edge.to];
        let (Some(last), Some(first)) = (from.slides.last(), to.slides.first()) else {
            continue;
        };
        let decision = story.decision(last);
        let taken = run.is_some_and(|run| {
            if edge.choices.is_empty() {
                run.took(last, first)
            } else {
                decision.is_some_and(|d| {
                    edge.choices
                        .iter()
                        .filter_map(|c| d.choice(c))
                        .any(|c| run.took(last, &c.goto))
                })
            }
        });
        // Stretches top to bottom: out of the upper box, straight through
        // each waypoint's layer, into the lower box.
        let n = route.items.len();
        let mut stretches: Vec<(Point, Point, bool)> = Vec::new();
        let mut at = (exit_x[&r], bottom_of(route.items[0]));
        for &w in &route.items[1..n - 1] {
            let top = layer_top[items[w].layer];
            let bottom = top + layer_h[items[w].layer];
            stretches.push((at, (items[w].x, top), false));
            stretches.push(((items[w].x, top), (items[w].x, bottom), true));
            at = (items[w].x, bottom);
        }
        stretches.push((at, (entry_x[&r], top_of(route.items[n - 1])), false));
        if route.reversed {
            stretches.reverse();
            for s in &mut stretches {
                std::mem::swap(&mut s.0, &mut s.1);
            }
        }
        let mut d = format!("M{:.1},{:.1}", stretches[0].0.0, stretches[0].0.1);
        for &((x0, y0), (x1, y1), straight) in &stretches {
            if straight {
                let _ = write!(d, " L{x1:.1},{y1:.1}");
            } else {
                let mid = (y0 + y1) / 2.0;
                let _ = write!(d, " C{x0:.1},{mid:.1} {x1:.1},{mid:.1} {x1:.1},{y1:.1}");
            }
        }
        let end = stretches[stretches.len() - 1].1;
        let mut class = String::from("edge");
        if edge.choices.is_empty() {
            class.push_str(" next");
        } else {
            class.push_str(" choice");
        }
        if route.reversed {
            class.push_str(" back");
        }
        if taken {
            class.push_str(" taken");
        }
        let (stroke, width, marker) = if taken {
            (TAKEN, 3.5, "map-arrow-taken")
        } else {
            (LINE, 1.6, "map-arrow")
        };
        let dash = if route.reversed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<path class="{class}" data-from="{}" data-to="{}" d="{d}" fill="none" stroke="{stroke}" stroke-width="{width}"{dash} marker-end="url(#{marker})"/>"#,
            escape(last),
            escape(first)
        );
        if let Some(decision) = decision.filter(|_| !edge.choices.is_empty()) {
            let tally = run.and_then(|run| run.tallies.get(&decision.id));
            edge_label(&mut labels, decision, &edge.choices, tally, run, end, route.reversed);
        }
    }
    // Loops onto the same box: a small arc on its right.
    for edge in graph.edges.iter().filter(|e| e.from == e.to) {
        let item = &items[edge.from];
        let (x, top) = (item.x + NODE_W / 2.0, top_of(edge.from));
        let h = item.height;
        let _ = write!(
            svg,
            r#"<path class="edge loop" d="M{x:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {x:.1},{:.1}" fill="none" stroke="{LINE}" stroke-width="1.6" marker-end="url(#map-arrow)"/>"#,
            top + h * 0.3,
            x + 46.0,
            top - 6.0,
            x + 46.0,
            top + h + 6.0,
            top + h * 0.7
        );
        if let Some(decision) = graph.groups[edge.from].slides.last().and_then(|s| story.decision(s)) {
            let tally = run.and_then(|run| run.tallies.get(&decision.id));
            edge_label(
                &mut labels,
                decision,
                &edge.choices,
                tally,
                run,
                (x + 110.0, top + h / 2.0 + LINE_H),
                false,
            );
        }
    }

    for (g, group) in graph.groups.iter().enumerate() {
        let item = &items[g];
        let (x, top) = (item.x - NODE_W / 2.0, top_of(g));
        let last = group.slides.last().and_then(|s| story.slide(s));
        let mut class = String::from("group");
        match last.map(|s| &s.then) {
            Some(Then::Decision(_)) => class.push_str(" decision"),
            Some(Then::Ending) => class.push_str(" ending"),
            _ => {}
        }
        let visits = options.visits.map(|v| {
            let n = group
                .slides
                .iter()
                .filter_map(|s| v.counts.get(s))
                .copied()
                .max()
                .unwrap_or(0);
            (n, v.runs)
        });
        let visited = group.slides.iter().any(|s| in_path.contains(s.as_str())) || visits.is_some_and(|(n, _)| n > 0);
        let current = run.is_some_and(|r| group.slides.contains(&r.slide));
        if visited {
            class.push_str(" visited");
        }
        if current {
            class.push_str(" current");
        }
        let first = group.slides.first().map(String::as_str).unwrap_or_default();
        let tooltip: Vec<String> = group
            .slides
            .iter()
            .map(|id| story.slide(id).map_or_else(|| id.clone(), |s| s.title.clone()))
            .collect();
        let visits_text = visits.map(|(n, of)| tr.f("map.visits", &[("n", &n.to_string()), ("runs", &of.to_string())]));
        let mut tooltip = tooltip.join(" → ");
        if let Some(text) = &visits_text {
            tooltip.push_str(&format!(" ({text})"));
        }
        let (fill, stroke, stroke_width) = match (visited, current) {
            (_, true) => (VISITED_BOX, TAKEN, 3.5),
            (true, false) => (VISITED_BOX, VISITED_LINE, 2.0),
            _ => (BOX, LINE, 1.2),
        };
        if let Some(prefix) = options.link {
            let _ = write!(svg, r#"<a href="{}{}">"#, escape(prefix), escape(first));
        }
        let _ = write!(
            svg,
            r#"<g class="{class}" id="map-{}" data-slides="{}"{}><title>{}</title>"#,
            escape(first),
            escape(&group.slides.join(" ")),
            visits.map_or_else(String::new, |(n, _)| format!(r#" data-runs="{n}""#)),
            escape(&tooltip)
        );
        let rx = if matches!(last.map(|s| &s.then), Some(Then::Ending)) {
            18
        } else {
            8
        };
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{top:.1}" width="{NODE_W}" height="{:.1}" rx="{rx}" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"/>"#,
            item.height
        );
        for (k, line) in lines[g].iter().enumerate() {
            let more = k == 1 && group.slides.len() > 2;
            // The last line is the box's minutes.
            let minutes = k + 1 == lines[g].len();
            let (fill, style) = if minutes {
                (MUTED, r#" class="minutes" font-size="11""#)
            } else if more {
                (MUTED, r#" font-style="italic" font-size="12""#)
            } else if k + 2 == lines[g].len() && class.contains("decision") {
                (INK, r#" font-weight="700""#)
            } else {
                (INK, "")
            };
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{fill}"{style}>{}</text>"#,
                item.x,
                top + NODE_PAD + LINE_H * (k as f64 + 0.75),
                escape(line)
            );
        }
        if let Some(text) = &visits_text {
            let _ = write!(
                svg,
                r#"<text class="visits" x="{:.1}" y="{:.1}" text-anchor="end" fill="{TAKEN}" font-size="12" font-weight="700">{}</text>"#,
                x + NODE_W - 6.0,
                top - 4.0,
                escape(text)
            );
        }
        svg.push_str("</g>");
        if options.link.is_some() {
            svg.push_str("</a>");
        }
    }
    svg.push_str(&labels);
    svg.push_str("</svg>\n");
    svg
}

/// The label of a choice edge, just above where it ends (or below, for an
/// edge drawn upwards): each choice's label and, in a run, its vote share.
fn edge_label(
    out: &mut String,
    decision: &crate::story::Decision,
    choices: &[String],
    tally: Option<&Tally>,
    run: Option<&RunOnMap>,
    end: (f64, f64),
    upwards: bool,
) {
    let total = tally.map_or(0, |t| decision.choices.iter().map(|c| t.get(&c.id)).sum::<u64>());
    let mut rows: Vec<(String, Option<String>, bool)> = Vec::new();
    for id in choices {
        let Some(choice) = decision.choice(id) else { continue };
        let share = tally.filter(|_| total > 0).map(|t| {
            let votes = t.get(id);
            format!("{}% ({votes})", (votes as f64 * 100.0 / total as f64).round())
        });
        // Two choices to one slide: the path cannot tell which was taken.
        let alone = decision.choices.iter().filter(|c| c.goto == choice.goto).count() == 1;
        let taken = alone && run.is_some_and(|r| r.took(&decision.id, &choice.goto));
        rows.push((clip(&choice.label, MAX_LABEL), share, taken));
    }
    let n = rows.len() as f64;
    let first_y = if upwards {
        end.1 + 18.0
    } else {
        end.1 - 10.0 - (n - 1.0) * 16.0
    };
    let widest = rows
        .iter()
        .map(|(l, s, _)| l.chars().count() + s.as_ref().map_or(0, |s| s.chars().count() + 1))
        .max()
        .unwrap_or(0) as f64;
    let w = widest * 6.6 + 12.0;
    let _ = write!(
        out,
        r#"<g class="edge-label" data-decision="{}"><rect x="{:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" rx="4" fill="{PAPER}" fill-opacity="0.92"/>"#,
        escape(&decision.id),
        end.0 - w / 2.0,
        first_y - 12.0,
        n * 16.0 + 2.0
    );
    for (k, (label, share, taken)) in rows.iter().enumerate() {
        let fill = if *taken { TAKEN } else { MUTED };
        let weight = if *taken { r#" font-weight="700""# } else { "" };
        let class = if *taken { "choice-label taken" } else { "choice-label" };
        let _ = write!(
            out,
            r#"<text class="{class}" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="{fill}"{weight}>{}"#,
            end.0,
            first_y + k as f64 * 16.0,
            escape(label)
        );
        if let Some(share) = share {
            let _ = write!(
                out,
                r#" <tspan class="share" font-weight="700">{}</tspan>"#,
                escape(share)
            );
        }
        out.push_str("</text>");
    }
    out.push_str("</g>");
}

/// The boxes of the map of `story`: each box's first slide id -> its slides.
pub fn groups(story: &Story) -> BTreeMap<String, Vec<String>> {
    Graph::of(story)
        .groups
        .into_iter()
        .filter_map(|g| Some((g.slides.first()?.clone(), g.slides)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::layout::spaced;
    use super::*;

    fn story(text: &str) -> Story {
        match Story::parse("t.toml", text) {
            Ok(l) => l.story,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn spacing_keeps_the_gap_and_stays_near_the_wish() {
        let x = spaced(&[0.0, 0.0, 100.0], &[10.0, 10.0]);
        assert!((x[1] - x[0] - 10.0).abs() < 1e-9 && x[2] >= x[1] + 10.0);
        assert!((x[0] + x[1]) / 2.0 - 0.0 < 1e-9);
        assert_eq!(spaced(&[5.0, 50.0], &[10.0]), vec![5.0, 50.0]);
    }

    #[test]
    fn a_straight_run_of_slides_is_one_group_and_a_join_starts_another() {
        let s = story(
            r#"
title = "T"
start = "a"
[slides.a]
title = "A"
next = "b"
[slides.b]
title = "B"
[slides.b.decision]
prompt = "?"
choices = [{ id = "x", label = "X", goto = "c" }, { id = "y", label = "Y", goto = "d" }]
[slides.c]
title = "C"
next = "e"
[slides.d]
title = "D"
next = "e"
[slides.e]
title = "E"
"#,
        );
        let g = groups(&s);
        assert_eq!(g["a"], ["a", "b"]);
        assert_eq!(g["c"], ["c"]);
        assert_eq!(g["e"], ["e"]);
        assert_eq!(g.len(), 4);
    }
}
