//! One blog's poll loop: wait, fetch, and (when the body changed) extract, diff and store
//! in one blocking step.
//!
//! The task keeps its blog row between polls (read once at the start, read back after
//! every write in the same blocking call), so a poll hands off to the store's blocking
//! pool at most once, and a 304 or an unchanged body that changes nothing but the time
//! not at all: those checks are counted in memory and written with the next write, at
//! the latest [`CHECKED_FLUSH`] after the first of them, or when the task stops.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::time::Instant;

use super::pace::{Decision, Pace};
use super::{schedule, stopped, Route, Shared};
use crate::config::Watch;
use crate::diff::{self, Health, Known};
use crate::extract::{self, Page};
use crate::fetch::{FetchError, Fetched, Response};
use crate::fingerprint::{self, Fingerprint};
use crate::model::{event_id, BlogRef, Event, EventKind};
use crate::store::{BlogRow, PollRecord, Store, StoreError};

/// Longest time a check that changed nothing but the time (a 304, an unchanged body)
/// stays unwritten: what a crash can lose of a blog's poll count and last poll time
/// (`livewatch status`, `/blogs`). Events, post changes, validators, failures and status
/// changes are always written at once.
pub const CHECKED_FLUSH: Duration = Duration::from_secs(300);

/// The task that polls one blog.
pub struct BlogTask {
    pub shared: Arc<Shared>,
    pub watch: Watch,
    pub routes: Arc<Vec<Route>>,
    /// Where the blog redirected to last, so that a move is logged once, not every poll.
    /// A std Mutex: held for a compare-and-set only, never across an `.await`.
    pub moved_to: std::sync::Mutex<Option<String>>,
    /// The blog's row between polls (`None`: read it from the store). A std Mutex: held
    /// to copy or replace it, never across an `.await`.
    state: std::sync::Mutex<Option<Cached>>,
    /// [`fingerprint::watch_key`] of the watch.
    fp_key: [u8; 32],
}

/// What a blog task keeps of its stored state between polls.
#[derive(Debug, Clone)]
struct Cached {
    /// The row as stored, plus the [`Deferred`] checks.
    row: BlogRow,
    /// Posts missing from the last poll wait for a second look.
    pending_removals: bool,
    /// Checks not written yet (`row` counts them already).
    deferred: u32,
    /// When the first of them happened.
    deferred_since: Option<Instant>,
}

/// Checks that changed nothing but the time, taken out of the cache to be written.
struct Deferred {
    n: u32,
    at: chrono::DateTime<Utc>,
    sched: serde_json::Value,
}

impl Deferred {
    fn write(&self, store: &Store, blog_id: i64) -> Result<(), StoreError> {
        store.checked(blog_id, self.n, self.at, &self.sched)
    }
}

/// Run `write` after the deferred checks, and read the blog's state back: one blocking
/// call for everything a poll stores.
fn write_and_reload<T>(
    store: &Store,
    blog_id: i64,
    deferred: Option<Deferred>,
    write: impl FnOnce(&Store) -> Result<T, StoreError>,
) -> Result<(T, BlogRow, bool), StoreError> {
    if let Some(d) = deferred {
        d.write(store, blog_id)?;
    }
    let t = write(store)?;
    let (row, pending) = store.blog_state(blog_id)?;
    Ok((t, row, pending))
}

/// The status line of a blog that answered 410 Gone.
pub const GONE_STATUS: &str = "gone (HTTP 410): no longer polled";

/// What one poll came to, for scheduling.
#[derive(Debug)]
pub enum PollResult {
    /// Fetched and processed (or 304 / same body); poll again after `next`, unless the
    /// blog was retired.
    Ok {
        events: usize,
        next: Duration,
        retired: bool,
    },
    /// The fetch or the page failed; wait at least `retry_after`.
    Failed {
        failures: u32,
        retry_after: Option<Duration>,
        gone: bool,
    },
}

impl BlogTask {
    pub fn new(shared: Arc<Shared>, watch: Watch, routes: Arc<Vec<Route>>) -> BlogTask {
        BlogTask {
            shared,
            fp_key: fingerprint::watch_key(&watch.strategy),
            watch,
            routes,
            moved_to: Default::default(),
            state: Default::default(),
        }
    }

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
        if let Ok(b) = self.load().await {
            if b.retired {
                tracing::info!(blog = %url, "retired (the blog closed); not polling it");
                return;
            }
        }
        // Spread the first polls of many blogs over a short window.
        let blogs = self.shared.blogs.load(std::sync::atomic::Ordering::Relaxed);
        let spread = super::first_poll_spread(blogs.max(1), self.watch.interval);
        let first = schedule::jitter(spread, 1.0) / 2;
        poll_loop(first, &mut stop, || async {
            let r = self.poll_once().await;
            self.next_wait(r)
        })
        .await;
        self.flush().await;
    }

    /// The blog's row: the one kept since the last poll, or read (and created) now.
    async fn load(&self) -> Result<BlogRow, StoreError> {
        if let Some(c) = self.lock_state().as_ref() {
            return Ok(c.row.clone());
        }
        let url = self.watch.url.clone();
        let (row, pending) = self
            .shared
            .store
            .call(move |s| {
                let b = s.blog(&url)?;
                let pending = s.has_pending_removals(b.id)?;
                Ok((b, pending))
            })
            .await?;
        self.keep(Ok((row.clone(), pending)));
        Ok(row)
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep the state a write read back; after a failed write, read it again next poll.
    fn keep(&self, state: Result<(BlogRow, bool), &StoreError>) {
        *self.lock_state() = state.ok().map(|(row, pending_removals)| Cached {
            row,
            pending_removals,
            deferred: 0,
            deferred_since: None,
        });
    }

    /// Take the deferred checks out, to write them with the next write (taken first,
    /// so that a poll cancelled during its write cannot count them twice).
    fn take_deferred(&self) -> Option<Deferred> {
        let mut state = self.lock_state();
        let c = state.as_mut()?;
        if c.deferred == 0 {
            return None;
        }
        let d = Deferred {
            n: c.deferred,
            at: c.row.last_poll_at.unwrap_or_else(Utc::now),
            sched: c.row.sched.clone(),
        };
        c.deferred = 0;
        c.deferred_since = None;
        Some(d)
    }

    /// Write the deferred checks now (the task stops).
    async fn flush(&self) {
        let Some(d) = self.take_deferred() else {
            return;
        };
        let id = match self.lock_state().as_ref() {
            Some(c) => c.row.id,
            None => return,
        };
        if let Err(e) = self.shared.store.call(move |s| d.write(s, id)).await {
            tracing::error!(blog = %self.watch.url, "state: {e}");
        }
    }

    /// The wait before the next poll, or `None` to stop polling this blog.
    fn next_wait(&self, result: PollResult) -> Option<Duration> {
        let url = &self.watch.url;
        let own_failure = matches!(result, PollResult::Failed { .. });
        let base = match result {
            PollResult::Ok { retired: true, .. } => {
                tracing::info!(blog = %url, "the blog has closed and its grace period is over: retired, no more polls");
                return None;
            }
            PollResult::Ok { next, .. } => schedule::jitter(next, 0.1),
            PollResult::Failed { gone: true, .. } => {
                tracing::error!(blog = %url, "the page is gone (HTTP 410); no longer polling it");
                return None;
            }
            PollResult::Failed {
                failures,
                retry_after,
                ..
            } => schedule::Backoff::polling(self.watch.interval).wait(failures, retry_after),
        };
        // Politeness: a host that asked us to slow down slows every blog on it.
        let (factor, until) = self.shared.fetcher.host_slowdown(url);
        // A refused blog's own backoff already grows; the host's factor is a floor there,
        // and a multiplier for the blogs on the host that were not refused.
        let mut wait = if own_failure {
            base.max(self.watch.interval.saturating_mul(factor))
        } else {
            base.saturating_mul(factor)
        };
        if let Some(until) = until {
            wait = wait.max(until.saturating_duration_since(tokio::time::Instant::now()));
        }
        Some(wait)
    }

    /// Fetch once and process what came back.
    pub async fn poll_once(&self) -> PollResult {
        // Wait for a place before fetching, with nothing in hand; the stuck-poll clock
        // starts once the poll really runs.
        let _in_hand = self.shared.in_hand.clone().acquire_owned().await;
        let _in_flight = self.shared.health.poll_started(&self.watch.url);
        let blog = match self.load().await {
            Ok(b) => b,
            Err(e) => {
                return self.state_failed(&e);
            }
        };
        let metrics = crate::metrics::global();
        metrics.poll(&self.watch.url);
        let fetched = self
            .shared
            .fetcher
            .fetch(&self.watch.url, &blog.validators)
            .await;
        self.shared
            .fetcher
            .note_host_result(&self.watch.url, fetched.as_ref().map(|_| ()));
        if let Ok(Fetched::Page(resp)) = &fetched {
            metrics.bytes(resp.len);
        }
        self.handle_with(blog, fetched, Utc::now()).await
    }

    /// Process one fetch result taken at `at`: `livewatch replay` feeds recorded
    /// responses through the same path as the daemon's own polls.
    pub async fn handle(
        &self,
        fetched: Result<Fetched, FetchError>,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        match self.load().await {
            Ok(blog) => self.handle_with(blog, fetched, at).await,
            Err(e) => self.state_failed(&e),
        }
    }

    async fn handle_with(
        &self,
        blog: BlogRow,
        fetched: Result<Fetched, FetchError>,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        let metrics = crate::metrics::global();
        let result = match fetched {
            Ok(Fetched::NotModified) => {
                tracing::debug!(blog = %self.watch.url, "304 not modified");
                metrics.not_modified();
                self.unchanged(blog, "ok: not modified (304)", at).await
            }
            Ok(Fetched::Page(resp)) if blog.baseline_done && blog.body_hash == Some(resp.hash) => {
                tracing::debug!(blog = %self.watch.url, "body unchanged");
                metrics.unchanged();
                self.unchanged(blog, "ok: body unchanged", at).await
            }
            Ok(Fetched::Page(resp)) => {
                let fp = fingerprint::fingerprint(
                    &self.fp_key,
                    &self.watch.strategy,
                    &resp.final_url,
                    resp.content_type.as_deref(),
                    &resp.body,
                );
                if blog.baseline_done && fp.is_some() && blog.content_fp == fp {
                    tracing::debug!(blog = %self.watch.url, "only noise changed");
                    metrics.noise_only();
                    drop(resp);
                    // Pages that stay unchanged must give back the start-up burst too.
                    super::release_memory();
                    self.unchanged(blog, "ok: only noise changed", at).await
                } else {
                    self.process(blog, resp, fp, at).await
                }
            }
            Err(e) => self.failed(&blog, &e.to_string(), &e).await,
        };
        if let PollResult::Ok { .. } = result {
            metrics.success(&self.watch.url, at);
        }
        result
    }

    /// The page did not change. It still counts as a poll for posts that went missing
    /// in the previous one: the second look that confirms a removal.
    async fn unchanged(
        &self,
        blog: BlogRow,
        status: &str,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        let pending = self
            .lock_state()
            .as_ref()
            .is_some_and(|c| c.pending_removals);
        if blog.baseline_done && pending {
            let watch = self.watch.clone();
            let routes = self.routes.clone();
            let status = status.to_string();
            let deferred = self.take_deferred();
            let id = blog.id;
            let r = self
                .shared
                .store
                .call(move |s| {
                    write_and_reload(s, id, deferred, |s| {
                        confirm_missing(s, &watch, &routes, &blog, &status, at)
                    })
                })
                .await;
            self.keep(r.as_ref().map(|(_, row, p)| (row.clone(), *p)));
            return match r {
                Ok(((n, d), _, _)) => self.committed(n, &d),
                Err(e) => self.state_failed(&e),
            };
        }
        self.touch(&blog, status).await
    }

    async fn touch(&self, blog: &BlogRow, status: &str) -> PollResult {
        let store = self.shared.store.clone();
        let now = Utc::now();
        let (pace, d, closed) = pace_step(&self.watch, blog, now, 0, None);
        let mut events: Vec<Event> = self.recovered_event(blog, now).into_iter().collect();
        events.extend(closed);
        let events = self.route_all(events);
        let n = events.len();
        let only_time = events.is_empty()
            && !d.retire
            && !blog.retired
            && blog.failures == 0
            && blog.last_error.is_none()
            && blog.status == status
            && Pace::from_json(&blog.sched).same_state(&pace);
        if only_time && self.defer(now, &pace) {
            return PollResult::Ok {
                events: 0,
                next: d.next,
                retired: false,
            };
        }
        let (id, status, retired) = (blog.id, status.to_string(), d.retire);
        let sched = pace.to_json();
        let kinds = event_kinds(&events);
        let deferred = self.take_deferred();
        let r = store
            .call(move |s| {
                write_and_reload(s, id, deferred, |s| {
                    s.touch(id, now, &status, Some(&sched), retired, &events)
                })
            })
            .await;
        self.keep(r.as_ref().map(|(_, row, p)| (row.clone(), *p)));
        match r {
            Ok(_) => crate::metrics::global().events(&self.watch.url, kinds),
            Err(e) => tracing::error!(blog = %self.watch.url, "state: {e}"),
        }
        self.committed(n, &d)
    }

    /// A poll that could not read or write the state: logged, and retried like a failure.
    fn state_failed(&self, e: &dyn std::fmt::Display) -> PollResult {
        tracing::error!(blog = %self.watch.url, "state: {e}");
        PollResult::Failed {
            failures: 1,
            retry_after: None,
            gone: false,
        }
    }

    /// A poll whose `n` events (if any) are committed: wake the notifiers.
    fn committed(&self, n: usize, d: &Decision) -> PollResult {
        if n > 0 {
            self.shared.events_committed();
        }
        PollResult::Ok {
            events: n,
            next: d.next,
            retired: d.retire,
        }
    }

    /// Count a check that changed nothing but the time without writing it, unless the
    /// first unwritten one is [`CHECKED_FLUSH`] old. True when counted.
    fn defer(&self, now: chrono::DateTime<Utc>, pace: &Pace) -> bool {
        let mut state = self.lock_state();
        let Some(c) = state.as_mut() else {
            return false;
        };
        if c.deferred_since
            .is_some_and(|t| t.elapsed() >= CHECKED_FLUSH)
        {
            return false;
        }
        c.deferred += 1;
        c.deferred_since.get_or_insert_with(Instant::now);
        c.row.polls += 1;
        c.row.last_poll_at = Some(now);
        c.row.last_success_at = Some(now);
        c.row.sched = pace.to_json();
        true
    }

    async fn failed(&self, blog: &BlogRow, error: &str, e: &FetchError) -> PollResult {
        tracing::warn!(blog = %self.watch.url, class = e.class(), "poll failed: {error}");
        crate::metrics::global().fetch_error(&self.watch.url, e.class(), error);
        // A gone blog: the run loop stops polling; the status says so instead of "error".
        let failures = self.record_failure(blog, error, e.is_gone()).await;
        PollResult::Failed {
            failures,
            retry_after: e.retry_after(),
            gone: e.is_gone(),
        }
    }

    /// Record a failed poll; the `problem_after`-th failure in a row sends one `problem`
    /// (`last` sends it at once and retires the blog as gone: there will be no further
    /// polls).
    async fn record_failure(&self, blog: &BlogRow, error: &str, last: bool) -> u32 {
        let failures = blog.failures + 1;
        let now = Utc::now();
        let problem = (failures == self.shared.problem_after || last).then(|| {
            self.blog_event(
                blog,
                EventKind::Problem,
                if last {
                    format!("{} is gone ({error}); no longer polled", self.watch.url)
                } else {
                    format!(
                        "{} failed {failures} polls in a row: {error}",
                        self.watch.url
                    )
                },
                now,
                failures,
            )
        });
        let events = self.route_all(problem);
        let notify = !events.is_empty();
        let kinds = event_kinds(&events);
        let store = self.shared.store.clone();
        let (id, status) = (blog.id, format!("error: {error}"));
        let deferred = self.take_deferred();
        let r = store
            .call(move |s| {
                write_and_reload(s, id, deferred, |s| {
                    let n = s.record_failure(id, now, &status, &status, &events)?;
                    if last {
                        s.set_retired(id, true, GONE_STATUS)?;
                    }
                    Ok(n)
                })
            })
            .await;
        self.keep(r.as_ref().map(|(_, row, p)| (row.clone(), *p)));
        if notify {
            self.shared.events_committed();
        }
        match r {
            Ok((n, _, _)) => {
                crate::metrics::global().events(&self.watch.url, kinds);
                n
            }
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

    /// Log once when the blog starts redirecting somewhere new (e.g. a 301 to a new URL).
    fn note_move(&self, final_url: &str) {
        let target = (final_url != self.watch.url).then(|| final_url.to_string());
        let mut moved = self.moved_to.lock().unwrap_or_else(|e| e.into_inner());
        if *moved != target {
            if let Some(to) = &target {
                tracing::info!(blog = %self.watch.url, to = %to, "the blog moved: it now redirects to {to}; following the redirect (put the new URL in the config to skip it)");
            }
            *moved = target;
        }
    }

    /// Extract, diff and store a changed body, on the blocking pool.
    async fn process(
        &self,
        blog: BlogRow,
        resp: Response,
        fp: Option<Fingerprint>,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        self.note_move(&resp.final_url);
        let watch = self.watch.clone();
        let routes = self.routes.clone();
        let problem_after = self.shared.problem_after;
        let store = self.shared.store.clone();
        // One page parsed per core at a time; the others wait here with only their body.
        let _parsing = self.shared.parsing.clone().acquire_owned().await;
        let deferred = self.take_deferred();
        let r = tokio::task::spawn_blocking(move || {
            let id = blog.id;
            if let Some(d) = deferred {
                d.write(&store, id)?;
            }
            let processed =
                process_page(&store, &watch, &routes, problem_after, &blog, &resp, fp, at);
            drop(resp);
            super::release_memory();
            match processed? {
                Processed::Events(n, d, _) => {
                    let state = store.blog_state(id)?;
                    Ok::<_, StoreError>(Processed::Events(n, d, Some(Box::new(state))))
                }
                other => Ok(other),
            }
        })
        .await;
        match &r {
            Ok(Ok(Processed::Events(_, _, Some(state)))) => self.keep(Ok((**state).clone())),
            Ok(Ok(Processed::NoPosts { .. })) => {}
            _ => *self.lock_state() = None,
        }
        match r {
            Ok(Ok(Processed::Events(n, d, _))) => self.committed(n, &d),
            Ok(Ok(Processed::NoPosts { blog, reason })) => {
                tracing::warn!(blog = %self.watch.url, "{reason}");
                crate::metrics::global().page_error(&self.watch.url, &reason);
                let failures = self.record_failure(&blog, &reason, false).await;
                PollResult::Failed {
                    failures,
                    retry_after: None,
                    gone: false,
                }
            }
            Ok(Err(e)) => self.state_failed(&e),
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

/// The loop of one blog: wait, poll, wait what the poll says, until stopped or the poll
/// says to stop (`None`). Generic over the poll so it is tested with paused time.
pub async fn poll_loop<F, Fut>(first: Duration, stop: &mut watch::Receiver<bool>, mut poll: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Duration>>,
{
    let mut wait = first;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped(stop) => return,
        }
        let next = tokio::select! {
            r = poll() => r,
            _ = stopped(stop) => return,
        };
        match next {
            Some(d) => wait = d,
            None => return,
        }
    }
}

/// The kinds of routed events, for counting them once they are committed.
fn event_kinds(events: &[(Event, Vec<String>)]) -> Vec<EventKind> {
    events.iter().map(|(e, _)| e.kind).collect()
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
) -> Result<(usize, Decision), StoreError> {
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
    let mut events: Vec<Event> = outcome
        .changes
        .into_iter()
        .map(|c| change_event(&blog_ref, at, c))
        .collect();
    let (pace, decision, closed) = pace_step(watch, blog, at, 0, None);
    events.extend(closed);
    log_events(watch, routes, &events);
    let n = events.len();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    let rec = PollRecord {
        at,
        baseline_done: true,
        status: status.to_string(),
        updates: outcome.updates,
        events: route_events(watch, routes, events),
        sched: Some(pace.to_json()),
        retired: decision.retire,
        ..Default::default()
    };
    store.save_poll(blog.id, &rec)?;
    crate::metrics::global().events(&watch.url, kinds);
    Ok((n, decision))
}

/// Advance the blog's pace after a successful poll: the next interval, and a `closed`
/// event the first time the blog is seen closed.
fn pace_step(
    watch: &Watch,
    blog: &BlogRow,
    now: chrono::DateTime<Utc>,
    activity: usize,
    closed: Option<&extract::Closed>,
) -> (Pace, Decision, Option<Event>) {
    let mut pace = Pace::from_json(&blog.sched);
    let d = pace.after_poll(watch, now, activity, closed);
    let event = d.newly_closed.as_ref().map(|why| Event {
        id: event_id(&watch.url, "@blog", EventKind::Closed, 0),
        kind: EventKind::Closed,
        detected_at: now,
        blog: BlogRef {
            url: watch.url.clone(),
            title: watch.name.clone().or_else(|| blog.title.clone()),
        },
        post: None,
        previous: None,
        diff: None,
        message: Some(format!(
            "{} has closed ({why}); polled every {} for {}, then retired",
            watch.url,
            super::pace::human(watch.max_interval),
            super::pace::human(watch.retire_grace)
        )),
    });
    if let Some(why) = &d.newly_closed {
        tracing::info!(blog = %watch.url, "the blog has closed: {why}");
    }
    (pace, d, event)
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
    /// Events committed, the decision, and the blog's state read back after the write.
    Events(usize, Decision, Option<Box<(BlogRow, bool)>>),
    NoPosts {
        blog: Box<BlogRow>,
        reason: String,
    },
}

#[allow(clippy::too_many_arguments)] // the poll's parts, passed through once
fn process_page(
    store: &Store,
    watch: &Watch,
    routes: &[Route],
    problem_after: u32,
    blog: &BlogRow,
    resp: &Response,
    fp: Option<Fingerprint>,
    at: chrono::DateTime<Utc>,
) -> Result<Processed, StoreError> {
    let page = Page {
        url: &resp.final_url,
        body: &resp.body,
        content_type: resp.content_type.as_deref(),
        fetched_at: at,
    };
    let started = std::time::Instant::now();
    let extraction = extract::extract(&page, &watch.strategy);
    crate::metrics::global().parse_time(started.elapsed());
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
        content_fp: fp,
        baseline_done: true,
        status: format!(
            "ok: {} posts ({})",
            extraction.posts.len(),
            extraction.extractor
        ),
        ..Default::default()
    };
    let mut events = Vec::new();
    let mut activity = 0;
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
        activity = outcome
            .changes
            .iter()
            .filter(|c| {
                matches!(
                    c.kind,
                    EventKind::New | EventKind::Edit | EventKind::Correction
                )
            })
            .count();
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
    let (pace, decision, closed) = pace_step(watch, blog, at, activity, extraction.closed.as_ref());
    events.extend(closed);
    rec.sched = Some(pace.to_json());
    rec.retired = decision.retire;
    let n = events.len();
    log_events(watch, routes, &events);
    rec.events = route_events(watch, routes, events);
    store.save_poll(blog.id, &rec)?;
    crate::metrics::global().events(&watch.url, rec.events.iter().map(|(e, _)| e.kind));
    Ok(Processed::Events(n, decision, None))
}

/// Log each detected event: at info, or at debug when a stdout notifier prints the events
/// anyway (on a terminal each event would otherwise show twice: its line on stdout and
/// again in the log on stderr).
fn log_events(watch: &Watch, routes: &[Route], events: &[Event]) {
    let printed = routes
        .iter()
        .any(|r| matches!(r.spec.kind, crate::config::NotifierKind::Stdout { .. }));
    for e in events {
        if printed {
            tracing::debug!(blog = %watch.url, kind = %e.kind, id = %e.id, "{}", e.summary_line());
        } else {
            tracing::info!(blog = %watch.url, kind = %e.kind, id = %e.id, "{}", e.summary_line());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FetchSettings;
    use crate::daemon::Health;
    use crate::fetch::Fetcher;

    fn task(store: &Store) -> BlogTask {
        let shared = Arc::new(Shared {
            store: store.clone(),
            fetcher: Fetcher::new(FetchSettings::default()).unwrap(),
            wake: tokio::sync::Notify::new(),
            committed: watch::channel(0).0,
            health: Arc::new(Health::default()),
            problem_after: 3,
            parsing: crate::daemon::parse_permits(),
            in_hand: crate::daemon::in_hand_permits(),
            blogs: Default::default(),
        });
        BlogTask::new(shared, Watch::new("http://b.test/"), Arc::new(Vec::new()))
    }

    #[tokio::test(start_paused = true)]
    async fn checks_that_change_only_the_time_are_written_with_the_next_write_or_on_stop() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let stored = || store.find_blog("http://b.test/").unwrap().unwrap();
        let t = task(&store);
        let at = Utc::now();
        let not_modified = || Ok(Fetched::NotModified);

        // The first 304 changes the status line: written at once.
        t.handle(not_modified(), at).await;
        assert_eq!(stored().polls, 1);
        assert_eq!(stored().status, "ok: not modified (304)");
        // The next ones change only the time: counted in the task, not written.
        for _ in 0..3 {
            t.handle(not_modified(), at).await;
        }
        assert_eq!(stored().polls, 1);
        // A failure writes them along with itself.
        t.handle(Err(FetchError::Timeout(Duration::from_secs(1))), at)
            .await;
        let b = stored();
        assert_eq!((b.polls, b.failures), (4, 1));
        assert!(b.status.starts_with("error: "), "{}", b.status);
        // The recovery is written at once (failures and status change) ...
        t.handle(not_modified(), at).await;
        let b = stored();
        assert_eq!((b.polls, b.failures, b.last_error), (5, 0, None));
        // ... later checks wait at most CHECKED_FLUSH ...
        t.handle(not_modified(), at).await;
        assert_eq!(stored().polls, 5);
        tokio::time::advance(CHECKED_FLUSH).await;
        t.handle(not_modified(), at).await;
        assert_eq!(stored().polls, 7);
        // ... and a stopping task writes what it holds.
        t.handle(not_modified(), at).await;
        t.handle(not_modified(), at).await;
        assert_eq!(stored().polls, 7);
        t.flush().await;
        let b = stored();
        assert_eq!(b.polls, 9);
        // The time of the last check (wall-clock time, as the poll loop takes it), not of
        // the last write.
        let last = b.last_poll_at.expect("a last poll time").timestamp();
        assert!(
            (at.timestamp()..=Utc::now().timestamp()).contains(&last),
            "{last} not within the test's checks"
        );

        // A new task (a restart) starts from the stored state.
        let t2 = task(&store);
        t2.handle(not_modified(), at).await;
        t2.flush().await;
        assert_eq!(stored().polls, 10);
    }
}
