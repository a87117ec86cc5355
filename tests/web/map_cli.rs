//! `cyoa map FILE -o map.svg` as a process: a good story gives an SVG that
//! parses as XML with one box per group of slides (every slide in exactly
//! one), its text escaped; a bad story exits non-zero with the check's
//! `file:line` messages and writes nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A folder of its own under the target directory, for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("map-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn cyoa_map(story: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .arg("map")
        .arg(story)
        .arg("-o")
        .arg(out)
        .output()
        .expect("cyoa runs")
}

/// The boxes of a map: first slide -> the slides it holds.
fn boxes(svg: &str) -> HashMap<String, Vec<String>> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("the map is not XML: {e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class").is_some_and(|c| c.split(' ').any(|w| w == "group")))
        .map(|n| {
            let slides: Vec<String> = n
                .attribute("data-slides")
                .expect("a box names its slides")
                .split(' ')
                .map(str::to_string)
                .collect();
            (slides[0].clone(), slides)
        })
        .collect()
}

#[test]
fn the_bundled_story_maps_to_one_box_per_group_with_every_slide_once() {
    let dir = scratch("bundled");
    let out = dir.join("map.svg");
    let story = Path::new(env!("CARGO_MANIFEST_DIR")).join("stories/wsgi-deployment-adventure.toml");
    let run = cyoa_map(&story, &out);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let svg = std::fs::read_to_string(&out).expect("the map was written");
    let boxes = boxes(&svg);

    let loaded = cyoa::story::Story::load(&story).expect("the bundled story checks");
    let mut seen: Vec<String> = boxes.values().flatten().cloned().collect();
    seen.sort();
    let mut slides: Vec<String> = loaded.story.slides.iter().map(|s| s.id.clone()).collect();
    slides.sort();
    assert_eq!(seen, slides, "every slide in exactly one box");
    assert_eq!(boxes.len(), cyoa::map::groups(&loaded.story).len());
    assert!(
        boxes.len() * 2 < slides.len(),
        "straight runs of slides are collapsed: {} boxes for {} slides",
        boxes.len(),
        slides.len()
    );
    // The first decision's box holds the start and the slides leading to it.
    assert_eq!(
        boxes["welcome"],
        ["welcome", "how-to-vote", "our-story", "what-did-you-build"]
    );
    // Choices are labelled edges: one label per decision's target.
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    let labels: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("choice-label")))
        .filter_map(|n| n.text())
        .collect();
    assert!(labels.contains(&"Tinder for Pets"), "{labels:?}");
    assert!(labels.contains(&"Security first"), "{labels:?}");
}

#[test]
fn story_text_is_escaped_and_loops_are_drawn() {
    let dir = scratch("escape");
    let story = dir.join("tricky.toml");
    std::fs::write(
        &story,
        r#"
title = "Tom & Jerry's <script>alert(1)</script> \"talk\""
start = "a"

[slides.a]
title = "]]> <!-- & <b>bold</b>"
[slides.a.decision]
prompt = "Again?"
choices = [
  { id = "again", label = "<img src=x onerror=alert(1)>", goto = "a" },
  { id = "on", label = "=HYPERLINK(\"x\")", goto = "b" },
  { id = "up", label = "Up & away", goto = "c" },
]

[slides.b]
title = "B"
next = "a"

[slides.c]
title = "The end"
"#,
    )
    .expect("the story file");
    let out = dir.join("map.svg");
    let run = cyoa_map(&story, &out);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let svg = std::fs::read_to_string(&out).expect("the map");
    assert_eq!(boxes(&svg).len(), 3);
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    assert!(
        !doc.descendants()
            .any(|n| n.has_tag_name("script") || n.has_tag_name("img") || n.has_tag_name("b")),
        "story text became markup:\n{svg}"
    );
    let text: String = doc.descendants().filter_map(|n| n.text()).collect::<Vec<_>>().join("|");
    assert!(
        text.contains("Tom & Jerry's <script>alert(1)</script> \"talk\""),
        "{text}"
    );
    assert!(text.contains("]]> <!-- & <b>bold</b>"), "{text}");
    assert!(text.contains("Up & away"), "{text}");
    // The loop back up and the loop onto itself are both drawn.
    assert!(svg.contains("class=\"edge next back\""), "{svg}");
    assert!(svg.contains("class=\"edge loop\""), "{svg}");
}

#[test]
fn a_story_that_does_not_check_exits_non_zero_with_file_and_line() {
    let dir = scratch("bad");
    let story = dir.join("broken.toml");
    std::fs::write(
        &story,
        "title = \"Broken\"\nstart = \"a\"\n\n[slides.a]\ntitle = \"A\"\nnext = \"nowhere\"\n",
    )
    .expect("the story file");
    let out = dir.join("map.svg");
    let run = cyoa_map(&story, &out);
    assert!(!run.status.success(), "a broken story must fail");
    let stderr = String::from_utf8_lossy(&run.stderr);
    let at = format!("{}:6:", story.display());
    assert!(stderr.contains(&at), "expected {at} in:\n{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
    assert!(!out.exists(), "nothing is written for a broken story");

    let missing = cyoa_map(&dir.join("missing.toml"), &out);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("missing.toml"));
}
