//! `cyoa import`: a real PDF printed by headless Chromium, a Marp-style
//! Markdown deck and a folder of images become stories that check clean
//! and that the real server serves; bad input gets a clear error and
//! writes nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use cyoa::settings::Settings;
use cyoa::story::Story;
use cyoa::web::{Application, Limits};
use reqwest::StatusCode;

const TOKEN: &str = "test-presenter-token";
const SECRET: &str = "a test secret that signs the cookies of one test server";

/// Three pages, one per section (CSS page breaks), 16:9.
const DECK_HTML: &str = r#"<!doctype html><html><head><meta charset="utf-8"><style>
@page { size: 1280px 720px; margin: 0 }
body { margin: 0; font-family: sans-serif }
section { height: 720px; box-sizing: border-box; padding: 40px; break-after: page }
h1 { font-size: 64px } p { font-size: 28px }
</style></head><body>
<section><h1>Deploy or die</h1><p>A talk about shipping</p></section>
<section><h1>Where do we deploy?</h1><p>PaaS or a server of our own</p></section>
<section><h1>The end</h1><p>Thank you for coming</p></section>
</body></html>"#;

/// The pages' titles and texts, as the story must have them.
const PAGES: [(&str, &str, &str); 3] = [
    ("deploy-or-die", "Deploy or die", "Deploy or die\nA talk about shipping"),
    (
        "where-do-we-deploy",
        "Where do we deploy?",
        "Where do we deploy?\nPaaS or a server of our own",
    ),
    ("the-end", "The end", "The end\nThank you for coming"),
];

fn cyoa(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cyoa"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cyoa runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Prints `html` to a PDF with headless Chromium, in `dir`.
fn print_to_pdf(dir: &Path, html: &str, name: &str) -> PathBuf {
    support::pdf::print_to_pdf(dir, html, name, &[])
}

/// The real server on a free port, serving the story file at `path`.
async fn serve(path: &Path) -> (String, tokio::sync::oneshot::Sender<()>) {
    let story = match Story::load(path) {
        Ok(loaded) => loaded.story,
        Err(problems) => panic!("the imported story does not load: {problems:?}"),
    };
    let mut settings = Settings::new(TOKEN, SECRET);
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.static_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/static").into();
    settings.limits = Limits {
        voter_min_age: Duration::ZERO,
        ..Limits::default()
    };
    let app = Application::build(settings, story).await.expect("the server binds");
    let port = app.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    (format!("http://127.0.0.1:{port}"), stop)
}

fn client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(cookies)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

fn select<'a>(doc: &'a scraper::Html, selector: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&scraper::Selector::parse(selector).expect("a selector"))
        .collect()
}

/// A PNG's width and height, from its header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}

#[tokio::test]
async fn a_pdf_printed_by_chromium_becomes_a_story_of_three_image_slides_with_the_pages_text() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    print_to_pdf(dir.path(), DECK_HTML, "deck.pdf");
    let out = cyoa(&["import", "deck.pdf", "-o", "talk.toml"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("3 slides"), "{}", text(&out.stdout));
    let check = cyoa(&["check", "talk.toml"], dir.path());
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stderr).is_empty(), "warnings: {}", text(&check.stderr));

    let story = Story::load(&dir.path().join("talk.toml")).expect("it loads").story;
    assert_eq!(story.title, "Deploy or die");
    assert_eq!(story.slides.len(), 3);
    for (slide, (id, title, alt)) in story.slides.iter().zip(PAGES) {
        assert_eq!(
            (slide.id.as_str(), slide.title.as_str(), slide.alt.as_str()),
            (id, title, alt)
        );
        assert!(slide.is_image_only(), "{}", slide.id);
    }

    let (address, _stop) = serve(&dir.path().join("talk.toml")).await;
    let presenter = client(true);
    let login = get(&presenter, &format!("{address}/presenter?token={TOKEN}")).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let api = client(false);
    let audience = client(true);
    for (i, (id, title, alt)) in PAGES.iter().enumerate() {
        if i > 0 {
            let r = api
                .post(format!("{address}/api/presenter/next"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("next");
            assert_eq!(r.status(), StatusCode::OK);
        }
        let page = page_text(&presenter, &format!("{address}/presenter")).await;
        let doc = scraper::Html::parse_document(&page);
        let main = select(&doc, "main#presenter");
        assert_eq!(main.len(), 1, "{page}");
        assert_eq!(main[0].attr("data-slide"), Some(*id));
        assert!(main[0].value().classes().any(|c| c == "slide--image"), "{page}");
        let img = select(&doc, "img.slide-image");
        assert_eq!(img.len(), 1, "{page}");
        assert_eq!(img[0].attr("alt"), Some(*alt));
        let src = img[0].attr("src").expect("a src");
        assert_eq!(src, format!("/story-assets/talk-slides/{:02}.png", i + 1));
        let image = get(&presenter, &format!("{address}{src}")).await;
        assert_eq!(image.status(), StatusCode::OK, "{src}");
        assert_eq!(image.headers()["content-type"], "image/png");
        let bytes = image.bytes().await.expect("bytes");
        assert_eq!(png_size(&bytes), (1920, 1080), "{src}");
        assert!(bytes.len() < 400 * 1024, "{src} is {} bytes", bytes.len());

        let page = page_text(&audience, &format!("{address}/")).await;
        let doc = scraper::Html::parse_document(&page);
        let h1: Vec<String> = select(&doc, "h1.slide-title")
            .iter()
            .map(|e| e.text().collect())
            .collect();
        assert_eq!(h1, [title.to_string()], "{page}");
        let words: Vec<String> = select(&doc, "p.slide-alt").iter().map(|e| e.text().collect()).collect();
        assert_eq!(words, [alt.to_string()], "{page}");
    }
    // Nothing else next to the story is served.
    let r = get(&presenter, &format!("{address}/story-assets/deck.pdf")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[test]
fn outline_entries_title_their_pages_and_a_page_without_text_is_slide_n() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let html = DECK_HTML
        .replace(
            "<section><h1>Where do we deploy?</h1>",
            "<section><p style=\"font-size: 90px\">Big words</p><h1>Where do we deploy?</h1>",
        )
        .replace(
            "<section><h1>The end</h1><p>Thank you for coming</p></section>",
            "<section><svg width=\"400\" height=\"300\"><circle cx=\"150\" cy=\"150\" r=\"100\"/></svg></section>",
        );
    // Chromium writes the headings as the PDF's outline (bookmarks).
    support::pdf::print_to_pdf(dir.path(), &html, "deck.pdf", &["--generate-pdf-document-outline"]);
    let out = cyoa(&["import", "deck.pdf", "-o", "talk.toml"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let story = Story::load(&dir.path().join("talk.toml")).expect("it loads").story;
    let titles: Vec<&str> = story.slides.iter().map(|s| s.title.as_str()).collect();
    // Page 2's largest text is "Big words"; its outline entry wins.
    assert_eq!(titles, ["Deploy or die", "Where do we deploy?", "Slide 3"]);
    assert_eq!(
        story.slides[1].alt,
        "Big words\nWhere do we deploy?\nPaaS or a server of our own"
    );
    assert_eq!(story.slides[2].alt, "");
}

#[test]
fn page_labels_name_the_pages_that_have_no_title() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    // Four pages without text: i and ii (front matter), then A-1 and A-2,
    // the labels in a number tree with a kid, as large decks write them.
    let page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>".to_string();
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R /PageLabels << /Kids [7 0 R] >> >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R 6 0 R] /Count 4 >>".to_string(),
        page.clone(),
        page.clone(),
        page.clone(),
        page,
        "<< /Limits [0 2] /Nums [0 << /S /r >> 2 << /S /D /P (A-) >>] >>".to_string(),
    ];
    std::fs::write(dir.path().join("deck.pdf"), support::pdf::pdf(&objects, "")).expect("write");
    let out = cyoa(&["import", "deck.pdf", "-o", "talk.toml"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let story = Story::load(&dir.path().join("talk.toml")).expect("it loads").story;
    let titles: Vec<&str> = story.slides.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Slide i", "Slide ii", "Slide A-1", "Slide A-2"]);
    // Their ids stay by position, as for every untitled page.
    let ids: Vec<&str> = story.slides.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["slide-1", "slide-2", "slide-3", "slide-4"]);
}

#[test]
fn a_marp_deck_becomes_slides_with_titles_bodies_and_notes() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        dir.path().join("deck.md"),
        "---\nmarp: true\ntitle: Deploy or die\n---\n\n# You started a company\n\nYour app works on **your laptop**.\n\n<!-- Welcome the room. -->\n\n---\n\n<!-- _class: lead -->\n## Where do we deploy?\n\n- a PaaS\n- a server\n\n---\n\n# The end\n",
    )
    .expect("write the deck");
    let out = cyoa(&["import", "deck.md", "-o", "talk.toml"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !dir.path().join("talk-slides").exists(),
        "a Markdown deck has no images"
    );
    let check = cyoa(&["check", "talk.toml"], dir.path());
    assert!(check.status.success(), "{}", text(&check.stderr));
    let story = Story::load(&dir.path().join("talk.toml")).expect("it loads").story;
    assert_eq!(story.title, "Deploy or die");
    let titles: Vec<&str> = story.slides.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["You started a company", "Where do we deploy?", "The end"]);
    assert_eq!(story.slides[0].body, "Your app works on **your laptop**.");
    assert_eq!(story.slides[0].notes, "Welcome the room.");
    assert_eq!(story.slides[1].notes, "", "a Marp directive is not a note");
    assert!(story.slides[1].body_html().contains("<li>a PaaS</li>"));
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d,
    0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[test]
fn a_folder_of_images_becomes_one_slide_per_image_in_natural_order() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let slides = dir.path().join("export");
    std::fs::create_dir(&slides).expect("a folder");
    for name in ["Slide10.png", "Slide2.png", "Slide1.png"] {
        std::fs::write(slides.join(name), PNG).expect("an image");
    }
    std::fs::write(slides.join("notes.txt"), "not a slide").expect("a file");
    let out = cyoa(&["import", "export", "-o", "talk.toml"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let check = cyoa(&["check", "talk.toml"], dir.path());
    assert!(check.status.success(), "{}", text(&check.stderr));
    let story = Story::load(&dir.path().join("talk.toml")).expect("it loads").story;
    let titles: Vec<&str> = story.slides.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Slide 1", "Slide 2", "Slide 3"]);
    let images: Vec<&str> = story.slides.iter().filter_map(|s| s.image.as_deref()).collect();
    assert_eq!(
        images,
        [
            "/story-assets/talk-slides/01.png",
            "/story-assets/talk-slides/02.png",
            "/story-assets/talk-slides/03.png"
        ]
    );
}

/// Runs `cyoa import INPUT -o talk.toml` in `dir`, expects it to fail with
/// `message` and to have written nothing.
fn refused(dir: &Path, input: &str, extra: &[&str], message: &str) {
    let mut args = vec!["import", input, "-o", "talk.toml"];
    args.extend_from_slice(extra);
    let before = std::fs::read(dir.join("talk.toml")).ok();
    let out = cyoa(&args, dir);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{input}: {stderr}");
    assert!(stderr.contains(message), "{input}: {stderr}");
    assert!(stderr.contains("nothing was written"), "{input}: {stderr}");
    assert_eq!(
        std::fs::read(dir.join("talk.toml")).ok(),
        before,
        "{input}: the story changed"
    );
    assert!(!dir.join("talk-slides").exists(), "{input}: images were written");
    assert!(
        !dir.join(".talk-slides.partial").exists(),
        "{input}: images were left behind"
    );
}

/// A PDF of one page, with `trailer_extra` in its trailer and `count` as its
/// page count; the offsets of its cross-reference table are right.
fn pdf_with(kids: &str, count: usize, trailer_extra: &str) -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!("<< /Type /Pages /Kids [{kids}] /Count {count} >>"),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>".to_string(),
    ];
    support::pdf::pdf(&objects, trailer_extra)
}

#[test]
fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let d = dir.path();
    // The well-formed one-page PDF these are made from does import.
    std::fs::write(d.join("good.pdf"), pdf_with("3 0 R", 1, "")).expect("write");
    let out = cyoa(&["import", "good.pdf", "-o", "good.toml"], d);
    assert!(out.status.success(), "{}", text(&out.stderr));

    std::fs::write(
        d.join("encrypted.pdf"),
        pdf_with(
            "3 0 R",
            1,
            &format!(
                "/Encrypt << /Filter /Standard /V 1 /R 2 /O <{o}> /U <{u}> /P -4 >> /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]",
                o = "ab".repeat(32),
                u = "cd".repeat(32)
            ),
        ),
    )
    .expect("write");
    refused(d, "encrypted.pdf", &[], "the PDF is encrypted (password-protected)");

    std::fs::write(d.join("corrupt.pdf"), b"%PDF-1.7\n\x00\xff garbage, not objects\n").expect("write");
    refused(d, "corrupt.pdf", &[], "not a readable PDF");

    std::fs::write(d.join("empty.pdf"), pdf_with("", 0, "")).expect("write");
    let out = cyoa(&["import", "empty.pdf", "-o", "talk.toml"], d);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the PDF has no pages") || stderr.contains("not a readable PDF"),
        "{stderr}"
    );
    assert!(!d.join("talk.toml").exists());

    std::fs::write(d.join("slides.key"), b"PK\x03\x04 a Keynote file").expect("write");
    refused(d, "slides.key", &[], "is neither a PDF");

    std::fs::create_dir(d.join("pngs")).expect("a folder");
    std::fs::write(d.join("pngs").join("1.png"), PNG).expect("write");
    std::fs::write(d.join("pngs").join("2.png"), b"<html>not an image</html>").expect("write");
    refused(d, "pngs", &[], "2.png is not a PNG, JPEG or WebP image");

    refused(d, "missing.pdf", &[], "cannot read missing.pdf");

    // An existing story is refused without --force, replaced with it.
    std::fs::write(d.join("talk.toml"), "# my own talk\n").expect("write");
    refused(
        d,
        "good.pdf",
        &[],
        "talk.toml already exists; give another name, or `--force` to replace it",
    );
    let out = cyoa(&["import", "good.pdf", "-o", "talk.toml", "--force"], d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(d.join("talk-slides").join("01.png").exists());
}

/// A GET of `url`, answered.
async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.expect(url)
}

/// The body of a GET of `url`.
async fn page_text(client: &reqwest::Client, url: &str) -> String {
    get(client, url).await.text().await.expect("a text body")
}
