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

use super::outcome::{self, Context, Next, Outcome, Parsed, Seen, Verdict, Write};
use super::pace::Pace;
use super::{schedule, stopped, Route, Shared};
use crate::config::Watch;
use crate::extract::vendor::Feed;
use crate::extract::{self, Page};
use crate::fetch::{error_chain, FetchError, Fetched, Response};
use crate::fingerprint::{self, Fingerprint};
use crate::model::Event;
use crate::store::{BlogRow, BlogStatus, Store, StoreError};

pub use super::outcome::route_events;

mod feed;

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
    /// The vendor feed followed instead of the page (see `feed.rs`).
    pub(super) feed: std::sync::Mutex<feed::Followed>,
    /// With leases (PostgreSQL state): this task held its blog's lease at its last poll.
    leased: std::sync::atomic::AtomicBool,
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
    sched: Pace,
}

impl Deferred {
    fn write(&self, store: &Store, blog_id: i64) -> Result<(), StoreError> {
        store.checked(blog_id, self.n, self.at, &self.sched)
    }
}

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
            feed: Default::default(),
            leased: Default::default(),
        }
    }

    /// Poll until stopped. The task is boxed: an async fn keeps its arguments twice
    /// in its state (see [`poll_loop`] for why that state should stay small).
    pub async fn run(self: Box<Self>, mut stop: watch::Receiver<bool>) {
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
        // The start and the end are boxed like each poll (see [`poll_loop`]): the task's
        // own future is then little more than the task and its timer while it sleeps.
        if let Ok(b) = Box::pin(self.load()).await {
            if b.retired {
                tracing::info!(blog = %url, "retired (the blog closed); not polling it");
                return;
            }
        }
        // Spread the first polls of many blogs over a short window.
        let blogs = self.shared.blogs.load(std::sync::atomic::Ordering::Relaxed);
        let spread = super::first_poll_spread(blogs.max(1), self.watch.interval);
        let first = schedule::jitter(spread, 1.0) / 2;
        let leases = self.shared.leases.clone();
        if let Some(l) = &leases {
            l.watch(&url);
        }
        poll_loop(first, &mut stop, || async {
            if let Some(wait) = self.until_leased().await {
                return Some(wait);
            }
            // Held from here to the end of the poll (not handed over mid-poll).
            let _polling = match &self.shared.leases {
                Some(l) => match l.begin_poll(&self.watch.url) {
                    Some(p) => Some(p),
                    // Lost just now: wait for it again (and read the state again then).
                    None => {
                        self.leased
                            .store(false, std::sync::atomic::Ordering::Relaxed);
                        return Some(Duration::from_millis(10));
                    }
                },
                None => None,
            };
            let r = self.poll_once().await;
            self.next_wait(r)
        })
        .await;
        Box::pin(self.flush()).await;
        if let Some(l) = leases {
            l.unwatch(&url);
            let me = l.me.clone();
            let urls = vec![url.clone()];
            if let Err(e) = Box::pin(
                self.shared
                    .store
                    .call(move |s| s.release_leases(&me, Some(&urls))),
            )
            .await
            {
                tracing::warn!(blog = %url, "releasing the lease: {}", error_chain(&e));
            }
        }
    }

    /// With leases (PostgreSQL state): wait until this instance holds the blog's lease.
    /// `None`: poll now. `Some(wait)`: the lease was just gained and the blog was polled
    /// (by another instance) less than its interval ago; poll after `wait`.
    async fn until_leased(&self) -> Option<Duration> {
        use std::sync::atomic::Ordering;
        let leases = self.shared.leases.as_ref()?;
        let url = &self.watch.url;
        if leases.holds(url) && self.leased.load(Ordering::Relaxed) {
            return None;
        }
        if !leases.holds(url) {
            self.leased.store(false, Ordering::Relaxed);
            let mut changed = leases.subscribe();
            while !leases.holds(url) {
                if let Ok(Err(_)) = tokio::time::timeout(leases.tick(), changed.changed()).await {
                    tokio::time::sleep(leases.tick()).await;
                }
            }
        }
        // Gained: another instance may have polled the blog since this task last did.
        self.leased.store(true, Ordering::Relaxed);
        *self.lock_state() = None;
        let blog = self.load().await.ok()?;
        let interval = blog
            .sched
            .interval_ms
            .map(Duration::from_millis)
            .unwrap_or(self.watch.interval);
        let since = (Utc::now() - blog.last_poll_at?).to_std().ok()?;
        tracing::debug!(blog = %url, ?since, "lease gained");
        interval.checked_sub(since).filter(|w| !w.is_zero())
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

    /// This poll's page will probably be parsed: no baseline yet, no content fingerprint
    /// to answer on, or the blog's state not read yet (the first poll after a start).
    fn expects_parse(&self) -> bool {
        self.lock_state()
            .as_ref()
            .is_none_or(|c| !c.row.baseline_done || c.row.content_fp.is_none())
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
    pub(crate) async fn flush(&self) {
        let Some(d) = self.take_deferred() else {
            return;
        };
        let id = match self.lock_state().as_ref() {
            Some(c) => c.row.id,
            None => return,
        };
        if let Err(e) = self.shared.store.call(move |s| d.write(s, id)).await {
            tracing::error!(blog = %self.watch.url, "state: {}", error_chain(&e));
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
        // starts once the poll really runs. A page that will be parsed also waits while
        // the parse queue is full (its body would wait there in memory).
        if self.expects_parse() {
            self.shared.parsing.queue_short().await;
        }
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
        let src = self.fetch_source(&blog).await;
        self.shared
            .fetcher
            .note_host_result(&self.watch.url, src.fetched.as_ref().map(|_| ()));
        if let Ok(Fetched::Page(resp)) = &src.fetched {
            metrics.bytes(resp.len);
        }
        self.handle_with(blog, src, Utc::now()).await
    }

    /// Process one fetch result taken at `at`: `livewatch replay` feeds recorded
    /// responses through the same path as the daemon's own polls.
    pub async fn handle(
        &self,
        fetched: Result<Fetched, FetchError>,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        match self.load().await {
            Ok(blog) => {
                let src = feed::Source {
                    fetched,
                    feed: None,
                    fingerprint: None,
                    look: false,
                };
                self.handle_with(blog, src, at).await
            }
            Err(e) => self.state_failed(&e),
        }
    }

    async fn handle_with(
        &self,
        blog: BlogRow,
        src: feed::Source,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        let metrics = crate::metrics::global();
        let feed::Source {
            fetched,
            feed,
            fingerprint: known_fp,
            look,
        } = src;
        let result = match fetched {
            Ok(Fetched::NotModified) => {
                tracing::debug!(blog = %self.watch.url, "304 not modified");
                metrics.not_modified();
                self.unchanged(blog, Verdict::NotModified, at).await
            }
            Ok(Fetched::Page(resp)) => {
                let (verdict, fp) = Verdict::of_page(&blog, &resp.hash, || {
                    known_fp.unwrap_or_else(|| self.fingerprint_of(&resp, feed.is_some()))
                });
                match verdict {
                    Verdict::Parse => self.process(blog, resp, fp, feed, look, at).await,
                    Verdict::SameBody | Verdict::NotModified => {
                        tracing::debug!(blog = %self.watch.url, "body unchanged");
                        metrics.unchanged();
                        self.unchanged(blog, Verdict::SameBody, at).await
                    }
                    Verdict::NoiseOnly => {
                        tracing::debug!(blog = %self.watch.url, "only noise changed");
                        metrics.noise_only();
                        drop(resp);
                        // Pages that stay unchanged must give back the start-up burst too.
                        super::release_memory();
                        self.unchanged(blog, verdict, at).await
                    }
                }
            }
            Err(e) => self.failed(blog, &e, at).await,
        };
        if let PollResult::Ok { .. } = result {
            metrics.success(&self.watch.url, at);
        }
        result
    }

    /// The content fingerprint of a fetched page; `None` for a feed's JSON (it has no
    /// page fingerprint: any other bytes are parsed) and for a page the scanner cannot
    /// vouch for.
    pub(super) fn fingerprint_of(&self, resp: &Response, is_feed: bool) -> Option<Fingerprint> {
        if is_feed {
            return None;
        }
        fingerprint::fingerprint(
            &self.fp_key,
            &self.watch.strategy,
            &resp.final_url,
            resp.content_type.as_deref(),
            &resp.body,
        )
    }

    fn context(&self) -> Context<'_> {
        Context {
            watch: &self.watch,
            routes: &self.routes,
            problem_after: self.shared.problem_after,
        }
    }

    /// The page did not change. It still counts as a poll for posts that went missing
    /// in the previous one: the second look that confirms a removal.
    async fn unchanged(
        &self,
        blog: BlogRow,
        verdict: Verdict,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        let status = verdict.status().unwrap_or_default();
        let pending = self
            .lock_state()
            .as_ref()
            .is_some_and(|c| c.pending_removals);
        if blog.baseline_done && pending {
            let (watch, routes) = (self.watch.clone(), self.routes.clone());
            let problem_after = self.shared.problem_after;
            let deferred = self.take_deferred();
            let r = self
                .shared
                .store
                .call(move |s| {
                    let known = s.known_posts(blog.id)?;
                    let ctx = Context {
                        watch: &watch,
                        routes: &routes,
                        problem_after,
                    };
                    let seen = Seen::Unchanged {
                        status,
                        known: Some(&known),
                    };
                    let outcome = outcome::decide(ctx, &blog, seen, at);
                    let state = apply(s, blog.id, deferred, &outcome, at)?;
                    Ok((outcome, state))
                })
                .await;
            return self.finish(r);
        }
        let outcome = outcome::decide(
            self.context(),
            &blog,
            Seen::Unchanged {
                status,
                known: None,
            },
            at,
        );
        if let (true, Write::Touch { pace, .. }, Next::Ok(d)) =
            (outcome.only_time, &outcome.write, &outcome.next)
        {
            if self.defer(at, pace) {
                return PollResult::Ok {
                    events: 0,
                    next: d.next,
                    retired: false,
                };
            }
        }
        self.commit(blog.id, outcome, at).await
    }

    /// Write `outcome` on the store's blocking pool (with the deferred checks).
    async fn commit(&self, id: i64, outcome: Outcome, at: chrono::DateTime<Utc>) -> PollResult {
        let deferred = self.take_deferred();
        let r = self
            .shared
            .store
            .call(move |s| {
                let state = apply(s, id, deferred, &outcome, at)?;
                Ok((outcome, state))
            })
            .await;
        self.finish(r)
    }

    /// After the write: keep the state read back, log and count the events, wake the
    /// notifiers, and say when to poll again.
    fn finish(&self, r: Result<(Outcome, (BlogRow, bool)), StoreError>) -> PollResult {
        self.keep(r.as_ref().map(|(_, state)| state.clone()));
        let outcome = match r {
            Ok((outcome, _)) => outcome,
            Err(e) => return self.state_failed(&e),
        };
        let url = &self.watch.url;
        if let Some((posts, extractor)) = &outcome.baseline {
            tracing::info!(blog = %url, posts, extractor = %extractor, "baseline taken");
        }
        let events = outcome.events();
        log_events(&self.watch, &self.routes, events);
        let n = events.len();
        if n > 0 {
            crate::metrics::global().events(url, events.iter().map(|(e, _)| e.kind));
            self.shared.events_committed();
        }
        match outcome.next {
            Next::Ok(d) => {
                if let Some(why) = &d.newly_closed {
                    tracing::info!(blog = %url, "the blog has closed: {why}");
                }
                PollResult::Ok {
                    events: n,
                    next: d.next,
                    retired: d.retire,
                }
            }
            Next::Failed {
                failures,
                retry_after,
                gone,
            } => PollResult::Failed {
                failures,
                retry_after,
                gone,
            },
        }
    }

    /// A poll that could not read or write the state: logged, and retried like a failure.
    fn state_failed(&self, e: &StoreError) -> PollResult {
        tracing::error!(blog = %self.watch.url, "state: {}", error_chain(e));
        PollResult::Failed {
            failures: 1,
            retry_after: None,
            gone: false,
        }
    }

    /// Count a check that changed nothing but the time without writing it, unless the
    /// first unwritten one is [`CHECKED_FLUSH`] old. True when counted.
    fn defer(&self, now: chrono::DateTime<Utc>, pace: &Pace) -> bool {
        // Instances that share the state read each other's last poll time: written at
        // once.
        if self.shared.leases.is_some() {
            return false;
        }
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
        c.row.sched = pace.clone();
        true
    }

    async fn failed(&self, blog: BlogRow, e: &FetchError, at: chrono::DateTime<Utc>) -> PollResult {
        let error = e.detail();
        tracing::warn!(blog = %self.watch.url, class = e.class(), "poll failed: {error}");
        crate::metrics::global().fetch_error(&self.watch.url, e.class(), &error);
        let seen = Seen::Failed {
            error: &error,
            gone: e.is_gone(),
            retry_after: e.retry_after(),
        };
        let outcome = outcome::decide(self.context(), &blog, seen, at);
        self.commit(blog.id, outcome, at).await
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

    /// Extract, decide and store a changed body, on a parse thread. With `look`, the
    /// parse also looks for an embedded vendor feed; when there is one, the feed is
    /// fetched and processed instead of the page.
    async fn process(
        &self,
        blog: BlogRow,
        resp: Response,
        fp: Option<Fingerprint>,
        feed: Option<Feed>,
        look: bool,
        at: chrono::DateTime<Utc>,
    ) -> PollResult {
        if feed.is_none() {
            self.note_move(&resp.final_url);
        }
        let (watch, routes) = (self.watch.clone(), self.routes.clone());
        let problem_after = self.shared.problem_after;
        let store = self.shared.store.clone();
        // One page parsed per core at a time; the others wait here with only their body.
        let parsing = &self.shared.parsing;
        let permit = parsing.permit().await;
        let deferred = self.take_deferred();
        let parse = parsing.run(move || {
            // Held by the parse itself: freed when it ends, even if this poll stops waiting.
            let _permit = permit;
            let page = Page {
                url: &resp.final_url,
                body: &resp.body,
                content_type: resp.content_type.as_deref(),
                fetched_at: at,
            };
            let started = std::time::Instant::now();
            let extraction = match &feed {
                Some(f) => f.extract(&resp.body),
                None if look => match extract::extract_looking(&page, &watch.strategy) {
                    (_, Some(found)) => {
                        // Followed instead of the page: only the checks so far are written.
                        if let Some(d) = deferred {
                            d.write(&store, blog.id)?;
                        }
                        return Ok(Processed::Embeds(found, Box::new((blog, resp, fp))));
                    }
                    (extraction, None) => extraction,
                },
                None => extract::extract(&page, &watch.strategy),
            };
            crate::metrics::global().parse_time(started.elapsed());
            let known = if blog.baseline_done {
                store.known_posts(blog.id)?
            } else {
                Vec::new()
            };
            let ctx = Context {
                watch: &watch,
                routes: &routes,
                problem_after,
            };
            let parsed = Parsed {
                extraction: &extraction,
                validators: &resp.validators,
                body_hash: resp.hash,
                content_fp: fp,
            };
            let outcome = outcome::decide(
                ctx,
                &blog,
                Seen::Page {
                    parsed,
                    known: &known,
                },
                at,
            );
            drop((extraction, known, resp));
            super::release_memory();
            let state = apply(&store, blog.id, deferred, &outcome, at)?;
            Ok::<_, StoreError>(Processed::Done(Box::new((outcome, state))))
        });
        let r = parse.await;
        let r = match r {
            Ok(Ok(Processed::Embeds(found, page))) => {
                let (blog, resp, fp) = *page;
                return match self.follow(found).await {
                    Some(src) => Box::pin(self.handle_with(blog, src, at)).await,
                    None => Box::pin(self.process(blog, resp, fp, None, false, at)).await,
                };
            }
            Ok(Ok(Processed::Done(done))) => {
                if look {
                    self.embeds_none();
                }
                Ok(*done)
            }
            Ok(Err(e)) => Err(e),
            Err(e) => {
                // A panic in an extractor must not take the daemon down: report it.
                *self.lock_state() = None;
                tracing::error!(blog = %self.watch.url, "processing the page failed: {e}");
                return PollResult::Failed {
                    failures: 1,
                    retry_after: None,
                    gone: false,
                };
            }
        };
        if let Ok((
            Outcome {
                write:
                    Write::Failure {
                        status: BlogStatus::Error(reason),
                        ..
                    },
                ..
            },
            _,
        )) = &r
        {
            tracing::warn!(blog = %self.watch.url, "{reason}");
            crate::metrics::global().page_error(&self.watch.url, reason);
        }
        self.finish(r)
    }
}

/// What the blocking step of [`BlogTask::process`] came to.
enum Processed {
    /// Decided and written: the outcome and the state read back.
    Done(Box<(Outcome, (BlogRow, bool))>),
    /// The page embeds this vendor feed (nothing decided): the page's row, body and
    /// fingerprint, to read the page after all if the feed fails.
    Embeds(Feed, Box<(BlogRow, Response, Option<Fingerprint>)>),
}

/// Write what a poll came to, after the deferred checks, and read the blog's state back:
/// one blocking call for everything a poll stores.
fn apply(
    store: &Store,
    blog_id: i64,
    deferred: Option<Deferred>,
    outcome: &Outcome,
    at: chrono::DateTime<Utc>,
) -> Result<(BlogRow, bool), StoreError> {
    if let Some(d) = deferred {
        d.write(store, blog_id)?;
    }
    match &outcome.write {
        Write::Poll(rec) => {
            store.save_poll(blog_id, rec)?;
        }
        Write::Touch {
            status,
            pace,
            retired,
            events,
        } => store.touch(blog_id, at, status, Some(pace), *retired, events)?,
        Write::Failure {
            status,
            gone,
            events,
        } => {
            store.record_failure(blog_id, at, status, &status.to_string(), events)?;
            if *gone {
                store.set_retired(blog_id, true, &BlogStatus::Gone)?;
            }
        }
    }
    store.blog_state(blog_id)
}

/// The loop of one blog: wait, poll, wait what the poll says, until stopped or the poll
/// says to stop (`None`). Generic over the poll so it is tested with paused time.
///
/// Each poll's future is boxed for the time of the poll: unboxed, its state (the fetch,
/// hyper's and reqwest's futures, the store calls: ~7 KiB) would sit inside every blog's
/// task also while it sleeps, 70 MiB at 10,000 blogs.
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
            r = Box::pin(poll()) => r,
            _ = stopped(stop) => return,
        };
        match next {
            Some(d) => wait = d,
            None => return,
        }
    }
}

/// Log each detected event: at info, or at debug when a stdout notifier prints the events
/// anyway (on a terminal each event would otherwise show twice: its line on stdout and
/// again in the log on stderr).
fn log_events(watch: &Watch, routes: &[Route], events: &[(Event, Vec<String>)]) {
    let printed = routes
        .iter()
        .any(|r| matches!(r.spec.kind, crate::config::NotifierKind::Stdout { .. }));
    for (e, _) in events {
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
    use crate::fetch::Fetcher;

    fn task(store: &Store) -> BlogTask {
        let shared = Arc::new(Shared::standalone(
            store.clone(),
            Fetcher::new(FetchSettings::default()).unwrap(),
            3,
        ));
        BlogTask::new(shared, Watch::new("http://b.test/"), Arc::new(Vec::new()))
    }

    #[test]
    fn a_sleeping_blog_task_is_small() {
        // Every watched blog's task lives for the whole run: 10,000 of them at 7 KiB each
        // (the poll's state inline) were 70 MiB. The poll is boxed while it runs.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _rt = rt.enter();
        let (_tx, rx) = watch::channel(false);
        let run = Box::new(task(&store)).run(rx);
        let size = std::mem::size_of_val(&run);
        assert!(size <= 1024, "a blog task's future is {size} bytes");
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
        assert_eq!(stored().status, BlogStatus::NotModified);
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
        assert!(matches!(b.status, BlogStatus::Error(_)), "{}", b.status);
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
