//! The JSON API under `/api/` (README "Dashboard and API"): the watch list and its changes,
//! a post's stored history, recent events and trying a URL before watching it.
//!
//! Access: when `api_token` is set (it must be whenever `listen` is not loopback) every
//! `/api/` route and the dashboard pages need `Authorization: Bearer TOKEN`. Writes are
//! also refused when the browser says they come from another site (`Origin` not this
//! host, `Sec-Fetch-Site: cross-site`), and bodies must be `application/json`, which a
//! plain HTML form cannot send: no write can be forged from another page, with or without
//! a token. Errors are JSON: `{"error": "…", "field": "…"}` (`field` is null when the
//! error is not about one field).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::feeds::slugs;
use super::AppState;
use crate::config::{Watch, MIN_INTERVAL};
use crate::daemon::watches::{ApiWatch, ApiWatches, WatchError, WatchSpec};
use crate::daemon::{Daemon, Shared};
use crate::extract::{Selectors, Strategy};

/// What the API handlers reach beyond the feeds' state.
pub(crate) struct Api {
    pub watches: Arc<ApiWatches>,
    pub shared: Arc<Shared>,
}

impl Api {
    pub(crate) fn new(daemon: &Daemon) -> Arc<Api> {
        Arc::new(Api {
            watches: daemon.api_watches().clone(),
            shared: daemon.shared().clone(),
        })
    }
}

impl AppState {
    /// Every watch served: the config's, then those added through the API.
    pub(crate) fn all_watches(&self) -> Vec<Watch> {
        let mut all = self
            .watches
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for w in self.api.watches.all_watches() {
            if !all.iter().any(|c| c.url == w.url) {
                all.push(w);
            }
        }
        all
    }
}

/// The API routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/watches", get(list_watches).post(add_watch))
        .route("/api/watches/{id}", delete(remove_watch))
        .route("/api/watches/{id}/pause", post(pause_watch))
        .route("/api/watches/{id}/resume", post(resume_watch))
        .route("/api/blogs/{slug}/posts/{post_id}", get(post_history))
        .route("/api/events", get(recent_events))
        .route("/api/check", post(check))
}

/// An API error: a status and `{"error", "field"}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub field: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            field: None,
        }
    }

    /// A 400 about one field.
    pub(crate) fn field(field: &str, error: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            field: Some(field.to_string()),
        }
    }

    fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("API: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": self.error, "field": self.field}));
        let mut r = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"livewatch\""),
            );
        }
        r
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

/// Equal in time whatever the contents.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token check of every API route and dashboard page.
pub(crate) fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let cfg = state.api.watches.config();
    let token = match cfg.api_token {
        Some(t) => t,
        // Without a token only this machine may ask: a page whose own host name was made to
        // point at 127.0.0.1 (DNS rebinding) sends that name as Host and is refused.
        None if cfg.listen.is_none_or(|a| a.ip().is_loopback()) => {
            return if loopback_host(headers) {
                Ok(())
            } else {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "without api_token the API and the dashboard answer only requests for a loopback host (127.0.0.1, [::1], localhost); set api_token to reach them under another name",
                ))
            };
        }
        // The config check refuses this; never serve an open API on the network anyway.
        None => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "api_token is not set and listen is not loopback",
            ))
        }
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if same(g.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong API token")),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs the API token: Authorization: Bearer TOKEN (api_token in the config)",
        )),
    }
}

/// The request's `Host` is a loopback address or `localhost` (with any port).
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// [`authorize`], and refuse a request another site's page made.
fn authorize_write(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    authorize(state, headers)?;
    let cross = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let foreign_origin = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(o) => {
            let o_host = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"));
            o_host.is_none() || o_host != host
        }
    };
    if cross || foreign_origin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross-site request refused",
        ));
    }
    Ok(())
}

/// A JSON body (`application/json`; anything else is refused).
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON, sent with Content-Type: application/json",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn interval_text(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn extractor_of(w: &Watch) -> (String, Option<&Selectors>) {
    match &w.strategy {
        Strategy::Auto => ("auto".into(), None),
        Strategy::Named(n) => (n.clone(), None),
        Strategy::Css(s) => ("css".into(), Some(s)),
    }
}

fn watch_json(id: String, w: &Watch, slug: &str, paused: bool, source: &str) -> Value {
    let (extractor, selectors) = extractor_of(w);
    json!({
        "id": id,
        "url": w.url,
        "name": w.name,
        "interval": interval_text(w.interval),
        "interval_seconds": w.interval.as_secs_f64(),
        "paused": paused,
        "source": source,
        "read_only": source == "config",
        "slug": slug,
        "notify": w.notify,
        "extractor": extractor,
        "selectors": selectors,
        "fetch": match w.fetch {
            crate::config::FetchMode::Browser => "browser",
            crate::config::FetchMode::Http => "http",
        },
        "settle": w.settle,
    })
}

fn api_id(id: i64) -> String {
    format!("api-{id}")
}

/// The JSON of every watch, config first, each with its slug.
fn all_watch_json(state: &AppState) -> Vec<Value> {
    let config = state
        .watches
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let api = state.api.watches.list();
    let slugged = slugs(&state.all_watches());
    let slug_of = |url: &str| {
        slugged
            .iter()
            .find(|(_, w)| w.url == url)
            .map(|(s, _)| s.clone())
            .unwrap_or_default()
    };
    let mut out: Vec<Value> = config
        .iter()
        .map(|w| {
            let slug = slug_of(&w.url);
            watch_json(format!("config-{slug}"), w, &slug, false, "config")
        })
        .collect();
    for a in api {
        if config.iter().any(|w| w.url == a.watch.url) {
            continue;
        }
        out.push(watch_json(
            api_id(a.id),
            &a.watch,
            &slug_of(&a.watch.url),
            a.paused,
            "api",
        ));
    }
    out
}

async fn list_watches(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Value>>, ApiError> {
    authorize(&state, &headers)?;
    Ok(Json(all_watch_json(&state)))
}

fn one_watch_json(state: &AppState, a: &ApiWatch) -> Value {
    let id = api_id(a.id);
    all_watch_json(state)
        .into_iter()
        .find(|w| w["id"] == id.as_str())
        .unwrap_or_else(|| watch_json(id, &a.watch, "", a.paused, "api"))
}

const WATCH_FIELDS: &[&str] = &[
    "url",
    "name",
    "interval",
    "notify",
    "extractor",
    "selectors",
    "fetch",
    "settle",
];

fn http_url(field: &str, v: Option<&Value>) -> Result<String, ApiError> {
    let s = match v {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ApiError::field(field, format!("{field} is required")))
        }
        Some(_) => return Err(ApiError::field(field, format!("{field} must be a string"))),
    };
    match url::Url::parse(&s) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(s),
        Ok(u) => Err(ApiError::field(
            field,
            format!("{field} must be an http or https URL, not {}:", u.scheme()),
        )),
        Err(e) => Err(ApiError::field(
            field,
            format!("{field} {s:?} is not a valid URL: {e}"),
        )),
    }
}

fn opt_string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::field(field, format!("{field} must be a string"))),
    }
}

/// `extractor` and `selectors` of a request body, checked.
fn strategy_fields(
    body: &Map<String, Value>,
) -> Result<(Option<String>, Option<Selectors>), ApiError> {
    let extractor = opt_string(body, "extractor")?;
    if let Some(e) = &extractor {
        let names = crate::config::extractor_names();
        if !names.contains(&e.as_str()) {
            return Err(ApiError::field(
                "extractor",
                format!(
                    "unknown extractor {e:?}; the extractors are {}",
                    names.join(", ")
                ),
            ));
        }
    }
    let selectors = match body.get("selectors") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let s: Selectors = serde_json::from_value(v.clone()).map_err(|e| {
                ApiError::field(
                    "selectors",
                    format!("selectors must be an object {{post, id?, headline?, time?, byline?, body?}} of CSS selectors: {e}"),
                )
            })?;
            let all = [
                ("post", Some(&s.post)),
                ("id", s.id.as_ref()),
                ("headline", s.headline.as_ref()),
                ("time", s.time.as_ref()),
                ("byline", s.byline.as_ref()),
                ("body", s.body.as_ref()),
            ];
            for (name, css) in all {
                if let Some(css) = css {
                    if let Err(e) = scraper::Selector::parse(css) {
                        return Err(ApiError::field(
                            &format!("selectors.{name}"),
                            format!("the {name} selector {css:?} is not valid CSS: {e}"),
                        ));
                    }
                }
            }
            Some(s)
        }
    };
    Ok((extractor, selectors))
}

/// Check a `POST /api/watches` body field by field.
pub(crate) fn parse_watch(
    body: &Map<String, Value>,
    notifiers: &[String],
) -> Result<WatchSpec, ApiError> {
    if let Some(k) = body.keys().find(|k| !WATCH_FIELDS.contains(&k.as_str())) {
        return Err(ApiError::field(
            k,
            format!(
                "unknown field {k:?}; the fields are {}",
                WATCH_FIELDS.join(", ")
            ),
        ));
    }
    let url = http_url("url", body.get("url"))?;
    let name = opt_string(body, "name")?.map(|n| n.trim().to_string());
    if name
        .as_ref()
        .is_some_and(|n| n.is_empty() || n.chars().count() > 200)
    {
        return Err(ApiError::field("name", "name must be 1 to 200 characters"));
    }
    let interval = match body.get("interval") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(crate::config::parse_duration(s).map_err(|e| ApiError::field("interval", e))?)
        }
        Some(Value::Number(n)) => match n.as_f64() {
            Some(secs) if (0.0..1e9).contains(&secs) => Some(Duration::from_secs_f64(secs)),
            _ => {
                return Err(ApiError::field(
                    "interval",
                    "interval must be a number of seconds",
                ))
            }
        },
        Some(_) => {
            return Err(ApiError::field(
                "interval",
                "interval must be a duration like \"30s\" or \"5m\", or a number of seconds",
            ))
        }
    };
    if interval.is_some_and(|i| i < MIN_INTERVAL) {
        return Err(ApiError::field(
            "interval",
            "interval must be at least 100ms",
        ));
    }
    let notify = match body.get("notify") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let mut names = Vec::new();
            for v in a {
                let Some(n) = v.as_str() else {
                    return Err(ApiError::field(
                        "notify",
                        "notify must be a list of notifier names",
                    ));
                };
                if !notifiers.iter().any(|c| c == n) {
                    return Err(ApiError::field(
                        "notify",
                        format!(
                            "notify names {n:?}, but no [[notifier]] has that name (the notifiers are: {})",
                            notifiers.join(", ")
                        ),
                    ));
                }
                names.push(n.to_string());
            }
            Some(names)
        }
        Some(_) => {
            return Err(ApiError::field(
                "notify",
                "notify must be a list of notifier names",
            ))
        }
    };
    let (extractor, selectors) = strategy_fields(body)?;
    let fetch = match opt_string(body, "fetch")?.as_deref() {
        None | Some("http") => None,
        Some("browser") => Some("browser".to_string()),
        Some(other) => {
            return Err(ApiError::field(
                "fetch",
                format!("unknown fetch {other:?}; fetch is \"http\" (default) or \"browser\""),
            ))
        }
    };
    let settle = opt_string(body, "settle")?;
    if let Some(s) = &settle {
        if scraper::Selector::parse(s).is_err() {
            return Err(ApiError::field(
                "settle",
                format!("settle = {s:?} is not a CSS selector"),
            ));
        }
        if fetch.is_none() {
            return Err(ApiError::field(
                "settle",
                "settle applies to fetch = \"browser\" only",
            ));
        }
    }
    Ok(WatchSpec {
        url,
        name,
        interval_ms: interval.map(|i| i.as_millis() as u64),
        notify,
        extractor,
        selectors,
        fetch,
        settle,
    })
}

async fn add_watch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize_write(&state, &headers)?;
    let body = json_body(&headers, &body)?;
    let spec = parse_watch(&body, &state.api.watches.config().notifiers)?;
    let registry = state.api.watches.clone();
    let added = tokio::task::spawn_blocking(move || registry.add(spec))
        .await
        .map_err(ApiError::internal)?;
    match added {
        Ok(a) => Ok((StatusCode::CREATED, Json(one_watch_json(&state, &a))).into_response()),
        Err(WatchError::Duplicate(url)) => Err(ApiError {
            status: StatusCode::CONFLICT,
            error: format!("{url} is already watched"),
            field: Some("url".into()),
        }),
        Err(WatchError::Store(e)) => Err(e.into()),
    }
}

/// An `api-N` id, or the error for a config watch / an unknown id.
fn api_watch_id(state: &AppState, id: &str) -> Result<i64, ApiError> {
    if let Some(n) = id.strip_prefix("api-").and_then(|n| n.parse().ok()) {
        if state.api.watches.list().iter().any(|a| a.id == n) {
            return Ok(n);
        }
    } else if all_watch_json(state)
        .iter()
        .any(|w| w["id"] == id && w["source"] == "config")
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{id} is a watch of the config file: change it there (and reload with SIGHUP)"),
        ));
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no watch has the id {id:?}; GET /api/watches lists them"),
    ))
}

async fn remove_watch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorize_write(&state, &headers)?;
    let n = api_watch_id(&state, &id)?;
    let registry = state.api.watches.clone();
    tokio::task::spawn_blocking(move || registry.remove(n))
        .await
        .map_err(ApiError::internal)??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set_paused(
    state: AppState,
    headers: HeaderMap,
    id: String,
    paused: bool,
) -> Result<Json<Value>, ApiError> {
    authorize_write(&state, &headers)?;
    let n = api_watch_id(&state, &id)?;
    let registry = state.api.watches.clone();
    let a = tokio::task::spawn_blocking(move || registry.set_paused(n, paused))
        .await
        .map_err(ApiError::internal)??
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no watch {id}")))?;
    Ok(Json(one_watch_json(&state, &a)))
}

async fn pause_watch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_paused(state, headers, id, true).await
}

async fn resume_watch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_paused(state, headers, id, false).await
}

/// The watch with this slug.
fn watch_by_slug(state: &AppState, slug: &str) -> Result<Watch, ApiError> {
    slugs(&state.all_watches())
        .into_iter()
        .find(|(s, _)| s == slug)
        .map(|(_, w)| w)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no watched blog has the slug {slug:?}; GET /blogs lists them"),
            )
        })
}

/// The JSON of a post's history: every revision with the word diff from the one before
/// and the correction notes it added.
pub(crate) fn history_json(
    slug: &str,
    w: &Watch,
    title: Option<&str>,
    h: &crate::store::PostHistory,
) -> Value {
    use crate::diff::{correction::correction_notes, render, word_diff};
    let mut revisions = Vec::with_capacity(h.revisions.len());
    let mut prev: Option<&crate::model::Post> = None;
    for r in &h.revisions {
        let text = render(&r.post);
        let (diff, added) = match prev {
            None => (None, Vec::new()),
            Some(p) => {
                let before = correction_notes(&render(p));
                let added: Vec<String> = correction_notes(&text)
                    .into_iter()
                    .filter(|n| !before.contains(n))
                    .collect();
                (Some(word_diff(&render(p), &text)), added)
            }
        };
        let kind = match (prev, added.is_empty()) {
            (None, _) => "new",
            (Some(_), true) => "edit",
            (Some(_), false) => "correction",
        };
        let notes: Vec<&str> = text
            .split('\n')
            .map(str::trim)
            .filter(|p| !p.is_empty() && crate::diff::correction::is_correction_note(p))
            .collect();
        revisions.push(json!({
            "revision": r.revision,
            "seen_at": rfc3339(r.seen_at),
            "post": r.post,
            "diff": diff,
            "kind": kind,
            "corrections_added": added,
            "correction_notes": notes,
        }));
        prev = Some(&r.post);
    }
    json!({
        "blog": {"slug": slug, "url": w.url, "title": w.name.as_deref().or(title)},
        "post_id": h.revisions.last().map(|r| r.post.id.clone()),
        "post": h.revisions.last().map(|r| &r.post),
        "removed": h.removed,
        "first_seen_at": rfc3339(h.first_seen),
        "changed_at": rfc3339(h.changed),
        "revisions": revisions,
    })
}

async fn post_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, post_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let w = watch_by_slug(&state, &slug)?;
    let url = w.url.clone();
    let pid = post_id.clone();
    let (title, history) = state
        .store
        .call(move |s| {
            let title = s.find_blog(&url)?.and_then(|b| b.title);
            Ok((title, s.post_history(&url, &pid)?))
        })
        .await?;
    let h = history.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{slug} has no post with the id {post_id:?}"),
        )
    })?;
    Ok(Json(history_json(&slug, &w, title.as_deref(), &h)))
}

#[derive(Debug, Deserialize)]
struct Recent {
    limit: Option<usize>,
}

/// `/api/events?limit=N`: the newest N events (default 50, at most 500), oldest first,
/// each with its `seq`; the last one's `id` is the `Last-Event-ID` to resume `/events`
/// from.
async fn recent_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Recent>,
) -> Result<Json<Vec<Value>>, ApiError> {
    authorize(&state, &headers)?;
    let n = q.limit.unwrap_or(50).clamp(1, 500);
    let events = state.store.call(move |s| s.recent_events(n)).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|(seq, e)| {
                let mut v = serde_json::to_value(&e).unwrap_or_default();
                v["seq"] = json!(seq);
                v
            })
            .collect(),
    ))
}

fn layout_json(l: &crate::extract::generic::Layout) -> Value {
    json!({"kind": l.kind, "at": l.at, "posts": l.posts, "score": l.score})
}

/// `POST /api/check {url, extractor?, selectors?}`: what the extractor finds on the page,
/// as `livewatch check --json` (the posts) with the layout it chose.
async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    authorize_write(&state, &headers)?;
    let body = json_body(&headers, &body)?;
    if let Some(k) = body
        .keys()
        .find(|k| !["url", "extractor", "selectors"].contains(&k.as_str()))
    {
        return Err(ApiError::field(
            k,
            format!("unknown field {k:?}; the fields are url, extractor, selectors"),
        ));
    }
    let url = http_url("url", body.get("url"))?;
    let (extractor, selectors) = strategy_fields(&body)?;
    let strategy = WatchSpec {
        url: url.clone(),
        name: None,
        interval_ms: None,
        notify: None,
        extractor,
        selectors,
        fetch: None,
        settle: None,
    }
    .to_watch()
    .strategy;
    let fetched_at = Utc::now();
    let fetched = state
        .api
        .shared
        .fetcher
        .fetch(&url, &Default::default())
        .await
        .map_err(|e| ApiError {
            status: StatusCode::BAD_GATEWAY,
            error: format!("cannot fetch {url}: {e}"),
            field: Some("url".into()),
        })?;
    let page = match fetched {
        crate::fetch::Fetched::Page(p) => p,
        crate::fetch::Fetched::NotModified => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "the server answered 304 to an unconditional GET",
            ))
        }
    };
    let parsing = &state.api.shared.parsing;
    let permit = parsing.permit().await;
    let parse = parsing.run(move || {
        let _permit = permit;
        let p = crate::extract::Page {
            url: &page.final_url,
            body: &page.body,
            content_type: page.content_type.as_deref(),
            fetched_at,
        };
        (
            crate::extract::extract(&p, &strategy),
            page.final_url.clone(),
        )
    });
    let ex = parse.await.map_err(ApiError::internal)?;
    let (ex, final_url) = ex;
    Ok(Json(json!({
        "url": url,
        "final_url": final_url,
        "title": ex.title,
        "extractor": ex.extractor,
        "layout": ex.layout.as_ref().map(layout_json),
        "runner_up": ex.runner_up.as_ref().map(layout_json),
        "closed": ex.closed.is_some(),
        "attempts": ex.attempts.iter().map(|a| json!({"extractor": a.extractor, "reason": a.reason})).collect::<Vec<_>>(),
        "posts": ex.posts,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_watch_request_is_checked_field_by_field() {
        let notifiers = vec!["desk".to_string()];
        let w = parse_watch(
            &body(
                json!({"url": " https://e.org/live ", "name": " Live ", "interval": "5m",
                         "notify": ["desk"], "extractor": "jsonld"}),
            ),
            &notifiers,
        )
        .unwrap();
        assert_eq!(w.url, "https://e.org/live");
        assert_eq!(w.name.as_deref(), Some("Live"));
        assert_eq!(w.interval_ms, Some(300_000));
        let watch = w.to_watch();
        assert_eq!(watch.interval, Duration::from_secs(300));
        assert_eq!(watch.strategy, Strategy::Named("jsonld".into()));
        let secs = parse_watch(&body(json!({"url": "http://e.org/", "interval": 1.5})), &[]);
        assert_eq!(secs.unwrap().interval_ms, Some(1500));
        let field = |v: Value| parse_watch(&body(v), &notifiers).unwrap_err().field;
        assert_eq!(field(json!({"name": "x"})), Some("url".into()));
        assert_eq!(
            field(json!({"url": "javascript:alert(1)"})),
            Some("url".into())
        );
        assert_eq!(
            field(json!({"url": "http://e.org/", "interval": -1})),
            Some("interval".into())
        );
        assert_eq!(
            field(json!({"url": "http://e.org/", "notify": ["other"]})),
            Some("notify".into())
        );
        assert_eq!(
            field(json!({"url": "http://e.org/", "selectors": {"post": "a", "time": ">>"}})),
            Some("selectors.time".into())
        );
        // The browser fetcher, as `fetch = "browser"` and `settle` in the config.
        let b = parse_watch(
            &body(json!({"url": "http://e.org/", "fetch": "browser", "settle": "article"})),
            &notifiers,
        )
        .unwrap()
        .to_watch();
        assert_eq!(b.fetch, crate::config::FetchMode::Browser);
        assert_eq!(b.settle.as_deref(), Some("article"));
        let plain = parse_watch(&body(json!({"url": "http://e.org/", "fetch": "http"})), &[]);
        assert_eq!(
            plain.unwrap().to_watch().fetch,
            crate::config::FetchMode::Http
        );
        for bad in [
            json!({"url": "http://e.org/", "fetch": "chrome"}),
            json!({"url": "http://e.org/", "fetch": 1}),
        ] {
            assert_eq!(field(bad), Some("fetch".into()));
        }
        for bad in [
            json!({"url": "http://e.org/", "fetch": "browser", "settle": ">>"}),
            json!({"url": "http://e.org/", "settle": "article"}),
        ] {
            assert_eq!(field(bad), Some("settle".into()));
        }
    }

    #[test]
    fn only_loopback_host_names_pass_without_a_token() {
        let host = |h: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, h.parse().unwrap());
            loopback_host(&m)
        };
        for ok in [
            "127.0.0.1:9477",
            "localhost:1",
            "LOCALHOST",
            "[::1]:9477",
            "127.1.2.3",
        ] {
            assert!(host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:9477",
            "192.0.2.1:9477",
            "[::2]:1",
            "localhost.evil.example",
        ] {
            assert!(!host(bad), "{bad}");
        }
        assert!(!loopback_host(&HeaderMap::new()), "no Host, no answer");
    }
}
