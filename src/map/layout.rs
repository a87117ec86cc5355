//! Where the map's boxes and edges go: layers by the longest path from the
//! start (a loop's edge back up turned around), a waypoint on every layer
//! an edge skips, barycentre sweeps to untangle crossings, then x positions
//! near the neighbours' (least squares under the spacing).

use std::collections::HashSet;

use super::graph::Graph;
use super::{DUMMY_GAP, GAP_X, GAP_Y, LINE_H, MARGIN, NODE_W, SWEEPS, TITLE_H};

/// The drawing's geometry.
pub(super) struct Layout {
    /// The groups' boxes (index = group), then the edges' waypoints.
    pub(super) items: Vec<Item>,
    /// Every edge but loops onto one box, as a chain of items.
    pub(super) routes: Vec<Route>,
    /// Top of each layer.
    pub(super) layer_top: Vec<f64>,
    /// Height of each layer (its tallest box).
    pub(super) layer_h: Vec<f64>,
    /// The whole drawing's size.
    pub(super) width: f64,
    pub(super) height: f64,
}

/// Lays out `graph`, whose group `i` is `heights[i]` tall.
pub(super) fn layout(graph: &Graph, heights: &[f64]) -> Layout {
    let back = back_edges(graph);
    let layer_of = layers(graph, &back);
    // Items: the groups, then a waypoint per layer each edge skips.
    let mut items: Vec<Item> = graph
        .groups
        .iter()
        .enumerate()
        .map(|(i, _)| Item {
            layer: layer_of[i],
            width: NODE_W,
            height: heights[i],
            x: 0.0,
            up: Vec::new(),
            down: Vec::new(),
        })
        .collect();
    let mut routes: Vec<Route> = Vec::new();
    for (i, e) in graph.edges.iter().enumerate() {
        if e.from == e.to {
            continue;
        }
        let reversed = back.contains(&i);
        let (top, bottom) = if reversed { (e.to, e.from) } else { (e.from, e.to) };
        let mut chain = vec![top];
        for layer in layer_of[top] + 1..layer_of[bottom] {
            items.push(Item {
                layer,
                width: 0.0,
                height: 0.0,
                x: 0.0,
                up: Vec::new(),
                down: Vec::new(),
            });
            chain.push(items.len() - 1);
        }
        chain.push(bottom);
        for w in chain.windows(2) {
            items[w[0]].down.push(w[1]);
            items[w[1]].up.push(w[0]);
        }
        routes.push(Route {
            edge: i,
            items: chain,
            reversed,
        });
    }

    // Order within layers: first seen first, then barycentre sweeps,
    // keeping the order with the fewest crossings.
    let depth = items.iter().map(|i| i.layer + 1).max().unwrap_or(0);
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (i, item) in items.iter().enumerate() {
        order[item.layer].push(i);
    }
    let mut best = order.clone();
    let mut fewest = crossings(&order, &items);
    for round in 0..SWEEPS {
        sweep(&mut order, &items, round % 2 == 0);
        let now = crossings(&order, &items);
        if now < fewest {
            fewest = now;
            best = order.clone();
        }
    }
    let order = best;

    // x: packed, then pulled towards the neighbours, down and up in turn.
    for layer in &order {
        let mut x = 0.0;
        for &i in layer {
            items[i].x = x + items[i].width / 2.0;
            x += items[i].width + GAP_X;
        }
    }
    for round in 0..8 {
        if round % 2 == 0 {
            place(&order, &mut items, |i| i.up.clone());
        } else {
            place(&order, &mut items, |i| i.down.clone());
        }
    }
    let both = |i: &Item| i.up.iter().chain(&i.down).copied().collect::<Vec<_>>();
    place(&order, &mut items, both);
    let left = items.iter().map(|i| i.x - i.width / 2.0).fold(f64::INFINITY, f64::min);
    let left = if left.is_finite() { left } else { 0.0 };
    let right_edge = items.iter().map(|i| i.x + i.width / 2.0).fold(0.0f64, f64::max);
    for item in &mut items {
        item.x += MARGIN - left;
    }

    // y: each layer as tall as its tallest box.
    let mut layer_top = vec![0.0; depth];
    let mut layer_h = vec![0.0f64; depth];
    for item in &items {
        layer_h[item.layer] = layer_h[item.layer].max(item.height);
    }
    let mut y = MARGIN + TITLE_H;
    for l in 0..depth {
        layer_top[l] = y;
        y += layer_h[l].max(LINE_H) + GAP_Y;
    }
    // Room on the right for the arcs and labels of loops onto one box.
    let loops = if graph.edges.iter().any(|e| e.from == e.to) {
        170.0
    } else {
        0.0
    };
    let width = (right_edge - left + 2.0 * MARGIN).max(NODE_W + 2.0 * MARGIN).max(360.0) + loops;
    let height = y - GAP_Y + MARGIN;

    Layout {
        items,
        routes,
        layer_top,
        layer_h,
        width,
        height,
    }
}

/// Something placed in a layer: a group's box or an edge's waypoint.
#[derive(Debug, Clone)]
pub(super) struct Item {
    /// Its layer, from the top.
    pub(super) layer: usize,
    /// 0 for a waypoint.
    pub(super) width: f64,
    pub(super) height: f64,
    /// Its centre.
    pub(super) x: f64,
    /// Neighbours one layer up and one layer down.
    up: Vec<usize>,
    down: Vec<usize>,
}

/// An edge as a chain of items, top to bottom.
#[derive(Debug, Clone)]
pub(super) struct Route {
    /// Index into the graph's edges.
    pub(super) edge: usize,
    /// Top to bottom: the upper box, the waypoints, the lower box.
    pub(super) items: Vec<usize>,
    /// Drawn bottom to top: a loop's edge back up.
    pub(super) reversed: bool,
}

/// Which edges go back up (a loop in the story), found by a depth-first
/// walk from the start: those are turned around for the layering.
fn back_edges(graph: &Graph) -> HashSet<usize> {
    let n = graph.groups.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in graph.edges.iter().enumerate() {
        out[e.from].push(i);
    }
    // 0: not seen, 1: on the walk, 2: done.
    let mut mark = vec![0u8; n];
    let mut back = HashSet::new();
    for root in 0..n {
        if mark[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&edge) = out[node].get(*next) {
                *next += 1;
                let to = graph.edges[edge].to;
                match mark[to] {
                    0 => {
                        mark[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => {
                        back.insert(edge);
                    }
                    _ => {}
                }
            } else {
                mark[node] = 2;
                stack.pop();
            }
        }
    }
    back
}

/// Layer of each group: the longest path from a group with no way in.
fn layers(graph: &Graph, back: &HashSet<usize>) -> Vec<usize> {
    let n = graph.groups.len();
    let mut ins = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in graph.edges.iter().enumerate() {
        if e.from == e.to {
            continue;
        }
        let (a, b) = if back.contains(&i) {
            (e.to, e.from)
        } else {
            (e.from, e.to)
        };
        out[a].push(b);
        ins[b] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).rev().filter(|&i| ins[i] == 0).collect();
    while let Some(node) = ready.pop() {
        for &to in &out[node] {
            layer[to] = layer[to].max(layer[node] + 1);
            ins[to] -= 1;
            if ins[to] == 0 {
                ready.push(to);
            }
        }
    }
    layer
}

/// Pairs of edges between two neighbouring layers that cross.
fn crossings(order: &[Vec<usize>], items: &[Item]) -> usize {
    let mut pos = vec![0usize; items.len()];
    for layer in order {
        for (p, &i) in layer.iter().enumerate() {
            pos[i] = p;
        }
    }
    let mut total = 0;
    for layer in order {
        let mut segs: Vec<(usize, usize)> = Vec::new();
        for &i in layer {
            for &j in &items[i].down {
                segs.push((pos[i], pos[j]));
            }
        }
        for (k, a) in segs.iter().enumerate() {
            for b in &segs[k + 1..] {
                if (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1) {
                    total += 1;
                }
            }
        }
    }
    total
}

/// Reorders each layer by the mean position of the neighbours above
/// (`downward`) or below.
fn sweep(order: &mut [Vec<usize>], items: &[Item], downward: bool) {
    let mut pos = vec![0f64; items.len()];
    for layer in order.iter() {
        for (p, &i) in layer.iter().enumerate() {
            pos[i] = p as f64;
        }
    }
    let n = order.len();
    let layers: Vec<usize> = if downward {
        (1..n).collect()
    } else {
        (0..n.saturating_sub(1)).rev().collect()
    };
    for l in layers {
        let mut keyed: Vec<(f64, usize)> = order[l]
            .iter()
            .map(|&i| {
                let near = if downward { &items[i].up } else { &items[i].down };
                let key = if near.is_empty() {
                    pos[i]
                } else {
                    near.iter().map(|&j| pos[j]).sum::<f64>() / near.len() as f64
                };
                (key, i)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        order[l] = keyed.into_iter().map(|(_, i)| i).collect();
        for (p, &i) in order[l].iter().enumerate() {
            pos[i] = p as f64;
        }
    }
}

/// The x positions nearest to `want` (least squares) that keep each item
/// at least `gap[i]` right of the one before: pool-adjacent-violators on
/// the positions less their minimal offsets.
pub(super) fn spaced(want: &[f64], gap: &[f64]) -> Vec<f64> {
    let mut offset = vec![0.0; want.len()];
    for i in 1..want.len() {
        offset[i] = offset[i - 1] + gap[i - 1];
    }
    // Blocks of (sum, count) whose means never decrease.
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for (w, o) in want.iter().zip(&offset) {
        blocks.push((w - o, 1));
        while blocks.len() > 1 {
            let (s1, c1) = blocks[blocks.len() - 1];
            let (s0, c0) = blocks[blocks.len() - 2];
            if s0 / c0 as f64 <= s1 / c1 as f64 {
                break;
            }
            blocks.pop();
            blocks.pop();
            blocks.push((s0 + s1, c0 + c1));
        }
    }
    let mut out = Vec::with_capacity(want.len());
    for (sum, count) in blocks {
        for _ in 0..count {
            out.push(sum / count as f64 + offset[out.len()]);
        }
    }
    out
}

fn place(order: &[Vec<usize>], items: &mut [Item], which: fn(&Item) -> Vec<usize>) {
    for layer in order {
        let want: Vec<f64> = layer
            .iter()
            .map(|&i| {
                let near = which(&items[i]);
                if near.is_empty() {
                    items[i].x
                } else {
                    near.iter().map(|&j| items[j].x).sum::<f64>() / near.len() as f64
                }
            })
            .collect();
        let gap: Vec<f64> = layer
            .windows(2)
            .map(|w| {
                let (a, b) = (&items[w[0]], &items[w[1]]);
                let g = if a.width == 0.0 || b.width == 0.0 {
                    DUMMY_GAP
                } else {
                    GAP_X
                };
                (a.width + b.width) / 2.0 + g
            })
            .collect();
        for (&i, x) in layer.iter().zip(spaced(&want, &gap)) {
            items[i].x = x;
        }
    }
}
