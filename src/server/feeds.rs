//! Feeds (Atom, JSON Feed), the `/events` Server-Sent Events stream and `/blogs`.
//!
//! - `/blogs`: the watched blogs as JSON, with status and feed URLs.
//! - `/blogs/<slug>/feed.atom`, `/blogs/<slug>/feed.json`: one blog's current posts,
//!   newest first; `/feed.atom`, `/feed.json`: every watched blog's posts together.
//!   `?limit=N` (default 50, at most 500) and `?page=N` (from 1) page through them;
//!   `ETag` / `If-None-Match` answer 304 when nothing changed.
//! - `/events`: every event as it is committed (`id:` event id, `event:` kind, `data:`
//!   the event JSON); a `Last-Event-ID` header resumes after that event.
//!
//! Slugs: the last non-empty segment of the watched URL's path (the host when the path
//! is empty), lowercased, every run of characters other than ASCII letters and digits
//! turned into one dash, at most 60 characters (`blog` if nothing is left). When two
//! watches get the same slug, the later ones in the config get `-2`, `-3`, ….
//!
//! Entry ids are `tag:livewatch,2026:<host[:port]>/<percent-encoded blog path>/<percent-
//! encoded post id>`: derived only from the watched URL and the publisher's post id, so
//! they stay the same across polls, edits and restarts.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use atom_syndication as atom;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;

use super::AppState;
use crate::config::Watch;
use crate::fetch::error_chain;
use crate::model::Event;
use crate::store::{FeedPost, StoreError};

/// Entries per feed page when `?limit=` is not given.
pub(crate) const DEFAULT_LIMIT: usize = 50;
/// The largest `?limit=` accepted.
pub(crate) const MAX_LIMIT: usize = 500;
/// Events read from the store per query while a stream catches up.
const STREAM_BATCH: usize = 256;
/// How often an idle stream sends a keep-alive comment (proxies drop silent connections).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Feed, stream and blog-list routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/blogs", get(blogs))
        .route("/blogs/{slug}/feed.atom", get(blog_atom))
        .route("/blogs/{slug}/feed.json", get(blog_json))
        .route("/feed.atom", get(all_atom))
        .route("/feed.json", get(all_json))
        .route("/events", get(events))
}

/// Why a feed request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum FeedError {
    #[error("no watched blog has the slug {0:?}; GET /blogs lists them")]
    NoSuchBlog(String),
    #[error("{0}")]
    BadQuery(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for FeedError {
    fn into_response(self) -> Response {
        let status = match &self {
            FeedError::NoSuchBlog(_) => StatusCode::NOT_FOUND,
            FeedError::BadQuery(_) => StatusCode::BAD_REQUEST,
            FeedError::Store(e) => {
                tracing::error!("feed: {}", error_chain(e));
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, format!("{}\n", error_chain(&self))).into_response()
    }
}

/// The slug of one watched URL, before making it unique (see the module docs).
pub(crate) fn slug_for(url: &str) -> String {
    let (host, segment) = match url::Url::parse(url) {
        Ok(u) => {
            let seg = u
                .path_segments()
                .and_then(|mut s| s.rfind(|p| !p.is_empty()))
                .map(|p| {
                    percent_encoding::percent_decode_str(p)
                        .decode_utf8_lossy()
                        .into_owned()
                });
            (u.host_str().unwrap_or("").to_string(), seg)
        }
        Err(_) => (String::new(), Some(url.to_string())),
    };
    let source = segment.unwrap_or(host);
    let mut slug = String::new();
    for c in source.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(60);
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "blog".to_string()
    } else {
        slug.to_string()
    }
}

/// Unique slugs for the watches, in config order.
pub(crate) fn slugs(watches: &[Watch]) -> Vec<(String, Watch)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(watches.len());
    for w in watches {
        let base = slug_for(&w.url);
        let mut slug = base.clone();
        let mut n = 1;
        while seen.contains_key(&slug) {
            n += 1;
            slug = format!("{base}-{n}");
        }
        seen.insert(slug.clone(), 1);
        out.push((slug, w.clone()));
    }
    out
}

/// What [`tag_uri`] keeps as is: RFC 3986 unreserved characters; all else is
/// percent-encoded.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The `tag:` URI of a blog (feed id), or of one of its posts (entry id).
pub(crate) fn tag_uri(blog_url: &str, post_id: Option<&str>) -> String {
    let (authority, path) = match url::Url::parse(blog_url) {
        Ok(u) => {
            let host = match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
                None => u.host_str().unwrap_or("").to_string(),
            };
            let mut path = u.path().to_string();
            if let Some(q) = u.query() {
                path.push('?');
                path.push_str(q);
            }
            (host, path)
        }
        Err(_) => (String::new(), blog_url.to_string()),
    };
    let mut tag = format!(
        "tag:livewatch,2026:{authority}/{}",
        percent_encoding::utf8_percent_encode(&path, UNRESERVED)
    );
    if let Some(id) = post_id {
        tag.push('/');
        tag.extend(percent_encoding::utf8_percent_encode(id, UNRESERVED));
    }
    tag
}

#[derive(Debug, Deserialize)]
struct Paging {
    limit: Option<usize>,
    page: Option<usize>,
}

impl Paging {
    fn resolve(&self) -> Result<(usize, usize), FeedError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(FeedError::BadQuery(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let page = self.page.unwrap_or(1);
        if page == 0 {
            return Err(FeedError::BadQuery("page numbers start at 1".into()));
        }
        Ok((limit, page))
    }
}

/// One entry, before it becomes Atom or JSON Feed.
struct Entry {
    id: String,
    title: String,
    link: String,
    author: Option<String>,
    published: DateTime<Utc>,
    updated: DateTime<Utc>,
    body: String,
    corrected: bool,
    post_id: String,
    revision: u32,
    blog_slug: String,
    blog_title: String,
    blog_url: String,
    /// Sort key: newest first.
    key: (DateTime<Utc>, (i64, i64)),
}

/// A feed, before it becomes Atom or JSON Feed.
struct Doc {
    id: String,
    title: String,
    home: Option<String>,
    /// Absolute URL of this feed without the query.
    self_url: String,
    updated: DateTime<Utc>,
    entries: Vec<Entry>,
    next: Option<String>,
    /// The all-blogs feed tags each entry with its blog.
    tag_blog: bool,
}

/// One blog to put in a feed: slug, watch, and the title to show.
type Source = (String, Watch);

fn title_of(w: &Watch, stored: Option<&str>) -> String {
    w.name
        .clone()
        .or_else(|| stored.map(str::to_string))
        .unwrap_or_else(|| w.url.clone())
}

fn entry(slug: &str, w: &Watch, blog_title: &str, fp: FeedPost) -> Entry {
    let FeedPost {
        current,
        order,
        corrected,
    } = fp;
    let post = current.post;
    let updated = match post.updated {
        Some(u) if u > current.changed => u,
        _ => current.changed,
    };
    let published = post.published.unwrap_or(current.first_seen);
    let mut title = crate::text::truncate(post.title().trim(), 140);
    if corrected {
        title = format!("Correction: {title}");
    }
    let mut body = post.body.clone();
    for c in &post.captions {
        body.push_str("\n\n");
        body.push_str(c);
    }
    Entry {
        id: tag_uri(&w.url, Some(&post.id)),
        title,
        link: post.url.clone().unwrap_or_else(|| w.url.clone()),
        author: post.byline.clone(),
        published,
        // A post edited before livewatch first saw it still cannot be older than stated.
        updated: updated.max(published),
        body,
        corrected,
        post_id: post.id.clone(),
        revision: current.revision,
        blog_slug: slug.to_string(),
        blog_title: blog_title.to_string(),
        blog_url: w.url.clone(),
        key: (published, order),
    }
}

/// Read the posts of `sources` and cut out the page asked for.
fn build(
    store: &crate::store::Store,
    sources: &[Source],
    (limit, page): (usize, usize),
    feed: FeedMeta,
) -> Result<Doc, StoreError> {
    let mut entries = Vec::new();
    let mut title = None;
    let mut last_poll = None;
    for (slug, w) in sources {
        let Some(blog) = store.find_blog(&w.url)? else {
            continue;
        };
        let blog_title = title_of(w, blog.title.as_deref());
        title.get_or_insert_with(|| blog_title.clone());
        last_poll = last_poll.max(blog.last_success_at);
        for fp in store.feed_posts(blog.id)? {
            entries.push(entry(slug, w, &blog_title, fp));
        }
    }
    entries.sort_by(|a, b| b.key.cmp(&a.key).then_with(|| a.id.cmp(&b.id)));
    // The feed changes when any entry does; with no entries, the last good poll.
    let updated = entries
        .iter()
        .map(|e| e.updated)
        .max()
        .or(last_poll)
        .unwrap_or_else(|| Utc.timestamp_opt(0, 0).single().unwrap_or_default());
    let total = entries.len();
    let start = (page - 1).saturating_mul(limit).min(total);
    let end = start.saturating_add(limit).min(total);
    let entries: Vec<Entry> = entries.drain(start..end).collect();
    let next = (end < total).then(|| format!("{}?limit={limit}&page={}", feed.self_url, page + 1));
    let title = match feed.title {
        Some(t) => t,
        None => title.unwrap_or_else(|| {
            sources
                .first()
                .map(|(_, w)| title_of(w, None))
                .unwrap_or_default()
        }),
    };
    Ok(Doc {
        id: feed.id,
        title,
        home: feed.home,
        self_url: feed.self_url,
        updated,
        entries,
        next,
        tag_blog: feed.tag_blog,
    })
}

struct FeedMeta {
    id: String,
    title: Option<String>,
    home: Option<String>,
    self_url: String,
    tag_blog: bool,
}

/// `http://HOST` from the request, so feed URLs are absolute.
fn base_url(headers: &HeaderMap) -> String {
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(h) => format!("http://{h}"),
        None => String::new(),
    }
}

fn watches(state: &AppState) -> Vec<Watch> {
    state.all_watches()
}

#[derive(Clone, Copy)]
enum Format {
    Atom,
    Json,
}

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }
}

async fn blog_feed(
    state: AppState,
    slug: String,
    paging: Paging,
    headers: HeaderMap,
    format: Format,
) -> Result<Response, FeedError> {
    let paging = paging.resolve()?;
    let source = slugs(&watches(&state))
        .into_iter()
        .find(|(s, _)| *s == slug)
        .ok_or_else(|| FeedError::NoSuchBlog(slug.clone()))?;
    let meta = FeedMeta {
        id: tag_uri(&source.1.url, None),
        title: None,
        home: Some(source.1.url.clone()),
        self_url: format!("{}/blogs/{slug}/feed.{}", base_url(&headers), format.ext()),
        tag_blog: false,
    };
    let doc = state
        .store
        .call(move |s| build(s, &[source], paging, meta))
        .await?;
    Ok(respond(&doc, format, &headers))
}

async fn all_feed(
    state: AppState,
    paging: Paging,
    headers: HeaderMap,
    format: Format,
) -> Result<Response, FeedError> {
    let paging = paging.resolve()?;
    let sources = slugs(&watches(&state));
    let meta = FeedMeta {
        id: "tag:livewatch,2026:all".into(),
        title: Some("livewatch: all watched blogs".into()),
        home: None,
        self_url: format!("{}/feed.{}", base_url(&headers), format.ext()),
        tag_blog: true,
    };
    let doc = state
        .store
        .call(move |s| build(s, &sources, paging, meta))
        .await?;
    Ok(respond(&doc, format, &headers))
}

async fn blog_atom(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Result<Response, FeedError> {
    blog_feed(state, slug, paging, headers, Format::Atom).await
}

async fn blog_json(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Result<Response, FeedError> {
    blog_feed(state, slug, paging, headers, Format::Json).await
}

async fn all_atom(
    State(state): State<AppState>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Result<Response, FeedError> {
    all_feed(state, paging, headers, Format::Atom).await
}

async fn all_json(
    State(state): State<AppState>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Result<Response, FeedError> {
    all_feed(state, paging, headers, Format::Json).await
}

/// Render the feed, and answer 304 when the client already has these bytes.
fn respond(doc: &Doc, format: Format, headers: &HeaderMap) -> Response {
    let (body, content_type) = match format {
        Format::Atom => (to_atom(doc), "application/atom+xml; charset=utf-8"),
        Format::Json => (to_json_feed(doc), "application/feed+json; charset=utf-8"),
    };
    let etag = format!("\"{}\"", &blake3::hash(body.as_bytes()).to_hex()[..32]);
    let cache = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, "no-cache".to_string()),
    ];
    if etag_matches(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mut resp = (StatusCode::OK, cache, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Does `If-None-Match` name `etag` (weak comparison, as RFC 9110 asks for GET)?
fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn to_atom(doc: &Doc) -> String {
    let mut links = vec![atom::Link {
        href: doc.self_url.clone(),
        rel: "self".into(),
        mime_type: Some("application/atom+xml".into()),
        ..Default::default()
    }];
    if let Some(home) = &doc.home {
        links.push(atom::Link {
            href: home.clone(),
            rel: "alternate".into(),
            mime_type: Some("text/html".into()),
            ..Default::default()
        });
    }
    if let Some(next) = &doc.next {
        links.push(atom::Link {
            href: next.clone(),
            rel: "next".into(),
            mime_type: Some("application/atom+xml".into()),
            ..Default::default()
        });
    }
    let entries = doc
        .entries
        .iter()
        .map(|e| {
            let mut categories = Vec::new();
            if e.corrected {
                categories.push(atom::Category {
                    term: "correction".into(),
                    label: Some("Correction".into()),
                    ..Default::default()
                });
            }
            if doc.tag_blog {
                categories.push(atom::Category {
                    term: e.blog_slug.clone(),
                    label: Some(e.blog_title.clone()),
                    ..Default::default()
                });
            }
            atom::Entry {
                title: atom::Text::plain(e.title.clone()),
                id: e.id.clone(),
                updated: e.updated.fixed_offset(),
                published: Some(e.published.fixed_offset()),
                // Atom wants an author per entry when the feed has none: the byline,
                // else the blog.
                authors: vec![atom::Person {
                    name: e.author.clone().unwrap_or_else(|| e.blog_title.clone()),
                    ..Default::default()
                }],
                categories,
                links: vec![atom::Link {
                    href: e.link.clone(),
                    rel: "alternate".into(),
                    mime_type: Some("text/html".into()),
                    ..Default::default()
                }],
                content: Some(atom::Content {
                    value: Some(e.body.clone()),
                    content_type: Some("text".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    let feed = atom::Feed {
        title: atom::Text::plain(doc.title.clone()),
        id: doc.id.clone(),
        updated: doc.updated.fixed_offset(),
        links,
        generator: Some(atom::Generator {
            value: "livewatch".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Default::default()
        }),
        entries,
        ..Default::default()
    };
    feed.to_string()
}

fn to_json_feed(doc: &Doc) -> String {
    let items: Vec<serde_json::Value> = doc
        .entries
        .iter()
        .map(|e| {
            let mut tags = Vec::new();
            if e.corrected {
                tags.push("correction".to_string());
            }
            if doc.tag_blog {
                tags.push(e.blog_slug.clone());
            }
            let mut item = serde_json::json!({
                "id": e.id,
                "url": e.link,
                "title": e.title,
                "content_text": e.body,
                "date_published": rfc3339(e.published),
                "date_modified": rfc3339(e.updated),
                "_livewatch": {
                    "post_id": e.post_id,
                    "revision": e.revision,
                    "corrected": e.corrected,
                    "blog": {"slug": e.blog_slug, "url": e.blog_url, "title": e.blog_title},
                },
            });
            if let Some(a) = &e.author {
                item["authors"] = serde_json::json!([{ "name": a }]);
            }
            if !tags.is_empty() {
                item["tags"] = serde_json::json!(tags);
            }
            item
        })
        .collect();
    let mut feed = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": doc.title,
        "feed_url": doc.self_url,
        "items": items,
    });
    if let Some(home) = &doc.home {
        feed["home_page_url"] = serde_json::json!(home);
    }
    if let Some(next) = &doc.next {
        feed["next_url"] = serde_json::json!(next);
    }
    feed.to_string()
}

/// `/blogs`: every watched blog with its state and feed URLs.
async fn blogs(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<serde_json::Value>>, FeedError> {
    let sources = slugs(&watches(&state));
    let base = base_url(&headers);
    let paused: Vec<String> = state
        .api
        .watches
        .list()
        .into_iter()
        .filter(|a| a.paused)
        .map(|a| a.watch.url)
        .collect();
    let now = Utc::now();
    let list = state
        .store
        .call(move |s| {
            let pending = s.pending_by_blog()?;
            let mut out = Vec::with_capacity(sources.len());
            for (slug, w) in sources {
                let blog = s.find_blog(&w.url)?;
                let (posts, removed) = match &blog {
                    Some(b) => s.post_counts(b.id)?,
                    None => (0, 0),
                };
                let b = blog.unwrap_or_default();
                let (st, why) = super::state::blog_state(&b, paused.contains(&w.url), now);
                out.push(serde_json::json!({
                    "slug": slug,
                    "url": w.url,
                    "name": w.name,
                    "title": title_of(&w, b.title.as_deref()),
                    "status": if b.id == 0 { "not polled yet".to_string() } else { b.status.to_string() },
                    "retired": b.retired,
                    "state": st,
                    "state_reason": why,
                    "polls": b.polls,
                    "failures": b.failures,
                    "last_error": b.last_error,
                    "last_poll_at": b.last_poll_at.map(rfc3339),
                    "last_success_at": b.last_success_at.map(rfc3339),
                    "last_new_post_at": b.last_new_post_at.map(rfc3339),
                    "posts": posts,
                    "removed": removed,
                    "pending_events": pending.get(&b.id).copied().unwrap_or(0),
                    "feeds": {
                        "atom": format!("{base}/blogs/{slug}/feed.atom"),
                        "json": format!("{base}/blogs/{slug}/feed.json"),
                    },
                }));
            }
            Ok(out)
        })
        .await?;
    Ok(Json(list))
}

fn sse_event(e: &Event) -> SseEvent {
    let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    SseEvent::default()
        .id(e.id.clone())
        .event(e.kind.as_str())
        .data(data)
}

/// `/events`: the stored events after `Last-Event-ID` (or none, for a new client), then
/// each event as it is committed.
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, FeedError> {
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let store = state.store.clone();
    let (start, note) = match last_id {
        Some(id) => {
            let lookup = id.clone();
            match store.call(move |s| s.event_seq(&lookup)).await? {
                Some(seq) => (seq, None),
                None => (
                    store.call(|s| s.last_event_seq()).await?,
                    Some(format!(
                        "unknown Last-Event-ID {id:?}: streaming new events only"
                    )),
                ),
            }
        }
        None => (store.call(|s| s.last_event_seq()).await?, None),
    };
    let head = stream::iter(note.map(|n| Ok(SseEvent::default().comment(n))));
    let live = stream::unfold(
        (start, state.committed.clone(), VecDeque::new(), store),
        |(mut seq, mut rx, mut buf, store)| async move {
            loop {
                if let Some((s, e)) = buf.pop_front() {
                    seq = s;
                    let ev: Event = e;
                    return Some((Ok(sse_event(&ev)), (seq, rx, buf, store)));
                }
                // Mark the current value seen before reading, so a commit after the read
                // still wakes us: no event falls between the query and the wait.
                rx.borrow_and_update();
                let after = seq;
                match store
                    .call(move |s| s.events_after(after, STREAM_BATCH))
                    .await
                {
                    Ok(v) if !v.is_empty() => {
                        buf.extend(v);
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!("event stream: {}", error_chain(&e));
                        return None;
                    }
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        },
    );
    Ok(Sse::new(head.chain(live)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable_and_unique() {
        assert_eq!(
            slug_for(
                "https://www.theguardian.com/world/live/2023/may/15/russia-ukraine-war-latest"
            ),
            "russia-ukraine-war-latest"
        );
        assert_eq!(slug_for("http://127.0.0.1:8080/guardian/"), "guardian");
        assert_eq!(slug_for("https://example.org/"), "example-org");
        assert_eq!(slug_for("https://example.org/Live_Blog%20Ä/"), "live-blog");
        assert_eq!(slug_for("https://example.org/%C3%84%C3%96/"), "blog");
        let w = |u: &str| Watch::new(u);
        let s = slugs(&[
            w("https://a.org/live/"),
            w("https://b.org/live"),
            w("https://c.org/live-2"),
        ]);
        let names: Vec<&str> = s.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["live", "live-2", "live-2-2"]);
    }

    #[test]
    fn tag_uris_are_stable_and_escaped() {
        let t = tag_uri("http://127.0.0.1:8080/guardian/?x=1", Some("block 1/2"));
        assert_eq!(
            t,
            "tag:livewatch,2026:127.0.0.1:8080/%2Fguardian%2F%3Fx%3D1/block%201%2F2"
        );
        assert_eq!(
            tag_uri("https://e.org/live", None),
            "tag:livewatch,2026:e.org/%2Flive"
        );
        // Each UTF-8 byte, upper-case hex; the unreserved marks stay.
        assert_eq!(
            tag_uri("https://e.org/l", Some("é~-._!")),
            "tag:livewatch,2026:e.org/%2Fl/%C3%A9~-._%21"
        );
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, "\"a\", W/\"b\"".parse().unwrap());
        assert!(etag_matches(&h, "\"b\""));
        assert!(etag_matches(&h, "\"a\""));
        assert!(!etag_matches(&h, "\"c\""));
        assert!(!etag_matches(&HeaderMap::new(), "\"a\""));
    }
}
