//! The optional HTTP endpoint (`listen = "127.0.0.1:9477"`): health and metrics
//! ([`health`]), feeds, the live event stream and the blog list ([`feeds`]).
//!
//! Handlers read the store on the blocking pool and never hold a connection across an
//! `.await`. New events reach the SSE stream through [`AppState::committed`], a watch
//! channel holding the newest committed event sequence number.

pub(crate) mod api;
pub(crate) mod dashboard;
pub(crate) mod feeds;
pub(crate) mod health;
pub(crate) mod state;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use tokio::sync::watch;

use crate::config::Watch;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    /// The watches of the current config (replaced on reload).
    pub watches: Arc<RwLock<Vec<Watch>>>,
    /// The newest committed event's sequence number.
    pub committed: watch::Receiver<i64>,
    /// Liveness of the scheduler, for `/healthz`.
    pub health: Arc<crate::daemon::Health>,
    /// A poll running longer than this makes `/healthz` report a stuck blog task.
    pub stuck_after: std::time::Duration,
    /// The watch API and the dashboard ([`api`]).
    pub api: Arc<api::Api>,
}

/// All routes.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(feeds::routes())
        .merge(api::routes())
        .merge(dashboard::routes())
        .with_state(state)
}

/// Serve until `stop` turns true.
pub(crate) async fn serve(
    addr: SocketAddr,
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "HTTP endpoint listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { crate::daemon::stopped(&mut stop).await })
        .await
}
