//! The story as the map sees it: straight runs of slides folded into
//! groups (one box each), and the edges between groups.

use std::collections::{HashMap, HashSet};

use crate::story::{Story, Then};

/// A box on the map: one slide, or a straight run of them.
#[derive(Debug, Clone)]
pub struct Group {
    /// The slides' ids, in order.
    pub slides: Vec<String>,
}

/// An arrow between two groups: a `next`, or one or more choices of the
/// source's decision that lead to the same group.
#[derive(Debug, Clone)]
pub(super) struct Edge {
    /// The upper group (in the story's direction).
    pub(super) from: usize,
    /// The group it leads to.
    pub(super) to: usize,
    /// Choice ids of the decision at the end of `from`; empty for `next`.
    pub(super) choices: Vec<String>,
}

/// The story cut into groups, with the edges between them.
#[derive(Debug)]
pub struct Graph {
    /// The boxes, the start's first.
    pub groups: Vec<Group>,
    pub(super) edges: Vec<Edge>,
}

impl Graph {
    /// Groups the slides of `story` and links the groups.
    pub fn of(story: &Story) -> Graph {
        // Ways in: every `next` and every choice, and the start itself.
        let mut ways_in: HashMap<&str, usize> = HashMap::new();
        *ways_in.entry(story.start.as_str()).or_default() += 1;
        for slide in &story.slides {
            match &slide.then {
                Then::Next(to) => *ways_in.entry(to.as_str()).or_default() += 1,
                Then::Decision(d) => {
                    for c in &d.choices {
                        *ways_in.entry(c.goto.as_str()).or_default() += 1;
                    }
                }
                Then::Ending => {}
            }
        }
        // A slide continues its only way in when that is a `next`.
        let mut continues: HashSet<&str> = HashSet::new();
        for slide in &story.slides {
            if let Then::Next(to) = &slide.then {
                if ways_in.get(to.as_str()) == Some(&1) && story.slide(to).is_some() {
                    continues.insert(to.as_str());
                }
            }
        }
        let mut group_of: HashMap<String, usize> = HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        // Heads first (the start first of all), then whatever a loop of
        // continuations left over.
        let mut heads: Vec<&str> = vec![story.start.as_str()];
        heads.extend(
            story
                .slides
                .iter()
                .map(|s| s.id.as_str())
                .filter(|id| !continues.contains(id)),
        );
        heads.extend(story.slides.iter().map(|s| s.id.as_str()));
        for head in heads {
            if group_of.contains_key(head) || story.slide(head).is_none() {
                continue;
            }
            let index = groups.len();
            let mut slides = vec![head.to_string()];
            group_of.insert(head.to_string(), index);
            let mut at = head;
            while let Some(Then::Next(to)) = story.slide(at).map(|s| &s.then) {
                if !continues.contains(to.as_str()) || group_of.contains_key(to) {
                    break;
                }
                group_of.insert(to.clone(), index);
                slides.push(to.clone());
                at = to;
            }
            groups.push(Group { slides });
        }
        let mut edges: Vec<Edge> = Vec::new();
        for (from, group) in groups.iter().enumerate() {
            let Some(last) = group.slides.last().and_then(|id| story.slide(id)) else {
                continue;
            };
            match &last.then {
                Then::Next(to) => {
                    if let Some(&to) = group_of.get(to) {
                        edges.push(Edge {
                            from,
                            to,
                            choices: Vec::new(),
                        });
                    }
                }
                Then::Decision(d) => {
                    for c in &d.choices {
                        let Some(&to) = group_of.get(&c.goto) else { continue };
                        match edges
                            .iter_mut()
                            .find(|e| e.from == from && e.to == to && !e.choices.is_empty())
                        {
                            Some(e) => e.choices.push(c.id.clone()),
                            None => edges.push(Edge {
                                from,
                                to,
                                choices: vec![c.id.clone()],
                            }),
                        }
                    }
                }
                Then::Ending => {}
            }
        }
        Graph { groups, edges }
    }
}
