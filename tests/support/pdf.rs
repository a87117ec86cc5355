//! Small PDFs written by hand for the import tests: `objects` numbered
//! from 1 (the first the catalog), the cross-reference table's offsets
//! right.

/// A PDF of `objects`, with `trailer_extra` in its trailer.
pub fn pdf(objects: &[String], trailer_extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    let size = objects.len() + 1;
    out.extend_from_slice(format!("xref\n0 {size}\n0000000000 65535 f \n").as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    let trailer = format!("trailer\n<< /Size {size} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n");
    out.extend_from_slice(trailer.as_bytes());
    out
}

/// Debian's Chromium, which prints the tests' HTML decks to PDF.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Prints `html` to the PDF `dir/name` with headless Chromium (and these
/// more flags), as a presenter's slide tool exports a deck.
pub fn print_to_pdf(dir: &std::path::Path, html: &str, name: &str, flags: &[&str]) -> std::path::PathBuf {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install chromium (apt-get install chromium; scripts/test.sh does this)"
    );
    let page = dir.join("deck.html");
    std::fs::write(&page, html).expect("write the HTML");
    let pdf = dir.join(name);
    let out = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            &format!("--print-to-pdf={}", pdf.display()),
        ])
        .args(flags)
        .arg(&page)
        .output()
        .expect("chromium runs");
    assert!(
        pdf.exists(),
        "chromium wrote no PDF: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    pdf
}
