//! One blog's poll loop: wait, fetch, and (when the body changed) extract, diff and store
//! in one blocking step.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::{schedule, stopped, Route, Shared};
use crate::config::Watch;
use crate::diff::{self, Health, Known};
use crate::extract::{self, Page};
use crate::fetch::{FetchError, Fetched, Response};
use crate::model::{event_id, BlogRef, Event, EventKind};
use crate::store::{BlogRow, PollRecord, Store, StoreError};

/// The task that polls one blog.
pub struct BlogTask {
    pub shared: Arc<Shared>,
    pub watch: Watch,
    pub routes: Arc<Vec<Route>>,
}

/// What one poll came to, for scheduling.
#[derive(Debug)]
pub enum PollResult {
    /// Fetched and processed (or 304 / same body).
    Ok { events: usize },
    /// The fetch or the page failed; wait at least `retry_after`.
    Failed {
        failures: u32,
        retry_after: Option<Duration>,
        gone: bool,
    },
}

impl BlogTask {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let url = self.watch.url.clone();
        if let Ok(u) = url::Url::parse(&url) {
            let local = matches!(
                u.host_str(),
                Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
            );
            if !local && self.watch.interval < Duration::from_secs(10) {
                tracing::warn!(blog = %url, interval = ?self.watch.interval, "polling a public site more often than every 10s is impolite; obeying anyway");
            }
        }
        // Spread the first polls of many blogs over a short window.
        let first = schedule::jitter(self.watch.interval.min(Duration::from_secs(5)), 1.0) / 2;
        let mut wait = first;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped(&mut stop) => return,
            }
            let result = tokio::select! {
                r = self.poll_once() => r,
                _ = stopped(&mut stop) => return,
            };
            wait = match result {
                PollResult::Ok { .. } => schedule::jitter(self.watch.interval, 0.1),
                PollResult::Failed { gone: true, .. } => {
                    tracing::error!(blog = %url, "the page is gone (HTTP 410); no longer polling it");
                    return;
                }
                PollResult::Failed {
                    failures,
                    retry_after,
                    ..
                } => schedule::backoff(self.watch.interval, failures, retry_after),
            };
        }
    }

    /// Fetch once and process what came back.
    pub async fn poll_once(&self) -> PollResult {
        let store = self.shared.store.clone();
        let url = self.watch.url.clone();
        let blog = match store.call(move |s| s.blog(&url)).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(blog = %self.watch.url, "state: {e}");
                return PollResult::Failed {
                    failures: 1,
                    retry_after: None,
                    gone: false,
                };
            }
        };
        let fetched = self
            .shared
            .fetcher
            .fetch(&self.watch.url, &blog.validators)
            .await;
        self.handle(blog, fetched, Utc::now()).await
    }

    /// Process one fetch result taken at `at`: the daemon's own polls, and `livewatch
    /// replay` feeding recorded responses through the same path.
    pub async fn handle(
        &self,
        blog: BlogRow,
        fetched: Result<Fetched, FetchError>,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        match fetched {
            Ok(Fetched::NotModified) => {
                tracing::debug!(blog = %self.watch.url, "304 not modified");
                self.unchanged(blog, "ok: not modified (304)", at).await
            }
            Ok(Fetched::Page(resp)) if blog.baseline_done && blog.body_hash == Some(resp.hash) => {
                tracing::debug!(blog = %self.watch.url, "body unchanged");
                self.unchanged(blog, "ok: body unchanged", at).await
            }
            Ok(Fetched::Page(resp)) => self.process(blog, resp, at).await,
            Err(e) => self.failed(&blog, &e.to_string(), &e).await,
        }
    }

    /// The page did not change. It still counts as a poll for posts that went missing
    /// in the previous one: the second look that confirms a removal.
    async fn unchanged(
        &self,
        blog: BlogRow,
        status: &str,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        if blog.baseline_done {
            let store = self.shared.store.clone();
            let id = blog.id;
            if let Ok(true) = store.call(move |s| s.has_pending_removals(id)).await {
                let watch = self.watch.clone();
                let routes = self.routes.clone();
                let status = status.to_string();
                let r = self
                    .shared
                    .store
                    .call(move |s| confirm_missing(s, &watch, &routes, &blog, &status, at))
                    .await;
                return match r {
                    Ok(n) => {
                        if n > 0 {
                            self.shared.events_committed();
                        }
                        PollResult::Ok { events: n }
                    }
                    Err(e) => {
                        tracing::error!(blog = %self.watch.url, "state: {e}");
                        PollResult::Failed {
                            failures: 1,
                            retry_after: None,
                            gone: false,
                        }
                    }
                };
            }
        }
        self.touch(&blog, status).await
    }

    async fn touch(&self, blog: &BlogRow, status: &str) -> PollResult {
        let store = self.shared.store.clone();
        let (id, status) = (blog.id, status.to_string());
        let recovered = self.recovered_event(blog, Utc::now());
        let events = self.route_all(recovered);
        let n = events.len();
        let r = store
            .call(move |s| s.touch(id, Utc::now(), &status, None, false, &events))
            .await;
        if let Err(e) = r {
            tracing::error!(blog = %self.watch.url, "state: {e}");
        }
        if n > 0 {
            self.shared.events_committed();
        }
        PollResult::Ok { events: n }
    }

    async fn failed(&self, blog: &BlogRow, error: &str, e: &FetchError) -> PollResult {
        tracing::warn!(blog = %self.watch.url, class = e.class(), "poll failed: {error}");
        let failures = self.record_failure(blog, error).await;
        PollResult::Failed {
            failures,
            retry_after: e.retry_after(),
            gone: e.is_gone(),
        }
    }

    /// Record a failed poll; the `problem_after`-th failure in a row sends one `problem`.
    async fn record_failure(&self, blog: &BlogRow, error: &str) -> u32 {
        let failures = blog.failures + 1;
        let now = Utc::now();
        let problem = (failures == self.shared.problem_after).then(|| {
            self.blog_event(
                blog,
                EventKind::Problem,
                format!(
                    "{} failed {failures} polls in a row: {error}",
                    self.watch.url
                ),
                now,
                failures,
            )
        });
        let events = self.route_all(problem);
        let notify = !events.is_empty();
        let store = self.shared.store.clone();
        let (id, status) = (blog.id, format!("error: {error}"));
        let r = store
            .call(move |s| s.record_failure(id, now, &status, &status, &events))
            .await;
        if notify {
            self.shared.events_committed();
        }
        match r {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(blog = %self.watch.url, "state: {e}");
                failures
            }
        }
    }

    /// A `recovered` event when the blog had a reported problem.
    fn recovered_event(&self, blog: &BlogRow, now: chrono::DateTime<Utc>) -> Option<Event> {
        (blog.failures >= self.shared.problem_after).then(|| {
            self.blog_event(
                blog,
                EventKind::Recovered,
                format!(
                    "{} works again after {} failed polls",
                    self.watch.url, blog.failures
                ),
                now,
                blog.failures,
            )
        })
    }

    fn blog_event(
        &self,
        blog: &BlogRow,
        kind: EventKind,
        message: String,
        now: chrono::DateTime<Utc>,
        n: u32,
    ) -> Event {
        Event {
            id: event_id(&self.watch.url, &format!("@blog:{}", blog.polls), kind, n),
            kind,
            detected_at: now,
            blog: BlogRef {
                url: self.watch.url.clone(),
                title: self.watch.name.clone().or_else(|| blog.title.clone()),
            },
            post: None,
            previous: None,
            diff: None,
            message: Some(message),
        }
    }

    /// Pair events with the notifiers that take them.
    fn route_all(&self, events: impl IntoIterator<Item = Event>) -> Vec<(Event, Vec<String>)> {
        route_events(&self.watch, &self.routes, events)
    }

    /// Extract, diff and store a changed body, on the blocking pool.
    async fn process(
        &self,
        blog: BlogRow,
        resp: Response,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        if resp.final_url != self.watch.url && blog.polls == 0 {
            tracing::info!(blog = %self.watch.url, to = %resp.final_url, "the blog redirects; following");
        }
        let watch = self.watch.clone();
        let routes = self.routes.clone();
        let problem_after = self.shared.problem_after;
        let store = self.shared.store.clone();
        let r = tokio::task::spawn_blocking(move || {
            process_page(&store, &watch, &routes, problem_after, &blog, &resp, at)
        })
        .await;
        match r {
            Ok(Ok(Processed::Events(n))) => {
                if n > 0 {
                    self.shared.events_committed();
                }
                PollResult::Ok { events: n }
            }
            Ok(Ok(Processed::NoPosts { blog, reason })) => {
                tracing::warn!(blog = %self.watch.url, "{reason}");
                let failures = self.record_failure(&blog, &reason).await;
                PollResult::Failed {
                    failures,
                    retry_after: None,
                    gone: false,
                }
            }
            Ok(Err(e)) => {
                tracing::error!(blog = %self.watch.url, "state: {e}");
                PollResult::Failed {
                    failures: 1,
                    retry_after: None,
                    gone: false,
                }
            }
            Err(e) => {
                // A panic in an extractor must not take the daemon down: report it.
                tracing::error!(blog = %self.watch.url, "processing the page failed: {e}");
                PollResult::Failed {
                    failures: 1,
                    retry_after: None,
                    gone: false,
                }
            }
        }
    }
}

/// Pair events with the notifiers that take them (the watch's `notify` list and each
/// notifier's filter).
pub fn route_events(
    watch: &Watch,
    routes: &[Route],
    events: impl IntoIterator<Item = Event>,
) -> Vec<(Event, Vec<String>)> {
    events
        .into_iter()
        .map(|e| {
            let names = routes
                .iter()
                .filter(|r| {
                    watch
                        .notify
                        .as_ref()
                        .is_none_or(|l| l.contains(&r.spec.name))
                        && r.spec.filter.accepts(&e)
                })
                .map(|r| r.spec.name.clone())
                .collect();
            (e, names)
        })
        .collect()
}

/// Re-run the diff on the unchanged page: the posts present are the known ones that
/// were present last time.
fn confirm_missing(
    store: &Store,
    watch: &Watch,
    routes: &[Route],
    blog: &BlogRow,
    status: &str,
    at: chrono::DateTime<Utc>,
) -> Result<usize, StoreError> {
    let known = store.known_posts(blog.id)?;
    let mut present: Vec<&Known> = known
        .iter()
        .filter(|k| !k.removed && !k.off_page && k.missing == 0)
        .collect();
    present.sort_by_key(|k| std::cmp::Reverse(k.order));
    let polled: Vec<crate::model::Post> = present.iter().map(|k| k.post.clone()).collect();
    let outcome = diff::compare(&known, &polled, blog.polls);
    let blog_ref = BlogRef {
        url: watch.url.clone(),
        title: watch.name.clone().or_else(|| blog.title.clone()),
    };
    let events: Vec<Event> = outcome
        .changes
        .into_iter()
        .map(|c| change_event(&blog_ref, at, c))
        .collect();
    for e in &events {
        tracing::info!(blog = %watch.url, kind = %e.kind, id = %e.id, "{}", e.summary_line());
    }
    let n = events.len();
    let rec = PollRecord {
        at,
        baseline_done: true,
        status: status.to_string(),
        updates: outcome.updates,
        events: route_events(watch, routes, events),
        ..Default::default()
    };
    store.save_poll(blog.id, &rec)?;
    Ok(n)
}

/// The event for a post change.
fn change_event(blog: &BlogRef, at: chrono::DateTime<Utc>, c: diff::Change) -> Event {
    Event {
        id: event_id(&blog.url, &c.post.id, c.kind, c.revision),
        kind: c.kind,
        detected_at: at,
        blog: blog.clone(),
        post: Some(c.post),
        previous: c.previous,
        diff: c.diff,
        message: None,
    }
}

enum Processed {
    Events(usize),
    NoPosts { blog: Box<BlogRow>, reason: String },
}

fn process_page(
    store: &Store,
    watch: &Watch,
    routes: &[Route],
    problem_after: u32,
    blog: &BlogRow,
    resp: &Response,
    at: chrono::DateTime<Utc>,
) -> Result<Processed, StoreError> {
    let page = Page {
        url: &resp.final_url,
        body: &resp.body,
        content_type: resp.content_type.as_deref(),
        fetched_at: at,
    };
    let extraction = extract::extract(&page, &watch.strategy);
    let title = watch
        .name
        .clone()
        .or_else(|| extraction.title.clone())
        .or_else(|| blog.title.clone());
    let blog_ref = BlogRef {
        url: watch.url.clone(),
        title: title.clone(),
    };
    if extraction.posts.is_empty() {
        let tried: Vec<String> = extraction
            .attempts
            .iter()
            .map(|a| format!("{}: {}", a.extractor, a.reason))
            .collect();
        let reason = if tried.is_empty() {
            "no posts found on the page".to_string()
        } else {
            format!("no posts found on the page ({})", tried.join("; "))
        };
        return Ok(Processed::NoPosts {
            blog: Box::new(blog.clone()),
            reason,
        });
    }
    let mut rec = PollRecord {
        at,
        title: extraction.title.clone(),
        validators: Some(resp.validators.clone()),
        body_hash: Some(resp.hash),
        baseline_done: true,
        status: format!(
            "ok: {} posts ({})",
            extraction.posts.len(),
            extraction.extractor
        ),
        ..Default::default()
    };
    let mut events = Vec::new();
    if !blog.baseline_done {
        rec.updates = extraction
            .posts
            .iter()
            .enumerate()
            .map(|(i, p)| Known::first_seen(p.clone(), blog.polls, i))
            .collect();
        for p in diff::newest(&extraction.posts, watch.announce_existing) {
            events.push(change_event(
                &blog_ref,
                at,
                diff::Change {
                    kind: EventKind::New,
                    post: p,
                    previous: None,
                    diff: None,
                    revision: 0,
                },
            ));
        }
        tracing::info!(blog = %watch.url, posts = extraction.posts.len(), extractor = %extraction.extractor, "baseline taken");
    } else {
        let known = store.known_posts(blog.id)?;
        let outcome = diff::compare(&known, &extraction.posts, blog.polls);
        match outcome.health {
            Health::Ok => {}
            Health::NoPosts | Health::ListReplaced => {
                return Ok(Processed::NoPosts {
                    blog: Box::new(blog.clone()),
                    reason: format!(
                        "the page now shows {} posts, none of the {} known ones (error page, consent wall or new layout?)",
                        extraction.posts.len(),
                        known.iter().filter(|k| !k.removed).count()
                    ),
                });
            }
        }
        rec.new_post = outcome.changes.iter().any(|c| c.kind == EventKind::New);
        rec.updates = outcome.updates;
        events.extend(
            outcome
                .changes
                .into_iter()
                .map(|c| change_event(&blog_ref, at, c)),
        );
    }
    if blog.failures >= problem_after {
        events.push(Event {
            id: event_id(
                &watch.url,
                &format!("@blog:{}", blog.polls),
                EventKind::Recovered,
                blog.failures,
            ),
            kind: EventKind::Recovered,
            detected_at: at,
            blog: blog_ref.clone(),
            post: None,
            previous: None,
            diff: None,
            message: Some(format!(
                "{} works again after {} failed polls",
                watch.url, blog.failures
            )),
        });
    }
    let n = events.len();
    for e in &events {
        tracing::info!(blog = %watch.url, kind = %e.kind, id = %e.id, "{}", e.summary_line());
    }
    rec.events = route_events(watch, routes, events);
    store.save_poll(blog.id, &rec)?;
    Ok(Processed::Events(n))
}
