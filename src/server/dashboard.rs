//! The dashboard: `GET /` (blogs, live stream, watches, trying a URL) and a post's history
//! page `GET /blogs/SLUG/posts/ID`, framework-free HTML, CSS and JavaScript built into the
//! binary (`assets/dashboard/`). The pages hold no data: their script reads `/blogs`,
//! `/events` and `/api/…`, and builds every element with `textContent` (never markup
//! from data), under a Content-Security-Policy that allows only this server's own
//! scripts, so text from a blog can never run.
//!
//! With `api_token` set, a page asked for without `Authorization: Bearer` answers 401
//! with the same page, which then asks for the token (or takes it from the address's
//! `#token=…` fragment, which never reaches the server) and sends it with every request.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

const INDEX: &str = include_str!("../../assets/dashboard/index.html");
const POST: &str = include_str!("../../assets/dashboard/post.html");
const CSS: &str = include_str!("../../assets/dashboard/dashboard.css");
const COMMON_JS: &str = include_str!("../../assets/dashboard/common.js");
const INDEX_JS: &str = include_str!("../../assets/dashboard/dashboard.js");
const POST_JS: &str = include_str!("../../assets/dashboard/post.js");

/// Only this server's own scripts and styles; no frames, plugins or inline scripts.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Dashboard routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/blogs/{slug}/posts/{post_id}", get(post_page))
        .route("/assets/dashboard.css", get(|| asset(CSS, "text/css")))
        .route("/assets/common.js", get(|| asset(COMMON_JS, JS)))
        .route("/assets/dashboard.js", get(|| asset(INDEX_JS, JS)))
        .route("/assets/post.js", get(|| asset(POST_JS, JS)))
}

const JS: &str = "text/javascript";

async fn asset(body: &'static str, ctype: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("{ctype}; charset=utf-8")).expect("a valid header"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn page(state: &AppState, headers: &HeaderMap, html: &'static str) -> Response {
    let status = match super::api::authorize(state, headers) {
        Ok(()) => StatusCode::OK,
        Err(e) => e.status,
    };
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"livewatch\""),
        );
    }
    r
}

async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(&state, &headers, INDEX)
}

async fn post_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(_): Path<(String, String)>,
) -> Response {
    page(&state, &headers, POST)
}
