//! `/healthz` and `/metrics`.

use axum::Router;

use super::AppState;

/// Health and metrics routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
