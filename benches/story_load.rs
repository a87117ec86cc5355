//! How long parsing and checking a 10,000-slide story takes (the target is
//! under 100 ms): `cargo bench --bench story_load`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use cyoa::story::Story;

/// The allocator of the server (see Cargo.toml and docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A story of `n` slides in one long chain, every other slide a decision
/// with two choices, each slide with a Markdown body and speaker notes.
fn story(n: usize) -> String {
    let mut t = String::from("title = \"Ten thousand slides\"\nstart = \"s0\"\n");
    for i in 0..n {
        t.push_str(&format!(
            "\n[slides.s{i}]\ntitle = \"Slide {i}\"\nbody = \"\"\"\nSome **Markdown**, a [link](https://example.com/{i})\n\n- and\n- a list\n\"\"\"\nnotes = \"Say something about slide {i}.\"\n"
        ));
        if i + 1 == n {
            continue;
        }
        if i % 2 == 0 {
            let (a, b) = (i + 1, (i + 2).min(n - 1));
            t.push_str(&format!(
                "[slides.s{i}.decision]\nprompt = \"Which way?\"\nchoices = [\n  {{ id = \"on\", label = \"Onwards\", keywords = [\"go\"], goto = \"s{a}\" }},\n  {{ id = \"skip\", label = \"Skip one\", keywords = [\"jump\"], goto = \"s{b}\" }},\n]\n"
            ));
        } else {
            t.push_str(&format!("next = \"s{}\"\n", i + 1));
        }
    }
    t
}

fn load(c: &mut Criterion) {
    let text = story(10_000);
    // Fail loudly rather than time the error path.
    let loaded = Story::parse("bench.toml", &text).expect("the generated story is valid");
    assert_eq!(loaded.story.slides.len(), 10_000);
    let mut group = c.benchmark_group("story_load");
    group.sample_size(30);
    group.bench_function("parse_and_check_10000_slides", |b| {
        b.iter_with_large_drop(|| Story::parse("bench.toml", black_box(&text)))
    });
    group.bench_function("summary_10000_slides", |b| {
        b.iter(|| black_box(&loaded.story).summary())
    });
    // The error path: every slide with a misspelt (so missing) title, every
    // `next` to nowhere: 24,999 problems, with suggestions and positions.
    let broken = text
        .replace("title = \"Slide", "titel = \"Slide")
        .replace("next = \"s", "next = \"x");
    let problems = Story::parse("bench.toml", &broken).expect_err("every slide is broken");
    assert_eq!(problems.len(), 24_999);
    group.bench_function("parse_and_check_10000_broken_slides", |b| {
        b.iter_with_large_drop(|| Story::parse("bench.toml", black_box(&broken)))
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
