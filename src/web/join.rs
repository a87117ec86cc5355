//! Joining the talk: the QR code of the audience URL (an SVG made here, at
//! `GET /join.svg` and on the presenter's decision and join slides), the
//! short URL to type, and the story's own files (logo, style sheet) at
//! `GET /story-assets/{name}`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::error::Error;
use super::state::AppState;

/// The audience URL as people type it: no scheme, no trailing slash
/// (`talk.example.org`, `10.0.0.5:8080/cyoa`).
pub fn short_url(public_url: &str) -> String {
    let rest = public_url.split_once("://").map_or(public_url, |(_, rest)| rest);
    rest.trim_end_matches('/').to_string()
}

/// The audience page's URL as the QR code and the join panel give it:
/// with the room code, when it is on, so that a phone that scans never
/// types it.
pub fn audience_url(app: &AppState, room_code: Option<&str>) -> String {
    match room_code {
        Some(code) => format!("{}/?code={code}", app.site.public_url),
        None => format!("{}/", app.site.public_url),
    }
}

/// The QR code of `url` as an SVG of one unit per module (scaled by the
/// page), dark on white with the quiet zone scanners need; `None` if the
/// URL is too long for a QR code.
pub fn qr_svg(url: &str) -> Option<String> {
    // Level M: survives a smudge or a glare on the screen, and keeps the
    // modules large for a short URL.
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .module_dimensions(1, 1)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .quiet_zone(true)
            .build(),
    )
}

/// The QR code's width in modules, quiet zone included: its SVG's size.
pub fn qr_modules(url: &str) -> Option<usize> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).ok()?;
    Some(code.width() + 8)
}

/// `GET /join.svg`: the QR code of the audience page, for the presenter
/// view and for a story's own slides. With the room code on, the presenter
/// (cookie or token) gets the URL with the code, never cached, since it
/// changes with the run; anyone else the bare URL, whose page asks for the
/// code, so the image cannot give the code away.
pub async fn svg(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    let story = app.talk.story();
    let room_on = app.access.room.on(&story);
    let code = if room_on && super::results::presenter_reads(&app, &headers) {
        let current = app.talk.store.current(&story.start).await?;
        Some(app.access.room.code_of(&current))
    } else {
        None
    };
    let url = audience_url(&app, code.as_deref());
    let cache = if room_on { "no-store" } else { "public, max-age=300" };
    let Some(svg) = qr_svg(&url) else {
        return Err(Error::not_found(
            "url_too_long",
            "The audience URL is too long for a QR code; use a shorter --public-url.",
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        svg,
    )
        .into_response())
}

/// `GET /story-assets/{*name}`: the story's logo, style sheet or slide
/// images, from the
/// bytes read when the story was loaded. Nothing else is served here, so no
/// path can reach any other file.
pub async fn story_asset(State(app): State<AppState>, Path(name): Path<String>) -> Result<Response, Error> {
    let story = app.talk.story();
    let theme = &story.settings.theme;
    let found = [theme.logo.as_ref(), theme.css.as_ref()]
        .into_iter()
        .chain(story.slides.iter().map(|s| s.image_file.as_ref()))
        .flatten()
        .find(|a| a.name == name);
    let Some((asset, bytes)) = found.and_then(|a| Some((a, a.bytes.clone()?))) else {
        return Err(Error::not_found("not_found", "There is nothing at this address."));
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
        ],
        axum::body::Bytes::from_owner(bytes),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_url_drops_the_scheme_and_the_slash() {
        assert_eq!(short_url("https://talk.example.org/"), "talk.example.org");
        assert_eq!(short_url("http://10.0.0.5:8080/cyoa"), "10.0.0.5:8080/cyoa");
    }

    #[test]
    fn the_qr_code_is_an_svg_with_a_white_quiet_zone() {
        let svg = qr_svg("http://talk.example.org/").expect("a QR code");
        assert!(svg.contains("<svg") && svg.contains(r##"fill="#ffffff""##), "{svg}");
        // Version 2 (25 modules) plus a quiet zone of 4 on each side.
        assert!(svg.contains(r#"viewBox="0 0 33 33""#), "{svg}");
    }
}
