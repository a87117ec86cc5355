//! The story as a graph of slides: what the start reaches, which slides can
//! still reach an ending, and the summary `cyoa check` prints.
//!
//! Every walk here is iterative and linear in slides plus links, so a story
//! of 10,000 slides, or a chain 10,000 slides long, costs milliseconds and
//! no stack. Paths are counted with saturating arithmetic over the graph
//! with its loops cut (back edges of a depth-first walk dropped), because
//! with loops the number of walks is infinite and counting simple paths is
//! intractable in general.

use std::fmt;

use super::{Story, Then};

/// Slides as numbers and links between them.
pub(super) struct Graph {
    /// Slides each slide links to (`next` or choices' `goto`), each once.
    pub succ: Vec<Vec<usize>>,
    /// Whether the talk may end at this slide: an ending, or (while loading a
    /// story with errors) a slide linking to a slide that does not exist or a
    /// decision without readable choices, so that such slides are not also
    /// blamed for loops.
    pub may_end: Vec<bool>,
}

impl Graph {
    /// The graph of a checked story.
    pub fn of(story: &Story) -> Graph {
        let mut succ = Vec::with_capacity(story.slides.len());
        let mut may_end = Vec::with_capacity(story.slides.len());
        for slide in &story.slides {
            let mut links: Vec<usize> = Vec::new();
            let mut dangling = false;
            let mut link = |target: &str| match story.index.get(target) {
                Some(&i) => links.push(i),
                None => dangling = true,
            };
            match &slide.then {
                Then::Next(n) => link(n),
                Then::Decision(d) => d.choices.iter().for_each(|c| link(&c.goto)),
                Then::Ending => {}
            }
            // Two choices to one slide are one link (and one path).
            links.sort_unstable();
            links.dedup();
            // No links at all is an ending, or a decision whose choices
            // all had errors: either way, not a loop.
            may_end.push(links.is_empty() || dangling);
            succ.push(links);
        }
        Graph { succ, may_end }
    }

    /// Which slides a run starting at `start` can show.
    pub fn reachable(&self, start: usize) -> Vec<bool> {
        let mut seen = vec![false; self.succ.len()];
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(v) = stack.pop() {
            for &w in &self.succ[v] {
                if !seen[w] {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
        seen
    }

    /// Which slides have some way on to an ending.
    pub fn can_end(&self) -> Vec<bool> {
        let n = self.succ.len();
        let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (v, ws) in self.succ.iter().enumerate() {
            for &w in ws {
                pred[w].push(v);
            }
        }
        let mut ok = self.may_end.clone();
        let mut stack: Vec<usize> = (0..n).filter(|&v| ok[v]).collect();
        while let Some(w) = stack.pop() {
            for &v in &pred[w] {
                if !ok[v] {
                    ok[v] = true;
                    stack.push(v);
                }
            }
        }
        ok
    }

    /// Walks the slides depth-first from each root in turn (skipping those
    /// already seen) and calls `finish(v, done)` once all of `v`'s links
    /// are explored, its successors first: `done(w)` is false for a link
    /// that leads back into the walk (a loop), which is cut.
    pub fn post_order(
        &self,
        roots: impl IntoIterator<Item = usize>,
        mut finish: impl FnMut(usize, &dyn Fn(usize) -> bool),
    ) {
        const NEW: u8 = 0;
        const OPEN: u8 = 1;
        const DONE: u8 = 2;
        let mut state = vec![NEW; self.succ.len()];
        for root in roots {
            if state[root] != NEW {
                continue;
            }
            state[root] = OPEN;
            // (slide, index of its next link to look at)
            let mut stack = vec![(root, 0usize)];
            while let Some(top) = stack.last_mut() {
                let (v, i) = *top;
                if let Some(&w) = self.succ[v].get(i) {
                    top.1 += 1;
                    if state[w] == NEW {
                        state[w] = OPEN;
                        stack.push((w, 0));
                    }
                    continue;
                }
                stack.pop();
                state[v] = DONE;
                finish(v, &|w| state[w] == DONE);
            }
        }
    }

    /// Distinct paths from `start` to an ending, and the number of slides on
    /// the longest one, over the graph with loops cut.
    fn paths_and_longest(&self, start: usize) -> (u64, usize) {
        let n = self.succ.len();
        let mut paths = vec![0u64; n];
        let mut longest = vec![0usize; n];
        self.post_order([start], |v, done| {
            if self.succ[v].is_empty() {
                paths[v] = u64::from(self.may_end[v]);
                longest[v] = usize::from(self.may_end[v]);
            } else {
                let mut p = 0u64;
                let mut l = 0usize;
                for &w in self.succ[v].iter().filter(|&&w| done(w)) {
                    p = p.saturating_add(paths[w]);
                    l = l.max(longest[w]);
                }
                paths[v] = p;
                longest[v] = if l > 0 { l + 1 } else { 0 };
            }
        });
        (paths[start], longest[start])
    }
}

/// What `cyoa check` says about a story that checked clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Number of slides.
    pub slides: usize,
    /// Number of decisions.
    pub decisions: usize,
    /// Number of endings (slides with neither `next` nor a decision).
    pub endings: usize,
    /// Distinct paths (sequences of slides) from the start to an ending that
    /// show no slide twice, counted with loops cut; `u64::MAX` means at
    /// least that many.
    pub paths: u64,
    /// Slides on the longest such path, start and ending included.
    pub longest: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        write!(
            f,
            "{} {}, {} {}, {} {}, ",
            self.slides,
            plural(self.slides, "slide", "slides"),
            self.decisions,
            plural(self.decisions, "decision", "decisions"),
            self.endings,
            plural(self.endings, "ending", "endings"),
        )?;
        if self.paths == u64::MAX {
            write!(f, "at least {} paths", self.paths)?;
        } else {
            let one = self.paths == 1;
            write!(f, "{} {}", self.paths, if one { "path" } else { "paths" })?;
        }
        write!(
            f,
            " from start to an ending, the longest {} {}",
            self.longest,
            plural(self.longest, "slide", "slides")
        )
    }
}

impl Story {
    /// Counts of slides, decisions and endings, and the paths through the talk.
    pub fn summary(&self) -> Summary {
        let graph = Graph::of(self);
        let (paths, longest) = match self.index.get(&self.start) {
            Some(&s) => graph.paths_and_longest(s),
            None => (0, 0),
        };
        Summary {
            slides: self.slides.len(),
            decisions: self.decisions().count(),
            endings: self.slides.iter().filter(|s| s.then == Then::Ending).count(),
            paths,
            longest,
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

    #[test]
    fn counts_paths_through_a_diamond() {
        // 0 -> 1 | 2 -> 3
        let g = graph(vec![vec![1, 2], vec![3], vec![3], vec![]]);
        assert_eq!(g.paths_and_longest(0), (2, 3));
    }

    #[test]
    fn a_loop_is_cut_not_followed() {
        // 0 -> 1 -> (0 | 2)
        let g = graph(vec![vec![1], vec![0, 2], vec![]]);
        assert_eq!(g.paths_and_longest(0), (1, 3));
        assert_eq!(g.can_end(), [true, true, true]);
    }

    #[test]
    fn a_trap_cannot_end() {
        // 0 -> (1 | 3), 1 <-> 2, 3 end
        let g = graph(vec![vec![1, 3], vec![2], vec![1], vec![]]);
        assert_eq!(g.can_end(), [true, false, false, true]);
        assert_eq!(g.reachable(1), [false, true, true, false]);
    }

    #[test]
    fn paths_saturate_instead_of_overflowing() {
        // 200 diamonds in a row: 2^200 paths.
        let mut succ = Vec::new();
        for k in 0..200 {
            let base = 3 * k;
            succ.push(vec![base + 1, base + 2]);
            succ.push(vec![base + 3]);
            succ.push(vec![base + 3]);
        }
        succ.push(vec![]);
        let g = graph(succ);
        assert_eq!(g.paths_and_longest(0), (u64::MAX, 401));
    }

    #[test]
    fn the_summary_reads_as_a_sentence() {
        let s = Summary {
            slides: 1,
            decisions: 0,
            endings: 1,
            paths: 1,
            longest: 1,
        };
        assert_eq!(
            s.to_string(),
            "1 slide, 0 decisions, 1 ending, 1 path from start to an ending, the longest 1 slide"
        );
        let many = Summary { paths: u64::MAX, ..s };
        assert!(
            many.to_string().contains("at least 18446744073709551615 paths"),
            "{many}"
        );
    }

    #[test]
    fn a_long_chain_needs_no_stack() {
        let n = 200_000;
        let succ = (0..n).map(|i| if i + 1 < n { vec![i + 1] } else { vec![] }).collect();
        let g = graph(succ);
        assert_eq!(g.paths_and_longest(0), (1, n));
    }
}
