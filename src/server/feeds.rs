//! Feeds (Atom, JSON Feed), the `/events` Server-Sent Events stream and `/blogs`.

use axum::Router;

use super::AppState;

/// Feed, stream and blog-list routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
