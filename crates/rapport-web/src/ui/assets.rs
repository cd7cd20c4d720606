//! First-party CSS and JavaScript, embedded in the binary at build time.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("../../../../web/static/app.css");
const JS: &str = include_str!("../../../../web/static/app.js");
const FAVICON: &str = include_str!("../../../../web/static/favicon.svg");

/// Bumped with the package version so browsers fetch new assets after an upgrade.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        CSS,
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        JS,
    )
}

/// The icon browsers show in tabs and bookmarks (also asked for as `/favicon.ico`).
pub async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}
