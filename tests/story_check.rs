//! `cyoa check`: every check of the story loader at its exact line, column
//! and message, and the command's output and exit codes through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cyoa::story::{Loaded, MAX_FILE_BYTES, Story};

/// `LINE:COL: error: MESSAGE` for every problem in `text`.
fn problems(text: &str) -> Vec<String> {
    let diagnostics = match Story::parse("t.toml", text) {
        Ok(Loaded { warnings, .. }) => warnings,
        Err(problems) => problems,
    };
    diagnostics
        .iter()
        .map(|d| {
            let line = d.to_string();
            assert!(line.starts_with("t.toml:"), "{line}");
            line["t.toml:".len()..].to_string()
        })
        .collect()
}

/// A valid story with a decision, to which each case adds one mistake.
const GOOD: &str = r#"title = "T"
start = "a"
[slides.a]
title = "A"
[slides.a.decision]
prompt = "Which?"
choices = [
  { id = "x", label = "Ex", goto = "b" },
  { id = "y", label = "Why", goto = "c" },
]
[slides.b]
title = "B"
[slides.c]
title = "C"
"#;

#[test]
fn the_base_story_checks_clean() {
    assert_eq!(problems(GOOD), Vec::<String>::new());
}

struct Case {
    why: &'static str,
    text: String,
    want: &'static [&'static str],
}

fn case(why: &'static str, text: impl Into<String>, want: &'static [&'static str]) -> Case {
    Case {
        why,
        text: text.into(),
        want,
    }
}

/// GOOD with `from` replaced by `to` (which must be there once).
fn good_with(from: &str, to: &str) -> String {
    assert_eq!(GOOD.matches(from).count(), 1, "{from}");
    GOOD.replace(from, to)
}

fn run(cases: &[Case]) {
    let mut failed = Vec::new();
    for c in cases {
        let got = problems(&c.text);
        if got != c.want {
            failed.push(format!("{}:\n  want {:#?}\n  got  {:#?}", c.why, c.want, got));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn toml_syntax_errors_point_where_toml_stopped() {
    run(&[
        case(
            "an unclosed string",
            good_with("title = \"B\"", "title = \"B"),
            &["12:11: error: invalid basic string, expected `\"`"],
        ),
        case(
            "a slide defined twice names the first",
            format!("{GOOD}[slides.b]\ntitle = \"B2\"\n"),
            &[
                "15:9: error: slide `b` is defined twice; the first is on line 11",
                "16:1: error: duplicate key `title`: TOML allows each key, and each [table], once",
            ],
        ),
        case(
            "a key given twice",
            good_with("prompt = \"Which?\"", "prompt = \"Which?\"\nprompt = \"Again?\""),
            &["7:1: error: duplicate key `prompt`: TOML allows each key, and each [table], once"],
        ),
        case(
            "arrays nested 10,000 deep",
            format!("x = {}{}", "[".repeat(10_000), "]".repeat(10_000)),
            &["1:85: error: tables or arrays nested too deeply for a story; a story needs only a few levels"],
        ),
        case(
            "inline tables nested 10,000 deep",
            format!("x = {}1{}", "{ a = ".repeat(10_000), " }".repeat(10_000)),
            &["1:485: error: tables or arrays nested too deeply for a story; a story needs only a few levels"],
        ),
    ]);
}

#[test]
fn unknown_fields_name_the_closest_known_one() {
    run(&[
        case(
            "a slide field",
            good_with("title = \"B\"", "title = \"B\"\nnxet = \"c\""),
            &["13:1: error: unknown field `nxet`; did you mean `next`?"],
        ),
        case(
            "a story field",
            good_with("start = \"a\"", "start = \"a\"\ntitel = \"c\""),
            &["3:1: error: unknown field `titel`; did you mean `title`?"],
        ),
        case(
            "a choice field, which also leaves the choice without its label",
            good_with("label = \"Ex\"", "lable = \"Ex\""),
            &[
                "8:3: error: missing `label`: what the audience sees, `label = \"...\"`",
                "8:15: error: unknown field `lable`; did you mean `label`?",
            ],
        ),
        case(
            "nothing close lists the fields",
            good_with("title = \"B\"", "title = \"B\"\ncolour = \"c\""),
            &[
                "13:1: error: unknown field `colour`; the fields here are `title`, `body`, `notes`, `image`, `alt`, `join`, `next`, `decision`, `minutes`",
            ],
        ),
        case(
            "a settings field",
            good_with("start = \"a\"", "start = \"a\"\n[settings]\nweb_vote = \"sticky\""),
            &["4:1: error: unknown field `web_vote`; did you mean `web_votes`?"],
        ),
    ]);
}

#[test]
fn slide_ids_and_start_are_checked() {
    run(&[
        case(
            "capitals and underscores",
            good_with("[slides.c]", "[slides.C_1]").replace("goto = \"c\"", "goto = \"C_1\""),
            &["13:9: error: slide id `C_1` must be 1 to 64 characters: lowercase letters a-z, digits and `-`"],
        ),
        case(
            "65 characters",
            good_with("[slides.c]", &format!("[slides.{}]", "c".repeat(65)))
                .replace("goto = \"c\"", &format!("goto = \"{}\"", "c".repeat(65))),
            &[
                "13:9: error: slide id `ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc` must be 1 to 64 characters: lowercase letters a-z, digits and `-`",
            ],
        ),
        case(
            "missing start",
            good_with("start = \"a\"\n", ""),
            &["1:1: error: missing `start`: the id of the first slide, `start = \"welcome\"`"],
        ),
        case(
            "unknown start",
            good_with("start = \"a\"", "start = \"bb\""),
            &["2:9: error: `start` names slide `bb`, which does not exist"],
        ),
        case(
            "no slides at all",
            "title = \"T\"\nstart = \"a\"\n",
            &[
                "1:1: error: missing `slides`: a story needs at least one slide, e.g. `[slides.welcome]`",
                "2:9: error: `start` names slide `a`, which does not exist",
            ],
        ),
        case(
            "missing title",
            good_with("title = \"T\"\n", ""),
            &["1:1: error: missing `title`: the talk's title, `title = \"...\"`"],
        ),
        case(
            "a slide without its title",
            good_with("title = \"B\"\n", ""),
            &["11:9: error: missing `title`: the slide's heading, `title = \"...\"`"],
        ),
        case(
            "a blank slide title",
            good_with("title = \"C\"", "title = \"\""),
            &["14:9: error: `title` is empty; write the slide's heading, `title = \"...\"`"],
        ),
    ]);
}

/// Slides with longer ids, for "did you mean".
const LINKS: &str = r#"title = "T"
start = "welcome"
[slides.welcome]
title = "W"
next = "the-choise"
[slides.the-choice]
title = "C"
[slides.the-choice.decision]
prompt = "P"
choices = [
  { id = "x", label = "X", goto = "endinng" },
  { id = "y", label = "Y", goto = "nowhere-at-all" },
]
[slides.ending]
title = "E"
"#;

#[test]
fn links_must_name_slides_and_suggest_the_closest() {
    run(&[
        case(
            "next and goto",
            LINKS,
            &[
                "5:8: error: `next` names slide `the-choise`, which does not exist; did you mean `the-choice`?",
                "6:9: warning: slide `the-choice` is never shown: no path from the start (`welcome`) leads to it",
                "11:35: error: `goto` names slide `endinng`, which does not exist; did you mean `ending`?",
                "12:35: error: `goto` names slide `nowhere-at-all`, which does not exist",
                "14:9: warning: slide `ending` is never shown: no path from the start (`welcome`) leads to it",
            ],
        ),
        case(
            "start",
            LINKS.replace("start = \"welcome\"", "start = \"welcom\""),
            &[
                "2:9: error: `start` names slide `welcom`, which does not exist; did you mean `welcome`?",
                "5:8: error: `next` names slide `the-choise`, which does not exist; did you mean `the-choice`?",
                "11:35: error: `goto` names slide `endinng`, which does not exist; did you mean `ending`?",
                "12:35: error: `goto` names slide `nowhere-at-all`, which does not exist",
            ],
        ),
        case(
            "a slide with both next and a decision",
            good_with("title = \"A\"", "title = \"A\"\nnext = \"b\""),
            &[
                "5:1: error: slide `a` has both `next` and a decision; remove `next` (each choice's `goto` says where to go) or the decision",
            ],
        ),
    ]);
}

#[test]
fn decisions_are_checked() {
    let nine_more: String = (0..9)
        .map(|i| format!("  {{ id = \"y{i}\", label = \"Why {i}\", goto = \"c\" }},\n"))
        .collect();
    run(&[
        case(
            "one choice",
            good_with("  { id = \"y\", label = \"Why\", goto = \"c\" },\n", ""),
            &[
                "7:1: error: decision `a` has 1 choice; a decision needs 2 to 9",
                "12:9: warning: slide `c` is never shown: no path from the start (`a`) leads to it",
            ],
        ),
        case(
            "ten choices",
            good_with("  { id = \"y\", label = \"Why\", goto = \"c\" },\n", &nine_more),
            &["7:1: error: decision `a` has 10 choices; a decision needs 2 to 9"],
        ),
        case(
            "one choice as an array of tables",
            "title = \"T\"\nstart = \"a\"\n[slides.a]\ntitle = \"A\"\n[slides.a.decision]\nprompt = \"P\"\n\
             [[slides.a.decision.choices]]\nid = \"x\"\nlabel = \"X\"\ngoto = \"a\"\n",
            &[
                "3:9: warning: slide `a` leads into a loop that never reaches an ending: `a` -> `a`",
                "7:21: error: decision `a` has 1 choice; a decision needs 2 to 9",
            ],
        ),
        case(
            "duplicate choice ids",
            good_with("id = \"y\"", "id = \"x\""),
            &["9:10: error: choice id `x` is used twice in decision `a`"],
        ),
        case(
            "a malformed choice id",
            good_with("id = \"y\"", "id = \"Y!\""),
            &["9:10: error: choice id `Y!` must be 1 to 64 characters: lowercase letters a-z, digits and `-`"],
        ),
        case(
            "a blank prompt",
            good_with("prompt = \"Which?\"", "prompt = \" \""),
            &["6:10: error: `prompt` is empty; write the question put to the audience, `prompt = \"...\"`"],
        ),
        case(
            "an empty label",
            good_with("label = \"Why\"", "label = \"\""),
            &["9:23: error: `label` is empty; write what the audience sees, `label = \"...\"`"],
        ),
        case(
            "a choice with nothing in it",
            good_with("{ id = \"y\", label = \"Why\", goto = \"c\" }", "{ }"),
            &[
                "9:3: error: missing `id`: the choice's id, `id = \"a\"`",
                "9:3: error: missing `label`: what the audience sees, `label = \"...\"`",
                "9:3: error: missing `goto`: the slide this choice leads to, `goto = \"...\"`",
                "13:9: warning: slide `c` is never shown: no path from the start (`a`) leads to it",
            ],
        ),
    ]);
}

#[test]
fn sms_words_may_not_name_two_choices() {
    run(&[
        case(
            "a keyword like another choice's label, after case and punctuation",
            good_with("label = \"Why\",", "label = \"Why\", keywords = [\"EX!\"],"),
            &[
                "9:42: error: keyword `EX!` of choice `y` reads `ex` over SMS, which already names choice `x` (its label); change one so that a text names one choice",
            ],
        ),
        case(
            "a keyword like another choice's number",
            good_with("label = \"Ex\",", "label = \"Ex\", keywords = [\"2\"],"),
            &[
                "8:41: error: keyword `2` of choice `x` reads `2` over SMS, which already names choice `y` (its number); change one so that a text names one choice",
            ],
        ),
        case(
            "a keyword like another choice's letter",
            good_with("label = \"Ex\",", "label = \"Ex\", keywords = [\"(b)\"],"),
            &[
                "8:41: error: keyword `(b)` of choice `x` reads `b` over SMS, which already names choice `y` (its letter); change one so that a text names one choice",
            ],
        ),
        case(
            "a label like another choice's letter",
            good_with("label = \"Ex\"", "label = \"B\""),
            &[
                "8:23: error: label `B` of choice `x` reads `b` over SMS, which already names choice `y` (its letter); change one so that a text names one choice",
            ],
        ),
        case(
            "a keyword like another choice's id",
            good_with("label = \"Why\",", "label = \"Why\", keywords = [\"x\"],"),
            &[
                "9:42: error: keyword `x` of choice `y` reads `x` over SMS, which already names choice `x` (its id); change one so that a text names one choice",
            ],
        ),
        case(
            "two keywords alike after spaces and punctuation",
            good_with("label = \"Why\",", "label = \"Why\", keywords = [\"go  home\"],")
                .replace("label = \"Ex\",", "label = \"Ex\", keywords = [\"Go Home!\"],"),
            &[
                "9:42: error: keyword `go  home` of choice `y` reads `go home` over SMS, which already names choice `x` (its keyword); change one so that a text names one choice",
            ],
        ),
        case(
            "a keyword with nothing to match",
            good_with("label = \"Why\",", "label = \"Why\", keywords = [\"🎉\"],"),
            &["9:42: error: keyword `🎉` has no letters or digits, so no SMS can match it"],
        ),
        case(
            "a choice's own label and letter may agree",
            good_with("label = \"Ex\"", "label = \"A\"")
                .replace("label = \"Why\",", "label = \"Why\", keywords = [\"y\", \"Y!\"],"),
            &[],
        ),
    ]);
}

#[test]
fn wrong_types_are_named() {
    run(&[
        case(
            "a number for the title",
            good_with("title = \"T\"", "title = 3"),
            &["1:9: error: `title` must be a string, not an integer"],
        ),
        case(
            "a number for goto",
            good_with("goto = \"b\"", "goto = 2"),
            &[
                "8:36: error: `goto` must be a string, not an integer",
                "11:9: warning: slide `b` is never shown: no path from the start (`a`) leads to it",
            ],
        ),
        case(
            "a string for keywords",
            good_with("label = \"Why\",", "label = \"Why\", keywords = \"why\","),
            &["9:41: error: `keywords` must be an array of strings like `[\"yes\"]`, not a string"],
        ),
        case(
            "a number in keywords",
            good_with("label = \"Why\",", "label = \"Why\", keywords = [\"why\", 2],"),
            &["9:49: error: each keyword must be a string, not an integer"],
        ),
        case(
            "a number for a slide",
            format!("{GOOD}[slides]\nd = 4\n"),
            &[
                "16:1: warning: slide `d` is never shown: no path from the start (`a`) leads to it",
                "16:5: error: slide `d` must be a table like `[slides.d]`, not an integer",
            ],
        ),
        case(
            "a number for choices",
            good_with(
                "choices = [\n  { id = \"x\", label = \"Ex\", goto = \"b\" },\n  { id = \"y\", label = \"Why\", goto = \"c\" },\n]",
                "choices = 3",
            ),
            &[
                "7:11: error: `choices` must be an array of choices like `[{ id = \"a\", label = \"...\", goto = \"...\" }]`, not an integer",
                "8:9: warning: slide `b` is never shown: no path from the start (`a`) leads to it",
                "10:9: warning: slide `c` is never shown: no path from the start (`a`) leads to it",
            ],
        ),
        case(
            "a string for a choice",
            good_with("{ id = \"y\", label = \"Why\", goto = \"c\" }", "\"y\""),
            &[
                "9:3: error: a choice must be a table like `{ id = \"a\", label = \"...\", goto = \"...\" }`, not a string",
                "13:9: warning: slide `c` is never shown: no path from the start (`a`) leads to it",
            ],
        ),
    ]);
}

#[test]
fn settings_are_checked() {
    let settings = "start = \"a\"\n[settings]\nweb_votes = \"always\"\npresence_grace = -1\n[settings.sms]\n\
                    replies = \"no\"\nhelp = \"Text {label}\"\n[settings.theme]\nmode = \"blue\"\naccent = \"red;\"";
    run(&[
        case(
            "every setting wrong",
            good_with("start = \"a\"", settings),
            &[
                "4:13: error: `web_votes` must be `presence` or `sticky`, not `always`",
                "5:18: error: `presence_grace` must be a whole number of seconds from 0 to 3600, not `-1`",
                "7:11: error: `replies` must be `true` or `false`, not a string",
                "8:8: error: `help` uses `{label}`, which cyoa does not fill in; it may use `{options}`",
                "10:8: error: `mode` must be `light` or `dark`, not `blue`",
                "11:10: error: `accent` must be a CSS colour like `#c03`, `#cc0033` or `teal`, not `red;`",
            ],
        ),
        case(
            "a grace over an hour",
            good_with("start = \"a\"", "start = \"a\"\n[settings]\npresence_grace = 3601"),
            &["4:18: error: `presence_grace` must be a whole number of seconds from 0 to 3600, not `3601`"],
        ),
    ]);
}

#[test]
fn settings_are_read() {
    let text = good_with(
        "start = \"a\"",
        "start = \"a\"\n[settings]\nweb_votes = \"sticky\"\npresence_grace = 0x1e\n[settings.sms]\nreplies = false\n\
         confirm = \"{label} ({choice})\"\n[settings.theme]\nmode = \"dark\"\naccent = \"#c03\"",
    );
    let story = Story::parse("t.toml", &text).expect("valid").story;
    let s = &story.settings;
    assert_eq!(s.web_votes, cyoa::story::WebVotes::Sticky);
    assert_eq!(s.presence_grace, std::time::Duration::from_secs(30));
    assert!(!s.sms.replies);
    assert_eq!(s.sms.confirm.as_deref(), Some("{label} ({choice})"));
    assert_eq!(s.theme.mode.as_deref(), Some("dark"));
    assert_eq!(s.theme.accent.as_deref(), Some("#c03"));

    let defaults = Story::parse("t.toml", GOOD).expect("valid").story.settings;
    assert_eq!(defaults.web_votes, cyoa::story::WebVotes::Presence);
    assert_eq!(defaults.presence_grace, std::time::Duration::from_secs(10));
    assert!(defaults.sms.replies);
}

#[test]
fn room_code_turns_the_room_code_on() {
    let on = Story::parse(
        "t.toml",
        &good_with("start = \"a\"", "start = \"a\"\n[settings]\nroom_code = true"),
    )
    .expect("valid")
    .story;
    assert!(on.settings.room_code);
    assert!(!Story::parse("t.toml", GOOD).expect("valid").story.settings.room_code);
}

#[test]
fn results_join_and_theme_values_are_checked() {
    let settings = "start = \"a\"\n[settings]\nresults = \"secret\"\n[settings.theme]\nbackground = \"url(x)\"\n\
                    text = \"#12\"\nlogo = \"../logo.png\"\ncss = \"style.scss\"";
    run(&[
        case(
            "every new setting wrong",
            good_with("start = \"a\"", settings),
            &[
                "4:11: error: `results` must be `live` (counts show as votes arrive) or `hidden` (counts show when the vote closes), not `secret`",
                "6:14: error: `background` must be a CSS colour like `#c03`, `#cc0033` or `teal`, not `url(x)`",
                "7:8: error: `text` must be a CSS colour like `#c03`, `#cc0033` or `teal`, not `#12`",
                "8:8: error: `logo` must be a file in the story's folder, like `logo.png`: `..` would leave the story's folder",
                "9:7: error: `css` must be a `.css` file, not `style.scss`",
            ],
        ),
        case(
            "a decision's results",
            good_with("prompt = \"Which?\"", "prompt = \"Which?\"\nresults = true"),
            &["7:11: error: `results` must be a string, not a boolean"],
        ),
        case(
            "a decision's results, a word",
            good_with("prompt = \"Which?\"", "prompt = \"Which?\"\nresults = \"later\""),
            &[
                "7:11: error: `results` must be `live` (counts show as votes arrive) or `hidden` (counts show when the vote closes), not `later`",
            ],
        ),
        case(
            "room_code is true or false",
            good_with("start = \"a\"", "start = \"a\"\n[settings]\nroom_code = \"yes\""),
            &["4:13: error: `room_code` must be `true` or `false`, not a string"],
        ),
        case(
            "join is true or false",
            good_with("title = \"B\"", "title = \"B\"\njoin = \"yes\""),
            &["13:8: error: `join` must be `true` or `false`, not a string"],
        ),
        case(
            "an absolute logo path",
            good_with(
                "start = \"a\"",
                "start = \"a\"\n[settings.theme]\nlogo = \"/etc/logo.png\"",
            ),
            &[
                "4:8: error: `logo` must be a file in the story's folder, like `logo.png`: the path must be relative to the story's folder, with `/` between folders",
            ],
        ),
        case(
            "a hidden file",
            good_with("start = \"a\"", "start = \"a\"\n[settings.theme]\ncss = \"img/.x.css\""),
            &[
                "4:7: error: `css` must be a file in the story's folder, like `css.css`: no part of the path may be empty or start with a dot",
            ],
        ),
        case(
            "a logo that is not an image",
            good_with("start = \"a\"", "start = \"a\"\n[settings.theme]\nlogo = \"logo.exe\""),
            &["4:8: error: `logo` must be a `.png`, `.jpg`, `.jpeg`, `.gif`, `.webp`, `.svg` file, not `logo.exe`"],
        ),
    ]);
}

#[test]
fn results_and_join_are_read() {
    let text = good_with("start = \"a\"", "start = \"a\"\n[settings]\nresults = \"hidden\"");
    let story = Story::parse("t.toml", &text).expect("valid").story;
    let a = story.decision("a").expect("decision a");
    assert_eq!(story.results_of(a), cyoa::story::Results::Hidden);
    let text = good_with("prompt = \"Which?\"", "prompt = \"Which?\"\nresults = \"live\"");
    let text = text.replace("start = \"a\"", "start = \"a\"\n[settings]\nresults = \"hidden\"");
    let text = text.replace("title = \"B\"", "title = \"B\"\njoin = true");
    let story = Story::parse("t.toml", &text).expect("valid").story;
    let a = story.decision("a").expect("decision a");
    assert_eq!(
        story.results_of(a),
        cyoa::story::Results::Live,
        "the decision's own setting wins"
    );
    assert!(story.slide("b").expect("b").join);
    let story = Story::parse("t.toml", GOOD).expect("valid").story;
    assert_eq!(story.settings.results, cyoa::story::Results::Live, "live by default");
    assert!(!story.slide("b").expect("b").join);
}

#[test]
fn theme_files_are_read_from_next_to_the_story_and_bounded() {
    let dir = TempDir::new("theme-files");
    std::fs::create_dir_all(dir.0.join("img")).expect("img folder");
    dir.file("img/logo.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    dir.file("extra.css", "body { margin: 0 }");
    let theme = "start = \"a\"\n[settings.theme]\nlogo = \"img/logo.svg\"\ncss = \"extra.css\"";
    let story = dir.file("good.toml", good_with("start = \"a\"", theme));
    let loaded = Story::load(&story).unwrap_or_else(|p| panic!("{p:#?}"));
    let t = &loaded.story.settings.theme;
    let logo = t.logo.as_ref().expect("a logo");
    assert_eq!(
        (logo.url().as_str(), logo.content_type),
        ("/story-assets/img/logo.svg", "image/svg+xml")
    );
    assert_eq!(
        t.css.as_ref().and_then(|c| c.bytes.as_deref()),
        Some(&b"body { margin: 0 }"[..])
    );

    // Missing, too large, or out of the folder through a link: refused at
    // the line that names the file.
    let lines = |path: &Path| -> Vec<String> {
        let name = path.display().to_string();
        Story::load(path)
            .err()
            .unwrap_or_default()
            .iter()
            .map(|d| d.to_string()[name.len() + 1..].to_string())
            .collect()
    };
    let missing = dir.file(
        "missing.toml",
        good_with("start = \"a\"", "start = \"a\"\n[settings.theme]\ncss = \"gone.css\""),
    );
    let seen = lines(&missing);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("4:7: error: `css` file `gone.css` cannot be read: "),
        "{seen:?}"
    );
    dir.file("big.css", vec![b' '; 64 * 1024 + 1]);
    let big = dir.file(
        "big.toml",
        good_with("start = \"a\"", "start = \"a\"\n[settings.theme]\ncss = \"big.css\""),
    );
    assert_eq!(
        lines(&big),
        ["4:7: error: `css` file `big.css` is larger than 64 KiB; make it smaller"]
    );
    #[cfg(unix)]
    {
        let outside = TempDir::new("theme-files-outside");
        let secret = outside.file("secret.css", "x");
        std::os::unix::fs::symlink(&secret, dir.0.join("link.css")).expect("a symbolic link");
        let linked = dir.file(
            "linked.toml",
            good_with("start = \"a\"", "start = \"a\"\n[settings.theme]\ncss = \"link.css\""),
        );
        assert_eq!(
            lines(&linked),
            [
                "4:7: error: `css` file `link.css` leads out of the story's folder (through a symbolic link); copy the file next to the story"
            ]
        );
    }
    // A story given as text has no folder: its files are named, not read.
    let text = Story::parse("t.toml", &good_with("start = \"a\"", theme))
        .expect("valid")
        .story;
    assert!(text.settings.theme.logo.as_ref().is_some_and(|l| l.bytes.is_none()));
}

#[test]
fn warnings_do_not_stop_a_story() {
    run(&[
        case(
            "an unreachable slide",
            format!("{GOOD}[slides.d]\ntitle = \"D\"\n"),
            &["15:9: warning: slide `d` is never shown: no path from the start (`a`) leads to it"],
        ),
        case(
            "a loop with no way out",
            good_with("title = \"C\"", "title = \"C\"\nnext = \"e\"") + "[slides.e]\ntitle = \"E\"\nnext = \"c\"\n",
            &["13:9: warning: slide `c` leads into a loop that never reaches an ending: `c` -> `e` -> `c`"],
        ),
    ]);
    let loaded = Story::parse("t.toml", &format!("{GOOD}[slides.d]\ntitle = \"D\"\n")).expect("warnings only");
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.story.slides.len(), 4);
}

#[test]
fn a_loop_with_a_way_out_is_fine() {
    let text = good_with("title = \"C\"", "title = \"C\"\nnext = \"a\"");
    assert_eq!(problems(&text), Vec::<String>::new());
}

#[test]
fn a_story_over_the_size_limit_is_refused_before_parsing() {
    let text = format!("{GOOD}#{}\n", "x".repeat(MAX_FILE_BYTES));
    assert_eq!(
        problems(&text),
        [
            "1:1: error: the story is larger than 4 MiB; a story file is a few kilobytes of TOML (is this the right file?)"
        ]
    );
}

#[test]
fn the_summary_counts_paths_and_the_longest() {
    let story = Story::parse("t.toml", GOOD).expect("valid").story;
    assert_eq!(
        story.summary().to_string(),
        "3 slides, 1 decision, 2 endings, 2 paths from start to an ending, the longest 2 slides"
    );
}

#[test]
fn a_ten_thousand_slide_story_loads_quickly() {
    let text = chain_story(10_000);
    let began = std::time::Instant::now();
    let story = Story::parse("big.toml", &text).expect("valid").story;
    let took = began.elapsed();
    let s = story.summary();
    assert_eq!((s.slides, s.decisions, s.endings), (10_000, 5_000, 1));
    assert_eq!(s.paths, u64::MAX, "2^5000 paths saturate");
    assert_eq!(s.longest, 10_000);
    // Debug build on a shared machine: generous; the benchmark measures release.
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}

/// A story of `n` slides: every other slide a decision whose choices both go
/// on, every slide in one long chain.
fn chain_story(n: usize) -> String {
    let mut t = String::from("title = \"Long\"\nstart = \"s0\"\n");
    for i in 0..n {
        t.push_str(&format!(
            "[slides.s{i}]\ntitle = \"Slide {i}\"\nbody = \"Some *text*.\"\n"
        ));
        if i + 1 == n {
            continue;
        }
        if i % 2 == 0 {
            let (a, b) = (i + 1, (i + 2).min(n - 1));
            t.push_str(&format!(
                "[slides.s{i}.decision]\nprompt = \"Go?\"\nchoices = [{{ id = \"a\", label = \"Yes\", goto = \"s{a}\" }}, {{ id = \"b\", label = \"No\", goto = \"s{b}\" }}]\n"
            ));
        } else {
            t.push_str(&format!("next = \"s{}\"\n", i + 1));
        }
    }
    t
}

#[test]
fn the_bundled_stories_check_clean() {
    for file in [
        "stories/minimal.toml",
        "stories/starter.toml",
        "stories/wsgi-deployment-adventure.toml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        match Story::load(&path) {
            Ok(loaded) => assert!(loaded.warnings.is_empty(), "{file}: {:#?}", loaded.warnings),
            Err(problems) => panic!("{file}: {problems:#?}"),
        }
    }
    let bundled = Story::bundled().expect("the bundled story is valid");
    assert!(bundled.warnings.is_empty());
}

#[test]
fn the_minimal_story_is_minimal_and_useful() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stories/minimal.toml");
    let s = Story::load(&path).expect("valid").story.summary();
    assert_eq!((s.slides, s.decisions, s.endings, s.paths, s.longest), (3, 1, 2, 2, 2));
}

// ---- the `cyoa check` command ----

fn cyoa_check(files: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .arg("check")
        .args(files)
        .output()
        .expect("run cyoa")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temporary directory for files this test writes, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cyoa-story-check-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn check_prints_the_summary_and_exits_0_for_a_valid_story() {
    let dir = TempDir::new("valid");
    let good = dir.file("good.toml", GOOD);
    let out = cyoa_check(&[&good]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{0}: ok: 3 slides, 1 decision, 2 endings, 2 paths from start to an ending, the longest 2 slides\n\
             {0}: time: shortest path 2 min, longest path 2 min, no duration set\n",
            good.display()
        )
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn check_prints_warnings_of_a_valid_story_and_exits_0() {
    let dir = TempDir::new("warn");
    let file = dir.file("warn.toml", format!("{GOOD}[slides.d]\ntitle = \"D\"\n"));
    let out = cyoa_check(&[&file]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains(": ok: 4 slides"), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}:15:9: warning: slide `d` is never shown: no path from the start (`a`) leads to it\n",
            file.display()
        )
    );
}

#[test]
fn check_prints_every_problem_and_exits_1_for_an_invalid_story() {
    let dir = TempDir::new("invalid");
    let bad = dir.file(
        "bad.toml",
        good_with("title = \"B\"", "title = \"B\"\nnxet = \"c\"").replace("start = \"a\"", "start = \"z\""),
    );
    let out = cyoa_check(&[&bad]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let f = bad.display();
    assert_eq!(
        text(&out.stderr),
        format!(
            "{f}:2:9: error: `start` names slide `z`, which does not exist\n\
             {f}:13:1: error: unknown field `nxet`; did you mean `next`?\n"
        )
    );
}

#[test]
fn check_reports_a_missing_file_and_exits_1() {
    let dir = TempDir::new("missing");
    let missing = dir.0.join("nope.toml");
    let out = cyoa_check(&[&missing]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("{}:1:1: error: cannot read the story: ", missing.display())),
        "{err}"
    );
}

#[test]
fn check_refuses_binary_and_huge_files() {
    let dir = TempDir::new("binary");
    let binary = dir.file("binary.toml", [0x93u8, 0xff, 0x00, 0x12, b'a', 0xc3]);
    let huge = dir.file("huge.toml", vec![b'#'; 10 * 1024 * 1024]);
    let garbage = dir.file("garbage.toml", "\u{0}\u{1}ÿ[[[= = =\"\n\x7f");
    let out = cyoa_check(&[&binary, &huge, &garbage]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{}:1:1: error: the story is not UTF-8 text; save it as UTF-8 (is this the right file?)",
            binary.display()
        )
    );
    assert_eq!(
        lines[1],
        format!(
            "{}:1:1: error: the story is larger than 4 MiB; a story file is a few kilobytes of TOML (is this the right file?)",
            huge.display()
        )
    );
    assert!(
        lines[2].starts_with(&format!("{}:1:1: error: ", garbage.display())),
        "{err}"
    );
}

#[test]
fn check_checks_every_file_and_fails_if_any_fails() {
    let dir = TempDir::new("several");
    let good = dir.file("good.toml", GOOD);
    let bad = dir.file("bad.toml", good_with("start = \"a\"\n", ""));
    let minimal = Path::new(env!("CARGO_MANIFEST_DIR")).join("stories/minimal.toml");
    let out = cyoa_check(&[&good, &bad, &minimal]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("{}: ok: ", good.display())), "{stdout}");
    assert!(stdout.contains(&format!("{}: ok: ", minimal.display())), "{stdout}");
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}:1:1: error: missing `start`: the id of the first slide, `start = \"welcome\"`\n",
            bad.display()
        )
    );

    let out = cyoa_check(&[&good, &minimal]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_documented_example_checks_clean() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/story-format.md"))
        .expect("docs/story-format.md");
    let start = doc.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let example = &doc[start..start + doc[start..].find("```").expect("end of the example")];
    let loaded = Story::parse("docs/story-format.md", example).unwrap_or_else(|p| panic!("{p:#?}"));
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    let s = loaded.story.summary();
    assert_eq!((s.slides, s.decisions, s.endings, s.paths, s.longest), (4, 1, 2, 2, 3));
    let welcome = loaded.story.slide("welcome").expect("welcome");
    assert!(welcome.body_html().contains("<table>"), "{}", welcome.body_html());
}

// ---- a slide's image ----

/// GOOD with `image = SRC` on slide `c` (line 15, the value at column 9).
fn with_image(src: &str) -> String {
    good_with("title = \"C\"", &format!("title = \"C\"\nimage = {src}"))
}

#[test]
fn a_slide_image_may_be_a_path_or_a_web_url() {
    for src in [
        r#""/static/rocket.svg""#,
        r#""images/cat.png""#,
        r#""/join.svg""#,
        r#""https://example.com/a.png""#,
        r#""HTTP://example.com/a.png""#,
    ] {
        assert_eq!(problems(&with_image(src)), Vec::<String>::new(), "{src}");
    }
}

#[test]
fn a_slide_image_with_another_scheme_or_none_is_reported_where_it_is() {
    run(&[
        case(
            "a script",
            with_image(r#""javascript:alert(1)""#),
            &[
                "15:9: error: `image` must be a path (`/static/rocket.svg`, `images/cat.png`) or an `https://` or `http://` URL, not a `javascript:` URL",
            ],
        ),
        case(
            "a script hidden behind a tab",
            with_image(r#""java\tscript:alert(1)""#),
            &[
                "15:9: error: `image` must be a path (`/static/rocket.svg`, `images/cat.png`) or an `https://` or `http://` URL, not a `java\\tscript:` URL",
            ],
        ),
        case(
            "inline data",
            with_image(r#""data:image/svg+xml;base64,PHN2Zz4=""#),
            &[
                "15:9: error: `image` must be a path (`/static/rocket.svg`, `images/cat.png`) or an `https://` or `http://` URL, not a `data:` URL",
            ],
        ),
        case(
            "a local file",
            with_image(r#""file:///home/me/cat.png""#),
            &[
                "15:9: error: `image` must be a path (`/static/rocket.svg`, `images/cat.png`) or an `https://` or `http://` URL, not a `file:` URL",
            ],
        ),
        case(
            "protocol-relative",
            with_image(r#""//cdn.example/cat.png""#),
            &[
                "15:9: error: `image` starts with `//`, which leaves the scheme out; write the whole URL (`https://host/...`) or a path",
            ],
        ),
        case(
            "protocol-relative with a backslash",
            with_image(r#"'/\cdn.example/cat.png'"#),
            &[
                "15:9: error: `image` starts with `//`, which leaves the scheme out; write the whole URL (`https://host/...`) or a path",
            ],
        ),
        case(
            "empty",
            with_image(r#""  ""#),
            &[
                "15:9: error: `image` is empty; give a path (`/static/rocket.svg`) or an `https://` URL, or remove the line",
            ],
        ),
    ]);
}

#[test]
fn check_reports_a_bad_image_at_file_line_and_column() {
    let dir = TempDir::new("image");
    let file = dir.file("image.toml", with_image(r#""javascript:alert(1)""#));
    let out = cyoa_check(&[&file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}:15:9: error: `image` must be a path (`/static/rocket.svg`, `images/cat.png`) or an `https://` or `http://` URL, not a `javascript:` URL\n",
            file.display()
        )
    );
}

// ---- slides that cannot fit the presenter view ----

/// GOOD with `body` on its decision slide `a`, at line 5.
fn good_with_body(body: &str) -> String {
    GOOD.replace(
        "title = \"A\"\n",
        &format!("title = \"A\"\nbody = \"\"\"\n{body}\"\"\"\n"),
    )
}

#[test]
fn a_slide_too_long_to_fit_is_warned_about_at_its_body() {
    // 18 lines of text fit beside a two-choice vote at 1280x720 (measured
    // in Chromium: tests/browser/fit.rs); 19 do not.
    let items = |n: usize| {
        (0..n)
            .map(|i| format!("- item number {i} of the list\n"))
            .collect::<String>()
    };
    assert_eq!(problems(&good_with_body(&items(18))), Vec::<String>::new());
    assert_eq!(
        problems(&good_with_body(&items(19))),
        [
            "5:8: warning: slide `a` does not fit a 1280x720 screen even with its text shrunk to 60%: its body takes \
          about 19 lines and there is room for 18, so its end is cut off; shorten it, split it in two, or move the \
          detail to `notes`"
        ]
    );
    // A code line wider than the slide is cut at the side.
    let wide = format!("```\n{}\n```\n", "x".repeat(100));
    let found = problems(&good_with_body(&wide));
    assert_eq!(
        found,
        [
            "5:8: warning: slide `a` has a code line of 100 characters, and 90 fit across a 1280x720 screen with the \
          text shrunk to 60%, so it is cut at the side; break or shorten the line"
        ]
    );
    // A slide without a body is pointed at by its id.
    let title = "A very long title ".repeat(60);
    let found = problems(&GOOD.replace("title = \"B\"", &format!("title = \"{title}\"")));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("11:9: warning: slide `b` does not fit"),
        "{found:?}"
    );
}

#[test]
fn check_prints_a_slide_that_cannot_fit_and_exits_0() {
    let dir = TempDir::new("fit");
    let items: String = (0..40).map(|i| format!("- point {i}\n")).collect();
    let file = dir.file("long.toml", good_with_body(&items));
    let out = cyoa_check(&[&file]);
    assert_eq!(out.status.code(), Some(0), "a warning, not an error");
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("{}:5:8: warning: slide `a` does not fit", file.display())),
        "{err}"
    );
}

#[test]
fn a_slide_image_file_next_to_the_story_is_read_and_served_with_its_alt_text() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir(dir.path().join("talk-slides")).expect("a folder");
    std::fs::write(dir.path().join("talk-slides").join("01.png"), b"\x89PNG\r\n\x1a\n").expect("an image");
    let story = dir.path().join("talk.toml");
    std::fs::write(
        &story,
        with_image(r#""talk-slides/01.png""#).replace("image = ", "alt = \"The words\"\nimage = "),
    )
    .expect("the story");
    let loaded = Story::load(&story).unwrap_or_else(|p| panic!("{p:#?}"));
    let c = loaded.story.slide("c").expect("slide c");
    assert_eq!(c.image.as_deref(), Some("/story-assets/talk-slides/01.png"));
    assert_eq!(c.alt, "The words");
    let file = c.image_file.as_ref().expect("the file");
    assert_eq!(file.content_type, "image/png");
    assert_eq!(file.bytes.as_deref(), Some(&b"\x89PNG\r\n\x1a\n"[..]));
    // A path on the site stays one; nothing is read for it.
    std::fs::write(&story, with_image(r#""/static/rocket.svg""#)).expect("the story");
    let loaded = Story::load(&story).unwrap_or_else(|p| panic!("{p:#?}"));
    let c = loaded.story.slide("c").expect("slide c");
    assert_eq!(
        (c.image.as_deref(), c.image_file.is_none()),
        (Some("/static/rocket.svg"), true)
    );
}

#[test]
fn a_missing_slide_image_file_is_reported_at_its_line() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let story = dir.path().join("talk.toml");
    std::fs::write(&story, with_image(r#""talk-slides/09.png""#)).expect("the story");
    let problems: Vec<String> = Story::load(&story)
        .expect_err("a missing image")
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains(":15:9: error: `image` file `talk-slides/09.png` cannot be read"),
        "{problems:#?}"
    );
}

#[test]
fn decision_rules_are_checked() {
    run(&[
        case(
            "min_votes 0",
            good_with("prompt = \"Which?\"", "prompt = \"Which?\"\nmin_votes = 0"),
            &[
                "7:13: error: `min_votes` must be a whole number of votes from 1 to 1000000, not `0`; leave it out for no minimum",
            ],
        ),
        case(
            "min_votes huge",
            good_with("prompt = \"Which?\"", "prompt = \"Which?\"\nmin_votes = 99999999999"),
            &[
                "7:13: error: `min_votes` must be a whole number of votes from 1 to 1000000, not `99999999999`; leave it out for no minimum",
            ],
        ),
        case(
            "min_votes a string",
            good_with("prompt = \"Which?\"", "prompt = \"Which?\"\nmin_votes = \"5\""),
            &[
                "7:13: error: `min_votes` must be a whole number of votes from 1 to 1000000, not `\"5\"`; leave it out for no minimum",
            ],
        ),
        case(
            "a tie rule misspelt",
            good_with("prompt = \"Which?\"", "prompt = \"Which?\"\ntie = \"frist\""),
            &["7:7: error: `tie` must be `presenter`, `first` or `random`, not `frist`; did you mean `first`?"],
        ),
        case(
            "a tie rule unknown",
            good_with("prompt = \"Which?\"", "prompt = \"Which?\"\ntie = \"coin\""),
            &["7:7: error: `tie` must be `presenter`, `first` or `random`, not `coin`"],
        ),
        case(
            "story-wide rules wrong",
            good_with(
                "start = \"a\"",
                "start = \"a\"\n[settings]\nmin_votes = -3\ntie = \"randon\"",
            ),
            &[
                "4:13: error: `min_votes` must be a whole number of votes from 1 to 1000000, not `-3`; leave it out for no minimum",
                "5:7: error: `tie` must be `presenter`, `first` or `random`, not `randon`; did you mean `random`?",
            ],
        ),
    ]);
}

#[test]
fn decision_rules_are_read_with_the_story_wide_defaults() {
    let text = good_with(
        "start = \"a\"",
        "start = \"a\"\n[settings]\nmin_votes = 5\ntie = \"random\"",
    )
    .replace("prompt = \"Which?\"", "prompt = \"Which?\"\ntie = \"first\"");
    let story = Story::parse("t.toml", &text).expect("valid").story;
    let d = story.decision("a").expect("decision");
    let rules = story.rules_of(d);
    assert_eq!(rules.min_votes, Some(5));
    assert_eq!(rules.tie, Some(cyoa::story::Tie::First));
    let plain = Story::parse("t.toml", GOOD).expect("valid").story;
    let rules = plain.rules_of(plain.decision("a").expect("decision"));
    assert_eq!((rules.min_votes, rules.tie), (None, None));
}

#[test]
fn minutes_and_duration_are_checked() {
    let bad_minutes: &[(&str, &str)] = &[
        ("0", "`0`"),
        ("-2", "`-2`"),
        ("nan", "`nan`"),
        ("inf", "`inf`"),
        ("181", "`181`"),
        ("\"5\"", "`\"5\"`"),
    ];
    for (value, shown) in bad_minutes {
        let text = good_with("title = \"B\"", &format!("title = \"B\"\nminutes = {value}"));
        assert_eq!(
            problems(&text),
            [format!(
                "13:11: error: `minutes` must be a number of minutes above 0 and at most 180, like `minutes = 2` or `minutes = 1.5`, not {shown}"
            )],
            "minutes = {value}"
        );
    }
    for (value, shown) in [("0", "`0`"), ("-nan", "`-nan`"), ("1441", "`1441`"), ("true", "`true`")] {
        let text = good_with(
            "start = \"a\"",
            &format!("start = \"a\"\n[settings]\nduration = {value}"),
        );
        assert_eq!(
            problems(&text),
            [format!(
                "4:12: error: `duration` must be a number of minutes above 0 and at most 1440, like `duration = 2` or `duration = 1.5`, not {shown}"
            )],
            "duration = {value}"
        );
    }
}

/// GOOD with minutes: a (2) then b (10) or c (1.5), and a duration.
fn timed(duration: &str) -> String {
    good_with(
        "start = \"a\"",
        &format!("start = \"a\"\n[settings]\nduration = {duration}"),
    )
    .replace("title = \"A\"", "title = \"A\"\nminutes = 2")
    .replace("title = \"B\"", "title = \"B\"\nminutes = 10")
    .replace("title = \"C\"", "title = \"C\"\nminutes = 1.5")
}

#[test]
fn the_time_budget_gives_the_shortest_and_longest_path() {
    let story = Story::parse("t.toml", &timed("45")).expect("valid").story;
    let timing = story.timing();
    assert_eq!(
        timing.to_string(),
        "shortest path 3.5 min, longest path 12 min, duration 45 min"
    );
    let rest = story.rest();
    let b = rest.from(&story, "b").expect("b ends");
    assert_eq!((b.shortest, b.longest), (10.0, 10.0));
    // A slide without minutes counts one minute.
    let plain = Story::parse("t.toml", GOOD).expect("valid").story;
    assert_eq!(
        plain.timing().to_string(),
        "shortest path 2 min, longest path 2 min, no duration set"
    );
}

#[test]
fn a_longest_path_over_the_duration_is_a_warning_at_the_duration() {
    assert_eq!(problems(&timed("12")), Vec::<String>::new());
    assert_eq!(
        problems(&timed("11.5")),
        [
            "4:12: warning: the longest path through the talk takes 12 min, over its `duration` of 11.5 min \
          (the shortest path takes 3.5 min); shorten some slides' `minutes`, or plan which choices to steer away from"
        ]
    );
    assert_eq!(
        problems(&timed("3")),
        [
            "4:12: warning: the longest path through the talk takes 12 min, over its `duration` of 3 min \
          (even the shortest path takes); shorten some slides' `minutes`, or plan which choices to steer away from"
        ]
    );
}

#[test]
fn check_prints_the_path_durations_and_warns_over_the_duration() {
    let dir = TempDir::new("timed");
    let file = dir.file("timed.toml", timed("10"));
    let out = cyoa_check(&[&file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!(
            "{}: time: shortest path 3.5 min, longest path 12 min, duration 10 min\n",
            file.display()
        )),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).starts_with(&format!(
            "{}:4:12: warning: the longest path through the talk takes 12 min",
            file.display()
        )),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_timer_is_checked() {
    let timer = |value: &str| good_with("prompt = \"Which?\"", &format!("prompt = \"Which?\"\ntimer = {value}"));
    run(&[
        case(
            "timer 0",
            timer("0"),
            &[
                "7:9: error: `timer` must be a whole number of seconds from 1 to 3600, not `0`; leave it out for a vote that stays open until you close it",
            ],
        ),
        case(
            "timer past an hour",
            timer("3601"),
            &[
                "7:9: error: `timer` must be a whole number of seconds from 1 to 3600, not `3601`; leave it out for a vote that stays open until you close it",
            ],
        ),
        case(
            "timer a string",
            timer("\"30\""),
            &[
                "7:9: error: `timer` must be a whole number of seconds from 1 to 3600, not `\"30\"`; leave it out for a vote that stays open until you close it",
            ],
        ),
        case(
            "timer not whole",
            timer("1.5"),
            &[
                "7:9: error: `timer` must be a whole number of seconds from 1 to 3600, not `1.5`; leave it out for a vote that stays open until you close it",
            ],
        ),
        case(
            "story-wide timer wrong",
            good_with("start = \"a\"", "start = \"a\"\n[settings]\ntimer = -5"),
            &[
                "4:9: error: `timer` must be a whole number of seconds from 1 to 3600, not `-5`; leave it out for a vote that stays open until you close it",
            ],
        ),
    ]);
}

#[test]
fn a_timer_is_read_with_the_story_wide_default() {
    let text = good_with("start = \"a\"", "start = \"a\"\n[settings]\ntimer = 45");
    let story = Story::parse("t.toml", &text).expect("valid").story;
    assert_eq!(story.rules_of(story.decision("a").expect("decision")).timer, Some(45));
    let own = text.replace("prompt = \"Which?\"", "prompt = \"Which?\"\ntimer = 3600");
    let story = Story::parse("t.toml", &own).expect("valid").story;
    assert_eq!(story.rules_of(story.decision("a").expect("decision")).timer, Some(3600));
    let plain = Story::parse("t.toml", GOOD).expect("valid").story;
    assert_eq!(plain.rules_of(plain.decision("a").expect("decision")).timer, None);
}
