//! `/healthz` and `/metrics`.
//!
//! `/healthz` answers 200 `ok` when the scheduler's control loop ticked recently and the
//! state database takes a write lock; otherwise 503 with the reason, for a load balancer
//! or a `curl --fail` in a timer. `/metrics` is the Prometheus text format of
//! [`crate::metrics`], plus the outbox depth read from the store at scrape time.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// The control loop ticks at least every second; this much silence means it is stuck.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(10);

/// How long a handler waits for the store (it may be busy with a long write).
const STORE_WAIT: Duration = Duration::from_secs(3);

/// Health and metrics routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// Is the daemon healthy, given the last tick (unix ms, 0 = never) and the outcome of a
/// write check? `Err` holds the reason.
pub(crate) fn assess(
    now_ms: i64,
    last_tick_ms: i64,
    writable: Result<(), String>,
) -> Result<(), String> {
    if last_tick_ms == 0 {
        return Err("scheduler has not started".into());
    }
    let age = now_ms.saturating_sub(last_tick_ms);
    if age > STALE_AFTER.as_millis() as i64 {
        return Err(format!(
            "scheduler stalled: last tick {:.1}s ago",
            age as f64 / 1000.0
        ));
    }
    writable.map_err(|e| format!("state database not writable: {e}"))
}

async fn healthz(State(st): State<AppState>) -> Response {
    let store = st.store.clone();
    let writable = match tokio::time::timeout(STORE_WAIT, store.call(|s| s.check_writable())).await
    {
        Ok(r) => r.map_err(|e| crate::fetch::error_chain(&e)),
        Err(_) => Err(format!("no answer within {STORE_WAIT:?} (locked?)")),
    };
    let last = st.health.last_tick_ms.load(Ordering::Relaxed);
    let verdict = match st.health.stuck(st.stuck_after) {
        Some((url, age)) => Err(format!(
            "blog task stuck: a poll of {url} has run for {:.0}s",
            age.as_secs_f64()
        )),
        None => assess(chrono::Utc::now().timestamp_millis(), last, writable),
    };
    match verdict {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => {
            tracing::warn!("/healthz: {why}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unhealthy: {why}\n"),
            )
                .into_response()
        }
    }
}

async fn metrics(State(st): State<AppState>) -> Response {
    let store = st.store.clone();
    let outbox = match tokio::time::timeout(STORE_WAIT, store.call(|s| s.outbox_depth())).await {
        Ok(Ok(d)) => Some(d),
        Ok(Err(e)) => {
            tracing::warn!("/metrics: outbox depth: {}", crate::fetch::error_chain(&e));
            None
        }
        Err(_) => None,
    };
    let body = crate::metrics::global().render(outbox);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_only_with_a_recent_tick_and_a_writable_store() {
        let now = 1_000_000;
        assert!(assess(now, now - 500, Ok(())).is_ok());
        let e = assess(now, 0, Ok(())).unwrap_err();
        assert!(e.contains("not started"), "{e}");
        let e = assess(now, now - 60_000, Ok(())).unwrap_err();
        assert!(e.contains("stalled") && e.contains("60.0s"), "{e}");
        let e = assess(now, now, Err("database is locked".into())).unwrap_err();
        assert!(e.contains("not writable: database is locked"), "{e}");
    }
}
